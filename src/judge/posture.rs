//! The posture audit: an identity's MAIL FROM, DKIM and DMARC set-up, checked against what DNS
//! says, before mail goes out unaligned.
//!
//! Pure: the identity's SES state and the DNS answers arrive in [`Target`] and [`DnsView`]
//! (gathered by `dns::DnsFacts::audit_view`, and by the audit function from SESv2). A lookup
//! that failed (timeout, SERVFAIL) leaves its check unjudged and says so: a DNS hiccup never
//! pages anyone.

use crate::judge::policy::{Disposition, PolicyDiscovery};
use crate::ports::directory::{IdentityState, MailFromStatus, MxFailureBehavior};
use crate::read::observation::Source;
use crate::say::findings::{Finding, FindingBuilder, Kind, Severity};
use mail_auth::common::parse::TxtRecordParser as _;
use serde::Serialize;

/// One check, as metrics name it (`AuditChecksFailed` by `Check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    MailFromStatus,
    MailFromMx,
    MailFromSpf,
    DkimSigning,
    DkimDns,
    Dmarc,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MailFromStatus => "mail_from_status",
            Self::MailFromMx => "mail_from_mx",
            Self::MailFromSpf => "mail_from_spf",
            Self::DkimSigning => "dkim_signing",
            Self::DkimDns => "dkim_dns",
            Self::Dmarc => "dmarc",
        }
    }
}

/// The answer to one DNS question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    Found(T),
    /// NXDOMAIN, or the name exists without records of that type.
    Missing,
    /// Timeout, SERVFAIL, refused: nothing can be concluded.
    Failed(String),
}

/// What is audited: a domain, and what SES says of the identity governing it.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The SES identity (a domain, or the address whose domain this is).
    pub identity: String,
    pub domain: String,
    /// The identity's region: the MAIL FROM MX must point at `feedback-smtp.<region>.amazonses.com`.
    pub region: String,
    /// `None` offline (`check`), where only DNS is consulted.
    pub state: Option<IdentityState>,
    /// The custom MAIL FROM domain: from the state, or given (`--mail-from-domain`).
    pub mail_from_domain: Option<String>,
}

impl Target {
    /// The DKIM records to look up: for Easy DKIM each token's CNAME, for BYODKIM the
    /// selector's key. Empty when SES's state is not known.
    pub fn dkim_names(&self) -> Vec<DkimName> {
        let Some(dkim) = self.state.as_ref().and_then(|s| s.dkim_attributes.as_ref()) else {
            return Vec::new();
        };
        let external = dkim.signing_attributes_origin.as_deref() == Some("EXTERNAL");
        dkim.tokens
            .iter()
            .map(|token| DkimName {
                name: format!("{token}._domainkey.{}", self.domain),
                token: token.clone(),
                byodkim: external,
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimName {
    pub name: String,
    pub token: String,
    /// BYODKIM: a TXT key record; otherwise Easy DKIM: a CNAME to SES.
    pub byodkim: bool,
}

/// The DNS answers the audit of one target needs.
#[derive(Debug, Clone)]
pub struct DnsView {
    /// MX of the MAIL FROM domain: `(preference, exchange)`.
    pub mail_from_mx: Option<Lookup<Vec<(u16, String)>>>,
    /// TXT strings of the MAIL FROM domain.
    pub mail_from_txt: Option<Lookup<Vec<String>>>,
    /// Per DKIM name: CNAME targets (Easy DKIM) or TXT strings (BYODKIM).
    pub dkim: Vec<(DkimName, Lookup<Vec<String>>)>,
    /// RFC 9989 policy discovery for the domain.
    pub dmarc: Lookup<PolicyDiscovery>,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub check: Check,
    /// `None`: not judged (a lookup failed, or nothing to check).
    pub passed: Option<bool>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub identity: String,
    pub domain: String,
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    pub fn failed(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| c.passed == Some(false))
    }
}

struct Audit<'a> {
    target: &'a Target,
    checks: Vec<CheckResult>,
    findings: Vec<FindingBuilder>,
}

impl Audit<'_> {
    fn result(&mut self, check: Check, passed: Option<bool>, detail: String) {
        self.checks.push(CheckResult {
            check,
            passed,
            detail,
        });
    }

    fn finding(&mut self, kind: Kind, detail: String) -> &mut FindingBuilder {
        self.findings
            .push(Finding::build(kind, &self.target.domain, detail));
        let last = self.findings.len() - 1;
        &mut self.findings[last]
    }
}

/// Audits one target.
pub fn audit(target: &Target, dns: &DnsView) -> AuditReport {
    let mut audit = Audit {
        target,
        checks: Vec::new(),
        findings: Vec::new(),
    };
    mail_from(&mut audit, dns);
    dkim(&mut audit, dns);
    dmarc(&mut audit, dns);
    AuditReport {
        identity: target.identity.clone(),
        domain: target.domain.clone(),
        checks: audit.checks,
        findings: audit
            .findings
            .into_iter()
            .map(|f| f.about(None, Source::Audit))
            .collect(),
    }
}

fn mail_from(audit: &mut Audit<'_>, dns: &DnsView) {
    let target = audit.target;
    let attributes = target
        .state
        .as_ref()
        .and_then(|s| s.mail_from_attributes.as_ref());
    let behavior = attributes.and_then(|a| a.behavior_on_mx_failure);
    let Some(mail_from) = target.mail_from_domain.as_deref() else {
        audit.result(
            Check::MailFromMx,
            None,
            "no custom MAIL FROM domain: mail leaves with an amazonses.com envelope sender, so only DKIM can align".into(),
        );
        return;
    };

    if let Some(status) = attributes.and_then(|a| a.mail_from_domain_status.as_ref()) {
        let ok = *status == MailFromStatus::Success;
        audit.result(
            Check::MailFromStatus,
            Some(ok),
            format!("SES reports MAIL FROM {mail_from} as {}", status.as_str()),
        );
        if !ok {
            audit.finding(
                Kind::MailFromStatus,
                format!(
                    "identity {}: SES reports MAIL FROM domain {mail_from} as {}; {}",
                    target.identity,
                    status.as_str(),
                    consequence(behavior)
                ),
            );
        }
    }

    let expected = format!("feedback-smtp.{}.amazonses.com", target.region);
    let fix = format!("Fix: publish exactly one MX record on {mail_from}: \"10 {expected}\".");
    match &dns.mail_from_mx {
        None => {}
        Some(Lookup::Failed(error)) => audit.result(
            Check::MailFromMx,
            None,
            format!("MX lookup for {mail_from} failed ({error}); not judged"),
        ),
        Some(Lookup::Missing) => {
            audit.result(
                Check::MailFromMx,
                Some(false),
                format!("{mail_from} has no MX record"),
            );
            audit
                .finding(
                    Kind::MailFromMxMissing,
                    format!(
                        "the MAIL FROM domain {mail_from} has no MX record; {}. {fix}",
                        consequence(behavior)
                    ),
                )
                .set_severity(Severity::Critical);
        }
        Some(Lookup::Found(records)) => {
            let names: Vec<String> = records
                .iter()
                .map(|(preference, exchange)| format!("{preference} {exchange}"))
                .collect();
            let correct = records.iter().any(|(_, exchange)| {
                crate::read::domain::normalize(exchange).as_deref() == Some(&expected)
            });
            if correct && records.len() == 1 {
                audit.result(
                    Check::MailFromMx,
                    Some(true),
                    format!("{mail_from} MX {}", names.join(", ")),
                );
            } else {
                audit.result(
                    Check::MailFromMx,
                    Some(false),
                    format!(
                        "{mail_from} MX {}, expected only 10 {expected}",
                        names.join(", ")
                    ),
                );
                let (why, severity) = if correct {
                    (
                        format!(
                            "has {} MX records ({}) where SES expects exactly one",
                            records.len(),
                            names.join(", ")
                        ),
                        Severity::Warning,
                    )
                } else {
                    (
                        format!(
                            "points its MX at {} instead of {expected}",
                            names.join(", ")
                        ),
                        Severity::Critical,
                    )
                };
                let consequence = if correct {
                    "SES may fail to verify it".to_owned()
                } else {
                    consequence(behavior).to_owned()
                };
                audit
                    .finding(
                        Kind::MailFromMxMissing,
                        format!("the MAIL FROM domain {mail_from} {why}; {consequence}. {fix}"),
                    )
                    .set_severity(severity);
            }
        }
    }

    match &dns.mail_from_txt {
        None => {}
        Some(Lookup::Failed(error)) => audit.result(
            Check::MailFromSpf,
            None,
            format!("TXT lookup for {mail_from} failed ({error}); not judged"),
        ),
        Some(answer) => {
            let spf: Vec<&String> = match answer {
                Lookup::Found(strings) => strings
                    .iter()
                    .filter(|s| s.trim_start().to_ascii_lowercase().starts_with("v=spf1"))
                    .collect(),
                _ => Vec::new(),
            };
            let problem = match spf.as_slice() {
                [] => Some("has no SPF record".to_owned()),
                [record] => {
                    if mail_auth::spf::Spf::parse(record.as_bytes()).is_err() {
                        Some(format!(
                            "has an SPF record that does not parse: \"{record}\""
                        ))
                    } else if !record.split_ascii_whitespace().any(|term| {
                        let term = term.to_ascii_lowercase();
                        let term = term.trim_start_matches(['+', '~', '?']);
                        term == "include:amazonses.com"
                    }) {
                        Some(format!(
                            "has an SPF record without include:amazonses.com: \"{record}\""
                        ))
                    } else {
                        None
                    }
                }
                _ => Some(format!(
                    "has {} SPF records (RFC 7208 allows one: a permerror)",
                    spf.len()
                )),
            };
            match problem {
                None => audit.result(
                    Check::MailFromSpf,
                    Some(true),
                    format!("{mail_from} SPF includes amazonses.com"),
                ),
                Some(problem) => {
                    audit.result(
                        Check::MailFromSpf,
                        Some(false),
                        format!("{mail_from} {problem}"),
                    );
                    audit.finding(
                        Kind::MailFromSpfMissing,
                        format!(
                            "the MAIL FROM domain {mail_from} {problem}: SPF cannot pass for mail SES sends. Fix: publish \"v=spf1 include:amazonses.com ~all\" as TXT on {mail_from}."
                        ),
                    );
                }
            }
        }
    }
}

fn consequence(behavior: Option<MxFailureBehavior>) -> &'static str {
    match behavior {
        Some(MxFailureBehavior::RejectMessage) => {
            "with BehaviorOnMxFailure REJECT_MESSAGE, SES refuses to send this identity's mail"
        }
        Some(MxFailureBehavior::UseDefaultValue) => {
            "with BehaviorOnMxFailure USE_DEFAULT_VALUE, mail is about to fall back (or already does) to the amazonses.com MAIL FROM, and SPF stops aligning"
        }
        _ => "SES cannot use the custom MAIL FROM domain",
    }
}

fn dkim(audit: &mut Audit<'_>, dns: &DnsView) {
    let Some(attributes) = audit
        .target
        .state
        .as_ref()
        .and_then(|s| s.dkim_attributes.as_ref())
    else {
        return;
    };
    let signing = attributes.signing_enabled.unwrap_or(false);
    audit.result(
        Check::DkimSigning,
        Some(signing),
        format!(
            "DKIM signing {}, status {}",
            if signing { "enabled" } else { "disabled" },
            attributes.status.as_deref().unwrap_or("unknown")
        ),
    );
    if !signing {
        let domain = audit.target.domain.clone();
        audit.finding(
            Kind::DkimNotSigning,
            format!("SES does not DKIM-sign mail from {domain}: only SPF can align, and only with a custom MAIL FROM. Fix: enable DKIM signing for the identity."),
        );
    }
    let mut missing = Vec::new();
    let mut failed = Vec::new();
    for (name, answer) in &dns.dkim {
        match answer {
            Lookup::Failed(error) => failed.push(format!("{} ({error})", name.name)),
            Lookup::Missing => missing.push(name.name.clone()),
            Lookup::Found(values) => {
                let ok = if name.byodkim {
                    values
                        .iter()
                        .any(|v| mail_auth::common::verify::DomainKey::parse(v.as_bytes()).is_ok())
                } else {
                    values.iter().any(|v| {
                        let target = v.trim_end_matches('.').to_ascii_lowercase();
                        target.starts_with(&format!("{}.dkim.", name.token.to_ascii_lowercase()))
                            && target.ends_with("amazonses.com")
                    })
                };
                if !ok {
                    missing.push(format!(
                        "{} (points elsewhere: {})",
                        name.name,
                        values.join(", ")
                    ));
                }
            }
        }
    }
    if dns.dkim.is_empty() {
        return;
    }
    if !failed.is_empty() && missing.is_empty() {
        audit.result(
            Check::DkimDns,
            None,
            format!("lookups failed: {}; not judged", failed.join(", ")),
        );
        return;
    }
    if missing.is_empty() {
        audit.result(
            Check::DkimDns,
            Some(true),
            format!("{} DKIM record(s) in place", dns.dkim.len()),
        );
        return;
    }
    audit.result(
        Check::DkimDns,
        Some(false),
        format!("missing or wrong: {}", missing.join(", ")),
    );
    let kind_of = if dns.dkim.first().is_some_and(|(n, _)| n.byodkim) {
        "BYODKIM key (TXT)"
    } else {
        "Easy DKIM CNAME"
    };
    let domain = audit.target.domain.clone();
    audit
        .finding(
            Kind::DkimDnsMissing,
            format!(
                "{kind_of} record(s) for {domain} missing or wrong: {}; {}. Fix: restore the records the SES console lists under the identity's DKIM settings.",
                missing.join(", "),
                if signing { "DKIM stops passing when SES re-verifies the identity" } else { "DKIM cannot be enabled" }
            ),
        )
        .set_severity(if signing { Severity::Critical } else { Severity::Warning });
}

fn dmarc(audit: &mut Audit<'_>, dns: &DnsView) {
    let domain = audit.target.domain.clone();
    // No answer at all and a walk that found no applicable record mean the same thing.
    let found = match &dns.dmarc {
        Lookup::Failed(error) => {
            audit.result(
                Check::Dmarc,
                None,
                format!("DMARC lookup for {domain} failed ({error}); not judged"),
            );
            return;
        }
        Lookup::Missing => None,
        Lookup::Found(discovery) => discovery
            .record
            .as_ref()
            .map(|(at, record)| (discovery, at, record)),
    };
    match found {
        None => {
            audit.result(
                Check::Dmarc,
                Some(false),
                format!("no DMARC record for {domain}"),
            );
            audit.finding(
                Kind::NoDmarcPolicy,
                format!("{domain} publishes no DMARC record (bulk-sender rules at Gmail, Yahoo and Microsoft require one). Fix: publish _dmarc.{domain} TXT \"v=DMARC1; p=none; rua=mailto:…\", then move to p=reject; adkim=s once reports are clean."),
            );
        }
        Some((discovery, at, record)) => {
            let disposition = discovery.disposition.unwrap_or(Disposition::None);
            let mut notes = Vec::new();
            if disposition == Disposition::None {
                notes.push("p=none monitors only: move to p=quarantine or p=reject (with adkim=s) once reports are clean");
            }
            if record.rua().is_empty() {
                notes.push("no rua=: nobody receives aggregate reports");
            }
            let strict_spf = discovery.aspf() == crate::read::domain::Alignment::Strict;
            let ok = !(strict_spf && audit.target.mail_from_domain.is_some());
            audit.result(
                Check::Dmarc,
                Some(ok),
                format!(
                    "DMARC p={disposition} (record at {at}, adkim={}, aspf={}){}{}",
                    alignment(discovery.adkim()),
                    alignment(discovery.aspf()),
                    if notes.is_empty() { "" } else { "; " },
                    notes.join("; ")
                ),
            );
            if !ok {
                let mail_from = audit.target.mail_from_domain.clone().unwrap_or_default();
                audit.finding(
                    Kind::StrictSpfAlignment,
                    format!("the DMARC record for {domain} (at {at}) has aspf=s, but SES's MAIL FROM {mail_from} is a subdomain: SPF can never align. Fix: use aspf=r."),
                );
            }
        }
    }
}

fn alignment(mode: crate::read::domain::Alignment) -> &'static str {
    match mode {
        crate::read::domain::Alignment::Strict => "s",
        crate::read::domain::Alignment::Relaxed => "r",
    }
}
