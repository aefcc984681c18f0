//! The offline CLI: the receipt and feedback analyses on files, and the
//! `Authentication-Results` parser as a debugging tool. Exit codes: 0 all inputs processed, 1 `--fail-on` threshold
//! reached, 2 some input could not be read or understood (the others are still processed).

use clap::{Parser, Subcommand, ValueEnum};
use ses_dmarc_monitor::edge::dns::DnsFacts;
use ses_dmarc_monitor::judge::policy::PolicyBook;
use ses_dmarc_monitor::judge::posture::{self, Target};
use ses_dmarc_monitor::pipeline::{self, Ports, RecordOutcome, Settings};
use ses_dmarc_monitor::ports::directory::{IdentityDirectory, OfflineDirectory};
use ses_dmarc_monitor::ports::facts::{FactSource, OfflineFacts};
use ses_dmarc_monitor::read::authres;
use ses_dmarc_monitor::read::domain::normalize;
use ses_dmarc_monitor::say::findings::Severity;
use ses_dmarc_monitor::say::report::{self, JsonFinding, Tally};
use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    Analyze(AnalyzeArgs),
    /// Parse Authentication-Results header values, one per line, and print each as JSON.
    AuthResults(AuthResultsArgs),
    /// Check domains' DNS set-up for SES: custom MAIL FROM (MX, SPF) and DMARC. The DNS half of
    /// the scheduled audit, without AWS: the command to run while fixing DNS.
    Check(CheckArgs),
}

#[derive(Parser, Debug)]
struct CheckArgs {
    /// The From domains to check.
    #[arg(required = true)]
    domains: Vec<String>,
    /// The custom MAIL FROM domain (repeatable; each applies to the domain it is a subdomain of).
    #[arg(long = "mail-from-domain", value_name = "D")]
    mail_from: Vec<String>,
    /// The SES region the identities send from (the MAIL FROM MX must point at
    /// feedback-smtp.<region>.amazonses.com).
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Ask this nameserver (IP:PORT) instead of the system resolver.
    #[arg(long, value_name = "IP:PORT")]
    nameserver: Option<SocketAddr>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

#[derive(Parser, Debug)]
struct AnalyzeArgs {
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
    /// A DMARC record for a domain, offline: 'example.com=v=DMARC1; p=reject'.
    #[arg(long = "policy", value_name = "DOMAIN=RECORD")]
    policies: Vec<String>,
    /// An identity's custom MAIL FROM domain: 'example.com=mail.example.com'.
    #[arg(long = "mail-from", value_name = "DOMAIN=MAIL_FROM_DOMAIN")]
    mail_from: Vec<String>,
    /// SES identity state, offline: a JSON object keyed by identity, each value shaped like
    /// SESv2 GetEmailIdentity output (MailFromAttributes, DkimAttributes).
    #[arg(long = "identity-state", value_name = "FILE")]
    identity_state: Option<PathBuf>,
    /// Authserv-ids whose Authentication-Results are trusted (default amazonses.com).
    #[arg(long = "trusted-authserv-id", value_name = "ID")]
    trusted: Vec<String>,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

#[derive(Parser, Debug)]
struct AuthResultsArgs {
    /// Files with one header value per line; stdin when none is given.
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

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
        Command::Analyze(args) => runtime.block_on(analyze(args)),
        Command::AuthResults(args) => auth_results(&args),
        Command::Check(args) => runtime.block_on(check(&args)),
    }
}

async fn check(args: &CheckArgs) -> ExitCode {
    let dns = match args.nameserver {
        Some(addr) => DnsFacts::nameserver(addr),
        None => DnsFacts::system(),
    };
    let dns = match dns {
        Ok(dns) => dns,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut mail_from = Vec::new();
    for value in &args.mail_from {
        match normalize(value) {
            Some(domain) => mail_from.push(domain),
            None => {
                eprintln!("error: --mail-from-domain {value:?} is not a domain");
                return ExitCode::from(2);
            }
        }
    }
    let region = args.region.trim().to_ascii_lowercase();
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        eprintln!(
            "error: --region {:?} is not an AWS region name",
            args.region
        );
        return ExitCode::from(2);
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut worst: Option<Severity> = None;
    let mut bad_input = false;
    for given in &args.domains {
        let Some(domain) = normalize(given) else {
            eprintln!("error: {given:?} is not a domain");
            bad_input = true;
            continue;
        };
        let target = Target {
            identity: domain.clone(),
            mail_from_domain: mail_from
                .iter()
                .find(|m| m.ends_with(&format!(".{domain}")) || **m == domain)
                .cloned(),
            domain: domain.clone(),
            region: region.clone(),
            state: None,
        };
        let view = dns.audit_view(&target).await;
        let report = posture::audit(&target, &view);
        for finding in &report.findings {
            worst = worst.max(Some(finding.severity));
        }
        let written = match args.format {
            Format::Text => out.write_all(report::audit_text(&report).as_bytes()),
            Format::Json => report.findings.iter().try_for_each(|finding| {
                serde_json::to_writer(&mut out, &JsonFinding::new(&domain, 0, finding))?;
                out.write_all(b"\n")
            }),
        };
        if written.is_err() {
            return ExitCode::from(2);
        }
    }
    if bad_input {
        ExitCode::from(2)
    } else if args.fail_on.is_some_and(|t| worst >= Some(t)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

async fn analyze(args: AnalyzeArgs) -> ExitCode {
    let mut settings = Settings::default();
    settings.set_trusted_ids(&args.trusted);
    let mut directory = match &args.identity_state {
        None => OfflineDirectory::default(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| OfflineDirectory::from_json(&text))
        {
            Ok(directory) => directory,
            Err(error) => {
                eprintln!("error: --identity-state {}: {error}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    for spec in &args.mail_from {
        if settings.hints.add(spec).is_none() {
            eprintln!("error: --mail-from {spec:?}: expected DOMAIN=MAIL_FROM_DOMAIN");
            return ExitCode::from(2);
        }
    }
    for (identity, mail_from) in &settings.hints.mail_from {
        directory.expect_mail_from(identity, mail_from);
    }
    let mut book = PolicyBook::default();
    for spec in &args.policies {
        if let Err(error) = book.add(spec) {
            eprintln!("error: --policy: {error}");
            return ExitCode::from(2);
        }
    }

    if args.dns || args.nameserver.is_some() {
        let facts = match args.nameserver {
            Some(addr) => DnsFacts::nameserver(addr),
            None => DnsFacts::system(),
        };
        match facts {
            Ok(facts) => run_all(&args, &facts, &directory, &settings).await,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(2)
            }
        }
    } else {
        run_all(&args, &OfflineFacts { book }, &directory, &settings).await
    }
}

async fn run_all<F: FactSource, D: IdentityDirectory>(
    args: &AnalyzeArgs,
    facts: &F,
    directory: &D,
    settings: &Settings,
) -> ExitCode {
    let ports = Ports { facts, directory };
    let mut tally = Tally::default();
    let mut worst: Option<Severity> = None;
    let stdout = io::stdout();
    let mut out = stdout.lock();

    // Inputs are read one at a time, so a large directory never sits in memory at once.
    for input in list_inputs(&args.paths, &mut tally) {
        let (name, read) = match &input {
            None => ("-".to_owned(), read_stdin()),
            Some(file) => (file.display().to_string(), std::fs::read(file)),
        };
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(error) => {
                let what = if input.is_none() {
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
        let outcomes = match pipeline::run(&bytes, ports, settings).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                eprintln!("error: {name}: {error}");
                tally.unreadable += 1;
                continue;
            }
        };
        for (record, outcome) in outcomes.iter().enumerate() {
            tally.count(outcome);
            if let RecordOutcome::Failed { error, .. } = outcome {
                eprintln!("error: {name} record {record}: {error}");
            }
            for finding in outcome.findings() {
                worst = worst.max(Some(finding.severity));
            }
            let written = match args.format {
                Format::Text => out.write_all(report::text(&name, record, outcome).as_bytes()),
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

    if tally.unreadable + tally.failed > 0 {
        ExitCode::from(2)
    } else if args
        .fail_on
        .is_some_and(|threshold| worst >= Some(threshold))
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn write_json(
    out: &mut impl Write,
    name: &str,
    record: usize,
    outcome: &RecordOutcome,
) -> io::Result<()> {
    for finding in outcome.findings() {
        serde_json::to_writer(&mut *out, &JsonFinding::new(name, record, finding))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Every input named on the command line, directories expanded: `None` stands for stdin.
/// Directories that cannot be listed are reported and counted.
fn list_inputs(paths: &[PathBuf], tally: &mut Tally) -> Vec<Option<PathBuf>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(None);
        } else if path.is_dir() {
            let mut files = Vec::new();
            if let Err(error) = walk(path, &mut files) {
                eprintln!("error: {}: {error}", path.display());
                tally.unreadable += 1;
            }
            files.sort();
            inputs.extend(files.into_iter().map(Some));
        } else {
            inputs.push(Some(path.clone()));
        }
    }
    inputs
}

fn read_stdin() -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    io::stdin().read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else if path
            .extension()
            .is_some_and(|ext| ext == "json" || ext == "eml")
        {
            files.push(path);
        }
    }
    Ok(())
}

fn auth_results(args: &AuthResultsArgs) -> ExitCode {
    let mut lines: Vec<String> = Vec::new();
    let mut failed = false;
    if args.files.is_empty() {
        for line in io::stdin().lock().lines() {
            match line {
                Ok(line) => lines.push(line),
                Err(error) => {
                    eprintln!("error: -: {error}");
                    failed = true;
                    break;
                }
            }
        }
    } else {
        for file in &args.files {
            match std::fs::read(file) {
                Ok(bytes) => {
                    lines.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_owned));
                }
                Err(error) => {
                    eprintln!("error: {}: {error}", file.display());
                    failed = true;
                }
            }
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let printed = match (authres::parse(line), args.format) {
            (Ok(parsed), Format::Json) => serde_json::to_string(&parsed).unwrap_or_default(),
            (Err(error), Format::Json) => {
                serde_json::json!({ "error": error.to_string() }).to_string()
            }
            (Ok(parsed), Format::Text) => {
                let results: Vec<String> = parsed
                    .results
                    .iter()
                    .map(|r| format!("{}={}", r.method, r.result))
                    .collect();
                format!(
                    "{}: {}",
                    parsed.authserv_id.as_deref().unwrap_or("(no authserv-id)"),
                    results.join(" ")
                )
            }
            (Err(error), Format::Text) => format!("error: {error}"),
        };
        if writeln!(out, "{printed}").is_err() {
            return ExitCode::from(2);
        }
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
