//! The RFC 9989 tree walk and DNS-backed analysis against a real DNS server on loopback,
//! started by the test itself (hickory-server, authoritative for the root zone).

use crate::common;

use ses_dmarc_monitor::edge::dns::DnsFacts;
use ses_dmarc_monitor::flow::analysis::RecordOutcome;
use ses_dmarc_monitor::judge::findings::{Kind, Severity};
use ses_dmarc_monitor::judge::policy::Disposition;
use ses_dmarc_monitor::ports::facts::FactSource;
use ses_dmarc_monitor::read::observation::{self, Source};
use std::net::SocketAddr;

const ZONE: &str = r#"
$ORIGIN .
$TTL 300
@                         IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
_dmarc.example.com.       IN TXT "v=DMARC1; p=reject; adkim=s; rua=mailto:d@example.com"
_dmarc.bank.              IN TXT "v=DMARC1; p=reject; psd=y"
_dmarc.corp.example.net.  IN TXT "v=DMARC1; p=none; psd=n"
_dmarc.example.net.       IN TXT "v=DMARC1; p=reject"
_dmarc.example.org.       IN TXT "v=DMARC1; p=none; sp=quarantine; np=reject"
www.example.org.          IN A   192.0.2.1
"#;

async fn start_dns() -> (
    SocketAddr,
    hickory_server::Server<hickory_server::zone_handler::Catalog>,
) {
    common::start_dns(ZONE).await
}

fn observe(headers: &[(&str, &str)]) -> observation::Observation {
    observation::from_headers(headers, Source::RawMessage, &["amazonses.com".to_owned()])
}

#[tokio::test]
async fn tree_walk_finds_policies_and_organizational_domains() {
    let (addr, _server) = start_dns().await;
    let dns = DnsFacts::nameserver(addr).unwrap_or_else(|e| panic!("{e}"));

    // A deep From under example.com: the walk climbs to example.com's record, sp (= p) applies.
    let mut o = observe(&[
        (
            "Authentication-Results",
            "amazonses.com; spf=pass smtp.mailfrom=bounce.example.com; dkim=pass header.d=mail.example.com",
        ),
        ("From", "a@news.mail.example.com"),
    ]);
    let facts = dns.facts(&mut o).await;
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    let p = &facts.policies["news.mail.example.com"];
    assert_eq!(p.organizational_domain, "example.com");
    assert_eq!(p.disposition, Some(Disposition::Reject));
    assert_eq!(
        p.record.as_ref().map(|(at, _)| at.as_str()),
        Some("example.com")
    );
    assert_eq!(
        facts.orgs.0.get("mail.example.com").map(String::as_str),
        Some("example.com")
    );

    // psd=y on a public suffix puts the organizational domain one label below it.
    let mut o = observe(&[("From", "a@login.mybank.bank")]);
    let facts = dns.facts(&mut o).await;
    assert_eq!(
        facts.policies["login.mybank.bank"].organizational_domain,
        "mybank.bank"
    );

    // psd=n marks the organizational domain and stops the walk before example.net's p=reject.
    let mut o = observe(&[("From", "a@x.corp.example.net")]);
    let facts = dns.facts(&mut o).await;
    let p = &facts.policies["x.corp.example.net"];
    assert_eq!(p.organizational_domain, "corp.example.net");
    assert_eq!(p.disposition, Some(Disposition::None));

    // np applies to a subdomain that does not exist; sp to one that does.
    let mut o = observe(&[("From", "a@nx.example.org, b@www.example.org")]);
    let facts = dns.facts(&mut o).await;
    assert_eq!(
        facts.policies["nx.example.org"].disposition,
        Some(Disposition::Reject)
    );
    assert_eq!(
        facts.policies["www.example.org"].disposition,
        Some(Disposition::Quarantine)
    );

    // No record anywhere on the walk: known to be unpublished, not unknown.
    let mut o = observe(&[("From", "a@example.info")]);
    let facts = dns.facts(&mut o).await;
    assert!(facts.policies["example.info"].record.is_none());
}

#[tokio::test]
async fn strict_dkim_policy_from_dns_fails_a_subdomain_signature() {
    let (addr, _server) = start_dns().await;
    let dns = DnsFacts::nameserver(addr).unwrap_or_else(|e| panic!("{e}"));
    let event = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/receipt-mail-from-fallback.json"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    // The same event, but signed by a subdomain: rewrite header.i before analysis.
    let event = String::from_utf8_lossy(&event)
        .replace("header.i=@example.com", "header.i=@mail.example.com");
    let outcomes = common::run_with_dns(event.as_bytes(), &dns).await;
    let RecordOutcome::Analyzed { analysis, .. } = &outcomes[0] else {
        panic!("not analyzed: {outcomes:?}");
    };
    let kinds: Vec<(Kind, Severity)> = analysis
        .findings
        .iter()
        .map(|f| (f.kind(), f.severity()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::SpfUnaligned, Severity::Warning),
            (Kind::DkimUnaligned, Severity::Warning),
            (Kind::DmarcFail, Severity::Critical),
            (Kind::VerdictMismatch, Severity::Info),
        ]
    );
}

#[test]
fn cli_resolves_with_a_given_nameserver() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let (addr, server) = runtime.block_on(start_dns());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ses-dmarc-monitor"))
        .args([
            "analyze",
            "--format",
            "json",
            "--nameserver",
            &addr.to_string(),
        ])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/events/receipt-no-dmarc.json"
        ))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // DNS (not SES's word) now says example.info has no record.
    assert!(stdout.contains("\"kind\":\"no_dmarc_policy\""), "{stdout}");
    assert!(!stdout.contains("as SES reported it"), "{stdout}");
}

#[tokio::test]
async fn dmarc_records_are_cached_for_their_ttl() {
    let (addr, server) = start_dns().await;
    let dns = DnsFacts::nameserver(addr).unwrap_or_else(|e| panic!("{e}"));
    let headers = [("From", "a@example.net")];
    let mut o = observe(&headers);
    let first = dns.facts(&mut o).await;
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    assert!(dns.cached_txt_records() >= 1);

    // With the server gone, the answer still comes, from the cache (TTL 300 s).
    drop(server);
    let mut o = observe(&headers);
    let second = dns.facts(&mut o).await;
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    assert_eq!(
        second.policies["example.net"].disposition,
        first.policies["example.net"].disposition
    );
    assert_eq!(
        second.policies["example.net"].disposition,
        Some(Disposition::Reject)
    );
}

/// A From domain whose name servers never answer: the record is still judged, within its DNS
/// budget, and what could not be looked up is unknown, never a failure of its authentication.
#[tokio::test]
async fn a_silent_name_server_costs_the_budget_not_the_invocation() {
    use ses_dmarc_monitor::edge::dns::DnsBudget;
    let silent = common::start_silent_dns().await;
    let budget = DnsBudget {
        per_record: std::time::Duration::from_millis(600),
        max_domains: 8,
    };
    let dns = DnsFacts::nameserver_with_timeout(silent, std::time::Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"))
        .with_budget(budget);
    let event = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/receipt-mail-from-fallback.json"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let outcomes = common::run_with_dns(&event, &dns).await;
    // Half the budget for the policies; the resolver alone would wait 2 × 5 s.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    match &outcomes[..] {
        [
            RecordOutcome::Analyzed {
                observation,
                analysis,
                ..
            },
        ] => {
            assert!(
                observation
                    .notes
                    .iter()
                    .any(|n| n.contains("DMARC record of example.com not known in time")),
                "{:?}",
                observation.notes
            );
            assert!(
                analysis
                    .findings
                    .iter()
                    .all(|f| f.kind() != Kind::DmarcFail || f.severity() != Severity::Critical),
                "no critical verdict from a lookup that did not answer: {:?}",
                analysis.findings
            );
        }
        other => panic!("{other:?}"),
    }

    // More domains than the cap: the rest are not looked up, and say so.
    let capped = DnsFacts::nameserver_with_timeout(silent, std::time::Duration::from_millis(50))
        .unwrap_or_else(|e| panic!("{e}"))
        .with_budget(DnsBudget {
            per_record: std::time::Duration::from_secs(5),
            max_domains: 1,
        });
    let mut o = observe(&[
        ("From", "a@one.example, b@two.example"),
        (
            "Authentication-Results",
            "amazonses.com; spf=pass smtp.mailfrom=x.three.example; dkim=pass header.i=@four.example",
        ),
    ]);
    let _ = capped.facts(&mut o).await;
    let capped_notes = o
        .notes
        .iter()
        .filter(|n| n.contains("not looked up (at most 1 domains per message)"))
        .count();
    assert_eq!(capped_notes, 3, "{:?}", o.notes);
}
