//! `analyze PATH…`: every input through the same path the Lambdas run (`flow::analysis::run`),
//! offline by default, printed as a readable report or one JSON object per finding.

use crate::inputs::{self, Input};
use crate::{Format, exit_code, resolver};
use ses_dmarc_monitor::cli::print::{self, JsonFinding, Tally};
use ses_dmarc_monitor::cli::print_reports;
use ses_dmarc_monitor::edge::dns::DnsBudget;
use ses_dmarc_monitor::flow::analysis::{self, Inbound, Ports, RecordOutcome, Settings};
use ses_dmarc_monitor::flow::reports::{self, ReportSettings, ReportsOutcome};
use ses_dmarc_monitor::judge::findings::Severity;
use ses_dmarc_monitor::judge::policy::PolicyBook;
use ses_dmarc_monitor::ports::directory::{Expecting, IdentityDirectory, OfflineDirectory};
use ses_dmarc_monitor::ports::facts::{FactSource, OfflineFacts};
use ses_dmarc_monitor::ports::probes::MemoryProbes;
use ses_dmarc_monitor::ports::raw::NoRawMessages;
use ses_dmarc_monitor::ports::scope::Everything;
use ses_dmarc_monitor::read::identity_state::MailFromExpectations;
use ses_dmarc_monitor::read::probe;
use ses_dmarc_monitor::read::report::Report;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Parser, Debug)]
pub(crate) struct Args {
    /// Files, directories (every *.json and *.eml below, sorted) or `-` for stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Look DMARC records and organizational domains up with the system resolver.
    #[arg(long)]
    dns: bool,
    /// Look them up with this nameserver (IP:PORT); implies --dns.
    #[arg(long, value_name = "IP:PORT")]
    nameserver: Option<SocketAddr>,
    /// The DNS time one record may take with --dns, as DNS_BUDGET_SECONDS in the Lambdas:
    /// half for DMARC policies, half for re-verifying attached content. What is not
    /// answered in time is reported unknown, never failed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=900))]
    dns_budget: u64,
    /// A DMARC record for a domain, offline: 'example.com=v=DMARC1; p=reject'.
    #[arg(long = "policy", value_name = "DOMAIN=RECORD")]
    policies: Vec<String>,
    /// An identity's custom MAIL FROM domain: 'example.com=mail.example.com'.
    #[arg(long = "mail-from", value_name = "DOMAIN=MAIL_FROM_DOMAIN")]
    mail_from: Vec<String>,
    /// SES identity state, offline: a JSON object keyed by identity, each value shaped like
    /// SESv2 GetEmailIdentity output (MailFromAttributes, DkimAttributes). Without it, an
    /// `identity-state.json` at the top of a directory given is read (and is not an event).
    #[arg(long = "identity-state", value_name = "FILE")]
    identity_state: Option<PathBuf>,
    /// The canary's recorded probes, offline: a JSON array of {"message_id", "identity",
    /// "sent"} (Unix seconds), as the canary function records them. A received message
    /// whose Message-ID and From domain match one is judged as that probe, against its
    /// identity's state (--identity-state).
    #[arg(long = "probe-state", value_name = "FILE")]
    probe_state: Option<PathBuf>,
    /// Authserv-ids whose Authentication-Results are trusted (default amazonses.com).
    #[arg(long = "trusted-authserv-id", value_name = "ID")]
    trusted: Vec<String>,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

pub(crate) async fn run(args: Args) -> ExitCode {
    let mut settings = Settings::default();
    settings.set_trusted_ids(&args.trusted);
    let mut expected = MailFromExpectations::default();
    for spec in &args.mail_from {
        if let Err(error) = expected.add(spec) {
            eprintln!("error: --mail-from {error}");
            return ExitCode::from(2);
        }
    }
    settings.expected = Arc::new(expected);
    let given = args
        .identity_state
        .as_ref()
        .map(|path| (path.clone(), "--identity-state"));
    let state = match given.or_else(|| inputs::directory_identity_state(&args.paths)) {
        None => OfflineDirectory::default(),
        Some((path, source)) => {
            let read = std::fs::read_to_string(&path).map_err(|e| e.to_string());
            match read
                .and_then(|text| OfflineDirectory::from_json(&text).map_err(|e| e.to_string()))
            {
                Ok(directory) => directory,
                Err(error) => {
                    eprintln!("error: {source} {}: {error}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
    };
    let directory = Expecting::new(state, Arc::clone(&settings.expected));
    let probes = match &args.probe_state {
        None => MemoryProbes::default(),
        Some(path) => {
            let read = std::fs::read_to_string(path).map_err(|e| e.to_string());
            match read.and_then(|text| probe::probes_from_json(&text).map_err(|e| e.to_string())) {
                Ok(probes) => MemoryProbes::new(probes),
                Err(error) => {
                    eprintln!("error: --probe-state {}: {error}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
    };
    let mut book = PolicyBook::default();
    for spec in &args.policies {
        if let Err(error) = book.add(spec) {
            eprintln!("error: --policy: {error}");
            return ExitCode::from(2);
        }
    }

    if args.dns || args.nameserver.is_some() {
        match resolver(args.nameserver) {
            Ok(facts) => {
                let facts = facts.with_budget(DnsBudget {
                    per_record: Duration::from_secs(args.dns_budget),
                    ..DnsBudget::default()
                });
                run_all(&args, &facts, &directory, &probes, &settings).await
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(2)
            }
        }
    } else {
        run_all(
            &args,
            &OfflineFacts { book },
            &directory,
            &probes,
            &settings,
        )
        .await
    }
}

async fn run_all<F: FactSource, D: IdentityDirectory>(
    args: &Args,
    facts: &F,
    directory: &D,
    probes: &MemoryProbes,
    settings: &Settings,
) -> ExitCode {
    let ports = Ports { facts, directory };
    let inbound = Inbound {
        raw: &NoRawMessages,
        probes,
        scope: &Everything,
    };
    let mut tally = Tally::default();
    let mut worst: Option<Severity> = None;
    let stdout = io::stdout();
    let mut out = stdout.lock();

    let report_settings = ReportSettings {
        analysis: settings.clone(),
        ..ReportSettings::default()
    };
    let (inputs, unlisted) = inputs::list(&args.paths);
    tally.unreadable += unlisted;
    for input in inputs {
        let name = input.name();
        let bytes = match input.read() {
            Ok(bytes) => bytes,
            Err(error) => {
                let what = if matches!(input, Input::Stdin) {
                    "cannot read stdin: "
                } else {
                    ""
                };
                eprintln!("error: {name}: {what}{error}");
                tally.unreadable += 1;
                continue;
            }
        };
        tally.inputs += 1;
        if let Some(outcome) = reports::run_if_reports(&bytes, &report_settings) {
            for judged in &outcome.reports {
                tally.count_report(&judged.findings);
            }
            match print_reports(&mut out, &name, &outcome, args.format) {
                Ok(severity) => worst = worst.max(severity),
                Err(_) => return ExitCode::from(2),
            }
            for error in &outcome.errors {
                eprintln!("error: {name}: {error}");
            }
            tally.unreadable += usize::from(!outcome.errors.is_empty());
            continue;
        }
        let outcomes = match analysis::run_records_with(&bytes, ports, settings, inbound).await {
            Ok(outcomes) => outcomes
                .into_iter()
                .map(|(_, outcome)| outcome)
                .collect::<Vec<_>>(),
            Err(error) => {
                eprintln!("error: {name}: {error}");
                tally.unreadable += 1;
                continue;
            }
        };
        for (record, outcome) in outcomes.iter().enumerate() {
            tally.count(outcome);
            if let RecordOutcome::Failed(error) = outcome {
                eprintln!("error: {name} record {record}: {}", error.reason());
            }
            worst = worst.max(outcome.findings().iter().map(|f| f.severity()).max());
            let written = match args.format {
                Format::Text => out.write_all(print::text(&name, record, outcome).as_bytes()),
                Format::Json => write_json(&mut out, &name, record, outcome),
            };
            if written.is_err() {
                // The reader went away (a closed pipe): nothing more to say.
                return ExitCode::from(2);
            }
        }
    }
    if args.format == Format::Text {
        let _ = writeln!(out, "{}", tally.summary());
    }
    let _ = out.flush();
    exit_code(tally.unreadable + tally.failed > 0, worst, args.fail_on)
}

/// A report's findings, as `analyze` prints findings: the report's table in text, one
/// object per finding in JSON (the record being the report's place in the input).
fn print_reports(
    out: &mut impl Write,
    name: &str,
    outcome: &ReportsOutcome,
    format: Format,
) -> io::Result<Option<Severity>> {
    let mut worst = None;
    for (record, judged) in outcome.reports.iter().enumerate() {
        worst = worst.max(judged.findings.iter().map(|f| f.severity()).max());
        match format {
            Format::Text => {
                let text = match (&judged.report, &judged.summary) {
                    (Report::Aggregate(report), Some(summary)) => {
                        print_reports::aggregate_text(name, report, summary, &judged.findings)
                    }
                    (Report::TlsRpt(report), _) => {
                        print_reports::tls_text(name, report, &judged.findings)
                    }
                    (Report::Aggregate(_), None) => continue,
                };
                out.write_all(text.as_bytes())?;
            }
            Format::Json => {
                for finding in JsonFinding::all(name, record, &judged.findings) {
                    serde_json::to_writer(&mut *out, &finding)?;
                    out.write_all(b"\n")?;
                }
            }
        }
    }
    Ok(worst)
}

fn write_json(
    out: &mut impl Write,
    name: &str,
    record: usize,
    outcome: &RecordOutcome,
) -> io::Result<()> {
    for finding in JsonFinding::all(name, record, outcome.findings()) {
        serde_json::to_writer(&mut *out, &finding)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
