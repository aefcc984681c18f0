//! The receipt Lambda handler driven directly, with the offline facts and an in-memory sink.

use aws_lambda_events::event::ses::SimpleEmailDisposition;
use ses_dmarc_monitor::facts::OfflineFacts;
use ses_dmarc_monitor::findings::Kind;
use ses_dmarc_monitor::pipeline::Settings;
use ses_dmarc_monitor::receipt::{ReceiptError, handle};
use ses_dmarc_monitor::sink::MemorySink;

fn event(name: &str) -> serde_json::Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One invocation with offline facts: the handler's answer and the kinds it published.
async fn invoke(
    event: serde_json::Value,
) -> (Result<SimpleEmailDisposition, ReceiptError>, Vec<Kind>) {
    let sink = MemorySink::default();
    let result = handle(event, &OfflineFacts::default(), &sink, &Settings::default()).await;
    let kinds = sink
        .0
        .lock()
        .map(|f| f.iter().map(|f| f.kind).collect())
        .unwrap_or_default();
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
        Err(ReceiptError::Records {
            failed,
            total,
            first,
        }) => {
            assert_eq!((failed, total), (2, 3));
            assert!(first.starts_with("record 1: not an SES receipt"), "{first}");
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
