//! The layers point down (docs/architecture.md): `read`, `judge` and `ports` never import
//! `say`; no module of `read`, `judge`, `say` or `ports` names a flow; the core reaches no
//! edge; and the core package never depends on the AWS SDK.

use std::path::{Path, PathBuf};

fn sources(folder: &str) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src")
            .join(folder),
        &mut out,
    );
    assert!(!out.is_empty(), "src/{folder} has no source");
    out
}

/// Every `(file, line)` of `folders` that names `path`.
fn naming(folders: &[&str], path: &str) -> Vec<String> {
    folders
        .iter()
        .flat_map(|folder| sources(folder))
        .flat_map(|(file, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, line)| line.contains(path))
                .map(|(n, line)| format!("{}:{}: {}", file.display(), n + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn what_is_read_judged_or_reached_never_imports_its_wording() {
    assert_eq!(
        naming(&["read", "judge", "ports"], "crate::say"),
        Vec::<String>::new()
    );
}

#[test]
fn no_floor_below_the_flows_names_a_flow() {
    assert_eq!(
        naming(&["read", "judge", "say", "ports"], "crate::flow"),
        Vec::<String>::new()
    );
}

#[test]
fn the_core_and_the_flows_reach_no_edge_nor_the_cli() {
    let folders = ["read", "judge", "say", "ports", "flow"];
    assert_eq!(naming(&folders, "crate::edge"), Vec::<String>::new());
    assert_eq!(naming(&folders, "crate::cli"), Vec::<String>::new());
}

#[test]
fn the_core_package_does_not_depend_on_the_aws_sdk() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .unwrap_or_else(|e| panic!("Cargo.toml: {e}"));
    let dependencies = manifest
        .split("\n[dependencies]\n")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap_or_else(|| panic!("Cargo.toml has no [dependencies]"));
    let sdk: Vec<&str> = dependencies
        .lines()
        .filter(|line| {
            line.starts_with("aws-sdk-")
                || line.starts_with("aws-config")
                || line.starts_with("lambda_runtime")
        })
        .collect();
    assert_eq!(sdk, Vec::<&str>::new(), "only lambda/ may depend on these");
}
