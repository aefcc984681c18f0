//! The posture audit: an identity's MAIL FROM, DKIM and DMARC set-up, checked against what DNS
//! says, before mail goes out unaligned.
//!
//! Pure: the identity's SES state and the DNS answers arrive in [`Target`] and [`DnsView`]
//! (gathered by `dns::DnsFacts::audit_view`, and by the audit function from SESv2). A lookup
//! that failed (timeout, SERVFAIL) leaves its check unjudged and says so: a DNS hiccup never
//! pages anyone.

use crate::judge::align::Alignment;
use crate::judge::findings::{Facts, Finding, MxProblem, SpfProblem};
use crate::judge::policy::{Disposition, PolicyDiscovery};
use crate::read::domain::normalize;
use crate::read::identity_state::{IdentityState, MailFromStatus};
use crate::read::keyword::keyword_enum;
use crate::read::observation::Source;
use mail_auth::common::parse::TxtRecordParser as _;

keyword_enum! {
    /// One posture check, as metrics name it (`AuditChecksFailed` by `Check`).
    pub enum PostureCheck {
        MailFromStatus = "mail_from_status",
        MailFromMx = "mail_from_mx",
        MailFromSpf = "mail_from_spf",
        DkimSigning = "dkim_signing",
        DkimDns = "dkim_dns",
        Dmarc = "dmarc",
        ReportAuthorization = "report_authorization",
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
        let external = dkim.is_byodkim();
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
    /// For each `rua=` domain outside the policy domain's organization
    /// ([`report_authorizations`]): the TXT strings at its authorization name.
    pub report_authorizations: Vec<(ReportAuthorization, Lookup<Vec<String>>)>,
}

/// A `rua=` destination outside the policy domain's organization, and the name where it must
/// agree to take the reports (RFC 9990 §3, RFC 7489 §7.1):
/// `<policy domain>._report._dmarc.<destination domain>`, TXT `v=DMARC1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAuthorization {
    pub policy_domain: String,
    pub destination: String,
    pub name: String,
}

/// The authorizations the `rua=` URIs of the record at `policy_domain` need: one per
/// destination domain whose organizational domain is not the policy domain's.
pub fn report_authorizations(policy_domain: &str, rua: &[&str]) -> Vec<ReportAuthorization> {
    use crate::judge::align::{OrgDomains as _, PublicSuffixList};
    let org = PublicSuffixList.organizational_domain(policy_domain);
    let mut needed: Vec<ReportAuthorization> = Vec::new();
    for uri in rua {
        let address = uri.trim();
        let address = address
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("mailto:"))
            .map_or(address, |_| &address[7..]);
        let Some(destination) = crate::read::domain::domain_of_address(address) else {
            continue;
        };
        if PublicSuffixList.organizational_domain(&destination) == org
            || needed.iter().any(|n| n.destination == destination)
        {
            continue;
        }
        needed.push(ReportAuthorization {
            name: format!("{policy_domain}._report._dmarc.{destination}"),
            policy_domain: policy_domain.to_owned(),
            destination,
        });
    }
    needed
}

/// What one check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Nothing to check (no custom MAIL FROM domain, so no MX to look at).
    NotApplicable,
    /// A lookup failed (timeout, SERVFAIL): whether it holds is not known this run.
    Unjudged,
}

impl From<bool> for Verdict {
    fn from(passed: bool) -> Self {
        if passed { Self::Pass } else { Self::Fail }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub check: PostureCheck,
    pub verdict: Verdict,
    /// What was found: `say::explain::observed` words it, for the `check` command's report,
    /// the log and the evidence that ends an incident.
    pub observed: Observed,
}

/// Which DNS question failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    Mx,
    Txt,
    Dmarc,
}

/// What a DMARC record in force leaves to be done, beside the check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcAdvice {
    /// `p=none` monitors only.
    MonitorOnly,
    /// No `rua=`: nobody receives aggregate reports.
    NoReports,
}

/// What one check found, as values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// No custom MAIL FROM domain: no MX to look at.
    NoCustomMailFrom,
    /// SES's `MailFromDomainStatus`.
    MailFromStatus {
        mail_from: String,
        status: MailFromStatus,
    },
    /// A lookup failed (timeout, SERVFAIL): not judged.
    LookupFailed {
        question: Question,
        name: String,
        error: String,
    },
    MxMissing {
        mail_from: String,
    },
    /// The MX records found; `expected` when they are not exactly the one SES needs.
    Mx {
        mail_from: String,
        records: Vec<(u16, String)>,
        expected: Option<String>,
    },
    /// The MAIL FROM domain's SPF, and what is wrong with it.
    Spf {
        mail_from: String,
        problem: Option<SpfProblem>,
    },
    DkimSigning {
        enabled: bool,
        status: Option<String>,
    },
    /// Some DKIM lookups failed, none was found missing: `name (error)` each.
    DkimLookupsFailed(Vec<String>),
    DkimInPlace(usize),
    /// Missing or wrong DKIM records, each as named.
    DkimMissing(Vec<String>),
    NoDmarcRecord {
        domain: String,
    },
    Dmarc {
        disposition: Disposition,
        record_at: String,
        adkim: Alignment,
        aspf: Alignment,
        advice: Vec<DmarcAdvice>,
    },
    /// External `rua=` destinations without their agreement, by authorization name.
    ReportAuthorizationMissing(Vec<String>),
    /// Their lookups failed: `name (error)` each.
    ReportAuthorizationFailed(Vec<String>),
    ReportAuthorizationFound(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOutcome {
    pub identity: String,
    pub domain: String,
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
}

impl AuditOutcome {
    pub fn failed(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| c.verdict == Verdict::Fail)
    }

    /// Checks a failed lookup left unjudged this run.
    pub fn unjudged(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks
            .iter()
            .filter(|c| c.verdict == Verdict::Unjudged)
    }
}

/// Audits one target.
pub fn audit(target: &Target, dns: &DnsView) -> AuditOutcome {
    let mut audit = Audit {
        target,
        checks: Vec::new(),
        findings: Vec::new(),
    };
    mail_from(&mut audit, dns);
    dkim(&mut audit, dns);
    dmarc(&mut audit, dns);
    report_destinations(&mut audit, dns);
    AuditOutcome {
        identity: target.identity.clone(),
        domain: target.domain.clone(),
        checks: audit.checks,
        findings: audit
            .findings
            .into_iter()
            .map(|facts| Finding::new(facts, Some(&target.domain), Source::Audit))
            .collect(),
    }
}

struct Audit<'a> {
    target: &'a Target,
    checks: Vec<CheckResult>,
    findings: Vec<Facts>,
}

impl Audit<'_> {
    fn result(&mut self, check: PostureCheck, verdict: impl Into<Verdict>, observed: Observed) {
        self.checks.push(CheckResult {
            check,
            verdict: verdict.into(),
            observed,
        });
    }
}

fn mail_from(audit: &mut Audit<'_>, dns: &DnsView) {
    let target = audit.target;
    let attributes = target
        .state
        .as_ref()
        .and_then(|s| s.mail_from_attributes.as_ref());
    let behavior = attributes.and_then(|a| a.behavior_on_mx_failure.clone());
    let Some(mail_from) = target.mail_from_domain.as_deref() else {
        audit.result(
            PostureCheck::MailFromMx,
            Verdict::NotApplicable,
            Observed::NoCustomMailFrom,
        );
        return;
    };

    if let Some(status) = attributes.and_then(|a| a.mail_from_domain_status.as_ref()) {
        let ok = *status == MailFromStatus::Success;
        audit.result(
            PostureCheck::MailFromStatus,
            ok,
            Observed::MailFromStatus {
                mail_from: mail_from.to_owned(),
                status: status.clone(),
            },
        );
        if !ok {
            audit.findings.push(Facts::MailFromStatus {
                identity: target.identity.clone(),
                mail_from: mail_from.to_owned(),
                status: status.clone(),
                behavior: behavior.clone(),
                region: Some(target.region.clone()),
            });
        }
    }

    if let Some(answer) = &dns.mail_from_mx {
        let problem = mx_problem(audit, mail_from, answer);
        if let Some(problem) = problem {
            audit.findings.push(Facts::MailFromMxMissing {
                mail_from: mail_from.to_owned(),
                problem,
                behavior,
                region: target.region.clone(),
            });
        }
    }
    if let Some(answer) = &dns.mail_from_txt
        && let Some(problem) = spf_problem(audit, mail_from, answer)
    {
        audit.findings.push(Facts::MailFromSpfMissing {
            mail_from: mail_from.to_owned(),
            problem,
        });
    }
}

/// SES expects exactly one MX on the MAIL FROM domain: `10 feedback-smtp.<region>.amazonses.com`.
fn mx_problem(
    audit: &mut Audit<'_>,
    mail_from: &str,
    answer: &Lookup<Vec<(u16, String)>>,
) -> Option<MxProblem> {
    let expected = format!("feedback-smtp.{}.amazonses.com", audit.target.region);
    match answer {
        Lookup::Failed(error) => {
            audit.result(
                PostureCheck::MailFromMx,
                Verdict::Unjudged,
                Observed::LookupFailed {
                    question: Question::Mx,
                    name: mail_from.to_owned(),
                    error: error.clone(),
                },
            );
            None
        }
        Lookup::Missing => {
            audit.result(
                PostureCheck::MailFromMx,
                false,
                Observed::MxMissing {
                    mail_from: mail_from.to_owned(),
                },
            );
            Some(MxProblem::Missing)
        }
        Lookup::Found(records) => {
            let correct = records
                .iter()
                .any(|(_, exchange)| normalize(exchange).as_deref() == Some(&expected));
            if correct && records.len() == 1 {
                audit.result(
                    PostureCheck::MailFromMx,
                    true,
                    Observed::Mx {
                        mail_from: mail_from.to_owned(),
                        records: records.clone(),
                        expected: None,
                    },
                );
                return None;
            }
            audit.result(
                PostureCheck::MailFromMx,
                false,
                Observed::Mx {
                    mail_from: mail_from.to_owned(),
                    records: records.clone(),
                    expected: Some(expected),
                },
            );
            Some(if correct {
                MxProblem::Extra(records.clone())
            } else {
                MxProblem::Elsewhere(records.clone())
            })
        }
    }
}

/// One valid SPF record that includes amazonses.com.
fn spf_problem(
    audit: &mut Audit<'_>,
    mail_from: &str,
    answer: &Lookup<Vec<String>>,
) -> Option<SpfProblem> {
    let records: Vec<&String> = match answer {
        Lookup::Failed(error) => {
            audit.result(
                PostureCheck::MailFromSpf,
                Verdict::Unjudged,
                Observed::LookupFailed {
                    question: Question::Txt,
                    name: mail_from.to_owned(),
                    error: error.clone(),
                },
            );
            return None;
        }
        Lookup::Found(strings) => strings
            .iter()
            .filter(|s| s.trim_start().to_ascii_lowercase().starts_with("v=spf1"))
            .collect(),
        Lookup::Missing => Vec::new(),
    };
    let problem = match records.as_slice() {
        [] => Some(SpfProblem::Missing),
        [record] if mail_auth::spf::Spf::parse(record.as_bytes()).is_err() => {
            Some(SpfProblem::Unparsable((*record).clone()))
        }
        [record] if !includes_amazonses(record) => {
            Some(SpfProblem::NoAmazonSesInclude((*record).clone()))
        }
        [_] => None,
        several => Some(SpfProblem::Several(several.len())),
    };
    audit.result(
        PostureCheck::MailFromSpf,
        problem.is_none(),
        Observed::Spf {
            mail_from: mail_from.to_owned(),
            problem: problem.clone(),
        },
    );
    problem
}

fn includes_amazonses(record: &str) -> bool {
    record.split_ascii_whitespace().any(|term| {
        let term = term.to_ascii_lowercase();
        term.trim_start_matches(['+', '~', '?']) == "include:amazonses.com"
    })
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
    let domain = audit.target.domain.clone();
    let signing = attributes.signing_enabled.unwrap_or(false);
    audit.result(
        PostureCheck::DkimSigning,
        signing,
        Observed::DkimSigning {
            enabled: signing,
            status: attributes.status.as_ref().map(|s| s.as_str().to_owned()),
        },
    );
    if !signing {
        audit.findings.push(Facts::DkimNotSigning {
            domain: domain.clone(),
        });
    }
    let mut missing = Vec::new();
    let mut failed = Vec::new();
    for (name, answer) in &dns.dkim {
        match answer {
            Lookup::Failed(error) => failed.push(format!("{} ({error})", name.name)),
            Lookup::Missing => missing.push(name.name.clone()),
            Lookup::Found(values) if !dkim_record_ok(name, values) => missing.push(format!(
                "{} (points elsewhere: {})",
                name.name,
                values.join(", ")
            )),
            Lookup::Found(_) => {}
        }
    }
    if dns.dkim.is_empty() {
        return;
    }
    if !failed.is_empty() && missing.is_empty() {
        audit.result(
            PostureCheck::DkimDns,
            Verdict::Unjudged,
            Observed::DkimLookupsFailed(failed),
        );
        return;
    }
    if missing.is_empty() {
        audit.result(
            PostureCheck::DkimDns,
            true,
            Observed::DkimInPlace(dns.dkim.len()),
        );
        return;
    }
    audit.result(
        PostureCheck::DkimDns,
        false,
        Observed::DkimMissing(missing.clone()),
    );
    audit.findings.push(Facts::DkimDnsMissing {
        domain,
        byodkim: dns.dkim.first().is_some_and(|(n, _)| n.byodkim),
        missing,
        signing,
    });
}

/// BYODKIM: a key record that parses; Easy DKIM: a CNAME to `<token>.dkim.amazonses.com`.
fn dkim_record_ok(name: &DkimName, values: &[String]) -> bool {
    if name.byodkim {
        values
            .iter()
            .any(|v| mail_auth::common::verify::DomainKey::parse(v.as_bytes()).is_ok())
    } else {
        values.iter().any(|v| {
            let target = v.trim_end_matches('.').to_ascii_lowercase();
            target.starts_with(&format!("{}.dkim.", name.token.to_ascii_lowercase()))
                && target.ends_with("amazonses.com")
        })
    }
}

fn dmarc(audit: &mut Audit<'_>, dns: &DnsView) {
    let domain = audit.target.domain.clone();
    // No answer at all and a walk that found no applicable record mean the same thing.
    let found = match &dns.dmarc {
        Lookup::Failed(error) => {
            audit.result(
                PostureCheck::Dmarc,
                Verdict::Unjudged,
                Observed::LookupFailed {
                    question: Question::Dmarc,
                    name: domain,
                    error: error.clone(),
                },
            );
            return;
        }
        Lookup::Missing => None,
        Lookup::Found(discovery) => discovery
            .record
            .as_ref()
            .map(|(at, record)| (discovery, at, record)),
    };
    let Some((discovery, at, record)) = found else {
        audit.result(
            PostureCheck::Dmarc,
            false,
            Observed::NoDmarcRecord {
                domain: domain.clone(),
            },
        );
        audit.findings.push(Facts::NoDmarcPolicy {
            domain,
            reported_by_ses: false,
            nothing_aligns: false,
        });
        return;
    };
    let disposition = discovery.disposition.unwrap_or(Disposition::None);
    let mut advice = Vec::new();
    if disposition == Disposition::None {
        advice.push(DmarcAdvice::MonitorOnly);
    }
    if record.rua().is_empty() {
        advice.push(DmarcAdvice::NoReports);
    }
    let mail_from = audit.target.mail_from_domain.clone();
    let strict_spf = discovery.aspf() == Alignment::Strict && mail_from.is_some();
    audit.result(
        PostureCheck::Dmarc,
        !strict_spf,
        Observed::Dmarc {
            disposition,
            record_at: at.clone(),
            adkim: discovery.adkim(),
            aspf: discovery.aspf(),
            advice,
        },
    );
    if strict_spf {
        audit.findings.push(Facts::StrictSpfAlignment {
            domain,
            record_at: Some(at.clone()),
            mail_from,
        });
    }
}

/// Whether every external `rua=` destination agreed to take the reports. Only checked when
/// there is one: a record reporting to its own organization needs nothing.
fn report_destinations(audit: &mut Audit<'_>, dns: &DnsView) {
    if dns.report_authorizations.is_empty() {
        return;
    }
    let mut missing = Vec::new();
    let mut failed = Vec::new();
    for (authorization, answer) in &dns.report_authorizations {
        match answer {
            Lookup::Found(texts) if texts.iter().any(|t| authorizes(t)) => {}
            Lookup::Failed(error) => failed.push(format!("{} ({error})", authorization.name)),
            Lookup::Found(_) | Lookup::Missing => missing.push(authorization),
        }
    }
    let names = |list: &[&ReportAuthorization]| list.iter().map(|a| a.name.clone()).collect();
    if !missing.is_empty() {
        audit.result(
            PostureCheck::ReportAuthorization,
            Verdict::Fail,
            Observed::ReportAuthorizationMissing(names(&missing)),
        );
        for authorization in missing {
            audit.findings.push(Facts::ReportDestinationUnauthorized {
                destination: authorization.destination.clone(),
                record: authorization.name.clone(),
            });
        }
    } else if !failed.is_empty() {
        audit.result(
            PostureCheck::ReportAuthorization,
            Verdict::Unjudged,
            Observed::ReportAuthorizationFailed(failed),
        );
    } else {
        let all: Vec<&ReportAuthorization> =
            dns.report_authorizations.iter().map(|(a, _)| a).collect();
        audit.result(
            PostureCheck::ReportAuthorization,
            Verdict::Pass,
            Observed::ReportAuthorizationFound(names(&all)),
        );
    }
}

/// A TXT string that agrees to take reports: it starts with `v=DMARC1`.
fn authorizes(text: &str) -> bool {
    text.trim()
        .get(..8)
        .is_some_and(|v| v.eq_ignore_ascii_case("v=DMARC1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::findings::Kind;
    use crate::judge::policy::PolicyBook;

    const SES_MX: &str = "feedback-smtp.us-east-1.amazonses.com";

    /// example.com with custom MAIL FROM mail.example.com in `status`.
    fn target(status: Option<&str>) -> Target {
        let state = status.map(|status| {
            serde_json::from_value::<IdentityState>(serde_json::json!({
                "MailFromAttributes": {
                    "MailFromDomain": "mail.example.com",
                    "MailFromDomainStatus": status,
                    "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
                }
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        });
        Target {
            identity: "example.com".into(),
            domain: "example.com".into(),
            region: "us-east-1".into(),
            mail_from_domain: state.as_ref().map(|_| "mail.example.com".to_owned()),
            state,
        }
    }

    /// A healthy set-up's answers, `dmarc` the record at `_dmarc.example.com`.
    fn view(dmarc: Option<&str>) -> DnsView {
        let mut book = PolicyBook::default();
        if let Some(record) = dmarc {
            book.add(&format!("example.com={record}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        DnsView {
            mail_from_mx: Some(Lookup::Found(vec![(10, SES_MX.into())])),
            mail_from_txt: Some(Lookup::Found(vec![
                "v=spf1 include:amazonses.com ~all".into(),
            ])),
            dkim: Vec::new(),
            dmarc: Lookup::Found(book.discover("example.com")),
            report_authorizations: Vec::new(),
        }
    }

    const REJECT: Option<&str> = Some("v=DMARC1; p=reject; rua=mailto:d@example.com");

    #[test]
    fn each_check_judges_what_dns_and_ses_say() {
        use PostureCheck as C;
        use Verdict as V;
        type Case = (
            &'static str,
            Target,
            DnsView,
            PostureCheck,
            Verdict,
            &'static [Kind],
        );
        let with = |change: fn(&mut DnsView)| {
            let mut v = view(REJECT);
            change(&mut v);
            v
        };
        let cases: Vec<Case> = vec![
            (
                "healthy: one MX to SES",
                target(Some("SUCCESS")),
                view(REJECT),
                C::MailFromMx,
                V::Pass,
                &[],
            ),
            (
                "healthy: SPF includes amazonses.com",
                target(Some("SUCCESS")),
                view(REJECT),
                C::MailFromSpf,
                V::Pass,
                &[],
            ),
            (
                "healthy: DMARC p=reject",
                target(Some("SUCCESS")),
                view(REJECT),
                C::Dmarc,
                V::Pass,
                &[],
            ),
            (
                "SES says SUCCESS",
                target(Some("SUCCESS")),
                view(REJECT),
                C::MailFromStatus,
                V::Pass,
                &[],
            ),
            (
                "SES says FAILED: mail falls back",
                target(Some("FAILED")),
                view(REJECT),
                C::MailFromStatus,
                V::Fail,
                &[Kind::MailFromStatus],
            ),
            (
                "no MX at all",
                target(Some("SUCCESS")),
                with(|v| v.mail_from_mx = Some(Lookup::Missing)),
                C::MailFromMx,
                V::Fail,
                &[Kind::MailFromMxMissing],
            ),
            (
                "MX to another host",
                target(Some("SUCCESS")),
                with(|v| v.mail_from_mx = Some(Lookup::Found(vec![(10, "mx.example.net".into())]))),
                C::MailFromMx,
                V::Fail,
                &[Kind::MailFromMxMissing],
            ),
            (
                "SES's MX beside another",
                target(Some("SUCCESS")),
                with(|v| {
                    v.mail_from_mx = Some(Lookup::Found(vec![
                        (10, SES_MX.into()),
                        (20, "mx.example.net".into()),
                    ]));
                }),
                C::MailFromMx,
                V::Fail,
                &[Kind::MailFromMxMissing],
            ),
            (
                "MX lookup timed out: not judged, no finding",
                target(Some("SUCCESS")),
                with(|v| v.mail_from_mx = Some(Lookup::Failed("timeout".into()))),
                C::MailFromMx,
                V::Unjudged,
                &[],
            ),
            (
                "no SPF record",
                target(Some("SUCCESS")),
                with(|v| {
                    v.mail_from_txt =
                        Some(Lookup::Found(vec!["google-site-verification=x".into()]));
                }),
                C::MailFromSpf,
                V::Fail,
                &[Kind::MailFromSpfMissing],
            ),
            (
                "two SPF records: a permerror",
                target(Some("SUCCESS")),
                with(|v| {
                    v.mail_from_txt = Some(Lookup::Found(vec![
                        "v=spf1 include:amazonses.com ~all".into(),
                        "v=spf1 -all".into(),
                    ]));
                }),
                C::MailFromSpf,
                V::Fail,
                &[Kind::MailFromSpfMissing],
            ),
            (
                "SPF without amazonses.com",
                target(Some("SUCCESS")),
                with(|v| v.mail_from_txt = Some(Lookup::Found(vec!["v=spf1 mx -all".into()]))),
                C::MailFromSpf,
                V::Fail,
                &[Kind::MailFromSpfMissing],
            ),
            (
                "no custom MAIL FROM: nothing to check",
                target(None),
                view(REJECT),
                C::MailFromMx,
                V::NotApplicable,
                &[],
            ),
            (
                "no DMARC record",
                target(Some("SUCCESS")),
                view(None),
                C::Dmarc,
                V::Fail,
                &[Kind::NoDmarcPolicy],
            ),
            (
                "aspf=s with a custom MAIL FROM",
                target(Some("SUCCESS")),
                view(Some("v=DMARC1; p=reject; aspf=s")),
                C::Dmarc,
                V::Fail,
                &[Kind::StrictSpfAlignment],
            ),
            (
                "aspf=s without one: SPF was never going to align",
                target(None),
                view(Some("v=DMARC1; p=reject; aspf=s")),
                C::Dmarc,
                V::Pass,
                &[],
            ),
            (
                "p=none passes, with advice",
                target(Some("SUCCESS")),
                view(Some("v=DMARC1; p=none")),
                C::Dmarc,
                V::Pass,
                &[],
            ),
            (
                "DMARC lookup failed: not judged",
                target(Some("SUCCESS")),
                with(|v| v.dmarc = Lookup::Failed("SERVFAIL".into())),
                C::Dmarc,
                V::Unjudged,
                &[],
            ),
        ];
        for (case, target, view, check, verdict, kinds) in cases {
            let report = audit(&target, &view);
            let found = report.checks.iter().find(|c| c.check == check);
            assert_eq!(
                found.map(|c| c.verdict),
                Some(verdict),
                "{case}: {:?}",
                report.checks
            );
            let found: Vec<Kind> = report.findings.iter().map(|f| f.kind()).collect();
            assert_eq!(found, kinds, "{case}");
        }
    }

    #[test]
    fn only_destinations_outside_the_organization_need_agreement() {
        let cases: [(&str, &[&str], &[&str]); 6] = [
            // (policy domain, rua= URIs, authorization names needed)
            ("example.com", &["mailto:d@example.com"], &[]),
            ("example.com", &["mailto:d@reports.example.com"], &[]),
            ("mail.example.com", &["mailto:d@example.com"], &[]),
            (
                "example.com",
                &[
                    "MAILTO:d@inbound.example.net",
                    "mailto:e@inbound.example.net!10m",
                ],
                &["example.com._report._dmarc.inbound.example.net"],
            ),
            (
                "example.com",
                &["d@vendor.example", "mailto:e@example.com"],
                &["example.com._report._dmarc.vendor.example"],
            ),
            ("example.com", &["mailto:not-an-address", "https://x"], &[]),
        ];
        for (policy, rua, expected) in cases {
            let names: Vec<String> = report_authorizations(policy, rua)
                .into_iter()
                .map(|a| a.name)
                .collect();
            assert_eq!(names, expected, "{policy} {rua:?}");
        }
    }
}
