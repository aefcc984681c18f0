//! Re-verification of an attached raw message (SNS action with content, or an `.eml`): DKIM
//! and SPF checked again with `mail-auth` against a DNS server on loopback, and every place
//! where the result differs from what SES reported comes out as `verdict_mismatch`.

mod common;

use base64::Engine as _;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::DkimSigner;
use ses_dmarc_monitor::edge::dns::DnsFacts;
use ses_dmarc_monitor::pipeline::RecordOutcome;
use ses_dmarc_monitor::say::findings::{Finding, Kind, Severity};

/// The signed part of the message; the DKIM-Signature and SES's header go on top.
const BODY_HEADERS: &str = "From: Alerts <alerts@example.com>\r\n\
To: canary@inbound.example.com\r\n\
Subject: Canary\r\n\
Message-ID: <reverify-1@example.com>\r\n\
\r\n\
The canary sings.\r\n";

struct Signed {
    dkim_signature: String,
    zone: String,
}

fn sign() -> Signed {
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap_or_else(|e| panic!("{e}"));
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap_or_else(|e| panic!("{e}"));
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    let signature = DkimSigner::from_key(key)
        .domain("example.com")
        .selector("sel")
        .headers(["From", "To", "Subject", "Message-ID"])
        .sign(BODY_HEADERS.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let zone = format!(
        r#"
$ORIGIN .
$TTL 300
@                           IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
sel._domainkey.example.com. IN TXT "v=DKIM1; k=ed25519; p={public}"
bounce.example.com.         IN TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.example.com.         IN TXT "v=DMARC1; p=reject"
"#
    );
    Signed {
        dkim_signature: signature.to_header(),
        zone,
    }
}

fn ses_header(spf: &str, dkim: &str, dmarc: &str, ip: &str) -> String {
    format!(
        "Authentication-Results: amazonses.com; spf={spf} (spfCheck: test) client-ip={ip}; \
         envelope-from=bounces@bounce.example.com; helo=mta.example.com; \
         dkim={dkim} header.i=@example.com; dmarc={dmarc} header.from=example.com;\r\n"
    )
}

async fn findings(input: &[u8], signed: &Signed) -> Vec<Finding> {
    let (addr, _server) = common::start_dns(&signed.zone).await;
    let dns = DnsFacts::nameserver(addr).unwrap_or_else(|e| panic!("{e}"));
    let outcomes = common::run_with_dns(input, &dns).await;
    match outcomes.as_slice() {
        [RecordOutcome::Analyzed { analysis, .. }] => analysis.findings.clone(),
        other => panic!("expected one analyzed record, got {other:?}"),
    }
}

fn kinds(findings: &[Finding]) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = findings.iter().map(|f| f.kind()).collect();
    kinds.sort_by_key(|k| k.as_str());
    kinds
}

#[tokio::test]
async fn agreeing_results_give_no_mismatch() {
    let signed = sign();
    let raw = format!(
        "{}{}{BODY_HEADERS}",
        ses_header("pass", "pass", "pass", "192.0.2.10"),
        signed.dkim_signature
    );
    let found = findings(raw.as_bytes(), &signed).await;
    assert!(found.is_empty(), "{found:#?}");
}

#[tokio::test]
async fn sns_content_that_verifies_overrides_a_failing_ses_report() {
    let signed = sign();
    let raw = format!(
        "{}{}{BODY_HEADERS}",
        ses_header("fail", "fail", "fail", "192.0.2.10"),
        signed.dkim_signature
    );
    let notification = serde_json::json!({
        "notificationType": "Received",
        "mail": {
            "source": "bounces@bounce.example.com",
            "messageId": "reverify-sns-1",
            "destination": ["canary@inbound.example.com"],
            "headersTruncated": false,
            "headers": [],
        },
        "receipt": {
            "recipients": ["canary@inbound.example.com"],
            "spfVerdict": {"status": "FAIL"},
            "dkimVerdict": {"status": "FAIL"},
            "dmarcVerdict": {"status": "FAIL"},
            "dmarcPolicy": "reject",
            "action": {"type": "SNS", "topicArn": "arn:aws:sns:us-east-1:111122223333:t", "encoding": "BASE64"},
        },
        "content": base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()),
    });
    let event = serde_json::json!({"Records": [{
        "EventSource": "aws:sns",
        "Sns": {"Type": "Notification", "Message": notification.to_string()},
    }]});
    let found = findings(event.to_string().as_bytes(), &signed).await;

    // DKIM and SPF each disagree, and the DMARC verdict SES gave disagrees with the
    // recomputation from the re-verified results.
    assert_eq!(kinds(&found), vec![Kind::VerdictMismatch; 3], "{found:#?}");
    let details: Vec<String> = found.iter().map(|f| f.detail()).collect();
    assert!(
        details.iter().any(|d| d.starts_with("DKIM")
            && d.contains("pass example.com")
            && d.contains("reported fail example.com")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("SPF") && d.contains("pass bounce.example.com")),
        "{details:?}"
    );
    assert!(
        found
            .iter()
            .all(|f| f.domain.as_deref() == Some("example.com"))
    );
}

#[tokio::test]
async fn tampered_message_fails_where_ses_said_pass() {
    let signed = sign();
    // The body changed after signing, and the client IP is not in the SPF record.
    let tampered = BODY_HEADERS.replace("sings", "is silent");
    let raw = format!(
        "{}{}{tampered}",
        ses_header("pass", "pass", "pass", "198.51.100.7"),
        signed.dkim_signature
    );
    let found = findings(raw.as_bytes(), &signed).await;
    let kinds = kinds(&found);
    assert_eq!(
        kinds,
        vec![
            Kind::DkimFail,
            Kind::DmarcFail,
            Kind::SpfFail,
            Kind::VerdictMismatch,
            Kind::VerdictMismatch,
            Kind::VerdictMismatch,
        ],
        "{found:#?}"
    );
    let dmarc = found.iter().find(|f| f.kind() == Kind::DmarcFail);
    assert_eq!(dmarc.map(|f| f.severity()), Some(Severity::Critical));
}
