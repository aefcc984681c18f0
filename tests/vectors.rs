//! Conformance against third-party material in `../shared/vectors` (present in CI): the
//! `Authentication-Results` headers others extracted, and real SES payloads.

use crate::common;

use serde_json::Value;
use ses_dmarc_monitor::flow::analysis::{self, Ports, RecordOutcome, Settings};
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::read::authres::{self, PropertyType};
use std::path::{Path, PathBuf};

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Headers the reference parser (python `authres`) accepted: ours must give the same
/// authserv-id, methods, results, reasons and properties.
#[test]
fn agrees_with_the_reference_parser_where_it_succeeds() {
    let Some(dir) = common::vectors() else { return };
    let runs = load(&dir.join("authres/extracted/authres_oracle_run.json"));
    let mut compared = 0;
    for case in runs.as_array().into_iter().flatten() {
        let header = case["header"].as_str().unwrap_or_default();
        let source = case["source"].as_str().unwrap_or_default();
        let parsed = authres::parse(header).unwrap_or_else(|e| panic!("{source}: {e}"));
        if case["authres"] != "ok" {
            continue;
        }
        compared += 1;
        assert_eq!(
            parsed.authserv_id.as_deref(),
            case["authserv_id"].as_str(),
            "{source}"
        );
        let expected = case["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(parsed.results.len(), expected.len(), "{source}: {parsed:?}");
        for (ours, theirs) in parsed.results.iter().zip(&expected) {
            assert_eq!(
                Some(ours.method.as_str()),
                theirs["method"]
                    .as_str()
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                "{source}"
            );
            assert_eq!(
                Some(ours.result.as_str()),
                theirs["result"]
                    .as_str()
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                "{source}"
            );
            assert_eq!(
                ours.reason.as_deref(),
                theirs["reason"].as_str(),
                "{source}"
            );
            let props: Vec<(String, String, String)> = theirs["props"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let s = |i: usize| p[i].as_str().unwrap_or_default().to_owned();
                    (s(0).to_ascii_lowercase(), s(1).to_ascii_lowercase(), s(2))
                })
                .collect();
            // authres silently drops properties without a ptype (`three=four`); ours keeps them
            // with ptype `None`, so only typed ones are compared.
            let ours_props: Vec<(String, String, String)> = ours
                .properties
                .iter()
                .filter(|p| p.ptype.is_some())
                .map(|p| {
                    (
                        p.ptype
                            .as_ref()
                            .map(|t| t.as_str().to_owned())
                            .unwrap_or_default(),
                        p.property.clone(),
                        p.value.clone(),
                    )
                })
                .collect();
            // Python authres drops properties of some methods it models (a quoted header.d
            // beside header.i); every property it reports must be ours too, and only those
            // documented cases may differ.
            let authres_drops = ["lieser:404:"];
            if authres_drops.iter().any(|p| source.starts_with(p)) {
                assert!(props.iter().all(|p| ours_props.contains(p)), "{source}");
                assert!(ours_props.len() > props.len(), "{source}: fixed upstream?");
            } else {
                assert_eq!(ours_props, props, "{source}");
            }
        }
    }
    assert!(compared >= 40, "only {compared} headers compared");
}

/// Headers the reference parser rejects, each with what a reader of the header would expect.
/// None is rejected by ours; the lenient readings are pinned here.
#[test]
fn parses_what_strict_parsers_reject() {
    let Some(dir) = common::vectors() else { return };
    let runs = load(&dir.join("authres/extracted/authres_oracle_run.json"));
    // (source prefix, expected authserv-id, expected "method=result" list)
    let expectations: &[(&str, Option<&str>, &[&str])] = &[
        ("lieser:137:", Some("foo.example.net"), &["dkim=fail"]),
        ("lieser:154:", Some("example.org"), &[]),
        ("lieser:379:", Some("example.com"), &["dkim=pass"]),
        ("lieser:383:", Some("example.com"), &["dkim=pass"]),
        (
            "lieser:499:",
            Some("mx1.messagingengine.com"),
            &["bimi=pass"],
        ),
        ("lieser:553:", Some("日本語.jp"), &[]),
        ("lieser:569:", Some("с-балалайкой.рф"), &[]),
        ("lieser:615:", Some("example.net"), &["dkim=pass"]),
        ("lieser:638:", Some("example.com"), &["dkim=fail"]),
        ("lieser:649:", Some("example.net"), &[]),
        (
            "perl:03-add-children-from.t:12",
            Some("mx6.messagingengine.com"),
            &["dkim=pass", "spf=pass"],
        ),
        (
            "perl:03-add-children-from.t:15",
            Some("mx5.messagingengine.com"),
            &["dmarc=pass"],
        ),
        (
            "perl:04-outlook.t:21",
            Some("outlook.com"),
            &["spf=pass", "dkim=pass", "dmarc=pass"],
        ),
        (
            "perl:04-yahoo.t:12",
            Some("mta4011.mail.gq1.yahoo.com"),
            &["domainkeys=neutral", "dkim=pass"],
        ),
        ("ses:", Some("amazonses.com"), &[]),
    ];
    let mut rejected = 0;
    for case in runs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["authres"] != "ok")
    {
        rejected += 1;
        let source = case["source"].as_str().unwrap_or_default();
        let header = case["header"].as_str().unwrap_or_default();
        let parsed = authres::parse(header).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert!(
            !parsed.results.is_empty() || header.contains("none"),
            "{source}: no results"
        );
        if let Some((_, id, results)) = expectations.iter().find(|(p, ..)| source.starts_with(p)) {
            assert_eq!(parsed.authserv_id.as_deref(), *id, "{source}");
            if source.starts_with("ses:") {
                // SES: SPF with its bare client-ip/envelope-from/helo, then the others.
                let spf = &parsed.results[0];
                assert_eq!(spf.method.as_str(), "spf", "{source}");
                assert!(spf.property(None, "envelope-from").is_some(), "{source}");
                assert!(spf.property(None, "client-ip").is_some(), "{source}");
            } else {
                let got: Vec<String> = parsed
                    .results
                    .iter()
                    .map(|r| format!("{}={}", r.method, r.result))
                    .collect();
                assert_eq!(got, *results, "{source}");
            }
        }
    }
    assert!(rejected >= 40, "only {rejected} rejected headers seen");
}

#[test]
fn every_extracted_header_parses() {
    let Some(dir) = common::vectors() else { return };
    let spec = load(&dir.join("authres/extracted/lieser_arhParserSpec_headers.json"));
    for case in spec.as_array().into_iter().flatten() {
        let header = case["header"].as_str().unwrap_or_default();
        authres::parse(header).unwrap_or_else(|e| panic!("line {}: {e}", case["line"]));
    }
    let ses = load(&dir.join("authres/extracted/ses_fixture_auth_headers.json"));
    for case in ses.as_array().into_iter().flatten() {
        let name = case["name"].as_str().unwrap_or_default();
        if !name.ends_with("Authentication-Results") {
            continue;
        }
        let value = case["value"].as_str().unwrap_or_default();
        let value = value.strip_prefix("i=1; ").unwrap_or(value);
        let parsed = authres::parse(value).unwrap_or_else(|e| panic!("{}: {e}", case["source"]));
        let spf = parsed.results.iter().find(|r| r.method.as_str() == "spf");
        let spf = spf.unwrap_or_else(|| panic!("{}: no spf", case["source"]));
        let mailfrom = spf
            .property(None, "envelope-from")
            .or_else(|| spf.property(Some(&PropertyType::Smtp), "mailfrom"));
        assert!(
            mailfrom.is_some() || parsed.authserv_id.as_deref() == Some("mx.google.com"),
            "{}",
            case["source"]
        );
    }
}

/// Every real SES payload, receipt or feedback, is recognized and handled: no record fails.
/// `ses/awsdocs-json-raw` is left out on purpose: it holds the documentation's code blocks
/// verbatim (line numbers, placeholders, invalid escapes), and `ses/awsdocs-json` holds the
/// same payloads as valid JSON.
#[tokio::test]
async fn real_ses_payloads_are_understood() {
    let Some(dir) = common::vectors() else { return };
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in [
        "ses/awsdocs-json",
        "ses/aws-lambda-rust-runtime",
        "ses/aws-lambda-go",
        "ses/mozilla-fx-private-relay",
        "ses/cciw",
        "ses/swift-aws-lambda-events",
        "ses/aws-lambda-ses-forwarder",
    ] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        files.extend(
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e == "json" || e == "eml" || e == "email")
                }),
        );
    }
    files.sort();
    let (mut analyzed, mut feedback) = (0, 0);
    let mut unknown = Vec::new();
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory: &NoDirectory,
    };
    for path in &files {
        let bytes = std::fs::read(path).unwrap_or_default();
        let name = path.display().to_string();
        let outcomes = match analysis::run(&bytes, ports, &Settings::default()).await {
            Ok(outcomes) => outcomes,
            // EventBridge and plain SNS fixtures are not SES inputs; they must say so clearly.
            Err(error) => {
                assert!(
                    name.contains("eventbridge") || name.contains("sns-event"),
                    "{name}: {error}"
                );
                continue;
            }
        };
        for outcome in outcomes {
            match outcome {
                RecordOutcome::Analyzed { .. } => analyzed += 1,
                RecordOutcome::Feedback { summary, .. } => {
                    feedback += 1;
                    unknown.extend(summary.unknown_values.iter().cloned());
                }
                RecordOutcome::Service { .. }
                | RecordOutcome::Skipped { .. }
                | RecordOutcome::NotAProbe { .. } => {}
                RecordOutcome::Failed(error) => panic!("{name}: {error}"),
            }
        }
    }
    assert!(analyzed >= 20, "only {analyzed} SES messages analyzed");
    // 20 event-publishing and 5 notification examples from the SES guide, 4 relay and 2
    // cciw notifications.
    assert!(
        feedback >= 28,
        "only {feedback} feedback notifications handled"
    );
    // Mozilla's test payloads invent bounce subtypes; they are kept and reported, not fatal.
    assert!(
        unknown.contains(&"bounceSubType SRETeamEatenByDinosaurs".to_owned()),
        "{unknown:?}"
    );
}

/// What a record came to: its event and the kinds of its findings, to compare transports.
fn gist(outcome: &RecordOutcome) -> String {
    match outcome {
        RecordOutcome::Feedback { summary, findings } => format!(
            "{} {:?}",
            summary.event,
            findings.iter().map(|f| f.kind()).collect::<Vec<_>>()
        ),
        other => panic!("not feedback: {other:?}"),
    }
}

/// The SES developer guide's event-publishing examples (`ses/awsdocs-json`, from
/// awsdocs/amazon-ses-developer-guide), delivered the ways real deployments receive them:
/// as a Firehose export (one record per line, as the guide's "Contents of event data that
/// Amazon SES publishes to Firehose" says), as EventBridge events (`aws_lambda_events`'
/// envelope, with the detail-types of EventBridge's SES event reference), and as SQS
/// messages holding either the raw notification or its SNS envelope. Each transport gives
/// what the record gives on its own.
#[tokio::test]
async fn the_guides_event_examples_arrive_by_every_transport() {
    use aws_lambda_events::event::eventbridge::EventBridgeEvent;
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    let Some(dir) = common::vectors() else { return };
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory: &NoDirectory,
    };
    let run = |bytes: Vec<u8>| async move {
        analysis::run(&bytes, ports, &Settings::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(gist)
            .collect::<Vec<_>>()
    };
    let detail_type = |event_type: &str| match event_type {
        "Bounce" => "Email Bounced",
        "Complaint" => "Email Complaint Received",
        "Delivery" => "Email Delivered",
        "Send" => "Email Sent",
        "Reject" => "Email Rejected",
        "Open" => "Email Opened",
        "Click" => "Email Clicked",
        "Rendering Failure" => "Email Rendering Failed",
        "DeliveryDelay" => "Email Delivery Delayed",
        "Subscription" => "Email Subscribed",
        other => panic!("no detail-type for {other}"),
    };
    let mut records: Vec<Value> = Vec::new();
    for n in 1..=10 {
        let prefix = format!("event-publishing-retrieving-firehose-examples__{n:02}__");
        let path = std::fs::read_dir(dir.join("ses/awsdocs-json"))
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(&prefix))
            })
            .unwrap_or_else(|| panic!("{prefix} missing"));
        records.push(load(&path));
    }
    let mut alone = Vec::new();
    for record in &records {
        alone.extend(run(record.to_string().into_bytes()).await);
    }
    assert_eq!(alone.len(), 10);
    assert!(alone[0].starts_with("Bounce"), "{alone:?}");

    let export = records.iter().map(|r| format!("{r}\n")).collect::<String>();
    assert_eq!(run(export.into_bytes()).await, alone, "Firehose export");

    let mut bridged = Vec::new();
    for record in &records {
        let mut event = EventBridgeEvent::<Value>::default();
        event.version = Some("0".into());
        event.id = Some("6a7e8feb-b491-4cf7-a9f1-bf3703467718".into());
        event.detail_type = detail_type(record["eventType"].as_str().unwrap_or_default()).into();
        event.source = "aws.ses".into();
        event.account = Some("123456789012".into());
        event.region = Some("us-east-1".into());
        event.resources = Some(Vec::new());
        event.detail = record.clone();
        let bytes = serde_json::to_vec(&event).unwrap_or_else(|e| panic!("{e}"));
        bridged.extend(run(bytes).await);
    }
    assert_eq!(bridged, alone, "EventBridge");

    for envelope in [false, true] {
        let mut batch = SqsEvent::default();
        for (n, record) in records.iter().enumerate() {
            let body = if envelope {
                serde_json::json!({"Type": "Notification", "MessageId": format!("sns-{n}"),
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
                    "Message": record.to_string(), "Timestamp": "2017-08-05T00:41:02.669Z"})
                .to_string()
            } else {
                record.to_string()
            };
            let mut message = SqsMessage::default();
            message.message_id = Some(format!("sqs-{n}"));
            message.body = Some(body);
            message.event_source = Some("aws:sqs".into());
            batch.records.push(message);
        }
        let bytes = serde_json::to_vec(&batch).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(run(bytes).await, alone, "SQS, SNS envelope: {envelope}");
    }
}
