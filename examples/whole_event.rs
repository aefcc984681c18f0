//! Whole-event throughput against the floor of merely reading the same JSON, for
//! `bench/compare.sh`.
//!
//! usage: whole_event PHASE[,PHASE...] DIR [ROUNDS]
//!
//! Loads every file of DIR into memory first, so the disk is out of the measurement, then runs
//! each phase over all of them ROUNDS times (default 5) on one thread and prints, per phase,
//! `phase events best_seconds events_per_second`. Phases:
//! - `none`: nothing (under callgrind, the cost of loading the files, to subtract);
//! - `value`: `serde_json::from_slice::<Value>` of the file, nothing else;
//! - `read`: `value`, plus the JSON an SNS `Message` string carries, parsed the same way: all
//!   the JSON the analysis has to read, the floor the analysis is compared with;
//! - `detect`: the analysis flow's own input stage (`input::detect`: recognize and deserialize);
//! - `analyze`: the whole offline analysis, as `ses-dmarc-monitor analyze` runs it.
//!
//! Rounds of different phases alternate, so a noisy neighbour slows them alike. Under
//! `valgrind --tool=callgrind` give one phase and one round: the instruction counts are the
//! repeatable comparison.

use serde_json::Value;
use ses_dmarc_monitor::flow::analysis::{self, Ports, Settings};
use ses_dmarc_monitor::ports::directory::OfflineDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::read::input;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(phases), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: whole_event PHASE[,PHASE...] DIR [ROUNDS]");
        return ExitCode::from(2);
    };
    let rounds: usize = match args.get(2).map(|r| r.parse()) {
        None => 5,
        Some(Ok(r)) if r > 0 => r,
        Some(_) => {
            eprintln!("ROUNDS must be a positive number");
            return ExitCode::from(2);
        }
    };
    let phases: Vec<&str> = phases.split(',').collect();
    if let Some(bad) = phases
        .iter()
        .find(|p| !["none", "value", "read", "detect", "analyze"].contains(p))
    {
        eprintln!("unknown phase {bad:?}: expected none, value, read, detect or analyze");
        return ExitCode::from(2);
    }
    let events = match load(dir) {
        Ok(events) if !events.is_empty() => events,
        Ok(_) => {
            eprintln!("{dir}: no files");
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("{dir}: {error}");
            return ExitCode::from(2);
        }
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        eprintln!("cannot start a tokio runtime");
        return ExitCode::from(2);
    };

    let mut best = vec![Duration::MAX; phases.len()];
    for _ in 0..rounds {
        for (phase, best) in phases.iter().zip(&mut best) {
            let start = Instant::now();
            let done = match *phase {
                "none" => black_box(events.len()),
                "value" => events.iter().filter(|e| value(e).is_some()).count(),
                "read" => events.iter().filter(|e| read(e).is_some()).count(),
                "detect" => events.iter().filter(|e| detect(e)).count(),
                _ => runtime.block_on(analyze(&events)),
            };
            *best = (*best).min(start.elapsed());
            if done != events.len() {
                eprintln!(
                    "{phase}: {} of {} events unreadable",
                    events.len() - done,
                    events.len()
                );
                return ExitCode::from(1);
            }
        }
    }
    for (phase, best) in phases.iter().zip(best) {
        let seconds = best.as_secs_f64();
        println!(
            "{phase} {} {seconds:.6} {:.0}",
            events.len(),
            events.len() as f64 / seconds
        );
    }
    ExitCode::SUCCESS
}

fn load(dir: &str) -> std::io::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    paths.iter().map(std::fs::read).collect()
}

fn value(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(black_box(bytes)).ok()
}

/// The outer document and every SNS `Message` in it that holds JSON.
fn read(bytes: &[u8]) -> Option<()> {
    let outer = value(bytes)?;
    let sns = |v: &Value| v.get("Message").and_then(Value::as_str).map(str::to_owned);
    let messages: Vec<String> = match outer.get("Records").and_then(Value::as_array) {
        Some(records) => records
            .iter()
            .filter_map(|r| r.get("Sns").or_else(|| r.get("sns")).and_then(sns))
            .collect(),
        None => sns(&outer).into_iter().collect(),
    };
    for message in messages {
        black_box(serde_json::from_str::<Value>(&message).ok());
    }
    black_box(outer);
    Some(())
}

fn detect(bytes: &[u8]) -> bool {
    black_box(input::detect(black_box(bytes))).is_ok()
}

async fn analyze(events: &[Vec<u8>]) -> usize {
    let facts = OfflineFacts::default();
    let directory = OfflineDirectory::default();
    let settings = Settings::default();
    let ports = Ports {
        facts: &facts,
        directory: &directory,
    };
    let mut done = 0;
    for bytes in events {
        if let Ok(outcomes) = analysis::run(black_box(bytes), ports, &settings).await {
            black_box(outcomes);
            done += 1;
        }
    }
    done
}
