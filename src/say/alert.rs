//! What an alert says: the message a person reads at 3 a.m. (subject, body, filterable
//! attributes, a JSON form for machines), for an incident's new, still-open and resolved
//! messages alike. When one is sent is `judge::incident`'s decision (`judge::dedup`'s when the
//! state table cannot be used).
//!
//! Pure: nothing is sent from here. The SNS adapter (`lambda::aws::sns`) publishes what this
//! module composes; the words themselves come from `say::explain`.

use crate::judge::cause::paging_severity;
use crate::judge::findings::Finding;
use crate::judge::incident::{Incident, IncidentKey, Notice, Resolution};
use crate::ports::publisher::Alert;
use crate::say::explain::Detail as _;
use crate::say::{calendar, explain};
use serde::Serialize;

/// SNS takes subjects under 100 characters, ASCII only.
pub const SUBJECT_LIMIT: usize = 99;
/// Header-derived text is cut here: enough to act on, never a wall of text.
const DETAIL_LIMIT: usize = 2_000;
const FIELD_LIMIT: usize = 200;

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage<'a> {
    /// Decided by this container alone (no state table, or it could not be used): `suppressed`
    /// findings of the same incident were held back here since the last alert.
    Alone { suppressed: u64 },
    /// A message of an incident kept in the state table: new, or still open.
    Incident {
        notice: &'a Notice,
        incident: &'a Incident,
        key: &'a IncidentKey,
        /// The incident's version that owes this message: a copy sent twice has the same.
        version: u64,
    },
}

impl Stage<'_> {
    fn state(&self) -> &'static str {
        match self {
            Self::Alone { .. } => "new",
            Self::Incident { notice, .. } => notice.state(),
        }
    }
}

/// The one JSON shape of every alert message, new, still open or resolved (docs/alerts.md):
/// the same fields on all three, `null` where a message has nothing to say.
#[derive(Serialize)]
struct JsonAlert<'a> {
    kind: &'a str,
    severity: &'a str,
    domain: &'a str,
    state: &'a str,
    message_id: Option<&'a str>,
    source: Option<&'a str>,
    detail: &'a str,
    suppressed_since_last: u64,
    /// What the finding's consequences mean (one line each): they page only through it.
    impact: Vec<String>,
    /// The incident's: findings so far and when it opened (`null` without the state table).
    occurrences: Option<u64>,
    opened: Option<u64>,
    /// How long it lasted, on "resolved" only.
    duration_seconds: Option<u64>,
    /// The incident's id and the version that owes this message (`null` without the state
    /// table): a message delivered twice has the same pair.
    incident: Option<&'a str>,
    version: Option<u64>,
}

/// Composes the alert for a finding at `stage`, with the consequences that ride in it
/// (`judge::cause`; none for a finding alone): each consequence is an impact line, and the
/// alert carries the most severe of their severities and the finding's.
pub fn compose(finding: &Finding, consequences: &[&Finding], stage: &Stage<'_>) -> Alert {
    let domain = sanitize(finding.domain.as_deref().unwrap_or(""), FIELD_LIMIT);
    let detail = sanitize(&finding.detail(), DETAIL_LIMIT);
    let kind = finding.kind();
    let message_id = finding
        .message_id
        .as_deref()
        .map(|m| sanitize(m, FIELD_LIMIT));
    let paging = paging_severity(finding, consequences);
    let severity = paging.as_str().to_ascii_uppercase();
    let impact: Vec<String> = consequences
        .iter()
        .map(|c| sanitize(&explain::impact(&c.facts), DETAIL_LIMIT))
        .collect();
    // Who the alert is about: the domain, or the account for a paused account.
    let account = finding.facts.concerns_the_account();
    let about = match (domain.is_empty(), account) {
        (false, _) => domain.as_str(),
        (true, true) => "the SES account",
        (true, false) => "an unknown domain",
    };
    let (suppressed, short, in_all) = match stage {
        Stage::Alone { suppressed } => (*suppressed, String::new(), None),
        Stage::Incident {
            notice: Notice::StillOpen { count, since },
            incident,
            ..
        } => (
            *count,
            format!(": {}", still_open(*count, *since)),
            Some(incident.count),
        ),
        Stage::Incident { notice, .. } => (0, format!(": {}", notice.state()), None),
    };
    // The subject says where the incident stands; the first line also how big it is.
    let standing = match in_all {
        Some(all) => format!("{short}; {all} in all"),
        None => short.clone(),
    };
    let subject = subject_line(
        &format!(
            "[{severity}] {kind} for {}{short} (ses-dmarc-monitor)",
            about.trim_start_matches("an ")
        ),
        SUBJECT_LIMIT,
    );

    let mut body = String::new();
    body.push_str(&format!(
        "{severity}: {} for {about}{standing}\n\n",
        explain::headline(kind)
    ));
    if let Stage::Incident { incident, .. } = stage {
        body.push_str(&format!(
            "Incident\n  open since {}, {} finding(s); a reminder every few hours while it lasts, and a message when it is resolved\n\n",
            calendar::utc_time(incident.opened),
            incident.count
        ));
    }
    body.push_str("What happened\n");
    body.push_str(&format!("  {detail}\n\n"));
    if !impact.is_empty() {
        body.push_str("Impact\n");
        for line in &impact {
            body.push_str(&format!("  {line}\n"));
        }
        body.push('\n');
    }
    body.push_str("Evidence\n");
    body.push_str(&format!("  finding: {kind} ({})\n", finding.severity()));
    body.push_str(&format!("  input: {}\n", finding.source.as_str()));
    if let Some(id) = &message_id {
        body.push_str(&format!("  message id: {id}\n"));
    }
    let evidence = finding
        .evidence
        .as_deref()
        .map(explain::evidence_lines)
        .unwrap_or_default();
    for line in evidence.iter().take(12) {
        body.push_str(&format!("  {}\n", sanitize(line, FIELD_LIMIT * 2)));
    }
    if suppressed > 0 && matches!(stage, Stage::Alone { .. }) {
        body.push_str(&format!(
            "  {suppressed} more finding(s) of this kind for this domain were held back since the last alert\n"
        ));
    }
    body.push_str("\nWhat to do\n");
    body.push_str(&format!("  {}\n", explain::remedy(&finding.facts)));

    let (incident, id, version) = match stage {
        Stage::Incident {
            incident,
            key,
            version,
            ..
        } => (Some(*incident), Some(key.id()), Some(*version)),
        Stage::Alone { .. } => (None, None, None),
    };
    let json = serde_json::to_string(&JsonAlert {
        kind: kind.as_str(),
        severity: paging.as_str(),
        domain: &domain,
        state: stage.state(),
        message_id: message_id.as_deref(),
        source: Some(finding.source.as_str()),
        detail: &detail,
        suppressed_since_last: suppressed,
        impact,
        occurrences: incident.map(|i| i.count),
        opened: incident.map(|i| i.opened),
        duration_seconds: None,
        incident: id.as_deref(),
        version,
    })
    .unwrap_or_default();
    let mut attributes = vec![
        ("kind", kind.as_str().to_owned()),
        ("severity", paging.as_str().to_owned()),
        (
            "domain",
            match (domain.is_empty(), account) {
                (false, _) => domain.clone(),
                (true, true) => "account".into(),
                (true, false) => "unknown".into(),
            },
        ),
        ("state", stage.state().to_owned()),
    ];
    if let (Some(id), Some(version)) = (id, version) {
        attributes.extend([("incident", id), ("version", version.to_string())]);
    }

    Alert {
        subject,
        body,
        json,
        attributes,
    }
}

/// Composes an incident's message when no finding is at hand: its resolution (by evidence or
/// quiet period), or a reminder on the schedule. To the same topic, with the same attributes
/// as its other messages (its kind, its severity, its domain) and its `state`.
pub fn compose_incident(
    key: &IncidentKey,
    incident: &Incident,
    notice: &Notice,
    version: u64,
) -> Alert {
    let domain = sanitize(&key.domain, FIELD_LIMIT);
    let kind = key.kind;
    let severity = incident.severity.as_str();
    let last = sanitize(&incident.detail, DETAIL_LIMIT);
    let opened = calendar::utc_time(incident.opened);
    let (subject, body, detail, duration) = match notice {
        Notice::Resolved {
            duration,
            count,
            by,
        } => {
            let lasted = calendar::duration(*duration);
            let why = match by {
                Resolution::Evidence(evidence) => sanitize(evidence, FIELD_LIMIT),
                Resolution::Quiet { period } => format!(
                    "no new finding for {}; this kind has no check that could confirm it is over",
                    calendar::duration(*period)
                ),
                Resolution::Unmonitored(why) => explain::unmonitored(*why).to_owned(),
            };
            // Closed because nothing watches it any more: not known to be over.
            let (word, todo) = match by {
                Resolution::Unmonitored(_) => (
                    "CLOSED",
                    "Nothing, if it is no longer to be watched; else monitor it again and a new incident opens if the problem lasts.",
                ),
                _ => ("RESOLVED", "Nothing, unless it opens again."),
            };
            (
                format!("[{word}] {kind} for {domain} after {lasted} (ses-dmarc-monitor)"),
                format!(
                    "{word}: {} for {domain}, after {lasted}\n\nWhat ended it\n  {why}\n\nIncident\n  opened {opened}, {count} finding(s), {severity} severity\n  the last finding: {last}\n\nWhat to do\n  {todo}\n",
                    explain::headline(kind),
                ),
                why,
                Some(*duration),
            )
        }
        Notice::StillOpen { count, since } => {
            let standing = still_open(*count, *since);
            (
                format!(
                    "[{}] {kind} for {domain}: {standing} (ses-dmarc-monitor)",
                    severity.to_ascii_uppercase()
                ),
                format!(
                    "{}: {} for {domain}: {standing}\n\nIncident\n  open since {opened}, {} finding(s) in all; no check has confirmed it over\n  the last finding: {last}\n\nWhat to do\n  As the first alert of this incident said; a message follows when it is resolved.\n",
                    severity.to_ascii_uppercase(),
                    explain::headline(kind),
                    incident.count,
                ),
                last.clone(),
                None,
            )
        }
        Notice::New => (
            format!(
                "[{}] {kind} for {domain}: new (ses-dmarc-monitor)",
                severity.to_ascii_uppercase()
            ),
            format!(
                "{}: {} for {domain}: new\n\nWhat happened\n  {last}\n",
                severity.to_ascii_uppercase(),
                explain::headline(kind)
            ),
            last.clone(),
            None,
        ),
    };
    let json = serde_json::to_string(&JsonAlert {
        kind: kind.as_str(),
        severity,
        domain: &domain,
        state: notice.state(),
        // No finding is at hand: the message is about the incident, not one message.
        message_id: None,
        source: None,
        detail: &detail,
        suppressed_since_last: match notice {
            Notice::StillOpen { count, .. } => *count,
            Notice::New | Notice::Resolved { .. } => 0,
        },
        impact: Vec::new(),
        occurrences: Some(incident.count),
        opened: Some(incident.opened),
        duration_seconds: duration,
        incident: Some(&key.id()),
        version: Some(version),
    })
    .unwrap_or_default();
    Alert {
        subject: subject_line(&subject, SUBJECT_LIMIT),
        body,
        json,
        attributes: vec![
            ("kind", kind.as_str().to_owned()),
            ("severity", severity.to_owned()),
            ("domain", domain),
            ("state", notice.state().to_owned()),
            ("incident", key.id()),
            ("version", version.to_string()),
        ],
    }
}

/// `still open (3 since 2026-11-30 02:00 UTC)`: a reminder's words, with or without a finding
/// at hand.
fn still_open(count: u64, since: u64) -> String {
    format!("still open ({count} since {})", calendar::utc_time(since))
}

/// Control characters (CR/LF among them) become spaces, so header text cannot forge lines in
/// the alert; the result is cut at `limit` characters.
pub fn sanitize(text: &str, limit: usize) -> String {
    crate::read::text::bounded(text, limit)
}

/// A subject SNS accepts: ASCII (anything else becomes `?`), at most `limit` characters, cut
/// with `...`.
fn subject_line(text: &str, limit: usize) -> String {
    let ascii: String = text
        .chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect();
    if ascii.len() <= limit {
        return ascii;
    }
    format!("{}...", &ascii[..limit.saturating_sub(3)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::feedback::Happened;
    use crate::judge::findings::{Evidence, Facts, Sending};
    use crate::read::authres::ResultKeyword;
    use crate::read::observation::Source;
    use std::sync::Arc;

    #[test]
    fn alerts_are_bounded_and_clean() {
        // Header-derived text with line breaks, a bell and a wall of text.
        let hostile = format!(
            "line one\r\nBcc: victim@example.net\u{7}{}",
            "x".repeat(5000)
        );
        let domain = format!("{}.example.com", "sub".repeat(60));
        let evidence = Arc::new(Evidence::Feedback {
            event: "Bounce".into(),
            happened: Happened::Rejected {
                reason: Some("bounced\r\nX-Injected: yes".into()),
            },
            sending: Sending::default(),
            governing: None,
        });
        let finding = Finding::new(
            Facts::SpfFail {
                result: ResultKeyword::Fail,
                domain: Some(hostile),
            },
            Some(&domain),
            Source::ReceiptLambda,
        )
        .about(Some("m-1"))
        .with_evidence(&evidence);
        let alert = compose(&finding, &[], &Stage::Alone { suppressed: 3 });
        assert!(
            alert
                .body
                .contains("  Bounce: rejected by SES before sending: bounced  X-Injected: yes\n")
        );
        assert!(
            alert.subject.chars().count() <= SUBJECT_LIMIT,
            "{}",
            alert.subject
        );
        assert!(alert.subject.starts_with("[INFO] spf_fail for sub"));
        assert!(alert.subject.len() < 100 && alert.subject.is_ascii());
        assert!(alert.subject.ends_with("..."), "{}", alert.subject);
        assert!(!alert.body.contains('\r') && !alert.body.contains('\u{7}'));
        assert!(alert.body.contains("line one  Bcc: victim"));
        assert!(alert.body.contains("3 more finding(s)"));
        assert!(alert.body.contains("v=spf1 include:amazonses.com ~all"));
        assert!(alert.body.len() < 3_500);
        let json: serde_json::Value = serde_json::from_str(&alert.json).unwrap_or_default();
        assert_eq!(json["kind"], "spf_fail");
        assert_eq!(json["suppressed_since_last"], 3);
        let structure: serde_json::Value =
            serde_json::from_str(&alert.sns_message()).unwrap_or_default();
        assert_eq!(structure["email"], alert.body);
        assert_eq!(structure["default"], alert.body);
        assert_eq!(
            alert.attributes.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["kind", "severity", "domain", "state"]
        );
    }

    #[test]
    fn every_message_has_one_json_shape() {
        let key = IncidentKey::about(crate::judge::findings::Kind::SpfFail, "example.com");
        let incident = Incident {
            opened: 1_796_000_000,
            last_seen: 1_796_000_000,
            last_sent: 1_796_000_000,
            count: 2,
            counted_at_notice: 1,
            detail: "SPF fail".into(),
            severity: crate::judge::findings::Severity::Info,
            resolved: None,
            owed: None,
            reporters: Default::default(),
        };
        let finding = Finding::new(
            Facts::SpfFail {
                result: ResultKeyword::Fail,
                domain: Some("example.com".into()),
            },
            Some("example.com"),
            Source::ReceiptLambda,
        );
        let new = compose(&finding, &[], &Stage::Alone { suppressed: 0 });
        let resolved = compose_incident(
            &key,
            &incident,
            &Notice::Resolved {
                duration: 60,
                count: 2,
                by: Resolution::Evidence("a probe".into()),
            },
            7,
        );
        let reminder = compose_incident(
            &key,
            &incident,
            &Notice::StillOpen { count: 1, since: 1 },
            7,
        );
        let keys = |alert: &Alert| {
            let json: serde_json::Value =
                serde_json::from_str(&alert.json).unwrap_or_else(|e| panic!("{e}"));
            json.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let documented = [
            "detail",
            "domain",
            "duration_seconds",
            "impact",
            "incident",
            "kind",
            "message_id",
            "occurrences",
            "opened",
            "severity",
            "source",
            "state",
            "suppressed_since_last",
            "version",
        ];
        for alert in [&new, &resolved, &reminder] {
            let mut found = keys(alert);
            found.sort();
            assert_eq!(found, documented, "{}", alert.json);
        }
        assert!(
            resolved.json.contains("\"duration_seconds\":60"),
            "{}",
            resolved.json
        );
        // A copy of an incident's message is told by its incident id and version.
        assert!(
            resolved
                .json
                .contains("\"incident\":\"spf_fail#example.com#\",\"version\":7"),
            "{}",
            resolved.json
        );
    }

    #[test]
    fn an_incident_is_resolved_and_reminded_of_in_its_own_words() {
        let key = IncidentKey::about(
            crate::judge::findings::Kind::MailFromFallback,
            "example.com",
        );
        let incident = Incident {
            opened: 1_796_000_000,
            last_seen: 1_796_003_000,
            last_sent: 1_796_000_000,
            count: 14,
            counted_at_notice: 3,
            detail: "the envelope sender is us-east-1.amazonses.com\r\nX: y".into(),
            severity: crate::judge::findings::Severity::Critical,
            resolved: None,
            owed: None,
            reporters: Default::default(),
        };
        let resolved = compose_incident(
            &key,
            &incident,
            &Notice::Resolved {
                duration: 9300,
                count: 14,
                by: Resolution::Evidence("a canary probe passed".into()),
            },
            7,
        );
        assert_eq!(
            resolved.subject,
            "[RESOLVED] mail_from_fallback for example.com after 2 h 35 min (ses-dmarc-monitor)"
        );
        assert!(
            resolved
                .body
                .contains("What ended it\n  a canary probe passed\n")
        );
        assert!(resolved.body.contains("14 finding(s), critical severity"));
        assert!(!resolved.body.contains('\r'));
        assert_eq!(
            resolved.attributes,
            [
                ("kind", "mail_from_fallback".to_owned()),
                ("severity", "critical".to_owned()),
                ("domain", "example.com".to_owned()),
                ("state", "resolved".to_owned()),
                ("incident", "mail_from_fallback#example.com#".to_owned()),
                ("version", "7".to_owned())
            ]
        );
        let quiet = compose_incident(
            &key,
            &incident,
            &Notice::Resolved {
                duration: 90_000,
                count: 14,
                by: Resolution::Quiet { period: 86_400 },
            },
            7,
        );
        assert!(
            quiet.body.contains("no new finding for 1 d;"),
            "{}",
            quiet.body
        );
        let reminder = compose_incident(
            &key,
            &incident,
            &Notice::StillOpen {
                count: 3,
                since: 1_796_000_000,
            },
            7,
        );
        assert!(
            reminder
                .subject
                .starts_with("[CRITICAL] mail_from_fallback for example.com: still open (3 since "),
            "{}",
            reminder.subject
        );
        assert_eq!(reminder.attributes[3], ("state", "open".to_owned()));
        let json: serde_json::Value = serde_json::from_str(&reminder.json).unwrap_or_default();
        assert_eq!(
            (json["state"].as_str(), json["occurrences"].as_u64()),
            (Some("open"), Some(14))
        );
    }

    #[test]
    fn a_reminder_with_a_finding_says_how_many_since_and_in_all() {
        let finding = Finding::new(
            Facts::ForgedAuthResults { count: 2 },
            Some("example.com"),
            Source::RawMessage,
        );
        let incident = Incident {
            opened: 1_796_000_000,
            last_seen: 1_796_021_600,
            last_sent: 1_796_000_000,
            count: 9,
            counted_at_notice: 0,
            detail: String::new(),
            severity: crate::judge::findings::Severity::Warning,
            resolved: None,
            owed: None,
            reporters: Default::default(),
        };
        let notice = Notice::StillOpen {
            count: 4,
            since: 1_796_000_000,
        };
        let alert = compose(
            &finding,
            &[],
            &Stage::Incident {
                notice: &notice,
                incident: &incident,
                key: &IncidentKey::of(&finding),
                version: 7,
            },
        );
        let since = calendar::utc_time(1_796_000_000);
        // Cut to SNS's limit, the standing kept whole.
        assert!(
            alert.subject.starts_with(&format!(
                "[WARNING] forged_auth_results for example.com: still open (4 since {since})"
            )),
            "{}",
            alert.subject
        );
        assert!(alert.subject.len() <= SUBJECT_LIMIT);
        assert!(
            alert
                .body
                .contains(&format!(": still open (4 since {since}); 9 in all\n")),
            "{}",
            alert.body
        );
        assert_eq!(alert.attributes[3], ("state", "open".to_owned()));
    }

    #[test]
    fn a_finding_about_no_domain_says_so() {
        let finding = Finding::new(
            Facts::ForgedAuthResults { count: 2 },
            None,
            Source::RawMessage,
        );
        let alert = compose(&finding, &[], &Stage::Alone { suppressed: 0 });
        assert_eq!(
            alert.subject,
            "[WARNING] forged_auth_results for unknown domain (ses-dmarc-monitor)"
        );
        assert!(alert.body.starts_with(
            "WARNING: a message carried a forged Authentication-Results header for an unknown domain"
        ));
        assert_eq!(alert.attributes[2], ("domain", "unknown".to_owned()));
    }

    #[test]
    fn a_paused_account_is_named_as_the_account() {
        let finding = Finding::new(
            Facts::SendingPaused {
                resource: None,
                cause: Some("The complaint rate exceeded the limit.".into()),
                origin: Some("AWS_MANAGED".into()),
            },
            None,
            Source::SesServiceEvent,
        );
        let alert = compose(&finding, &[], &Stage::Alone { suppressed: 0 });
        assert_eq!(
            alert.subject,
            "[CRITICAL] sending_paused for the SES account (ses-dmarc-monitor)"
        );
        assert!(alert.body.contains(
            "SES paused sending for the account (by AWS): no mail leaves; the cause SES gives: The complaint rate exceeded the limit. Fix:"
        ), "{}", alert.body);
        assert_eq!(alert.attributes[2], ("domain", "account".to_owned()));
    }
}
