//! The weekly digest from files (`digest`), as a user runs it: the bundled week
//! (`fixtures/week/`, written by `fixtures/make_week.py`) against figures computed by hand
//! from that script's table, the quiet-week heartbeat, and the HTML's safety as e-mail.

use crate::cli::run;
use serde_json::Value;

const WEEK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/week");
const MAIL_FROM: &str = "example.com=mail.example.com";

fn digest(extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["digest", "--mail-from", MAIL_FROM];
    args.extend_from_slice(extra);
    let output = run(&args, None);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn json(extra: &[&str]) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = digest(&args);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "one object: {stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn domain<'a>(digest: &'a Value, name: &str) -> &'a Value {
    digest["domains"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["domain"] == name))
        .unwrap_or_else(|| panic!("{name} is not listed: {digest}"))
}

fn n(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

/// (class, name, ips, messages, dmarc_pass, dmarc_fail) of each source, in order.
fn sources(domain: &Value) -> Vec<(String, Option<String>, u64, u64, u64, u64)> {
    domain["sources"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| {
                    (
                        s["class"].as_str().unwrap_or_default().to_owned(),
                        s["name"].as_str().map(str::to_owned),
                        n(&s["ips"]),
                        n(&s["messages"]),
                        n(&s["dmarc_pass"]),
                        n(&s["dmarc_fail"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_bundled_week_against_figures_computed_by_hand() {
    let digest = json(&["--from", "2026-11-23", "--to", "2026-11-29", WEEK]);
    assert_eq!(digest["schema"], "digest/1");
    assert_eq!(
        digest["subject"],
        "DMARC weekly 2026-W48: 1 of 3 domains need action"
    );
    // Monday 2026-11-23 00:00 UTC to Monday 2026-11-30 00:00 UTC (exclusive).
    assert_eq!(n(&digest["period"]["from"]), 1_795_392_000);
    assert_eq!(n(&digest["period"]["to"]), 1_795_996_800);
    // 7 + 7 aggregate reports and 1 TLS report from Google, 3 from Yahoo (one empty), 1 from
    // Outlook.com; the week before's report is history, the forged one is in no figure.
    assert_eq!(n(&digest["reports"]), 19);
    let reporters: Vec<(String, u64)> = digest["reporters"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| {
                    (
                        r["org_name"].as_str().unwrap_or_default().to_owned(),
                        n(&r["reports"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        reporters,
        vec![
            ("Google Inc.".to_owned(), 1),
            ("google.com".to_owned(), 14),
            ("Outlook.com".to_owned(), 1),
            ("Yahoo".to_owned(), 3),
        ]
    );
    assert_eq!(reporters.iter().map(|r| r.1).sum::<u64>(), 19);

    let example = domain(&digest, "example.com");
    assert_eq!(example["policy"], "quarantine");
    // SES 1,910 + 40, Google Workspace 115, DKIM-survived forward 9 pass; SendGrid 105,
    // mailing list 6, spoofer 15 fail.
    assert_eq!(n(&example["messages"]), 2210);
    assert_eq!(n(&example["dmarc_pass"]), 2084);
    assert_eq!(n(&example["dmarc_fail"]), 126);
    assert_eq!(n(&example["dmarc_unknown"]), 0);
    assert_eq!(n(&example["disposition"]["none"]), 2090);
    assert_eq!(n(&example["disposition"]["quarantine"]), 117);
    assert_eq!(n(&example["disposition"]["reject"]), 3);
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        sources(example),
        vec![
            ("ses".to_owned(), some("example.com"), 2, 1960, 1960, 0),
            ("known".to_owned(), some("Google Workspace"), 1, 115, 115, 0),
            ("known".to_owned(), some("SendGrid"), 1, 105, 0, 105),
            ("forwarded".to_owned(), None, 2, 15, 9, 6),
            ("unknown".to_owned(), None, 2, 15, 0, 15),
        ]
    );
    assert_eq!(n(&example["tls"]["successful"]), 480);
    assert_eq!(n(&example["tls"]["failed"]), 20);

    let shop = domain(&digest, "shop.example.net");
    assert_eq!(shop["policy"], "none");
    assert_eq!(
        sources(shop),
        vec![("ses".to_owned(), some("shop.example.net"), 1, 700, 700, 0)]
    );
    assert!(shop["tls"].is_null());
    // Named only by the TLS report: listed with no messages.
    let org = domain(&digest, "example.org");
    assert_eq!(n(&org["messages"]), 0);
    assert_eq!(sources(org), vec![]);
    assert_eq!(n(&org["tls"]["successful"]), 300);

    for d in digest["domains"].as_array().into_iter().flatten() {
        let by_result = n(&d["dmarc_pass"]) + n(&d["dmarc_fail"]) + n(&d["dmarc_unknown"]);
        let by_source: u64 = sources(d).iter().map(|s| s.3).sum();
        assert_eq!(n(&d["messages"]), by_result, "{d}");
        assert_eq!(n(&d["messages"]), by_source, "{d}");
    }

    // The fallback (shop.example.net has no custom MAIL FROM: its amazonses.com envelope is
    // SES's default, not a fallback); the spoofer is new against the week before; the pass
    // rate fell from 100% to 94.2%; SendGrid's mail was quarantined; TLS failed.
    let items: Vec<(String, String)> = digest["action_items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    (
                        a["kind"].as_str().unwrap_or_default().to_owned(),
                        a["domain"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let expected = [
        "mail_from_fallback",
        "new_unknown_sources",
        "pass_rate_drop",
        "rejections",
        "tls_failures",
    ];
    assert_eq!(
        items,
        expected
            .iter()
            .map(|k| ((*k).to_owned(), "example.com".to_owned()))
            .collect::<Vec<_>>()
    );
    assert!(
        digest["action_items"][2]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("from 100.0% to 94.2%")),
        "{}",
        digest["action_items"]
    );
    let forged = &digest["not_believed"];
    assert_eq!(forged.as_array().map(Vec::len), Some(1), "{forged}");
    assert_eq!(forged[0]["org_name"], "Spoofed Reporter");
}

#[test]
fn ses_messages_are_the_same_as_reports_says() {
    // The digest's `ses` sources add up to what `reports` counts as `ses_messages`.
    let output = run(
        &[
            "reports",
            "--format",
            "json",
            "--mail-from",
            MAIL_FROM,
            WEEK,
        ],
        None,
    );
    let mut from_reports = 0;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let report: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        from_reports += report["ses_messages"].as_u64().unwrap_or(0);
    }
    let digest = json(&[WEEK]);
    let from_digest: u64 = digest["domains"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(sources)
        .filter(|s| s.0 == "ses")
        .map(|s| s.3)
        .sum();
    // Without a period every report counts: the week before's 400 SES messages too.
    assert_eq!(from_digest, 1960 + 400 + 700);
    // `reports` also reads the forged report's rows (5,000, not SES): same SES total.
    assert_eq!(from_reports, from_digest);
}

#[test]
fn a_quiet_week_still_sends_and_says_no_reports_first() {
    let digest = json(&["--from", "2026-12-07", "--to", "2026-12-13", WEEK]);
    assert_eq!(
        digest["subject"],
        "DMARC weekly 2026-W50: no reports received"
    );
    assert_eq!(n(&digest["reports"]), 0);
    assert_eq!(digest["action_items"][0]["kind"], "no_reports");
    let (code, text, _) = digest_text(&["--from", "2026-12-07", "--to", "2026-12-13", WEEK]);
    assert_eq!(code, Some(0));
    assert!(text.contains("1. No reports received"), "{text}");
}

fn digest_text(extra: &[&str]) -> (Option<i32>, String, String) {
    digest(extra)
}

#[test]
fn text_shows_every_section() {
    let (code, text, stderr) = digest_text(&["--from", "2026-11-23", "--to", "2026-11-29", WEEK]);
    assert_eq!(code, Some(0), "{stderr}");
    for section in [
        "DMARC weekly 2026-W48: 1 of 3 domains need action",
        "What to fix first",
        "All domains",
        "example.com | quarantine | 2210 | 94.2% | −5.8 |",
        "Daily (pass / other):",
        "2026-11-26     400 / 60",
        "known (SendGrid)",
        "NEW this week",
        "Reporters: Google Inc., Outlook.com, Yahoo, google.com",
        "TLS: 480 session(s) succeeded, 20 failed",
        "Reports not believed",
    ] {
        assert!(text.contains(section), "{section:?} missing:\n{text}");
    }
}

/// What an HTML e-mail must not hold: scripts, handlers, remote loads, refreshes. Text
/// cannot hide a tag (it has no `<`), so the tags and the style sheet are what is checked.
pub(crate) fn assert_safe_html(html: &str) {
    let lower = html.to_ascii_lowercase();
    let mut tables = 0;
    for tag in lower.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let name = tag.split_whitespace().next().unwrap_or_default();
        assert!(
            ![
                "script", "iframe", "object", "embed", "link", "img", "frame", "base", "form"
            ]
            .contains(&name),
            "<{tag}>"
        );
        assert!(!(name == "meta" && tag.contains("refresh")), "<{tag}>");
        tables += usize::from(name == "table");
        for attribute in tag.split_whitespace().skip(1) {
            let key = attribute.split('=').next().unwrap_or_default();
            // A plain `<a href>` is fine; anything that loads or runs is not.
            let loads = [
                "src",
                "srcset",
                "background",
                "action",
                "formaction",
                "poster",
                "data",
            ];
            assert!(
                !key.starts_with("on") && !loads.contains(&key),
                "attribute {attribute:?} in <{tag}>"
            );
        }
        for banned in ["javascript:", "url(", "@import", "expression("] {
            assert!(!tag.contains(banned), "{banned:?} in <{tag}>");
        }
    }
    let style = lower
        .split("<style>")
        .nth(1)
        .and_then(|s| s.split("</style>").next())
        .unwrap_or_default();
    for banned in ["url(", "@import", "expression("] {
        assert!(!style.contains(banned), "{banned:?} in the style sheet");
    }
    assert!(tables > 0, "no table");
}

#[test]
fn html_is_one_safe_document_with_every_domain() {
    let (code, html, stderr) = digest(&[
        "--format",
        "html",
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-29",
        WEEK,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert_eq!(html.matches("<html").count(), 1);
    assert_safe_html(&html);
    for (domain, total) in [
        ("example.com", "2210"),
        ("shop.example.net", "700"),
        ("example.org", "0"),
    ] {
        assert!(
            html.contains(&format!("<h2>{domain}</h2>\n<p>{total} message(s)")),
            "{domain} with {total}"
        );
    }
    // The daily bar is table cells, widths proportional to the domain's busiest day.
    assert!(
        html.contains(
            "<td class=\"pass\" style=\"width:260px\"></td><td class=\"fail\" style=\"width:39px\">"
        ),
        "{html}"
    );
}

#[test]
fn a_reporters_markup_is_text_in_the_html() {
    let dir = std::env::temp_dir().join(format!("digest-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let hostile = std::fs::read_to_string(format!("{WEEK}/google-example.com-1.xml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .replace(
            "<org_name>google.com</org_name>",
            "<org_name>&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;</org_name>",
        );
    let path = dir.join("hostile.xml");
    std::fs::write(&path, hostile).unwrap_or_else(|e| panic!("{e}"));
    let path = path.to_string_lossy().into_owned();
    let (code, html, stderr) = digest(&["--format", "html", &path]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_safe_html(&html);
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_options_and_inputs_are_named() {
    for (args, message) in [
        (
            vec!["--from", "2026-02-30", WEEK],
            "--from \"2026-02-30\" is not a date",
        ),
        (
            vec!["--from", "2026-11-29", "--to", "2026-11-23", WEEK],
            "--to is before --from",
        ),
        (
            vec!["--service", "sendgrid.net", WEEK],
            "--service \"sendgrid.net\" is not DOMAIN=SERVICE NAME",
        ),
    ] {
        let (code, _, stderr) = digest(&args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(stderr.contains(message), "{stderr}");
    }
    // An unreadable input: the digest of the rest, and exit 2.
    let (code, stdout, stderr) = digest(&[WEEK, "/no/such/report.xml"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("/no/such/report.xml"), "{stderr}");
    assert!(stdout.contains("example.com"), "{stdout}");
}

#[test]
fn a_users_service_names_its_sender() {
    // SendGrid signs with its own domain in the week; a user entry renames it.
    let digest = json(&["--service", "sendgrid.net=Billing mail (SendGrid)", WEEK]);
    let names: Vec<Option<String>> = sources(domain(&digest, "example.com"))
        .into_iter()
        .filter(|s| s.0 == "known")
        .map(|s| s.1)
        .collect();
    assert!(
        names.contains(&Some("Billing mail (SendGrid)".to_owned())),
        "{names:?}"
    );
}

mod function {
    //! The digest function's story over memory ports: rollups written as the reports,
    //! canary and feedback flows write them, an open incident, the mail SES is asked to send.

    use super::assert_safe_html;
    use ses_dmarc_monitor::flow::Failure as _;
    use ses_dmarc_monitor::flow::digest::{self, DigestError, DigestPorts, DigestSettings};
    use ses_dmarc_monitor::judge::digest::{DAY, DayFigures, WEEK};
    use ses_dmarc_monitor::judge::findings::{Kind, Severity};
    use ses_dmarc_monitor::judge::incident::{Incident, IncidentKey};
    use ses_dmarc_monitor::judge::report::SourceTally;
    use ses_dmarc_monitor::judge::source::{Classified, SourceClass};
    use ses_dmarc_monitor::ports::directory::{IdentityLister, ListError, NoDirectory};
    use ses_dmarc_monitor::ports::incidents::{MemoryIncidents, Stored};
    use ses_dmarc_monitor::ports::rollups::{
        Addition, CanaryDay, FeedbackDay, MemoryRollups, Rollups,
    };
    use ses_dmarc_monitor::ports::sender::RecordingMailer;
    use std::collections::{BTreeMap, HashMap};

    /// The account's SES tenants: example.com's identity belongs to one.
    struct Tenants;

    impl IdentityLister for Tenants {
        async fn verified_domains(&self) -> Result<Vec<String>, ListError> {
            Ok(vec!["example.com".into()])
        }

        async fn identities(&self) -> Result<Vec<String>, ListError> {
            Ok(vec!["example.com".into()])
        }

        async fn tenants(&self, identity: &str) -> Result<Vec<String>, ListError> {
            Ok(match identity {
                "example.com" => vec!["billing-unit".into()],
                _ => Vec::new(),
            })
        }
    }

    /// Wednesday 2026-12-02 09:00 UTC: the digest of ISO week 2026-W48.
    const NOW: u64 = 1_796_169_600 + 9 * 3600;
    const MONDAY_W48: u64 = 1_795_392_000;

    fn settings() -> DigestSettings {
        DigestSettings {
            sender: "dmarc-digest@example.com".into(),
            recipients: vec!["postmaster@example.com".into(), "ops@example.com".into()],
            monitored: vec!["example.com".into(), "quiet.example.org".into()],
            history_weeks: 4,
            configuration_set: None,
        }
    }

    fn ses_day(messages: u64, pass: u64) -> Addition {
        Addition::Dmarc(DayFigures {
            by_sender: BTreeMap::from([(
                Classified {
                    class: SourceClass::Ses,
                    name: Some("example.com".into()),
                },
                SourceTally {
                    messages,
                    dmarc_pass: pass,
                    dmarc_fail: messages - pass,
                    ..SourceTally::default()
                },
            )]),
            fallback_messages: 0,
            reports: 1,
            reporters: BTreeMap::from([("google.com".to_owned(), 1)]),
            policy: Some("quarantine".into()),
        })
    }

    async fn send(
        rollups: &MemoryRollups,
        incidents: &MemoryIncidents,
        mailer: &RecordingMailer,
    ) -> Result<digest::DigestSent, DigestError> {
        let ports = DigestPorts {
            rollups,
            incidents,
            directory: &NoDirectory,
            lister: &Tenants,
            mailer,
        };
        digest::run(NOW, ports, &settings()).await
    }

    #[tokio::test]
    async fn the_week_is_mailed_with_its_figures_and_open_incidents() {
        let rollups = MemoryRollups::default();
        for day in 0..7 {
            let at = MONDAY_W48 + day * DAY;
            let added = rollups.add(at, "example.com", &ses_day(100, 90)).await;
            assert!(added.is_ok());
            let probes = Addition::Canary(CanaryDay {
                sent: 144,
                received: if day == 2 { 140 } else { 144 },
                healthy: if day == 2 { 140 } else { 144 },
            });
            assert!(rollups.add(at, "example.com", &probes).await.is_ok());
            let feedback = Addition::Feedback(FeedbackDay {
                deliveries: 1000,
                auth_bounces: 1,
                complaints: 2,
            });
            assert!(rollups.add(at, "example.com", &feedback).await.is_ok());
        }
        // The week before, all passing: this week's 90% is a drop of 10 points.
        assert!(
            rollups
                .add(MONDAY_W48 - 2 * DAY, "example.com", &ses_day(100, 100))
                .await
                .is_ok()
        );
        // After the week: in no figure.
        assert!(
            rollups
                .add(MONDAY_W48 + WEEK, "example.com", &ses_day(999, 0))
                .await
                .is_ok()
        );
        // The audit's readiness: Tuesday's failed SPF is mended by Saturday, when the
        // complaint rate fails; after the week, in nothing.
        use ses_dmarc_monitor::judge::bulk::{Requirement as R, Status as S};
        let readiness = |spf, complaints| {
            Addition::Readiness(BTreeMap::from([
                (R::Spf, spf),
                (R::Dkim, S::Pass),
                (R::ComplaintRate, complaints),
                (R::Ptr, S::Unknown),
            ]))
        };
        for (day, judged) in [
            (MONDAY_W48 + DAY, readiness(S::Fail, S::Pass)),
            (MONDAY_W48 + 5 * DAY, readiness(S::Pass, S::Fail)),
            (MONDAY_W48 + WEEK, readiness(S::Fail, S::Fail)),
        ] {
            assert!(rollups.add(day, "example.com", &judged).await.is_ok());
        }
        let key = IncidentKey {
            kind: Kind::MailFromFallback,
            domain: "example.com".into(),
            subject: None,
        };
        let incident = Incident {
            opened: MONDAY_W48 + 3 * DAY,
            last_seen: MONDAY_W48 + 4 * DAY,
            last_sent: MONDAY_W48 + 3 * DAY,
            count: 12,
            counted_at_notice: 1,
            detail: "the envelope sender is us-east-1.amazonses.com".into(),
            severity: Severity::Critical,
            resolved: None,
            owed: None,
            reporters: Default::default(),
        };
        let incidents = MemoryIncidents::new(HashMap::from([(
            key,
            Stored {
                incident,
                version: 1,
            },
        )]));
        let mailer = RecordingMailer::default();
        let sent = send(&rollups, &incidents, &mailer).await;
        let sent = sent.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sent.subject,
            "DMARC weekly 2026-W48: 1 of 2 domains need action"
        );
        let mailed = mailer.mailed.lock().map(|m| m.clone()).unwrap_or_default();
        assert_eq!(mailed.len(), 1);
        let mail = &mailed[0];
        assert_eq!(mail.from, "dmarc-digest@example.com");
        assert_eq!(mail.to, settings().recipients);
        assert_eq!(mail.subject, sent.subject);
        // 7 days × 100 messages, 90% passing; the canary's 1008 probes, 1004 healthy; 14
        // complaints in 7000 deliveries (2.0‰).
        assert!(
            mail.text
                .contains("example.com | quarantine | 700 | 90.0% | −10.0 |"),
            "{}",
            mail.text
        );
        assert!(
            mail.text
                .contains("| 1004/1008 | 2.0‰ | fails complaint_rate\n"),
            "{}",
            mail.text
        );
        assert!(
            mail.text.contains(
                "  Bulk-sender readiness: as the audit judged it on 2026-11-28: fails complaint_rate; meets spf, dkim; cannot judge ptr\n"
            ),
            "{}",
            mail.text
        );
        // A domain the audit did not judge has no readiness.
        assert!(mail.text.contains("| - | - | -\n"), "{}", mail.text);
        assert!(
            mail.text.contains("1. example.com: Open since"),
            "{}",
            mail.text
        );
        assert!(
            mail.text
                .contains("canary sent 1008 probe(s): 1004 arrived"),
            "{}",
            mail.text
        );
        // The quiet domain is listed with nothing.
        assert!(
            mail.text.contains("quiet.example.org | - | 0 |"),
            "{}",
            mail.text
        );
        // Grouped by SES tenant: example.com's tenant first, then the domains without one.
        let table = mail.text.split("All domains").nth(1).unwrap_or_default();
        let order: Vec<usize> = [
            "SES tenant billing-unit:",
            "example.com | quarantine | 700",
            "No SES tenant:",
            "quiet.example.org | - | 0",
        ]
        .iter()
        .map(|line| {
            table
                .find(line)
                .unwrap_or_else(|| panic!("{line:?} in {table}"))
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}: {table}");
        assert!(
            mail.text
                .contains("example.com\n  SES tenant: billing-unit"),
            "{}",
            mail.text
        );
        assert!(
            mail.html
                .contains("<th class=\"l\" colspan=\"12\">SES tenant billing-unit</th>")
        );
        assert_safe_html(&mail.html);
        assert!(
            mail.html
                .contains("<h2>example.com</h2>\n<p>700 message(s)")
        );
    }

    #[tokio::test]
    async fn a_quiet_week_still_sends_and_says_so() {
        let mailer = RecordingMailer::default();
        let sent = send(
            &MemoryRollups::default(),
            &MemoryIncidents::default(),
            &mailer,
        )
        .await;
        let sent = sent.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sent.subject, "DMARC weekly 2026-W48: no reports received");
        let mailed = mailer.mailed.lock().map(|m| m.clone()).unwrap_or_default();
        assert!(
            mailed[0].text.contains("1. No reports received"),
            "{}",
            mailed[0].text
        );
    }

    #[tokio::test]
    async fn unreadable_figures_are_said_and_a_refused_send_is_retried() {
        let broken = MemoryRollups {
            failing: true,
            ..MemoryRollups::default()
        };
        let mailer = RecordingMailer::default();
        let sent = send(&broken, &MemoryIncidents::default(), &mailer).await;
        assert!(sent.is_ok(), "{sent:?}");
        let mailed = mailer.mailed.lock().map(|m| m.clone()).unwrap_or_default();
        // Five weeks read: 35 days, none readable; the digest still goes out.
        assert!(
            mailed[0]
                .text
                .contains("1. The figures of 35 day(s) could not be read"),
            "{}",
            mailed[0].text
        );
        let refusing = RecordingMailer {
            failing: true,
            ..RecordingMailer::default()
        };
        let error = send(
            &MemoryRollups::default(),
            &MemoryIncidents::default(),
            &refusing,
        )
        .await;
        let error = error.err().unwrap_or_else(|| panic!("sent"));
        assert!(error.is_transient());
        assert_eq!(error.error_type(), "DigestNotSent");
    }
}

#[test]
fn counts_near_the_limit_neither_panic_nor_wrap() {
    // A stranger's report: two rows whose counts add past 2^64 saturate, in every format.
    let dir = std::env::temp_dir().join(format!("digest-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let huge = std::fs::read_to_string(format!("{WEEK}/google-example.com-1.xml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .replace("<count>300</count>", "<count>18446744073709551615</count>")
        .replace("<count>20</count>", "<count>18446744073709551615</count>");
    let path = dir.join("huge.xml");
    std::fs::write(&path, huge).unwrap_or_else(|e| panic!("{e}"));
    let path = path.to_string_lossy().into_owned();
    for format in ["text", "html", "json"] {
        let (code, out, stderr) = digest(&["--format", format, &path]);
        assert_eq!(code, Some(0), "{format}: {stderr}");
        assert!(out.contains("18446744073709551615"), "{format}: {out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
