//! `check DOMAIN…`: the DNS half of the posture audit (`judge::posture`), without AWS: the
//! MAIL FROM domain's MX and SPF, and the DMARC record, as DNS answers them now.

use crate::{Format, exit_code, resolver};
use ses_dmarc_monitor::cli::print::{self, JsonFinding};
use ses_dmarc_monitor::judge::findings::Severity;
use ses_dmarc_monitor::judge::posture::{self, Target};
use ses_dmarc_monitor::ports::dns::AuditDns as _;
use ses_dmarc_monitor::read::domain::{is_within, normalize};
use std::io::{self, Write};
use std::net::SocketAddr;
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
            mail_from_domain: mail_from.iter().find(|m| is_within(m, &domain)).cloned(),
            domain: domain.clone(),
            region: region.clone(),
            state: None,
        };
        let view = dns.audit_view(&target).await;
        let report = posture::audit(&target, &view);
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
