//! Bulk-sender readiness in words: each judgement's detail (what was found, and for a
//! failure what to do), the text table `check --bulk-sender` prints, and its JSON rows.

use crate::judge::align::mode_tag;
use crate::judge::bulk::{
    COMPLAINT_RATE_TARGET_BP, Evidence, Judgement, Requirement, Status, Why, above_target,
};
use crate::judge::posture::Observed;
use crate::say::explain::observed;
use serde::Serialize;
use std::fmt::Write as _;

/// A rate in basis points as a percentage with two decimals.
fn percent(part: u64, whole: u64) -> String {
    let basis_points = u128::from(part) * 10_000 / u128::from(whole.max(1));
    format!("{}.{:02}%", basis_points / 100, basis_points % 100)
}

/// What was found, and for a failure the fix.
pub fn detail(judgement: &Judgement) -> String {
    let (found, fix) = parts(judgement);
    match fix {
        Some(fix) if judgement.status == Status::Fail => format!("{found}. Fix: {fix}"),
        _ => found,
    }
}

/// The fix for a requirement judged as it was, when the facts call for one: what the user
/// does for a failure.
pub fn fix(judgement: &Judgement) -> Option<String> {
    parts(judgement).1
}

/// What was found, with the receivers' verdicts that bear on it, and the fix the facts call
/// for (said only of a failure).
pub(crate) fn parts(judgement: &Judgement) -> (String, Option<String>) {
    let (found, fix) = found_and_fix(judgement);
    if judgement.receivers.is_empty() {
        return (found, fix);
    }
    let verdicts: Vec<String> = judgement
        .receivers
        .iter()
        .map(|v| {
            format!(
                "{} on {} message(s){} ({})",
                v.receiver,
                v.messages,
                v.code
                    .as_deref()
                    .map_or_else(String::new, |c| format!(", {c}")),
                match v.evidence {
                    Evidence::Reports => "its aggregate reports",
                    _ => "bounces",
                }
            )
        })
        .collect();
    let lead = if judgement.status == Status::Pass {
        "yet receivers refused mail for it"
    } else {
        "receivers refused mail for it"
    };
    (format!("{found}; {lead}: {}", verdicts.join("; ")), fix)
}

/// What the judgement's own facts say, and their fix.
fn found_and_fix(judgement: &Judgement) -> (String, Option<String>) {
    let requirement = judgement.requirement;
    let fix = |text: &str| Some(text.to_owned());
    match &judgement.why {
        Why::LookupFailed { name, error } => (
            format!("the DNS lookup of {name} failed ({error}): not judged this time"),
            None,
        ),
        Why::NoCustomMailFrom => (
            "no custom MAIL FROM domain: SES sends with its own amazonses.com envelope, so SPF \
             passes for amazonses.com, not for this domain, and cannot align"
                .to_owned(),
            fix(
                "set up a custom MAIL FROM domain (a subdomain such as mail.<domain>) in SES, \
                 publish its MX 10 feedback-smtp.<region>.amazonses.com and its SPF record \
                 v=spf1 include:amazonses.com ~all",
            ),
        ),
        Why::MailFromStatus { mail_from, status } => (
            format!(
                "SES reports the custom MAIL FROM domain {mail_from} as {}: it sends with its own \
                 amazonses.com envelope meanwhile",
                status.as_str()
            ),
            fix(
                "correct the MX and SPF records of the MAIL FROM domain; SES checks them again \
                 within 72 hours",
            ),
        ),
        Why::MailFromStatusUnknown { mail_from } => (
            format!(
                "{mail_from}'s DNS is right; whether SES uses it only SES says (give \
                 --identity-state, or a message sent through SES as evidence)"
            ),
            None,
        ),
        Why::MailFromMx {
            mail_from,
            records,
            expected,
        } => {
            let found = if records.is_empty() {
                observed(&Observed::MxMissing {
                    mail_from: mail_from.clone(),
                })
            } else {
                observed(&Observed::Mx {
                    mail_from: mail_from.clone(),
                    records: records.clone(),
                    expected: Some(expected.clone()),
                })
            };
            (
                format!("{found}: SES falls back to its own envelope"),
                Some(format!(
                    "publish exactly one MX on {mail_from}: 10 {expected}"
                )),
            )
        }
        Why::MailFromReady { mail_from } => (
            format!("SES uses the custom MAIL FROM domain {mail_from}, and its MX is SES's"),
            None,
        ),
        Why::SpfRecord { mail_from, problem } => (
            observed(&Observed::Spf {
                mail_from: mail_from.clone(),
                problem: Some(problem.clone()),
            }),
            Some(format!(
                "publish one SPF record on {mail_from}: v=spf1 include:amazonses.com ~all"
            )),
        ),
        Why::SpfReady { mail_from } => (
            format!(
                "SPF passes for the envelope domain {mail_from}: its one SPF record includes amazonses.com"
            ),
            None,
        ),
        Why::DkimStateUnknown => (
            "SES's DKIM state is not known (give --identity-state, or a message as evidence)"
                .to_owned(),
            None,
        ),
        Why::DkimNotSigning => (
            "SES does not sign the domain's mail with its DKIM key: only d=amazonses.com, which \
             is not the domain's"
                .to_owned(),
            fix(
                "enable DKIM signing for the identity in SES (Easy DKIM: publish its three CNAMEs)",
            ),
        ),
        Why::DkimRecords(names) => (
            format!(
                "DKIM records missing or pointing elsewhere: {}",
                names.join(", ")
            ),
            fix("publish the CNAMEs SES gives for the identity"),
        ),
        Why::DkimReady => (
            "SES signs with the domain's key (d= the identity), and its DKIM records are in place"
                .to_owned(),
            None,
        ),
        Why::DmarcRecord {
            record_at,
            disposition,
        } => (
            format!(
                "DMARC record at {record_at}, policy p={}",
                disposition.as_str()
            ),
            None,
        ),
        Why::NoDmarcRecord => (
            "no DMARC record applies to the domain".to_owned(),
            fix("publish _dmarc.<domain> TXT \"v=DMARC1; p=none; rua=mailto:…\" at least"),
        ),
        Why::Aligned { dkim, spf } => (
            match (dkim, spf) {
                (true, true) => "DKIM and SPF both align with From",
                (true, false) => "DKIM aligns with From",
                _ => "SPF aligns with From",
            }
            .to_owned(),
            None,
        ),
        Why::NotAligned { adkim, aspf } => (
            format!(
                "neither DKIM (adkim={}) nor SPF (aspf={}) aligns with From",
                mode_tag(*adkim),
                mode_tag(*aspf)
            ),
            fix(
                "sign with the domain's DKIM key in SES, or use a custom MAIL FROM under the domain",
            ),
        ),
        Why::Sampled { identifier, passed } => (
            format!(
                "a message received from the domain {} {} for {identifier}",
                if *passed { "passed" } else { "failed" },
                requirement.as_str().to_uppercase().replace('_', " ")
            ),
            None,
        ),
        Why::SampledOnlyAmazonSes { configured } => (
            format!(
                "messages received from the domain passed {} only for amazonses.com, which is \
                 SES's, not the domain's{}",
                requirement.as_str().to_uppercase(),
                configured.as_ref().map_or_else(String::new, |m| format!(
                    ": SES fell back from the custom MAIL FROM domain {m}"
                )),
            ),
            Some(match (requirement, configured) {
                (Requirement::Dkim, _) => {
                    "enable DKIM signing with the domain's key in SES".to_owned()
                }
                (_, Some(m)) => format!(
                    "restore the MX of {m} (exactly 10 feedback-smtp.<region>.amazonses.com); SES uses it again once it verifies it"
                ),
                (_, None) => "set up a custom MAIL FROM domain in SES".to_owned(),
            }),
        ),
        Why::ListMail {
            messages,
            one_click,
            mailto_only,
            unsigned,
        } => (
            format!(
                "{one_click} of {messages} list message(s) offer one-click unsubscribe (an https \
                 List-Unsubscribe and List-Unsubscribe-Post: List-Unsubscribe=One-Click, both \
                 DKIM-signed); {mailto_only} only mailto:, {unsigned} with the headers unsigned"
            ),
            fix(
                "add both headers to marketing mail and sign them (SES signs every header it is \
                 given; with SES's subscription management it adds them itself)",
            ),
        ),
        Why::NoListMail => (
            "no list mail (with List-Unsubscribe) among the messages given".to_owned(),
            None,
        ),
        Why::Complaints {
            complaints,
            deliveries,
        } => {
            let mut text = format!(
                "{complaints} complaint(s) over {deliveries} deliveries: {}",
                percent(*complaints, *deliveries)
            );
            if judgement.status == Status::Fail {
                text.push_str(" (Gmail and Yahoo hold senders under 0.3%)");
            } else if above_target(*complaints, *deliveries) {
                let _ = write!(
                    text,
                    " (above Gmail's target of {}.{:02}%)",
                    COMPLAINT_RATE_TARGET_BP / 100,
                    COMPLAINT_RATE_TARGET_BP % 100
                );
            }
            text.push_str(
                ". Gmail sends SES no complaint feedback: Gmail's own rate is only in Postmaster Tools",
            );
            (
                text,
                fix(
                    "send only to people who asked for the mail, and honour unsubscribes within two days",
                ),
            )
        }
        Why::TooFewDeliveries { deliveries } => (
            format!(
                "{deliveries} {} in the feedback given: fewer than 100 say nothing of a rate",
                if *deliveries == 1 {
                    "delivery"
                } else {
                    "deliveries"
                }
            ),
            None,
        ),
        Why::TlsPolicy {
            required,
            configuration_set,
        } => (
            match (required, configuration_set) {
                (true, Some(set)) => format!("the configuration set {set} requires TLS"),
                (_, None) => "the identity has no default configuration set: SES offers TLS to \
                     every receiver that takes it (SES's own policy, Optional)"
                    .to_owned(),
                (false, Some(set)) => format!(
                    "SES offers TLS to every receiver that takes it (the configuration set {set}'s \
                     policy is Optional; Require makes it a must)"
                ),
            },
            None,
        ),
        Why::TlsPolicyUnknown => (
            "the configuration set's TLS policy is not known".to_owned(),
            None,
        ),
        Why::ReverseDns { ip, name } => (
            format!("the sending address {ip} has reverse DNS {name}, which resolves back to it"),
            None,
        ),
        Why::SesSharedAddress => (
            "sent from SES's shared addresses, whose reverse DNS SES keeps".to_owned(),
            None,
        ),
        Why::ReverseDnsUnknown | Why::NoEvidence => {
            ("nothing given could judge it".to_owned(), None)
        }
        Why::ReceiversRejected => (
            "nothing else given judged it".to_owned(),
            Some(
                match requirement {
                    Requirement::Spf | Requirement::MailFrom => {
                        "send with a custom MAIL FROM domain under the domain, its MX \
                         10 feedback-smtp.<region>.amazonses.com and SPF record \
                         v=spf1 include:amazonses.com ~all in place"
                    }
                    Requirement::Dkim => {
                        "enable DKIM signing with the domain's key in SES and keep its records published"
                    }
                    Requirement::DmarcPolicy => {
                        "publish _dmarc.<domain> TXT \"v=DMARC1; p=none; rua=mailto:…\" at least"
                    }
                    _ => {
                        "sign with the domain's DKIM key in SES, or use a custom MAIL FROM under the domain, so that DMARC aligns"
                    }
                }
                .to_owned(),
            ),
        ),
    }
}

/// The providers that require `requirement`, by name.
pub fn provider_names(requirement: Requirement) -> Vec<&'static str> {
    requirement.providers().iter().map(|p| p.as_str()).collect()
}

/// One line of `check --bulk-sender --format json`.
#[derive(Debug, Serialize)]
pub struct JsonRow<'a> {
    pub domain: &'a str,
    pub requirement: &'static str,
    pub providers: Vec<&'static str>,
    pub status: &'static str,
    pub evidence: Option<&'static str>,
    pub detail: String,
}

pub fn json_row<'a>(domain: &'a str, judgement: &Judgement) -> JsonRow<'a> {
    JsonRow {
        domain,
        requirement: judgement.requirement.as_str(),
        providers: provider_names(judgement.requirement),
        status: judgement.status.as_str(),
        evidence: judgement.evidence.map(|e| e.as_str()),
        detail: detail(judgement),
    }
}

/// A domain's table: one line per requirement.
pub fn text(domain: &str, judgements: &[Judgement]) -> String {
    let mut out = format!("{domain}: bulk-sender readiness (Gmail, Yahoo, Microsoft)\n");
    for judgement in judgements {
        let providers = provider_names(judgement.requirement);
        let _ = writeln!(
            out,
            "  {:<7} {:<21} {:<9} {:<24} {}",
            judgement.status.as_str().to_uppercase(),
            judgement.requirement.as_str(),
            judgement.evidence.map_or("-", |e| e.as_str()),
            providers.join(","),
            detail(judgement)
        );
    }
    out
}
