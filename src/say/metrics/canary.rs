//! The canary loop's metrics, from the canary function (probes sent, refused, missing) and
//! from the receipt function (probes received, their latency and findings, and mail to the
//! canary address that was not a probe).
//!
//! `[Function, Identity]` per monitored identity: the per-identity alarms on `CanaryReceived`
//! and the dashboard's canary row read these; `[Function]` totals, for the account-wide alarm. Only what happened is written: a
//! metric with no data is what the missing-canary alarm treats as breaching.

use super::{Metric, document};
use std::collections::BTreeMap;

/// One identity's probes in one invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdentityCounts {
    pub sent: u64,
    pub received: u64,
    /// Received with no finding: authenticated and aligned.
    pub healthy: u64,
    pub findings: u64,
    /// Seconds from sending to receipt, of the last probe received.
    pub latency: Option<u64>,
}

/// What one invocation counted of the canary loop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanaryCounts {
    pub per_identity: BTreeMap<String, IdentityCounts>,
    /// Mail to the canary address that was not a recorded probe.
    pub unrecognized: u64,
    /// Probes SES would not take for a reason other than the MAIL FROM.
    pub send_failures: u64,
    /// State-table calls that failed.
    pub state_errors: u64,
}

impl CanaryCounts {
    pub fn identity(&mut self, identity: &str) -> &mut IdentityCounts {
        self.per_identity.entry(identity.to_owned()).or_default()
    }

    /// EMF documents, one JSON line each; none when nothing happened.
    pub fn emf(&self, namespace: &str, function: &str, timestamp_ms: u64) -> Vec<String> {
        let nonzero = |pairs: &[(Metric, u64)]| -> Vec<(&'static str, u64)> {
            pairs
                .iter()
                .filter(|(_, value)| *value > 0)
                .map(|(metric, value)| (metric.as_str(), *value))
                .collect()
        };
        let mut lines = Vec::new();
        let sum = |count: fn(&IdentityCounts) -> u64| self.per_identity.values().map(count).sum();
        // The totals too: the account-wide missing-canary alarm reads CanaryReceived here.
        let totals = nonzero(&[
            (Metric::CanarySent, sum(|c| c.sent)),
            (Metric::CanaryReceived, sum(|c| c.received)),
            (Metric::CanaryUnrecognized, self.unrecognized),
            (Metric::CanarySendFailures, self.send_failures),
            (Metric::StateErrors, self.state_errors),
        ]);
        if !totals.is_empty() {
            lines.push(document(namespace, function, &[], totals, timestamp_ms));
        }
        for (identity, counts) in &self.per_identity {
            let mut values = nonzero(&[
                (Metric::CanarySent, counts.sent),
                (Metric::CanaryReceived, counts.received),
                (Metric::CanaryFindings, counts.findings),
            ]);
            values.extend(
                counts
                    .latency
                    .map(|seconds| (Metric::CanaryLatencySeconds.as_str(), seconds)),
            );
            if !values.is_empty() {
                lines.push(document(
                    namespace,
                    function,
                    &[("Identity", identity)],
                    values,
                    timestamp_ms,
                ));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_happened_is_written() {
        assert!(CanaryCounts::default().emf("ns", "canary", 1).is_empty());
        let mut counts = CanaryCounts::default();
        *counts.identity("example.com") = IdentityCounts {
            received: 1,
            latency: Some(7),
            ..IdentityCounts::default()
        };
        counts.unrecognized = 2;
        let lines = counts.emf("ns", "receipt", 1);
        assert_eq!(lines.len(), 2);
        let totals: serde_json::Value =
            serde_json::from_str(&lines[0]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(totals["CanaryUnrecognized"], 2);
        assert_eq!(totals["CanaryReceived"], 1);
        assert!(totals.get("StateErrors").is_none());
        let identity: serde_json::Value =
            serde_json::from_str(&lines[1]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(identity["Identity"], "example.com");
        assert_eq!(identity["CanaryReceived"], 1);
        assert_eq!(identity["CanaryLatencySeconds"], 7);
        assert!(identity.get("CanarySent").is_none());
        let units = &identity["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        assert_eq!(units[1]["Unit"], "Seconds", "{units}");
        assert_eq!(
            identity["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            serde_json::json!(["Function", "Identity"])
        );
    }
}
