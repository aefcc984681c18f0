//! The receipt function's story: SES receipt-rule events (Lambda action, or SNS events
//! carrying `Received` notifications) analyzed record by record, canary probes' arrivals
//! recorded, findings published and probes offered as evidence that ends incidents. The
//! feedback function ([`crate::flow::feedback`]) shares [`process`].
//!
//! Generic over their ports so tests drive them with fakes; `src/bin/…` only wires them. Each
//! publishes every good record's findings before deciding the invocation's fate, so one bad
//! record never hides the others, and returns what it counted (for the metrics) even when the
//! invocation fails. Errors say whether a retry helps ([`Failure`]); the Lambda edge turns
//! [`HandlerError`] into the diagnostic the failure destination receives.

use crate::flow::Failure;
use crate::flow::analysis::{self, Inbound, Ports, RecordError, RecordOutcome, Settings};
use crate::judge::feedback::Happened;
use crate::judge::findings::{Finding, Kind};
use crate::judge::incident;
use crate::ports::directory::IdentityDirectory;
use crate::ports::directory::{self, ListError};
use crate::ports::facts::FactSource;
use crate::ports::probes::ProbeBook;
use crate::ports::raw::RawMessages;
use crate::ports::rollups::FeedbackDay;
use crate::ports::scope::DomainScope;
use crate::ports::sink::{FindingSink, SinkError};
use crate::read::input::InputError;
use crate::say::explain;
use crate::say::metrics::Metrics;
use crate::say::metrics::canary::CanaryCounts;
use aws_lambda_events::event::ses::SimpleEmailDisposition;
use std::collections::BTreeMap;

/// Why an invocation failed. Lambda retries it; the failure destination keeps the event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event as a whole is not one this function reads: poison.
    #[error("the event is not understood: {0}")]
    Input(#[source] InputError),
    /// Some records failed (after the others were published); `first` is the first cause.
    #[error("{failed} of {total} record(s) failed: {first}")]
    Records {
        failed: usize,
        total: usize,
        #[source]
        first: RecordError,
    },
    /// Findings could not be delivered (SNS throttled or down).
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The audit could not list the identities to audit.
    #[error(transparent)]
    Listing(#[from] ListError),
    /// Identities whose state could not be read were skipped this run.
    #[error("{failed} of {total} identit(ies) could not be read: {first}")]
    Identities {
        failed: usize,
        total: usize,
        #[source]
        first: directory::DirectoryError,
    },
}

impl Failure for HandlerError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Input(_) => false,
            Self::Records { first, .. } => first.is_transient(),
            Self::Listing(error) => !error.denied,
            Self::Sink(_) | Self::Identities { .. } => true,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Input(_) => "PoisonEvent",
            Self::Records { first, .. } if first.is_transient() => "TransientRecordFailure",
            Self::Records { .. } => "PoisonRecord",
            Self::Sink(_) => "AlertDeliveryFailed",
            Self::Listing(_) => "IdentityListingFailed",
            Self::Identities { .. } => "IdentityLookupFailed",
        }
    }
}

/// What one invocation did, record by record.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Processed {
    pub total: usize,
    /// Records that can never succeed (not JSON, unknown shape): logged, counted.
    pub malformed: Vec<String>,
    /// Records that may succeed on a retry (a throttled lookup).
    pub transient: Vec<String>,
    /// Values AWS sent that this version does not know, e.g. `bounceSubType Foo`.
    pub unknown_values: Vec<String>,
    /// The counts for CloudWatch, monitored domains only.
    pub metrics: Metrics,
    /// The canary probes received, and mail to the canary address that was not one.
    pub canary: CanaryCounts,
    /// Feedback about each monitored domain's mail, for the daily rollups.
    pub feedback: BTreeMap<String, FeedbackDay>,
}

/// One invocation's result, and what it processed either way.
#[derive(Debug)]
pub struct Invocation<T> {
    pub processed: Processed,
    pub result: Result<T, HandlerError>,
}

/// What went wrong in an invocation whose event was read: each failed record, and each record
/// whose findings could not be delivered, by its SQS message id (`None` outside SQS).
#[derive(Debug, Default)]
pub(crate) struct Failures {
    pub(crate) records: Vec<(Option<String>, RecordError)>,
    pub(crate) undelivered: Vec<Option<String>>,
    pub(crate) delivery: Option<SinkError>,
    /// Whether the event was an SQS batch (then failures are reported per message).
    pub(crate) sqs: bool,
}

/// Runs every record, records the arrival of canary probes, logs each outcome and publishes
/// the findings about monitored domains (and those about the account as a whole, such as a
/// paused account). `now` stands in for a probe's arrival time when the event gives none.
pub(crate) async fn process<F, D, R, P, Sc, S>(
    event: &[u8],
    ports: Ports<'_, F, D>,
    inbound: Inbound<'_, R, P, Sc>,
    sink: &S,
    settings: &Settings,
    now: u64,
) -> (Processed, Result<Failures, HandlerError>)
where
    F: FactSource,
    D: IdentityDirectory,
    R: RawMessages,
    P: ProbeBook,
    Sc: DomainScope,
    S: FindingSink,
{
    let scope = inbound.scope;
    scope.refresh().await;
    let mut outcomes = match analysis::run_records_with(event, ports, settings, inbound).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            let mut processed = Processed {
                total: 1,
                malformed: vec![error.to_string()],
                ..Processed::default()
            };
            processed.metrics.malformed_event();
            return (processed, Err(HandlerError::Input(error)));
        }
    };
    let in_scope =
        |f: &Finding| scope.covers(f.domain.as_deref()) || f.facts.concerns_the_account();
    let canary = record_arrivals(&mut outcomes, inbound.probes, now).await;
    let mut processed = Processed {
        total: outcomes.len(),
        metrics: Metrics::from_records(outcomes.iter().map(|(_, o)| o.counted()), |d| {
            scope.covers(d)
        }),
        canary,
        feedback: feedback_days(&outcomes, |d| scope.covers(Some(d))),
        ..Processed::default()
    };
    let mut failures = Failures {
        sqs: outcomes.iter().any(|(id, _)| id.is_some()),
        ..Failures::default()
    };
    for (record, (id, outcome)) in outcomes.into_iter().enumerate() {
        log_outcome(record, &outcome, &mut processed);
        let findings: Vec<Finding> = outcome
            .findings()
            .iter()
            .filter(|f| in_scope(f))
            .cloned()
            .collect();
        let ignored = outcome.findings().len() - findings.len();
        if ignored > 0 {
            tracing::info!(record, ignored, "findings about domains not monitored");
        }
        // Every record's findings are tried even after a failure; the first error is kept.
        let mut delivered = sink.publish(&findings).await;
        if delivered.is_ok() {
            delivered = clear_by_probe(&outcome, sink).await;
        }
        if let Err(error) = delivered {
            failures.undelivered.push(id.clone());
            failures.delivery.get_or_insert(error);
        }
        if let RecordOutcome::Failed(error) = outcome {
            failures.records.push((id, error));
        }
    }
    (processed, Ok(failures))
}

/// What the feedback notifications among `outcomes` say of each monitored domain's mail:
/// recipients delivered to, complained, and bounced as an authentication rejection.
fn feedback_days(
    outcomes: &[(Option<String>, RecordOutcome)],
    monitored: impl Fn(&str) -> bool,
) -> BTreeMap<String, FeedbackDay> {
    let mut days: BTreeMap<String, FeedbackDay> = BTreeMap::new();
    for (_, outcome) in outcomes {
        let RecordOutcome::Feedback { summary, findings } = outcome else {
            continue;
        };
        let Some(domain) = summary.from_domains.first().filter(|d| monitored(d)) else {
            continue;
        };
        let add = |total: &mut u64, n: usize| *total = total.saturating_add(n as u64);
        let day = days.entry(domain.clone()).or_default();
        match &summary.happened {
            Happened::Delivered(recipients) => add(&mut day.deliveries, recipients.count),
            Happened::Complained { recipients, .. } => add(&mut day.complaints, recipients.count),
            Happened::Bounced { recipients, .. }
                if findings.iter().any(|f| f.kind() == Kind::AuthBounce) =>
            {
                add(&mut day.auth_bounces, recipients.count.max(1));
            }
            _ => {}
        }
    }
    days.retain(|_, day| *day != FeedbackDay::default());
    days
}

/// Records each received probe's arrival and findings, and counts the canary's metrics. A
/// probe whose arrival cannot be recorded fails its record (transient) instead of being
/// published: the retry records it, where going on would report it missing later.
async fn record_arrivals<P: ProbeBook>(
    outcomes: &mut [(Option<String>, RecordOutcome)],
    probes: &P,
    now: u64,
) -> CanaryCounts {
    let mut counts = CanaryCounts::default();
    for (_, outcome) in outcomes.iter_mut() {
        let recorded = match &*outcome {
            RecordOutcome::NotAProbe { .. } => {
                counts.unrecognized += 1;
                continue;
            }
            RecordOutcome::Analyzed {
                probe: Some(arrival),
                analysis,
                ..
            } => {
                let probe = &arrival.probe;
                let kinds: Vec<_> = analysis.findings.iter().map(Finding::kind).collect();
                let at = arrival.received_at.unwrap_or(now);
                let result = probes
                    .arrived(&probe.identity, &probe.message_id, at, &kinds)
                    .await;
                if result.is_ok() {
                    let identity = counts.identity(&probe.identity);
                    identity.received += 1;
                    if kinds.is_empty() {
                        identity.healthy += 1;
                    }
                    identity.findings += kinds.len() as u64;
                    identity.latency = Some(at.saturating_sub(probe.sent));
                }
                result
            }
            _ => continue,
        };
        if let Err(error) = recorded {
            counts.state_errors += 1;
            *outcome = RecordOutcome::Failed(error.into());
        }
    }
    counts
}

/// A received probe is evidence about its identity: what it was checked for and did not show
/// is over (`judge::incident::cleared_by_probe`), and the incidents of it are resolved.
async fn clear_by_probe<S: FindingSink>(
    outcome: &RecordOutcome,
    sink: &S,
) -> Result<(), SinkError> {
    let RecordOutcome::Analyzed {
        probe: Some(arrival),
        analysis,
        ..
    } = outcome
    else {
        return Ok(());
    };
    let identity = &arrival.probe.identity;
    let by = explain::probe_evidence(&arrival.probe.message_id, identity);
    for kind in incident::cleared_by_probe(identity, &arrival.judged, &analysis.findings) {
        sink.cleared(&incident::IncidentKey::about(kind, identity), &by)
            .await?;
    }
    Ok(())
}

fn log_outcome(record: usize, outcome: &RecordOutcome, processed: &mut Processed) {
    match outcome {
        RecordOutcome::Analyzed {
            observation,
            analysis,
            probe,
            ..
        } => {
            tracing::info!(
                record,
                message_id = observation.message_id.as_deref(),
                probe = probe.as_ref().map(|p| p.probe.message_id.as_str()),
                latency_seconds = probe.as_ref().and_then(|p| p.latency()),
                source = observation.source.as_str(),
                from_domains = observation.header_from.len(),
                findings = analysis.findings.len(),
                notes = ?observation.notes,
                "analyzed"
            );
        }
        RecordOutcome::Feedback { summary, findings } => {
            tracing::info!(
                record,
                message_id = summary.message_id.as_deref(),
                event = %summary.event,
                domain = summary.domain(),
                description = %explain::happened(&summary.happened),
                findings = findings.len(),
                notes = ?summary.notes,
                "feedback"
            );
            for value in &summary.unknown_values {
                tracing::warn!(record, value = %value, "a value this version does not know");
            }
            processed
                .unknown_values
                .extend(summary.unknown_values.iter().cloned());
        }
        RecordOutcome::Service { event, findings } => {
            tracing::info!(record, event = ?event, findings = findings.len(), "SES service event");
        }
        RecordOutcome::Skipped { reason } => {
            tracing::info!(record, reason = %reason, "skipped");
        }
        RecordOutcome::NotAProbe {
            header_from,
            message_id,
        } => {
            tracing::warn!(record, from = ?header_from, message_id = message_id.as_deref(), "mail to the canary address that is not a recorded probe; left unjudged");
        }
        RecordOutcome::Failed(error) if error.is_transient() => {
            tracing::warn!(record, error = %error, "record failed; the invocation will be retried");
            processed.transient.push(error.to_string());
        }
        RecordOutcome::Failed(error) => {
            tracing::error!(record, error = %error, "record not understood");
            processed.malformed.push(error.to_string());
        }
    }
}

/// The error for failed records: the first one's cause, and how many failed of how many.
pub(crate) fn records_error(
    failures: impl IntoIterator<Item = RecordError>,
    total: usize,
) -> Option<HandlerError> {
    let failures: Vec<RecordError> = failures.into_iter().collect();
    let failed = failures.len();
    let first = failures.into_iter().next()?;
    Some(HandlerError::Records {
        failed,
        total,
        first,
    })
}

/// The receipt function, given the event as the runtime received it (JSON text), what
/// received mail is admitted against (the monitored domains, the canary's probes) and where
/// the receipt rule's S3 action stored the raw messages. Any record that fails fails the
/// invocation (after the others were published); otherwise the receipt rule continues:
/// monitoring never stops delivery. `now`: Unix seconds.
pub async fn receipt<F, D, R, P, Sc, S>(
    event: &[u8],
    ports: Ports<'_, F, D>,
    inbound: Inbound<'_, R, P, Sc>,
    sink: &S,
    settings: &Settings,
    now: u64,
) -> Invocation<SimpleEmailDisposition>
where
    F: FactSource,
    D: IdentityDirectory,
    R: RawMessages,
    P: ProbeBook,
    Sc: DomainScope,
    S: FindingSink,
{
    let (processed, processed_ok) = process(event, ports, inbound, sink, settings, now).await;
    let result = match processed_ok {
        Err(error) => Err(error),
        Ok(Failures {
            delivery: Some(error),
            ..
        }) => Err(error.into()),
        Ok(failures) => match records_error(
            failures.records.into_iter().map(|(_, e)| e),
            processed.total,
        ) {
            Some(error) => Err(error),
            None => {
                let mut disposition = SimpleEmailDisposition::default();
                disposition.disposition = "CONTINUE".to_owned();
                Ok(disposition)
            }
        },
    };
    Invocation { processed, result }
}
