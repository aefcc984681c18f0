//! Receivers' reports as the CLI prints them: one JSON object per report (the `reports`
//! command's contract), or a table per report and a line per source.

use crate::cli::print::write_findings;
use crate::judge::findings::Finding;
use crate::judge::report::{AggregateSummary, SendingSource};
use crate::judge::source::AuthLine;
use crate::read::report::aggregate::{AggregateReport, Schema};
use crate::read::report::tls::TlsReport;
use crate::say::calendar::date_range;
use crate::say::explain::Detail as _;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Serialize)]
struct JsonFinding<'a> {
    kind: &'static str,
    severity: &'static str,
    domain: Option<&'a str>,
    detail: String,
}

fn findings_json(findings: &[Finding]) -> Vec<JsonFinding<'_>> {
    findings
        .iter()
        .map(|f| JsonFinding {
            kind: f.kind().as_str(),
            severity: f.severity().as_str(),
            domain: f.domain.as_deref(),
            detail: f.detail(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct JsonAuth<'a> {
    domain: Option<&'a str>,
    result: Option<&'a str>,
    aligned: bool,
}

/// A source's DKIM or SPF results, written as a JSON list straight from them.
#[derive(Debug)]
struct AuthList<'a>(&'a [AuthLine]);

impl Serialize for AuthList<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|l| JsonAuth {
            domain: l.domain.as_deref(),
            result: l.result.as_ref().map(|r| r.as_str()),
            aligned: l.aligned,
        }))
    }
}

#[derive(Debug, Serialize)]
struct JsonSource<'a> {
    source_ip: Option<&'a str>,
    count: u64,
    disposition: Option<&'a str>,
    header_from: Option<&'a str>,
    envelope_from: Option<&'a str>,
    dkim: AuthList<'a>,
    spf: AuthList<'a>,
    dmarc: &'static str,
    ses: bool,
    source_class: &'static str,
    source_name: Option<&'a str>,
}

/// A report's sources, written as a JSON list straight from the summary (thousands in a
/// large report: no list of them is built first).
#[derive(Debug)]
struct Sources<'a>(&'a [SendingSource]);

impl Serialize for Sources<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|s| JsonSource {
            source_ip: s.ip.as_deref(),
            count: s.count,
            disposition: s.disposition.as_ref().map(|d| d.as_str()),
            header_from: s.header_from.as_deref(),
            envelope_from: s.envelope_from.as_deref(),
            dkim: AuthList(&s.dkim),
            spf: AuthList(&s.spf),
            dmarc: s.dmarc.as_str(),
            ses: s.ses,
            source_class: s.sender.class.as_str(),
            source_name: s.sender.name.as_deref(),
        }))
    }
}

#[derive(Debug, Serialize)]
struct JsonDispositions {
    none: u64,
    quarantine: u64,
    reject: u64,
    pass: u64,
    unknown: u64,
}

/// The `reports --format json` object of a DMARC aggregate report (its field order is the
/// contract's).
#[derive(Debug, Serialize)]
pub struct AggregateJson<'a> {
    input: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    schema: &'static str,
    org_name: Option<&'a str>,
    report_id: Option<&'a str>,
    domain: Option<&'a str>,
    begin: Option<u64>,
    end: Option<u64>,
    messages: u64,
    dmarc_pass: u64,
    dmarc_fail: u64,
    dmarc_unknown: u64,
    disposition: JsonDispositions,
    amazonses_envelope: u64,
    ses_messages: u64,
    unknown_values: &'a [String],
    /// The first rows (at most `judge::report::SOURCES_LISTED`).
    sources: Sources<'a>,
    /// Rows past those listed: counted in the figures above, not listed.
    sources_not_listed: u64,
    /// Rows from source addresses past the 200,000 a report's summary keeps: counted in the
    /// figures above, not judged as sources (no `report_unknown_source` from them).
    addresses_not_kept: u64,
    findings: Vec<JsonFinding<'a>>,
}

pub fn aggregate_json<'a>(
    input: &'a str,
    report: &'a AggregateReport,
    summary: &'a AggregateSummary,
    findings: &'a [Finding],
) -> AggregateJson<'a> {
    let d = summary.disposition;
    AggregateJson {
        input,
        kind: "dmarc_aggregate",
        schema: match report.schema {
            Schema::Rfc7489 => "rfc7489",
            Schema::Rfc9990 => "rfc9990",
        },
        org_name: report.org_name.as_deref(),
        report_id: report.report_id.as_deref(),
        domain: report.policy.domain.as_deref(),
        begin: report.begin,
        end: report.end,
        messages: summary.messages,
        dmarc_pass: summary.dmarc_pass,
        dmarc_fail: summary.dmarc_fail,
        dmarc_unknown: summary.dmarc_unknown,
        disposition: JsonDispositions {
            none: d.none,
            quarantine: d.quarantine,
            reject: d.reject,
            pass: d.pass,
            unknown: d.unknown,
        },
        amazonses_envelope: summary.amazonses_envelope,
        ses_messages: summary.ses_messages,
        unknown_values: &report.unknown_values,
        sources: Sources(&summary.sources),
        sources_not_listed: summary.sources_not_listed,
        addresses_not_kept: summary.addresses_not_kept,
        findings: findings_json(findings),
    }
}

/// The `reports --format json` object of an SMTP TLS report.
#[derive(Debug, Serialize)]
pub struct TlsJson<'a> {
    input: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    org_name: Option<&'a str>,
    report_id: Option<&'a str>,
    domains: Vec<&'a str>,
    successful: u64,
    failed: u64,
    findings: Vec<JsonFinding<'a>>,
}

pub fn tls_json<'a>(input: &'a str, report: &'a TlsReport, findings: &'a [Finding]) -> TlsJson<'a> {
    TlsJson {
        input,
        kind: "tls_rpt",
        org_name: report.org_name.as_deref(),
        report_id: report.report_id.as_deref(),
        domains: report.domains(),
        successful: report.successful(),
        failed: report.failed(),
        findings: findings_json(findings),
    }
}

fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

/// Writes one row's DKIM or SPF results (`-` for none).
fn write_auth(out: &mut String, lines: &[AuthLine]) {
    if lines.is_empty() {
        out.push('-');
        return;
    }
    for (n, line) in lines.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str(line.result.as_ref().map_or("-", |r| r.as_str()));
        out.push(' ');
        out.push_str(or_dash(line.domain.as_deref()));
        if line.aligned {
            out.push_str(" aligned");
        }
    }
}

/// Writes one row of the sources table. Written in place: a report has up to
/// `judge::report::SOURCES_LISTED` of them.
fn write_source(out: &mut String, source: &SendingSource) {
    let _ = write!(
        out,
        "    {:<39} {:>7}  {:<10} DMARC {:<7} DKIM ",
        or_dash(source.ip.as_deref()),
        source.count,
        source.disposition.as_ref().map_or("-", |d| d.as_str()),
        source.dmarc.as_str(),
    );
    write_auth(out, &source.dkim);
    out.push_str("; SPF ");
    write_auth(out, &source.spf);
    let _ = write!(out, "  [{}", source.sender.class.as_str());
    if let Some(name) = &source.sender.name {
        let _ = write!(out, ": {name}");
    }
    out.push(']');
    if source.overridden {
        out.push_str("  (receiver override)");
    }
    out.push('\n');
}

/// The readable form of a DMARC aggregate report.
pub fn aggregate_text(
    input: &str,
    report: &AggregateReport,
    summary: &AggregateSummary,
    findings: &[Finding],
) -> String {
    let mut out = String::new();
    write_aggregate_text(&mut out, input, report, summary, findings);
    out
}

/// [`aggregate_text`], appended to `out`: the CLI reuses one buffer for every report, as a
/// large one's table is megabytes.
pub fn write_aggregate_text(
    out: &mut String,
    input: &str,
    report: &AggregateReport,
    summary: &AggregateSummary,
    findings: &[Finding],
) {
    let range = date_range((report.begin, report.end));
    let _ = writeln!(
        *out,
        "{input}: DMARC aggregate report from {} (id {}) for {}, {range}",
        or_dash(report.org_name.as_deref()),
        or_dash(report.report_id.as_deref()),
        or_dash(report.policy.domain.as_deref()),
    );
    let d = summary.disposition;
    let _ = writeln!(
        *out,
        "  messages {}: DMARC pass {}, fail {}, unknown {}; disposition none {}, quarantine {}, reject {}, pass {}{}",
        summary.messages,
        summary.dmarc_pass,
        summary.dmarc_fail,
        summary.dmarc_unknown,
        d.none,
        d.quarantine,
        d.reject,
        d.pass,
        if d.unknown > 0 {
            format!(", unknown {}", d.unknown)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        *out,
        "  sent through SES: {} message(s); with an amazonses.com envelope: {}",
        summary.ses_messages, summary.amazonses_envelope
    );
    let _ = writeln!(
        *out,
        "    {:<39} {:>7}  {:<10} results",
        "source", "count", "disposition"
    );
    for source in &summary.sources {
        write_source(out, source);
    }
    if summary.sources_not_listed > 0 {
        let _ = writeln!(
            out,
            "    … and {} more row(s), counted above and not listed",
            summary.sources_not_listed
        );
    }
    if summary.addresses_not_kept > 0 {
        let _ = writeln!(
            out,
            "  note: {} row(s) from source addresses past the {} kept: counted above, not judged as sources",
            summary.addresses_not_kept,
            crate::judge::report::ADDRESSES_KEPT
        );
    }
    for value in &report.unknown_values {
        let _ = writeln!(*out, "  note: a value this version does not know: {value}");
    }
    write_findings(out, findings);
}

/// The readable form of an SMTP TLS report.
pub fn tls_text(input: &str, report: &TlsReport, findings: &[Finding]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{input}: SMTP TLS report from {} (id {}) for {}: {} session(s) succeeded, {} failed",
        or_dash(report.org_name.as_deref()),
        or_dash(report.report_id.as_deref()),
        report.domains().join(", "),
        report.successful(),
        report.failed()
    );
    write_findings(&mut out, findings);
    out
}
