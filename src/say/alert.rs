//! What an alert says and when it is sent: the message a person reads at 3 a.m. (subject, body,
//! filterable attributes, a JSON form for machines), and the de-duplication window that keeps
//! one incident from paging twice.
//!
//! Pure: time is passed in, nothing is sent from here. The SNS adapter (`aws::sns`) publishes
//! what this module composes.

use crate::say::findings::{Finding, Kind, Severity};
use serde::Serialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// SNS refuses subjects over 100 characters.
pub const SUBJECT_LIMIT: usize = 100;
/// Header-derived text is cut here: enough to act on, never a wall of text.
const DETAIL_LIMIT: usize = 2_000;
const FIELD_LIMIT: usize = 200;

/// One alert, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    /// The e-mail text.
    pub body: String,
    /// The finding as JSON, for machine subscribers.
    pub json: String,
    /// `kind`, `severity`, `domain`: SNS message attributes, for subscription filter policies.
    pub attributes: Vec<(&'static str, String)>,
}

impl Alert {
    /// The SNS `Message` with `MessageStructure=json`: `default` (every protocol not named),
    /// `email` (the readable text), and `sqs`/`lambda`/`http`/`https` (the JSON finding).
    pub fn sns_message(&self) -> String {
        serde_json::json!({
            "default": self.body,
            "email": self.body,
            "email-json": self.json,
            "sqs": self.json,
            "lambda": self.json,
            "http": self.json,
            "https": self.json,
        })
        .to_string()
    }
}

#[derive(Serialize)]
struct JsonAlert<'a> {
    kind: &'a str,
    severity: &'a str,
    domain: &'a str,
    message_id: Option<&'a str>,
    source: &'a str,
    detail: &'a str,
    suppressed_since_last: u64,
}

/// Composes the alert for a finding; `suppressed` counts the same `(kind, domain)` findings
/// held back since the last alert.
pub fn compose(finding: &Finding, suppressed: u64) -> Alert {
    let domain = sanitize(&finding.domain, FIELD_LIMIT);
    let detail = sanitize(&finding.detail, DETAIL_LIMIT);
    let message_id = finding
        .message_id
        .as_deref()
        .map(|m| sanitize(m, FIELD_LIMIT));
    let severity = finding.severity.as_str().to_ascii_uppercase();
    let subject = truncate(
        &format!(
            "[{severity}] {} for {} (ses-dmarc-monitor)",
            finding.kind,
            if domain.is_empty() {
                "unknown domain"
            } else {
                &domain
            }
        ),
        SUBJECT_LIMIT,
    );

    let mut body = String::new();
    body.push_str(&format!(
        "{severity}: {} for {}\n\n",
        headline(finding.kind),
        if domain.is_empty() {
            "an unknown domain"
        } else {
            &domain
        }
    ));
    body.push_str("What happened\n");
    body.push_str(&format!("  {detail}\n\n"));
    body.push_str("Evidence\n");
    body.push_str(&format!(
        "  finding: {} ({})\n",
        finding.kind, finding.severity
    ));
    body.push_str(&format!("  input: {}\n", finding.source.as_str()));
    if let Some(id) = &message_id {
        body.push_str(&format!("  message id: {id}\n"));
    }
    for line in finding.evidence.iter().take(12) {
        body.push_str(&format!("  {}\n", sanitize(line, FIELD_LIMIT * 2)));
    }
    if suppressed > 0 {
        body.push_str(&format!(
            "  {suppressed} more finding(s) of this kind for this domain were held back since the last alert\n"
        ));
    }
    body.push_str("\nWhat to do\n");
    body.push_str(&format!("  {}\n", fix(finding.kind)));

    let json = serde_json::to_string(&JsonAlert {
        kind: finding.kind.as_str(),
        severity: finding.severity.as_str(),
        domain: &domain,
        message_id: message_id.as_deref(),
        source: finding.source.as_str(),
        detail: &detail,
        suppressed_since_last: suppressed,
    })
    .unwrap_or_default();

    Alert {
        subject,
        body,
        json,
        attributes: vec![
            ("kind", finding.kind.as_str().to_owned()),
            ("severity", finding.severity.as_str().to_owned()),
            (
                "domain",
                if domain.is_empty() {
                    "unknown".into()
                } else {
                    domain
                },
            ),
        ],
    }
}

fn headline(kind: Kind) -> &'static str {
    match kind {
        Kind::MailFromFallback => {
            "mail left with the amazonses.com MAIL FROM instead of the custom one"
        }
        Kind::MailFromStatus => "the identity's custom MAIL FROM domain is not healthy in SES",
        Kind::DmarcFail => "DMARC fails: no SPF or DKIM pass aligns with the From domain",
        Kind::SpfUnaligned => "SPF passes for a domain that does not align with From",
        Kind::DkimUnaligned => "DKIM passes only for domains that do not align with From",
        Kind::SpfFail => "SPF failed",
        Kind::DkimFail => "DKIM failed",
        Kind::StrictSpfAlignment => "the DMARC record demands strict SPF alignment SES cannot meet",
        Kind::NoDmarcPolicy => "the From domain publishes no DMARC record",
        Kind::AuthBounce => "a receiver rejected mail for failed authentication",
        Kind::AuthComplaint => "a receiver reported an authentication failure",
        Kind::VerdictMismatch => "SES's verdict disagrees with the recomputed one",
        Kind::ForgedAuthResults => "a message carried a forged Authentication-Results header",
        Kind::HeadersTruncated => "SES truncated the headers; the analysis may be partial",
        Kind::MailFromMxMissing => "the custom MAIL FROM domain's MX record is missing or wrong",
        Kind::MailFromSpfMissing => "the custom MAIL FROM domain's SPF record is missing or wrong",
        Kind::DkimDnsMissing => "the identity's DKIM DNS records are missing or wrong",
        Kind::DkimNotSigning => "SES does not DKIM-sign this identity's mail",
    }
}

/// The fix, in one or two sentences, as the SES developer guide gives it.
fn fix(kind: Kind) -> &'static str {
    match kind {
        Kind::MailFromFallback | Kind::MailFromStatus | Kind::MailFromMxMissing => {
            "Restore the MX record \"10 feedback-smtp.<region>.amazonses.com\" and the SPF TXT record \"v=spf1 include:amazonses.com ~all\" on the MAIL FROM domain, then check the identity's MAIL FROM status in the SES console (it must read SUCCESS)."
        }
        Kind::DmarcFail | Kind::DkimUnaligned => {
            "Make DKIM sign for the From domain (Easy DKIM verified, its three CNAME records resolving) or SPF pass for a custom MAIL FROM under it."
        }
        Kind::SpfUnaligned => {
            "Configure a custom MAIL FROM domain under the From domain (with its MX and SPF records) so SPF aligns as well as DKIM."
        }
        Kind::SpfFail | Kind::MailFromSpfMissing => {
            "Publish \"v=spf1 include:amazonses.com ~all\" as TXT on the MAIL FROM domain."
        }
        Kind::DkimFail | Kind::DkimDnsMissing => {
            "Restore the DKIM records the SES console lists for the identity, and check its DKIM status."
        }
        Kind::DkimNotSigning => "Enable DKIM signing for the identity in SES.",
        Kind::StrictSpfAlignment => {
            "Use aspf=r (relaxed) in the DMARC record: SES's MAIL FROM is always a subdomain, so strict SPF alignment can never pass."
        }
        Kind::NoDmarcPolicy => {
            "Publish _dmarc.<domain> TXT \"v=DMARC1; p=none; rua=mailto:…\", then move to p=quarantine or p=reject once reports are clean."
        }
        Kind::AuthBounce | Kind::AuthComplaint => {
            "See the detail above for the receiver's reason; fix DKIM and SPF alignment for the From domain, then watch the bounces stop."
        }
        Kind::VerdictMismatch | Kind::ForgedAuthResults | Kind::HeadersTruncated => {
            "No change is needed unless this repeats; compare with the raw message."
        }
    }
}

/// Control characters (CR/LF among them) become spaces, so header text cannot forge lines in
/// the alert; the result is cut at `limit` characters.
pub fn sanitize(text: &str, limit: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(clean.trim(), limit)
}

fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Which findings become alerts: at or above a severity, once per `(kind, domain)` per window.
#[derive(Debug)]
pub struct Deduper {
    min_severity: Severity,
    window: Duration,
    seen: HashMap<(Kind, String), Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    suppressed: u64,
}

/// The decision for one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it; `suppressed` findings of the same key were held back since the last alert.
    Send { suppressed: u64 },
    /// Below the minimum severity.
    BelowThreshold,
    /// Within the window of an alert already sent.
    Suppressed,
}

impl Deduper {
    pub fn new(min_severity: Severity, window: Duration) -> Self {
        Self {
            min_severity,
            window,
            seen: HashMap::new(),
        }
    }

    /// Decides for one finding at `now`. A key is new when it was never sent or its window
    /// has passed; a new key always goes out, whatever its severity above the threshold.
    pub fn decide(&mut self, finding: &Finding, now: Instant) -> Decision {
        if finding.severity < self.min_severity {
            return Decision::BelowThreshold;
        }
        let key = (finding.kind, finding.domain.clone());
        match self.seen.get_mut(&key) {
            Some(window) if now.saturating_duration_since(window.opened) < self.window => {
                window.suppressed += 1;
                Decision::Suppressed
            }
            Some(window) => {
                let suppressed = window.suppressed;
                *window = Window {
                    opened: now,
                    suppressed: 0,
                };
                Decision::Send { suppressed }
            }
            None => {
                self.seen.insert(
                    key,
                    Window {
                        opened: now,
                        suppressed: 0,
                    },
                );
                Decision::Send { suppressed: 0 }
            }
        }
    }

    /// Forgets that `finding`'s key was sent, so the next occurrence goes out: used when
    /// publishing failed, so a lost alert is never counted as sent.
    pub fn forget(&mut self, finding: &Finding) {
        self.seen.remove(&(finding.kind, finding.domain.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::observation::Source;

    fn finding(kind: Kind, domain: &str, severity: Severity) -> Finding {
        Finding::build(kind, domain, "detail".into())
            .severity(severity)
            .about(Some("m-1"), Source::ReceiptLambda)
    }

    #[test]
    fn window_suppresses_and_counts() {
        let mut d = Deduper::new(Severity::Warning, Duration::from_secs(3600));
        let t0 = Instant::now();
        let f = finding(Kind::MailFromFallback, "example.com", Severity::Critical);
        assert_eq!(d.decide(&f, t0), Decision::Send { suppressed: 0 });
        assert_eq!(
            d.decide(&f, t0 + Duration::from_secs(10)),
            Decision::Suppressed
        );
        assert_eq!(
            d.decide(&f, t0 + Duration::from_secs(20)),
            Decision::Suppressed
        );
        // Another domain, another kind: new keys go out at once.
        let other = finding(Kind::MailFromFallback, "example.org", Severity::Critical);
        assert_eq!(
            d.decide(&other, t0 + Duration::from_secs(30)),
            Decision::Send { suppressed: 0 }
        );
        let kind = finding(Kind::DmarcFail, "example.com", Severity::Critical);
        assert_eq!(
            d.decide(&kind, t0 + Duration::from_secs(30)),
            Decision::Send { suppressed: 0 }
        );
        // After the window, the next alert says how many were held back.
        assert_eq!(
            d.decide(&f, t0 + Duration::from_secs(3600)),
            Decision::Send { suppressed: 2 }
        );
        let info = finding(Kind::SpfFail, "example.com", Severity::Info);
        assert_eq!(d.decide(&info, t0), Decision::BelowThreshold);
        d.forget(&f);
        assert_eq!(
            d.decide(&f, t0 + Duration::from_secs(3601)),
            Decision::Send { suppressed: 0 }
        );
    }

    #[test]
    fn alerts_are_bounded_and_clean() {
        let mut f = finding(Kind::MailFromFallback, "example.com", Severity::Critical);
        f.detail = format!(
            "line one\r\nBcc: victim@example.net\u{7}{}",
            "x".repeat(5000)
        );
        f.domain = format!("{}.example.com", "sub".repeat(60));
        f.evidence = vec![
            "SPF: pass us-east-1.amazonses.com, not aligned".to_owned(),
            "DKIM: pass example.com, aligned\r\nX-Injected: yes".to_owned(),
        ]
        .into();
        let alert = compose(&f, 3);
        assert!(
            alert
                .body
                .contains("  SPF: pass us-east-1.amazonses.com, not aligned\n")
        );
        assert!(
            alert
                .body
                .contains("  DKIM: pass example.com, aligned  X-Injected: yes\n")
        );
        assert!(
            alert.subject.chars().count() <= SUBJECT_LIMIT,
            "{}",
            alert.subject
        );
        assert!(
            alert
                .subject
                .starts_with("[CRITICAL] mail_from_fallback for sub")
        );
        assert!(!alert.body.contains('\r') && !alert.body.contains('\u{7}'));
        assert!(alert.body.contains("line one  Bcc: victim"));
        assert!(alert.body.contains("3 more finding(s)"));
        assert!(alert.body.contains("feedback-smtp.<region>.amazonses.com"));
        assert!(alert.body.len() < 3_500);
        let json: serde_json::Value = serde_json::from_str(&alert.json).unwrap_or_default();
        assert_eq!(json["kind"], "mail_from_fallback");
        assert_eq!(json["suppressed_since_last"], 3);
        let structure: serde_json::Value =
            serde_json::from_str(&alert.sns_message()).unwrap_or_default();
        assert_eq!(structure["email"], alert.body);
        assert_eq!(structure["default"], alert.body);
        assert_eq!(
            alert.attributes.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["kind", "severity", "domain"]
        );
    }
}
