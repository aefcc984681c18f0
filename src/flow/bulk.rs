//! Bulk-sender readiness of a domain (`check --bulk-sender`): what the evidence given says of
//! the domain's mail, gathered into the judge's signals ([`crate::judge::bulk`]). Feedback
//! notifications give the complaint rate, and their authentication rejections the
//! receivers' verdicts; messages received from the domain (the canary's, or any given) give
//! SPF, DKIM, the envelope and the unsubscribe headers, as the trusted server's
//! `Authentication-Results` say; receivers' aggregate reports give Google's "Sender
//! requirement failed" verdicts.
//!
//! In the audit ([`crate::flow::audit`]): each domain judged from its posture, the TLS
//! policy of its identity's default configuration set, and the complaint rate of the last
//! [`FEEDBACK_DAYS`] days of feedback rollups; the failed requirements as findings, the met
//! ones as evidence that ends their incidents.

use crate::flow::analysis::RecordOutcome;
use crate::flow::reports::Judged;
use crate::judge::align::{Alignment, PublicSuffixList, aligned};
use crate::judge::auth_rejection::{Diagnosis, diagnose};
use crate::judge::bulk::{
    self as judge, Evidence, Judgement, ListUnsubscribe, ReceiverVerdict, Sample, SendingAddress,
    Signals, Status, rejected_for,
};
use crate::judge::digest::{DAY, day_start, reporter_name};
use crate::judge::feedback::Happened;
use crate::judge::findings::{Facts, Finding, Kind};
use crate::judge::incident::IncidentKey;
use crate::judge::posture::{AuditOutcome, Target};
use crate::ports::directory::IdentityLister;
use crate::ports::dns::AuditDns;
use crate::ports::rollups::{FeedbackDay, Rollups};
use crate::ports::sink::{FindingSink, SinkError};
use crate::read::domain::is_within;
use crate::read::observation::{Observation, Source};
use crate::read::report::Report;
use crate::say::explain;
use std::collections::BTreeMap;
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
            .map(SendingAddress::unconfirmed),
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

/// Whether the audit judges each domain's bulk-sender readiness (`BULK_SENDER`), and the
/// rollups its complaint rate is read from.
#[derive(Debug, Clone, Copy)]
pub enum Readiness<'a, R> {
    Off,
    On { rollups: &'a R },
}

/// The days of feedback (ending today) a domain's complaint rate is taken over.
pub const FEEDBACK_DAYS: u64 = 7;

/// The feedback of the last [`FEEDBACK_DAYS`] days, by From domain; `None` when a day could
/// not be read (the complaint rate is then unknown, not judged on part of the days).
async fn recent_feedback<R: Rollups>(
    rollups: &R,
    now: u64,
) -> Option<BTreeMap<String, FeedbackDay>> {
    let today = day_start(now);
    let mut feedback: BTreeMap<String, FeedbackDay> = BTreeMap::new();
    for back in 0..FEEDBACK_DAYS {
        let day = today.saturating_sub(back * DAY);
        match rollups.day(day).await {
            Ok(rollups) => {
                for (domain, figures) in rollups.feedback {
                    feedback.entry(domain).or_default().absorb(&figures);
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "feedback rollups unreadable; complaint rates not judged this run");
                return None;
            }
        }
    }
    Some(feedback)
}

/// (deliveries, complaints) of mail from `domain` or under it; `None` without any.
fn feedback_of(feedback: &BTreeMap<String, FeedbackDay>, domain: &str) -> Option<(u64, u64)> {
    let mut total: Option<FeedbackDay> = None;
    for (_, day) in feedback.iter().filter(|(from, _)| is_within(from, domain)) {
        total.get_or_insert_default().absorb(day);
    }
    total.map(|total| (total.deliveries, total.complaints))
}

/// What the audit knows of every domain's readiness beyond its posture, read once per run.
pub(crate) struct Known {
    /// `None` when the rollups could not be read.
    feedback: Option<BTreeMap<String, FeedbackDay>>,
}

impl Known {
    pub(crate) async fn read<R: Rollups>(rollups: &R, now: u64) -> Self {
        Self {
            feedback: recent_feedback(rollups, now).await,
        }
    }
}

/// The TLS policy the identity's mail goes out under: its default configuration set's, or
/// SES's own (Optional) when it has none; `None` when not known.
async fn tls_of<L: IdentityLister>(
    lister: &L,
    configuration_set: Option<&str>,
) -> Option<judge::TlsPolicy> {
    let Some(set) = configuration_set else {
        return Some(judge::TlsPolicy::Optional);
    };
    match lister.tls_policy(set).await {
        Ok(policy) => policy,
        Err(error) => {
            tracing::warn!(configuration_set = set, error = %error, "configuration set unreadable; its TLS policy is not known this run");
            None
        }
    }
}

/// A domain's readiness judged: its failed requirements as findings, beside the posture's.
pub(crate) async fn judge_readiness<L: IdentityLister>(
    lister: &L,
    report: &AuditOutcome,
    target: &Target,
    known: &Known,
) -> Vec<Judgement> {
    let configuration_set = target
        .state
        .as_ref()
        .and_then(|s| s.configuration_set_name.as_deref());
    let tls = match &target.state {
        Some(_) => tls_of(lister, configuration_set).await,
        None => None,
    };
    let feedback = known
        .feedback
        .as_ref()
        .and_then(|f| feedback_of(f, &report.domain));
    judge::readiness(&Signals {
        domain: &report.domain,
        region: &target.region,
        posture: report,
        ses_state: target.state.is_some(),
        samples: &[],
        // Bounces are rolled up as counts only: the receivers' verdicts are the CLI's.
        verdicts: &[],
        feedback,
        tls,
        configuration_set,
    })
}

/// The findings of a domain's failed requirements.
pub(crate) fn readiness_findings(domain: &str, judged: &[Judgement]) -> Vec<Finding> {
    judged
        .iter()
        .filter(|j| j.status == Status::Fail)
        .map(|j| {
            Finding::new(
                Facts::BulkRequirementFailed(j.clone()),
                Some(domain),
                Source::Audit,
            )
        })
        .collect()
}

/// A requirement that passes is evidence: its incident, when open, is over.
pub(crate) async fn clear_by_readiness<S: FindingSink>(
    domain: &str,
    judged: &[Judgement],
    sink: &S,
) -> Result<(), SinkError> {
    for judgement in judged.iter().filter(|j| j.status == Status::Pass) {
        let key = IncidentKey {
            subject: Some(judgement.requirement.as_str().to_owned()),
            ..IncidentKey::about(Kind::BulkRequirementFailed, domain)
        };
        sink.cleared(&key, &explain::readiness_evidence(judgement))
            .await?;
    }
    Ok(())
}
