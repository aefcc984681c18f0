//! The structured-log sink: every finding as one log event, with its detail line.

use crate::judge::findings::Finding;
use crate::judge::incident::IncidentKey;
use crate::ports::sink::{FindingSink, SinkError};
use crate::say::explain::Detail as _;

/// Emits each finding as one structured log event. Fields only: the detail names domains and
/// results, never addresses, subjects or bodies.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

impl FindingSink for LogSink {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        for finding in findings {
            tracing::warn!(
                kind = finding.kind().as_str(),
                severity = finding.severity().as_str(),
                domain = finding.domain.as_deref(),
                message_id = finding.message_id.as_deref(),
                source = finding.source.as_str(),
                detail = %finding.detail(),
                "finding"
            );
        }
        Ok(())
    }

    async fn cleared(&self, key: &IncidentKey, by: &str) -> Result<(), SinkError> {
        tracing::debug!(
            kind = key.kind.as_str(),
            domain = key.domain,
            subject = key.subject.as_deref(),
            by,
            "evidence that a condition is over"
        );
        Ok(())
    }
}
