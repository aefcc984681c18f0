//! `digest PATH…`: the weekly digest from receivers' report files, the twin of the digest
//! function's mail for a user without AWS: every domain, every sending source, what to fix
//! first. Reads what `reports` reads; prints one document (text, self-contained HTML, or one
//! JSON object, `digest/1`).

use crate::reports::{Reading, read_every_report};
use clap::ValueEnum;
use ses_dmarc_monitor::judge::digest::{Digest, Period};
use ses_dmarc_monitor::read::report::Report;
use ses_dmarc_monitor::say::calendar::parse_utc_date;
use ses_dmarc_monitor::say::digest;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DigestFormat {
    Text,
    Html,
    Json,
}

#[derive(clap::Parser, Debug)]
pub(crate) struct Args {
    /// Files, directories (every file below, sorted) or `-` for stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = DigestFormat::Text)]
    format: DigestFormat,
    /// The first day counted (UTC): reports whose end falls on it or later. Reports before
    /// it are history: the week before gives each domain's change, earlier senders are not new.
    #[arg(long, value_name = "YYYY-MM-DD")]
    from: Option<String>,
    /// The last day counted (UTC), whole: reports ending before the next day's 00:00.
    #[arg(long, value_name = "YYYY-MM-DD")]
    to: Option<String>,
    #[command(flatten)]
    reading: Reading,
}

fn day(option: &str, text: Option<&str>) -> Result<Option<u64>, String> {
    text.map(|t| {
        parse_utc_date(t).ok_or_else(|| format!("{option} {t:?} is not a date (YYYY-MM-DD)"))
    })
    .transpose()
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let period = day("--from", args.from.as_deref()).and_then(|from| {
        let to = day("--to", args.to.as_deref())?.map(|to| to + 86_400);
        match (from, to) {
            (Some(from), Some(to)) if to <= from => {
                Err("--to is before --from: the period would be empty".to_owned())
            }
            _ => Ok(Period { from, to }),
        }
    });
    let (period, settings) = match (period, args.reading.settings()) {
        (Ok(period), Ok(settings)) => (period, settings),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut digest = Digest::new(period);
    let read = read_every_report(&args.paths, &settings, false, |_, judged, _| {
        match (&judged.report, &judged.summary) {
            (Report::Aggregate(report), Some(summary)) => {
                digest.add_aggregate(report, summary, &judged.belief);
            }
            (Report::TlsRpt(report), _) => digest.add_tls(report, &judged.belief),
            (Report::Aggregate(_), None) => {}
        }
        Ok(())
    });
    let Some(read) = read else {
        return ExitCode::from(2);
    };
    let actions = digest.actions();
    let document = match args.format {
        DigestFormat::Text => digest::text(&digest, &actions),
        DigestFormat::Html => digest::html(&digest, &actions),
        DigestFormat::Json => match serde_json::to_string(&digest::json(&digest, &actions)) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("error: the digest does not serialize: {error}");
                return ExitCode::from(2);
            }
        },
    };
    let mut out = io::stdout().lock();
    if out
        .write_all(document.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    if read.bad_input {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
