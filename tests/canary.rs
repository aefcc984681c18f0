//! The canary loop through its handlers, with in-memory probes, a recording sender, offline
//! identity states and an in-memory sink: the canary run (send, record, refused, missing)
//! and the receipt function's side (a probe recognized, judged and recorded; a stranger's
//! mail to the canary address left alone; mail from an unmonitored domain left before any
//! lookup).

use ses_dmarc_monitor::flow::Failure as _;
use ses_dmarc_monitor::flow::analysis::{Inbound, Ports, Settings};
use ses_dmarc_monitor::flow::canary::{self, CanaryPorts, CanarySettings};
use ses_dmarc_monitor::flow::receipt as handler;
use ses_dmarc_monitor::judge::findings::{Facts, Kind};
use ses_dmarc_monitor::ports::directory::{
    DirectoryError, IdentityDirectory, IdentityLister, ListError, OfflineDirectory,
};
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::probes::{MemoryProbes, ProbeBook};
use ses_dmarc_monitor::ports::raw::NoRawMessages;
use ses_dmarc_monitor::ports::scope::DomainList;
use ses_dmarc_monitor::ports::sender::RecordingSender;
use ses_dmarc_monitor::ports::sink::MemorySink;
use ses_dmarc_monitor::read::identity_state::IdentityState;
use ses_dmarc_monitor::read::probe::Probe;
use ses_dmarc_monitor::say::explain::Detail as _;
use ses_dmarc_monitor::say::metrics::Metric;
use ses_dmarc_monitor_lambda::diagnostic::diagnostic;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const CANARY: &str = "canary@inbound.example.com";
const NOW: u64 = 1_793_607_302;

/// Lists nothing: the tests name their identities (`MONITORED_DOMAINS`).
struct NoLister;

impl IdentityLister for NoLister {
    async fn verified_domains(&self) -> Result<Vec<String>, ListError> {
        Ok(vec!["listed.example".into()])
    }
    async fn identities(&self) -> Result<Vec<String>, ListError> {
        Ok(Vec::new())
    }
}

/// Offline identity states, counting every lookup.
struct Counted {
    inner: OfflineDirectory,
    lookups: AtomicUsize,
}

impl Counted {
    fn new(json: &str) -> Self {
        Self {
            inner: OfflineDirectory::from_json(json).unwrap_or_else(|e| panic!("{e}")),
            lookups: AtomicUsize::new(0),
        }
    }
}

impl IdentityDirectory for Counted {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.lookup(identity).await
    }
}

/// example.com: custom MAIL FROM bounce.example.com (SUCCESS), Easy DKIM signing.
/// refusing.example: its MAIL FROM failed, and SES rejects mail for it.
const STATES: &str = r#"{
  "example.com": {
    "MailFromAttributes": {"MailFromDomain": "bounce.example.com",
      "MailFromDomainStatus": "SUCCESS", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
    "DkimAttributes": {"SigningEnabled": true, "Status": "SUCCESS",
      "SigningAttributesOrigin": "AWS_SES"}
  },
  "refusing.example": {
    "MailFromAttributes": {"MailFromDomain": "mail.refusing.example",
      "MailFromDomainStatus": "FAILED", "BehaviorOnMxFailure": "REJECT_MESSAGE"}
  }
}"#;

/// The canary's ports over these parts, the identities listed by [`NoLister`].
fn canary_ports<'a, D, M>(
    directory: &'a D,
    probes: &'a MemoryProbes,
    sender: &'a M,
    sink: &'a MemorySink,
) -> CanaryPorts<'a, NoLister, D, MemoryProbes, M, MemorySink> {
    CanaryPorts {
        lister: &NoLister,
        directory,
        probes,
        sender,
        sink,
    }
}

fn settings<'a>(monitored: &'a [String]) -> CanarySettings<'a> {
    CanarySettings {
        monitored: Some(monitored),
        to: CANARY,
        from_local_part: "dmarc-canary",
        deadline: 1200,
        configuration_set: Some("monitored"),
        region: "eu-west-1",
    }
}

#[tokio::test]
async fn a_run_sends_and_records_one_probe_per_identity() {
    let monitored = vec!["example.com".to_owned(), "example.org".to_owned()];
    let (probes, sender, sink) = (
        MemoryProbes::default(),
        RecordingSender::default(),
        MemorySink::default(),
    );
    let directory = Counted::new(STATES);
    let ports = canary_ports(&directory, &probes, &sender, &sink);
    let (run, result) = canary::canary(ports, &settings(&monitored), NOW).await;
    assert!(result.is_ok(), "{result:?}");
    let sent = sender.sent.lock().map(|s| s.clone()).unwrap_or_default();
    let froms: Vec<&str> = sent.iter().map(|o| o.from.as_str()).collect();
    assert_eq!(
        froms,
        ["dmarc-canary@example.com", "dmarc-canary@example.org"]
    );
    assert!(sent.iter().all(|o| o.to == CANARY));
    assert!(
        sent.iter()
            .all(|o| o.configuration_set.as_deref() == Some("monitored"))
    );
    let recorded = probes.all();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        (
            recorded[0].identity.as_str(),
            recorded[0].sent,
            recorded[0].received
        ),
        ("example.com", NOW, None)
    );
    assert_eq!(run.counts.per_identity["example.org"].sent, 1);
    assert!(sink.kinds().is_empty());
    // Nothing to look up when SES sends.
    assert_eq!(directory.lookups.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn without_a_list_the_verified_domains_are_probed() {
    let (probes, sender, sink) = (
        MemoryProbes::default(),
        RecordingSender::default(),
        MemorySink::default(),
    );
    let directory = Counted::new("{}");
    let ports = canary_ports(&directory, &probes, &sender, &sink);
    let mut settings = settings(&[]);
    settings.monitored = None;
    let (_, result) = canary::canary(ports, &settings, NOW).await;
    assert!(result.is_ok());
    assert_eq!(probes.all()[0].identity, "listed.example");
}

#[tokio::test]
async fn a_refused_send_is_a_critical_mail_from_status() {
    let monitored = vec!["refusing.example".to_owned(), "example.com".to_owned()];
    let (probes, sink) = (MemoryProbes::default(), MemorySink::default());
    let sender = RecordingSender {
        refusing: ["refusing.example".to_owned()].into(),
        ..RecordingSender::default()
    };
    let directory = Counted::new(STATES);
    let ports = canary_ports(&directory, &probes, &sender, &sink);
    let (run, result) = canary::canary(ports, &settings(&monitored), NOW).await;
    assert!(result.is_ok(), "a refusal is a finding, not a failure");
    let published = sink.0.lock().map(|f| f.clone()).unwrap_or_default();
    assert_eq!(published.len(), 1);
    let finding = &published[0];
    assert_eq!(
        (
            finding.kind(),
            finding.severity(),
            finding.domain.as_deref()
        ),
        (
            Kind::MailFromStatus,
            ses_dmarc_monitor::judge::findings::Severity::Critical,
            Some("refusing.example")
        )
    );
    let detail = finding.detail();
    assert!(detail.contains("mail.refusing.example"), "{detail}");
    assert!(detail.contains("FAILED"), "{detail}");
    assert!(detail.contains("REJECT_MESSAGE"), "{detail}");
    // The other identity was still probed.
    assert_eq!(probes.all().len(), 1);
    assert_eq!(run.counts.per_identity["refusing.example"].findings, 1);
}

#[tokio::test]
async fn a_failed_send_fails_the_run_after_every_identity_was_tried() {
    let monitored = vec!["example.com".to_owned(), "example.org".to_owned()];
    let (probes, sink) = (MemoryProbes::default(), MemorySink::default());
    let sender = RecordingSender {
        failing: true,
        ..RecordingSender::default()
    };
    let directory = Counted::new("{}");
    let ports = canary_ports(&directory, &probes, &sender, &sink);
    let (run, result) = canary::canary(ports, &settings(&monitored), NOW).await;
    let error = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        error,
        "2 probe(s) not sent; example.com: SES did not send the probe: throttled (a test's sender)"
    );
    assert_eq!(run.counts.send_failures, 2);
    assert!(probes.all().is_empty());
}

#[tokio::test]
async fn a_probe_never_received_is_reported_missing_once() {
    let monitored = vec!["example.com".to_owned()];
    let old = |id: &str, received: Option<u64>| Probe {
        message_id: id.into(),
        identity: "example.com".into(),
        sent: NOW - 3600,
        received,
        reported_missing: false,
    };
    let probes = MemoryProbes::new(vec![old("lost", None), old("arrived", Some(NOW - 3590))]);
    let (sender, sink) = (RecordingSender::default(), MemorySink::default());
    for run in 0..2 {
        let directory = Counted::new(STATES);
        let ports = canary_ports(&directory, &probes, &sender, &sink);
        let (_, result) = canary::canary(ports, &settings(&monitored), NOW + run * 600).await;
        assert!(result.is_ok());
    }
    let published = sink.0.lock().map(|f| f.clone()).unwrap_or_default();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].severity().as_str(), "critical");
    let Facts::CanaryMissing {
        message_id,
        deadline,
        ..
    } = &published[0].facts
    else {
        panic!("{published:?}")
    };
    assert_eq!((message_id.as_str(), *deadline), ("lost", 1200));
    assert!(
        published[0]
            .detail()
            .contains("did not arrive within 20 minutes"),
        "{}",
        published[0].detail()
    );
}

#[tokio::test]
async fn an_unreachable_table_fails_the_run_but_still_sends() {
    let monitored = vec!["example.com".to_owned()];
    let mut probes = MemoryProbes::default();
    probes.unavailable = true;
    let (sender, sink) = (RecordingSender::default(), MemorySink::default());
    let directory = Counted::new("{}");
    let ports = canary_ports(&directory, &probes, &sender, &sink);
    let (run, result) = canary::canary(ports, &settings(&monitored), NOW).await;
    let diagnostic = result.err().map(|error| diagnostic(&error));
    assert_eq!(
        diagnostic.map(|d| d.error_type),
        Some("StateUnavailable".to_owned())
    );
    assert_eq!(sender.sent.lock().map(|s| s.len()).unwrap_or(0), 1);
    assert_eq!(run.counts.state_errors, 2);
}

// The receipt function's side.

/// The bundled probe as received, with its envelope domain and Message-ID replaced.
fn probe_event(envelope_domain: &str, message_id: &str) -> Vec<u8> {
    let path = format!(
        "{}/events/receipt-canary-probe.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let original = "0100019ad2e4f6a8-3c5e7f90-1b2d-4e6f-8a0c-2e4f6a8c0e1f-000000";
    text.replace(
        &format!("{original}@bounce.example.com"),
        &format!("{original}@{envelope_domain}"),
    )
    .replace(
        &format!("{original}@email.amazonses.com"),
        &format!("{message_id}@email.amazonses.com"),
    )
    .into_bytes()
}

const PROBE_ID: &str = "0100019ad2e4f6a8-3c5e7f90-1b2d-4e6f-8a0c-2e4f6a8c0e1f-000000";
const PROBE_SENT: u64 = 1_793_607_302;

fn recorded() -> MemoryProbes {
    MemoryProbes::new(vec![Probe {
        message_id: PROBE_ID.into(),
        identity: "example.com".into(),
        sent: PROBE_SENT,
        received: None,
        reported_missing: false,
    }])
}

fn canary_settings() -> Settings {
    let mut settings = Settings::default();
    settings.canary_addresses = vec![CANARY.into()];
    settings
}

/// The receipt function on `event`, with example.com monitored.
async fn receive(
    event: &[u8],
    probes: &MemoryProbes,
    directory: &Counted,
) -> (
    handler::Invocation<aws_lambda_events::event::ses::SimpleEmailDisposition>,
    MemorySink,
) {
    let sink = MemorySink::default();
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory,
    };
    let inbound = Inbound {
        raw: &NoRawMessages,
        probes,
        scope: &DomainList::new(["example.com".to_owned()]),
    };
    let invocation =
        handler::receipt(event, ports, inbound, &sink, &canary_settings(), NOW + 99).await;
    (invocation, sink)
}

#[tokio::test]
async fn a_healthy_probe_is_recorded_as_received_and_pages_no_one() {
    let probes = recorded();
    let directory = Counted::new(STATES);
    let (invocation, sink) = receive(
        &probe_event("bounce.example.com", PROBE_ID),
        &probes,
        &directory,
    )
    .await;
    assert!(invocation.result.is_ok());
    assert!(sink.kinds().is_empty(), "{:?}", sink.kinds());
    // Arrival: the receipt event's own timestamp (08:15:04), 2 s after sending.
    assert_eq!(probes.all()[0].received, Some(PROBE_SENT + 2));
    let counts = &invocation.processed.canary.per_identity["example.com"];
    assert_eq!((counts.received, counts.latency), (1, Some(2)));
    // Evidence: every incident a probe checks is over for example.com.
    let cleared = sink.cleared_pairs();
    assert_eq!(
        cleared,
        ses_dmarc_monitor::judge::incident::CLEARED_BY_A_PASSING_PROBE
            .map(|k| (k, "example.com".to_owned()))
    );
}

#[tokio::test]
async fn a_probe_with_amazonses_envelope_alerts_mail_from_fallback_once() {
    let probes = recorded();
    let directory = Counted::new(STATES);
    let (invocation, sink) = receive(
        &probe_event("eu-west-1.amazonses.com", PROBE_ID),
        &probes,
        &directory,
    )
    .await;
    assert!(invocation.result.is_ok());
    // The fallback once; SPF, now for amazonses.com, no longer aligns either.
    assert_eq!(sink.kinds(), [Kind::SpfUnaligned, Kind::MailFromFallback]);
    assert_eq!(
        invocation.processed.canary.per_identity["example.com"].findings,
        2
    );
    // What the probe showed is not over; what it did not show is.
    let cleared: Vec<Kind> = sink.cleared_pairs().into_iter().map(|(k, _)| k).collect();
    assert!(!cleared.contains(&Kind::MailFromFallback) && !cleared.contains(&Kind::SpfUnaligned));
    assert_eq!(
        cleared,
        [
            Kind::MailFromStatus,
            Kind::DkimNotSigning,
            Kind::CanaryMissing
        ]
    );
}

#[tokio::test]
async fn a_probe_whose_identity_state_is_unknown_clears_only_its_own_absence() {
    let probes = recorded();
    // SES does not know example.com (deleted, or its state unreadable): the probe passes
    // nothing, and proves only that it arrived.
    let directory = Counted::new(r#"{"refusing.example": {}}"#);
    let (invocation, sink) = receive(
        &probe_event("bounce.example.com", PROBE_ID),
        &probes,
        &directory,
    )
    .await;
    assert!(invocation.result.is_ok());
    let cleared = sink.cleared_pairs();
    assert_eq!(cleared, [(Kind::CanaryMissing, "example.com".to_owned())]);
}

#[tokio::test]
async fn mail_to_the_canary_that_is_not_a_probe_is_counted_and_left() {
    let probes = recorded();
    let directory = Counted::new(STATES);
    // A spoofed probe: the right From, an SES-looking Message-ID nobody recorded, and the
    // amazonses.com envelope that would otherwise page.
    let (invocation, sink) = receive(
        &probe_event("eu-west-1.amazonses.com", "0100019aforged-000000"),
        &probes,
        &directory,
    )
    .await;
    assert!(invocation.result.is_ok());
    assert!(sink.kinds().is_empty(), "{:?}", sink.kinds());
    assert_eq!(invocation.processed.canary.unrecognized, 1);
    assert_eq!(probes.all()[0].received, None);
    // A stranger's mail is no evidence of anything.
    assert!(sink.1.lock().map(|c| c.is_empty()).unwrap_or(false));
    // Left before any SESv2 lookup.
    assert_eq!(directory.lookups.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn mail_from_an_unmonitored_domain_is_left_before_any_lookup() {
    let probes = recorded();
    let directory = Counted::new(STATES);
    let event = String::from_utf8(probe_event("bounce.example.com", PROBE_ID))
        .unwrap_or_default()
        .replace("dmarc-canary@example.com", "someone@stranger.example");
    let (invocation, sink) = receive(event.as_bytes(), &probes, &directory).await;
    assert!(invocation.result.is_ok());
    assert!(sink.kinds().is_empty());
    // To the canary address: counted as mail there that is not a probe.
    assert_eq!(invocation.processed.canary.unrecognized, 1);
    assert_eq!(directory.lookups.load(Ordering::SeqCst), 0);
    // To another address of the rule: skipped, not counted.
    let elsewhere = event.replace(CANARY, "postmaster@inbound.example.com");
    let (invocation, _) = receive(elsewhere.as_bytes(), &probes, &directory).await;
    assert_eq!(invocation.processed.canary.unrecognized, 0);
    assert_eq!(invocation.processed.metrics.total.get(Metric::Messages), 0);
    assert_eq!(directory.lookups.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_arrival_that_cannot_be_recorded_is_retried_not_published() {
    let mut probes = MemoryProbes::default();
    probes.unavailable = true;
    let directory = Counted::new(STATES);
    let (invocation, sink) = receive(
        &probe_event("eu-west-1.amazonses.com", PROBE_ID),
        &probes,
        &directory,
    )
    .await;
    let error = invocation.result.err();
    assert!(
        error.as_ref().is_some_and(|e| e.is_transient()),
        "{error:?}"
    );
    assert!(sink.kinds().is_empty());
    assert_eq!(
        probes.find("example.com", PROBE_ID).await.ok().flatten(),
        None
    );
}

// SESv2 through the SDK's own mocking layer: moto has no MAIL FROM attributes and never
// refuses a send for them.

mod sesv2 {
    use super::*;
    use aws_sdk_sesv2::operation::get_email_identity::GetEmailIdentityOutput;
    use aws_sdk_sesv2::operation::send_email::{SendEmailError, SendEmailOutput};
    use aws_sdk_sesv2::types::error::MailFromDomainNotVerifiedException;
    use aws_sdk_sesv2::types::{
        BehaviorOnMxFailure, DkimAttributes, DkimSigningAttributesOrigin, DkimStatus,
        MailFromAttributes, MailFromDomainStatus,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use ses_dmarc_monitor::ports::sender::{Outgoing, ProbeSender, SendError};
    use ses_dmarc_monitor_lambda::aws::sesv2::SesV2Directory;

    fn identity(
        status: MailFromDomainStatus,
        behavior: BehaviorOnMxFailure,
        signing: bool,
    ) -> GetEmailIdentityOutput {
        GetEmailIdentityOutput::builder()
            .mail_from_attributes(
                MailFromAttributes::builder()
                    .mail_from_domain("bounce.example.com")
                    .mail_from_domain_status(status)
                    .behavior_on_mx_failure(behavior)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .dkim_attributes(
                DkimAttributes::builder()
                    .signing_enabled(signing)
                    .status(DkimStatus::Success)
                    .signing_attributes_origin(DkimSigningAttributesOrigin::AwsSes)
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn send_email_carries_the_probe_and_returns_its_id() {
        let send = mock!(aws_sdk_sesv2::Client::send_email)
            .match_requests(|r| {
                r.from_email_address() == Some("dmarc-canary@example.com")
                    && r.destination().map(|d| d.to_addresses()) == Some(&[CANARY.to_owned()][..])
                    && r.configuration_set_name() == Some("monitored")
                    && r.content()
                        .and_then(|c| c.simple())
                        .and_then(|m| m.subject())
                        .map(|s| s.data())
                        == Some("ses-dmarc-monitor canary for example.com")
            })
            .then_output(|| {
                SendEmailOutput::builder()
                    .message_id("0100019a-sent-000000")
                    .build()
            });
        let sender = SesV2Directory::new(mock_client!(aws_sdk_sesv2, [&send]));
        let monitored = vec!["example.com".to_owned()];
        let probe = canary::probe_message(&settings(&monitored), "example.com", NOW);
        let id = sender.send(&probe).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id, "0100019a-sent-000000");
        assert_eq!(send.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refusal_for_the_mail_from_is_told_from_other_failures() {
        let refused = mock!(aws_sdk_sesv2::Client::send_email).then_error(|| {
            SendEmailError::MailFromDomainNotVerifiedException(
                MailFromDomainNotVerifiedException::builder()
                    .message("MAIL FROM domain bounce.example.com is not verified")
                    .build(),
            )
        });
        let state = mock!(aws_sdk_sesv2::Client::get_email_identity).then_output(|| {
            identity(
                MailFromDomainStatus::Failed,
                BehaviorOnMxFailure::RejectMessage,
                true,
            )
        });
        let ses = SesV2Directory::new(mock_client!(
            aws_sdk_sesv2,
            RuleMode::MatchAny,
            [&refused, &state]
        ));
        let outgoing = Outgoing {
            from: "dmarc-canary@example.com".into(),
            to: CANARY.into(),
            subject: "s".into(),
            body: "b".into(),
            configuration_set: None,
        };
        assert!(matches!(
            ses.send(&outgoing).await,
            Err(SendError::MailFromNotVerified(_))
        ));
        // Through the canary run: a critical mail_from_status naming SES's state.
        let (probes, sink) = (MemoryProbes::default(), MemorySink::default());
        let monitored = vec!["example.com".to_owned()];
        let ports = canary_ports(&ses, &probes, &ses, &sink);
        let (_, result) = canary::canary(ports, &settings(&monitored), NOW).await;
        assert!(result.is_ok(), "{result:?}");
        let published = sink.0.lock().map(|f| f.clone()).unwrap_or_default();
        let detail = published.first().map(|f| f.detail()).unwrap_or_default();
        assert_eq!(sink.kinds(), [Kind::MailFromStatus]);
        assert!(
            detail.contains("bounce.example.com as FAILED") && detail.contains("REJECT_MESSAGE"),
            "{detail}"
        );
        assert!(probes.all().is_empty());
    }

    #[tokio::test]
    async fn a_probe_is_judged_against_get_email_identity() {
        // SES says it signs with the identity's own key and sends with bounce.example.com;
        // the probe carries only SES's own signature: dkim_unaligned. Then signing disabled:
        // dkim_not_signing.
        for (signing, expected) in [(true, Kind::DkimUnaligned), (false, Kind::DkimNotSigning)] {
            let state = mock!(aws_sdk_sesv2::Client::get_email_identity)
                .match_requests(|r| r.email_identity() == Some("example.com"))
                .then_output(move || {
                    identity(
                        MailFromDomainStatus::Success,
                        BehaviorOnMxFailure::UseDefaultValue,
                        signing,
                    )
                });
            let directory =
                SesV2Directory::new(mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, [&state]));
            let event = String::from_utf8(probe_event("bounce.example.com", PROBE_ID))
                .unwrap_or_default()
                .replace("dkim=pass header.i=@example.com; ", "");
            let probes = recorded();
            let sink = MemorySink::default();
            let ports = Ports {
                facts: &OfflineFacts::default(),
                directory: &directory,
            };
            let inbound = Inbound {
                raw: &NoRawMessages,
                probes: &probes,
                scope: &DomainList::new(["example.com".to_owned()]),
            };
            let invocation = handler::receipt(
                event.as_bytes(),
                ports,
                inbound,
                &sink,
                &canary_settings(),
                NOW,
            )
            .await;
            assert!(invocation.result.is_ok());
            assert!(sink.kinds().contains(&expected), "{:?}", sink.kinds());
            assert!(!sink.kinds().contains(&Kind::MailFromFallback));
            assert!(probes.all()[0].received.is_some());
        }
    }
}

#[tokio::test]
async fn other_mail_is_judged_as_usual_when_the_probes_cannot_be_read() {
    let mut probes = MemoryProbes::default();
    probes.unavailable = true;
    let directory = Counted::new(STATES);
    // The same message, to another address of the receipt rule.
    let event = String::from_utf8(probe_event("eu-west-1.amazonses.com", PROBE_ID))
        .unwrap_or_default()
        .replace(CANARY, "postmaster@inbound.example.com");
    let (invocation, sink) = receive(event.as_bytes(), &probes, &directory).await;
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    assert!(
        sink.kinds().contains(&Kind::MailFromFallback),
        "{:?}",
        sink.kinds()
    );
}
