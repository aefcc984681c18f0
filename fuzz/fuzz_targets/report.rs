//! Receivers' report bytes (XML, JSON, gzip, zip, e-mail) through reading, judging and
//! wording, with a small expansion limit so that bombs end quickly.
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
    let outcome = reports::run(data, &settings);
    for judged in &outcome.reports {
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
