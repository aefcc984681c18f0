//! One input of receivers' reports through reading, judging and wording: the path the CLI's
//! `reports` command (and `analyze`, given a report) takes. Reading is `read::report`'s,
//! what the rows mean `judge::report`'s; this module joins them, as `pipeline` does for
//! SES's events.

use crate::judge::report::{self, AggregateSummary, Judging};
use crate::pipeline::Settings;
use crate::read::authres::ResultKeyword;
use crate::read::observation::{self, Source};
use crate::read::report::{ExtractError, Format, Limits, Report, extract, sniff};
use crate::say::findings::Finding;

/// Settings the reports path takes besides the pipeline's.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// Trusted authserv-ids and the custom MAIL FROM domains the user states.
    pub pipeline: Settings,
    /// Messages from one non-SES source failing DMARC before `report_unknown_source`.
    pub unknown_source_threshold: u64,
    pub limits: Limits,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            pipeline: Settings::default(),
            unknown_source_threshold: 10,
            limits: Limits::default(),
        }
    }
}

/// One report, judged.
#[derive(Debug)]
pub struct Judged {
    pub report: Report,
    /// For a DMARC aggregate report.
    pub summary: Option<AggregateSummary>,
    pub findings: Vec<Finding>,
}

/// What one input gave.
#[derive(Debug, Default)]
pub struct ReportsOutcome {
    pub reports: Vec<Judged>,
    /// Documents that could not be read; the reports beside them are still judged.
    pub errors: Vec<ExtractError>,
    pub notes: Vec<String>,
}

/// Reads and judges every report in `bytes`.
pub fn run(bytes: &[u8], settings: &ReportSettings) -> ReportsOutcome {
    let extracted = extract(bytes, settings.limits);
    let authentic = extracted
        .carrier
        .as_deref()
        .and_then(|headers| authentic(headers, &settings.pipeline));
    let reports = extracted
        .reports
        .into_iter()
        .map(|report| judge(report, authentic, settings))
        .collect();
    ReportsOutcome {
        reports,
        errors: extracted.errors,
        notes: extracted.notes,
    }
}

/// Reads and judges `bytes` when they are reports (for `analyze`, which takes SES's events,
/// messages and reports alike): XML, gzip or zip, a JSON document shaped like a TLS report,
/// or an e-mail that carries one. `None` for anything else.
pub fn run_if_reports(bytes: &[u8], settings: &ReportSettings) -> Option<ReportsOutcome> {
    let is_report = match sniff(bytes) {
        Format::Gzip | Format::Zip | Format::Xml => true,
        // SES's events are JSON too: a TLS report names its organization and policies.
        Format::Json => {
            contains(bytes, b"\"organization-name\"") && contains(bytes, b"\"policies\"")
        }
        Format::Email => {
            let outcome = run(bytes, settings);
            return (!outcome.reports.is_empty()).then_some(outcome);
        }
        Format::Unrecognized => false,
    };
    is_report.then(|| run(bytes, settings))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether the mail a report came in passed DMARC, by the trusted `Authentication-Results`
/// (RFC 9990 §2: reports are accepted only from mail that does). `None` when no trusted
/// header is there (a report saved from a mailbox elsewhere): nothing to judge by.
fn authentic(headers: &[(String, String)], settings: &Settings) -> Option<bool> {
    let observed = observation::from_headers(headers, Source::Report, settings.trusted_ids());
    observed
        .trusted_results
        .then(|| observed.reported_dmarc == Some(ResultKeyword::Pass))
}

fn judge(report: Report, authentic: Option<bool>, settings: &ReportSettings) -> Judged {
    match &report {
        Report::Aggregate(aggregate) => {
            let domain = aggregate.policy.domain.as_deref();
            let custom = domain.and_then(|d| settings.pipeline.expected.covering(d));
            let summary =
                report::summarize(aggregate, custom.as_ref().map(|c| c.mail_from.as_str()));
            let judging = Judging {
                custom: custom.as_ref(),
                unknown_source_threshold: settings.unknown_source_threshold,
                authentic,
            };
            let findings = report::aggregate_findings(aggregate, &summary, judging)
                .into_iter()
                .map(|facts| Finding::new(facts, domain, Source::Report))
                .collect();
            Judged {
                report,
                summary: Some(summary),
                findings,
            }
        }
        Report::TlsRpt(tls) => {
            let domain = tls.domains().first().map(|d| (*d).to_owned());
            let findings = report::tls_findings(tls)
                .into_iter()
                .map(|facts| Finding::new(facts, domain.as_deref(), Source::Report))
                .collect();
            Judged {
                report,
                summary: None,
                findings,
            }
        }
    }
}
