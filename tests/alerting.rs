//! One cause, one page: the alerting flow over a recording publisher, in-memory incidents and
//! a set clock, fed the findings the analysis makes of the bundled events (judged against
//! `events/identity-state.json`, as `analyze events/` is).

use ses_dmarc_monitor::flow::alerting::Alerting;
use ses_dmarc_monitor::flow::analysis::{self, Ports, RecordOutcome, Settings};
use ses_dmarc_monitor::flow::incidents::Incidents;
use ses_dmarc_monitor::judge::dedup::Deduper;
use ses_dmarc_monitor::judge::findings::{Finding, Kind, Severity};
use ses_dmarc_monitor::judge::incident::Timing;
use ses_dmarc_monitor::ports::clock::FixedClock;
use ses_dmarc_monitor::ports::directory::OfflineDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::incidents::MemoryIncidents;
use ses_dmarc_monitor::ports::publisher::RecordingPublisher;
use ses_dmarc_monitor::ports::sink::FindingSink;
use std::time::Duration;

const NOW: u64 = 1_796_000_000;

/// The findings of one bundled event.
async fn findings(name: &str) -> Vec<Finding> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
    let state = std::fs::read_to_string(format!("{dir}/identity-state.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let directory = OfflineDirectory::from_json(&state).unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(format!("{dir}/{name}")).unwrap_or_else(|e| panic!("{e}"));
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory: &directory,
    };
    let outcomes = analysis::run(&bytes, ports, &Settings::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match outcomes.as_slice() {
        [RecordOutcome::Analyzed { analysis, .. }] => analysis.findings.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn alerting(with_table: bool) -> Alerting<RecordingPublisher, MemoryIncidents, FixedClock> {
    Alerting::new(
        RecordingPublisher::default(),
        Deduper::new(Severity::Warning, Duration::from_secs(3600)),
        with_table.then(|| Incidents {
            book: MemoryIncidents::default(),
            timing: Timing::default(),
        }),
        FixedClock::at(NOW),
    )
}

/// What was paged: each alert's kind and severity attributes, and its body.
fn pages(
    alerting: &Alerting<RecordingPublisher, MemoryIncidents, FixedClock>,
) -> Vec<(String, String, String)> {
    let sent = alerting
        .publisher()
        .sent
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    sent.into_iter()
        .map(|alert| {
            let attribute = |name: &str| {
                alert
                    .attributes
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            (attribute("kind"), attribute("severity"), alert.body)
        })
        .collect()
}

#[tokio::test]
async fn a_fallback_pages_once_and_names_the_unaligned_spf() {
    let found = findings("receipt-mail-from-fallback.json").await;
    let kinds: Vec<Kind> = found.iter().map(Finding::kind).collect();
    assert_eq!(kinds, [Kind::SpfUnaligned, Kind::MailFromFallback]);
    for with_table in [true, false] {
        let alerting = alerting(with_table);
        assert!(alerting.publish(&found).await.is_ok());
        let pages = pages(&alerting);
        assert_eq!(pages.len(), 1, "with table: {with_table}: {pages:#?}");
        let (kind, severity, body) = &pages[0];
        assert_eq!(
            (kind.as_str(), severity.as_str()),
            ("mail_from_fallback", "critical")
        );
        assert!(
            body.contains("Impact\n  SPF no longer aligns with From example.com; DMARC now rests on DKIM alone"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_dmarc_failure_pages_through_each_of_its_causes() {
    // The fallback and a broken DKIM signature: SPF and DKIM unaligned, DMARC fails.
    let found = findings("receipt-fallback-dkim-broken.json").await;
    let alerting = alerting(true);
    assert!(alerting.publish(&found).await.is_ok());
    let pages = pages(&alerting);
    let paged: Vec<(&str, &str)> = pages
        .iter()
        .map(|(kind, severity, _)| (kind.as_str(), severity.as_str()))
        .collect();
    // dkim_unaligned stands on its own (SES signs): it pages, raised to DMARC's severity.
    assert_eq!(
        paged,
        [
            ("dkim_unaligned", "critical"),
            ("mail_from_fallback", "critical")
        ]
    );
    for (kind, _, body) in &pages {
        assert!(
            body.contains("DMARC fails for example.com: p=reject receivers reject this mail"),
            "{kind}: {body}"
        );
    }
    // Nothing is hidden from the listing: every finding is still there to count.
    let kinds: Vec<Kind> = found.iter().map(Finding::kind).collect();
    assert!(kinds.contains(&Kind::DmarcFail) && kinds.contains(&Kind::SpfUnaligned));
}

#[tokio::test]
async fn a_consequence_without_a_cause_pages_as_itself() {
    // Mail from a third party signing for its own domain: DKIM unaligned, no fallback, no
    // signing switched off: it is its own cause.
    let found = findings("receipt-strict-dkim.json").await;
    let alerting = alerting(true);
    assert!(alerting.publish(&found).await.is_ok());
    let kinds: Vec<String> = pages(&alerting).into_iter().map(|(k, _, _)| k).collect();
    assert!(kinds.contains(&"spf_unaligned".to_owned()), "{kinds:?}");
}

/// A report kind's incident ends on a clean report from a receiver whose reports found it, and
/// not on another receiver's.
#[tokio::test]
async fn a_clean_report_ends_only_what_its_own_receiver_found() {
    use ses_dmarc_monitor::judge::findings::Facts;
    use ses_dmarc_monitor::read::observation::Source;
    let alerting = alerting(true);
    let failing = Finding::new(
        Facts::ReportDmarcFail {
            reporter: "google.com".into(),
            messages: 12,
            range: (None, None),
            policy: None,
        },
        Some("example.com"),
        Source::Report,
    );
    assert!(alerting.publish(&[failing]).await.is_ok());
    let states = |alerting: &Alerting<_, _, _>| -> Vec<String> {
        pages(alerting)
            .into_iter()
            .map(|(kind, _, _)| kind)
            .collect()
    };
    assert_eq!(states(&alerting), ["report_dmarc_fail"]);
    // Yahoo never saw it fail: its clean report is no evidence.
    let by = "a later report from Yahoo shows it no more";
    assert!(
        alerting
            .cleared_by_reporter(Kind::ReportDmarcFail, "example.com", "Yahoo", by)
            .await
            .is_ok()
    );
    assert_eq!(states(&alerting).len(), 1);
    // Google's next report is clean: resolved, once.
    let by = "a later report from google.com shows it no more";
    for _ in 0..2 {
        assert!(
            alerting
                .cleared_by_reporter(Kind::ReportDmarcFail, "example.com", "google.com", by)
                .await
                .is_ok()
        );
    }
    let sent = pages(&alerting);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].2.contains("RESOLVED") && sent[1].2.contains(by),
        "{}",
        sent[1].2
    );
}
