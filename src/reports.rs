//! One input of receivers' reports through reading, judging and wording: the path the CLI's
//! `reports` command (and `analyze`, given a report) takes. Reading is `read::report`'s,
//! what the rows mean `judge::report`'s; this module joins them, as `pipeline` does for
//! SES's events.

use crate::judge::report::{self, AggregateSummary, Judging};
use crate::pipeline::Settings;
use crate::ports::state::ReportKey;
use crate::read::authres::ResultKeyword;
use crate::read::identity_state::CustomMailFrom;
use crate::read::observation::{self, Source};
use crate::read::report::{ExtractError, Extracted, Format, Limits, Report, extract, sniff};
use crate::say::findings::Finding;
use std::collections::BTreeSet;

/// Settings the reports path takes besides the pipeline's.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// Trusted authserv-ids and the custom MAIL FROM domains the user states.
    pub pipeline: Settings,
    /// Messages from one non-SES source failing DMARC before `report_unknown_source`.
    pub unknown_source_threshold: u64,
    pub limits: Limits,
    /// Whether a report message without the trusted server's `Authentication-Results` is
    /// unauthenticated. In AWS, where SES adds them to every message it stores, yes; for a
    /// file saved from a mailbox elsewhere, no: there is nothing to judge it by.
    pub require_authentication: bool,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            pipeline: Settings::default(),
            unknown_source_threshold: 10,
            limits: Limits::default(),
            require_authentication: false,
        }
    }
}

/// What a report is judged against besides its own rows.
#[derive(Debug, Clone, Default)]
pub struct ReportContext {
    /// The custom MAIL FROM of the identity covering the policy domain.
    pub custom: Option<CustomMailFrom>,
    /// Whether the mail it came in passed DMARC (`None`: nothing to judge that by).
    pub authentic: Option<bool>,
    /// The sources seen sending as the domain before; `None` without history.
    pub known_sources: Option<BTreeSet<String>>,
}

/// One report, judged.
#[derive(Debug)]
pub struct Judged {
    /// An aggregate report's rows are in `summary`, each beside what it means.
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

/// Reads and judges every report in `bytes`, against the MAIL FROM domains the settings
/// state and no history (the CLI's way).
pub fn run(bytes: &[u8], settings: &ReportSettings) -> ReportsOutcome {
    let extracted = extract(bytes, settings.limits);
    let authentic = authenticity(&extracted, settings);
    let reports = extracted
        .reports
        .into_iter()
        .map(|report| {
            let context = ReportContext {
                custom: report_domain(&report).and_then(|d| settings.pipeline.expected.covering(d)),
                authentic,
                known_sources: None,
            };
            judge(report, &context, settings)
        })
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

/// Whether the mail the reports in `extracted` came in passed DMARC, by the trusted
/// `Authentication-Results` (RFC 9990 §2: reports are accepted only from mail that does).
/// Reports that came as files, not mail: `None`. Mail without a trusted header: `None`,
/// or not authentic when the settings require authentication.
pub fn authenticity(extracted: &Extracted, settings: &ReportSettings) -> Option<bool> {
    let headers = extracted.carrier.as_deref()?;
    let trusted = settings.pipeline.trusted_ids();
    let observed = observation::from_headers(headers, Source::Report, trusted);
    if observed.trusted_results {
        Some(observed.reported_dmarc == Some(ResultKeyword::Pass))
    } else {
        settings.require_authentication.then_some(false)
    }
}

/// The domain a report is about: an aggregate report's policy domain, a TLS report's first
/// policy domain.
pub fn report_domain(report: &Report) -> Option<&str> {
    match report {
        Report::Aggregate(aggregate) => aggregate.policy.domain.as_deref(),
        Report::TlsRpt(tls) => tls.domains().first().copied(),
    }
}

/// How a report is known for de-duplication: (reporter, report id, domain), lower case
/// where case carries no meaning. `None` for a report that lacks its id or its domain: it
/// cannot be told apart from a re-sent copy, so it is judged each time.
pub fn report_key(report: &Report) -> Option<ReportKey> {
    let (reporter, report_id) = match report {
        Report::Aggregate(aggregate) => (
            aggregate.email.as_ref().or(aggregate.org_name.as_ref()),
            aggregate.report_id.as_ref(),
        ),
        Report::TlsRpt(tls) => (tls.org_name.as_ref(), tls.report_id.as_ref()),
    };
    Some(ReportKey {
        reporter: reporter.map_or_else(String::new, |r| r.trim().to_lowercase()),
        report_id: report_id?.trim().to_owned(),
        domain: report_domain(report)?.to_lowercase(),
    })
    .filter(|key| !key.report_id.is_empty() && !key.domain.is_empty())
}

/// Judges one report in its context.
pub fn judge(mut report: Report, context: &ReportContext, settings: &ReportSettings) -> Judged {
    match &mut report {
        Report::Aggregate(aggregate) => {
            let custom = context.custom.as_ref();
            // The rows move into the summary's sources.
            let summary = report::summarize(aggregate, custom.map(|c| c.mail_from.as_str()));
            let domain = aggregate.policy.domain.as_deref();
            let judging = Judging {
                custom,
                unknown_source_threshold: settings.unknown_source_threshold,
                authentic: context.authentic,
                known_sources: context.known_sources.as_ref(),
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
            // RFC 8460 asks a TLS report's mail for a DKIM signature, not for a DMARC pass;
            // its failures are a warning either way.
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
