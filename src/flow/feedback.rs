//! The feedback function's story: SES bounce, complaint, delivery and event-publishing
//! notifications (through SNS, SQS or EventBridge) analyzed record by record and their findings
//! published. Poison records are acknowledged; transient failures are retried, in an SQS batch
//! only their own messages.

use crate::flow::analysis::{Inbound, Ports, RecordError, Settings};
use crate::flow::receipt::{Failures, HandlerError, Invocation, process, records_error};
use crate::ports::directory::IdentityDirectory;
use crate::ports::facts::FactSource;
use crate::ports::probes::NoProbes;
use crate::ports::raw::NoRawMessages;
use crate::ports::scope::DomainScope;
use crate::ports::sink::FindingSink;
use aws_lambda_events::event::sqs::SqsBatchResponse;

/// What the feedback function answers: nothing for SNS and EventBridge events (a failure
/// fails the invocation), a partial batch response for SQS batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackAnswer {
    Acknowledged,
    /// The SQS messages to deliver again; the others are deleted from the queue.
    Batch(SqsBatchResponse),
}

/// The feedback function. Poison records (not JSON, unknown shape) are logged and counted,
/// then acknowledged: a retry cannot fix them. Transient failures (a throttled lookup, an
/// alert not published) fail the invocation so Lambda retries and the failure destination
/// keeps what still fails; in an SQS batch only their messages are returned to the queue
/// (`batchItemFailures`), so one bad record never replays the others.
pub async fn feedback<F, D, Sc, S>(
    event: &[u8],
    ports: Ports<'_, F, D>,
    scope: &Sc,
    sink: &S,
    settings: &Settings,
) -> Invocation<FeedbackAnswer>
where
    F: FactSource,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
{
    let inbound = Inbound {
        raw: &NoRawMessages,
        probes: &NoProbes,
        scope,
    };
    // No probe arrives as feedback: the time is never read.
    let (processed, processed_ok) = process(event, ports, inbound, sink, settings, 0).await;
    let result = match processed_ok {
        Err(HandlerError::Input(error)) => {
            tracing::error!(error = %error, "poison event acknowledged");
            Ok(FeedbackAnswer::Acknowledged)
        }
        Err(error) => Err(error),
        Ok(failures) if failures.sqs => Ok(FeedbackAnswer::Batch(batch_response(failures))),
        Ok(Failures {
            delivery: Some(error),
            ..
        }) => Err(error.into()),
        // Poison records are acknowledged; the transient ones are retried.
        Ok(failures) => {
            let transient = failures
                .records
                .into_iter()
                .map(|(_, e)| e)
                .filter(RecordError::is_transient);
            records_error(transient, processed.total).map_or(Ok(FeedbackAnswer::Acknowledged), Err)
        }
    };
    Invocation { processed, result }
}

/// The SQS messages to deliver again: those whose record failed transiently and those whose
/// findings could not be delivered. Poison records are acknowledged (logged and counted).
fn batch_response(failures: Failures) -> SqsBatchResponse {
    let mut ids: Vec<String> = failures
        .records
        .into_iter()
        .filter(|(_, error)| error.is_transient())
        .filter_map(|(id, _)| id)
        .chain(failures.undelivered.into_iter().flatten())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut response = SqsBatchResponse::default();
    for id in ids {
        response.add_failure(id);
    }
    response
}
