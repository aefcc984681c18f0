//! The offline CLI: the receipt and feedback analyses on files (`analyze`), the DNS half of the
//! posture audit (`check`), receivers' reports (`reports`) and their weekly digest (`digest`), and the
//! `Authentication-Results` parser as a debugging tool
//! (`auth-results`). One module per command; this file only dispatches.
//!
//! Exit codes: 0 all inputs processed, 1 the `--fail-on` threshold was reached, 2 some input
//! could not be read or understood (the others are still processed).

mod analyze;
mod auth_results;
mod check;
mod digest;
mod inputs;
mod reports;

use clap::{Parser, Subcommand, ValueEnum};
use ses_dmarc_monitor::edge::dns::{DnsFacts, DnsSetupError};
use ses_dmarc_monitor::judge::findings::Severity;
use std::net::SocketAddr;
use std::process::ExitCode;

/// mimalloc, not the system's: see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "ses-dmarc-monitor",
    version,
    about = "How mail sent through Amazon SES authenticates and aligns under DMARC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyze SES receipt events, feedback notifications (bounces, complaints, …) and raw
    /// messages.
    Analyze(analyze::Args),
    /// Parse Authentication-Results header values, one per line, and print each as JSON.
    AuthResults(auth_results::Args),
    /// Check domains' DNS set-up for SES: custom MAIL FROM (MX, SPF) and DMARC. The DNS half of
    /// the scheduled audit, without AWS: the command to run while fixing DNS.
    Check(check::Args),
    /// Read receivers' DMARC aggregate reports and SMTP TLS reports (XML, JSON, gzip, zip,
    /// or the e-mail they came in) and say what they show about mail sent through SES.
    Reports(reports::Args),
    /// The weekly digest from report files: every domain's mail by day and by sending
    /// source, what to fix first (text, self-contained HTML, or JSON).
    Digest(digest::Args),
}

/// How a command prints what it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Analyze(args) => runtime.block_on(analyze::run(args)),
        Command::AuthResults(args) => auth_results::run(&args),
        Command::Check(args) => runtime.block_on(check::run(&args)),
        Command::Reports(args) => reports::run(&args),
        Command::Digest(args) => digest::run(&args),
    }
}

/// A resolver: the given nameserver, else the system's.
fn resolver(nameserver: Option<SocketAddr>) -> Result<DnsFacts, DnsSetupError> {
    match nameserver {
        Some(addr) => DnsFacts::nameserver(addr),
        None => DnsFacts::system(),
    }
}

/// The exit code: 2 when some input could not be used, else 1 when a finding reached the
/// `--fail-on` threshold, else 0.
fn exit_code(bad_input: bool, worst: Option<Severity>, fail_on: Option<Severity>) -> ExitCode {
    if bad_input {
        ExitCode::from(2)
    } else if fail_on.is_some_and(|threshold| worst >= Some(threshold)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
