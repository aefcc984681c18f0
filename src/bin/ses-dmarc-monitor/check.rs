//! `check DOMAIN…`: the DNS half of the posture audit (`judge::posture`), without AWS: the
//! MAIL FROM domain's MX and SPF, and the DMARC record, as DNS answers them now. With
//! `--bulk-sender`: the domain against Gmail's, Yahoo's and Microsoft's bulk-sender
//! requirements (`judge::bulk`), from DNS, the identity's SES state and the evidence given.

use crate::inputs;
use crate::{Format, exit_code, resolver};
use ses_dmarc_monitor::cli::print::{self, JsonFinding};
use ses_dmarc_monitor::flow::{
    self,
    analysis::{self, Inbound, Ports, RecordOutcome, Settings},
    reports::{self, ReportSettings},
};
use ses_dmarc_monitor::judge::bulk::{self, Signals, Status};
use ses_dmarc_monitor::judge::findings::Severity;
use ses_dmarc_monitor::judge::posture::{self, Target};
use ses_dmarc_monitor::ports::directory::{IdentityDirectory as _, OfflineDirectory};
use ses_dmarc_monitor::ports::dns::AuditDns as _;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::probes::MemoryProbes;
use ses_dmarc_monitor::ports::raw::NoRawMessages;
use ses_dmarc_monitor::ports::scope::Everything;
use ses_dmarc_monitor::read::domain::{is_within, normalize};
use ses_dmarc_monitor::read::identity_state::IdentityState;
use ses_dmarc_monitor::say;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
pub(crate) struct Args {
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
    /// Judge each domain against the mailbox providers' bulk-sender requirements: one row
    /// per requirement (pass, fail or unknown, with its evidence).
    #[arg(long)]
    bulk_sender: bool,
    /// The identities' SES state, shaped like SESv2 `GetEmailIdentity` by identity (as
    /// `analyze --identity-state` takes it): MAIL FROM status, DKIM signing.
    #[arg(long = "identity-state", value_name = "FILE", requires = "bulk_sender")]
    identity_state: Option<PathBuf>,
    /// What `analyze` reads (repeatable): SES notifications and events (the complaint rate,
    /// receivers' authentication rejections), received messages (raw e-mail, receipt events:
    /// SPF, DKIM, the unsubscribe headers), receivers' aggregate reports ("Sender requirement
    /// failed").
    #[arg(long = "evidence", value_name = "PATH", requires = "bulk_sender")]
    evidence: Vec<PathBuf>,
}

pub(crate) async fn run(args: &Args) -> ExitCode {
    let dns = match resolver(args.nameserver) {
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
    let readiness = if args.bulk_sender {
        match Readiness::gather(args).await {
            Ok(readiness) => Some(readiness),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut worst: Option<Severity> = None;
    let mut bad_input = readiness.as_ref().is_some_and(|r| r.bad_evidence);
    for given in &args.domains {
        let Some(domain) = normalize(given) else {
            eprintln!("error: {given:?} is not a domain");
            bad_input = true;
            continue;
        };
        let (identity, state) = match &readiness {
            Some(readiness) => readiness.state_of(&domain).await,
            None => (domain.clone(), None),
        };
        let target = Target {
            identity,
            mail_from_domain: state
                .as_ref()
                .and_then(|s| s.mail_from_domain().map(str::to_owned))
                .or_else(|| mail_from.iter().find(|m| is_within(m, &domain)).cloned()),
            domain: domain.clone(),
            region: region.clone(),
            state,
        };
        let view = dns.audit_view(&target).await;
        let report = posture::audit(&target, &view);
        if let Some(readiness) = &readiness {
            let mut gathered = flow::bulk::gather(&domain, &readiness.outcomes);
            flow::bulk::confirm_senders(&mut gathered.samples, &dns).await;
            for report in &readiness.reports {
                gathered
                    .verdicts
                    .extend(flow::bulk::report_verdicts(&domain, report));
            }
            let judged = bulk::readiness(&Signals {
                domain: &domain,
                region: &region,
                posture: &report,
                ses_state: target.state.is_some(),
                samples: &gathered.samples,
                feedback: gathered.feedback,
                verdicts: &gathered.verdicts,
                tls: None,
                configuration_set: None,
            });
            worst = worst.max(
                judged
                    .iter()
                    .filter(|j| j.status == Status::Fail)
                    .map(|j| j.requirement.severity())
                    .max(),
            );
            let written = match args.format {
                Format::Text => out.write_all(say::bulk::text(&domain, &judged).as_bytes()),
                Format::Json => judged.iter().try_for_each(|judgement| {
                    serde_json::to_writer(&mut out, &say::bulk::json_row(&domain, judgement))?;
                    out.write_all(b"\n")
                }),
            };
            if written.is_err() {
                return ExitCode::from(2);
            }
            continue;
        }
        worst = worst.max(report.findings.iter().map(|f| f.severity()).max());
        let written = match args.format {
            Format::Text => out.write_all(print::audit_text(&report).as_bytes()),
            Format::Json => JsonFinding::all(&domain, 0, &report.findings)
                .iter()
                .try_for_each(|finding| {
                    serde_json::to_writer(&mut out, finding)?;
                    out.write_all(b"\n")
                }),
        };
        if written.is_err() {
            return ExitCode::from(2);
        }
    }
    exit_code(bad_input, worst, args.fail_on)
}

/// What `--bulk-sender` reads besides DNS: the identities' state and the evidence, analyzed.
struct Readiness {
    directory: OfflineDirectory,
    known: bool,
    outcomes: Vec<RecordOutcome>,
    /// Receivers' reports given as evidence (their "Sender requirement failed" verdicts).
    reports: Vec<reports::Judged>,
    /// Some evidence could not be read.
    bad_evidence: bool,
}

impl Readiness {
    async fn gather(args: &Args) -> Result<Self, String> {
        let (directory, known) = match &args.identity_state {
            None => (OfflineDirectory::default(), false),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--identity-state {}: {e}", path.display()))?;
                let directory = OfflineDirectory::from_json(&text)
                    .map_err(|e| format!("--identity-state {}: {e}", path.display()))?;
                (directory, true)
            }
        };
        let settings = Settings::default();
        let ports = Ports {
            facts: &OfflineFacts::default(),
            directory: &directory,
        };
        let inbound = Inbound {
            raw: &NoRawMessages,
            probes: &MemoryProbes::default(),
            scope: &Everything,
        };
        let mut outcomes = Vec::new();
        let mut judged_reports = Vec::new();
        let (inputs, unlisted) = inputs::list(&args.evidence);
        let mut bad_evidence = unlisted > 0;
        for input in inputs {
            let name = input.name();
            let bytes = match input.read() {
                Ok(bytes) => bytes,
                Err(error) => {
                    eprintln!("error: --evidence {name}: {error}");
                    bad_evidence = true;
                    continue;
                }
            };
            // Receivers' reports: their verdicts on the domain's mail.
            if let Some(read) = reports::run_if_reports(&bytes, &ReportSettings::default()) {
                for error in &read.errors {
                    eprintln!("error: --evidence {name}: {error}");
                    bad_evidence = true;
                }
                for report in read.reports {
                    if !report.belief.believed() {
                        eprintln!(
                            "note: --evidence {name}: a report not believed (its mail did not pass DMARC for the reporter), not used"
                        );
                        continue;
                    }
                    judged_reports.push(report);
                }
                continue;
            }
            match analysis::run_records_with(&bytes, ports, &settings, inbound).await {
                Ok(records) => outcomes.extend(records.into_iter().map(|(_, outcome)| outcome)),
                Err(error) => {
                    eprintln!("error: --evidence {name}: {error}");
                    bad_evidence = true;
                }
            }
        }
        Ok(Self {
            directory,
            known,
            outcomes,
            reports: judged_reports,
            bad_evidence,
        })
    }

    /// The identity governing `domain` (itself, or the nearest parent the state names) and
    /// its state; `None` when no state was given, or it names none of them.
    async fn state_of(&self, domain: &str) -> (String, Option<IdentityState>) {
        if self.known {
            let mut name = domain;
            loop {
                if let Ok(Some(state)) = self.directory.lookup(name).await {
                    return (name.to_owned(), Some((*state).clone()));
                }
                match name.split_once('.') {
                    Some((_, parent)) if parent.contains('.') => name = parent,
                    _ => break,
                }
            }
        }
        (domain.to_owned(), None)
    }
}
