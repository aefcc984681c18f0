//! The Lambda handlers: the receipt function (SES receipt-rule Lambda action, or SNS events
//! carrying `Received` notifications) and the feedback function (SNS events carrying SES
//! bounce, complaint, delivery and event-publishing notifications).
//!
//! Generic over their ports so tests drive them with fakes; `src/bin/…` only wires them. Both
//! publish every good record's findings before deciding the invocation's fate, so one bad
//! record never hides the others.

use crate::facts::FactSource;
use crate::identity::IdentityDirectory;
use crate::pipeline::{self, Ports, RecordOutcome, Settings};
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
}

/// Runs every record, logs each outcome and publishes the findings.
async fn process<F: FactSource, D: IdentityDirectory, S: FindingSink>(
    event: serde_json::Value,
    ports: Ports<'_, F, D>,
    sink: &S,
    settings: &Settings,
) -> Result<Processed, HandlerError> {
    let outcomes = pipeline::run_value(event, ports, settings).await?;
    let mut processed = Processed {
        total: outcomes.len(),
        ..Processed::default()
    };
    for (record, outcome) in outcomes.iter().enumerate() {
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
        sink.publish(outcome.findings()).await?;
    }
    Ok(processed)
}

/// The receipt function. Any record that fails fails the invocation (after the others were
/// published); otherwise the receipt rule continues: monitoring never stops delivery.
pub async fn receipt<F: FactSource, D: IdentityDirectory, S: FindingSink>(
    event: serde_json::Value,
    ports: Ports<'_, F, D>,
    sink: &S,
    settings: &Settings,
) -> Result<SimpleEmailDisposition, HandlerError> {
    let processed = process(event, ports, sink, settings).await?;
    let failures: Vec<&String> = processed
        .transient
        .iter()
        .chain(&processed.malformed)
        .collect();
    if let Some(first) = failures.first() {
        return Err(HandlerError::Records {
            failed: failures.len(),
            total: processed.total,
            first: (*first).clone(),
        });
    }
    let mut disposition = SimpleEmailDisposition::default();
    disposition.disposition = "CONTINUE".to_owned();
    Ok(disposition)
}

/// The feedback function. Poison records (not JSON, unknown shape) are logged and counted,
/// then acknowledged: a retry cannot fix them. Transient failures fail the invocation so
/// Lambda retries and the dead-letter queue keeps what still fails.
pub async fn feedback<F: FactSource, D: IdentityDirectory, S: FindingSink>(
    event: serde_json::Value,
    ports: Ports<'_, F, D>,
    sink: &S,
    settings: &Settings,
) -> Result<Processed, HandlerError> {
    let processed = match process(event, ports, sink, settings).await {
        Err(HandlerError::Input(error)) => {
            tracing::error!(error = %error, "poison event acknowledged");
            Processed {
                total: 1,
                malformed: vec![error.to_string()],
                ..Processed::default()
            }
        }
        other => other?,
    };
    if let Some(first) = processed.transient.first() {
        return Err(HandlerError::Records {
            failed: processed.transient.len(),
            total: processed.total,
            first: first.clone(),
        });
    }
    Ok(processed)
}
