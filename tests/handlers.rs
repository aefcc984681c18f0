//! The Lambda handlers driven directly, with offline facts, fake directories and an
//! in-memory sink.
#![cfg(feature = "aws")]

use aws_lambda_events::event::ses::SimpleEmailDisposition;
use lambda_runtime::Diagnostic;
use ses_dmarc_monitor::edge::lambda::handler::{self, HandlerError};
use ses_dmarc_monitor::pipeline::RecordError;
use ses_dmarc_monitor::pipeline::{Ports, Settings};
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::scope::Everything;
use ses_dmarc_monitor::ports::sink::MemorySink;
use ses_dmarc_monitor::say::findings::Kind;

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
        &Everything,
        &sink,
        &Settings::default(),
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
            let diagnostic = Diagnostic::from(HandlerError::Records {
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

/// A directory that is always throttled, as SESv2 is under load.
struct Throttled;

impl ses_dmarc_monitor::ports::directory::IdentityDirectory for Throttled {
    async fn lookup(
        &self,
        identity: &str,
    ) -> Result<
        Option<std::sync::Arc<ses_dmarc_monitor::read::identity_state::IdentityState>>,
        ses_dmarc_monitor::ports::directory::DirectoryError,
    > {
        Err(
            ses_dmarc_monitor::ports::directory::DirectoryError::Transient {
                identity: identity.to_owned(),
                source: "TooManyRequestsException".into(),
            },
        )
    }
}

async fn invoke_feedback<D: ses_dmarc_monitor::ports::directory::IdentityDirectory>(
    event: serde_json::Value,
    directory: &D,
) -> (Result<handler::Processed, HandlerError>, Vec<Kind>) {
    let sink = MemorySink::default();
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory,
    };
    let invocation = handler::feedback(
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
            let diagnostic = Diagnostic::from(HandlerError::Records {
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
}
