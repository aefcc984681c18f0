//! `reports PATH…`: receivers' DMARC aggregate reports and SMTP TLS reports, read from
//! files (XML, JSON, gzip, zip or the e-mail they came in; recognized by content, not by
//! name), each printed as a table or one JSON object, with its findings.

use crate::exit_code;
use crate::inputs;
use clap::ValueEnum;
use ses_dmarc_monitor::cli::print_reports;
use ses_dmarc_monitor::flow::reports::{self, Judged, ReportSettings};
use ses_dmarc_monitor::judge::findings::Severity;
use ses_dmarc_monitor::read::identity_state::MailFromExpectations;
use ses_dmarc_monitor::read::report::Report;
use ses_dmarc_monitor::say::rows::GzipRows;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Parser, Debug)]
pub(crate) struct Args {
    /// Files, directories (every file below, sorted) or `-` for stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportsFormat::Text)]
    format: ReportsFormat,
    #[command(flatten)]
    reading: Reading,
    /// Messages one source other than SES must fail DMARC with before it is reported.
    #[arg(long, value_name = "MESSAGES", default_value_t = 10)]
    unknown_source_threshold: u64,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

/// How `reports` prints what it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReportsFormat {
    /// A table per report, a line per source, its findings.
    Text,
    /// One JSON object per report.
    Json,
    /// One JSON object per record of every believed aggregate report (NDJSON): the rows the
    /// analytics table holds (docs/analytics.md).
    Rows,
}

/// How reports are read and judged: the options `reports` and `digest` share.
#[derive(clap::Args, Debug)]
pub(crate) struct Reading {
    /// An identity's custom MAIL FROM domain: 'example.com=mail.example.com'. Rows with an
    /// amazonses.com envelope for that domain are then `report_mail_from_fallback`.
    #[arg(long = "mail-from", value_name = "DOMAIN=MAIL_FROM_DOMAIN")]
    mail_from: Vec<String>,
    /// Authserv-ids whose Authentication-Results are trusted (default amazonses.com): they
    /// say whether a report received as e-mail passed DMARC itself.
    #[arg(long = "trusted-authserv-id", value_name = "ID")]
    trusted: Vec<String>,
    /// A domain whose DMARC-passing mail is believed to carry reports whatever reporter they
    /// name (a receiver that mails from another domain than the one it names).
    #[arg(long = "trusted-reporter", value_name = "DOMAIN")]
    trusted_reporters: Vec<String>,
    /// A sending service to recognize besides the bundled list: mail signed by or sent from
    /// DOMAIN (or under it) is NAME's. 'em1234.example.com=SendGrid'.
    #[arg(long = "service", value_name = "DOMAIN=NAME")]
    services: Vec<String>,
}

impl Reading {
    /// The settings these options give; a bad one is an error that names it.
    pub(crate) fn settings(&self) -> Result<ReportSettings, String> {
        let mut settings = ReportSettings::default();
        settings.analysis.set_trusted_ids(&self.trusted);
        for domain in &self.trusted_reporters {
            match ses_dmarc_monitor::read::domain::normalize(domain) {
                Some(domain) => settings.trusted_reporters.push(domain),
                None => return Err(format!("--trusted-reporter {domain:?} is not a domain")),
            }
        }
        let mut expected = MailFromExpectations::default();
        for spec in &self.mail_from {
            expected
                .add(spec)
                .map_err(|error| format!("--mail-from {error}"))?;
        }
        settings.analysis.expected = Arc::new(expected);
        if !self.services.is_empty() {
            let mut services = (*settings.services).clone();
            for spec in &self.services {
                services
                    .add(spec)
                    .map_err(|error| format!("--service {error}"))?;
            }
            settings.services = Arc::new(services);
        }
        Ok(settings)
    }
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let settings = match args.reading.settings() {
        Ok(settings) => ReportSettings {
            unknown_source_threshold: args.unknown_source_threshold,
            ..settings
        },
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut worst: Option<Severity> = None;
    // Buffered: the JSON of a large report is written in many small pieces.
    let mut out = io::BufWriter::with_capacity(1 << 16, standard_output());
    let mut text = String::new();
    let rows = args.format == ReportsFormat::Rows;
    let read = read_every_report(&args.paths, &settings, rows, |name, judged, rows| {
        worst = worst.max(judged.findings.iter().map(|f| f.severity()).max());
        match (&judged.report, &judged.summary, args.format) {
            (_, _, ReportsFormat::Rows) => rows.map_or(Ok(()), |rows| rows.write_ndjson(&mut out)),
            (Report::Aggregate(report), Some(summary), ReportsFormat::Json) => json_line(
                &mut out,
                &print_reports::aggregate_json(name, report, summary, &judged.findings),
            ),
            (Report::Aggregate(report), Some(summary), ReportsFormat::Text) => {
                text.clear();
                print_reports::write_aggregate_text(
                    &mut text,
                    name,
                    report,
                    summary,
                    &judged.findings,
                );
                out.write_all(text.as_bytes())
            }
            (Report::TlsRpt(report), _, ReportsFormat::Json) => json_line(
                &mut out,
                &print_reports::tls_json(name, report, &judged.findings),
            ),
            (Report::TlsRpt(report), _, ReportsFormat::Text) => {
                out.write_all(print_reports::tls_text(name, report, &judged.findings).as_bytes())
            }
            (Report::Aggregate(_), None, _) => Ok(()),
        }
    });
    let Some(read) = read else {
        return ExitCode::from(2);
    };
    if args.format == ReportsFormat::Text {
        let _ = writeln!(
            out,
            "Summary: {} input(s), {} report(s).",
            read.inputs, read.reports
        );
    }
    if out.flush().is_err() {
        return ExitCode::from(2);
    }
    exit_code(read.bad_input, worst, args.fail_on)
}

/// What [`read_every_report`] read.
pub(crate) struct ReadAll {
    pub(crate) inputs: usize,
    pub(crate) reports: usize,
    /// Some input could not be read, or held no report.
    pub(crate) bad_input: bool,
}

/// Reads every input `paths` names and hands each report, judged, to `each` as soon as it
/// is (with its rows when `gather_rows`, [`reports::run_each_with_rows`]) (a zip of thousands is never held judged at once). Errors and notes go to stderr with
/// the input's name. `None` when `each` failed to write its output.
pub(crate) fn read_every_report(
    paths: &[PathBuf],
    settings: &ReportSettings,
    gather_rows: bool,
    mut each: impl FnMut(&str, Judged, Option<GzipRows>) -> io::Result<()>,
) -> Option<ReadAll> {
    let (inputs, unlisted) = inputs::list_every_file(paths);
    let mut read = ReadAll {
        inputs: inputs.len(),
        reports: 0,
        bad_input: unlisted > 0,
    };
    for input in &inputs {
        let name = input.name();
        let bytes = match input.read_raw() {
            Ok(bytes) => bytes,
            Err(error) => {
                eprintln!("error: {name}: {error}");
                read.bad_input = true;
                continue;
            }
        };
        let mut found = 0;
        let mut failed_output = false;
        let outcome = reports::run_each_with_rows(&bytes, settings, gather_rows, |judged, rows| {
            found += 1;
            failed_output |= each(&name, judged, rows).is_err();
        });
        if failed_output {
            return None;
        }
        read.reports += found;
        for error in &outcome.errors {
            eprintln!("error: {name}: {error}");
            read.bad_input = true;
        }
        if found == 0 && outcome.errors.is_empty() {
            eprintln!("error: {name}: no report found");
            read.bad_input = true;
        }
        for note in &outcome.notes {
            eprintln!("note: {name}: {note}");
        }
    }
    Some(read)
}

/// Standard output: on Unix, its file itself. Rust's `Stdout` looks for the last line end in
/// all that is written through it (a large report's JSON is megabytes, a hundredth of the
/// run), and what is written here is buffered already.
fn standard_output() -> Box<dyn Write> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(io::stdout().lock())
}

/// One JSON object and its line end; an error is the output's (serializing borrowed values
/// cannot fail).
fn json_line(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}
