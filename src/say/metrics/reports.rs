//! The reports function's metrics: what one invocation counted of receivers' reports.
//!
//! `[Function]` totals; `[Function, Domain, Dmarc]` and `[Function, Domain, Sender]` for the
//! messages receivers reported about each monitored domain (DMARC `pass`, `fail` or
//! `unknown`; sent by `ses` or `other`): the dashboard's two report widgets; and
//! `[Function, Kind]` for findings. Reports that are not believed count only in their own
//! total (`ReportsUnbelieved`): their rows are never judged.

use super::{Metric, document, kind_documents};
use crate::judge::findings::{Finding, Kind};
use crate::judge::report::AggregateSummary;
use std::collections::BTreeMap;

/// The messages receivers reported about one domain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DomainCounts {
    pub dmarc_pass: u64,
    pub dmarc_fail: u64,
    pub dmarc_unknown: u64,
    pub ses: u64,
    pub other: u64,
}

/// What one invocation of the reports function counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportCounts {
    pub reports: u64,
    pub duplicate: u64,
    pub unreadable: u64,
    pub unbelieved: u64,
    /// Mail to the report address with no report in it.
    pub ignored: u64,
    pub in_flight: u64,
    pub findings_dropped: u64,
    pub messages: u64,
    pub tls_sessions_failed: u64,
    pub state_errors: u64,
    pub findings: u64,
    /// Report rows written for the analytics table.
    pub rows_written: u64,
    /// Monitored domains only.
    pub per_domain: BTreeMap<String, DomainCounts>,
    pub findings_per_kind: BTreeMap<Kind, u64>,
}

impl ReportCounts {
    /// Counts one believed aggregate report counted for the first time. `domain` is its
    /// policy domain when it is monitored.
    pub fn aggregate(&mut self, domain: Option<&str>, summary: &AggregateSummary) {
        self.reports += 1;
        self.messages = self.messages.saturating_add(summary.messages);
        let Some(domain) = domain else { return };
        let counts = self.per_domain.entry(domain.to_owned()).or_default();
        let add = |total: &mut u64, n: u64| *total = total.saturating_add(n);
        add(&mut counts.dmarc_pass, summary.dmarc_pass);
        add(&mut counts.dmarc_fail, summary.dmarc_fail);
        add(&mut counts.dmarc_unknown, summary.dmarc_unknown);
        add(&mut counts.ses, summary.ses_messages);
        add(&mut counts.other, summary.other_messages());
    }

    /// Counts one TLS report counted for the first time.
    pub fn tls(&mut self, failed_sessions: u64) {
        self.reports += 1;
        self.tls_sessions_failed += failed_sessions;
    }

    /// Counts the findings published.
    pub fn findings(&mut self, findings: &[Finding]) {
        self.findings += findings.len() as u64;
        for finding in findings {
            *self.findings_per_kind.entry(finding.kind()).or_default() += 1;
        }
    }

    /// The EMF documents, one JSON line each.
    pub fn emf(&self, namespace: &str, function: &str, timestamp_ms: u64) -> Vec<String> {
        let totals = vec![
            (Metric::Reports.as_str(), self.reports),
            (Metric::ReportsDuplicate.as_str(), self.duplicate),
            (Metric::ReportsUnreadable.as_str(), self.unreadable),
            (Metric::ReportsUnbelieved.as_str(), self.unbelieved),
            (Metric::ReportMailIgnored.as_str(), self.ignored),
            (Metric::ReportsInFlight.as_str(), self.in_flight),
            (
                Metric::ReportFindingsDropped.as_str(),
                self.findings_dropped,
            ),
            (Metric::ReportMessages.as_str(), self.messages),
            (Metric::TlsSessionsFailed.as_str(), self.tls_sessions_failed),
            (Metric::StateErrors.as_str(), self.state_errors),
            (Metric::Findings.as_str(), self.findings),
            (Metric::ReportRowsWritten.as_str(), self.rows_written),
        ];
        let mut lines = vec![document(namespace, function, &[], totals, timestamp_ms)];
        let messages = Metric::ReportMessages.as_str();
        for (domain, counts) in &self.per_domain {
            let split = [
                ("Dmarc", "pass", counts.dmarc_pass),
                ("Dmarc", "fail", counts.dmarc_fail),
                ("Dmarc", "unknown", counts.dmarc_unknown),
                ("Sender", "ses", counts.ses),
                ("Sender", "other", counts.other),
            ];
            for (dimension, value, count) in split {
                lines.push(document(
                    namespace,
                    function,
                    &[("Domain", domain), (dimension, value)],
                    vec![(messages, count)],
                    timestamp_ms,
                ));
            }
        }
        lines.extend(kind_documents(
            namespace,
            function,
            &self.findings_per_kind,
            timestamp_ms,
        ));
        lines
    }
}
