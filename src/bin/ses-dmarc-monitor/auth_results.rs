//! `auth-results [FILE…]`: parses `Authentication-Results` values, one per line, and prints
//! each parse (or why it failed): the parser (`read::authres`) as a debugging tool.

use crate::Format;
use ses_dmarc_monitor::read::authres;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
pub(crate) struct Args {
    /// Files with one header value per line; stdin when none is given.
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

pub(crate) fn run(args: &Args) -> ExitCode {
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
