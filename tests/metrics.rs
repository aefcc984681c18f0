//! The EMF documents pinned byte for byte (`fixtures/emf.expected`; regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test metrics`), and the counts they carry.

use ses_dmarc_monitor::flow::analysis::{self, Ports, RecordOutcome, Settings};
use ses_dmarc_monitor::judge::findings::Kind;
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::scope::{DomainList, DomainScope};
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
            analysis::run(&bytes, ports, &Settings::default())
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
    let mut metrics = Metrics::from_records(outcomes.iter().map(RecordOutcome::counted), |d| {
        scope.covers(d)
    });
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
    use ses_dmarc_monitor::say::metrics::{AuditCounts, audit_emf};
    let counts = AuditCounts {
        identities: Some(5),
        failed: std::collections::BTreeMap::from([(Check::MailFromMx, 2), (Check::Dmarc, 1)]),
        ..AuditCounts::default()
    };
    let lines = audit_emf("SesDmarcMonitor", "audit", &counts, 1);
    assert_eq!(lines.len(), 8);
    assert_eq!(
        lines[0],
        r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"SesDmarcMonitor","Dimensions":[["Function"]],"Metrics":[{"Name":"AuditIdentities","Unit":"Count"},{"Name":"AuditIdentitiesDeferred","Unit":"Count"},{"Name":"AuditChecksFailed","Unit":"Count"},{"Name":"AuditChecksUnjudged","Unit":"Count"}]}]},"Function":"audit","AuditIdentities":5,"AuditIdentitiesDeferred":0,"AuditChecksFailed":3,"AuditChecksUnjudged":0}"#
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
            ("report_authorization".to_owned(), 0),
        ]
    );
}

/// Every way an audit run ends short of judging everything: what it publishes. A zero failure
/// count (which the alarm's OK action reports as "resolved") only from a run that judged all.
#[test]
fn an_audit_that_could_not_judge_never_reports_zero_failures() {
    use ses_dmarc_monitor::judge::posture::PostureCheck as Check;
    use ses_dmarc_monitor::say::metrics::{AuditCounts, audit_emf};
    use std::collections::BTreeMap;
    let judged_all = AuditCounts {
        identities: Some(2),
        ..AuditCounts::default()
    };
    let dns_timeout = AuditCounts {
        identities: Some(2),
        unjudged: BTreeMap::from([(Check::Dmarc, 2)]),
        ..AuditCounts::default()
    };
    let dns_timeout_and_a_failure = AuditCounts {
        failed: BTreeMap::from([(Check::MailFromMx, 1)]),
        ..dns_timeout.clone()
    };
    let unreadable = AuditCounts {
        identities: Some(1),
        unreadable: 1,
        ..AuditCounts::default()
    };
    let not_listed = AuditCounts::default();
    // Cut short by its deadline: what it judged is no "0 failed" for the domains left.
    let deferred = AuditCounts {
        identities: Some(2),
        deferred: 3,
        ..AuditCounts::default()
    };
    // (counts, total AuditChecksFailed, AuditChecksUnjudged, checks with a failed count)
    let cases: [(&AuditCounts, Option<u64>, u64, usize); 6] = [
        (&judged_all, Some(0), 0, 7),
        (&dns_timeout, None, 2, 6),
        (&dns_timeout_and_a_failure, Some(1), 2, 6),
        (&unreadable, None, 1, 0),
        (&not_listed, None, 1, 0),
        (&deferred, None, 0, 0),
    ];
    for (counts, failed, unjudged, per_check) in cases {
        let lines = audit_emf("SesDmarcMonitor", "audit", counts, 1);
        let total: serde_json::Value = serde_json::from_str(&lines[0]).unwrap_or_default();
        assert_eq!(total["AuditChecksFailed"].as_u64(), failed, "{counts:?}");
        assert_eq!(
            total["AuditChecksUnjudged"].as_u64(),
            Some(unjudged),
            "{counts:?}"
        );
        assert_eq!(lines.len() - 1, per_check, "{counts:?}");
        assert_eq!(
            total["AuditIdentities"].as_u64(),
            counts.identities,
            "{counts:?}"
        );
    }
}
