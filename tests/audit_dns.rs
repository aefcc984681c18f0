//! The posture audit against a real DNS server on loopback: a healthy domain, a MAIL FROM
//! without MX, with the MX in the wrong region, with two MX records, a deleted DKIM CNAME,
//! `aspf=s`, no DMARC record, and a record found at the organizational domain by the walk.

mod common;

use ses_dmarc_monitor::audit::{self, AuditReport, Check, Target};
use ses_dmarc_monitor::dns::DnsFacts;
use ses_dmarc_monitor::findings::{Kind, Severity};
use ses_dmarc_monitor::identity::IdentityState;

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
) -> AuditReport {
    let target = Target {
        identity: domain.to_owned(),
        domain: domain.to_owned(),
        region: "us-east-1".to_owned(),
        state: Some(state(mail_from, tokens)),
        mail_from_domain: mail_from.map(str::to_owned),
    };
    let view = dns.audit_view(&target).await;
    audit::audit(&target, &view)
}

fn kinds(report: &AuditReport) -> Vec<(Kind, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.kind, f.severity))
        .collect()
}

fn failed(report: &AuditReport) -> Vec<Check> {
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
        healthy.checks.iter().all(|c| c.passed == Some(true)),
        "{healthy:#?}"
    );

    let nomx = run(&dns, "nomx.example", Some("mail.nomx.example"), &[]).await;
    assert_eq!(
        kinds(&nomx),
        [(Kind::MailFromMxMissing, Severity::Critical)]
    );
    assert!(
        nomx.findings[0].detail.contains("about to fall back"),
        "{}",
        nomx.findings[0].detail
    );
    assert_eq!(failed(&nomx), [Check::MailFromMx]);
    // p=none is a note on a passing check, not a finding.
    assert!(
        nomx.checks
            .iter()
            .any(|c| c.check == Check::Dmarc && c.detail.contains("p=none monitors only"))
    );

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
    assert!(wrong.findings[0].detail.contains(
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
            .detail
            .contains("tok2._domainkey.nodkim.example")
    );
    assert!(!nodkim.findings[0].detail.contains("tok1._domainkey"));

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
        dmarc.is_some_and(|c| c.detail.contains("p=quarantine (record at org.example")),
        "{walked:#?}"
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
        report.checks.iter().all(|c| c.passed != Some(false)),
        "{report:#?}"
    );
}

#[tokio::test]
async fn cli_check_prints_findings_and_exit_codes() {
    // The CLI runs beside the test's DNS server: off the runtime thread, which serves DNS.
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
