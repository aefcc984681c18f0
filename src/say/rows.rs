//! The report rows: one JSON object per aggregate-report record, the same shape wherever it
//! appears. The CLI prints them (`reports --format rows`), the reports function writes them
//! under `rows/dt=YYYY-MM-DD/` in the report bucket, and the Glue table `report_rows`
//! (`template.yaml`) reads them for the queries in `queries/` (docs/analytics.md).
//!
//! A row's verdicts are the summary's: `dmarc` is [`crate::judge::report::row_dmarc`], the
//! source class [`crate::judge::source::classify`], so the counts of a report's rows add up
//! to the figures `reports --format json` gives for it.

use crate::judge::report::SendingSource;
use crate::judge::source::AuthLine;
use crate::read::report::aggregate::AggregateReport;
use crate::say::calendar::utc_date;
use serde::Serialize;
use std::io::{self, Write};

/// One record of an aggregate report, with its report's metadata and published policy.
/// The field order is the Glue table's column order.
#[derive(Debug, Serialize)]
pub struct ReportRow<'a> {
    pub org_name: Option<&'a str>,
    pub report_id: Option<&'a str>,
    /// Lower case.
    pub policy_domain: Option<String>,
    /// Unix seconds.
    pub begin: Option<u64>,
    pub end: Option<u64>,
    pub source_ip: Option<&'a str>,
    pub count: u64,
    pub disposition: Option<&'a str>,
    pub header_from: Option<&'a str>,
    pub envelope_from: Option<&'a str>,
    pub dmarc: &'static str,
    pub dkim_aligned: bool,
    pub spf_aligned: bool,
    pub source_class: &'static str,
    pub source_name: Option<&'a str>,
    pub dkim: Vec<DkimCell<'a>>,
    pub spf: Vec<SpfCell<'a>>,
    pub overrides: Vec<OverrideCell<'a>>,
    pub p: Option<&'a str>,
    pub sp: Option<&'a str>,
    pub np: Option<&'a str>,
    pub testing: bool,
    pub adkim: Option<&'a str>,
    pub aspf: Option<&'a str>,
    /// The partition: the UTC date of the report's end (its begin when it gives no end).
    pub dt: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DkimCell<'a> {
    pub domain: Option<&'a str>,
    pub selector: Option<&'a str>,
    pub result: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct SpfCell<'a> {
    pub domain: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub result: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct OverrideCell<'a> {
    #[serde(rename = "type")]
    pub kind: Option<&'a str>,
    pub comment: Option<&'a str>,
}

/// The partition a report's rows go to: the UTC date of its end, else of its begin.
pub fn day_of(report: &AggregateReport) -> Option<String> {
    report.end.or(report.begin).map(utc_date)
}

/// The row of `source`, one record of `report`.
pub fn row<'a>(report: &'a AggregateReport, source: &'a SendingSource) -> ReportRow<'a> {
    let result = |line: &'a AuthLine| line.result.as_ref().map(|r| r.as_str());
    let policy = &report.policy;
    ReportRow {
        org_name: report.org_name.as_deref(),
        report_id: report.report_id.as_deref(),
        policy_domain: policy.domain.as_deref().map(str::to_lowercase),
        begin: report.begin,
        end: report.end,
        source_ip: source.ip.as_deref(),
        count: source.count,
        disposition: source.disposition.as_ref().map(|d| d.as_str()),
        header_from: source.header_from.as_deref(),
        envelope_from: source.envelope_from.as_deref(),
        dmarc: source.dmarc.as_str(),
        dkim_aligned: source.dkim_aligned,
        spf_aligned: source.spf_aligned,
        source_class: source.sender.class.as_str(),
        source_name: source.sender.name.as_deref(),
        dkim: source
            .dkim
            .iter()
            .map(|line| DkimCell {
                domain: line.domain.as_deref(),
                selector: line.selector_or_scope.as_deref(),
                result: result(line),
            })
            .collect(),
        spf: source
            .spf
            .iter()
            .map(|line| SpfCell {
                domain: line.domain.as_deref(),
                scope: line.selector_or_scope.as_deref(),
                result: result(line),
            })
            .collect(),
        overrides: source
            .reasons
            .iter()
            .map(|reason| OverrideCell {
                kind: reason.kind.as_ref().map(|k| k.as_str()),
                comment: reason.comment.as_deref(),
            })
            .collect(),
        p: policy.p.as_deref(),
        sp: policy.sp.as_deref(),
        np: policy.np.as_deref(),
        testing: policy.testing,
        adkim: policy.adkim.as_deref(),
        aspf: policy.aspf.as_deref(),
        dt: day_of(report),
    }
}

/// Writes the row of `source` as one line of NDJSON.
pub fn write_row(
    out: &mut impl Write,
    report: &AggregateReport,
    source: &SendingSource,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &row(report, source))?;
    out.write_all(b"\n")
}

/// A report's rows gathered as they are read, gzip-compressed as they come (a report with a
/// hundred thousand records is held in a few megabytes).
#[derive(Debug)]
pub struct GzipRows {
    // Buffered: flate2 prepares its output buffer on every write, which for rows written
    // field by field cost more than the compression (bench/RESULTS.md, report rows).
    encoder: io::BufWriter<flate2::write::GzEncoder<Vec<u8>>>,
    rows: u64,
}

impl Default for GzipRows {
    fn default() -> Self {
        Self {
            encoder: io::BufWriter::with_capacity(
                1 << 16,
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()),
            ),
            rows: 0,
        }
    }
}

impl GzipRows {
    pub fn add(&mut self, report: &AggregateReport, source: &SendingSource) {
        // Writing into memory fails only when serializing does, which borrowed strings and
        // numbers cannot.
        if write_row(&mut self.encoder, report, source).is_ok() {
            self.rows += 1;
        }
    }

    /// Writes the rows out as NDJSON.
    pub fn write_ndjson(self, out: &mut impl Write) -> io::Result<()> {
        let (_, compressed) = self.finish()?;
        io::copy(
            &mut flate2::read::GzDecoder::new(compressed.as_slice()),
            out,
        )?;
        Ok(())
    }

    /// How many rows, and their NDJSON compressed.
    pub fn finish(self) -> io::Result<(u64, Vec<u8>)> {
        let encoder = self.encoder.into_inner().map_err(|e| e.into_error())?;
        Ok((self.rows, encoder.finish()?))
    }
}
