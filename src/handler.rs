//! The Lambda handlers: the receipt function (SES receipt-rule Lambda action, or SNS events
//! carrying `Received` notifications) and the feedback function (SNS events carrying SES
//! bounce, complaint, delivery and event-publishing notifications).
//!
//! Generic over their ports so tests drive them with fakes; `src/bin/…` only wires them. Both
//! publish every good record's findings before deciding the invocation's fate, so one bad
//! record never hides the others, and both return what they counted (for the metrics) even
//! when the invocation fails.

use crate::facts::FactSource;
use crate::findings::Finding;
use crate::identity::IdentityDirectory;
use crate::metrics::Metrics;
use crate::pipeline::{self, Ports, RecordOutcome, Settings};
use crate::scope::DomainScope;
use crate::sink::{FindingSink, SinkError};
use aws_lambda_events::event::ses::SimpleEmailDisposition;

/// Why an invocation failed. Lambda retries it; the dead-letter destination keeps the event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("the event is not understood: {0}")]
    Input(#[from] crate::input::InputError),
    #[error("{failed} of {total} record(s) failed: {first}")]
    Records {
        failed: usize,
        total: usize,
        first: String,
    },
    #[error(transparent)]
    Sink(#[from] SinkError),
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
}

/// One invocation's result, and what it processed either way.
#[derive(Debug)]
pub struct Invocation<T> {
    pub processed: Processed,
    pub result: Result<T, HandlerError>,
}

/// Runs every record, logs each outcome and publishes the findings about monitored domains.
async fn process<F, D, Sc, S>(
    event: serde_json::Value,
    ports: Ports<'_, F, D>,
    scope: &Sc,
    sink: &S,
    settings: &Settings,
) -> (Processed, Result<(), HandlerError>)
where
    F: FactSource,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
{
    scope.refresh().await;
    let outcomes = match pipeline::run_value(event, ports, settings).await {
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
    let mut processed = Processed {
        total: outcomes.len(),
        metrics: Metrics::from_outcomes(&outcomes, |d| scope.contains(d)),
        ..Processed::default()
    };
    let mut sink_error = None;
    for (record, outcome) in outcomes.iter().enumerate() {
        log_outcome(record, outcome, &mut processed);
        let findings: Vec<Finding> = outcome
            .findings()
            .iter()
            .filter(|f| scope.contains(&f.domain))
            .cloned()
            .collect();
        let ignored = outcome.findings().len() - findings.len();
        if ignored > 0 {
            tracing::info!(record, ignored, "findings about domains not monitored");
        }
        // Every record's findings are tried even after a failure; the first error is kept.
        if let Err(error) = sink.publish(&findings).await {
            sink_error.get_or_insert(error);
        }
    }
    (processed, sink_error.map_or(Ok(()), |e| Err(e.into())))
}

fn log_outcome(record: usize, outcome: &RecordOutcome, processed: &mut Processed) {
    match outcome {
        RecordOutcome::Analyzed {
            observation,
            analysis,
            ..
        } => {
            tracing::info!(
                record,
                message_id = observation.message_id.as_deref().unwrap_or(""),
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
                message_id = summary.message_id.as_deref().unwrap_or(""),
                event = %summary.event,
                domain = summary.domain(),
                description = %summary.description,
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
        RecordOutcome::Skipped { reason } => {
            tracing::info!(record, reason = %reason, "skipped");
        }
        RecordOutcome::Failed {
            error,
            transient: true,
        } => {
            tracing::warn!(record, error = %error, "record failed; the invocation will be retried");
            processed.transient.push(error.clone());
        }
        RecordOutcome::Failed { error, .. } => {
            tracing::error!(record, error = %error, "record not understood");
            processed.malformed.push(error.clone());
        }
    }
}

fn records_error(failures: &[&String], total: usize) -> Option<HandlerError> {
    failures.first().map(|first| HandlerError::Records {
        failed: failures.len(),
        total,
        first: (*first).clone(),
    })
}

/// The receipt function. Any record that fails fails the invocation (after the others were
/// published); otherwise the receipt rule continues: monitoring never stops delivery.
pub async fn receipt<F, D, Sc, S>(
    event: serde_json::Value,
    ports: Ports<'_, F, D>,
    scope: &Sc,
    sink: &S,
    settings: &Settings,
) -> Invocation<SimpleEmailDisposition>
where
    F: FactSource,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
{
    let (processed, published) = process(event, ports, scope, sink, settings).await;
    let failures: Vec<&String> = processed
        .transient
        .iter()
        .chain(&processed.malformed)
        .collect();
    let result = match (published, records_error(&failures, processed.total)) {
        (Err(error), _) => Err(error),
        (Ok(()), Some(error)) => Err(error),
        (Ok(()), None) => {
            let mut disposition = SimpleEmailDisposition::default();
            disposition.disposition = "CONTINUE".to_owned();
            Ok(disposition)
        }
    };
    Invocation { processed, result }
}

/// The feedback function. Poison records (not JSON, unknown shape) are logged and counted,
/// then acknowledged: a retry cannot fix them. Transient failures (a throttled lookup, an
/// alert not published) fail the invocation so Lambda retries and the dead-letter queue keeps
/// what still fails.
pub async fn feedback<F, D, Sc, S>(
    event: serde_json::Value,
    ports: Ports<'_, F, D>,
    scope: &Sc,
    sink: &S,
    settings: &Settings,
) -> Invocation<()>
where
    F: FactSource,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
{
    let (processed, published) = process(event, ports, scope, sink, settings).await;
    let transient: Vec<&String> = processed.transient.iter().collect();
    let result = match (published, records_error(&transient, processed.total)) {
        (Err(HandlerError::Input(error)), _) => {
            tracing::error!(error = %error, "poison event acknowledged");
            Ok(())
        }
        (Err(error), _) => Err(error),
        (Ok(()), Some(error)) => Err(error),
        (Ok(()), None) => Ok(()),
    };
    Invocation { processed, result }
}
