//! The posture audit against a real DNS server on loopback: a healthy domain, a MAIL FROM
//! without MX, with the MX in the wrong region, with two MX records, a deleted DKIM CNAME,
//! `aspf=s`, no DMARC record, and a record found at the organizational domain by the walk.

use crate::common;

use ses_dmarc_monitor::edge::dns::DnsFacts;
use ses_dmarc_monitor::judge::findings::{Kind, Severity};
use ses_dmarc_monitor::judge::posture::{
    self, AuditOutcome, PostureCheck as Check, Target, Verdict,
};
use ses_dmarc_monitor::ports::dns::AuditDns as _;
use ses_dmarc_monitor::read::identity_state::IdentityState;
use ses_dmarc_monitor::say::explain::{self, Detail as _};

const ZONE: &str = r#"
$ORIGIN .
$TTL 300
@                                    IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
mail.healthy.example.                IN MX  10 feedback-smtp.us-east-1.amazonses.com.
mail.healthy.example.                IN TXT "v=spf1 include:amazonses.com ~all"
_dmarc.healthy.example.              IN TXT "v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@healthy.example"
tok1._domainkey.healthy.example.     IN CNAME tok1.dkim.amazonses.com.
tok2._domainkey.healthy.example.     IN CNAME tok2.dkim.amazonses.com.
mail.nomx.example.                   IN TXT "v=spf1 include:amazonses.com ~all"
_dmarc.nomx.example.                 IN TXT "v=DMARC1; p=none; rua=mailto:d@nomx.example"
mail.wrongregion.example.            IN MX  10 feedback-smtp.eu-west-1.amazonses.com.
mail.wrongregion.example.            IN TXT "v=spf1 include:amazonses.com ~all"
_dmarc.wrongregion.example.          IN TXT "v=DMARC1; p=reject; rua=mailto:d@wrongregion.example"
mail.twomx.example.                  IN MX  10 feedback-smtp.us-east-1.amazonses.com.
mail.twomx.example.                  IN MX  20 mx.twomx.example.
mail.twomx.example.                  IN TXT "v=spf1 mx ~all"
_dmarc.twomx.example.                IN TXT "v=DMARC1; p=reject; rua=mailto:d@twomx.example"
tok1._domainkey.nodkim.example.      IN CNAME tok1.dkim.amazonses.com.
_dmarc.nodkim.example.               IN TXT "v=DMARC1; p=reject; rua=mailto:d@nodkim.example"
mail.strict.example.                 IN MX  10 feedback-smtp.us-east-1.amazonses.com.
mail.strict.example.                 IN TXT "v=spf1 include:amazonses.com ~all"
_dmarc.strict.example.               IN TXT "v=DMARC1; p=reject; aspf=s; rua=mailto:d@strict.example"
www.nodmarc.example.                 IN A   192.0.2.1
_dmarc.org.example.                  IN TXT "v=DMARC1; p=quarantine; rua=mailto:d@org.example"
news.org.example.                    IN A   192.0.2.2
_dmarc.outsourced.example.           IN TXT "v=DMARC1; p=reject; rua=mailto:d@outsourced.example,mailto:agg@reports.elsewhere.example"
_dmarc.allowed.example.              IN TXT "v=DMARC1; p=reject; rua=mailto:agg@reports.elsewhere.example"
allowed.example._report._dmarc.reports.elsewhere.example. IN TXT "v=DMARC1"
10.2.0.192.in-addr.arpa.             IN PTR mta.healthy.example.
mta.healthy.example.                 IN A   192.0.2.10
"#;

fn state(mail_from: Option<&str>, tokens: &[&str]) -> IdentityState {
    serde_json::from_value(serde_json::json!({
        "MailFromAttributes": mail_from.map(|m| serde_json::json!({
            "MailFromDomain": m, "MailFromDomainStatus": "SUCCESS", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"
        })),
        "DkimAttributes": if tokens.is_empty() { serde_json::Value::Null } else { serde_json::json!({
            "SigningEnabled": true, "Status": "SUCCESS", "SigningAttributesOrigin": "AWS_SES", "Tokens": tokens
        })},
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn run(
    dns: &DnsFacts,
    domain: &str,
    mail_from: Option<&str>,
    tokens: &[&str],
) -> AuditOutcome {
    let target = Target {
        identity: domain.to_owned(),
        domain: domain.to_owned(),
        region: "us-east-1".to_owned(),
        state: Some(state(mail_from, tokens)),
        mail_from_domain: mail_from.map(str::to_owned),
    };
    let view = dns.audit_view(&target).await;
    posture::audit(&target, &view)
}

fn kinds(report: &AuditOutcome) -> Vec<(Kind, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.kind(), f.severity()))
        .collect()
}

fn failed(report: &AuditOutcome) -> Vec<Check> {
    report.failed().map(|c| c.check).collect()
}

#[tokio::test]
async fn audit_against_loopback_dns() {
    let (addr, _server) = common::start_dns(ZONE).await;
    let dns = DnsFacts::nameserver(addr).unwrap_or_else(|e| panic!("{e}"));

    let healthy = run(
        &dns,
        "healthy.example",
        Some("mail.healthy.example"),
        &["tok1", "tok2"],
    )
    .await;
    assert_eq!(kinds(&healthy), [], "{healthy:#?}");
    assert!(
        healthy.checks.iter().all(|c| c.verdict == Verdict::Pass),
        "{healthy:#?}"
    );

    let nomx = run(&dns, "nomx.example", Some("mail.nomx.example"), &[]).await;
    assert_eq!(
        kinds(&nomx),
        [(Kind::MailFromMxMissing, Severity::Critical)]
    );
    assert!(
        nomx.findings[0].detail().contains("about to fall back"),
        "{}",
        nomx.findings[0].detail()
    );
    assert_eq!(failed(&nomx), [Check::MailFromMx]);
    // p=none is a note on a passing check, not a finding.
    assert!(nomx.checks.iter().any(|c| c.check == Check::Dmarc
        && explain::observed(&c.observed).contains("p=none monitors only")));

    let wrong = run(
        &dns,
        "wrongregion.example",
        Some("mail.wrongregion.example"),
        &[],
    )
    .await;
    assert_eq!(
        kinds(&wrong),
        [(Kind::MailFromMxMissing, Severity::Critical)]
    );
    assert!(wrong.findings[0].detail().contains(
        "feedback-smtp.eu-west-1.amazonses.com instead of feedback-smtp.us-east-1.amazonses.com"
    ));

    let two = run(&dns, "twomx.example", Some("mail.twomx.example"), &[]).await;
    assert_eq!(
        kinds(&two),
        [
            (Kind::MailFromMxMissing, Severity::Warning),
            (Kind::MailFromSpfMissing, Severity::Warning)
        ]
    );

    let nodkim = run(&dns, "nodkim.example", None, &["tok1", "tok2"]).await;
    assert_eq!(kinds(&nodkim), [(Kind::DkimDnsMissing, Severity::Critical)]);
    assert!(
        nodkim.findings[0]
            .detail()
            .contains("tok2._domainkey.nodkim.example")
    );
    assert!(!nodkim.findings[0].detail().contains("tok1._domainkey"));

    let strict = run(&dns, "strict.example", Some("mail.strict.example"), &[]).await;
    assert_eq!(
        kinds(&strict),
        [(Kind::StrictSpfAlignment, Severity::Warning)]
    );

    let nodmarc = run(&dns, "nodmarc.example", None, &[]).await;
    assert_eq!(kinds(&nodmarc), [(Kind::NoDmarcPolicy, Severity::Warning)]);

    // The walk finds org.example's record for news.org.example.
    let walked = run(&dns, "news.org.example", None, &[]).await;
    assert_eq!(kinds(&walked), []);
    let dmarc = walked.checks.iter().find(|c| c.check == Check::Dmarc);
    assert!(
        dmarc.is_some_and(
            |c| explain::observed(&c.observed).contains("p=quarantine (record at org.example")
        ),
        "{walked:#?}"
    );
}

#[tokio::test]
async fn report_destinations_outside_the_domain_must_agree() {
    let (addr, _server) = common::start_dns(ZONE).await;
    let dns = DnsFacts::nameserver(addr).unwrap_or_else(|e| panic!("{e}"));
    // rua= to its own domain and to another one that publishes no authorization.
    let outsourced = run(&dns, "outsourced.example", None, &[]).await;
    assert_eq!(
        kinds(&outsourced),
        [(Kind::ReportDestinationUnauthorized, Severity::Warning)],
        "{outsourced:#?}"
    );
    assert_eq!(failed(&outsourced), [Check::ReportAuthorization]);
    let detail = outsourced.findings[0].detail();
    assert!(
        detail.contains("outsourced.example._report._dmarc.reports.elsewhere.example"),
        "{detail}"
    );
    // The other domain agreed.
    let allowed = run(&dns, "allowed.example", None, &[]).await;
    assert_eq!(kinds(&allowed), [], "{allowed:#?}");
    assert!(
        allowed
            .checks
            .iter()
            .any(|c| c.check == Check::ReportAuthorization && c.verdict == Verdict::Pass)
    );
    // Reports to the domain itself need nothing, and no check is listed.
    let healthy = run(&dns, "healthy.example", None, &[]).await;
    assert!(
        !healthy
            .checks
            .iter()
            .any(|c| c.check == Check::ReportAuthorization)
    );
}

#[tokio::test]
async fn unreachable_dns_judges_nothing() {
    // A port nothing listens on: every lookup fails, and no check is called failed.
    let dns = DnsFacts::nameserver_with_timeout(
        "127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}")),
        std::time::Duration::from_millis(100),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let report = run(&dns, "healthy.example", Some("mail.healthy.example"), &[]).await;
    assert_eq!(kinds(&report), []);
    assert!(
        report.checks.iter().all(|c| match c.check {
            Check::MailFromMx | Check::MailFromSpf | Check::DkimDns | Check::Dmarc =>
                c.verdict == Verdict::Unjudged,
            _ => c.verdict != Verdict::Fail,
        }),
        "{report:#?}"
    );
}

/// The CLI, run beside the test's DNS server: off the runtime thread, which serves DNS.
async fn run_cli(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ses-dmarc-monitor"))
            .args(args)
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn cli_check_prints_findings_and_exit_codes() {
    let strings = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let (addr, _server) = common::start_dns(ZONE).await;
    let addr = addr.to_string();
    let output = run_cli(strings(&[
        "check",
        "--nameserver",
        &addr,
        "--mail-from-domain",
        "mail.nomx.example",
        "--format",
        "json",
        "--fail-on",
        "critical",
        "nomx.example",
        "healthy.example",
    ]))
    .await;
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(kinds, ["mail_from_mx_missing"]);
    assert_eq!(lines[0]["input"], "nomx.example");

    let output = run_cli(strings(&[
        "check",
        "--nameserver",
        &addr,
        "nodmarc.example",
        "not a domain",
    ]))
    .await;
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("FAIL dmarc: no DMARC record for nodmarc.example"),
        "{text}"
    );
    assert!(text.contains("warning no_dmarc_policy"), "{text}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("\"not a domain\" is not a domain"));
}

mod run {
    use super::*;
    use aws_sdk_sesv2::operation::get_email_identity::{
        GetEmailIdentityError, GetEmailIdentityOutput,
    };
    use aws_sdk_sesv2::operation::list_email_identities::ListEmailIdentitiesOutput;
    use aws_sdk_sesv2::types::error::NotFoundException;
    use aws_sdk_sesv2::types::{
        BehaviorOnMxFailure, DkimAttributes, DkimSigningAttributesOrigin, DkimStatus, IdentityInfo,
        IdentityType, MailFromAttributes, MailFromDomainStatus,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use ses_dmarc_monitor::edge::identity_cache::{CachedDirectory, Paced};
    use ses_dmarc_monitor::flow::audit as handler;
    use ses_dmarc_monitor::ports::audit_cursor::MemoryCursor;
    use ses_dmarc_monitor::ports::clock::FixedClock;
    use ses_dmarc_monitor::ports::rollups::MemoryRollups;
    use ses_dmarc_monitor::ports::scope::Everything;
    use ses_dmarc_monitor::ports::sink::MemorySink;
    use ses_dmarc_monitor_lambda::aws::sesv2::SesV2Directory;
    use std::time::Duration;

    static CLOCK: FixedClock = FixedClock(std::sync::atomic::AtomicU64::new(1_796_000_000));
    static NO_CURSOR: Option<MemoryCursor> = None;

    /// No deadline, no place kept.
    fn unbounded() -> handler::Bounds<'static, FixedClock, Option<MemoryCursor>> {
        handler::Bounds {
            clock: &CLOCK,
            deadline: None,
            cursor: &NO_CURSOR,
            at_once: handler::AT_ONCE,
        }
    }

    /// Bulk-sender readiness not judged.
    fn off() -> handler::Readiness<'static, MemoryRollups> {
        handler::Readiness::Off
    }

    /// The account's configuration sets, as SESv2 lists them.
    fn sets() -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_sesv2::Client::list_configuration_sets).then_output(|| {
            aws_sdk_sesv2::operation::list_configuration_sets::ListConfigurationSetsOutput::builder(
            )
            .configuration_sets("monitored")
            .build()
        })
    }

    fn everything() -> handler::Watching<'static, Everything> {
        handler::Watching {
            scope: &Everything,
            canary: true,
            bulk_sender: true,
        }
    }

    fn info(name: &str, kind: IdentityType) -> IdentityInfo {
        IdentityInfo::builder()
            .identity_name(name)
            .identity_type(kind)
            .sending_enabled(true)
            .build()
    }

    fn output(mail_from: Option<&str>, tokens: &[&str]) -> GetEmailIdentityOutput {
        let mut builder = GetEmailIdentityOutput::builder();
        if let Some(mail_from) = mail_from {
            builder = builder.mail_from_attributes(
                MailFromAttributes::builder()
                    .mail_from_domain(mail_from)
                    .mail_from_domain_status(MailFromDomainStatus::Success)
                    .behavior_on_mx_failure(BehaviorOnMxFailure::UseDefaultValue)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        }
        if !tokens.is_empty() {
            let mut dkim = DkimAttributes::builder()
                .signing_enabled(true)
                .status(DkimStatus::Success)
                .signing_attributes_origin(DkimSigningAttributesOrigin::AwsSes);
            for token in tokens {
                dkim = dkim.tokens(*token);
            }
            builder = builder.dkim_attributes(dkim.build());
        }
        builder.build()
    }

    fn throttled() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
        let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(429)
                .unwrap_or_else(|e| panic!("{e}")),
            aws_smithy_types::body::SdkBody::from(r#"{"message":"Too many requests"}"#),
        );
        response
            .headers_mut()
            .insert("x-amzn-errortype", "TooManyRequestsException");
        response
    }

    #[tokio::test]
    async fn every_identity_is_audited_within_the_rate_limit() {
        let (addr, _server) = common::start_dns(ZONE).await;
        let dns = DnsFacts::nameserver(addr).unwrap_or_else(|e| panic!("{e}"));

        let page1 = mock!(aws_sdk_sesv2::Client::list_email_identities)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListEmailIdentitiesOutput::builder()
                    .email_identities(info("healthy.example", IdentityType::Domain))
                    .email_identities(info("ops@nomx.example", IdentityType::EmailAddress))
                    .next_token("2")
                    .build()
            });
        let page2 = mock!(aws_sdk_sesv2::Client::list_email_identities)
            .match_requests(|r| r.next_token() == Some("2"))
            .then_output(|| {
                ListEmailIdentitiesOutput::builder()
                    .email_identities(info("nomx.example", IdentityType::Domain))
                    .email_identities(info("nodmarc.example", IdentityType::Domain))
                    .build()
            });
        // healthy.example is throttled once, then answered (the SDK retries with backoff).
        let healthy = mock!(aws_sdk_sesv2::Client::get_email_identity)
            .match_requests(|r| r.email_identity() == Some("healthy.example"))
            .sequence()
            .http_response(throttled)
            .output(|| output(Some("mail.healthy.example"), &["tok1", "tok2"]))
            .build();
        let nomx = mock!(aws_sdk_sesv2::Client::get_email_identity)
            .match_requests(|r| r.email_identity() == Some("nomx.example"))
            .then_output(|| output(Some("mail.nomx.example"), &[]));
        let unknown = mock!(aws_sdk_sesv2::Client::get_email_identity)
            .match_requests(|r| r.email_identity() == Some("nodmarc.example"))
            .then_error(|| {
                GetEmailIdentityError::NotFoundException(NotFoundException::builder().build())
            });
        let client = mock_client!(
            aws_sdk_sesv2,
            RuleMode::MatchAny,
            [&page1, &page2, &healthy, &nomx, &unknown, &sets()],
            |c| c.retry_config(
                aws_sdk_sesv2::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1))
            )
        );
        let sesv2 = SesV2Directory::new(client);
        let directory = CachedDirectory::new(
            Paced::new(sesv2.clone(), Duration::from_millis(50)),
            Duration::from_secs(300),
        );
        let sink = MemorySink::default();
        let started = std::time::Instant::now();
        let (run, result) = handler::audit(
            &sesv2,
            &directory,
            &dns,
            everything(),
            &sink,
            "us-east-1",
            unbounded(),
            off(),
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        // Three domains, in order (the address identity folds into nomx.example), three
        // GetEmailIdentity calls spaced by the pace.
        let domains: Vec<&str> = run.reports.iter().map(|r| r.domain.as_str()).collect();
        assert_eq!(
            domains,
            ["healthy.example", "nodmarc.example", "nomx.example"]
        );
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(
            (healthy.num_calls(), nomx.num_calls(), unknown.num_calls()),
            (2, 1, 1)
        );
        // Checked a few at once: published in the order they finished.
        let mut kinds: Vec<(String, Kind)> = sink
            .0
            .lock()
            .map(|f| {
                f.iter()
                    .map(|f| (f.domain.clone().unwrap_or_default(), f.kind()))
                    .collect()
            })
            .unwrap_or_default();
        kinds.sort();
        assert_eq!(
            kinds,
            [
                ("nodmarc.example".to_owned(), Kind::NoDmarcPolicy),
                ("nomx.example".to_owned(), Kind::MailFromMxMissing),
            ]
        );
        let failed = run.failed_checks();
        assert_eq!(failed.get(&Check::MailFromMx), Some(&1));
        assert_eq!(failed.get(&Check::Dmarc), Some(&1));
        // The passing checks are evidence: healthy.example's MAIL FROM is in use and its MX
        // right, so incidents of those kinds end; nomx.example's MX incident does not.
        let cleared = sink.cleared_pairs();
        let healthy = |kind| cleared.contains(&(kind, "healthy.example".to_owned()));
        assert!(
            healthy(Kind::MailFromFallback) && healthy(Kind::MailFromMxMissing),
            "{cleared:?}"
        );
        assert!(!cleared.contains(&(Kind::MailFromMxMissing, "nomx.example".to_owned())));
        assert!(!cleared.contains(&(Kind::NoDmarcPolicy, "nodmarc.example".to_owned())));
    }

    /// A lister that cannot list, as when ListEmailIdentities is denied or down.
    struct CannotList;

    impl ses_dmarc_monitor::ports::directory::IdentityLister for CannotList {
        async fn verified_domains(
            &self,
        ) -> Result<Vec<String>, ses_dmarc_monitor::ports::directory::ListError> {
            Err(ses_dmarc_monitor::ports::directory::ListError {
                denied: true,
                cause: "AccessDeniedException".into(),
            })
        }
        async fn identities(
            &self,
        ) -> Result<Vec<String>, ses_dmarc_monitor::ports::directory::ListError> {
            self.verified_domains().await
        }
    }

    /// Every path that ends an audit run short: what its metrics then say.
    /// DNS that takes `seconds` of the clock per identity and cannot answer.
    struct Slow<'a> {
        clock: &'a FixedClock,
        seconds: u64,
    }

    impl ses_dmarc_monitor::ports::dns::AuditDns for Slow<'_> {
        async fn audit_view(
            &self,
            _target: &ses_dmarc_monitor::judge::posture::Target,
        ) -> ses_dmarc_monitor::judge::posture::DnsView {
            use ses_dmarc_monitor::ports::clock::Clock as _;
            self.clock.set(self.clock.now() + self.seconds);
            ses_dmarc_monitor::judge::posture::DnsView {
                mail_from_mx: None,
                mail_from_txt: None,
                dkim: Vec::new(),
                dmarc: ses_dmarc_monitor::judge::posture::Lookup::Failed("silent".into()),
                report_authorizations: Vec::new(),
            }
        }
    }

    #[tokio::test]
    async fn a_run_that_reaches_its_deadline_is_continued_by_the_next() {
        let names: Vec<String> = (1..=9).map(|i| format!("d{i}.example")).collect();
        let listed = names.clone();
        let page = mock!(aws_sdk_sesv2::Client::list_email_identities).then_output(move || {
            let mut output = ListEmailIdentitiesOutput::builder();
            // Listed out of order: runs take them by domain.
            for name in listed.iter().rev() {
                output = output.email_identities(info(name, IdentityType::Domain));
            }
            output.build()
        });
        let state = mock!(aws_sdk_sesv2::Client::get_email_identity)
            .then_output(|| output(Some("mail.example.net"), &[]));
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, [&page, &state, &sets()]);
        let sesv2 = SesV2Directory::new(client);
        let clock = FixedClock::at(1_796_000_000);
        let dns = Slow {
            clock: &clock,
            seconds: 10,
        };
        let cursor = Some(MemoryCursor::default());
        let sink = MemorySink::default();
        // Each run has 60 s; an identity takes 10 s, and none starts within 30 s of the end.
        let mut runs = Vec::new();
        for _ in 0..3 {
            use ses_dmarc_monitor::ports::clock::Clock as _;
            let bounds = handler::Bounds {
                clock: &clock,
                deadline: Some(clock.now() + 60),
                cursor: &cursor,
                at_once: 1,
            };
            let (run, result) = handler::audit(
                &sesv2,
                &sesv2,
                &dns,
                everything(),
                &sink,
                "us-east-1",
                bounds,
                off(),
            )
            .await;
            assert!(result.is_ok(), "{result:?}");
            let domains: Vec<String> = run.reports.iter().map(|r| r.domain.clone()).collect();
            runs.push((domains, run.deferred, run.counts().deferred));
        }
        let slice =
            |range: &[usize]| -> Vec<String> { range.iter().map(|i| names[*i].clone()).collect() };
        assert_eq!(
            runs,
            [
                (slice(&[0, 1, 2, 3]), 5, 5),
                (slice(&[4, 5, 6, 7]), 5, 5),
                // Around again: the last domain, then from the first.
                (slice(&[8, 0, 1, 2]), 5, 5),
            ]
        );
        // Without a deadline, a run goes through to the end and the next starts afresh.
        let bounds = handler::Bounds {
            clock: &clock,
            deadline: None,
            cursor: &cursor,
            at_once: 4,
        };
        let (run, _) = handler::audit(
            &sesv2,
            &sesv2,
            &dns,
            everything(),
            &sink,
            "us-east-1",
            bounds,
            off(),
        )
        .await;
        assert_eq!(run.reports.len(), 9);
        assert_eq!(run.reports[0].domain, "d4.example");
        assert_eq!(cursor.as_ref().map(|c| c.snapshot()), Some(None));
    }

    #[tokio::test]
    async fn a_short_run_reports_what_it_could_not_judge() {
        let silent = DnsFacts::nameserver_with_timeout(
            "127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}")),
            Duration::from_millis(100),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let sink = MemorySink::default();

        // The identities cannot be listed: nothing judged, and no "0 failed".
        let (run, result) = handler::audit(
            &CannotList,
            &ses_dmarc_monitor::ports::directory::NoDirectory,
            &silent,
            everything(),
            &sink,
            "us-east-1",
            unbounded(),
            off(),
        )
        .await;
        assert!(result.is_err());
        let counts = run.counts();
        assert_eq!((counts.identities, counts.unjudged_total()), (None, 1));

        // One identity listed, DNS silent: its checks unjudged, none failed, none called 0.
        let page = mock!(aws_sdk_sesv2::Client::list_email_identities).then_output(|| {
            ListEmailIdentitiesOutput::builder()
                .email_identities(
                    IdentityInfo::builder()
                        .identity_name("healthy.example")
                        .identity_type(IdentityType::Domain)
                        .sending_enabled(true)
                        .build(),
                )
                .build()
        });
        let state = mock!(aws_sdk_sesv2::Client::get_email_identity)
            .then_output(|| output(Some("mail.healthy.example"), &["tok1"]));
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, [&page, &state, &sets()]);
        let sesv2 = SesV2Directory::new(client);
        let (run, result) = handler::audit(
            &sesv2,
            &sesv2,
            &silent,
            everything(),
            &sink,
            "us-east-1",
            unbounded(),
            off(),
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        let counts = run.counts();
        assert_eq!(counts.identities, Some(1));
        assert!(counts.failed.is_empty(), "{counts:?}");
        assert!(counts.unjudged_total() >= 3, "{counts:?}");
        let lines = ses_dmarc_monitor::say::metrics::audit_emf("M", "audit", &counts, 1);
        assert!(!lines[0].contains("AuditChecksFailed"), "{}", lines[0]);
    }

    /// The failed requirements published, as (domain, requirement, severity).
    fn failed_requirements(sink: &MemorySink) -> Vec<(String, String, Severity)> {
        let mut failed: Vec<(String, String, Severity)> = sink
            .0
            .lock()
            .map(|f| {
                f.iter()
                    .filter(|f| f.kind() == Kind::BulkRequirementFailed)
                    .map(|f| {
                        (
                            f.domain.clone().unwrap_or_default(),
                            f.facts.subject().unwrap_or_default().to_owned(),
                            f.severity(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        failed.sort();
        failed
    }

    /// Bulk-sender readiness in the scheduled audit, under the SDK's mocking layer and a DNS
    /// server on loopback: the TLS policy read from the identity's default configuration set
    /// (`GetConfigurationSet`), the complaint rate from the feedback rollups, each failed
    /// requirement a finding beside the posture's and paging through the finding that broke
    /// it, each met one evidence that ends its incident.
    #[tokio::test]
    async fn the_audit_judges_every_identitys_bulk_sender_readiness() {
        use aws_sdk_sesv2::operation::get_configuration_set::GetConfigurationSetOutput;
        use aws_sdk_sesv2::types::{DeliveryOptions, TlsPolicy};
        use ses_dmarc_monitor::judge::cause;
        use ses_dmarc_monitor::ports::rollups::{Addition, FeedbackDay, Rollups as _};

        let (addr, _server) = common::start_dns(ZONE).await;
        let dns = DnsFacts::nameserver(addr).unwrap_or_else(|e| panic!("{e}"));
        let listing = mock!(aws_sdk_sesv2::Client::list_email_identities).then_output(|| {
            ListEmailIdentitiesOutput::builder()
                .email_identities(info("healthy.example", IdentityType::Domain))
                .email_identities(info("nomx.example", IdentityType::Domain))
                .email_identities(info("nodmarc.example", IdentityType::Domain))
                .build()
        });
        // healthy.example sends with its default configuration set, which requires TLS.
        let healthy = mock!(aws_sdk_sesv2::Client::get_email_identity)
            .match_requests(|r| r.email_identity() == Some("healthy.example"))
            .then_output(|| {
                let mut state = output(Some("mail.healthy.example"), &["tok1", "tok2"]);
                state.configuration_set_name = Some("marketing".to_owned());
                state
            });
        let nomx = mock!(aws_sdk_sesv2::Client::get_email_identity)
            .match_requests(|r| r.email_identity() == Some("nomx.example"))
            .then_output(|| output(Some("mail.nomx.example"), &["tok1"]));
        let unknown = mock!(aws_sdk_sesv2::Client::get_email_identity)
            .match_requests(|r| r.email_identity() == Some("nodmarc.example"))
            .then_error(|| {
                GetEmailIdentityError::NotFoundException(NotFoundException::builder().build())
            });
        let marketing = mock!(aws_sdk_sesv2::Client::get_configuration_set)
            .match_requests(|r| r.configuration_set_name() == Some("marketing"))
            .then_output(|| {
                GetConfigurationSetOutput::builder()
                    .configuration_set_name("marketing")
                    .delivery_options(
                        DeliveryOptions::builder()
                            .tls_policy(TlsPolicy::Require)
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(
            aws_sdk_sesv2,
            RuleMode::MatchAny,
            [&listing, &healthy, &nomx, &unknown, &marketing, &sets()]
        );
        let sesv2 = SesV2Directory::new(client);
        // A week of feedback: healthy.example's mail (and a subdomain's) complained of at
        // 0.5%; nomx.example's too little to say; a day before the week does not count.
        let rollups = MemoryRollups::default();
        let today = ses_dmarc_monitor::judge::digest::day_start(
            CLOCK.0.load(std::sync::atomic::Ordering::Relaxed),
        );
        let feedback = |deliveries, complaints| {
            Addition::Feedback(FeedbackDay {
                deliveries,
                complaints,
                auth_bounces: 0,
            })
        };
        for (day, domain, added) in [
            (today, "healthy.example", feedback(600, 3)),
            (today - 6 * 86_400, "news.healthy.example", feedback(400, 2)),
            (
                today - 7 * 86_400,
                "healthy.example",
                feedback(1_000_000, 0),
            ),
            (today, "nomx.example", feedback(40, 1)),
        ] {
            rollups
                .add(day, domain, &added)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let sink = MemorySink::default();
        let (run, result) = handler::audit(
            &sesv2,
            &sesv2,
            &dns,
            everything(),
            &sink,
            "us-east-1",
            unbounded(),
            handler::Readiness::On { rollups: &rollups },
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(marketing.num_calls(), 1);

        let status = |domain: &str, requirement: &str| {
            run.readiness
                .iter()
                .find(|(d, _)| d == domain)
                .and_then(|(_, judged)| {
                    judged
                        .iter()
                        .find(|j| j.requirement.as_str() == requirement)
                })
                .map(|j| (j.status.as_str(), j.evidence.map(|e| e.as_str())))
                .unwrap_or_else(|| panic!("{domain} {requirement} not judged"))
        };
        let cases = [
            ("healthy.example", "spf", ("pass", Some("dns"))),
            ("healthy.example", "dkim", ("pass", Some("ses"))),
            ("healthy.example", "dmarc_policy", ("pass", Some("dns"))),
            ("healthy.example", "mail_from", ("pass", Some("ses"))),
            ("healthy.example", "tls", ("pass", Some("ses"))),
            (
                "healthy.example",
                "complaint_rate",
                ("fail", Some("feedback")),
            ),
            (
                "healthy.example",
                "one_click_unsubscribe",
                ("unknown", None),
            ),
            ("nomx.example", "mail_from", ("fail", Some("dns"))),
            ("nomx.example", "dkim", ("fail", Some("dns"))),
            ("nomx.example", "tls", ("pass", Some("ses"))),
            ("nomx.example", "complaint_rate", ("unknown", None)),
            ("nodmarc.example", "dmarc_policy", ("fail", Some("dns"))),
            ("nodmarc.example", "tls", ("unknown", None)),
            ("nodmarc.example", "complaint_rate", ("unknown", None)),
        ];
        for (domain, requirement, expected) in cases {
            assert_eq!(
                status(domain, requirement),
                expected,
                "{domain} {requirement}"
            );
        }
        let detail = run
            .readiness
            .iter()
            .flat_map(|(_, judged)| judged)
            .find(|j| j.requirement.as_str() == "tls")
            .map(ses_dmarc_monitor::say::bulk::detail)
            .unwrap_or_default();
        assert_eq!(detail, "the configuration set marketing requires TLS");

        // The failed requirements are findings at their severity, beside the posture's.
        let failed = failed_requirements(&sink);
        assert!(
            failed.contains(&(
                "healthy.example".into(),
                "complaint_rate".into(),
                Severity::Warning
            )),
            "{failed:?}"
        );
        assert!(
            failed.contains(&(
                "nomx.example".into(),
                "mail_from".into(),
                Severity::Critical
            )),
            "{failed:?}"
        );
        assert!(
            failed.contains(&(
                "nodmarc.example".into(),
                "dmarc_policy".into(),
                Severity::Critical
            )),
            "{failed:?}"
        );
        let mail_from = sink
            .0
            .lock()
            .ok()
            .and_then(|f| {
                f.iter()
                    .find(|f| f.facts.subject() == Some("mail_from"))
                    .map(|f| f.detail())
            })
            .unwrap_or_default();
        assert_eq!(
            mail_from,
            "nomx.example fails the bulk-sender requirement mail_from of gmail, yahoo, microsoft \
             (dns evidence): mail.nomx.example has no MX record: SES falls back to its own \
             envelope. Fix: Publish exactly one MX on mail.nomx.example: 10 \
             feedback-smtp.us-east-1.amazonses.com."
        );
        let counts = run.counts();
        let bulk = counts.bulk.clone().unwrap_or_default();
        assert_eq!(bulk.values().sum::<u64>(), failed.len() as u64);

        // One page per cause: what the MX, the missing DKIM CNAME and the DMARC record
        // break rides in their pages; the complaint rate pages on its own.
        let published = sink.0.lock().map(|f| f.clone()).unwrap_or_default();
        let mut pages: Vec<(String, String)> = Vec::new();
        for domain in ["healthy.example", "nomx.example", "nodmarc.example"] {
            let of_domain: Vec<_> = published
                .iter()
                .filter(|f| f.domain.as_deref() == Some(domain))
                .cloned()
                .collect();
            for (cause, _) in cause::by_cause(&of_domain) {
                pages.push((
                    domain.to_owned(),
                    cause
                        .facts
                        .subject()
                        .unwrap_or(cause.kind().as_str())
                        .to_owned(),
                ));
            }
        }
        assert_eq!(
            pages,
            [
                ("healthy.example".to_owned(), "complaint_rate".to_owned()),
                ("nomx.example".to_owned(), "mail_from_mx_missing".to_owned()),
                ("nomx.example".to_owned(), "dkim_dns_missing".to_owned()),
                ("nodmarc.example".to_owned(), "no_dmarc_policy".to_owned()),
            ]
        );

        // Each requirement met is evidence that ends its own incident, and only its own.
        let cleared = sink.1.lock().map(|c| c.clone()).unwrap_or_default();
        let ended = |domain: &str, requirement: &str| {
            cleared.iter().any(|k| {
                k.kind == Kind::BulkRequirementFailed
                    && k.domain == domain
                    && k.subject.as_deref() == Some(requirement)
            })
        };
        assert!(ended("healthy.example", "spf") && ended("healthy.example", "tls"));
        assert!(!ended("healthy.example", "complaint_rate"));
        assert!(!ended("nomx.example", "mail_from") && ended("nomx.example", "tls"));
        assert!(!ended("nodmarc.example", "tls"), "unknown ends nothing");

        // The day's rollups hold each domain's readiness, for the weekly digest.
        let day = rollups.day(today).await.unwrap_or_else(|e| panic!("{e}"));
        let judged = |domain: &str, requirement| {
            day.readiness
                .get(domain)
                .and_then(|r| r.get(&requirement))
                .map(|s| s.as_str())
        };
        use ses_dmarc_monitor::judge::bulk::Requirement as R;
        assert_eq!(judged("healthy.example", R::ComplaintRate), Some("fail"));
        assert_eq!(judged("healthy.example", R::Tls), Some("pass"));
        assert_eq!(judged("nodmarc.example", R::Tls), Some("unknown"));
        assert_eq!(run.state_errors, 0);

        // The metrics: the total and each requirement that failed.
        let lines = ses_dmarc_monitor::say::metrics::audit_emf("M", "audit", &counts, 1);
        assert!(
            lines
                .iter()
                .any(|l| l.contains(r#""Requirement":"complaint_rate""#)
                    && l.contains(r#""BulkRequirementsFailed":1"#)),
            "{lines:?}"
        );
    }
}

/// The checks that need SES's state, on DNS answers given directly.
#[test]
fn ses_state_checks() {
    use ses_dmarc_monitor::judge::posture::{DkimName, DnsView, Lookup};
    let state: IdentityState = serde_json::from_value(serde_json::json!({
        "MailFromAttributes": {"MailFromDomain": "mail.example.com",
            "MailFromDomainStatus": "FAILED", "BehaviorOnMxFailure": "REJECT_MESSAGE"},
        "DkimAttributes": {"SigningEnabled": false, "Status": "SUCCESS",
            "SigningAttributesOrigin": "EXTERNAL", "Tokens": ["sel2026"]},
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let target = Target {
        identity: "example.com".into(),
        domain: "example.com".into(),
        region: "eu-west-1".into(),
        mail_from_domain: state.mail_from_domain().map(str::to_owned),
        state: Some(state),
    };
    let names = target.dkim_names();
    assert_eq!(
        names,
        [DkimName {
            name: "sel2026._domainkey.example.com".into(),
            token: "sel2026".into(),
            byodkim: true
        }]
    );
    let view = DnsView {
        mail_from_mx: Some(Lookup::Found(vec![(
            10,
            "feedback-smtp.eu-west-1.amazonses.com".into(),
        )])),
        mail_from_txt: Some(Lookup::Found(vec![
            "v=spf1 include:amazonses.com ~all".into(),
        ])),
        // A BYODKIM selector whose TXT is not a key.
        dkim: vec![(names[0].clone(), Lookup::Found(vec!["not a key".into()]))],
        dmarc: Lookup::Failed("timeout".into()),
        report_authorizations: Vec::new(),
    };
    let report = posture::audit(&target, &view);
    assert_eq!(
        kinds(&report),
        [
            (Kind::MailFromStatus, Severity::Critical),
            (Kind::DkimNotSigning, Severity::Warning),
            (Kind::DkimDnsMissing, Severity::Warning),
        ]
    );
    assert!(
        report.findings[0]
            .detail()
            .contains("REJECT_MESSAGE, SES refuses to send")
    );
    assert!(report.findings[2].detail().contains("BYODKIM key (TXT)"));
    // The DMARC lookup failed: not judged, no finding.
    let dmarc = report.checks.iter().find(|c| c.check == Check::Dmarc);
    assert_eq!(dmarc.map(|c| c.verdict), Some(Verdict::Unjudged));
}

/// `check --bulk-sender` against the loopback zone, with an identity-state file and evidence:
/// 150 deliveries and one complaint (0.67%), and a list message that passed SPF and DKIM for
/// the domain with a signed one-click unsubscribe.
#[tokio::test]
async fn cli_check_bulk_sender_judges_every_requirement_with_its_evidence() {
    let dir = std::env::temp_dir().join(format!("bulk-sender-{}", std::process::id()));
    let evidence = dir.join("evidence");
    std::fs::create_dir_all(&evidence).unwrap_or_else(|e| panic!("{e}"));
    let write = |name: &std::path::Path, text: &str| {
        std::fs::write(name, text).unwrap_or_else(|e| panic!("{}: {e}", name.display()));
    };
    write(
        &dir.join("identity-state.json"),
        &serde_json::json!({
            "healthy.example": {
                "MailFromAttributes": {"MailFromDomain": "mail.healthy.example",
                    "MailFromDomainStatus": "SUCCESS", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
                "DkimAttributes": {"SigningEnabled": true, "Status": "SUCCESS",
                    "SigningAttributesOrigin": "AWS_SES", "Tokens": ["tok1", "tok2"]}
            },
            "nomx.example": {
                "MailFromAttributes": {"MailFromDomain": "mail.nomx.example",
                    "MailFromDomainStatus": "SUCCESS", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}
            }
        })
        .to_string(),
    );
    let mail = serde_json::json!({
        "timestamp": "2026-11-20T09:00:00.000Z", "source": "news@healthy.example",
        "sourceArn": "arn:aws:ses:us-east-1:111122223333:identity/healthy.example",
        "messageId": "m-1", "destination": ["pat@example.net"], "headersTruncated": false,
        "commonHeaders": {"from": ["news@healthy.example"], "messageId": "m-1", "subject": "News"}
    });
    let recipients: Vec<String> = (0..150).map(|i| format!("r{i}@example.net")).collect();
    write(
        &evidence.join("delivery.json"),
        &serde_json::json!({
            "notificationType": "Delivery", "mail": mail,
            "delivery": {"timestamp": "2026-11-20T09:00:01.000Z", "processingTimeMillis": 900,
                "recipients": recipients, "smtpResponse": "250 2.0.0 OK",
                "reportingMTA": "a8-21.smtp-out.amazonses.com"}
        })
        .to_string(),
    );
    write(
        &evidence.join("complaint.json"),
        &serde_json::json!({
            "notificationType": "Complaint", "mail": mail,
            "complaint": {"complainedRecipients": [{"emailAddress": "r7@example.net"}],
                "timestamp": "2026-11-21T10:00:00.000Z", "feedbackId": "f-1",
                "complaintFeedbackType": "abuse"}
        })
        .to_string(),
    );
    write(
        &evidence.join("list.eml"),
        "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=bounce@mail.healthy.example client-ip=192.0.2.10;\r\n \
         dkim=pass header.i=@healthy.example header.s=s1;\r\n dmarc=pass header.from=healthy.example;\r\n\
         DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=healthy.example; s=s1;\r\n \
         h=From:To:Subject:List-Unsubscribe:List-Unsubscribe-Post; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==\r\n\
         From: News <news@healthy.example>\r\nTo: pat@inbound.example.com\r\nSubject: News\r\n\
         Message-ID: <news-1@healthy.example>\r\n\
         List-Unsubscribe: <https://healthy.example/u/1>, <mailto:u@healthy.example>\r\n\
         List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nHello.\r\n",
    );
    // Receivers' verdicts on nomx.example's mail: Gmail bounced two recipients for DKIM
    // (5.7.30), and its aggregate report says its requirement failed for DMARC (5.7.26).
    let nomx_mail = serde_json::json!({
        "timestamp": "2026-11-20T09:00:00.000Z", "source": "ops@nomx.example",
        "sourceArn": "arn:aws:ses:us-east-1:111122223333:identity/nomx.example",
        "messageId": "m-2", "destination": ["a@gmail.example", "b@gmail.example"],
        "headersTruncated": false,
        "commonHeaders": {"from": ["ops@nomx.example"], "messageId": "m-2", "subject": "Ops"}
    });
    write(
        &evidence.join("bounce.json"),
        &serde_json::json!({
            "notificationType": "Bounce", "mail": nomx_mail,
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                "timestamp": "2026-11-20T09:00:02.000Z", "feedbackId": "b-1",
                "bouncedRecipients": [
                    {"emailAddress": "a@gmail.example", "status": "5.7.30", "action": "failed",
                     "diagnosticCode": "smtp; 550-5.7.30 This mail has been blocked because DKIM does not pass. gsmtp"},
                    {"emailAddress": "b@gmail.example", "status": "5.7.30", "action": "failed",
                     "diagnosticCode": "smtp; 550-5.7.30 This mail has been blocked because DKIM does not pass. gsmtp"}
                ]}
        })
        .to_string(),
    );
    write(
        &evidence.join("gmail-report.xml"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <report_metadata><org_name>google.com</org_name><email>noreply-dmarc-support@google.com</email>
    <report_id>nomx-1</report_id><date_range><begin>1795651200</begin><end>1795737599</end></date_range>
  </report_metadata>
  <policy_published><domain>nomx.example</domain><p>none</p></policy_published>
  <record>
    <row><source_ip>54.240.8.20</source_ip><count>7</count>
      <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf>
        <reason><type>local_policy</type><comment>Sender requirement failed: 550-5.7.26 Unauthenticated email from nomx.example is not accepted due to the domain's DMARC policy</comment></reason>
      </policy_evaluated></row>
    <identifiers><header_from>nomx.example</header_from></identifiers>
    <auth_results><spf><domain>us-east-1.amazonses.com</domain><result>pass</result></spf></auth_results>
  </record>
</feedback>
"#,
    );
    let (addr, _server) = common::start_dns(ZONE).await;
    let path = |p: &std::path::Path| p.display().to_string();
    let output = run_cli(vec![
        "check".into(),
        "--bulk-sender".into(),
        "--nameserver".into(),
        addr.to_string(),
        "--identity-state".into(),
        path(&dir.join("identity-state.json")),
        "--evidence".into(),
        path(&evidence),
        "--format".into(),
        "json".into(),
        "--fail-on".into(),
        "critical".into(),
        "healthy.example".into(),
        "nomx.example".into(),
    ])
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let got: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            let text = |f: &str| r[f].as_str().unwrap_or("null").to_owned();
            (
                text("domain"),
                text("requirement"),
                text("status"),
                text("evidence"),
            )
        })
        .collect();
    let row = |d: &str, r: &str, s: &str, e: &str| (d.into(), r.into(), s.into(), e.into());
    assert_eq!(
        got,
        vec![
            // The list message: SPF for its own MAIL FROM, DKIM d=healthy.example.
            row("healthy.example", "spf", "pass", "canary"),
            row("healthy.example", "dkim", "pass", "canary"),
            row("healthy.example", "dmarc_policy", "pass", "dns"),
            row("healthy.example", "alignment", "pass", "canary"),
            row("healthy.example", "mail_from", "pass", "ses"),
            row("healthy.example", "one_click_unsubscribe", "pass", "canary"),
            // 1 complaint over 150 deliveries: 0.66%, at or above 0.3%.
            row("healthy.example", "complaint_rate", "fail", "feedback"),
            row("healthy.example", "tls", "unknown", "null"),
            // The list message came from 192.0.2.10, whose reverse DNS resolves back to it.
            row("healthy.example", "ptr", "pass", "canary"),
            // No MX on mail.nomx.example: SES falls back, so SPF is not the domain's either.
            row("nomx.example", "spf", "fail", "dns"),
            // Nothing else judged DKIM and alignment: the receivers' verdicts fail them.
            row("nomx.example", "dkim", "fail", "feedback"),
            row("nomx.example", "dmarc_policy", "pass", "dns"),
            row("nomx.example", "alignment", "fail", "reports"),
            row("nomx.example", "mail_from", "fail", "dns"),
            row("nomx.example", "one_click_unsubscribe", "unknown", "null"),
            row("nomx.example", "complaint_rate", "unknown", "null"),
            row("nomx.example", "tls", "unknown", "null"),
            row("nomx.example", "ptr", "unknown", "null"),
        ],
        "{stderr}"
    );
    assert_eq!(
        rows[0]["providers"],
        serde_json::json!(["gmail", "yahoo", "microsoft"])
    );
    assert_eq!(rows[5]["providers"], serde_json::json!(["gmail", "yahoo"]));
    // Each row's detail says what it rests on, in words.
    let says = |row: usize, text: &str| {
        let detail = rows[row]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(text), "row {row}: {detail}");
    };
    says(6, "1 complaint(s) over 150 deliveries: 0.66%");
    says(6, "Gmail sends SES no complaint feedback");
    says(13, "10 feedback-smtp.us-east-1.amazonses.com");
    says(
        8,
        "the sending address 192.0.2.10 has reverse DNS mta.healthy.example, which resolves back to it",
    );
    says(
        10,
        "receivers refused mail for it: Gmail on 2 message(s), 5.7.30 (bounces)",
    );
    says(
        12,
        "google.com on 7 message(s), 5.7.26 (its aggregate reports)",
    );
    // A critical requirement failed: exit 1 under --fail-on critical.
    assert_eq!(output.status.code(), Some(1), "{stderr}");
}
