//! `template.yaml` and `lambda/Cargo.toml` agree: every function the template builds names a
//! binary of the Lambda package, and every Lambda binary has a function.

use std::collections::BTreeSet;

fn read(name: &str) -> String {
    let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The value after `key:` on lines that hold only that key (YAML scalars, no nesting).
fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().trim_matches('"'))
        .collect()
}

#[test]
fn every_function_has_a_binary_and_every_binary_a_function() {
    let template = read("template.yaml");
    let functions = values(&template, "Type")
        .into_iter()
        .filter(|t| *t == "AWS::Serverless::Function")
        .count();
    let built: BTreeSet<&str> = values(&template, "Binary").into_iter().collect();
    assert_eq!(
        values(&template, "BuildMethod"),
        vec!["rust-cargolambda"; functions],
        "every function is built with cargo-lambda"
    );
    assert_eq!(built.len(), functions, "one distinct binary per function");

    let manifest = read("lambda/Cargo.toml");
    let binaries: BTreeSet<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|section| {
            section.lines().find_map(|line| {
                let value = line.trim().strip_prefix("name")?.trim().strip_prefix('=')?;
                Some(value.trim().trim_matches('"'))
            })
        })
        .collect();
    assert_eq!(built, binaries);
    for binary in &binaries {
        let source = format!("lambda/src/bin/{binary}.rs");
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(&source)
                .exists(),
            "{source}"
        );
    }
}

/// The EventBridge rules forward only events the feedback function reads, and all of SES's
/// service events.
#[test]
fn the_event_rules_match_what_the_function_reads() {
    use ses_dmarc_monitor::read::service_event::{Category, category};
    let template = read("template.yaml");
    // Items of block lists (`- Email Bounced`) and of flow lists (`[Email Bounced, …]`).
    let detail_types: Vec<&str> = template
        .lines()
        .flat_map(|line| {
            let line = line.trim();
            let items = match (line.find('['), line.rfind(']')) {
                (Some(open), Some(close)) if open < close => &line[open + 1..close],
                _ => line.strip_prefix("- ").unwrap_or(""),
            };
            items.split(',').map(str::trim)
        })
        .filter(|item| {
            ["Email ", "Sending Status ", "Advisor Recommendation "]
                .iter()
                .any(|prefix| item.starts_with(prefix))
        })
        .collect();
    assert!(detail_types.len() >= 10, "{detail_types:?}");
    for detail_type in &detail_types {
        assert_ne!(category(detail_type), Category::Other, "{detail_type}");
    }
    for service in [
        "Sending Status Disabled",
        "Sending Status Enabled",
        "Advisor Recommendation Status Open",
        "Advisor Recommendation Status Resolved",
    ] {
        assert!(detail_types.contains(&service), "{service}");
    }
}
