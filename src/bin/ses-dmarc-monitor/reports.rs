//! `reports PATH…`: receivers' DMARC aggregate reports and SMTP TLS reports, read from
//! files (XML, JSON, gzip, zip or the e-mail they came in; recognized by content, not by
//! name), each printed as a table or one JSON object, with its findings.

use crate::inputs;
use crate::{Format, exit_code};
use ses_dmarc_monitor::cli::print_reports;
use ses_dmarc_monitor::flow::reports::{self, ReportSettings};
use ses_dmarc_monitor::judge::findings::Severity;
use ses_dmarc_monitor::read::identity_state::MailFromExpectations;
use ses_dmarc_monitor::read::report::Report;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Parser, Debug)]
pub(crate) struct Args {
    /// Files, directories (every file below, sorted) or `-` for stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// An identity's custom MAIL FROM domain: 'example.com=mail.example.com'. Rows with an
    /// amazonses.com envelope for that domain are then `report_mail_from_fallback`.
    #[arg(long = "mail-from", value_name = "DOMAIN=MAIL_FROM_DOMAIN")]
    mail_from: Vec<String>,
    /// Messages one source other than SES must fail DMARC with before it is reported.
    #[arg(long, value_name = "MESSAGES", default_value_t = 10)]
    unknown_source_threshold: u64,
    /// Authserv-ids whose Authentication-Results are trusted (default amazonses.com): they
    /// say whether a report received as e-mail passed DMARC itself.
    #[arg(long = "trusted-authserv-id", value_name = "ID")]
    trusted: Vec<String>,
    /// A domain whose DMARC-passing mail is believed to carry reports whatever reporter they
    /// name (a receiver that mails from another domain than the one it names).
    #[arg(long = "trusted-reporter", value_name = "DOMAIN")]
    trusted_reporters: Vec<String>,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let mut settings = ReportSettings {
        unknown_source_threshold: args.unknown_source_threshold,
        ..ReportSettings::default()
    };
    settings.analysis.set_trusted_ids(&args.trusted);
    for domain in &args.trusted_reporters {
        match ses_dmarc_monitor::read::domain::normalize(domain) {
            Some(domain) => settings.trusted_reporters.push(domain),
            None => {
                eprintln!("error: --trusted-reporter {domain:?} is not a domain");
                return ExitCode::from(2);
            }
        }
    }
    let mut expected = MailFromExpectations::default();
    for spec in &args.mail_from {
        if let Err(error) = expected.add(spec) {
            eprintln!("error: --mail-from {error}");
            return ExitCode::from(2);
        }
    }
    settings.analysis.expected = Arc::new(expected);

    let (inputs, unlisted) = inputs::list_every_file(&args.paths);
    let mut bad_input = unlisted > 0;
    let mut worst: Option<Severity> = None;
    let mut count = 0;
    // Buffered: the JSON of a large report is written in many small pieces.
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut text = String::new();
    for input in &inputs {
        let name = input.name();
        let bytes = match input.read_raw() {
            Ok(bytes) => bytes,
            Err(error) => {
                eprintln!("error: {name}: {error}");
                bad_input = true;
                continue;
            }
        };
        // Each report is written as soon as it is judged, and dropped: a zip of thousands
        // of reports is never held judged at once.
        let mut found = 0;
        let mut failed_output = false;
        let outcome = reports::run_each(&bytes, &settings, |judged| {
            found += 1;
            worst = worst.max(judged.findings.iter().map(|f| f.severity()).max());
            let written = match (&judged.report, &judged.summary, args.format) {
                (Report::Aggregate(report), Some(summary), Format::Json) => json_line(
                    &mut out,
                    &print_reports::aggregate_json(&name, report, summary, &judged.findings),
                ),
                (Report::Aggregate(report), Some(summary), Format::Text) => {
                    text.clear();
                    print_reports::write_aggregate_text(
                        &mut text,
                        &name,
                        report,
                        summary,
                        &judged.findings,
                    );
                    out.write_all(text.as_bytes())
                }
                (Report::TlsRpt(report), _, Format::Json) => json_line(
                    &mut out,
                    &print_reports::tls_json(&name, report, &judged.findings),
                ),
                (Report::TlsRpt(report), _, Format::Text) => out
                    .write_all(print_reports::tls_text(&name, report, &judged.findings).as_bytes()),
                (Report::Aggregate(_), None, _) => Ok(()),
            };
            failed_output |= written.is_err();
        });
        if failed_output {
            return ExitCode::from(2);
        }
        count += found;
        for error in &outcome.errors {
            eprintln!("error: {name}: {error}");
            bad_input = true;
        }
        if found == 0 && outcome.errors.is_empty() {
            eprintln!("error: {name}: no report found");
            bad_input = true;
        }
        for note in &outcome.notes {
            eprintln!("note: {name}: {note}");
        }
    }
    if args.format == Format::Text {
        let _ = writeln!(
            out,
            "Summary: {} input(s), {count} report(s).",
            inputs.len()
        );
    }
    if out.flush().is_err() {
        return ExitCode::from(2);
    }
    exit_code(bad_input, worst, args.fail_on)
}

/// One JSON object and its line end; an error is the output's (serializing borrowed values
/// cannot fail).
fn json_line(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}
