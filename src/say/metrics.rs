//! CloudWatch metrics in Embedded Metric Format: counts from one invocation's outcomes,
//! rendered as JSON lines the Lambda prints to stdout (CloudWatch extracts the metrics from
//! the log; no API call, no latency).
//!
//! Pure: the timestamp and the set of monitored domains are passed in. Dimensions stay
//! low-cardinality: `[Function]` always, `[Function, Domain]` only for monitored domains,
//! `[Function, Kind]` for findings.

use crate::judge::received::DmarcOutcome;
use crate::pipeline::RecordOutcome;
use crate::say::findings::Kind;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The counters one invocation produces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Counts {
    /// Records handled: received messages analyzed and feedback notifications read.
    pub messages: u64,
    pub dmarc_pass: u64,
    pub dmarc_fail: u64,
    pub spf_aligned: u64,
    pub dkim_aligned: u64,
    pub mail_from_fallback: u64,
    pub auth_bounces: u64,
    pub auth_complaints: u64,
    pub findings: u64,
    pub malformed_events: u64,
}

impl Counts {
    const NAMES: [&'static str; 10] = [
        "Messages",
        "DmarcPass",
        "DmarcFail",
        "SpfAligned",
        "DkimAligned",
        "MailFromFallback",
        "AuthBounces",
        "AuthComplaints",
        "Findings",
        "MalformedEvents",
    ];

    fn add(&mut self, other: &Counts) {
        self.messages += other.messages;
        self.dmarc_pass += other.dmarc_pass;
        self.dmarc_fail += other.dmarc_fail;
        self.spf_aligned += other.spf_aligned;
        self.dkim_aligned += other.dkim_aligned;
        self.mail_from_fallback += other.mail_from_fallback;
        self.auth_bounces += other.auth_bounces;
        self.auth_complaints += other.auth_complaints;
        self.findings += other.findings;
        self.malformed_events += other.malformed_events;
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
    /// domains `in_scope` (the monitored ones); every record counts as a message.
    pub fn from_outcomes(outcomes: &[RecordOutcome], in_scope: impl Fn(&str) -> bool) -> Self {
        let mut metrics = Self::default();
        for outcome in outcomes {
            metrics.record(outcome, &in_scope);
        }
        metrics
    }

    /// Counts an event that could not be read at all.
    pub fn malformed_event(&mut self) {
        self.total.malformed_events += 1;
    }

    fn record(&mut self, outcome: &RecordOutcome, in_scope: &impl Fn(&str) -> bool) {
        let mut by_domain: BTreeMap<String, Counts> = BTreeMap::new();
        match outcome {
            RecordOutcome::Analyzed { analysis, .. } => {
                self.total.messages += 1;
                for evaluation in analysis
                    .evaluations
                    .iter()
                    .filter(|e| in_scope(&e.header_from))
                {
                    let counts = by_domain.entry(evaluation.header_from.clone()).or_default();
                    counts.messages = 1;
                    match evaluation.dmarc {
                        DmarcOutcome::Pass => counts.dmarc_pass += 1,
                        DmarcOutcome::Fail => counts.dmarc_fail += 1,
                        DmarcOutcome::Unknown => {}
                    }
                    if evaluation
                        .spf
                        .as_ref()
                        .is_some_and(|s| s.aligned == Some(true))
                    {
                        counts.spf_aligned += 1;
                    }
                    if evaluation.dkim.iter().any(|d| d.aligned == Some(true)) {
                        counts.dkim_aligned += 1;
                    }
                }
            }
            RecordOutcome::Feedback { summary, .. } => {
                self.total.messages += 1;
                if let Some(domain) = summary.from_domains.first().filter(|d| in_scope(d)) {
                    by_domain.entry(domain.clone()).or_default().messages = 1;
                }
            }
            RecordOutcome::Skipped { .. } => {}
            RecordOutcome::Failed {
                transient: false, ..
            } => self.total.malformed_events += 1,
            RecordOutcome::Failed { .. } => {}
        }
        for finding in outcome.findings().iter().filter(|f| in_scope(&f.domain)) {
            let counts = by_domain.entry(finding.domain.clone()).or_default();
            counts.findings += 1;
            match finding.kind {
                Kind::MailFromFallback => counts.mail_from_fallback += 1,
                Kind::AuthBounce => counts.auth_bounces += 1,
                Kind::AuthComplaint => counts.auth_complaints += 1,
                _ => {}
            }
            *self.findings_per_kind.entry(finding.kind).or_default() += 1;
        }
        for (domain, counts) in by_domain {
            let messages = counts.messages;
            let mut without_messages = counts;
            without_messages.messages = 0;
            self.total.add(&without_messages);
            self.per_domain.entry(domain).or_default().add(&Counts {
                messages,
                ..without_messages
            });
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
            None,
            &Counts::NAMES,
            counts_values(&self.total),
            timestamp_ms,
        )];
        for (domain, counts) in &self.per_domain {
            if domain.is_empty() {
                continue;
            }
            lines.push(document(
                namespace,
                function,
                Some(("Domain", domain)),
                &Counts::NAMES,
                counts_values(counts),
                timestamp_ms,
            ));
        }
        for (kind, count) in &self.findings_per_kind {
            lines.push(document(
                namespace,
                function,
                Some(("Kind", kind.as_str())),
                &["Findings"],
                vec![("Findings", *count)],
                timestamp_ms,
            ));
        }
        lines
    }
}

fn counts_values(counts: &Counts) -> Vec<(&'static str, u64)> {
    let Ok(Value::Object(map)) = serde_json::to_value(counts) else {
        return Vec::new();
    };
    Counts::NAMES
        .iter()
        .map(|name| (*name, map.get(*name).and_then(Value::as_u64).unwrap_or(0)))
        .collect()
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
    extra: Option<(&'a str, &'a str)>,
    values: Vec<(&'a str, u64)>,
}

impl Serialize for Document<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2 + self.values.len()))?;
        map.serialize_entry("_aws", &self.envelope)?;
        map.serialize_entry("Function", self.function)?;
        if let Some((name, value)) = self.extra {
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
    extra: Option<(&str, &str)>,
    names: &[&str],
    values: Vec<(&str, u64)>,
    timestamp_ms: u64,
) -> String {
    let mut dimensions = vec!["Function"];
    dimensions.extend(extra.map(|(name, _)| name));
    let envelope = Envelope {
        timestamp: timestamp_ms,
        cloud_watch_metrics: vec![Directive {
            namespace,
            dimensions: vec![dimensions],
            metrics: names
                .iter()
                .map(|name| MetricDefinition {
                    name,
                    unit: "Count",
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

/// The audit run's EMF documents: `AuditIdentities` and `AuditChecksFailed` under
/// `[Function]`, and `AuditChecksFailed` per check under `[Function, Check]` (every check,
/// zero included, so an alarm on a check returns to OK when it is fixed).
pub fn audit_emf(
    namespace: &str,
    function: &str,
    identities: u64,
    failed: &BTreeMap<crate::judge::posture::Check, u64>,
    timestamp_ms: u64,
) -> Vec<String> {
    use crate::judge::posture::Check;
    let total: u64 = failed.values().sum();
    let mut lines = vec![document(
        namespace,
        function,
        None,
        &["AuditIdentities", "AuditChecksFailed"],
        vec![
            ("AuditIdentities", identities),
            ("AuditChecksFailed", total),
        ],
        timestamp_ms,
    )];
    for check in [
        Check::MailFromStatus,
        Check::MailFromMx,
        Check::MailFromSpf,
        Check::DkimSigning,
        Check::DkimDns,
        Check::Dmarc,
    ] {
        lines.push(document(
            namespace,
            function,
            Some(("Check", check.as_str())),
            &["AuditChecksFailed"],
            vec![(
                "AuditChecksFailed",
                failed.get(&check).copied().unwrap_or(0),
            )],
            timestamp_ms,
        ));
    }
    lines
}
