//! Bulk-sender readiness of a domain (`check --bulk-sender`): what the evidence given says of
//! the domain's mail, gathered into the judge's signals ([`crate::judge::bulk`]). Feedback
//! notifications give the complaint rate, and their authentication rejections the
//! receivers' verdicts; messages received from the domain (the canary's, or any given) give
//! SPF, DKIM, the envelope and the unsubscribe headers, as the trusted server's
//! `Authentication-Results` say; receivers' aggregate reports give Google's "Sender
//! requirement failed" verdicts.

use crate::flow::analysis::RecordOutcome;
use crate::flow::reports::Judged;
use crate::judge::align::{Alignment, PublicSuffixList, aligned};
use crate::judge::auth_rejection::{Diagnosis, diagnose};
use crate::judge::bulk::{
    Evidence, ListUnsubscribe, ReceiverVerdict, Sample, SendingAddress, rejected_for,
};
use crate::judge::digest::reporter_name;
use crate::judge::feedback::Happened;
use crate::judge::findings::Facts;
use crate::ports::dns::AuditDns;
use crate::read::domain::is_within;
use crate::read::observation::Observation;
use crate::read::report::Report;
use std::net::IpAddr;

/// What the evidence says of one domain's mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gathered {
    pub samples: Vec<Sample>,
    /// (deliveries, complaints), recipients counted; `None` when no feedback was about it.
    pub feedback: Option<(u64, u64)>,
    /// Receivers' verdicts on its mail: authentication rejections in bounces and delays.
    pub verdicts: Vec<ReceiverVerdict>,
}

/// Gathers what `outcomes` (the evidence, analyzed as `analyze` does) say of `domain`: of
/// mail from it or a subdomain.
pub fn gather<'a>(domain: &str, outcomes: impl IntoIterator<Item = &'a RecordOutcome>) -> Gathered {
    let mut gathered = Gathered::default();
    let mut feedback: Option<(u64, u64)> = None;
    for outcome in outcomes {
        match outcome {
            RecordOutcome::Feedback { summary, findings }
                if summary
                    .from_domains
                    .first()
                    .is_some_and(|f| is_within(f, domain)) =>
            {
                let (deliveries, complaints) = feedback.get_or_insert((0, 0));
                let add = |total: &mut u64, n: usize| *total = total.saturating_add(n as u64);
                match &summary.happened {
                    Happened::Delivered(recipients) => add(deliveries, recipients.count),
                    Happened::Complained { recipients, .. } => add(complaints, recipients.count),
                    Happened::Bounced { recipients, .. } | Happened::Delayed { recipients, .. } => {
                        for finding in findings {
                            if let Facts::AuthBounce { rejection, .. } = &finding.facts {
                                gathered.verdicts.push(ReceiverVerdict {
                                    requirement: rejected_for(rejection.failed),
                                    receiver: rejection.provider.to_owned(),
                                    code: rejection.code.clone(),
                                    messages: (recipients.count as u64).max(1),
                                    evidence: Evidence::Feedback,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
            RecordOutcome::Analyzed { observation, .. }
                if observation.trusted_results
                    && observation.header_from.iter().any(|f| is_within(f, domain)) =>
            {
                gathered.samples.push(sample(observation));
            }
            _ => {}
        }
    }
    gathered.feedback = feedback;
    gathered
}

/// What a believed aggregate report's receiver says failed of `domain`'s mail: each record
/// from the domain (or under it) whose reason is a "Sender requirement failed" comment
/// (Google's) naming an authentication rejection, by its messages.
pub fn report_verdicts(domain: &str, judged: &Judged) -> Vec<ReceiverVerdict> {
    let (Some(summary), Report::Aggregate(report)) = (&judged.summary, &judged.report) else {
        return Vec::new();
    };
    if !judged.belief.believed() {
        return Vec::new();
    }
    let receiver = reporter_name(report.org_name.as_deref());
    let mut verdicts = Vec::new();
    for source in &summary.sources {
        if !source
            .header_from
            .as_deref()
            .is_some_and(|from| is_within(from, domain))
        {
            continue;
        }
        for comment in source.reasons.iter().filter_map(|r| r.comment.as_deref()) {
            let Some(rest) =
                strip_prefix_ignoring_case(comment.trim(), "sender requirement failed")
            else {
                continue;
            };
            if let Diagnosis::Auth(rejection) = diagnose(None, Some(rest)) {
                verdicts.push(ReceiverVerdict {
                    requirement: rejected_for(rejection.failed),
                    receiver: receiver.clone(),
                    code: rejection.code,
                    messages: source.count,
                    evidence: Evidence::Reports,
                });
            }
        }
    }
    verdicts
}

fn strip_prefix_ignoring_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// One received message as the judge reads it: its trusted results, and its unsubscribe
/// headers, signed when a DKIM signature that passed, aligned with From, covers both.
fn sample(observation: &Observation) -> Sample {
    let passed_dkim: Vec<&str> = observation
        .dkim
        .iter()
        .filter(|c| c.passed())
        .filter_map(|c| c.domain.as_deref())
        .collect();
    let from = observation.header_from.first().map(String::as_str);
    let list = observation
        .list_unsubscribe
        .as_ref()
        .map(|l| ListUnsubscribe {
            https: l.https,
            one_click_post: l.one_click_post,
            signed: l.covered_by.iter().any(|d| {
                passed_dkim.iter().any(|p| p.eq_ignore_ascii_case(d))
                    && from.is_some_and(|f| aligned(d, f, Alignment::Relaxed, &PublicSuffixList))
            }),
        });
    Sample {
        spf: observation
            .spf
            .as_ref()
            .and_then(|c| Some((c.domain.clone()?, c.passed()))),
        dkim: observation
            .dkim
            .iter()
            .filter_map(|c| Some((c.domain.clone()?, c.passed())))
            .collect(),
        list,
        // The address the trusted server saw; its reverse DNS is looked up by `confirm_senders`.
        sender: observation
            .client_ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok())
            .map(|ip| SendingAddress {
                ip: ip.to_string(),
                verified_name: None,
                ses_shared: false,
            }),
    }
}

/// Looks up the reverse DNS of each sampled sending address (each address once), confirmed
/// forward: what `ptr` is judged from.
pub async fn confirm_senders<N: AuditDns>(samples: &mut [Sample], dns: &N) {
    let mut known: Vec<SendingAddress> = Vec::new();
    for sample in samples {
        let Some(sender) = &mut sample.sender else {
            continue;
        };
        if let Some(found) = known.iter().find(|k| k.ip == sender.ip) {
            *sender = found.clone();
            continue;
        }
        let Ok(ip) = sender.ip.parse::<IpAddr>() else {
            continue;
        };
        *sender = dns.sending_address(ip).await;
        known.push(sender.clone());
    }
}
