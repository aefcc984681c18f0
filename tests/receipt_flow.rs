//! The Lambda handlers driven directly, with offline facts, fake directories and an
//! in-memory sink.

use crate::common::Throttled;
use aws_lambda_events::event::ses::SimpleEmailDisposition;
use ses_dmarc_monitor::flow::analysis::RecordError;
use ses_dmarc_monitor::flow::analysis::{Inbound, Ports, Settings};
use ses_dmarc_monitor::flow::feedback::{self, FeedbackAnswer};
use ses_dmarc_monitor::flow::receipt::{self as handler, HandlerError};
use ses_dmarc_monitor::judge::findings::{Finding, Kind};
use ses_dmarc_monitor::ports::directory::{DirectoryError, IdentityDirectory, NoDirectory};
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::raw::NoRawMessages;
use ses_dmarc_monitor::ports::scope::{DomainList, DomainScope, Everything};
use ses_dmarc_monitor::ports::sink::{FindingSink, MemorySink, SinkError};
use ses_dmarc_monitor::read::identity_state::IdentityState;
use ses_dmarc_monitor::say::metrics::Metric;
use ses_dmarc_monitor_lambda::diagnostic::diagnostic;
use std::sync::Arc;

fn event(name: &str) -> serde_json::Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One invocation with offline facts: the handler's answer and the kinds it published.
async fn invoke(
    event: serde_json::Value,
) -> (Result<SimpleEmailDisposition, HandlerError>, Vec<Kind>) {
    let sink = MemorySink::default();
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory: &NoDirectory,
    };
    let result = handler::receipt(
        event.to_string().as_bytes(),
        ports,
        Inbound {
            raw: &NoRawMessages,
            probes: &ses_dmarc_monitor::ports::probes::NoProbes,
            scope: &Everything,
        },
        &sink,
        &Settings::default(),
        0,
    )
    .await
    .result;
    let kinds = sink.kinds();
    (result, kinds)
}

#[tokio::test]
async fn lambda_action_event_continues_and_publishes_findings() {
    let (result, kinds) = invoke(event("receipt-fallback-dkim-broken.json")).await;
    let disposition = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(disposition.disposition, "CONTINUE");
    assert_eq!(
        kinds,
        [
            Kind::DkimFail,
            Kind::SpfUnaligned,
            Kind::DkimUnaligned,
            Kind::DmarcFail
        ]
    );
}

#[tokio::test]
async fn sns_event_with_base64_content_is_analyzed() {
    let (result, kinds) = invoke(event("sns-received-base64.json")).await;
    result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kinds,
        [Kind::SpfUnaligned, Kind::DkimUnaligned, Kind::DmarcFail]
    );
}

#[tokio::test]
async fn a_malformed_record_fails_the_invocation_after_the_good_ones() {
    let good = event("receipt-mail-from-fallback.json");
    let batch =
        serde_json::json!({"Records": [good["Records"][0], {"ses": {"mail": []}}, {"neither": 1}]});
    let (result, kinds) = invoke(batch).await;
    match result {
        Err(HandlerError::Records {
            failed,
            total,
            first,
        }) => {
            assert_eq!((failed, total), (2, 3));
            assert!(
                first
                    .to_string()
                    .starts_with("record 1: not an SES receipt"),
                "{first}"
            );
            // Malformed records are poison: retrying cannot help, and the diagnostic says so.
            assert!(matches!(first, RecordError::Poison(_)));
            let diagnostic = diagnostic(&HandlerError::Records {
                failed,
                total,
                first,
            });
            assert_eq!(diagnostic.error_type, "PoisonRecord");
            assert!(
                diagnostic
                    .error_message
                    .starts_with("2 of 3 record(s) failed: record 1: not an SES receipt"),
                "{}",
                diagnostic.error_message
            );
        }
        other => panic!("expected a record error, got {other:?}"),
    }
    // The good record's finding was published before the error.
    assert_eq!(kinds, [Kind::SpfUnaligned]);
}

#[tokio::test]
async fn an_unrecognized_event_is_a_clear_error() {
    let (result, _) = invoke(serde_json::json!({"detail-type": "Scheduled Event"})).await;
    let message = result.map(|_| ()).map_err(|e| e.to_string());
    assert_eq!(
        message,
        Err(
            "the event is not understood: unrecognized JSON shape (top-level keys: detail-type)"
                .to_owned()
        )
    );
}

async fn invoke_feedback<D: IdentityDirectory>(
    event: serde_json::Value,
    directory: &D,
) -> (Result<handler::Processed, HandlerError>, Vec<Kind>) {
    let sink = MemorySink::default();
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory,
    };
    let invocation = feedback::feedback(
        event.to_string().as_bytes(),
        ports,
        &Everything,
        &sink,
        &Settings::default(),
    )
    .await;
    let result = invocation.result.map(|_| invocation.processed);
    let kinds = sink.kinds();
    (result, kinds)
}

#[tokio::test]
async fn feedback_batch_publishes_and_acknowledges_poison_records() {
    let gmail = event("sns-bounce-gmail-authentication.json");
    let complaint = event("sns-complaint-auth-failure.json");
    let batch = serde_json::json!({"Records": [
        gmail["Records"][0],
        {"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": "{\"notificationType\":\"Bounce\",\"mail\":{}}"}},
        {"unexpected": true},
        complaint["Records"][0],
    ]});
    let (result, kinds) = invoke_feedback(batch, &NoDirectory).await;
    let processed = result.unwrap_or_else(|e| panic!("poison must be acknowledged: {e}"));
    assert_eq!(processed.total, 4);
    assert_eq!(processed.malformed.len(), 2, "{:?}", processed.malformed);
    assert!(processed.malformed[0].contains("without its bounce object"));
    assert_eq!(kinds, [Kind::AuthBounce, Kind::AuthComplaint]);

    // A whole event that is not understood is acknowledged too.
    let (result, kinds) = invoke_feedback(serde_json::json!("just a string"), &NoDirectory).await;
    assert_eq!(result.map(|p| p.malformed.len()).ok(), Some(1));
    assert!(kinds.is_empty());
}

#[tokio::test]
async fn feedback_with_a_throttled_directory_fails_for_a_retry() {
    let (result, _) = invoke_feedback(event("sns-complaint-auth-failure.json"), &Throttled).await;
    match result {
        Err(HandlerError::Records {
            failed,
            total,
            first,
        }) => {
            assert_eq!((failed, total), (1, 1));
            assert!(first.is_transient());
            let diagnostic = diagnostic(&HandlerError::Records {
                failed,
                total,
                first,
            });
            assert_eq!(diagnostic.error_type, "TransientRecordFailure");
            assert!(
                diagnostic.error_message.contains(
                    "identity lookup for example.com failed transiently: TooManyRequestsException"
                ),
                "{}",
                diagnostic.error_message
            );
        }
        other => panic!("expected a retryable failure, got {other:?}"),
    }
}

#[tokio::test]
async fn feedback_retries_a_transient_record_even_after_a_poison_one() {
    let complaint = event("sns-complaint-auth-failure.json");
    let batch = serde_json::json!({"Records": [
        {"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": "{\"eventType\":\"Bounce\",\"mail\":{}}"}},
        complaint["Records"][0],
    ]});
    let (result, _) = invoke_feedback(batch, &Throttled).await;
    match result {
        Err(HandlerError::Records { failed, first, .. }) => {
            assert_eq!(failed, 1, "only the transient record counts for the retry");
            assert!(first.is_transient(), "{first}");
        }
        other => panic!("expected a retryable failure, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_values_are_counted() {
    let mut bounce = event("feedback-bounce-user-unknown.json");
    bounce["bounce"]["bounceSubType"] = "BrandNewSubType".into();
    let (result, _) = invoke_feedback(bounce, &NoDirectory).await;
    let processed = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(processed.unknown_values, ["bounceSubType BrandNewSubType"]);
    // Counted as a metric of its own, which an alarm watches: a blind spot, not just a log.
    assert_eq!(processed.metrics.total.get(Metric::UnknownValues), 1);
}

/// A directory throttled for one identity only.
struct ThrottledFor(&'static str);

impl IdentityDirectory for ThrottledFor {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        if identity == self.0 {
            Throttled.lookup(identity).await
        } else {
            Ok(None)
        }
    }
}

/// A sink that cannot deliver, as when SNS is down.
struct Down;

impl FindingSink for Down {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        if findings.is_empty() {
            return Ok(());
        }
        Err(SinkError::Delivery {
            count: findings.len(),
            source: "InternalErrorException".into(),
        })
    }
}

/// One feedback invocation with offline facts, `scope` and `sink`.
async fn feedback_with<D: IdentityDirectory, Sc: DomainScope, S: FindingSink>(
    event: &serde_json::Value,
    directory: &D,
    scope: &Sc,
    sink: &S,
) -> handler::Invocation<FeedbackAnswer> {
    feedback_configured(event, directory, scope, sink, &Settings::default()).await
}

async fn feedback_configured<D: IdentityDirectory, Sc: DomainScope, S: FindingSink>(
    event: &serde_json::Value,
    directory: &D,
    scope: &Sc,
    sink: &S,
    settings: &Settings,
) -> handler::Invocation<FeedbackAnswer> {
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory,
    };
    feedback::feedback(event.to_string().as_bytes(), ports, scope, sink, settings).await
}

/// One SQS message as Lambda delivers it.
fn sqs_message(id: &str, body: &serde_json::Value) -> serde_json::Value {
    let body = match body {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    serde_json::json!({
        "messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:feedback", "awsRegion": "eu-west-1"
    })
}

fn failed_ids(answer: &FeedbackAnswer) -> Vec<&str> {
    match answer {
        FeedbackAnswer::Batch(response) => response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect(),
        FeedbackAnswer::Acknowledged => panic!("an SQS batch gets a batch response"),
    }
}

#[tokio::test]
async fn an_sqs_batch_returns_only_the_messages_a_retry_can_fix() {
    // An SNS envelope whose identity lookup is throttled, a poison notification, and an
    // EventBridge bounce (raw message delivery of an EventBridge-to-SQS target).
    let mut complaint = event("sns-complaint-auth-failure.json")["Records"][0]["Sns"].clone();
    let message = complaint["Message"]
        .as_str()
        .unwrap_or_default()
        .replace("identity/example.com", "identity/throttled.example");
    complaint["Message"] = message.into();
    let batch = serde_json::json!({"Records": [
        sqs_message("m-throttled", &complaint),
        sqs_message("m-poison", &serde_json::json!({"eventType": "Bounce", "mail": {}})),
        sqs_message("m-bounce", &event("eventbridge-email-bounced.json")),
    ]});
    let sink = MemorySink::default();
    let invocation = feedback_with(
        &batch,
        &ThrottledFor("throttled.example"),
        &Everything,
        &sink,
    )
    .await;
    let answer = invocation.result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failed_ids(&answer), ["m-throttled"]);
    assert_eq!(sink.kinds(), [Kind::AuthBounce]);
    assert_eq!(invocation.processed.malformed.len(), 1);
    assert_eq!(invocation.processed.transient.len(), 1);

    // Nothing fails: an empty list, so SQS deletes the whole batch.
    let invocation = feedback_with(&batch, &NoDirectory, &Everything, &sink).await;
    let answer = invocation.result.unwrap_or_else(|e| panic!("{e}"));
    assert!(failed_ids(&answer).is_empty());
}

#[tokio::test]
async fn an_sqs_batch_whose_alerts_cannot_be_sent_goes_back_to_the_queue() {
    let batch = event("sqs-feedback-batch.json");
    let invocation = feedback_with(&batch, &NoDirectory, &Everything, &Down).await;
    let answer = invocation.result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failed_ids(&answer), ["5f0c-0001", "5f0c-0002", "5f0c-0003"]);

    // Outside SQS the same failure fails the invocation, for Lambda to retry.
    let invocation = feedback_with(
        &event("eventbridge-email-bounced.json"),
        &NoDirectory,
        &Everything,
        &Down,
    )
    .await;
    assert!(matches!(invocation.result, Err(HandlerError::Sink(_))));
}

#[tokio::test]
async fn eventbridge_events_reach_the_feedback_function() {
    let sink = MemorySink::default();
    let bounce = event("eventbridge-email-bounced.json");
    let invocation = feedback_with(&bounce, &NoDirectory, &Everything, &sink).await;
    assert_eq!(invocation.result.ok(), Some(FeedbackAnswer::Acknowledged));
    assert_eq!(sink.kinds(), [Kind::AuthBounce]);

    // A paused account concerns every monitored domain, whichever are listed.
    let monitored = DomainList::new(["example.com".to_owned()]);
    let sink = MemorySink::default();
    let paused = event("eventbridge-sending-paused.json");
    let invocation = feedback_with(&paused, &NoDirectory, &monitored, &sink).await;
    assert_eq!(invocation.result.ok(), Some(FeedbackAnswer::Acknowledged));
    assert_eq!(sink.kinds(), [Kind::SendingPaused]);

    // Advice about a domain that is not monitored is not published; about one that is, it is.
    let advice = event("eventbridge-advisor-dmarc.json");
    let sink = MemorySink::default();
    let _ = feedback_with(&advice, &NoDirectory, &monitored, &sink).await;
    assert!(sink.kinds().is_empty());
    let monitored = DomainList::new(["example.org".to_owned()]);
    let _ = feedback_with(&advice, &NoDirectory, &monitored, &sink).await;
    assert_eq!(sink.kinds(), [Kind::AdvisorRecommendation]);

    // An EventBridge event of another service is acknowledged, not analyzed.
    let other = serde_json::json!({"version": "0", "id": "1", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": "111122223333", "time": "2026-11-05T10:00:00Z",
        "region": "eu-west-1", "resources": [], "detail": {"state": "running"}});
    let sink = MemorySink::default();
    let invocation = feedback_with(&other, &NoDirectory, &Everything, &sink).await;
    assert_eq!(invocation.result.ok(), Some(FeedbackAnswer::Acknowledged));
    assert!(sink.kinds().is_empty());
}

#[tokio::test]
async fn a_record_from_another_topic_is_refused() {
    let complaint = event("sns-complaint-auth-failure.json");
    let mut settings = Settings::default();
    settings.expected_topics = vec!["arn:aws:sns:us-east-1:111122223333:ours".into()];
    let sink = MemorySink::default();
    let invocation =
        feedback_configured(&complaint, &NoDirectory, &Everything, &sink, &settings).await;
    // Poison: acknowledged, counted, logged with the topic; nothing published.
    assert_eq!(invocation.result.ok(), Some(FeedbackAnswer::Acknowledged));
    assert!(sink.kinds().is_empty());
    assert_eq!(invocation.processed.malformed.len(), 1);
    assert!(
        invocation.processed.malformed[0]
            .contains("unexpected SNS topic arn:aws:sns:us-east-1:111122223333:ses-feedback"),
        "{:?}",
        invocation.processed.malformed
    );
    // The expected topic passes.
    settings.expected_topics = vec!["arn:aws:sns:us-east-1:111122223333:ses-feedback".into()];
    let invocation =
        feedback_configured(&complaint, &NoDirectory, &Everything, &sink, &settings).await;
    assert!(invocation.processed.malformed.is_empty());
    assert_eq!(sink.kinds(), [Kind::AuthComplaint]);
}

/// What the digest's rollups take from feedback: recipients delivered to and complained
/// about, and authentication bounces, per From domain.
#[tokio::test]
async fn feedback_counts_deliveries_complaints_and_authentication_bounces_per_domain() {
    let gmail = event("sns-bounce-gmail-authentication.json");
    let complaint = event("sns-complaint-auth-failure.json");
    let delivery = event("feedback-delivery.json");
    let delivery = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {
        "Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:111122223333:ses-feedback",
        "Message": delivery.to_string()}}]});
    let mut records = Vec::new();
    for e in [&gmail, &complaint, &delivery] {
        records.extend(e["Records"].as_array().cloned().unwrap_or_default());
    }
    let batch = serde_json::json!({ "Records": records });
    let (processed, _) = invoke_feedback(batch, &NoDirectory).await;
    let processed = processed.unwrap_or_else(|e| panic!("{e}"));
    let day = processed
        .feedback
        .get("example.com")
        .copied()
        .unwrap_or_else(|| panic!("{:?}", processed.feedback));
    // Seven Gmail authentication bounces of one recipient each; one complaint; one delivery.
    assert_eq!(day.auth_bounces, 7, "{day:?}");
    assert_eq!(day.complaints, 1, "{day:?}");
    assert_eq!(day.deliveries, 1, "{day:?}");
}
