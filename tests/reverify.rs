//! Re-verification of an attached raw message (SNS action with content, or an `.eml`): DKIM
//! and SPF checked again with `mail-auth` against a DNS server on loopback, and every place
//! where the result differs from what SES reported comes out as `verdict_mismatch`.

use crate::common;

use base64::Engine as _;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::DkimSigner;
use ses_dmarc_monitor::cli::print;
use ses_dmarc_monitor::edge::dns::{DnsBudget, DnsFacts};
use ses_dmarc_monitor::flow::analysis::{self, Ports, RecordOutcome, Settings};
use ses_dmarc_monitor::judge::findings::{Finding, Kind, Severity};
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::read::observation::{NotReverified, Reverification};
use ses_dmarc_monitor::say::explain::Detail as _;

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
    sign_message(BODY_HEADERS, false)
}

/// Signs `message` (headers and body) for example.com; `body_length` adds `l=`.
fn sign_message(message: &str, body_length: bool) -> Signed {
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap_or_else(|e| panic!("{e}"));
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap_or_else(|e| panic!("{e}"));
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    let signature = DkimSigner::from_key(key)
        .domain("example.com")
        .selector("sel")
        .headers(["From", "To", "Subject", "Message-ID"])
        .body_length(body_length)
        .sign(message.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let zone = format!(
        r#"
$ORIGIN .
$TTL 300
@                           IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
sel._domainkey.example.com. IN TXT "v=DKIM1; k=ed25519; p={public}"
bounce.example.com.         IN TXT "v=spf1 ip4:192.0.2.10 -all"
us-east-1.amazonses.com.    IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
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
    match outcome(input, signed).await {
        RecordOutcome::Analyzed { analysis, .. } => analysis.findings,
        other => panic!("expected one analyzed record, got {other:?}"),
    }
}

async fn outcome(input: &[u8], signed: &Signed) -> RecordOutcome {
    let (addr, _server) = common::start_dns(&signed.zone).await;
    let dns = DnsFacts::nameserver(addr).unwrap_or_else(|e| panic!("{e}"));
    let mut outcomes = common::run_with_dns(input, &dns).await;
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    outcomes.remove(0)
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

/// SES's header for the fallback envelope: SPF passes for amazonses.com (not aligned), so
/// DMARC rests on the DKIM signature alone.
fn ses_fallback_header(dkim: &str) -> String {
    format!(
        "Authentication-Results: amazonses.com; spf=pass (spfCheck: test) client-ip=198.51.100.21; \
         envelope-from=0100-fallback@us-east-1.amazonses.com; helo=a8-21.smtp-out.amazonses.com; \
         dkim={dkim} header.i=@example.com; dmarc=pass header.from=example.com;\r\n"
    )
}

fn no_failure(found: &[Finding]) {
    for finding in found {
        assert!(
            !matches!(
                finding.kind(),
                Kind::DmarcFail | Kind::DkimFail | Kind::SpfFail | Kind::VerdictMismatch
            ) && finding.severity() != Severity::Critical,
            "{found:#?}"
        );
    }
}

#[tokio::test]
async fn a_body_length_signature_with_text_appended_passes_and_says_what_is_unsigned() {
    // RFC 6376 §8.2: text after the signed length. Receivers that verify l= pass the
    // message; the monitor predicts that, and says the tail is unauthenticated.
    let signed = sign_message(BODY_HEADERS, true);
    let appended = format!("{BODY_HEADERS}-- \r\nAdded by a list after signing.\r\n");
    let raw = format!(
        "{}{}{appended}",
        ses_fallback_header("pass"),
        signed.dkim_signature
    );
    let found = findings(raw.as_bytes(), &signed).await;
    no_failure(&found);
    let partial: Vec<&Finding> = found
        .iter()
        .filter(|f| f.kind() == Kind::DkimPartialBody)
        .collect();
    assert_eq!(partial.len(), 1, "{found:#?}");
    assert_eq!(partial[0].severity(), Severity::Info);
    let detail = partial[0].detail();
    let body = BODY_HEADERS.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(
        detail.contains("d=example.com")
            && detail.contains(&format!("first {} of the body's", body.len())),
        "{detail}"
    );
}

#[tokio::test]
async fn a_body_length_signature_over_the_whole_body_is_simply_a_pass() {
    let signed = sign_message(BODY_HEADERS, true);
    assert!(
        signed.dkim_signature.contains("l="),
        "{}",
        signed.dkim_signature
    );
    let raw = format!(
        "{}{}{BODY_HEADERS}",
        ses_fallback_header("pass"),
        signed.dkim_signature
    );
    let found = findings(raw.as_bytes(), &signed).await;
    // The fallback envelope's SPF does not align; nothing else is wrong.
    let kinds = kinds(&found);
    assert_eq!(kinds, vec![Kind::SpfUnaligned], "{found:#?}");
}

#[tokio::test]
async fn a_body_length_beyond_the_body_fails_as_an_altered_body() {
    let signed = sign_message(BODY_HEADERS, true);
    let shortened = BODY_HEADERS.replace("The canary sings.", "The canary");
    let raw = format!(
        "{}{}{shortened}",
        ses_fallback_header("fail"),
        signed.dkim_signature
    );
    let found = findings(raw.as_bytes(), &signed).await;
    assert!(
        found.iter().any(|f| f.kind() == Kind::DkimFail),
        "{found:#?}"
    );
    assert!(
        !found.iter().any(|f| f.kind() == Kind::DkimPartialBody),
        "{found:#?}"
    );
}

#[tokio::test]
async fn a_signature_the_verifier_refuses_keeps_ses_pass_and_names_its_domain() {
    // An algorithm mail-auth does not accept: what SES (and the receivers) verified is not
    // overturned by it, and the finding says which signature and why.
    let signed = sign();
    let refused = signed
        .dkim_signature
        .replacen("a=ed25519-sha256", "a=ed448-sha256", 1);
    assert_ne!(
        refused, signed.dkim_signature,
        "the test changes the algorithm"
    );
    let raw = format!("{}{refused}{BODY_HEADERS}", ses_fallback_header("pass"));
    let found = findings(raw.as_bytes(), &signed).await;
    no_failure(&found);
    let not_reverified: Vec<String> = found
        .iter()
        .filter(|f| f.kind() == Kind::DkimNotReverified)
        .map(|f| f.detail())
        .collect();
    assert_eq!(not_reverified.len(), 1, "{found:#?}");
    assert!(
        not_reverified[0].contains("d=example.com (s=sel)")
            && not_reverified[0].contains("Unsupported algorithm")
            && not_reverified[0].contains("pass is kept"),
        "{not_reverified:?}"
    );
}

#[tokio::test]
async fn fail_reported_and_permerror_recomputed_are_not_a_mismatch() {
    // The selector's key is not published: mail-auth says permerror, SES said fail. Both
    // mean "this signature does not count".
    let signed = sign();
    let gone = signed.dkim_signature.replacen("s=sel", "s=gone", 1);
    let raw = format!(
        "{}{gone}{BODY_HEADERS}",
        ses_header("pass", "fail", "pass", "192.0.2.10")
    );
    let found = findings(raw.as_bytes(), &signed).await;
    assert!(
        !found.iter().any(|f| f.kind() == Kind::VerdictMismatch),
        "{found:#?}"
    );
    let dkim_fail: Vec<String> = found
        .iter()
        .filter(|f| f.kind() == Kind::DkimFail)
        .map(|f| f.detail())
        .collect();
    assert_eq!(dkim_fail.len(), 1, "{found:#?}");
    assert!(dkim_fail[0].contains("permerror"), "{dkim_fail:?}");
}

#[tokio::test]
async fn a_silent_name_server_leaves_ses_results_within_the_budget() {
    let signed = sign();
    let raw = format!(
        "{}{}{BODY_HEADERS}",
        ses_header("pass", "pass", "pass", "192.0.2.10"),
        signed.dkim_signature
    );
    let silent = common::start_silent_dns().await;
    let budget = std::time::Duration::from_secs(2);
    let dns = DnsFacts::nameserver(silent)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_budget(DnsBudget {
            per_record: budget,
            ..DnsBudget::default()
        });
    let started = std::time::Instant::now();
    let outcomes = common::run_with_dns(raw.as_bytes(), &dns).await;
    let took = started.elapsed();
    // The deadline, with room for a loaded machine; the per-query timeout (3 s, two
    // attempts, several lookups) would take far longer.
    assert!(
        took < budget + std::time::Duration::from_secs(3),
        "{took:?}"
    );
    let [
        RecordOutcome::Analyzed {
            observation,
            analysis,
            ..
        },
    ] = outcomes.as_slice()
    else {
        panic!("{outcomes:?}");
    };
    assert!(analysis.findings.is_empty(), "{:#?}", analysis.findings);
    assert_eq!(
        observation.reverification,
        Reverification::NotDone(NotReverified::OutOfTime(budget / 2))
    );
}

#[tokio::test]
async fn the_body_length_counts_canonicalized_octets() {
    // RFC 6376 §3.5: `l=` counts the body after canonicalization. Signed over a body that
    // is already canonical, then delivered with the extra whitespace relaxed canonicalization
    // removes and a line appended: the first `l` canonical octets are the signed ones, while
    // the first `l` raw octets end mid-sentence.
    let signed = sign_message(BODY_HEADERS, true);
    let spaced = BODY_HEADERS.replace("The canary sings.", "The  canary   sings.  ");
    let delivered = format!("{spaced}Appended later.\r\n");
    let raw = format!(
        "{}{}{delivered}",
        ses_fallback_header("pass"),
        signed.dkim_signature
    );
    let found = findings(raw.as_bytes(), &signed).await;
    no_failure(&found);
    assert!(
        found.iter().any(|f| f.kind() == Kind::DkimPartialBody),
        "{found:#?}"
    );
}

/// Compares the report's text with `fixtures/text/<name>.txt`; `UPDATE_GOLDEN=1` rewrites it.
fn golden_text(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/text")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "{} differs", path.display());
}

/// A healthy message: SES's results agree with what the content shows.
fn healthy(signed: &Signed) -> String {
    format!(
        "{}{}{BODY_HEADERS}",
        ses_header("pass", "pass", "pass", "192.0.2.10"),
        signed.dkim_signature
    )
}

#[tokio::test]
async fn the_report_says_which_results_were_recomputed() {
    let signed = sign();
    let outcome = outcome(healthy(&signed).as_bytes(), &signed).await;
    golden_text("reverified", &print::text("message.eml", 0, &outcome));
}

#[tokio::test]
async fn the_report_never_says_ok_for_content_not_checked() {
    let signed = sign();
    let ports = Ports {
        facts: &OfflineFacts::default(),
        directory: &NoDirectory,
    };
    let outcomes = analysis::run(healthy(&signed).as_bytes(), ports, &Settings::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let [outcome] = outcomes.as_slice() else {
        panic!("{outcomes:?}");
    };
    let text = print::text("message.eml", 0, outcome);
    assert!(!text.contains("ok:"), "{text}");
    golden_text("not-reverified", &text);
}
