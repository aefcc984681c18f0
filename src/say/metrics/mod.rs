//! CloudWatch metrics in Embedded Metric Format: counts from one invocation's outcomes,
//! rendered as JSON lines the Lambda prints to stdout (CloudWatch extracts the metrics from
//! the log; no API call, no latency).
//!
//! Pure: the timestamp and the set of monitored domains are passed in. Dimensions stay
//! low-cardinality: `[Function]` always, `[Function, Domain]` only for monitored domains,
//! `[Function, Kind]` for findings. The reports function's documents are [`reports`]'s.

use crate::judge::align::{DmarcOutcome, Evaluation};
use crate::judge::bulk::Requirement;
use crate::judge::findings::Finding;
use crate::judge::findings::Kind;
use crate::judge::posture::PostureCheck;
use crate::read::keyword::keyword_enum;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub mod canary;
pub mod reports;

keyword_enum! {
    /// Every metric, by its CloudWatch name: the one place the names are written.
    pub enum Metric {
        /// Records handled: received messages analyzed and feedback notifications read.
        Messages = "Messages",
        DmarcPass = "DmarcPass",
        DmarcFail = "DmarcFail",
        SpfAligned = "SpfAligned",
        DkimAligned = "DkimAligned",
        MailFromFallback = "MailFromFallback",
        AuthBounces = "AuthBounces",
        AuthComplaints = "AuthComplaints",
        Findings = "Findings",
        MalformedEvents = "MalformedEvents",
        /// Values SES sent that this version does not know (a new bounce subtype, …).
        UnknownValues = "UnknownValues",
        /// The audit's: identities audited, checks failed.
        AuditIdentities = "AuditIdentities",
        AuditIdentitiesDeferred = "AuditIdentitiesDeferred",
        AuditChecksFailed = "AuditChecksFailed",
        /// Checks (or whole identities, or the whole run) a failed lookup left unjudged.
        AuditChecksUnjudged = "AuditChecksUnjudged",
        /// The audit's bulk-sender readiness: requirements failed (total, and by
        /// `Requirement`).
        BulkRequirementsFailed = "BulkRequirementsFailed",
        /// The reports function's: receivers' reports counted for the first time.
        Reports = "Reports",
        /// Reports counted before (re-sent, or a retried invocation): not counted again.
        ReportsDuplicate = "ReportsDuplicate",
        /// Stored messages (or documents in them) that could not be read as reports.
        ReportsUnreadable = "ReportsUnreadable",
        /// Reports not believed (their mail did not pass DMARC, or passed it for a domain not
        /// the reporter's): counted here, never judged.
        ReportsUnbelieved = "ReportsUnbelieved",
        /// Mail to the report address with no report in it (spam, auto-replies): dropped.
        ReportMailIgnored = "ReportMailIgnored",
        /// Reports another invocation was still counting: this one failed, to be retried.
        ReportsInFlight = "ReportsInFlight",
        /// Findings past a reporter's daily quota for a domain: dropped.
        ReportFindingsDropped = "ReportFindingsDropped",
        /// Messages the receivers reported on (per domain: by DMARC result, by sender).
        ReportMessages = "ReportMessages",
        /// Report rows written for the analytics table (`rows/` in the report bucket).
        ReportRowsWritten = "ReportRowsWritten",
        /// Sessions TLS reports say failed.
        TlsSessionsFailed = "TlsSessionsFailed",
        /// State-table calls that failed (the function went on without it).
        StateErrors = "StateErrors",
        /// The canary's, per identity: probes sent, probes received, seconds from sending to
        /// receipt, findings about probes (and missing ones).
        CanarySent = "CanarySent",
        CanaryReceived = "CanaryReceived",
        CanaryLatencySeconds = "CanaryLatencySeconds",
        CanaryFindings = "CanaryFindings",
        /// Mail to the canary address that was not a recorded probe: left, never judged.
        CanaryUnrecognized = "CanaryUnrecognized",
        /// Probes SES would not take for a reason other than the identity's MAIL FROM.
        CanarySendFailures = "CanarySendFailures",
        /// Findings alerted without their incident (the state table could not be used).
        IncidentErrors = "IncidentErrors",
    }
}

/// The metrics every receipt and feedback invocation reports, in this order.
const COUNTED: [Metric; 11] = [
    Metric::Messages,
    Metric::DmarcPass,
    Metric::DmarcFail,
    Metric::SpfAligned,
    Metric::DkimAligned,
    Metric::MailFromFallback,
    Metric::AuthBounces,
    Metric::AuthComplaints,
    Metric::Findings,
    Metric::MalformedEvents,
    Metric::UnknownValues,
];

/// The counters one receipt or feedback invocation produces (`Messages` to `UnknownValues`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([u64; COUNTED.len()]);

impl Counts {
    fn slot(metric: Metric) -> usize {
        // COUNTED lists the first variants in declaration order.
        metric as usize
    }

    pub fn get(&self, metric: Metric) -> u64 {
        self.0.get(Self::slot(metric)).copied().unwrap_or(0)
    }

    fn add(&mut self, metric: Metric, value: u64) {
        if let Some(count) = self.0.get_mut(Self::slot(metric)) {
            *count += value;
        }
    }

    fn set(&mut self, metric: Metric, value: u64) {
        if let Some(count) = self.0.get_mut(Self::slot(metric)) {
            *count = value;
        }
    }

    fn add_all(&mut self, other: &Counts) {
        for (count, more) in self.0.iter_mut().zip(other.0) {
            *count += more;
        }
    }

    fn values(&self) -> Vec<(&'static str, u64)> {
        COUNTED.iter().map(|m| (m.as_str(), self.get(*m))).collect()
    }
}

/// What one record gave, as the metrics count it (the flow says which, from its outcome).
#[derive(Debug, Clone, Copy)]
pub enum Counted<'a> {
    /// A received message, evaluated once per From domain.
    Message {
        evaluations: &'a [Arc<Evaluation>],
        findings: &'a [Finding],
    },
    /// A feedback notification about mail from `from_domain`.
    Feedback {
        from_domain: Option<&'a str>,
        unknown_values: usize,
        findings: &'a [Finding],
    },
    /// Anything else that was read: a service event, a skipped message.
    Other { findings: &'a [Finding] },
    /// A record no retry can fix.
    Malformed,
    /// A record to be retried: counted when it succeeds.
    Retried,
}

impl Counted<'_> {
    fn findings(&self) -> &[Finding] {
        match self {
            Self::Message { findings, .. }
            | Self::Feedback { findings, .. }
            | Self::Other { findings } => findings,
            Self::Malformed | Self::Retried => &[],
        }
    }
}

/// Counts for one invocation: in total, per domain, and findings per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    pub total: Counts,
    pub per_domain: BTreeMap<String, Counts>,
    pub findings_per_kind: BTreeMap<Kind, u64>,
}

impl Metrics {
    /// Counts the outcomes of one invocation. Evaluations and findings count only for
    /// domains `in_scope` (the monitored ones; `None` asks about findings naming no domain);
    /// every record counts as a message.
    pub fn from_records<'a>(
        outcomes: impl IntoIterator<Item = Counted<'a>>,
        in_scope: impl Fn(Option<&str>) -> bool,
    ) -> Self {
        let mut metrics = Self::default();
        for outcome in outcomes {
            metrics.record(&outcome, &in_scope);
        }
        metrics
    }

    /// Counts an event that could not be read at all.
    pub fn malformed_event(&mut self) {
        self.total.add(Metric::MalformedEvents, 1);
    }

    fn record(&mut self, outcome: &Counted<'_>, in_scope: &impl Fn(Option<&str>) -> bool) {
        // Per domain for this record; `None` collects findings about no domain, which count
        // in the totals only.
        let mut by_domain: BTreeMap<Option<&str>, Counts> = BTreeMap::new();
        match outcome {
            Counted::Message { evaluations, .. } => {
                self.total.add(Metric::Messages, 1);
                for evaluation in evaluations
                    .iter()
                    .filter(|e| in_scope(Some(&e.header_from)))
                {
                    let counts = by_domain.entry(Some(&evaluation.header_from)).or_default();
                    counts.set(Metric::Messages, 1);
                    match evaluation.dmarc {
                        DmarcOutcome::Pass(_) => counts.add(Metric::DmarcPass, 1),
                        DmarcOutcome::Fail(_) => counts.add(Metric::DmarcFail, 1),
                        // Without results or without a record receivers reach no verdict.
                        DmarcOutcome::NoPolicy { .. } | DmarcOutcome::Unknown => {}
                    }
                    if evaluation.spf.as_ref().is_some_and(|s| s.is_aligned()) {
                        counts.add(Metric::SpfAligned, 1);
                    }
                    if evaluation.dkim.iter().any(|d| d.is_aligned()) {
                        counts.add(Metric::DkimAligned, 1);
                    }
                }
            }
            Counted::Feedback {
                from_domain,
                unknown_values,
                ..
            } => {
                self.total.add(Metric::Messages, 1);
                self.total
                    .add(Metric::UnknownValues, *unknown_values as u64);
                if let Some(domain) = from_domain.filter(|d| in_scope(Some(d))) {
                    by_domain
                        .entry(Some(domain))
                        .or_default()
                        .set(Metric::Messages, 1);
                }
            }
            Counted::Other { .. } | Counted::Retried => {}
            Counted::Malformed => self.total.add(Metric::MalformedEvents, 1),
        }
        for finding in outcome
            .findings()
            .iter()
            .filter(|f| in_scope(f.domain.as_deref()) || f.facts.concerns_the_account())
        {
            let counts = by_domain.entry(finding.domain.as_deref()).or_default();
            counts.add(Metric::Findings, 1);
            match finding.kind() {
                Kind::MailFromFallback => counts.add(Metric::MailFromFallback, 1),
                Kind::AuthBounce => counts.add(Metric::AuthBounces, 1),
                Kind::AuthComplaint => counts.add(Metric::AuthComplaints, 1),
                _ => {}
            }
            *self.findings_per_kind.entry(finding.kind()).or_default() += 1;
        }
        for (domain, counts) in by_domain {
            // A message counts once in the totals (above), once per domain it names.
            let mut without_messages = counts;
            without_messages.set(Metric::Messages, 0);
            self.total.add_all(&without_messages);
            if let Some(domain) = domain {
                self.per_domain
                    .entry(domain.to_owned())
                    .or_default()
                    .add_all(&counts);
            }
        }
    }

    /// EMF documents, one JSON line each: the invocation's totals under `[Function]`, one per
    /// monitored domain under `[Function, Domain]` (only monitored domains are counted per
    /// domain, see [`Metrics::from_outcomes`]), and one per finding kind under
    /// `[Function, Kind]`. One EMF document holds one value per dimension, hence several.
    pub fn emf(&self, namespace: &str, function: &str, timestamp_ms: u64) -> Vec<String> {
        let mut lines = vec![document(
            namespace,
            function,
            &[],
            self.total.values(),
            timestamp_ms,
        )];
        for (domain, counts) in &self.per_domain {
            lines.push(document(
                namespace,
                function,
                &[("Domain", domain)],
                counts.values(),
                timestamp_ms,
            ));
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

/// `Findings` per finding kind, under `[Function, Kind]`: one document each.
fn kind_documents<'a>(
    namespace: &'a str,
    function: &'a str,
    per_kind: &'a BTreeMap<Kind, u64>,
    timestamp_ms: u64,
) -> impl Iterator<Item = String> + 'a {
    per_kind.iter().map(move |(kind, count)| {
        document(
            namespace,
            function,
            &[("Kind", kind.as_str())],
            vec![(Metric::Findings.as_str(), *count)],
            timestamp_ms,
        )
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: Vec<Vec<&'a str>>,
    metrics: Vec<MetricDefinition<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDefinition<'a> {
    name: &'a str,
    unit: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope<'a> {
    timestamp: u64,
    cloud_watch_metrics: Vec<Directive<'a>>,
}

/// One EMF document, serialized in a fixed key order (`_aws`, `Function`, the extra
/// dimension, then the metrics) whatever `serde_json`'s map features are.
struct Document<'a> {
    envelope: Envelope<'a>,
    function: &'a str,
    extra: &'a [(&'a str, &'a str)],
    values: Vec<(&'a str, u64)>,
}

impl Serialize for Document<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2 + self.values.len()))?;
        map.serialize_entry("_aws", &self.envelope)?;
        map.serialize_entry("Function", self.function)?;
        for (name, value) in self.extra {
            map.serialize_entry(name, value)?;
        }
        for (name, value) in &self.values {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

fn document(
    namespace: &str,
    function: &str,
    extra: &[(&str, &str)],
    values: Vec<(&str, u64)>,
    timestamp_ms: u64,
) -> String {
    let mut dimensions = vec!["Function"];
    dimensions.extend(extra.iter().map(|(name, _)| *name));
    let envelope = Envelope {
        timestamp: timestamp_ms,
        cloud_watch_metrics: vec![Directive {
            namespace,
            dimensions: vec![dimensions],
            metrics: values
                .iter()
                .map(|(name, _)| MetricDefinition {
                    name,
                    unit: if name.ends_with("Seconds") {
                        "Seconds"
                    } else {
                        "Count"
                    },
                })
                .collect(),
        }],
    };
    serde_json::to_string(&Document {
        envelope,
        function,
        extra,
        values,
    })
    .unwrap_or_default()
}

/// The `IncidentErrors` document of an invocation, when there were any.
pub fn incident_errors(
    namespace: &str,
    function: &str,
    count: u64,
    timestamp_ms: u64,
) -> Option<String> {
    (count > 0).then(|| {
        document(
            namespace,
            function,
            &[],
            vec![(Metric::IncidentErrors.as_str(), count)],
            timestamp_ms,
        )
    })
}

/// What one audit run judged and what it could not, for its metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditCounts {
    /// Failed bulk-sender requirements, per requirement; `None` when readiness was not
    /// judged (`BULK_SENDER=off`, or no domain audited).
    pub bulk: Option<BTreeMap<Requirement, u64>>,
    /// Identities audited; `None` when they could not be listed (nothing was judged).
    pub identities: Option<u64>,
    /// Failed checks, per check.
    pub failed: BTreeMap<PostureCheck, u64>,
    /// Checks a failed lookup left unjudged, per check.
    pub unjudged: BTreeMap<PostureCheck, u64>,
    /// Identities whose state could not be read: none of their checks was judged.
    pub unreadable: u64,
    /// Identities left for the next run, which continues where this one stopped.
    pub deferred: u64,
    /// Writes to the daily rollups that failed (the audit's readiness).
    pub state_errors: u64,
}

impl AuditCounts {
    /// Everything this run could not judge: its unjudged checks, its unreadable identities,
    /// and one for a run that could not even list them.
    pub fn unjudged_total(&self) -> u64 {
        self.unjudged.values().sum::<u64>() + self.unreadable + u64::from(self.identities.is_none())
    }

    /// Whether `check` was judged for every identity this run (so zero failures mean none).
    fn fully_judged(&self, check: PostureCheck) -> bool {
        self.identities.is_some()
            && self.unreadable == 0
            && self.deferred == 0
            && self.unjudged.get(&check).copied().unwrap_or(0) == 0
    }
}

/// The audit's EMF documents. `AuditChecksUnjudged` is always published; `AuditChecksFailed`
/// only where it means something: a count above zero, or a zero from a run that judged
/// everything. A run that could not judge never reports "0 failed", which the alarm's OK
/// action would announce as resolved; the alarm sees missing data instead.
pub fn audit_emf(
    namespace: &str,
    function: &str,
    counts: &AuditCounts,
    timestamp_ms: u64,
) -> Vec<String> {
    let failed: u64 = counts.failed.values().sum();
    let unjudged = counts.unjudged_total();
    let mut totals = Vec::new();
    if let Some(identities) = counts.identities {
        totals.push((Metric::AuditIdentities.as_str(), identities));
        totals.push((Metric::AuditIdentitiesDeferred.as_str(), counts.deferred));
    }
    if failed > 0 || (unjudged == 0 && counts.deferred == 0) {
        totals.push((Metric::AuditChecksFailed.as_str(), failed));
    }
    totals.push((Metric::AuditChecksUnjudged.as_str(), unjudged));
    if counts.state_errors > 0 {
        totals.push((Metric::StateErrors.as_str(), counts.state_errors));
    }
    let mut lines = vec![document(namespace, function, &[], totals, timestamp_ms)];
    for check in PostureCheck::ALL {
        let failed = counts.failed.get(check).copied().unwrap_or(0);
        if failed > 0 || counts.fully_judged(*check) {
            lines.push(document(
                namespace,
                function,
                &[("Check", check.as_str())],
                vec![(Metric::AuditChecksFailed.as_str(), failed)],
                timestamp_ms,
            ));
        }
    }
    // Readiness: the total of the domains judged, and each requirement that failed.
    if let Some(bulk) = &counts.bulk {
        let total: u64 = bulk.values().sum();
        lines.push(document(
            namespace,
            function,
            &[],
            vec![(Metric::BulkRequirementsFailed.as_str(), total)],
            timestamp_ms,
        ));
        for (requirement, failed) in bulk.iter().filter(|(_, n)| **n > 0) {
            lines.push(document(
                namespace,
                function,
                &[("Requirement", requirement.as_str())],
                vec![(Metric::BulkRequirementsFailed.as_str(), *failed)],
                timestamp_ms,
            ));
        }
    }
    lines
}
