//! The EMF documents pinned byte for byte (`fixtures/emf.expected`; regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test metrics`), and the counts they carry.

use ses_dmarc_monitor::pipeline::{self, Ports, RecordOutcome, Settings};
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::scope::{DomainList, DomainScope};
use ses_dmarc_monitor::say::findings::Kind;
use ses_dmarc_monitor::say::metrics::{Metric, Metrics};

async fn outcomes(names: &[&str]) -> Vec<RecordOutcome> {
    let mut all = Vec::new();
    for name in names {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let ports = Ports {
            facts: &OfflineFacts::default(),
            directory: &NoDirectory,
        };
        all.extend(
            pipeline::run(&bytes, ports, &Settings::default())
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    all
}

#[tokio::test]
async fn emf_documents_are_pinned() {
    let outcomes = outcomes(&[
        "receipt-aligned.json",
        "receipt-fallback-dkim-broken.json",
        "sns-bounce-gmail-authentication.json",
        "sns-complaint-auth-failure.json",
        "receipt-untrusted-only.json",
    ])
    .await;
    let scope = DomainList::new(["example.com".to_owned()]);
    let mut metrics = Metrics::from_outcomes(&outcomes, |d| scope.covers(d));
    metrics.malformed_event();

    assert_eq!(metrics.total.get(Metric::AuthBounces), 7);
    assert_eq!(metrics.total.get(Metric::AuthComplaints), 1);
    assert_eq!(metrics.findings_per_kind.get(&Kind::AuthBounce), Some(&7));
    assert!(metrics.per_domain.keys().all(|d| scope.contains(d)));

    let text = metrics
        .emf("SesDmarcMonitor", "receipt", 1_764_000_000_000)
        .join("\n")
        + "\n";
    for line in text.lines() {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "SesDmarcMonitor");
        for metric in directive["Metrics"].as_array().into_iter().flatten() {
            let name = metric["Name"].as_str().unwrap_or_default();
            assert!(doc[name].is_u64(), "{name} has a value in {line}");
        }
        for dimension in directive["Dimensions"][0].as_array().into_iter().flatten() {
            let name = dimension.as_str().unwrap_or_default();
            assert!(doc[name].is_string(), "{name} has a value in {line}");
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/emf.expected");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &text).unwrap_or_else(|e| panic!("{e}"));
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(text, expected);
}

#[test]
fn audit_documents_carry_every_check() {
    use ses_dmarc_monitor::judge::posture::PostureCheck as Check;
    let failed = std::collections::BTreeMap::from([(Check::MailFromMx, 2), (Check::Dmarc, 1)]);
    let lines =
        ses_dmarc_monitor::say::metrics::audit_emf("SesDmarcMonitor", "audit", 5, &failed, 1);
    assert_eq!(lines.len(), 7);
    assert_eq!(
        lines[0],
        r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"SesDmarcMonitor","Dimensions":[["Function"]],"Metrics":[{"Name":"AuditIdentities","Unit":"Count"},{"Name":"AuditChecksFailed","Unit":"Count"}]}]},"Function":"audit","AuditIdentities":5,"AuditChecksFailed":3}"#
    );
    let per_check: Vec<(String, u64)> = lines[1..]
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            (
                v["Check"].as_str().unwrap_or_default().to_owned(),
                v["AuditChecksFailed"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        per_check,
        [
            ("mail_from_status".to_owned(), 0),
            ("mail_from_mx".to_owned(), 2),
            ("mail_from_spf".to_owned(), 0),
            ("dkim_signing".to_owned(), 0),
            ("dkim_dns".to_owned(), 0),
            ("dmarc".to_owned(), 1),
        ]
    );
}
