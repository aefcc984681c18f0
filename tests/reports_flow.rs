//! The reports function's handler, driven as Lambda drives it: an S3 event naming a stored
//! report message, over in-memory objects, state ledger, directory, scope and sink. What is
//! checked: a report counts once across retries and re-sent copies; its findings reach the
//! sink; an unreadable object fails with its key and cause; a lost table or a failed
//! delivery never loses an alert.

use crate::common::Throttled;
use base64::Engine;
use ses_dmarc_monitor::flow::Failure as _;
use ses_dmarc_monitor::flow::analysis::Settings;
use ses_dmarc_monitor::flow::reports::ReportSettings;
use ses_dmarc_monitor::flow::reports::{
    Clockwork, ReportPorts, ReportsError, ReportsInvocation, reports,
};
use ses_dmarc_monitor::judge::findings::{Finding, Kind, Severity};
use ses_dmarc_monitor::ports::directory::{IdentityDirectory, NoDirectory, OfflineDirectory};
use ses_dmarc_monitor::ports::objects::MemoryObjects;
use ses_dmarc_monitor::ports::rollups::MemoryRollups;
use ses_dmarc_monitor::ports::rows::{MemoryRows, NoRows};
use ses_dmarc_monitor::ports::scope::{DomainList, DomainScope, Everything};
use ses_dmarc_monitor::ports::sink::{FindingSink, MemorySink, SinkError};
use ses_dmarc_monitor::ports::state::MemoryLedger;
use ses_dmarc_monitor::read::identity_state::MailFromExpectations;
use ses_dmarc_monitor::say::explain::Detail as _;
use ses_dmarc_monitor::say::metrics::reports::DomainCounts;
use ses_dmarc_monitor_lambda::diagnostic::diagnostic;
use std::io::Write;
use std::sync::Arc;

const BUCKET: &str = "mail-bucket";
const NOW: u64 = 1_796_000_000;
/// An invocation at [`NOW`] that Lambda ends two minutes later.
const CLOCK: Clockwork = Clockwork {
    now: NOW,
    deadline: NOW + 120,
};

fn fixture() -> String {
    std::fs::read_to_string("fixtures/reports/receiver-ses-fallback.xml")
        .unwrap_or_else(|e| panic!("fixture: {e}"))
}

/// The report message as a receipt rule's S3 action stores it: SES's own
/// `Authentication-Results` on top (with `dmarc` as given), the report gzipped and attached.
fn report_mail(xml: &str, dmarc: Option<&str>) -> Vec<u8> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(xml.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let gz = gzip.finish().unwrap_or_else(|e| panic!("{e}"));
    let encoded = base64::engine::general_purpose::STANDARD.encode(gz);
    let mut lines = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        lines.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        lines.push_str("\r\n");
    }
    let results = dmarc.map_or_else(String::new, |dmarc| {
        format!(
            "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=reports.receiver.example;\r\n \
             dkim=pass header.i=@receiver.example;\r\n dmarc={dmarc} header.from=receiver.example;\r\n"
        )
    });
    format!(
        "Return-Path: <bounces@reports.receiver.example>\r\n{results}\
         From: DMARC reports <dmarc@receiver.example>\r\nTo: dmarc-reports@inbound.example.com\r\n\
         Subject: Report domain: example.com Submitter: receiver.example Report-ID: r-1\r\n\
         Message-ID: <r-1@receiver.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nThis is a DMARC aggregate report.\r\n\
         --b1\r\nContent-Type: application/gzip; name=\"report.xml.gz\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{lines}--b1--\r\n"
    )
    .into_bytes()
}

/// An S3 event notification for `keys`, URL-encoded as S3 sends them.
fn s3_event(keys: &[&str]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            serde_json::json!({
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventTime": "2026-11-30T10:00:00.000Z", "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "10.0.0.1"},
                "responseElements": {},
                "s3": {"s3SchemaVersion": "1.0", "configurationId": "reports",
                       "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
                       "object": {"key": key.replace(' ', "+"), "size": 1}}
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
        .to_string()
        .into_bytes()
}

fn settings() -> ReportSettings {
    let mut expected = MailFromExpectations::default();
    expected
        .add("example.com=mail.example.com")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut analysis = Settings::default();
    analysis.expected = Arc::new(expected);
    ReportSettings {
        analysis,
        require_authentication: true,
        ..ReportSettings::default()
    }
}

/// Everything a test varies, with the happy defaults.
struct World<D = NoDirectory> {
    clock: Clockwork,
    objects: MemoryObjects,
    ledger: MemoryLedger,
    directory: D,
    sink: MemorySink,
    settings: ReportSettings,
    rollups: MemoryRollups,
    rows: MemoryRows,
}

fn world(objects: MemoryObjects) -> World {
    World {
        clock: CLOCK,
        objects,
        ledger: MemoryLedger::default(),
        directory: NoDirectory,
        sink: MemorySink::default(),
        settings: settings(),
        rollups: MemoryRollups::default(),
        rows: MemoryRows::default(),
    }
}

impl World {
    fn with_directory<D>(self, directory: D, settings: ReportSettings) -> World<D> {
        World {
            clock: self.clock,
            objects: self.objects,
            ledger: self.ledger,
            directory,
            sink: self.sink,
            settings,
            rollups: self.rollups,
            rows: self.rows,
        }
    }
}

impl<D: IdentityDirectory> World<D> {
    async fn invoke(&self, event: &[u8]) -> ReportsInvocation {
        self.invoke_with(event, &self.sink).await
    }

    async fn invoke_with<S: FindingSink>(&self, event: &[u8], sink: &S) -> ReportsInvocation {
        self.invoke_through(event, &Everything, sink).await
    }

    /// Invokes with only `scope`'s domains monitored.
    async fn invoke_in<Sc: DomainScope>(&self, event: &[u8], scope: &Sc) -> ReportsInvocation {
        self.invoke_through(event, scope, &self.sink).await
    }

    async fn invoke_through<Sc: DomainScope, S: FindingSink>(
        &self,
        event: &[u8],
        scope: &Sc,
        sink: &S,
    ) -> ReportsInvocation {
        let ports = ReportPorts {
            objects: &self.objects,
            ledger: &self.ledger,
            directory: &self.directory,
            scope,
            sink,
            rollups: &self.rollups,
            rows: &self.rows,
        };
        reports(event, ports, &self.settings, self.clock).await
    }

    fn published(&self) -> Vec<(Kind, Severity)> {
        self.sink
            .0
            .lock()
            .map(|f| f.iter().map(|f| (f.kind(), f.severity())).collect())
            .unwrap_or_default()
    }
}

fn stored(key: &str, bytes: Vec<u8>) -> MemoryObjects {
    MemoryObjects::default().with(BUCKET, key, bytes)
}

const FINDINGS: [(Kind, Severity); 3] = [
    (Kind::ReportMailFromFallback, Severity::Critical),
    (Kind::ReportDmarcFail, Severity::Critical),
    (Kind::ReportUnknownSource, Severity::Warning),
];

#[tokio::test]
async fn a_stored_report_is_judged_counted_and_alerted() {
    let world = world(stored(
        "reports/msg-1",
        report_mail(&fixture(), Some("pass")),
    ));
    let invocation = world.invoke(&s3_event(&["reports/msg-1"])).await;
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    assert_eq!(world.published(), FINDINGS);
    let counts = &invocation.counts;
    assert_eq!(
        (counts.reports, counts.duplicate, counts.unreadable),
        (1, 0, 0)
    );
    assert_eq!(
        (counts.messages, counts.findings, counts.state_errors),
        (152, 3, 0)
    );
    assert_eq!(
        counts.per_domain.get("example.com"),
        Some(&DomainCounts {
            dmarc_pass: 90,
            dmarc_fail: 62,
            dmarc_unknown: 0,
            ses: 97,
            other: 55
        })
    );
    assert_eq!(world.ledger.completed(), 1);
}

#[tokio::test]
async fn the_same_report_twice_counts_once() {
    let mail = report_mail(&fixture(), Some("pass"));
    // A retried invocation, and the receiver re-sending the report as another message.
    let objects = stored("reports/msg-1", mail.clone()).with(BUCKET, "reports/msg 2", mail);
    let world = world(objects);
    let first = world.invoke(&s3_event(&["reports/msg-1"])).await;
    let retry = world.invoke(&s3_event(&["reports/msg-1"])).await;
    let resent = world.invoke(&s3_event(&["reports/msg 2"])).await;
    assert!(first.result.is_ok() && retry.result.is_ok() && resent.result.is_ok());
    assert_eq!(first.counts.reports, 1);
    for later in [&retry, &resent] {
        assert_eq!((later.counts.reports, later.counts.duplicate), (0, 1));
        assert_eq!(later.counts.messages, 0);
        assert!(later.counts.per_domain.is_empty());
    }
    assert_eq!(world.published(), FINDINGS, "published once");
}

#[tokio::test]
async fn a_source_seen_before_is_not_unknown() {
    let second = fixture().replace("<report_id>r-1</report_id>", "<report_id>r-2</report_id>");
    let objects = stored("reports/1", report_mail(&fixture(), Some("pass"))).with(
        BUCKET,
        "reports/2",
        report_mail(&second, Some("pass")),
    );
    let world = world(objects);
    let first = world.invoke(&s3_event(&["reports/1"])).await;
    let next_day = world.invoke(&s3_event(&["reports/2"])).await;
    assert!(first.result.is_ok() && next_day.result.is_ok());
    assert_eq!(next_day.counts.reports, 1);
    let kinds: Vec<Kind> = world.sink.kinds();
    let unknown = kinds
        .iter()
        .filter(|k| **k == Kind::ReportUnknownSource)
        .count();
    assert_eq!(
        unknown, 1,
        "203.0.113.9 is known by the second report: {kinds:?}"
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == Kind::ReportMailFromFallback)
            .count(),
        2,
        "the fallback is reported by each report"
    );
}

#[tokio::test]
async fn reports_whose_mail_is_not_authenticated_are_counted_never_believed() {
    for (dmarc, why) in [(Some("fail"), "DMARC failed"), (None, "no trusted results")] {
        let objects = stored("reports/forged", report_mail(&fixture(), dmarc)).with(
            BUCKET,
            "reports/real",
            report_mail(&fixture().replace("r-1", "r-9"), Some("pass")),
        );
        let world = world(objects);
        let forged = world.invoke(&s3_event(&["reports/forged"])).await;
        assert!(forged.result.is_ok(), "{why}");
        assert_eq!(
            world.published(),
            [(Kind::ReportUnauthenticated, Severity::Warning)],
            "{why}"
        );
        assert_eq!((forged.counts.reports, forged.counts.unbelieved), (0, 1));
        assert_eq!(world.ledger.completed(), 0, "{why}: it claimed nothing");
        assert_eq!(forged.counts.messages, 0, "{why}: its rows are not counted");
        // Its sources were not made known: the real report still flags the stranger.
        let real = world.invoke(&s3_event(&["reports/real"])).await;
        assert!(real.result.is_ok());
        assert!(
            world.sink.kinds().contains(&Kind::ReportUnknownSource),
            "{why}"
        );
    }
}

#[tokio::test]
async fn a_corrupt_zip_fails_with_its_key_and_keeps_its_object() {
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&[0xAB; 200]);
    let world = world(stored("reports/broken zip", zip));
    let invocation = world.invoke(&s3_event(&["reports/broken zip"])).await;
    let Err(error) = invocation.result else {
        panic!("a corrupt zip was accepted")
    };
    assert!(!error.is_transient());
    assert!(matches!(error, ReportsError::Unreadable { .. }));
    let diagnostic = diagnostic(&error);
    assert_eq!(diagnostic.error_type, "ReportUnreadable");
    assert!(
        diagnostic
            .error_message
            .starts_with("s3://mail-bucket/reports/broken zip: corrupt zip"),
        "{}",
        diagnostic.error_message
    );
    assert_eq!(invocation.counts.unreadable, 1);
    assert!(world.published().is_empty());
    assert_eq!(world.objects.0.len(), 1, "the object is kept");
}

/// Mail to the published report address that is not a report: `subject`, `dmarc` (the
/// trusted result), and an attachment (MIME type, bytes).
fn other_mail(subject: &str, dmarc: &str, attachment: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut mail = format!(
        "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=sender.example;\r\n \
         dmarc={dmarc} header.from=sender.example\r\nFrom: someone@sender.example\r\n\
         To: dmarc-reports@inbound.example.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         Hello.\r\n"
    );
    if let Some((kind, bytes)) = attachment {
        mail.push_str(&format!(
            "--b\r\nContent-Type: {kind}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ));
    }
    mail.push_str("--b--\r\n");
    mail.into_bytes()
}

#[tokio::test]
async fn mail_with_no_report_in_it_is_dropped_never_failed() {
    let mut junk_zip = b"PK\x03\x04".to_vec();
    junk_zip.extend_from_slice(&[0xAB; 64]);
    let xml_invoice = b"<?xml version=\"1.0\"?><invoice><total>12</total></invoice>";
    // (case, mail)
    let cases: [(&str, Vec<u8>); 5] = [
        ("a hello", other_mail("hello", "pass", None)),
        ("an auto-reply", other_mail("Out of office", "none", None)),
        (
            "an XML invoice",
            other_mail("Invoice", "pass", Some(("application/xml", xml_invoice))),
        ),
        (
            "a stranger's broken zip",
            other_mail("Your parcel", "pass", Some(("application/zip", &junk_zip))),
        ),
        (
            "a broken report in mail that failed DMARC",
            other_mail(
                "Report domain: example.com",
                "fail",
                Some(("application/zip", &junk_zip)),
            ),
        ),
    ];
    for (case, mail) in cases {
        let world = world(stored("reports/other", mail));
        let invocation = world.invoke(&s3_event(&["reports/other"])).await;
        assert!(invocation.result.is_ok(), "{case}: {:?}", invocation.result);
        let counts = &invocation.counts;
        assert_eq!(counts.unreadable, 0, "{case}");
        assert_eq!(counts.ignored + counts.unbelieved, 1, "{case}: {counts:?}");
        assert!(world.published().is_empty(), "{case}");
    }
    // A broken report in mail that passed DMARC and says it is a report: that fails.
    let broken = other_mail(
        "Report domain: example.com Submitter: sender.example",
        "pass",
        Some(("application/zip", &junk_zip)),
    );
    let failing = world(stored("reports/broken", broken));
    let invocation = failing.invoke(&s3_event(&["reports/broken"])).await;
    let Err(error) = invocation.result else {
        panic!("a broken report was dropped")
    };
    assert_eq!(diagnostic(&error).error_type, "ReportUnreadable");
}

#[tokio::test]
async fn a_report_passing_dmarc_for_an_attackers_own_domain_is_believed_nowhere() {
    // Mail that passed DMARC for attacker.example, carrying a report that names the real
    // receiver: it must not claim the id nor make the stranger's address known.
    let forged = String::from_utf8(report_mail(&fixture(), Some("pass")))
        .unwrap_or_default()
        .replace(
            "header.from=receiver.example",
            "header.from=attacker.example",
        )
        .replace("<dmarc@receiver.example>", "<dmarc@attacker.example>")
        .into_bytes();
    let objects = stored("reports/forged", forged).with(
        BUCKET,
        "reports/real",
        report_mail(&fixture(), Some("pass")),
    );
    let world = world(objects);
    let invocation = world.invoke(&s3_event(&["reports/forged"])).await;
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    assert_eq!(
        (invocation.counts.reports, invocation.counts.unbelieved),
        (0, 1)
    );
    let findings = world.sink.0.lock().map(|f| f.clone()).unwrap_or_default();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].kind(), Kind::ReportUnauthenticated);
    assert!(
        findings[0].detail().contains("attacker.example"),
        "{}",
        findings[0].detail()
    );
    assert_eq!(world.ledger.completed(), 0, "it claimed nothing");
    assert_eq!(
        world.ledger.sources_of("example.com"),
        0,
        "it made nothing known"
    );
    // The genuine report, with the same id, is counted and flags the stranger.
    let real = world.invoke(&s3_event(&["reports/real"])).await;
    assert_eq!((real.counts.reports, real.counts.duplicate), (1, 0));
    assert!(world.sink.kinds().contains(&Kind::ReportUnknownSource));
}

#[tokio::test]
async fn a_claim_held_by_a_live_invocation_fails_the_retry_until_its_holder_is_dead() {
    let mail = report_mail(&fixture(), Some("pass"));
    let mut world = world(stored("reports/1", mail));
    // An invocation claimed the report at NOW and died (out of memory) before completing it.
    let key = ses_dmarc_monitor::ports::state::ReportKey {
        reporter: "receiver.example".into(),
        report_id: "r-1".into(),
        domain: "example.com".into(),
    };
    let claimed =
        ses_dmarc_monitor::ports::state::ReportLedger::claim(&world.ledger, &key, NOW, NOW + 150)
            .await;
    assert_eq!(
        claimed.ok(),
        Some(ses_dmarc_monitor::ports::state::Claim::New)
    );
    // Lambda's first retry, a minute later: the holder may be alive, so this one fails.
    world.clock = Clockwork {
        now: NOW + 60,
        deadline: NOW + 180,
    };
    let retry = world.invoke(&s3_event(&["reports/1"])).await;
    let Err(error) = retry.result else {
        panic!("a report in flight was taken for counted")
    };
    assert!(error.is_transient());
    assert_eq!(diagnostic(&error).error_type, "ReportInFlight");
    assert_eq!((retry.counts.in_flight, retry.counts.duplicate), (1, 0));
    // The second retry, past the holder's deadline: the report is counted, once.
    world.clock = Clockwork {
        now: NOW + 180,
        deadline: NOW + 300,
    };
    let later = world.invoke(&s3_event(&["reports/1"])).await;
    assert!(later.result.is_ok(), "{:?}", later.result);
    assert_eq!(later.counts.reports, 1);
    assert_eq!(world.published(), FINDINGS);
    let again = world.invoke(&s3_event(&["reports/1"])).await;
    assert_eq!((again.counts.reports, again.counts.duplicate), (0, 1));
}

#[tokio::test]
async fn a_truncated_report_is_unreadable_and_claims_nothing() {
    let xml = fixture();
    // Cut after its first record: every element that is there closes, but not <feedback>.
    let cut = &xml[..xml.find("</record>").unwrap_or_default() + "</record>".len()];
    let truncated = world(stored("reports/cut", report_mail(cut, Some("pass"))));
    let invocation = truncated.invoke(&s3_event(&["reports/cut"])).await;
    let Err(error) = invocation.result else {
        panic!("a truncated report was accepted")
    };
    assert!(error.to_string().contains("cut short"), "{error}");
    assert_eq!(truncated.ledger.completed(), 0);
    assert!(truncated.published().is_empty());
    // The complete re-send is then counted.
    let whole = world(stored("reports/whole", report_mail(&xml, Some("pass"))));
    let invocation = whole.invoke(&s3_event(&["reports/whole"])).await;
    assert_eq!(invocation.counts.reports, 1);
}

#[tokio::test]
async fn findings_only_for_listed_domains_and_so_many_a_day_per_reporter() {
    // Reports about a subdomain nobody listed: counted, never alerted.
    let sub = fixture().replace("Example.COM", "rand-1.example.com");
    let mut objects = stored("reports/sub", report_mail(&sub, Some("pass")));
    // Seven reports with findings from one reporter about example.com in one day.
    for n in 0..7 {
        let xml = fixture().replace("r-1", &format!("r-day-{n}"));
        objects = objects.with(
            BUCKET,
            &format!("reports/{n}"),
            report_mail(&xml, Some("pass")),
        );
    }
    let world = world(objects);
    let scope = DomainList::new(["example.com".to_owned()]);
    let sub = world.invoke_in(&s3_event(&["reports/sub"]), &scope).await;
    assert!(sub.result.is_ok());
    assert_eq!(sub.counts.reports, 1);
    assert!(world.published().is_empty(), "a subdomain not listed");
    let mut dropped = 0;
    for n in 0..7 {
        let key = format!("reports/{n}");
        let invocation = world.invoke_in(&s3_event(&[&key]), &scope).await;
        assert!(invocation.result.is_ok());
        dropped += invocation.counts.findings_dropped;
    }
    // The first report's three findings, then two each (its stranger is known by then).
    assert_eq!(world.published().len(), 3 + 4 * 2, "five reports a day");
    assert_eq!(dropped, 2 * 2);
}

#[tokio::test]
async fn history_is_read_and_written_for_the_reports_sources_only() {
    // 50,000 addresses sending as example.com, each failing once.
    let mut xml = String::from(
        "<feedback><report_metadata><org_name>receiver.example</org_name><report_id>big-1</report_id>\
         </report_metadata><policy_published><domain>example.com</domain><p>none</p></policy_published>",
    );
    for n in 0..50_000u32 {
        let [_, a, b, c] = n.to_be_bytes();
        xml.push_str(&format!(
            "<record><row><source_ip>10.{a}.{b}.{c}</source_ip><count>1</count><policy_evaluated>\
             <disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>\
             <identifiers><header_from>example.com</header_from></identifiers><auth_results/></record>"
        ));
    }
    xml.push_str("</feedback>");
    let second = xml.replace("big-1", "big-2");
    let objects = stored("reports/big-1", report_mail(&xml, Some("pass"))).with(
        BUCKET,
        "reports/big-2",
        report_mail(&second, Some("pass")),
    );
    let world = world(objects);
    let first = world.invoke(&s3_event(&["reports/big-1"])).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    assert_eq!(first.counts.messages, 50_000);
    assert_eq!(world.ledger.sources_of("example.com"), 50_000);
    assert_eq!(world.ledger.written(), 50_000);
    // The next day's report of the same sources writes none of them again.
    let next = world.invoke(&s3_event(&["reports/big-2"])).await;
    assert!(next.result.is_ok());
    assert_eq!(world.ledger.written(), 50_000, "nothing new to write");
}

#[tokio::test]
async fn a_missing_object_and_a_foreign_event_are_named() {
    let world = world(MemoryObjects::default());
    let missing = world.invoke(&s3_event(&["reports/expired"])).await;
    let Err(error) = missing.result else {
        panic!("a missing object was accepted")
    };
    assert!(!error.is_transient());
    assert_eq!(
        error.to_string(),
        "s3://mail-bucket/reports/expired does not exist (deleted or expired)"
    );
    let foreign = world
        .invoke(br#"{"Records": [{"eventSource": "aws:sqs"}]}"#)
        .await;
    let Err(error) = foreign.result else {
        panic!("an SQS event was accepted")
    };
    assert_eq!(diagnostic(&error).error_type, "PoisonEvent");
}

/// A sink that fails once, then delivers.
#[derive(Default)]
struct FailsOnce(std::sync::atomic::AtomicBool, MemorySink);

impl FindingSink for FailsOnce {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        if !findings.is_empty() && !self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(SinkError::Delivery {
                count: findings.len(),
                source: "InternalErrorException".into(),
            });
        }
        self.1.publish(findings).await
    }
}

#[tokio::test]
async fn an_undelivered_alert_gives_the_claim_back_for_the_retry() {
    let world = world(stored("reports/1", report_mail(&fixture(), Some("pass"))));
    let sink = FailsOnce::default();
    let failed = world.invoke_with(&s3_event(&["reports/1"]), &sink).await;
    let Err(error) = failed.result else {
        panic!("an undelivered alert was accepted")
    };
    assert!(error.is_transient());
    assert_eq!(failed.counts.reports, 0, "not counted: the retry counts it");
    let retry = world.invoke_with(&s3_event(&["reports/1"]), &sink).await;
    assert!(retry.result.is_ok());
    assert_eq!(retry.counts.reports, 1);
    assert_eq!(sink.1.kinds().len(), 3);
}

#[tokio::test]
async fn without_the_table_reports_are_still_judged_and_alerted() {
    let mut world = world(stored("reports/1", report_mail(&fixture(), Some("pass"))));
    world.ledger.unavailable = true;
    let invocation = world.invoke(&s3_event(&["reports/1"])).await;
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    assert_eq!(world.published(), FINDINGS);
    // The claim, the known sources, the reporter's quota, the remembering and the completion.
    assert_eq!(invocation.counts.state_errors, 5);
    assert_eq!(invocation.counts.reports, 1);
}

#[tokio::test]
async fn with_no_table_configured_nothing_is_a_state_error() {
    let world = world(stored("reports/1", report_mail(&fixture(), Some("pass"))));
    let no_table: Option<MemoryLedger> = None;
    let ports = ReportPorts {
        objects: &world.objects,
        ledger: &no_table,
        directory: &world.directory,
        scope: &Everything,
        sink: &world.sink,
        rollups: &None::<MemoryRollups>,
        rows: &NoRows,
    };
    let invocation = reports(&s3_event(&["reports/1"]), ports, &world.settings, CLOCK).await;
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    // No history to ask: judged as the CLI judges, every failing source counted.
    assert_eq!(world.published(), FINDINGS);
    assert_eq!(invocation.counts.state_errors, 0);
}

#[tokio::test]
async fn the_mail_from_domain_comes_from_sesv2_and_a_throttled_lookup_retries() {
    let directory = OfflineDirectory::from_json(
        &std::fs::read_to_string("fixtures/identity-state.json").unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let unstated = ReportSettings {
        require_authentication: true,
        ..ReportSettings::default()
    };
    let from_sesv2 = world(stored("reports/1", report_mail(&fixture(), Some("pass"))))
        .with_directory(directory, unstated.clone());
    let invocation = from_sesv2.invoke(&s3_event(&["reports/1"])).await;
    assert!(invocation.result.is_ok());
    assert!(
        from_sesv2
            .sink
            .kinds()
            .contains(&Kind::ReportMailFromFallback)
    );

    let throttled = world(stored("reports/1", report_mail(&fixture(), Some("pass"))))
        .with_directory(Throttled, unstated);
    let invocation = throttled.invoke(&s3_event(&["reports/1"])).await;
    let Err(error) = invocation.result else {
        panic!("judged without the identity's state")
    };
    assert!(error.is_transient());
    assert_eq!(diagnostic(&error).error_type, "IdentityLookupFailed");
    assert_eq!(throttled.ledger.completed(), 0);
    // The claim was given back: a retry is not taken for a duplicate.
    let retry = throttled.invoke(&s3_event(&["reports/1"])).await;
    assert_eq!(retry.counts.duplicate, 0);
}

#[tokio::test]
async fn reports_about_domains_not_monitored_are_counted_not_alerted() {
    let world = world(stored("reports/1", report_mail(&fixture(), Some("pass"))));
    let scope = DomainList::new(["example.org".to_owned()]);
    let invocation = world.invoke_in(&s3_event(&["reports/1"]), &scope).await;
    assert!(invocation.result.is_ok());
    assert!(world.published().is_empty());
    assert_eq!(
        (invocation.counts.reports, invocation.counts.messages),
        (1, 152)
    );
    assert!(invocation.counts.per_domain.is_empty());
}

/// The fixture's report with only its aligned SES record, under another id: a clean report
/// from the same receiver.
fn clean_report(id: &str) -> String {
    let xml = fixture();
    let records: Vec<&str> = xml.split("<record>").collect();
    format!(
        "{}<record>{}</feedback>\n",
        records[0],
        records[2].trim_end()
    )
    .replace(
        "<report_id>r-1</report_id>",
        &format!("<report_id>{id}</report_id>"),
    )
}

#[tokio::test]
async fn a_clean_report_is_evidence_for_what_its_receiver_found() {
    let objects = stored("reports/msg-1", report_mail(&fixture(), Some("pass"))).with(
        BUCKET,
        "reports/msg-2",
        report_mail(&clean_report("r-2"), Some("pass")),
    );
    let world = world(objects);
    let cleared = |world: &World| world.sink.cleared_pairs();
    let first = world.invoke(&s3_event(&["reports/msg-1"])).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    assert!(cleared(&world).is_empty(), "{:?}", cleared(&world));
    let second = world.invoke(&s3_event(&["reports/msg-2"])).await;
    assert!(second.result.is_ok(), "{:?}", second.result);
    assert_eq!(second.counts.findings, 0);
    let domain = "example.com".to_owned();
    assert_eq!(
        cleared(&world),
        [
            (Kind::ReportMailFromFallback, domain.clone()),
            (Kind::ReportDmarcFail, domain.clone()),
            (Kind::ReportUnknownSource, domain),
        ]
    );
    // The same clean report again is a duplicate: no evidence twice.
    let again = world.invoke(&s3_event(&["reports/msg-2"])).await;
    assert_eq!(again.counts.duplicate, 1);
    assert_eq!(cleared(&world).len(), 3);
}

/// The daily rollup of a report's day, for one domain (`None` when nothing was added).
fn rolled_up<D>(world: &World<D>, day: u64, domain: &str) -> Option<(u64, u64, u64)> {
    let days = world.rollups.days.lock().ok()?;
    let figures = days.get(&day)?.dmarc.get(domain)?;
    let totals = figures.totals();
    Some((figures.reports, totals.messages, totals.dmarc_pass))
}

/// The fixture's report ends 2026-11-01 23:59:59 UTC: its day starts at 1793491200.
const FIXTURE_DAY: u64 = 1_793_491_200;

#[tokio::test]
async fn a_believed_report_is_rolled_up_once_with_its_senders() {
    let world = world(stored("reports/1", report_mail(&fixture(), Some("pass"))));
    let first = world.invoke(&s3_event(&["reports/1"])).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    // The same object again (a retried event, a re-sent report): counted once.
    let again = world.invoke(&s3_event(&["reports/1"])).await;
    assert!(again.result.is_ok(), "{:?}", again.result);
    assert_eq!(again.counts.duplicate, 1);
    assert_eq!(
        rolled_up(&world, FIXTURE_DAY, "example.com"),
        Some((1, 152, 90))
    );
    let days = world.rollups.days.lock().unwrap_or_else(|e| panic!("{e}"));
    let figures = &days[&FIXTURE_DAY].dmarc["example.com"];
    assert_eq!(figures.reporters.get("receiver.example"), Some(&1));
    let classes: Vec<&str> = figures.by_sender.keys().map(|s| s.class.as_str()).collect();
    assert_eq!(classes, vec!["ses", "forwarded", "unknown"]);
}

#[tokio::test]
async fn reports_not_believed_or_not_monitored_are_not_rolled_up() {
    let unbelieved = world(stored("reports/1", report_mail(&fixture(), Some("fail"))));
    let invocation = unbelieved.invoke(&s3_event(&["reports/1"])).await;
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    assert_eq!(invocation.counts.unbelieved, 1);
    assert_eq!(rolled_up(&unbelieved, FIXTURE_DAY, "example.com"), None);

    let elsewhere = world(stored("reports/1", report_mail(&fixture(), Some("pass"))));
    let scope = DomainList::new(vec!["other.example".to_owned()]);
    let invocation = elsewhere.invoke_in(&s3_event(&["reports/1"]), &scope).await;
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    assert_eq!(rolled_up(&elsewhere, FIXTURE_DAY, "example.com"), None);
}

#[tokio::test]
async fn a_rollup_that_cannot_be_written_is_a_state_error_not_a_lost_report() {
    let mut world = world(stored("reports/1", report_mail(&fixture(), Some("pass"))));
    world.rollups.failing = true;
    let invocation = world.invoke(&s3_event(&["reports/1"])).await;
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    assert_eq!(world.published(), FINDINGS);
    assert_eq!(invocation.counts.state_errors, 1);
    assert_eq!(invocation.counts.reports, 1);
}

/// The objects the rows store holds: key, rows, and the counts their lines carry.
fn rows_written<D>(world: &World<D>) -> Vec<(String, u64, u64)> {
    let objects = world
        .rows
        .objects
        .lock()
        .map(|o| o.clone())
        .unwrap_or_default();
    objects
        .into_iter()
        .map(|(key, batch)| {
            let text = batch.ndjson().unwrap_or_else(|e| panic!("{e}"));
            let counts: u64 = text
                .lines()
                .map(|line| {
                    let row: serde_json::Value =
                        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                    row["count"].as_u64().unwrap_or_else(|| panic!("{line}"))
                })
                .sum();
            (key, batch.rows, counts)
        })
        .collect()
}

fn writes<D>(world: &World<D>) -> u64 {
    world.rows.writes.lock().map(|w| *w).unwrap_or_default()
}

#[tokio::test]
async fn a_counted_report_writes_its_rows_once_under_its_day() {
    let mail = report_mail(&fixture(), Some("pass"));
    let objects = stored("reports/msg-1", mail.clone()).with(BUCKET, "reports/msg-2", mail);
    let world = world(objects);
    let first = world.invoke(&s3_event(&["reports/msg-1"])).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    let written = rows_written(&world);
    assert_eq!(written.len(), 1, "{written:?}");
    let (key, rows, messages) = &written[0];
    // 2026-11-01, the day the report ends; named by the reporter and the report id.
    assert!(
        key.starts_with("rows/dt=2026-11-01/receiver.example_r-1_") && key.ends_with(".json.gz"),
        "{key}"
    );
    assert_eq!(*rows, 4, "one row per record");
    assert_eq!(first.counts.rows_written, 4);
    assert_eq!(
        *messages, first.counts.messages,
        "the rows add up to the report"
    );
    // A re-sent copy is a duplicate: nothing written again.
    let resent = world.invoke(&s3_event(&["reports/msg-2"])).await;
    assert_eq!(resent.counts.duplicate, 1);
    assert_eq!(resent.counts.rows_written, 0);
    assert_eq!(writes(&world), 1);
}

#[tokio::test]
async fn rows_that_cannot_be_written_give_the_claim_back_and_the_retry_writes_the_same_key() {
    let world = world(stored("reports/1", report_mail(&fixture(), Some("pass"))));
    *world.rows.failing.lock().unwrap_or_else(|e| e.into_inner()) = 1;
    let failed = world.invoke(&s3_event(&["reports/1"])).await;
    let Err(error) = &failed.result else {
        panic!("rows not written, and the report accepted")
    };
    assert!(error.is_transient());
    assert_eq!(error.error_type(), "RowsWriteFailed");
    assert!(error.to_string().contains("rows/dt=2026-11-01/"), "{error}");
    assert!(
        world.published().is_empty(),
        "nothing said before the rows are kept"
    );
    let retry = world.invoke(&s3_event(&["reports/1"])).await;
    assert!(retry.result.is_ok(), "{:?}", retry.result);
    assert_eq!(retry.counts.reports, 1, "the claim was given back");
    assert_eq!(world.published(), FINDINGS);
    assert_eq!(rows_written(&world).len(), 1);
}

#[tokio::test]
async fn reports_not_believed_or_not_monitored_write_no_rows() {
    let unbelieved = world(stored("reports/1", report_mail(&fixture(), Some("fail"))));
    let invocation = unbelieved.invoke(&s3_event(&["reports/1"])).await;
    assert_eq!(invocation.counts.unbelieved, 1);
    assert_eq!(writes(&unbelieved), 0);

    let elsewhere = world(stored("reports/1", report_mail(&fixture(), Some("pass"))));
    let scope = DomainList::new(vec!["other.example".to_owned()]);
    let invocation = elsewhere.invoke_in(&s3_event(&["reports/1"]), &scope).await;
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    assert_eq!(writes(&elsewhere), 0);
}
