//! The AWS edge through the SDK's own mocking layer (`aws-smithy-mocks`): SESv2 identity
//! state in every MAIL FROM state, throttling and errors; SNS alerts, their de-duplication
//! and failure handling. The end-to-end script (`scripts/e2e.sh`) runs the functions against
//! a local SNS emulator.

use aws_sdk_sesv2::operation::get_email_identity::{GetEmailIdentityError, GetEmailIdentityOutput};
use aws_sdk_sesv2::types::error::{BadRequestException, NotFoundException};
use aws_sdk_sesv2::types::{
    BehaviorOnMxFailure, DkimAttributes, DkimStatus, MailFromAttributes, MailFromDomainStatus,
};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use ses_dmarc_monitor::edge::clock::SystemClock;
use ses_dmarc_monitor::edge::identity_cache::CachedDirectory;
use ses_dmarc_monitor::flow::alerting::Alerting;
use ses_dmarc_monitor::flow::analysis::{Inbound, Ports, Settings};
use ses_dmarc_monitor::flow::feedback;
use ses_dmarc_monitor::flow::incidents::Incidents;
use ses_dmarc_monitor::flow::receipt as handler;
use ses_dmarc_monitor::judge::dedup::Deduper;
use ses_dmarc_monitor::judge::findings::{Facts, Finding, Kind, PolicyBasis, Severity};
use ses_dmarc_monitor::judge::incident::{IncidentKey, Timing};
use ses_dmarc_monitor::judge::policy::Disposition;
use ses_dmarc_monitor::ports::directory::IdentityLister as _;
use ses_dmarc_monitor::ports::directory::{DirectoryError, IdentityDirectory};
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::incidents::MemoryIncidents;
use ses_dmarc_monitor::ports::scope::{DomainList, Everything};
use ses_dmarc_monitor::ports::sink::{FindingSink, MemorySink};
use ses_dmarc_monitor::read::authres::ResultKeyword;
use ses_dmarc_monitor::read::identity_state::CustomMailFrom;
use ses_dmarc_monitor::read::identity_state::{MailFromStatus, MxFailureBehavior};
use ses_dmarc_monitor::read::observation::{EnvelopeOrigin, EnvelopeSender, Source};
use ses_dmarc_monitor::say::metrics::Metric;
use ses_dmarc_monitor_lambda::aws::sesv2::SesV2Directory;
use ses_dmarc_monitor_lambda::aws::sns::SnsPublisher;
use std::time::Duration;

fn event(name: &str) -> Vec<u8> {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A throttling reply as SESv2 (REST-JSON) sends it: the SDK classifies it by its error type.
fn sesv2_throttled() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(429).unwrap_or_else(|e| panic!("{e}")),
        aws_smithy_types::body::SdkBody::from(r#"{"message":"Too many requests"}"#),
    );
    response
        .headers_mut()
        .insert("x-amzn-errortype", "TooManyRequestsException");
    response
        .headers_mut()
        .insert("content-type", "application/json");
    response
}

/// A throttling reply as SNS (AWS Query, XML) sends it.
fn sns_throttled() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap_or_else(|e| panic!("{e}")),
        aws_smithy_types::body::SdkBody::from(
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId></ErrorResponse>",
        ),
    )
}

fn identity_output(
    status: MailFromDomainStatus,
    behavior: BehaviorOnMxFailure,
) -> GetEmailIdentityOutput {
    GetEmailIdentityOutput::builder()
        .mail_from_attributes(
            MailFromAttributes::builder()
                .mail_from_domain("mail.example.com")
                .mail_from_domain_status(status)
                .behavior_on_mx_failure(behavior)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .dkim_attributes(
            DkimAttributes::builder()
                .signing_enabled(true)
                .status(DkimStatus::Success)
                .tokens("token1")
                .build(),
        )
        .build()
}

fn fast_retries(config: aws_sdk_sesv2::config::Builder) -> aws_sdk_sesv2::config::Builder {
    config.retry_config(
        aws_sdk_sesv2::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    )
}

#[tokio::test]
async fn every_mail_from_state_is_read() {
    let cases = [
        (MailFromDomainStatus::Pending, MailFromStatus::Pending),
        (MailFromDomainStatus::Success, MailFromStatus::Success),
        (MailFromDomainStatus::Failed, MailFromStatus::Failed),
        (
            MailFromDomainStatus::TemporaryFailure,
            MailFromStatus::TemporaryFailure,
        ),
    ];
    for (sdk, ours) in cases {
        for (behavior, expected) in [
            (
                BehaviorOnMxFailure::UseDefaultValue,
                MxFailureBehavior::UseDefaultValue,
            ),
            (
                BehaviorOnMxFailure::RejectMessage,
                MxFailureBehavior::RejectMessage,
            ),
        ] {
            let (sdk, behavior) = (sdk.clone(), behavior.clone());
            let rule = mock!(aws_sdk_sesv2::Client::get_email_identity)
                .match_requests(|r| r.email_identity() == Some("example.com"))
                .then_output(move || identity_output(sdk.clone(), behavior.clone()));
            let directory = SesV2Directory::new(mock_client!(aws_sdk_sesv2, [&rule]));
            let state = directory
                .lookup("example.com")
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("found"));
            let mail_from = state.mail_from_attributes.clone().unwrap_or_default();
            assert_eq!(
                mail_from.mail_from_domain.as_deref(),
                Some("mail.example.com")
            );
            assert_eq!(mail_from.mail_from_domain_status, Some(ours.clone()));
            assert_eq!(mail_from.behavior_on_mx_failure, Some(expected));
            let dkim = state.dkim_attributes.clone().unwrap_or_default();
            assert_eq!(
                (
                    dkim.signing_enabled,
                    dkim.status.as_ref().map(|s| s.as_str())
                ),
                (Some(true), Some("SUCCESS"))
            );
        }
    }
}

#[tokio::test]
async fn lookup_errors_are_classified() {
    let not_found = mock!(aws_sdk_sesv2::Client::get_email_identity).then_error(|| {
        GetEmailIdentityError::NotFoundException(NotFoundException::builder().build())
    });
    let directory = SesV2Directory::new(mock_client!(aws_sdk_sesv2, [&not_found]));
    assert!(matches!(
        directory.lookup("unknown.example").await,
        Ok(None)
    ));

    let bad = mock!(aws_sdk_sesv2::Client::get_email_identity).then_error(|| {
        GetEmailIdentityError::BadRequestException(BadRequestException::builder().build())
    });
    let directory = SesV2Directory::new(mock_client!(aws_sdk_sesv2, [&bad]));
    assert!(matches!(
        directory.lookup("x").await,
        Err(DirectoryError::Permanent { .. })
    ));

    // Access denied: a configuration error. Judged without the state, never retried.
    let denied = mock!(aws_sdk_sesv2::Client::get_email_identity).then_http_response(|| {
        let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403)
                .unwrap_or_else(|e| panic!("{e}")),
            aws_smithy_types::body::SdkBody::from(
                r#"{"message":"User is not authorized to perform: ses:GetEmailIdentity"}"#,
            ),
        );
        response
            .headers_mut()
            .insert("x-amzn-errortype", "AccessDeniedException");
        response
    });
    let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, [&denied], fast_retries);
    let result = SesV2Directory::new(client).lookup("example.com").await;
    assert!(
        matches!(result, Err(DirectoryError::Permanent { .. })),
        "{result:?}"
    );
    assert_eq!(denied.num_calls(), 1, "a denial is not retried");

    // Throttled every time: the SDK backs off and retries, then the error is transient.
    let throttled =
        mock!(aws_sdk_sesv2::Client::get_email_identity).then_http_response(sesv2_throttled);
    let client = mock_client!(
        aws_sdk_sesv2,
        RuleMode::MatchAny,
        [&throttled],
        fast_retries
    );
    let result = SesV2Directory::new(client).lookup("example.com").await;
    assert!(
        matches!(result, Err(DirectoryError::Transient { .. })),
        "{result:?}"
    );
    assert_eq!(throttled.num_calls(), 3, "three attempts with backoff");

    // Throttled once, then answered: the retry succeeds within the call.
    let recovering = mock!(aws_sdk_sesv2::Client::get_email_identity)
        .sequence()
        .http_response(sesv2_throttled)
        .output(|| {
            identity_output(
                MailFromDomainStatus::Success,
                BehaviorOnMxFailure::UseDefaultValue,
            )
        })
        .build();
    let client = mock_client!(
        aws_sdk_sesv2,
        RuleMode::Sequential,
        [&recovering],
        fast_retries
    );
    assert!(matches!(
        SesV2Directory::new(client).lookup("example.com").await,
        Ok(Some(_))
    ));
    assert_eq!(recovering.num_calls(), 2);

    // A 503 is transient too.
    let unavailable = mock!(aws_sdk_sesv2::Client::get_email_identity)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let client = mock_client!(
        aws_sdk_sesv2,
        RuleMode::Sequential,
        [&unavailable],
        fast_retries
    );
    assert!(matches!(
        SesV2Directory::new(client).lookup("example.com").await,
        Err(DirectoryError::Transient { .. })
    ));
}

#[tokio::test]
async fn one_sesv2_call_per_identity_per_cache_period_across_notifications() {
    let rule = mock!(aws_sdk_sesv2::Client::get_email_identity).then_output(|| {
        identity_output(
            MailFromDomainStatus::Failed,
            BehaviorOnMxFailure::UseDefaultValue,
        )
    });
    let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, [&rule]);
    let directory = CachedDirectory::new(SesV2Directory::new(client), Duration::from_secs(300));
    let sink = MemorySink::default();
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory: &directory,
    };
    for _ in 0..20 {
        let invocation = feedback::feedback(
            &event("feedback-bounce-mail-from-failed.json"),
            ports,
            &Everything,
            &sink,
            &Settings::default(),
        )
        .await;
        assert!(invocation.result.is_ok());
    }
    assert_eq!(rule.num_calls(), 1);
    let kinds: Vec<Kind> = sink.kinds();
    assert_eq!(kinds, vec![Kind::MailFromStatus; 20]);
}

#[tokio::test]
async fn receipt_path_learns_the_custom_mail_from_from_sesv2() {
    // No --mail-from: the identity's MAIL FROM (mail.example.com) comes from SESv2, so the
    // amazonses.com envelope sender is a fallback.
    let rule = mock!(aws_sdk_sesv2::Client::get_email_identity)
        .match_requests(|r| r.email_identity() == Some("example.com"))
        .then_output(|| {
            identity_output(
                MailFromDomainStatus::Failed,
                BehaviorOnMxFailure::UseDefaultValue,
            )
        });
    let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, [&rule]);
    let directory = CachedDirectory::new(SesV2Directory::new(client), Duration::from_secs(300));
    let sink = MemorySink::default();
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory: &directory,
    };
    let scope = DomainList::new(["example.com".to_owned()]);
    let invocation = handler::receipt(
        &event("receipt-mail-from-fallback.json"),
        ports,
        Inbound {
            raw: &ses_dmarc_monitor::ports::raw::NoRawMessages,
            probes: &ses_dmarc_monitor::ports::probes::NoProbes,
            scope: &scope,
        },
        &sink,
        &Settings::default(),
        0,
    )
    .await;
    assert!(invocation.result.is_ok());
    let kinds: Vec<Kind> = sink.kinds();
    assert!(kinds.contains(&Kind::MailFromFallback), "{kinds:?}");
    assert_eq!(
        invocation
            .processed
            .metrics
            .total
            .get(Metric::MailFromFallback),
        1
    );
}

/// A finding of `kind` about `domain`, with header-derived text that tries to inject a line.
fn finding(kind: Kind, domain: &str, severity: Severity) -> Finding {
    let hostile = format!("{domain}\r\nInjected: header");
    let facts = match kind {
        Kind::MailFromFallback => Facts::MailFromFallback {
            envelope: EnvelopeSender {
                domain: hostile,
                origin: EnvelopeOrigin::ReturnPath,
            },
            custom: CustomMailFrom {
                identity: domain.to_owned(),
                mail_from: format!("mail.{domain}"),
            },
        },
        Kind::DmarcFail => Facts::DmarcFail {
            header_from: hostile,
            policy: PolicyBasis::Published(Disposition::Reject),
        },
        Kind::SpfFail => Facts::SpfFail {
            result: ResultKeyword::Fail,
            domain: Some(hostile),
        },
        other => panic!("no test facts for {other}"),
    };
    let finding = Finding::new(facts, Some(domain), Source::ReceiptLambda).about(Some("m-1"));
    assert_eq!(finding.severity(), severity);
    finding
}

/// The alert sink as the functions configure it by default: warnings and above, one alert
/// per (kind, domain) per hour.
fn alert_sink(client: aws_sdk_sns::Client) -> Alerting<SnsPublisher, MemoryIncidents, SystemClock> {
    Alerting::new(
        publisher(client),
        Deduper::new(Severity::Warning, Duration::from_secs(3600)),
        None,
        SystemClock,
    )
}

fn publisher(client: aws_sdk_sns::Client) -> SnsPublisher {
    SnsPublisher::new(client, "arn:aws:sns:us-east-1:111122223333:alerts".into())
}

/// The alert sink of one container with the state table's incidents (in memory, shared).
fn incident_sink(
    client: aws_sdk_sns::Client,
    book: &std::sync::Arc<MemoryIncidents>,
) -> Alerting<SnsPublisher, std::sync::Arc<MemoryIncidents>, SystemClock> {
    Alerting::new(
        publisher(client),
        Deduper::new(Severity::Warning, Duration::from_secs(3600)),
        Some(Incidents {
            book: std::sync::Arc::clone(book),
            timing: Timing::default(),
        }),
        SystemClock,
    )
}

/// An SNS publish whose `state` attribute is `state`.
fn publish_in_state(state: &'static str) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_sns::Client::publish)
        .match_requests(move |r| {
            r.message_attributes()
                .and_then(|a| a.get("state"))
                .and_then(|v| v.string_value())
                == Some(state)
        })
        .then_output(|| PublishOutput::builder().message_id("sns").build())
}

#[tokio::test]
async fn two_containers_page_once_per_incident_and_once_when_it_is_resolved() {
    let book = std::sync::Arc::new(MemoryIncidents::default());
    let (new, resolved) = (publish_in_state("new"), publish_in_state("resolved"));
    let resolved_subject = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            r.subject()
                == Some(
                    "[RESOLVED] mail_from_fallback for example.com after 0 s (ses-dmarc-monitor)",
                )
        })
        .then_output(|| PublishOutput::builder().message_id("sns").build());
    // Two containers, each with its own client and window, one table.
    let containers = [(); 2].map(|()| {
        incident_sink(
            mock_client!(
                aws_sdk_sns,
                RuleMode::MatchAny,
                [&resolved_subject, &new, &resolved]
            ),
            &book,
        )
    });
    let fallback = finding(Kind::MailFromFallback, "example.com", Severity::Critical);
    for sink in &containers {
        for _ in 0..3 {
            assert!(sink.publish(std::slice::from_ref(&fallback)).await.is_ok());
        }
    }
    assert_eq!(new.num_calls(), 1, "one \"new\" across both containers");
    // Evidence, seen by both containers: one "resolved".
    for sink in &containers {
        assert!(
            sink.cleared(
                &IncidentKey::about(Kind::MailFromFallback, "example.com"),
                "a canary probe passed"
            )
            .await
            .is_ok()
        );
    }
    assert_eq!(resolved_subject.num_calls(), 1);
    assert_eq!(resolved.num_calls(), 0, "the subject rule matched first");
    // It opens again.
    assert!(containers[1].publish(&[fallback]).await.is_ok());
    assert_eq!(new.num_calls(), 2);
    assert_eq!(
        containers[0].take_incident_errors() + containers[1].take_incident_errors(),
        0
    );
}

#[tokio::test]
async fn without_the_table_the_alert_still_goes_out_and_is_counted() {
    let mut unreachable = MemoryIncidents::default();
    unreachable.unavailable = true;
    let book = std::sync::Arc::new(unreachable);
    let new = publish_in_state("new");
    let sink = incident_sink(mock_client!(aws_sdk_sns, [&new]), &book);
    let fallback = finding(Kind::MailFromFallback, "example.com", Severity::Critical);
    assert!(sink.publish(std::slice::from_ref(&fallback)).await.is_ok());
    assert_eq!(new.num_calls(), 1);
    assert_eq!(sink.take_incident_errors(), 1);
    assert_eq!(sink.take_incident_errors(), 0, "taken once");
}

#[tokio::test]
async fn an_incident_alert_that_fails_is_sent_by_the_retry() {
    let book = std::sync::Arc::new(MemoryIncidents::default());
    let rule = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(500, None)
        .times(3)
        .output(|| PublishOutput::builder().message_id("sns-2").build())
        .build();
    let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&rule], sns_retries);
    let sink = incident_sink(client, &book);
    let fallback = finding(Kind::MailFromFallback, "example.com", Severity::Critical);
    assert!(sink.publish(std::slice::from_ref(&fallback)).await.is_err());
    // The retry of the invocation: the incident was taken back, so it is "new" again.
    assert!(sink.publish(&[fallback]).await.is_ok());
    assert_eq!(rule.num_calls(), 4);
}

fn sns_retries(config: aws_sdk_sns::config::Builder) -> aws_sdk_sns::config::Builder {
    config.retry_config(
        aws_sdk_sns::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    )
}

#[tokio::test]
async fn alerts_are_published_once_per_window_with_attributes() {
    let rule = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            let subject = r.subject().unwrap_or_default();
            let attributes = r.message_attributes();
            r.topic_arn() == Some("arn:aws:sns:us-east-1:111122223333:alerts")
                && r.message_structure() == Some("json")
                && subject.len() <= 100
                && subject.starts_with("[CRITICAL] mail_from_fallback for example.com")
                && attributes
                    .and_then(|a| a.get("kind"))
                    .and_then(|v| v.string_value())
                    == Some("mail_from_fallback")
                && attributes
                    .and_then(|a| a.get("domain"))
                    .and_then(|v| v.string_value())
                    == Some("example.com")
                && r.message()
                    .is_some_and(|m| !m.contains('\r') && m.contains("\"email\""))
        })
        .then_output(|| PublishOutput::builder().message_id("sns-1").build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule]);
    let sink = alert_sink(client);
    let fallback = finding(Kind::MailFromFallback, "example.com", Severity::Critical);
    let info = finding(Kind::SpfFail, "example.com", Severity::Info);
    sink.publish(&[fallback.clone(), info])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sink.publish(std::slice::from_ref(&fallback))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sink.publish(&[fallback])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rule.num_calls(),
        1,
        "one alert, two suppressed, the info finding below threshold"
    );
}

#[tokio::test]
async fn a_failed_alert_fails_the_call_and_is_sent_again_next_time() {
    let rule = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(500, None)
        .times(3)
        .output(|| PublishOutput::builder().message_id("sns-2").build())
        .build();
    let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&rule], sns_retries);
    let sink = alert_sink(client);
    let fallback = finding(Kind::MailFromFallback, "example.com", Severity::Critical);
    let error = sink.publish(std::slice::from_ref(&fallback)).await;
    assert!(
        error.is_err(),
        "three 500s after retries must fail the invocation"
    );
    assert_eq!(rule.num_calls(), 3);
    // The retry of the invocation publishes it: the failure did not count as sent.
    sink.publish(&[fallback])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rule.num_calls(), 4);
}

#[tokio::test]
async fn throttled_publish_is_retried_within_the_call() {
    let rule = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_response(sns_throttled)
        .output(|| PublishOutput::builder().message_id("sns-3").build())
        .build();
    let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&rule], sns_retries);
    let sink = alert_sink(client);
    let result = sink
        .publish(&[finding(Kind::DmarcFail, "example.org", Severity::Critical)])
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn verified_domains_are_listed_across_pages() {
    use aws_sdk_sesv2::operation::list_email_identities::ListEmailIdentitiesOutput;
    use aws_sdk_sesv2::types::{IdentityInfo, IdentityType};
    let identity = |name: &str, kind: IdentityType, sending: bool| {
        IdentityInfo::builder()
            .identity_name(name)
            .identity_type(kind)
            .sending_enabled(sending)
            .build()
    };
    let first = mock!(aws_sdk_sesv2::Client::list_email_identities)
        .match_requests(|r| r.next_token().is_none())
        .then_output(move || {
            ListEmailIdentitiesOutput::builder()
                .email_identities(identity("Example.com", IdentityType::Domain, true))
                .email_identities(identity(
                    "ops@example.com",
                    IdentityType::EmailAddress,
                    true,
                ))
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_sesv2::Client::list_email_identities)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            ListEmailIdentitiesOutput::builder()
                .email_identities(identity("example.org", IdentityType::Domain, true))
                .email_identities(identity("paused.example", IdentityType::Domain, false))
                .build()
        });
    let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, [&first, &second]);
    let domains = SesV2Directory::new(client)
        .verified_domains()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(domains, ["example.com", "example.org"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_burst_of_findings_makes_one_alert_and_an_outage_loses_none() {
    let rule = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("sns-burst").build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule]);
    let sink = alert_sink(client);
    let burst: Vec<Finding> = (0..10_000)
        .map(|_| finding(Kind::DmarcFail, "example.com", Severity::Critical))
        .collect();
    sink.publish(&burst).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rule.num_calls(), 1);

    // An outage: every finding that should alert fails the call, none is counted as sent.
    let down = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&down], sns_retries);
    let sink = alert_sink(client);
    let result = sink
        .publish(&[
            finding(Kind::DmarcFail, "example.com", Severity::Critical),
            finding(Kind::MailFromFallback, "example.org", Severity::Critical),
        ])
        .await;
    match result {
        Err(ses_dmarc_monitor::ports::sink::SinkError::Delivery { count, .. }) => {
            assert_eq!(count, 2);
        }
        other => panic!("{other:?}"),
    }
}

/// The one message in `event` as observed, its raw content read through `store`.
async fn observed_with(
    event: &serde_json::Value,
    store: &ses_dmarc_monitor_lambda::aws::s3::S3RawMessages,
) -> ses_dmarc_monitor::read::observation::Observation {
    use ses_dmarc_monitor::flow::analysis::{RecordOutcome, run_records_with};
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory: &ses_dmarc_monitor::ports::directory::NoDirectory,
    };
    let outcomes = run_records_with(
        event.to_string().as_bytes(),
        ports,
        &Settings::default(),
        ses_dmarc_monitor::flow::analysis::Inbound {
            raw: store,
            probes: &ses_dmarc_monitor::ports::probes::NoProbes,
            scope: &ses_dmarc_monitor::ports::scope::Everything,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    match &outcomes[..] {
        [(_, RecordOutcome::Analyzed { observation, .. })] => (**observation).clone(),
        other => panic!("{other:?}"),
    }
}

/// The notes of the one message in `event`, its raw content read through `store`.
async fn notes_with(
    event: &serde_json::Value,
    store: &ses_dmarc_monitor_lambda::aws::s3::S3RawMessages,
) -> Vec<String> {
    observed_with(event, store).await.notes
}

/// The receipt rule's S3 action stored the message; the Lambda action's event carries only
/// its headers. The receipt function reads the object (`<prefix><message id>`) and
/// re-verifies it; a missing object is no error, a failing read a note, never a lost record.
#[tokio::test]
async fn the_raw_message_is_read_from_the_s3_actions_object() {
    use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::error::NoSuchKey;
    use ses_dmarc_monitor::read::observation::{NotReverified, Reverification};
    use ses_dmarc_monitor_lambda::aws::s3::S3RawMessages;

    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/raw-canary.eml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let stored = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| {
            r.bucket() == Some("ses-raw") && r.key() == Some("raw/aligned0001@email.amazonses.com")
        })
        .then_output(move || {
            GetObjectOutput::builder()
                .body(ByteStream::from(raw.clone()))
                .build()
        });
    let missing = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key() == Some("raw/none"))
        .then_error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()));
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&stored, &missing]);
    let store = S3RawMessages::new(client, "ses-raw".into(), "raw/".into());

    let mut aligned: serde_json::Value =
        serde_json::from_slice(&event("receipt-aligned.json")).unwrap_or_default();
    aligned["Records"][0]["ses"]["mail"]["messageId"] = "aligned0001@email.amazonses.com".into();
    let found = observed_with(&aligned, &store).await;
    // Offline the raw message cannot be re-verified, and the observation says it came.
    assert_eq!(
        found.reverification,
        Reverification::NotDone(NotReverified::NoDns)
    );
    assert_eq!(stored.num_calls(), 1);

    aligned["Records"][0]["ses"]["mail"]["messageId"] = "none".into();
    let none = observed_with(&aligned, &store).await;
    assert!(none.notes.is_empty());
    assert_eq!(none.reverification, Reverification::NoContent);
    assert_eq!(missing.num_calls(), 1);

    // Larger than the functions' memory allows: not read, and the note says so.
    let huge = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
        GetObjectOutput::builder()
            .content_length(20 * 1024 * 1024)
            .body(ByteStream::from_static(b"x"))
            .build()
    });
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&huge]);
    let store = S3RawMessages::new(client, "ses-raw".into(), "raw/".into());
    let large = notes_with(&aligned, &store).await;
    assert!(
        large
            .iter()
            .any(|n| n.contains("20971520 bytes, more than the 8 MiB re-verified")),
    );

    // S3 failing: judged from SES's header list, and the note says why.
    let broken = mock!(aws_sdk_s3::Client::get_object).then_http_response(|| {
        aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403)
                .unwrap_or_else(|e| panic!("{e}")),
            aws_smithy_types::body::SdkBody::from(
                "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
            ),
        )
    });
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&broken]);
    let store = S3RawMessages::new(client, "ses-raw".into(), "raw/".into());
    let denied = notes_with(&aligned, &store).await;
    let notes = denied;
    assert!(
        notes.iter().any(|n| n
            .starts_with("the stored message s3://ses-raw/raw/none could not be read")
            && n.ends_with("SES's header list used")),
        "{notes:?}"
    );
}

/// An identity's SES tenants, listed by its ARN in the function's own account and region;
/// without the account (no function ARN), nothing is asked.
#[tokio::test]
async fn an_identitys_tenants_are_listed_by_its_arn() {
    use aws_sdk_sesv2::operation::list_resource_tenants::ListResourceTenantsOutput;
    use aws_sdk_sesv2::types::ResourceTenantMetadata;
    let rule = mock!(aws_sdk_sesv2::Client::list_resource_tenants)
        .match_requests(|r| {
            r.resource_arn() == Some("arn:aws:ses:eu-west-1:111122223333:identity/example.com")
        })
        .then_output(|| {
            ListResourceTenantsOutput::builder()
                .resource_tenants(
                    ResourceTenantMetadata::builder()
                        .tenant_name("billing-unit")
                        .build(),
                )
                .build()
        });
    let directory = SesV2Directory::new(mock_client!(aws_sdk_sesv2, [&rule]));
    let unknown_account = directory.tenants("example.com").await;
    assert_eq!(unknown_account.map_err(|e| e.to_string()), Ok(Vec::new()));
    assert_eq!(rule.num_calls(), 0);
    let located = directory
        .with_account_of("arn:aws:lambda:eu-west-1:111122223333:function:stack-DigestFunction-x");
    let tenants = located.tenants("example.com").await;
    assert_eq!(
        tenants.map_err(|e| e.to_string()),
        Ok(vec!["billing-unit".to_owned()])
    );
    assert_eq!(rule.num_calls(), 1);
}

/// A configuration set's TLS policy as `GetConfigurationSet` gives it: Require, Optional, no
/// delivery options (SES's default, Optional), and a set that no longer exists (not known).
#[tokio::test]
async fn the_tls_policy_of_a_configuration_set_is_read() {
    use aws_sdk_sesv2::operation::get_configuration_set::{
        GetConfigurationSetError, GetConfigurationSetOutput,
    };
    use aws_sdk_sesv2::types::{DeliveryOptions, TlsPolicy as Sdk};
    use ses_dmarc_monitor::judge::bulk::TlsPolicy;
    let with = |policy: Option<Sdk>| {
        move || {
            let builder = GetConfigurationSetOutput::builder().configuration_set_name("set");
            match policy.clone() {
                Some(policy) => builder
                    .delivery_options(DeliveryOptions::builder().tls_policy(policy).build())
                    .build(),
                None => builder.build(),
            }
        }
    };
    let require = mock!(aws_sdk_sesv2::Client::get_configuration_set)
        .match_requests(|r| r.configuration_set_name() == Some("require"))
        .then_output(with(Some(Sdk::Require)));
    let optional = mock!(aws_sdk_sesv2::Client::get_configuration_set)
        .match_requests(|r| r.configuration_set_name() == Some("optional"))
        .then_output(with(Some(Sdk::Optional)));
    let bare = mock!(aws_sdk_sesv2::Client::get_configuration_set)
        .match_requests(|r| r.configuration_set_name() == Some("bare"))
        .then_output(with(None));
    let gone = mock!(aws_sdk_sesv2::Client::get_configuration_set)
        .match_requests(|r| r.configuration_set_name() == Some("gone"))
        .then_error(|| {
            GetConfigurationSetError::NotFoundException(NotFoundException::builder().build())
        });
    let directory = SesV2Directory::new(mock_client!(
        aws_sdk_sesv2,
        RuleMode::MatchAny,
        [&require, &optional, &bare, &gone]
    ));
    let cases = [
        ("require", Some(TlsPolicy::Require)),
        ("optional", Some(TlsPolicy::Optional)),
        ("bare", Some(TlsPolicy::Optional)),
        ("gone", None),
    ];
    for (set, expected) in cases {
        let policy = directory
            .tls_policy(set)
            .await
            .unwrap_or_else(|e| panic!("{set}: {e}"));
        assert_eq!(policy, expected, "{set}");
    }
}
