//! Receivers' report bytes (XML, JSON, gzip, zip, e-mail) through reading, judging and
//! wording, the report rows included, with a small expansion limit so that bombs end quickly.
#![no_main]
use ses_dmarc_monitor::read::report::{Limits, Report};
use ses_dmarc_monitor::flow::reports::{self, ReportSettings};
use ses_dmarc_monitor::cli::print_reports;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let settings = ReportSettings {
        limits: Limits {
            expanded: 8 * 1024 * 1024,
            ..Limits::default()
        },
        ..ReportSettings::default()
    };
    let mut judged_all = Vec::new();
    let outcome = reports::run_each_with_rows(data, &settings, true, |judged, rows| {
        if let Some(rows) = rows {
            // Every row is one line of JSON.
            let mut text = Vec::new();
            if rows.write_ndjson(&mut text).is_ok() {
                for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    assert!(serde_json::from_slice::<serde_json::Value>(line).is_ok());
                }
            }
        }
        judged_all.push(judged);
    });
    for judged in &judged_all {
        match (&judged.report, &judged.summary) {
            (Report::Aggregate(report), Some(summary)) => {
                let _ = print_reports::aggregate_text("fuzz", report, summary, &judged.findings);
                let _ = print_reports::aggregate_json("fuzz", report, summary, &judged.findings);
            }
            (Report::TlsRpt(report), _) => {
                let _ = print_reports::tls_text("fuzz", report, &judged.findings);
            }
            _ => {}
        }
    }
    for error in &outcome.errors {
        let _ = error.to_string();
    }
});
