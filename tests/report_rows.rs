//! The report rows (`reports --format rows`, the objects under `rows/`, the Glue table): one
//! per record of every believed aggregate report, adding up to the figures the report's
//! summary gives (`reports --format json`), with the same verdicts. Over every bundled
//! fixture, and the real-world reports in `../shared/vectors` when present. Then the Firehose
//! destination through the SDK's mocks (the S3 one runs under moto in `scripts/e2e.sh`).

use crate::common;
use aws_sdk_firehose::operation::put_record_batch::PutRecordBatchOutput;
use aws_sdk_firehose::types::PutRecordBatchResponseEntry;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use ses_dmarc_monitor::flow::reports::{ReportSettings, run_each_with_rows};
use ses_dmarc_monitor::judge::report::AggregateSummary;
use ses_dmarc_monitor::ports::rows::{RowBatch, RowStore as _};
use ses_dmarc_monitor::read::identity_state::MailFromExpectations;
use ses_dmarc_monitor::read::report::Report;
use ses_dmarc_monitor::say::calendar::utc_date;
use ses_dmarc_monitor_lambda::aws::rows::FirehoseRows;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn settings() -> ReportSettings {
    let mut expected = MailFromExpectations::default();
    expected
        .add("example.com=mail.example.com")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut settings = ReportSettings::default();
    settings.analysis.expected = Arc::new(expected);
    settings
}

/// What one report's rows add up to, by the summary's own measures.
#[derive(Debug, Default, PartialEq, Eq)]
struct Sums {
    rows: u64,
    messages: u64,
    by_dmarc: BTreeMap<String, u64>,
    by_class: BTreeMap<String, u64>,
    dkim_aligned: u64,
    spf_aligned: u64,
}

fn sums_of_summary(summary: &AggregateSummary) -> Sums {
    let mut by_class = BTreeMap::new();
    let (mut dkim_aligned, mut spf_aligned) = (0, 0);
    for (sender, tally) in &summary.by_sender {
        *by_class
            .entry(sender.class.as_str().to_owned())
            .or_default() += tally.messages;
        dkim_aligned += tally.dkim_aligned;
        spf_aligned += tally.spf_aligned;
    }
    Sums {
        rows: summary.rows(),
        messages: summary.messages,
        by_dmarc: [
            ("fail", summary.dmarc_fail),
            ("pass", summary.dmarc_pass),
            ("unknown", summary.dmarc_unknown),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.to_owned(), n))
        .collect(),
        by_class: by_class.into_iter().filter(|(_, n)| *n > 0).collect(),
        dkim_aligned,
        spf_aligned,
    }
}

fn sums_of_rows(rows: &[serde_json::Value]) -> Sums {
    let mut sums = Sums::default();
    for row in rows {
        let count = row["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("count: {row}"));
        sums.rows += 1;
        sums.messages += count;
        if count > 0 {
            let word = |field: &str| {
                row[field]
                    .as_str()
                    .unwrap_or_else(|| panic!("{field}: {row}"))
                    .to_owned()
            };
            *sums.by_dmarc.entry(word("dmarc")).or_default() += count;
            *sums.by_class.entry(word("source_class")).or_default() += count;
        }
        if row["dkim_aligned"] == true {
            sums.dkim_aligned += count;
        }
        if row["spf_aligned"] == true {
            sums.spf_aligned += count;
        }
    }
    sums
}

/// Checks every aggregate report in `files`; returns how many believed reports gave rows.
fn check_rows_add_up(files: &[PathBuf]) -> usize {
    let settings = settings();
    let mut with_rows = 0;
    for path in files {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        run_each_with_rows(&bytes, &settings, true, |judged, rows| {
            let (Report::Aggregate(report), Some(summary)) = (&judged.report, &judged.summary)
            else {
                return;
            };
            let mut text = Vec::new();
            if let Some(rows) = rows {
                rows.write_ndjson(&mut text)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            let rows: Vec<serde_json::Value> = text
                .split(|b| *b == b'\n')
                .filter(|line| !line.is_empty())
                .map(|line| serde_json::from_slice(line).unwrap_or_else(|e| panic!("{e}")))
                .collect();
            let name = path.display();
            if !judged.belief.believed() {
                assert!(rows.is_empty(), "{name}: a report not believed gave rows");
                return;
            }
            // The summary lists rows up to a bound; the rows are every record.
            assert_eq!(
                sums_of_rows(&rows),
                sums_of_summary(summary),
                "{name}: the rows add up to the summary"
            );
            let day = report.end.or(report.begin).map(utc_date);
            for row in &rows {
                assert_eq!(
                    row["dt"].as_str(),
                    day.as_deref(),
                    "{name}: dt is the end's day"
                );
                let domain = row["policy_domain"].as_str().unwrap_or_default();
                assert_eq!(domain, domain.to_lowercase(), "{name}: lower case");
                if row["source_class"] == "known" {
                    assert!(
                        row["source_name"].is_string(),
                        "{name}: a known source is named"
                    );
                }
            }
            with_rows += usize::from(!rows.is_empty());
        });
    }
    with_rows
}

#[test]
fn every_bundled_report_gives_rows_that_add_up_to_its_summary() {
    let mut files = common::files_below(Path::new("fixtures/reports"));
    files.extend(common::files_below(Path::new("fixtures/week")));
    // The week's: Google's 7 + 7 and the week before's, Yahoo's 2 for example.com (its one
    // for shop.example.net has no records), Outlook's zip (the e-mail's is not believed);
    // and the two in fixtures/reports.
    assert_eq!(check_rows_add_up(&files), 20);
}

#[test]
fn real_world_reports_give_rows_that_add_up_to_their_summaries() {
    let Some(vectors) = common::vectors() else {
        return;
    };
    let files = common::files_below(&vectors.join("dmarc-reports"));
    assert!(
        check_rows_add_up(&files) > 20,
        "the vectors' reports give rows"
    );
}

#[test]
fn a_report_ending_at_midnight_belongs_to_the_new_day() {
    let xml = std::fs::read_to_string("fixtures/reports/google-sender-requirement.xml")
        .unwrap_or_else(|e| panic!("{e}"))
        // 2026-12-01 00:00:00 UTC.
        .replace("<end>1796083199</end>", "<end>1796083200</end>");
    let mut days = Vec::new();
    run_each_with_rows(xml.as_bytes(), &settings(), true, |_, rows| {
        let mut text = Vec::new();
        if let Some(rows) = rows {
            rows.write_ndjson(&mut text)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for line in String::from_utf8_lossy(&text).lines() {
            let row: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
            days.push(row["dt"].as_str().unwrap_or_default().to_owned());
        }
    });
    assert_eq!(days, ["2026-12-01"; 3]);
}

/// A batch of `n` rows, each `{"n":i,"pad":"…"}` with `pad` bytes of padding.
fn batch(n: usize, pad: usize) -> RowBatch {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..n {
        writeln!(gzip, "{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(pad))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    RowBatch {
        day: "2026-11-30".into(),
        name: "r".into(),
        rows: n as u64,
        ndjson_gzip: gzip.finish().unwrap_or_else(|e| panic!("{e}")),
    }
}

fn answers(failed: &[bool]) -> PutRecordBatchOutput {
    PutRecordBatchOutput::builder()
        .failed_put_count(failed.iter().filter(|f| **f).count() as i32)
        .set_request_responses(Some(
            failed
                .iter()
                .map(|failed| {
                    if *failed {
                        PutRecordBatchResponseEntry::builder()
                            .error_code("ServiceUnavailableException")
                            .build()
                    } else {
                        PutRecordBatchResponseEntry::builder()
                            .record_id("id")
                            .build()
                    }
                })
                .collect(),
        ))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// What each `PutRecordBatch` carried: its records' bytes.
type Calls = Arc<std::sync::Mutex<Vec<Vec<Vec<u8>>>>>;

async fn put_through_firehose(rows: &RowBatch) -> Vec<Vec<Vec<u8>>> {
    let calls: Calls = Arc::default();
    let seen = Arc::clone(&calls);
    let put = mock!(aws_sdk_firehose::Client::put_record_batch)
        .match_requests(move |request| {
            let records = request
                .records()
                .iter()
                .map(|r| r.data().as_ref().to_vec())
                .collect();
            if let Ok(mut seen) = seen.lock() {
                seen.push(records);
            }
            request.delivery_stream_name() == Some("rows-stream")
        })
        .then_output(|| answers(&[false; 500]));
    let client = mock_client!(aws_sdk_firehose, RuleMode::MatchAny, [&put]);
    FirehoseRows::new(client, "rows-stream".into())
        .put(rows)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    calls.lock().map(|c| c.clone()).unwrap_or_default()
}

#[tokio::test]
async fn firehose_gets_every_row_once_packed_into_records_within_its_limits() {
    // Small rows: 1,200 of them in one record (Firehose bills a record as 5 KB at least).
    let calls = put_through_firehose(&batch(1_200, 0)).await;
    let shape: Vec<Vec<usize>> = calls
        .iter()
        .map(|call| call.iter().map(Vec::len).collect())
        .collect();
    let text: String = calls
        .concat()
        .concat()
        .iter()
        .map(|b| char::from(*b))
        .collect();
    assert_eq!(shape.len(), 1, "{shape:?}");
    assert_eq!(shape[0].len(), 1, "{shape:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1_200);
    assert_eq!(lines[0], "{\"n\":0,\"pad\":\"\"}");
    assert_eq!(lines[1_199], "{\"n\":1199,\"pad\":\"\"}");

    // Rows of 300 KiB: three to a record (at most 1,000 KiB), four records to a call (at
    // most 4 MiB); every row once, in order, whole.
    let calls = put_through_firehose(&batch(20, 300 * 1024)).await;
    let rows_per_record: Vec<Vec<usize>> = calls
        .iter()
        .map(|call| {
            call.iter()
                .map(|record| record.iter().filter(|b| **b == b'\n').count())
                .collect()
        })
        .collect();
    assert_eq!(rows_per_record, [vec![3, 3, 3, 3], vec![3, 3, 2]]);
    for call in &calls {
        assert!(call.iter().map(Vec::len).sum::<usize>() <= 4 * 1024 * 1024);
        assert!(call.iter().all(|record| record.len() <= 1_000 * 1024));
    }
    let numbers: Vec<u64> = calls
        .concat()
        .concat()
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let row: serde_json::Value =
                serde_json::from_slice(line).unwrap_or_else(|e| panic!("{e}"));
            row["n"].as_u64().unwrap_or(u64::MAX)
        })
        .collect();
    assert_eq!(numbers, (0..20).collect::<Vec<u64>>());
}

#[tokio::test]
async fn firehose_records_refused_are_sent_again_and_only_they() {
    let sent = Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
    let seen = Arc::clone(&sent);
    // Four records (rows of 600 KiB, one to a record): the first call refuses the 2nd and
    // the 4th; the second takes both.
    let put = mock!(aws_sdk_firehose::Client::put_record_batch)
        .match_requests(move |request| {
            if let Ok(mut seen) = seen.lock() {
                seen.push(request.records().len());
            }
            true
        })
        .sequence()
        .output(|| answers(&[false, true, false, true]))
        .output(|| answers(&[false, false]))
        .build();
    let client = mock_client!(aws_sdk_firehose, RuleMode::Sequential, [&put]);
    FirehoseRows::new(client, "rows-stream".into())
        .put(&batch(4, 600 * 1024))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent.lock().map(|s| s.clone()).unwrap_or_default(), [4, 2]);

    // Refused three times: an error naming the report and the stream.
    let always =
        mock!(aws_sdk_firehose::Client::put_record_batch).then_output(|| answers(&[true, true]));
    let client = mock_client!(aws_sdk_firehose, RuleMode::MatchAny, [&always]);
    let error = FirehoseRows::new(client, "rows-stream".into())
        .put(&batch(2, 0))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("rows/dt=2026-11-30/r.json.gz")
            && error.contains("rows-stream")
            && error.contains("1 record(s) still refused after 3 attempts"),
        "{error}"
    );
}
