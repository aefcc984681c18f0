//! Receivers' reports as they really arrive: every DMARC aggregate and SMTP TLS report in
//! `../shared/vectors` (parsedmarc's samples, dmarc-report-viewer's test data, mail-auth's
//! resources; see the vectors' MANIFEST.md) read with the values its source gives, or
//! rejected on purpose, as listed here. Then the quirks one by one, and the findings.

use crate::common;

use ses_dmarc_monitor::flow::reports::{self, ReportSettings};
use ses_dmarc_monitor::judge::findings::{Kind, Severity};
use ses_dmarc_monitor::judge::report::RowDmarc;
use ses_dmarc_monitor::read::report::aggregate::{
    AggregateReport, AuthResult, Disposition, OverrideType, Schema,
};
use ses_dmarc_monitor::read::report::{ExtractError, Limits, Report, extract};
use ses_dmarc_monitor::say::explain::Detail as _;
use std::path::{Path, PathBuf};

fn read(relative: &str) -> Vec<u8> {
    let path = common::vectors()
        .unwrap_or_else(|| panic!("no vectors"))
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files_below(relative: &str) -> Vec<PathBuf> {
    common::files_below(
        &common::vectors()
            .unwrap_or_else(|| panic!("no vectors"))
            .join(relative),
    )
}

/// The one aggregate report in the file.
fn aggregate(relative: &str) -> AggregateReport {
    let extracted = extract(&read(relative), Limits::default());
    assert!(
        extracted.errors.is_empty(),
        "{relative}: {:?}",
        extracted.errors
    );
    match extracted.reports.as_slice() {
        [Report::Aggregate(report)] => report.clone(),
        other => panic!("{relative}: {other:?}"),
    }
}

/// What a vector file is expected to give.
enum Expected {
    /// Reports of these types.
    Reports(&'static [&'static str]),
    /// Not a report (a licence, mail-auth's expected output, a failure report): refused
    /// with an error that says so.
    Rejected(&'static str),
}

fn expected(path: &Path) -> Expected {
    let name = path.to_string_lossy();
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if file == "LICENSE" || file == "psl_overrides.txt" {
        Expected::Rejected("neither a DMARC aggregate report")
    } else if name.contains("/failure/") {
        // RFC 6591 failure (forensic) reports: not aggregate reports, not read here.
        Expected::Rejected("")
    } else if file == "empty.xml" {
        Expected::Rejected("empty")
    } else if name.contains("dmarc-feedback/") && file.ends_with(".json") {
        // mail-auth's expected output for the report beside it.
        Expected::Rejected("not an SMTP TLS report")
    } else if name.contains("tlsrpt") || name.contains("smtp-tls") || name.contains("smtp_tls") {
        Expected::Reports(&["tls_rpt"])
    } else {
        Expected::Reports(&["dmarc_aggregate"])
    }
}

#[test]
fn every_vector_reads_or_is_rejected_on_purpose() {
    if common::vectors().is_none() {
        return;
    }
    let mut files = files_below("dmarc-reports");
    files.extend(files_below(
        "dkim-spf-dmarc/mail-auth/resources/dmarc-feedback",
    ));
    files.extend(files_below("dkim-spf-dmarc/mail-auth/resources/tlsrpt"));
    assert!(files.len() > 60, "{} files", files.len());
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let extracted = extract(&bytes, Limits::default());
        let types: Vec<&str> = extracted
            .reports
            .iter()
            .map(|r| match r {
                Report::Aggregate(_) => "dmarc_aggregate",
                Report::TlsRpt(_) => "tls_rpt",
            })
            .collect();
        match expected(&path) {
            Expected::Reports(want) => {
                assert!(
                    extracted.errors.is_empty(),
                    "{}: {:?}",
                    path.display(),
                    extracted.errors
                );
                assert_eq!(types, want, "{}", path.display());
            }
            Expected::Rejected(why) => {
                assert!(types.is_empty(), "{}: {types:?}", path.display());
                let errors: Vec<String> = extracted.errors.iter().map(|e| e.to_string()).collect();
                assert!(
                    errors.iter().any(|e| e.contains(why)),
                    "{}: {errors:?}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn parsedmarc_samples_match_the_metadata_their_names_carry() {
    if common::vectors().is_none() {
        return;
    }
    // parsedmarc names its samples as receivers name report files:
    // `<receiver>!<policy domain>!<begin>!<end>[!<id>].xml[.gz|.zip]`.
    let mut checked = 0;
    for path in files_below("dmarc-reports/parsedmarc/samples/aggregate") {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parts: Vec<&str> = file.split('!').collect();
        if parts.len() < 4 || parts[0].is_empty() || file.starts_with("fastmail") {
            // Renamed samples: fastmail's is about indemed.com, and the one without a
            // receiver covers another range than its name says.
            continue;
        }
        let relative = path
            .strip_prefix(common::vectors().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string_lossy()
            .into_owned();
        let report = aggregate(&relative);
        let domain = parts[1].trim_start_matches("rfc9990-");
        assert_eq!(report.policy.domain.as_deref(), Some(domain), "{file}");
        let begin: u64 = parts[2].parse().unwrap_or_else(|e| panic!("{file}: {e}"));
        let end: u64 = parts[3]
            .split('.')
            .next()
            .and_then(|e| e.parse().ok())
            .unwrap_or_else(|| panic!("{file}"));
        assert_eq!(
            (report.begin, report.end),
            (Some(begin), Some(end)),
            "{file}"
        );
        assert!(report.rows.iter().all(|r| r.count.is_some()), "{file}");
        checked += 1;
    }
    assert!(checked >= 8, "{checked}");
}

#[test]
fn mail_auth_resources_match_its_expected_output() {
    if common::vectors().is_none() {
        return;
    }
    // mail-auth's resources carry its reading beside each report (NNN.json); metadata and
    // rows compared, where mail-auth reads them right.
    let dir = "dkim-spf-dmarc/mail-auth/resources/dmarc-feedback";
    for number in [
        "001", "002", "003", "004", "005", "100", "101", "102", "103", "104",
    ] {
        let source = if number.starts_with('1') {
            "eml"
        } else {
            "xml"
        };
        let report = aggregate(&format!("{dir}/{number}.{source}"));
        let expected: serde_json::Value =
            serde_json::from_slice(&read(&format!("{dir}/{number}.json")))
                .unwrap_or_else(|e| panic!("{number}: {e}"));
        let meta = &expected["report_metadata"];
        assert_eq!(
            report.org_name.as_deref(),
            meta["org_name"].as_str(),
            "{number}"
        );
        assert_eq!(
            report.report_id.as_deref(),
            meta["report_id"].as_str(),
            "{number}"
        );
        assert_eq!(
            report.begin,
            meta["date_range"]["begin"].as_u64(),
            "{number}"
        );
        assert_eq!(report.end, meta["date_range"]["end"].as_u64(), "{number}");
        assert_eq!(
            report.policy.domain.as_deref(),
            expected["policy_published"]["domain"].as_str(),
            "{number}"
        );
        let records = expected["record"].as_array().cloned().unwrap_or_default();
        assert_eq!(report.rows.len(), records.len(), "{number}");
        for (row, record) in report.rows.iter().zip(&records) {
            assert_eq!(
                row.source_ip.as_deref(),
                record["row"]["source_ip"].as_str(),
                "{number}"
            );
            assert_eq!(row.count, record["row"]["count"].as_u64(), "{number}");
            assert_eq!(
                row.dkim_results.len(),
                record["auth_results"]["dkim"]
                    .as_array()
                    .map_or(0, Vec::len),
                "{number}"
            );
        }
    }
}

#[test]
fn the_quirks_receivers_send_are_read_right() {
    if common::vectors().is_none() {
        return;
    }
    // Capitalized results: `Pass`, not the none mail-auth reads.
    let upper = aggregate(
        "dmarc-reports/parsedmarc/samples/aggregate_invalid/report_with_upper_cased_pass.xml",
    );
    let row = &upper.rows[0];
    assert_eq!(row.dkim_results[0].result, Some(AuthResult::Pass));
    assert!(
        upper.unknown_values.is_empty(),
        "{:?}",
        upper.unknown_values
    );

    // SPF `hardfail` is a fail.
    let hardfail =
        aggregate("dmarc-reports/dmarc-report-viewer/testdata/dmarc-reports/hardfail.xml");
    let spf: Vec<_> = hardfail.rows.iter().flat_map(|r| &r.spf_results).collect();
    assert!(
        spf.iter().any(|s| s.result == Some(AuthResult::Fail)),
        "{spf:?}"
    );

    // An empty override reason says nothing.
    let empty = aggregate("dmarc-reports/parsedmarc/samples/aggregate/empty_reason.xml");
    assert!(
        empty.rows.iter().all(|r| r.reasons.is_empty()),
        "{:?}",
        empty.rows
    );

    // A stray unclosed `xs:schema` around `<feedback>`.
    let ikea = aggregate(
        "dmarc-reports/parsedmarc/samples/aggregate/ikea.com!example.de!1538690400!1538776800.xml",
    );
    assert_eq!(ikea.policy.pct, Some(100));
    assert_eq!(ikea.rows.len(), 1);

    // RFC 9990, by its namespace: np, testing, discovery_method, disposition pass.
    let bis = aggregate("dmarc-reports/parsedmarc/samples/aggregate/rfc9990-sample.xml");
    assert_eq!(bis.schema, Schema::Rfc9990);
    assert_eq!(bis.policy.np.as_deref(), Some("none"));
    assert_eq!(bis.policy.discovery_method.as_deref(), Some("treewalk"));
    assert_eq!(bis.rows[0].disposition, Some(Disposition::Pass));
    assert_eq!(
        bis.generator.as_deref(),
        Some("Example DMARC Aggregate Reporter v1.2")
    );

    // RFC 7489 without <version>.
    let old = aggregate("dmarc-reports/parsedmarc/samples/aggregate/old_draft_from_wiki.xml");
    assert_eq!(old.schema, Schema::Rfc7489);

    // Invalid UTF-8, recovered with a note.
    let extracted = extract(
        &read("dmarc-reports/parsedmarc/samples/aggregate/invalid_utf_8.xml"),
        Limits::default(),
    );
    assert_eq!(extracted.reports.len(), 1, "{:?}", extracted.errors);
    assert!(extracted.notes.iter().any(|n| n.contains("invalid UTF-8")));

    // Mimecast's gzip with bytes after it, inside an e-mail.
    let mimecast = extract(
        &read("dmarc-reports/parsedmarc/samples/aggregate/mimecast-weird-gzip.eml"),
        Limits::default(),
    );
    assert_eq!(mimecast.reports.len(), 1, "{:?}", mimecast.errors);

    // An element left open inside a value (`<email><a@b.example></email>`).
    let invalid = aggregate("dmarc-reports/parsedmarc/samples/aggregate/invalid_xml.xml");
    assert_eq!(invalid.rows.len(), 1);
    assert_eq!(invalid.rows[0].source_ip.as_deref(), Some("199.230.200.36"));

    // RFC 8460's own example (which mail-auth refuses): `mx-host` a string, not a list.
    let example = extract(
        &read("dmarc-reports/parsedmarc/samples/smtp_tls/rfc8460.json"),
        Limits::default(),
    );
    let [Report::TlsRpt(tls)] = example.reports.as_slice() else {
        panic!("{:?}", example.errors);
    };
    assert_eq!(tls.domains(), vec!["company-y.example"]);
    assert_eq!((tls.successful(), tls.failed()), (5326, 303));

    // The same report plain, gzipped and zipped.
    let plain = aggregate("dmarc-reports/parsedmarc/samples/extract_report/nice-input.xml");
    for packed in ["nice-input.xml.gz", "nice-input.xml.zip"] {
        let unpacked = aggregate(&format!(
            "dmarc-reports/parsedmarc/samples/extract_report/{packed}"
        ));
        assert_eq!(unpacked, plain, "{packed}");
    }
}

/// The report written for the tests (`fixtures/reports/receiver-ses-fallback.xml`): one SES
/// row with the fallback envelope, one SES row aligned, one foreign source failing, and one
/// forwarded row failing.
fn ses_report() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports/receiver-ses-fallback.xml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn settings(mail_from: Option<&str>) -> ReportSettings {
    let mut settings = ReportSettings::default();
    if let Some(spec) = mail_from {
        let mut expected = ses_dmarc_monitor::read::identity_state::MailFromExpectations::default();
        expected.add(spec).unwrap_or_else(|e| panic!("{e}"));
        settings.analysis.expected = std::sync::Arc::new(expected);
    }
    settings
}

#[test]
fn a_capitalized_override_reason_is_read() {
    let extracted = extract(ses_report().as_bytes(), Limits::default());
    let [Report::Aggregate(report)] = extracted.reports.as_slice() else {
        panic!("{:?}", extracted.errors);
    };
    // `<type>Forwarded</type>`, capitalized; mail-auth 0.13.3 folds `forwarded` into `Other`.
    assert_eq!(
        report.rows[3].reasons[0].kind,
        Some(OverrideType::Forwarded)
    );
}

#[test]
fn rows_are_attributed_and_summed() {
    let outcome = reports::run(
        ses_report().as_bytes(),
        &settings(Some("example.com=mail.example.com")),
    );
    let [judged] = outcome.reports.as_slice() else {
        panic!("{outcome:?}");
    };
    let summary = judged
        .summary
        .as_ref()
        .unwrap_or_else(|| panic!("no summary"));
    assert_eq!(summary.messages, 152);
    assert_eq!(summary.dmarc_pass, 90);
    assert_eq!(summary.dmarc_fail, 62);
    assert_eq!(summary.disposition.reject, 32);
    assert_eq!(summary.disposition.none, 120);
    assert_eq!(summary.amazonses_envelope, 7);
    // The fallback row (amazonses.com envelope) and the aligned row (the custom MAIL FROM).
    assert_eq!(summary.ses_messages, 97);
    let ses: Vec<bool> = summary.sources.iter().map(|s| s.ses).collect();
    assert_eq!(ses, vec![true, true, false, false]);
    assert_eq!(summary.sources[2].dmarc, RowDmarc::Fail);
    // The forwarded row: the receiver's override (`Forwarded`) is kept with it.
    assert!(summary.sources[3].overridden);
    assert!(!summary.sources[2].overridden);
    let Report::Aggregate(report) = &judged.report else {
        panic!("not aggregate");
    };
    assert!(report.rows.is_empty(), "the rows moved into the sources");
    assert_eq!(report.policy.domain.as_deref(), Some("example.com"));
}

#[test]
fn findings_follow_the_rows() {
    // (case, the custom MAIL FROM stated, the unknown-source threshold, the findings)
    let cases = [
        (
            "a custom MAIL FROM: the amazonses.com rows are the fallback",
            Some("example.com=mail.example.com"),
            10,
            vec![
                (Kind::ReportMailFromFallback, Severity::Critical),
                (Kind::ReportDmarcFail, Severity::Critical),
                (Kind::ReportUnknownSource, Severity::Warning),
            ],
        ),
        (
            "no custom MAIL FROM known: no fallback to speak of",
            None,
            10,
            vec![
                (Kind::ReportDmarcFail, Severity::Critical),
                (Kind::ReportUnknownSource, Severity::Warning),
            ],
        ),
        (
            "a foreign source under the threshold is not reported",
            None,
            26,
            vec![(Kind::ReportDmarcFail, Severity::Critical)],
        ),
    ];
    for (name, mail_from, threshold, expected) in cases {
        let mut settings = settings(mail_from);
        settings.unknown_source_threshold = threshold;
        let outcome = reports::run(ses_report().as_bytes(), &settings);
        let found: Vec<(Kind, Severity)> = outcome.reports[0]
            .findings
            .iter()
            .map(|f| (f.kind(), f.severity()))
            .collect();
        assert_eq!(found, expected, "{name}");
    }
    // Monitoring only: the failure is a warning; the forwarded row is never alerted.
    let monitoring = ses_report().replace("<p>reject</p>", "<p>none</p>");
    let outcome = reports::run(monitoring.as_bytes(), &settings(None));
    let details: Vec<String> = outcome.reports[0]
        .findings
        .iter()
        .map(|f| f.detail())
        .collect();
    assert_eq!(outcome.reports[0].findings[0].severity(), Severity::Warning);
    assert!(
        details[0].contains("7 message(s)") && details[0].contains("2026-11-01"),
        "{details:?}"
    );
    assert!(
        !details.iter().any(|d| d.contains("198.51.100.4")),
        "{details:?}"
    );
}

#[test]
fn a_report_mail_that_failed_dmarc_is_not_believed() {
    let mail = |dmarc: &str| {
        format!(
            "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=receiver.example; dmarc={dmarc} header.from=receiver.example\r\n\
             From: reports@receiver.example\r\nTo: dmarc@inbound.example.com\r\nSubject: Report domain: example.com\r\n\
             MIME-Version: 1.0\r\nContent-Type: application/xml\r\n\r\n{}",
            ses_report()
        )
    };
    let forged = reports::run(
        mail("fail").as_bytes(),
        &settings(Some("example.com=mail.example.com")),
    );
    let kinds: Vec<Kind> = forged.reports[0]
        .findings
        .iter()
        .map(|f| f.kind())
        .collect();
    assert_eq!(kinds, vec![Kind::ReportUnauthenticated]);
    let genuine = reports::run(
        mail("pass").as_bytes(),
        &settings(Some("example.com=mail.example.com")),
    );
    assert_eq!(
        genuine.reports[0].findings[0].kind(),
        Kind::ReportMailFromFallback
    );
}

#[test]
fn tls_reports_with_failed_sessions_are_findings() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports/sender-tls.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let extracted = extract(&bytes, Limits::default());
    let [Report::TlsRpt(report)] = extracted.reports.as_slice() else {
        panic!("{:?}", extracted.errors);
    };
    assert_eq!(report.domains(), vec!["example.com"]);
    assert_eq!((report.successful(), report.failed()), (480, 20));
    let outcome = reports::run(&bytes, &ReportSettings::default());
    let finding = &outcome.reports[0].findings[0];
    assert_eq!(finding.kind(), Kind::TlsRptFailure);
    assert_eq!(finding.domain.as_deref(), Some("example.com"));
    assert!(
        finding
            .detail()
            .contains("20 of 500 TLS session(s) to example.com's MX hosts failed (certificate-expired 15, starttls-not-supported 5)"),
        "{}",
        finding.detail()
    );
}

#[test]
fn bombs_and_garbage_end_in_clear_errors() {
    use std::io::Write as _;
    // 64 MiB of comments in a report, gzipped to a few kilobytes, against a 1 MiB limit.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(b"<feedback><policy_published><domain>example.com</domain></policy_published>")
        .unwrap_or_else(|e| panic!("{e}"));
    let elements = "<!---->".repeat(150_000);
    for _ in 0..64 {
        encoder
            .write_all(elements.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let bomb = encoder.finish().unwrap_or_else(|e| panic!("{e}"));
    let limits = Limits {
        expanded: 1024 * 1024,
        ..Limits::default()
    };
    let extracted = extract(&bomb, limits);
    assert!(
        matches!(extracted.errors.as_slice(), [ExtractError::TooLarge { .. }]),
        "{:?}",
        extracted.errors
    );
    // A zip cut short.
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("report.xml", zip::write::SimpleFileOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    writer
        .write_all(ses_report().as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let zip = writer
        .finish()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let cut = extract(&zip[..zip.len() / 2], Limits::default());
    assert!(cut.reports.is_empty());
    assert!(
        cut.errors.iter().any(|e| e.to_string().contains("zip")),
        "{:?}",
        cut.errors
    );
    // An external entity is never fetched nor expanded.
    let xxe = ses_report()
        .replacen(
            "<feedback>",
            "<!DOCTYPE feedback [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><feedback>",
            1,
        )
        .replacen(
            "<org_name>receiver.example</org_name>",
            "<org_name>&x;</org_name>",
            1,
        );
    let read = extract(xxe.as_bytes(), Limits::default());
    let [Report::Aggregate(report)] = read.reports.as_slice() else {
        panic!("{:?}", read.errors);
    };
    assert!(
        !report
            .org_name
            .as_deref()
            .unwrap_or_default()
            .contains("root")
    );
}
