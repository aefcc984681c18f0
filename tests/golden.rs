//! Every file in `events/` through the offline analysis, compared with the findings expected
//! beside it (`<name>.expected`, one JSON object per line, the CLI's `--format json`).
//! The directory's identity state (`events/identity-state.json`) judges them, as `analyze
//! events/` reads it. Regenerate with `UPDATE_GOLDEN=1 cargo test --test tests golden`.

use ses_dmarc_monitor::cli::print::JsonFinding;
use ses_dmarc_monitor::flow::analysis::{self, Ports, RecordOutcome, Settings};
use ses_dmarc_monitor::ports::directory::OfflineDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use std::path::{Path, PathBuf};

fn events() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "json" || e == "jsonl" || e == "eml")
                && p.file_name().is_some_and(|n| n != "identity-state.json")
        })
        .collect();
    files.sort();
    files
}

fn render(name: &str, outcomes: &[RecordOutcome]) -> String {
    let mut out = String::new();
    for (record, outcome) in outcomes.iter().enumerate() {
        match outcome {
            RecordOutcome::Analyzed { analysis, .. } => {
                for finding in JsonFinding::all(name, record, &analysis.findings) {
                    out.push_str(
                        &serde_json::to_string(&finding).unwrap_or_else(|e| panic!("{e}")),
                    );
                    out.push('\n');
                }
            }
            RecordOutcome::Feedback { summary, findings } => {
                out.push_str(&format!(
                    "# record {record} {}: {}\n",
                    summary.event,
                    ses_dmarc_monitor::say::explain::happened(&summary.happened)
                ));
                for value in &summary.unknown_values {
                    out.push_str(&format!("# record {record} unknown value: {value}\n"));
                }
                for finding in JsonFinding::all(name, record, findings) {
                    out.push_str(
                        &serde_json::to_string(&finding).unwrap_or_else(|e| panic!("{e}")),
                    );
                    out.push('\n');
                }
            }
            RecordOutcome::Service { event, findings } => {
                out.push_str(&format!("# record {record} SES service event: {event:?}\n"));
                for finding in JsonFinding::all(name, record, findings) {
                    out.push_str(
                        &serde_json::to_string(&finding).unwrap_or_else(|e| panic!("{e}")),
                    );
                    out.push('\n');
                }
            }
            RecordOutcome::Skipped { reason } => {
                out.push_str(&format!("# record {record} skipped: {reason}\n"));
            }
            RecordOutcome::NotAProbe { header_from, .. } => {
                out.push_str(&format!("# record {record} not a probe: {header_from:?}\n"));
            }
            RecordOutcome::Failed(error) => {
                out.push_str(&format!("# record {record} failed: {error}\n"));
            }
        }
    }
    out
}

#[tokio::test]
async fn events_match_their_golden_findings() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let files = events();
    assert!(files.len() >= 10, "events/ should hold the sample payloads");
    // The events' identity, as `analyze events/` reads it for the directory.
    let state = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/identity-state.json"
    ))
    .unwrap_or_else(|e| panic!("events/identity-state.json: {e}"));
    let directory = OfflineDirectory::from_json(&state).unwrap_or_else(|e| panic!("{e}"));
    let mut mismatches = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = format!(
            "events/{}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        let outcomes = analysis::run(
            &bytes,
            Ports {
                facts: &OfflineFacts::default(),
                directory: &directory,
            },
            &Settings::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let actual = render(&name, &outcomes);
        let golden = path.with_extension("expected");
        if update {
            std::fs::write(&golden, &actual).unwrap_or_else(|e| panic!("{e}"));
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                golden.display()
            )
        });
        if expected != actual {
            mismatches.push(format!(
                "{name}\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
