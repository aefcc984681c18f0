//! Hostile and degenerate inputs through the whole path: each gives a clear error or a partial
//! analysis, never a panic. (Their speed is a benchmark matter, not asserted here.)

use base64::Engine as _;
use ses_dmarc_monitor::flow::analysis::{self, Ports, RecordOutcome, Settings};
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::read::input::InputError;

async fn run(bytes: &[u8]) -> Result<Vec<RecordOutcome>, InputError> {
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory: &NoDirectory,
    };
    analysis::run(bytes, ports, &Settings::default()).await
}

fn receipt(headers: &serde_json::Value, content: Option<&str>, encoding: &str) -> Vec<u8> {
    serde_json::json!({"notificationType": "Received",
        "mail": {"messageId": "hostile", "source": "a@bounce.example.com", "headers": headers,
                 "commonHeaders": {"from": ["a@example.com"]}},
        "receipt": {"action": {"type": "SNS", "encoding": encoding}},
        "content": content})
    .to_string()
    .into_bytes()
}

fn analyzed(outcomes: &[RecordOutcome]) -> &RecordOutcome {
    match outcomes {
        [one @ RecordOutcome::Analyzed { .. }] => one,
        other => panic!("expected one analyzed record, got {other:?}"),
    }
}

#[tokio::test]
async fn a_one_mebibyte_header_value() {
    let huge = format!(
        "amazonses.com; spf=pass smtp.mailfrom=bounce.example.com; dkim=pass header.d=example.com ({})",
        "x".repeat(1 << 20)
    );
    let bytes = receipt(
        &serde_json::json!([{"name": "Authentication-Results", "value": huge}, {"name": "From", "value": "a@example.com"}]),
        None,
        "UTF8",
    );
    let outcomes = run(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        analyzed(&outcomes).findings().is_empty(),
        "SPF and DKIM align: {outcomes:?}"
    );
}

#[tokio::test]
async fn a_hundred_thousand_headers() {
    let mut headers: Vec<serde_json::Value> = (0..100_000)
        .map(|i| serde_json::json!({"name": format!("X-Filler-{i}"), "value": "v"}))
        .collect();
    headers.push(serde_json::json!({"name": "Authentication-Results", "value": "amazonses.com; spf=pass smtp.mailfrom=us-east-1.amazonses.com;"}));
    headers.push(serde_json::json!({"name": "From", "value": "a@example.com"}));
    let outcomes = run(&receipt(&serde_json::Value::Array(headers), None, "UTF8"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = analyzed(&outcomes)
        .findings()
        .iter()
        .map(|f| f.kind().as_str())
        .collect();
    assert!(kinds.contains(&"spf_unaligned"), "{kinds:?}");
}

#[tokio::test]
async fn content_that_is_not_base64_or_not_utf8() {
    let headers = serde_json::json!([
        {"name": "Authentication-Results", "value": "amazonses.com; spf=pass smtp.mailfrom=bounce.example.com;"},
        {"name": "From", "value": "a@example.com"}]);
    // Base64 that does not decode: SES's header list is used, and a note says why.
    let outcomes = run(&receipt(&headers, Some("%%% not base64 %%%"), "BASE64"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match analyzed(&outcomes) {
        RecordOutcome::Analyzed { observation, .. } => {
            assert!(
                observation
                    .notes
                    .iter()
                    .any(|n| n.contains("not valid Base64")),
                "{:?}",
                observation.notes
            );
            assert_eq!(observation.header_from, ["example.com"]);
        }
        _ => unreachable!(),
    }
    // Base64 of bytes that are not UTF-8 (a Latin-1 header and binary body): still read.
    let mut raw = b"Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=bounce.example.com;\r\nFrom: \xe9t\xe9 <a@example.com>\r\nSubject: \xff\xfe\r\n\r\n".to_vec();
    raw.extend_from_slice(&[0xff, 0x00, 0xc3, 0x28]);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
    let outcomes = run(&receipt(&headers, Some(&encoded), "BASE64"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match analyzed(&outcomes) {
        RecordOutcome::Analyzed { observation, .. } => {
            assert_eq!(observation.header_from, ["example.com"]);
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_150_kilobyte_message() {
    let mut raw = String::from(
        "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=bounce.example.com; dkim=pass header.d=example.com;\r\nFrom: a@example.com\r\nSubject: big\r\n\r\n",
    );
    while raw.len() < 150 * 1024 {
        raw.push_str("The quick brown fox jumps over the lazy dog.\r\n");
    }
    let outcomes = run(raw.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(analyzed(&outcomes).findings().is_empty());
    let bytes = receipt(&serde_json::json!([]), Some(&raw), "UTF8");
    let outcomes = run(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(analyzed(&outcomes).findings().is_empty());
}

#[tokio::test]
async fn json_nested_ten_thousand_deep() {
    let deep = format!(
        "{}{}",
        "{\"a\":".repeat(10_000),
        "1".to_owned() + &"}".repeat(10_000)
    );
    assert!(matches!(
        run(deep.as_bytes()).await,
        Err(InputError::Json(_))
    ));
    let deep_record = format!(
        r#"{{"Records":[{}1{}]}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    // The envelope is shallow, so the batch is read and the one record fails on its own.
    assert_one_record_fails(&deep_record, "not an object").await;
    // A million levels inside a record: skipping it while reading the envelope must not
    // recurse, and reading it as a receipt stops at the first wrong type.
    let deeper = format!(
        r#"{{"Records":[{{"ses":{}1{}}}]}}"#,
        "[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    assert_one_record_fails(&deeper, "not an SES receipt").await;
}

/// The input is read, and its one record fails for good with an error that says `why`.
async fn assert_one_record_fails(input: &str, why: &str) {
    let outcomes = run(input.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&outcomes[..], [RecordOutcome::Failed(error)] if !error.is_transient() && error.to_string().contains(why)),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn numbers_where_strings_belong() {
    // An address, a verdict or a type that is not text cannot be judged: the record fails,
    // naming it.
    let cases = [
        (
            r#"{"Records":[{"ses":{"mail":{"source":5,"headers":[]},"receipt":{}}}]}"#,
            "invalid type: integer `5`, expected a string",
        ),
        (
            r#"{"Records":[{"ses":{"mail":{"headers":[{"name":1,"value":2}]},"receipt":{}}}]}"#,
            "invalid type: integer `1`",
        ),
        (
            r#"{"Records":[{"ses":{"mail":{},"receipt":{"spfVerdict":{"status":7}}}}]}"#,
            "invalid type: integer `7`",
        ),
        (
            r#"{"notificationType":"Bounce","mail":{"source":5},"bounce":{"bounceType":1}}"#,
            "mail: invalid type: integer `5`",
        ),
        (
            r#"{"eventType":"Complaint","mail":{},"complaint":{"complainedRecipients":[{"emailAddress":9}]}}"#,
            "complaint: invalid type: integer `9`",
        ),
        (
            r#"{"Type":"Notification","Message":12}"#,
            "SNS record without a Message string",
        ),
    ];
    for (case, expected) in cases {
        assert_one_record_fails(case, expected).await;
    }
    // An id or a status code written as a number is read as text: the record is not lost.
    for case in [
        r#"{"eventType":"Complaint","mail":{"messageId":4,"sourceArn":5},"complaint":{}}"#,
        r#"{"eventType":"Bounce","mail":{},"bounce":{"bouncedRecipients":[{"status":550,"diagnosticCode":1}]}}"#,
    ] {
        let outcomes = run(case.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(
                &outcomes[..],
                [RecordOutcome::Analyzed { .. } | RecordOutcome::Feedback { .. }]
            ),
            "{case}: {outcomes:?}"
        );
    }
}

/// Receivers' reports: each hostile shape ends in a clear error or a partial reading.
mod reports {
    use ses_dmarc_monitor::read::report::{ExtractError, Limits, Report, extract};
    use std::io::Write as _;

    fn zip_of(name: &str, bytes: &[u8]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        zip.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
        zip.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
    }

    #[test]
    fn zips_nested_past_the_limit() {
        let mut nested = b"<feedback/>".to_vec();
        for level in 0..8 {
            nested = zip_of(&format!("level{level}.zip"), &nested);
        }
        let extracted = extract(&nested, Limits::default());
        assert!(extracted.reports.is_empty());
        assert!(
            extracted
                .errors
                .iter()
                .any(|e| matches!(e, ExtractError::TooDeep(4))),
            "{:?}",
            extracted.errors
        );
    }

    #[test]
    fn a_zip_bomb_in_many_entries() {
        // Entries of reports within the limit, and one that expands beyond it: the limit
        // is per document, a bound on the work each takes, and the others are still read.
        let report = "<feedback><policy_published><domain>example.com</domain></policy_published>";
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for entry in 0..6 {
            zip.start_file(
                format!("{entry}.xml"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            zip.write_all(report.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            let padding = if entry == 5 { 100_000 } else { 10 };
            zip.write_all(
                "<!-- a comment of some length -->"
                    .repeat(padding)
                    .as_bytes(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            zip.write_all(b"</feedback>")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let zip = zip.finish().unwrap_or_else(|e| panic!("{e}")).into_inner();
        let limits = Limits {
            expanded: 1024 * 1024,
            ..Limits::default()
        };
        let extracted = extract(&zip, limits);
        assert_eq!(extracted.reports.len(), 5, "{:?}", extracted.errors);
        assert!(
            matches!(extracted.errors.as_slice(), [ExtractError::TooLarge { .. }]),
            "{:?}",
            extracted.errors
        );
    }

    #[test]
    fn a_report_of_empty_elements_ends_early() {
        // What an XML bomb expands to: elements a report does not have, by the hundred
        // thousand. The read stops at the bound on work, not at the end of the gigabyte.
        let xml = format!(
            "<feedback><policy_published><domain>example.com</domain></policy_published>{}</feedback>",
            "<x/>".repeat(200_000)
        );
        let extracted = extract(xml.as_bytes(), Limits::default());
        let errors: Vec<String> = extracted.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            ["more than 100000 elements a DMARC report does not have"]
        );
    }

    #[test]
    fn xml_nested_a_hundred_thousand_deep() {
        let depth = 100_000;
        let xml = format!(
            "<?xml version=\"1.0\"?><feedback>{}{}<policy_published><domain>example.com</domain></policy_published></feedback>",
            "<x>".repeat(depth),
            "</x>".repeat(depth)
        );
        let extracted = extract(xml.as_bytes(), Limits::default());
        assert!(extracted.reports.is_empty());
        let errors: Vec<String> = extracted.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors, ["elements nested deeper than 256"]);
    }

    #[test]
    fn a_billion_laughs_is_not_expanded() {
        let xml = "<?xml version=\"1.0\"?><!DOCTYPE feedback [<!ENTITY a \"aaaaaaaaaa\">\
            <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>\
            <feedback><report_metadata><org_name>&c;</org_name></report_metadata>\
            <policy_published><domain>example.com</domain></policy_published></feedback>";
        let extracted = extract(xml.as_bytes(), Limits::default());
        let [Report::Aggregate(report)] = extracted.reports.as_slice() else {
            panic!("{:?}", extracted.errors);
        };
        assert_eq!(report.org_name, None);
    }

    #[test]
    fn numbers_out_of_range_are_unknown_not_wrapped() {
        let xml = "<feedback><policy_published><domain>example.com</domain><pct>1000</pct></policy_published>\
            <record><row><source_ip>192.0.2.1</source_ip><count>99999999999999999999999</count>\
            <policy_evaluated><disposition>bounce</disposition><dkim>PASS</dkim><spf>maybe</spf></policy_evaluated></row></record></feedback>";
        let extracted = extract(xml.as_bytes(), Limits::default());
        let [Report::Aggregate(report)] = extracted.reports.as_slice() else {
            panic!("{:?}", extracted.errors);
        };
        assert_eq!(report.policy.pct, None);
        assert_eq!(report.rows[0].count, None);
        assert_eq!(
            report.unknown_values.len(),
            4,
            "{:?}",
            report.unknown_values
        );
    }
}
