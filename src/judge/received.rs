//! Alignment and findings: what an [`Observation`] means under the From domain's DMARC policy.
//!
//! Pure: everything the decision needs from DNS or AWS arrives in [`DomainFacts`] and
//! [`IdentityHints`], gathered beforehand by the caller (offline from flags, online from DNS).

use crate::judge::policy::{Disposition, PolicyDiscovery};
use crate::read::authres::ResultKeyword;
use crate::read::domain::{Alignment, KnownOrgDomains, aligned};
use crate::read::observation::{Check, Observation};
use crate::read::receipt::{SesDmarcPolicy, VerdictStatus};
use crate::say::findings::{Finding, Kind, Severity};
use serde::Serialize;
use std::collections::HashMap;

/// How organizational domains were determined; the report says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgSource {
    /// Offline: the public suffix list compiled into the program.
    PublicSuffixList,
    /// RFC 9989 DNS tree walk.
    DnsTreeWalk,
}

/// What is known about the domains an observation names.
#[derive(Debug, Clone)]
pub struct DomainFacts {
    /// DMARC discovery per Author Domain. A missing entry means "unknown" (offline, no
    /// `--policy` given), which is not the same as "no record published".
    pub policies: HashMap<String, PolicyDiscovery>,
    pub orgs: KnownOrgDomains,
    pub org_source: OrgSource,
}

/// What is known about the account's SES identities: which use a custom MAIL FROM domain.
#[derive(Debug, Clone, Default)]
pub struct IdentityHints {
    /// Identity domain → its configured MAIL FROM domain.
    pub mail_from: HashMap<String, String>,
}

impl IdentityHints {
    /// Adds `DOMAIN=MAIL_FROM_DOMAIN` (both normalized). `None` when it is not of that shape.
    pub fn add(&mut self, spec: &str) -> Option<()> {
        let (domain, mail_from) = spec.split_once('=')?;
        let domain = crate::read::domain::normalize(domain)?;
        let mail_from = crate::read::domain::normalize(mail_from)?;
        self.mail_from.insert(domain, mail_from);
        Some(())
    }

    /// The identity covering `domain` (itself or a parent, as address identities inherit
    /// from their domain) and its MAIL FROM domain.
    pub fn custom_mail_from<'a>(&'a self, domain: &'a str) -> Option<(&'a str, &'a str)> {
        let mut candidate = domain;
        loop {
            if let Some((identity, mail_from)) = self.mail_from.get_key_value(candidate) {
                return Some((identity.as_str(), mail_from.as_str()));
            }
            candidate = candidate.split_once('.')?.1;
        }
    }
}

/// The published policy as the analysis saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PolicyState {
    Published {
        at: String,
        disposition: Disposition,
        adkim: &'static str,
        aspf: &'static str,
    },
    NotPublished,
    /// Offline, with no `--policy` for this domain: relaxed alignment assumed.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentifierResult {
    pub domain: Option<String>,
    pub result: ResultKeyword,
    /// Whether a passing identifier aligns with the From domain; `None` when it did not pass.
    pub aligned: Option<bool>,
}

impl IdentifierResult {
    /// `pass example.com, aligned`; `not_aligned` is how a passing, unaligned one reads.
    pub fn describe(&self, not_aligned: &str) -> String {
        let domain = self.domain.as_deref().unwrap_or("(unknown domain)");
        match self.aligned {
            Some(true) => format!("{} {domain}, aligned", self.result),
            Some(false) => format!("{} {domain}, {not_aligned}", self.result),
            None => format!("{} {domain}", self.result),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DmarcOutcome {
    Pass,
    Fail,
    /// No trusted results to recompute from.
    Unknown,
}

/// The recomputed DMARC evaluation for one Author Domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub header_from: String,
    pub policy: PolicyState,
    pub spf: Option<IdentifierResult>,
    pub dkim: Vec<IdentifierResult>,
    pub dmarc: DmarcOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Analysis {
    pub evaluations: Vec<Evaluation>,
    pub findings: Vec<Finding>,
}

fn alignment_name(mode: Alignment) -> &'static str {
    match mode {
        Alignment::Relaxed => "r",
        Alignment::Strict => "s",
    }
}

/// SES sends with this MAIL FROM when no custom one is configured or it fell back.
pub fn is_amazonses(domain: &str) -> bool {
    domain == "amazonses.com" || domain.ends_with(".amazonses.com")
}

fn is_failure(result: &ResultKeyword) -> bool {
    matches!(
        result,
        ResultKeyword::Fail
            | ResultKeyword::SoftFail
            | ResultKeyword::HardFail
            | ResultKeyword::PermError
            | ResultKeyword::TempError
            | ResultKeyword::Timeout
            | ResultKeyword::Policy
    )
}

pub fn analyze(observation: &Observation, facts: &DomainFacts, hints: &IdentityHints) -> Analysis {
    let mut findings = Vec::new();
    let mut evaluations = Vec::new();
    let id = observation.message_id.as_deref();
    let source = observation.source;
    let primary = observation.header_from.first().map_or("", String::as_str);

    if observation.headers_truncated {
        findings.push(
            Finding::build(
                Kind::HeadersTruncated,
                primary,
                "SES truncated the headers (over 10 KB); results below may be partial".into(),
            )
            .about(id, source),
        );
    }
    if observation.forged_auth_results > 0 {
        findings.push(
            Finding::build(
                Kind::ForgedAuthResults,
                primary,
                format!(
                    "{} Authentication-Results header(s) below the trusted one claim its authserv-id: added before the message reached the trusted server, and ignored",
                    observation.forged_auth_results
                ),
            )
            .about(id, source),
        );
    }

    for disagreement in &observation.disagreements {
        findings.push(
            Finding::build(
                Kind::VerdictMismatch,
                primary,
                format!(
                    "{} verified again on the attached message: {}; the trusted server reported {}",
                    disagreement.method.as_str().to_ascii_uppercase(),
                    disagreement.verified,
                    disagreement.reported
                ),
            )
            .about(id, source),
        );
    }

    for author in &observation.header_from {
        let (evaluation, mut found) = evaluate(observation, author, facts, hints);
        // Evidence is text for alerts: built only when there is something to alert on.
        if !found.is_empty() {
            let evidence: std::sync::Arc<[String]> =
                evidence(observation, &evaluation, hints).into();
            findings.extend(
                found
                    .drain(..)
                    .map(|f| f.about(id, source).with_evidence(&evidence)),
            );
        }
        evaluations.push(evaluation);
    }
    Analysis {
        evaluations,
        findings,
    }
}

/// The facts behind an author's findings, one line each, for alerts.
fn evidence(
    observation: &Observation,
    evaluation: &Evaluation,
    hints: &IdentityHints,
) -> Vec<String> {
    let describe = |r: &IdentifierResult| r.describe("not aligned");
    let mut lines = Vec::new();
    lines.push(format!("From domain: {}", evaluation.header_from));
    if let Some(envelope) = &observation.mail_from {
        lines.push(format!(
            "envelope sender domain: {} (from {})",
            envelope.domain,
            envelope.origin.as_str()
        ));
    }
    lines.push(format!(
        "SPF: {}",
        evaluation.spf.as_ref().map_or("none".to_owned(), describe)
    ));
    let dkim: Vec<String> = evaluation.dkim.iter().map(describe).collect();
    lines.push(format!(
        "DKIM: {}",
        if dkim.is_empty() {
            "none".to_owned()
        } else {
            dkim.join("; ")
        }
    ));
    lines.push(match &evaluation.policy {
        PolicyState::Published {
            at,
            disposition,
            adkim,
            aspf,
        } => format!("DMARC record: p={disposition} at {at} (adkim={adkim}, aspf={aspf})"),
        PolicyState::NotPublished => "DMARC record: none published".to_owned(),
        PolicyState::Unknown => "DMARC record: not looked up".to_owned(),
    });
    if let Some(ses) = &observation.ses {
        let show = |v: Option<VerdictStatus>| v.map_or("-", VerdictStatus::as_str);
        lines.push(format!(
            "SES verdicts: spf {}, dkim {}, dmarc {}",
            show(ses.spf),
            show(ses.dkim),
            show(ses.dmarc)
        ));
    }
    if let Some((identity, mail_from)) = hints.custom_mail_from(&evaluation.header_from) {
        lines.push(format!(
            "identity {identity}: custom MAIL FROM domain {mail_from}"
        ));
    }
    lines
}

fn evaluate(
    observation: &Observation,
    author: &str,
    facts: &DomainFacts,
    hints: &IdentityHints,
) -> (Evaluation, Vec<crate::say::findings::FindingBuilder>) {
    let mut findings = Vec::new();
    let discovery = facts.policies.get(author);
    let (adkim, aspf) = discovery.map_or((Alignment::Relaxed, Alignment::Relaxed), |d| {
        (d.adkim(), d.aspf())
    });
    let policy = match discovery {
        None => PolicyState::Unknown,
        Some(d) => match &d.record {
            None => PolicyState::NotPublished,
            Some((at, _)) => PolicyState::Published {
                at: at.clone(),
                disposition: d.disposition.unwrap_or(Disposition::None),
                adkim: alignment_name(adkim),
                aspf: alignment_name(aspf),
            },
        },
    };

    let spf = observation
        .spf
        .as_ref()
        .map(|check| judge(check, author, aspf, facts));
    let dkim: Vec<IdentifierResult> = observation
        .dkim
        .iter()
        .map(|check| judge(check, author, adkim, facts))
        .collect();

    let dmarc = if !observation.trusted_results {
        DmarcOutcome::Unknown
    } else if spf.iter().chain(&dkim).any(|r| r.aligned == Some(true)) {
        DmarcOutcome::Pass
    } else {
        DmarcOutcome::Fail
    };

    // Raw check failures.
    if let (Some(check), Some(result)) = (&observation.spf, &spf)
        && is_failure(&check.result)
    {
        findings.push(Finding::build(
            Kind::SpfFail,
            author,
            format!(
                "SPF {} for {}",
                check.result,
                describe(result.domain.as_deref())
            ),
        ));
    }
    let failed: Vec<String> = observation
        .dkim
        .iter()
        .filter(|c| is_failure(&c.result))
        .map(|c| format!("{} for d={}", c.result, describe(c.domain.as_deref())))
        .collect();
    if !failed.is_empty() {
        findings.push(Finding::build(
            Kind::DkimFail,
            author,
            format!("DKIM {}", failed.join(", ")),
        ));
    }

    // Unaligned passes.
    if let Some(result) = &spf
        && result.aligned == Some(false)
    {
        findings.push(Finding::build(
            Kind::SpfUnaligned,
            author,
            format!(
                "SPF passed for {}, which does not align with From {author} (aspf={})",
                describe(result.domain.as_deref()),
                alignment_name(aspf)
            ),
        ));
    }
    let passing: Vec<&IdentifierResult> = dkim.iter().filter(|r| r.aligned.is_some()).collect();
    if !passing.is_empty() && passing.iter().all(|r| r.aligned == Some(false)) {
        let domains: Vec<String> = passing
            .iter()
            .map(|r| format!("d={}", describe(r.domain.as_deref())))
            .collect();
        findings.push(Finding::build(
            Kind::DkimUnaligned,
            author,
            format!(
                "DKIM passed only for {}, none aligned with From {author} (adkim={})",
                domains.join(", "),
                alignment_name(adkim)
            ),
        ));
    }

    // The MAIL FROM fallback: an identity with a custom MAIL FROM sent with amazonses.com.
    let custom = hints.custom_mail_from(author);
    if let (Some((identity, mail_from)), Some(sender)) = (custom, &observation.mail_from)
        && is_amazonses(&sender.domain)
    {
        findings.push(Finding::build(
            Kind::MailFromFallback,
            author,
            format!(
                "the envelope sender is {} (from {}), not the custom MAIL FROM domain {mail_from} of identity {identity}: SES fell back to its default, so SPF cannot align. Check the MX record of {mail_from} (10 feedback-smtp.<region>.amazonses.com) and its SPF TXT record",
                sender.domain,
                sender.origin.as_str()
            ),
        ));
    }

    // aspf=s can never be met by SES's MAIL FROM subdomain.
    if aspf == Alignment::Strict {
        let subdomain_sender = observation.mail_from.as_ref().is_some_and(|s| {
            s.domain != author
                && (s.domain.ends_with(&format!(".{author}")) || is_amazonses(&s.domain))
        });
        if custom.is_some() || subdomain_sender {
            findings.push(Finding::build(
                Kind::StrictSpfAlignment,
                author,
                format!(
                    "the DMARC record of {author} sets aspf=s; SES's MAIL FROM is a subdomain (or amazonses.com), so SPF can never align: use aspf=r and rely on DKIM for strict alignment (adkim=s)"
                ),
            ));
        }
    }

    // DMARC as a whole. Offline, SES's own word stands in for the unknown record: a GRAY
    // verdict, or `dmarc=none` beside an aligned pass, means no record is published.
    let ses_policy = observation.ses.and_then(|s| s.dmarc_policy);
    let reported_absent = policy == PolicyState::Unknown
        && (observation.ses.and_then(|s| s.dmarc) == Some(VerdictStatus::Gray)
            || (observation.reported_dmarc == Some(ResultKeyword::None)
                && dmarc == DmarcOutcome::Pass));
    let no_record = policy == PolicyState::NotPublished || reported_absent;
    match dmarc {
        DmarcOutcome::Unknown => {}
        outcome if no_record => {
            findings.push(Finding::build(
                Kind::NoDmarcPolicy,
                author,
                format!(
                    "{author} publishes no DMARC record{} (bulk-sender rules at Gmail and Yahoo require one){}",
                    if reported_absent { ", as SES reported it" } else { "" },
                    if outcome == DmarcOutcome::Fail {
                        "; no SPF or DKIM pass aligns with it either"
                    } else {
                        ""
                    }
                ),
            ));
        }
        DmarcOutcome::Fail => {
            let disposition = match &policy {
                PolicyState::Published { disposition, .. } => Some(*disposition),
                _ => ses_policy.and_then(|p| match p {
                    SesDmarcPolicy::Reject => Some(Disposition::Reject),
                    SesDmarcPolicy::Quarantine => Some(Disposition::Quarantine),
                    SesDmarcPolicy::None => Some(Disposition::None),
                    SesDmarcPolicy::Unknown => None,
                }),
            };
            let severity = match disposition {
                Some(Disposition::Reject | Disposition::Quarantine) => Severity::Critical,
                _ => Severity::Warning,
            };
            let policy_text = match (disposition, &policy) {
                (Some(d), PolicyState::Published { .. }) => format!("p={d}"),
                (Some(d), _) => format!("p={d} (as SES reported it)"),
                (None, _) => "policy unknown offline (give --policy or --dns)".to_owned(),
            };
            findings.push(
                Finding::build(
                    Kind::DmarcFail,
                    author,
                    format!(
                        "no SPF or DKIM pass aligns with From {author}; {policy_text}: receivers {}",
                        match disposition {
                            Some(Disposition::Reject) => "reject this mail",
                            Some(Disposition::Quarantine) => "send this mail to spam",
                            _ => "may treat this mail as unauthenticated",
                        }
                    ),
                )
                .severity(severity),
            );
        }
        DmarcOutcome::Pass => {}
    }

    // SES's verdict (or the trusted server's dmarc=) against the recomputation.
    if let Some(mismatch) = verdict_mismatch(observation, dmarc) {
        findings.push(Finding::build(Kind::VerdictMismatch, author, mismatch));
    }

    (
        Evaluation {
            header_from: author.to_owned(),
            policy,
            spf,
            dkim,
            dmarc,
        },
        findings,
    )
}

fn judge(check: &Check, author: &str, mode: Alignment, facts: &DomainFacts) -> IdentifierResult {
    let aligned = check.passed().then(|| {
        check
            .domain
            .as_deref()
            .is_some_and(|d| aligned(d, author, mode, &facts.orgs))
    });
    IdentifierResult {
        domain: check.domain.clone(),
        result: check.result.clone(),
        aligned,
    }
}

fn verdict_mismatch(observation: &Observation, ours: DmarcOutcome) -> Option<String> {
    let ours_pass = match ours {
        DmarcOutcome::Pass => true,
        DmarcOutcome::Fail => false,
        DmarcOutcome::Unknown => return None,
    };
    let (theirs, who) = match observation.ses.and_then(|s| s.dmarc) {
        Some(VerdictStatus::Pass) => (true, "SES's dmarcVerdict is PASS"),
        Some(VerdictStatus::Fail) => (false, "SES's dmarcVerdict is FAIL"),
        Some(_) => return None,
        None => match &observation.reported_dmarc {
            Some(ResultKeyword::Pass) => (true, "the trusted header says dmarc=pass"),
            Some(ResultKeyword::Fail) => (false, "the trusted header says dmarc=fail"),
            _ => return None,
        },
    };
    (theirs != ours_pass).then(|| {
        format!(
            "{who}, but the recomputed alignment {}",
            if ours_pass { "passes" } else { "fails" }
        )
    })
}

fn describe(domain: Option<&str>) -> &str {
    domain.unwrap_or("an unknown domain")
}
