//! The receipt Lambda's handler: an SES receipt-rule event (Lambda action) or an SNS event
//! carrying `Received` notifications, analyzed record by record, findings to the sink.
//!
//! Generic over its ports so tests drive it with fakes; `src/bin/receipt.rs` only wires it.

use crate::facts::FactSource;
use crate::pipeline::{self, RecordOutcome, Settings};
use crate::sink::{FindingSink, SinkError};
use aws_lambda_events::event::ses::SimpleEmailDisposition;

/// Why an invocation failed. Lambda retries it; the dead-letter destination keeps the event.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("the event is not understood: {0}")]
    Input(#[from] crate::input::InputError),
    #[error("{failed} of {total} record(s) not understood: {first}")]
    Records {
        failed: usize,
        total: usize,
        first: String,
    },
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Handles one invocation. Every well-formed record is analyzed and its findings published
/// before a malformed one is reported, so one bad record never hides the others.
pub async fn handle<F: FactSource, S: FindingSink>(
    event: serde_json::Value,
    facts: &F,
    sink: &S,
    settings: &Settings,
) -> Result<SimpleEmailDisposition, ReceiptError> {
    let outcomes = pipeline::run_value(event, facts, settings).await?;
    let total = outcomes.len();
    let mut failures = Vec::new();
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
                sink.publish(&analysis.findings).await?;
            }
            RecordOutcome::Skipped { reason } => {
                tracing::info!(record, reason = %reason, "skipped");
            }
            RecordOutcome::Failed { error } => {
                tracing::error!(record, error = %error, "record not understood");
                failures.push(error.clone());
            }
        }
    }
    if let Some(first) = failures.first() {
        return Err(ReceiptError::Records {
            failed: failures.len(),
            total,
            first: first.clone(),
        });
    }
    // Monitoring never stops delivery: a synchronous receipt rule always continues.
    let mut disposition = SimpleEmailDisposition::default();
    disposition.disposition = "CONTINUE".to_owned();
    Ok(disposition)
}
