//! The documentation says what the code does: the environment variables' table is rendered
//! from the one list (`edge::config::VARIABLES`) and the template sets only variables on it;
//! the findings vocabulary lists every kind the code emits and no other; the README stays a
//! front page with the two commands. `UPDATE_GOLDEN=1` rewrites the rendered table.

use ses_dmarc_monitor::edge::config::{VARIABLES, variables_table};
use ses_dmarc_monitor::judge::findings::Kind;
use std::collections::BTreeSet;

fn read(name: &str) -> String {
    let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const BEGIN: &str = "<!-- variables: rendered from edge::config::VARIABLES by tests/docs.rs -->\n";
const END: &str = "<!-- /variables -->";

#[test]
fn the_variables_table_is_rendered_from_the_one_list() {
    let path = format!("{}/docs/functions.md", env!("CARGO_MANIFEST_DIR"));
    let docs = read("docs/functions.md");
    let start = docs.find(BEGIN).map(|i| i + BEGIN.len());
    let end = docs.find(END);
    let (Some(start), Some(end)) = (start, end) else {
        panic!("docs/functions.md has no variables markers")
    };
    let rendered = variables_table();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let updated = format!("{}{rendered}{}", &docs[..start], &docs[end..]);
        std::fs::write(&path, updated).unwrap_or_else(|e| panic!("{path}: {e}"));
        return;
    }
    assert_eq!(
        &docs[start..end],
        rendered,
        "docs/functions.md: the variables table (UPDATE_GOLDEN=1 renders it)"
    );
}

/// The names under each `Variables:` block of the template.
fn template_variables(template: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut block: Option<usize> = None;
    for line in template.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match block {
            Some(outer) if indent > outer => {
                if indent == outer + 2
                    && let Some((name, _)) = trimmed.split_once(':')
                {
                    names.insert(name.to_owned());
                }
            }
            _ => block = (trimmed == "Variables:").then_some(indent),
        }
    }
    names
}

#[test]
fn the_template_sets_only_declared_variables_and_every_one_the_stack_owns() {
    let template = template_variables(&read("template.yaml"));
    assert!(template.contains("STATE_TABLE"), "{template:?}");
    let declared: BTreeSet<String> = VARIABLES.iter().map(|v| v.name.to_owned()).collect();
    let unknown: Vec<&String> = template.difference(&declared).collect();
    assert!(
        unknown.is_empty(),
        "template.yaml sets undeclared variables: {unknown:?}"
    );
    let stack: BTreeSet<String> = VARIABLES
        .iter()
        .filter(|v| v.set_by_stack)
        .map(|v| v.name.to_owned())
        .collect();
    let missing: Vec<&String> = stack.difference(&template).collect();
    assert!(missing.is_empty(), "template.yaml does not set {missing:?}");
    let unowned: Vec<&String> = template.difference(&stack).collect();
    assert!(
        unowned.is_empty(),
        "set by the stack, yet not marked so: {unowned:?}"
    );
}

#[test]
fn the_vocabulary_lists_every_kind_and_no_other() {
    let docs = read("docs/findings.md");
    let mut listed = BTreeSet::new();
    for line in docs.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap_or_default();
        for name in first.split('`').skip(1).step_by(2) {
            listed.insert(name.to_owned());
        }
    }
    // The second table (bounce texts) names providers, not kinds: only the vocabulary's
    // rows start with a kind in backticks.
    let kinds: BTreeSet<String> = Kind::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    assert_eq!(
        listed, kinds,
        "docs/findings.md against judge::findings::Kind"
    );
}

#[test]
fn the_readme_is_a_front_page_with_the_two_commands() {
    let readme = read("README.md");
    assert!(
        readme.lines().count() <= 200,
        "README.md has {} lines",
        readme.lines().count()
    );
    assert!(readme.contains("cargo run --release -- analyze events/"));
    assert!(readme.contains("\ncargo test "));
    for link in readme
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
    {
        if !link.starts_with("http") {
            let path = link.split('#').next().unwrap_or_default();
            assert!(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(path)
                    .exists(),
                "README.md links to {link}, which does not exist"
            );
        }
    }
}
