//! The CLI contract, as a user runs it: options, output shapes, exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/events");

pub(crate) fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ses-dmarc-monitor"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(bytes) = stdin {
        child
            .stdin
            .take()
            .map(|mut s| s.write_all(bytes))
            .transpose()
            .unwrap_or_else(|e| panic!("{e}"));
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

/// `analyze --format json` with the given arguments.
fn analyze_json(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut all = vec!["analyze", "--format", "json"];
    all.extend_from_slice(args);
    run(&all, stdin)
}

fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn kinds(output: &Output) -> Vec<String> {
    json_lines(output)
        .iter()
        .map(|v| v["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn event(name: &str) -> String {
    format!("{EVENTS}/{name}")
}

#[test]
fn bundled_events_give_a_report_and_exit_zero() {
    let output = run(&["analyze", EVENTS], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("critical dmarc_fail"), "{stdout}");
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary
            .starts_with("Summary: 35 input(s), 14 message(s) analyzed, 37 feedback notification(s), 2 SES service event(s), 2 skipped, 0 unreadable"),
        "{summary}"
    );
    assert!(summary.contains("Offline"), "{summary}");
}

/// The headline on a newcomer's first run: the bundled fallback is a critical
/// `mail_from_fallback`, judged against the directory's identity state with no flag given.
#[test]
fn the_first_command_shows_the_fallback_as_critical() {
    let output = run(&["analyze", EVENTS], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The sample's lines: its heading, and the indented lines under it.
    let fallback: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.contains("receipt-mail-from-fallback.json [record 0]"))
        .enumerate()
        .take_while(|(i, line)| *i == 0 || line.starts_with(' '))
        .map(|(_, line)| line)
        .collect();
    assert!(
        fallback
            .iter()
            .any(|line| line.contains("critical mail_from_fallback")),
        "{fallback:#?}"
    );
    assert!(stderr.contains("identity-state.json"), "{stderr}");
    // Not an event: the directory's inputs are the same 35.
    assert!(stdout.contains("Summary: 35 input(s)"), "{stdout}");
    // Given explicitly, another state wins: without a custom MAIL FROM there is no fallback.
    let state = std::env::temp_dir().join(format!("sdm-state-{}.json", std::process::id()));
    std::fs::write(&state, "{}").unwrap_or_else(|e| panic!("{e}"));
    let output = analyze_json(
        &[
            "--identity-state",
            state.to_str().unwrap_or_default(),
            EVENTS,
        ],
        None,
    );
    assert!(!kinds(&output).contains(&"mail_from_fallback".to_owned()));
    let _ = std::fs::remove_file(&state);
}

#[test]
fn json_lines_follow_the_contract() {
    let output = analyze_json(&[&event("receipt-fallback-dkim-broken.json")], None);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 4);
    let keys = [
        "input",
        "record",
        "kind",
        "severity",
        "domain",
        "message_id",
        "detail",
    ];
    for raw in String::from_utf8_lossy(&output.stdout).lines() {
        // The keys appear in the documented order, and no others.
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| {
                raw.find(&format!("\"{k}\":"))
                    .unwrap_or_else(|| panic!("{k} missing: {raw}"))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{raw}");
    }
    for line in &lines {
        // A consequence also names its causes, after the documented keys.
        let extra = usize::from(line.get("consequence_of").is_some());
        assert_eq!(line.as_object().map(|o| o.len()), Some(keys.len() + extra));
        assert_eq!(line["record"], 0);
        assert_eq!(line["domain"], "example.com");
        assert_eq!(line["message_id"], "broken0003");
    }
    assert_eq!(lines[3]["kind"], "dmarc_fail");
    assert_eq!(lines[3]["severity"], "critical");
    // Without a custom MAIL FROM, the unaligned identifiers are the causes of the failure.
    assert_eq!(
        lines[3]["consequence_of"],
        serde_json::json!(["spf_unaligned", "dkim_unaligned"])
    );
}

#[test]
fn custom_mail_from_makes_the_fallback_critical() {
    let file = event("receipt-mail-from-fallback.json");
    let output = analyze_json(
        &[
            "--mail-from",
            "example.com=mail.example.com",
            "--fail-on",
            "critical",
            &file,
        ],
        None,
    );
    assert_eq!(kinds(&output), ["spf_unaligned", "mail_from_fallback"]);
    assert_eq!(output.status.code(), Some(1));
    // Without the threshold the run succeeds.
    let output = analyze_json(
        &["--mail-from", "example.com=mail.example.com", &file],
        None,
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn strict_dkim_policy_rejects_a_subdomain_signature() {
    let file = event("receipt-strict-dkim.json");
    let output = analyze_json(
        &[
            "--policy",
            "example.org=v=DMARC1; p=quarantine; adkim=s",
            &file,
        ],
        None,
    );
    assert_eq!(
        kinds(&output),
        ["spf_unaligned", "dkim_unaligned", "dmarc_fail"]
    );
    let lines = json_lines(&output);
    assert_eq!(lines[2]["severity"], "critical");
}

#[test]
fn strict_spf_policy_is_flagged() {
    let file = event("receipt-strict-spf.json");
    let output = analyze_json(
        &["--policy", "example.net=v=DMARC1; p=reject; aspf=s", &file],
        None,
    );
    assert_eq!(kinds(&output), ["spf_unaligned", "strict_spf_alignment"]);
}

#[test]
fn unreadable_inputs_exit_two_and_the_rest_is_processed() {
    let dir = std::env::temp_dir().join(format!("sdm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"Records\": [{\"ses\": {\"mail\": 7}}, ")
        .unwrap_or_else(|e| panic!("{e}"));
    let output = analyze_json(
        &[
            broken.to_str().unwrap_or_default(),
            "/nonexistent/file.json",
            &event("receipt-mail-from-fallback.json"),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broken.json: not valid JSON"), "{stderr}");
    assert!(stderr.contains("/nonexistent/file.json"), "{stderr}");
    assert_eq!(kinds(&output), ["spf_unaligned"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_record_in_a_batch_is_named_and_the_good_one_analyzed() {
    let good =
        std::fs::read_to_string(event("receipt-fallback-dkim-broken.json")).unwrap_or_default();
    let good: serde_json::Value = serde_json::from_str(&good).unwrap_or_default();
    let batch = serde_json::json!({"Records": [{"ses": {"mail": "nope"}}, good["Records"][0]]});
    let output = analyze_json(&["-"], Some(batch.to_string().as_bytes()));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("-: record 0")
            || String::from_utf8_lossy(&output.stderr).contains("- record 0")
    );
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l["record"] == 1 && l["input"] == "-"));
}

#[test]
fn bad_options_are_named() {
    let output = run(
        &["analyze", "--policy", "example.com=p=reject", EVENTS],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not parse"));
    let output = run(&["analyze", "--mail-from", "example.com", EVENTS], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--mail-from"));
}

#[test]
fn trusted_authserv_id_is_configurable() {
    let raw = b"Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com\r\nFrom: a@example.com\r\n\r\nbody\r\n";
    let output = analyze_json(&["-"], Some(raw));
    assert_eq!(kinds(&output), Vec::<String>::new());
    let output = run(
        &["analyze", "--trusted-authserv-id", "mx.example.net", "-"],
        Some(raw),
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("SPF:  pass example.com, aligned"));
}

#[test]
fn auth_results_prints_one_json_object_per_line() {
    let input = b"amazonses.com; spf=pass client-ip=192.0.2.1; dkim=pass header.i=@example.com;\n\n;;;\nexample.org 1; none\n";
    let output = run(&["auth-results", "--format", "json"], Some(input));
    assert_eq!(output.status.code(), Some(0));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["authserv_id"], "amazonses.com");
    assert_eq!(
        lines[0]["results"][0]["properties"][0]["property"],
        "client-ip"
    );
    assert_eq!(
        lines[0]["results"][0]["properties"][0]["ptype"],
        serde_json::Value::Null
    );
    assert_eq!(lines[0]["results"][1]["properties"][0]["ptype"], "header");
    assert!(
        lines[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no authserv-id"))
    );
    assert_eq!(lines[2]["version"], 1);
}

#[test]
fn feedback_findings_where_they_belong_and_none_for_plain_bounces() {
    let output = analyze_json(
        &[
            &event("sns-bounce-gmail-authentication.json"),
            &event("sns-complaint-auth-failure.json"),
            &event("sns-complaint-abuse-and-untyped.json"),
            &event("feedback-bounce-user-unknown.json"),
            &event("feedback-gmail-ptr-not-authentication.json"),
            &event("sns-bounce-every-subtype.json"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0));
    let lines = json_lines(&output);
    let per_file = |name: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["input"].as_str().is_some_and(|i| i.ends_with(name)))
            .map(|l| l["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        per_file("sns-bounce-gmail-authentication.json"),
        vec!["auth_bounce"; 7]
    );
    assert_eq!(
        per_file("sns-complaint-auth-failure.json"),
        vec!["auth_complaint"]
    );
    for quiet in [
        "sns-complaint-abuse-and-untyped.json",
        "feedback-bounce-user-unknown.json",
        "feedback-gmail-ptr-not-authentication.json",
        "sns-bounce-every-subtype.json",
    ] {
        assert!(per_file(quiet).is_empty(), "{quiet}: {:?}", per_file(quiet));
    }
    // Records keep their index within the SNS batch; recipient addresses never appear.
    let records: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["record"].as_u64())
        .take(7)
        .collect();
    assert_eq!(records, (0..7).collect::<Vec<u64>>());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("reader0@"), "{stdout}");
}

#[test]
fn identity_state_gives_mail_from_status() {
    let state = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/identity-state.json");
    let bounce = event("feedback-bounce-mail-from-failed.json");
    let output = analyze_json(&["--identity-state", state, &bounce], None);
    assert_eq!(kinds(&output), ["mail_from_status"]);
    let line = &json_lines(&output)[0];
    assert_eq!(line["severity"], "critical");
    assert_eq!(line["domain"], "example.com");
    // Without the state nothing is known about the identity, so nothing is said.
    assert!(kinds(&analyze_json(&[&bounce], None)).is_empty());
    // With --fail-on critical, the exit code says so.
    let output = run(
        &[
            "analyze",
            "--identity-state",
            state,
            "--fail-on",
            "critical",
            &bounce,
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_probe_file_judges_a_received_probe_against_its_identity() {
    let probes = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/probes.json");
    let state = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/identity-state.json");
    let probe = event("receipt-canary-probe.json");
    // The identity's MAIL FROM domain has FAILED in SES: the probe says so.
    let output = analyze_json(
        &["--probe-state", probes, "--identity-state", state, &probe],
        None,
    );
    assert_eq!(kinds(&output), ["mail_from_status"]);
    // Healthy, as the user states it: nothing to say, and the text names the probe.
    let output = run(
        &[
            "analyze",
            "--probe-state",
            probes,
            "--mail-from",
            "example.com=bounce.example.com",
            &probe,
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("canary probe 0100019ad2e4f6a8-3c5e7f90-1b2d-4e6f-8a0c-2e4f6a8c0e1f-000000 sent from example.com at 2026-11-02 08:15 UTC, received 2 s later"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok: aligned, nothing to report"),
        "{stdout}"
    );
    // Without the probe file the same message is ordinary mail: no identity state, no finding.
    assert!(kinds(&analyze_json(&["--identity-state", state, &probe], None)).is_empty());
    // A bad probe file is named, with what is wrong in it.
    let dir = std::env::temp_dir().join(format!("sdm-probes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.join("probes.json");
    std::fs::write(&bad, r#"[{"message_id": "x", "identity": "example.com"}]"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let bad = bad.display().to_string();
    let output = run(&["analyze", "--probe-state", &bad, &probe], None);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("error: --probe-state {bad}: missing field `sent`")),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_identity_state_file_is_named() {
    let dir = std::env::temp_dir().join(format!("sdm-identity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.join("state.json");
    std::fs::write(&bad, "[1, 2]").unwrap_or_else(|e| panic!("{e}"));
    let bad = bad.display().to_string();
    for path in [bad.as_str(), "/nonexistent/state.json"] {
        let output = run(
            &[
                "analyze",
                "--identity-state",
                path,
                &event("feedback-delivery.json"),
            ],
            None,
        );
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with(&format!("error: --identity-state {path}: ")),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_message_without_from_is_not_called_ok() {
    let text = std::fs::read_to_string(event("receipt-aligned.json")).unwrap_or_default();
    let mut document: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let mail = &mut document["Records"][0]["ses"]["mail"];
    mail["commonHeaders"]["from"] = serde_json::json!([]);
    if let Some(headers) = mail["headers"].as_array_mut() {
        headers.retain(|h| h["name"] != "From");
    }
    let output = run(&["analyze", "-"], Some(document.to_string().as_bytes()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("alignment cannot be judged"), "{stdout}");
    assert!(!stdout.contains("ok:"), "{stdout}");
}

#[test]
fn an_error_line_names_its_record_once() {
    let output = run(
        &["analyze", "-"],
        Some(br#"{"Records": [{"unexpected": 1}]}"#),
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let naming: Vec<&str> = all.lines().filter(|l| l.contains("record 0")).collect();
    assert!(!naming.is_empty(), "{all}");
    assert!(
        naming.iter().all(|l| l.matches("record 0").count() == 1),
        "{all}"
    );
    assert_eq!(output.status.code(), Some(2), "{all}");
}

#[test]
fn firehose_exports_are_read_plain_gzipped_and_without_extension() {
    use flate2::{Compression, write::GzEncoder};
    let dir = std::env::temp_dir().join(format!("sdm-firehose-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let export = std::fs::read(event("firehose-export.jsonl")).unwrap_or_default();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&export).unwrap_or_else(|e| panic!("{e}"));
    let gz = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    // Firehose names its objects `<stream>-<n>-<date>-<uuid>`, with no extension.
    let bare = dir.join("ses-events-1-2026-11-06-09-00-00-0a1b2c3d");
    std::fs::write(dir.join("2026-11-06.jsonl.gz"), &gz).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&bare, &gz).unwrap_or_else(|e| panic!("{e}"));
    // A directory walk takes `.gz`; a file named on the command line is read whatever its name.
    let output = run(
        &[
            "analyze",
            "--format",
            "json",
            &dir.display().to_string(),
            &bare.display().to_string(),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines
            .iter()
            .all(|l| l["kind"] == "auth_bounce" && l["record"] == 2)
    );

    // A truncated upload: the broken line is an error, the others still count.
    let mut broken = export.clone();
    broken.extend_from_slice(b"{\"eventType\": \"Bounce\", \"mail\": {\n");
    let output = run(&["analyze", "--format", "json", "-"], Some(&broken));
    assert_eq!(kinds(&output), ["auth_bounce"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("record 3"), "{stderr}");
    assert_eq!(output.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_silent_nameserver_costs_the_dns_budget_and_fails_nothing() {
    // A name server that takes every query and answers none, on UDP and TCP: the kernel
    // queues the datagrams and completes the connections, nobody reads them.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = udp.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let _tcp = std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("{e}"));
    let nameserver = addr.to_string();
    let eml = event("raw-canary.eml");
    let started = std::time::Instant::now();
    let text = run(
        &[
            "analyze",
            "--nameserver",
            &nameserver,
            "--dns-budget",
            "2",
            &eml,
        ],
        None,
    );
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.status.code(), Some(0), "{stdout}");
    // Two seconds of DNS for the record, with room for a loaded machine; the resolver's own
    // timeouts (3 s, two attempts, for each of several lookups) would take far longer.
    assert!(took < std::time::Duration::from_secs(6), "{took:?}");
    assert!(
        stdout.contains("not re-verified (DNS did not answer within 1 s)"),
        "{stdout}"
    );
    assert!(!stdout.contains("ok:"), "{stdout}");
    let json = analyze_json(
        &["--nameserver", &nameserver, "--dns-budget", "2", &eml],
        None,
    );
    // The fallback envelope's SPF does not align, as SES reported; nothing failed.
    assert_eq!(kinds(&json), vec!["spf_unaligned"], "{json:?}");
}

const REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/reports/receiver-ses-fallback.xml"
);

/// The fixture report as a receiver may send it: gzipped, zipped, or attached to an e-mail,
/// each under a name that says nothing about its content.
fn packed_reports(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    use std::io::Write as _;
    let xml = std::fs::read(REPORT).unwrap_or_else(|e| panic!("{e}"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&xml).unwrap_or_else(|e| panic!("{e}"));
    let gz = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "receiver.example!example.com!1793491200!1793577599.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    zip.write_all(&xml).unwrap_or_else(|e| panic!("{e}"));
    let zip = zip.finish().unwrap_or_else(|e| panic!("{e}")).into_inner();
    use base64::Engine as _;
    let attached = base64::engine::general_purpose::STANDARD.encode(&zip);
    let mail = format!(
        "From: noreply-dmarc@receiver.example\r\nTo: dmarc@inbound.example.com\r\n\
         Subject: Report domain: example.com\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nunused\r\n\
         --b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{attached}\r\n--b--\r\n"
    );
    let files = [
        ("one.bin", gz),
        ("two.dat", zip),
        ("three", mail.into_bytes()),
    ];
    files
        .into_iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
            path
        })
        .collect()
}

#[test]
fn reports_are_read_by_content_and_printed_one_object_each() {
    let dir = std::env::temp_dir().join(format!("ses-dmarc-reports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut args = vec![
        "reports".to_owned(),
        "--format".into(),
        "json".into(),
        "--mail-from".into(),
        "example.com=mail.example.com".into(),
        REPORT.into(),
    ];
    args.extend(packed_reports(&dir).iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run(&args, None);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let reports = json_lines(&output);
    assert_eq!(reports.len(), 4, "{reports:?}");
    for report in &reports {
        assert_eq!(report["type"], "dmarc_aggregate");
        assert_eq!(report["org_name"], "receiver.example");
        assert_eq!(report["report_id"], "r-1");
        assert_eq!(report["domain"], "example.com");
        assert_eq!(report["begin"], 1_793_491_200);
        assert_eq!(report["end"], 1_793_577_599);
        assert_eq!(report["messages"], 152);
        assert_eq!(report["dmarc_pass"], 90);
        assert_eq!(report["dmarc_fail"], 62);
        assert_eq!(
            report["disposition"],
            serde_json::json!({"none": 120, "quarantine": 0, "reject": 32, "pass": 0, "unknown": 0})
        );
        assert_eq!(report["amazonses_envelope"], 7);
        assert_eq!(report["sources"].as_array().map(Vec::len), Some(4));
        let kinds: Vec<&str> = report["findings"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["kind"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            kinds,
            vec![
                "report_mail_from_fallback",
                "report_dmarc_fail",
                "report_unknown_source"
            ]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reports_text_has_a_line_per_source_and_bad_inputs_exit_two() {
    let missing = format!("{EVENTS}/no-such-report.xml");
    let output = run(
        &[
            "reports",
            "--fail-on",
            "critical",
            REPORT,
            &missing,
            &event("receipt-aligned.json"),
        ],
        None,
    );
    // An unreadable input outranks the threshold: 2, and stderr names both bad inputs.
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-report.xml"), "{stderr}");
    assert!(
        stderr.contains("receipt-aligned.json: TLS report"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("DMARC aggregate report from receiver.example (id r-1) for example.com, between 2026-11-01 and 2026-11-01 (UTC)"), "{stdout}");
    assert!(stdout.contains("54.240.8.31"), "{stdout}");
    // Each row says who sent it: SES (named by the identity), forwarded, or unknown.
    assert!(
        stdout.contains("us-east-1.amazonses.com  [ses: example.com]"),
        "{stdout}"
    );
    assert!(stdout.contains("spoof.example  [unknown]"), "{stdout}");
    assert!(
        stdout.contains("lists.example.org  [forwarded]"),
        "{stdout}"
    );
    assert!(stdout.contains("(receiver override)"), "{stdout}");
    let tls = run(
        &[
            "reports",
            "--format",
            "json",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fixtures/reports/sender-tls.json"
            ),
        ],
        None,
    );
    let lines = json_lines(&tls);
    assert_eq!(lines.len(), 1, "{tls:?}");
    assert_eq!(lines[0]["type"], "tls_rpt");
    assert_eq!(lines[0]["org_name"], "sender.example");
    assert_eq!(lines[0]["report_id"], "t-2026-11-01");
    assert_eq!(lines[0]["domains"], serde_json::json!(["example.com"]));
    assert_eq!(
        (lines[0]["successful"].as_u64(), lines[0]["failed"].as_u64()),
        (Some(480), Some(20))
    );
    assert_eq!(lines[0]["findings"][0]["kind"], "tls_rpt_failure");
}

#[test]
fn analyze_takes_reports_beside_events() {
    let output = analyze_json(
        &[
            "--mail-from",
            "example.com=mail.example.com",
            REPORT,
            &event("receipt-aligned.json"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let found = kinds(&output);
    assert_eq!(
        found,
        vec![
            "report_mail_from_fallback",
            "report_dmarc_fail",
            "report_unknown_source"
        ]
    );
}

/// A scratch directory of this test's own.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sdm-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

#[test]
fn a_report_cut_short_exits_two_naming_it() {
    let xml = std::fs::read_to_string(REPORT).unwrap_or_else(|e| panic!("{e}"));
    let cut = &xml[..xml.find("</record>").unwrap_or_default() + "</record>".len()];
    let output = run(&["reports", "-"], Some(cut.as_bytes()));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "-: the report ends before </feedback> (after 1 record(s)): it was cut short"
        ),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("messages"));
}

#[test]
fn counts_past_two_to_the_64th_saturate() {
    let xml = std::fs::read_to_string(REPORT)
        .unwrap_or_else(|e| panic!("{e}"))
        .replace("<count>90</count>", "<count>18446744073709551615</count>");
    let output = run(&["reports", "--format", "json", "-"], Some(xml.as_bytes()));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["messages"], serde_json::json!(u64::MAX), "{report}");
    assert_eq!(report["dmarc_pass"], serde_json::json!(u64::MAX));
}

#[cfg(unix)]
#[test]
fn a_link_loop_in_a_directory_is_not_followed() {
    let dir = scratch("loop");
    std::fs::copy(REPORT, dir.join("report.xml")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&dir, dir.join("again")).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let output = run(&["reports", &dir.to_string_lossy()], None);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Summary: 1 input(s), 1 report(s)."),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("a link to a directory, not followed"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_endless_stdin_ends_at_the_input_limit() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ses-dmarc-monitor"))
        .args(["reports", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    // Writes until the command stops reading: it must, past its limit.
    let writer = std::thread::spawn(move || {
        let chunk = vec![b' '; 1 << 20];
        let mut written = 0u64;
        while stdin.write_all(&chunk).is_ok() {
            written += chunk.len() as u64;
            if written > 1 << 32 {
                break;
            }
        }
        written
    });
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let written = writer.join().unwrap_or_default();
    assert!(
        written < 1 << 32,
        "the command read {written} bytes and did not stop"
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("-: larger than 64 MiB, the most one input may hold"),
        "{stderr}"
    );
}
