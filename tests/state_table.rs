//! The DynamoDB state table's ledger of reports (`lambda::aws::dynamodb`), through the SDK's
//! own mocking layer: moto runs the e2e's few addresses, and these the shapes only a large
//! report or a throttled table makes: batches of 100 reads and 25 writes, what DynamoDB
//! leaves unprocessed retried, and a held claim told apart from a done one.

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use ses_dmarc_monitor::ports::state::{Claim, ReportKey, ReportLedger};
use ses_dmarc_monitor_lambda::aws::dynamodb::DynamoLedger;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const TABLE: &str = "state";

fn addresses(n: u32) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]))
        .collect()
}

fn sk(item: &HashMap<String, AttributeValue>) -> String {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk.clone(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn sources_are_read_in_batches_of_a_hundred_and_the_unprocessed_read_again() {
    let wanted = addresses(250);
    // Every other address was seen before, at 1,000.
    let known: Vec<String> = wanted.iter().step_by(2).map(ToString::to_string).collect();
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let largest = std::sync::Arc::new(AtomicUsize::new(0));
    let seen_largest = largest.clone();
    let rule = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_compute_output(move |req| {
        let call = counter.fetch_add(1, Ordering::SeqCst);
        let keys = req
            .request_items()
            .and_then(|items| items.get(TABLE))
            .map(|k| k.keys().to_vec())
            .unwrap_or_default();
        seen_largest.fetch_max(keys.len(), Ordering::SeqCst);
        // The first call is throttled for half its keys.
        let (answered, left) = if call == 0 {
            keys.split_at(keys.len() / 2)
        } else {
            (&keys[..], &[][..])
        };
        let found: Vec<HashMap<String, AttributeValue>> = answered
            .iter()
            .filter(|key| known.contains(&sk(key)))
            .map(|key| {
                HashMap::from([
                    ("sk".to_owned(), AttributeValue::S(sk(key))),
                    ("last_seen".to_owned(), AttributeValue::N("1000".into())),
                ])
            })
            .collect();
        let mut output = BatchGetItemOutput::builder().responses(TABLE, found);
        if !left.is_empty() {
            output = output.unprocessed_keys(
                TABLE,
                KeysAndAttributes::builder()
                    .set_keys(Some(left.to_vec()))
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        }
        output.build()
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
    let ledger = DynamoLedger::new(client, TABLE.to_owned());
    let found = ledger
        .known_sources("example.com", &wanted)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_default();
    assert_eq!(
        found.len(),
        125,
        "every known address, the throttled ones too"
    );
    assert!(found.values().all(|seen| *seen == 1000));
    assert_eq!(
        largest.load(Ordering::SeqCst),
        100,
        "at most 100 keys a call"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "three batches and one retry"
    );
}

#[tokio::test]
async fn sources_are_written_in_batches_of_twenty_five_and_the_unprocessed_written_again() {
    let written = std::sync::Arc::new(Mutex::new(Vec::new()));
    let store = written.clone();
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_compute_output(move |req| {
        let call = counter.fetch_add(1, Ordering::SeqCst);
        let requests = req
            .request_items()
            .and_then(|items| items.get(TABLE))
            .cloned()
            .unwrap_or_default();
        assert!(
            requests.len() <= 25,
            "{} writes in one call",
            requests.len()
        );
        if call == 0 {
            // Throttled: nothing written, everything left.
            return BatchWriteItemOutput::builder()
                .unprocessed_items(TABLE, requests)
                .build();
        }
        if let Ok(mut store) = store.lock() {
            store.extend(
                requests
                    .iter()
                    .filter_map(|r| r.put_request())
                    .map(|put| sk(put.item())),
            );
        }
        BatchWriteItemOutput::builder().build()
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
    let ledger = DynamoLedger::new(client, TABLE.to_owned());
    let sources = addresses(60);
    let result = ledger
        .remember_sources("example.com", &sources, 5_000)
        .await;
    assert!(result.is_ok(), "{result:?}");
    let mut stored = written.lock().map(|w| w.clone()).unwrap_or_default();
    stored.sort();
    let mut expected: Vec<String> = sources.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(stored, expected, "each address written once");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "three batches and one retry"
    );
}

#[tokio::test]
async fn a_claim_held_is_in_flight_and_a_done_one_was_seen() {
    let key = ReportKey {
        reporter: "receiver.example".into(),
        report_id: "r-1".into(),
        domain: "example.com".into(),
    };
    // (case, the stored claim's `done`, what the claim meets)
    let cases = [
        (
            "held by an invocation that may still run",
            false,
            Claim::InFlight,
        ),
        ("counted before", true, Claim::Seen),
    ];
    for (case, done, expected) in cases {
        let put = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
            // As DynamoDB answers: the error's code is in its metadata.
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .meta(
                        aws_sdk_dynamodb::error::ErrorMetadata::builder()
                            .code("ConditionalCheckFailedException")
                            .build(),
                    )
                    .build(),
            )
        });
        let get = mock!(aws_sdk_dynamodb::Client::get_item)
            .match_requests(|r| r.consistent_read() == Some(true))
            .then_output(move || {
                GetItemOutput::builder()
                    .item("done", AttributeValue::Bool(done))
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put, &get]);
        let ledger = DynamoLedger::new(client, TABLE.to_owned());
        let claim = ledger.claim(&key, 1_000, 1_150).await.ok();
        assert_eq!(claim, Some(expected), "{case}");
    }
}
