//! [`FindingSink`] that publishes alerts to an SNS topic: findings at or above the configured
//! severity, de-duplicated per incident within a warm container (`say::dedup`),
//! composed by `say::alert`.
//!
//! Throttling and 5xx are retried by the SDK with backoff within the operation timeout; what
//! still fails is returned as an error so the invocation fails, Lambda retries it and the
//! dead-letter destination keeps the event. A failed alert is forgotten by the de-duplication
//! window, so the retry sends it again: no alert is silently dropped.

use crate::ports::sink::{FindingSink, SinkError};
use crate::ports::{Cause, chain};
use crate::say::alert::compose;
use crate::say::dedup::{Decision, Deduper};
use crate::say::findings::Finding;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct SnsAlertSink {
    client: Client,
    topic_arn: String,
    deduper: Mutex<Deduper>,
}

impl SnsAlertSink {
    pub fn new(client: Client, topic_arn: String, deduper: Deduper) -> Self {
        Self {
            client,
            topic_arn,
            deduper: Mutex::new(deduper),
        }
    }

    fn decide(&self, finding: &Finding) -> Decision {
        // A poisoned lock only means another invocation panicked mid-update; the window's
        // state is still usable.
        let mut deduper = self.deduper.lock().unwrap_or_else(|p| p.into_inner());
        deduper.decide(finding, Instant::now())
    }

    fn forget(&self, finding: &Finding) {
        let mut deduper = self.deduper.lock().unwrap_or_else(|p| p.into_inner());
        deduper.forget(finding);
    }

    async fn send(&self, finding: &Finding, suppressed: u64) -> Result<(), Cause> {
        let alert = compose(finding, suppressed);
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&alert.subject)
            .message_structure("json")
            .message(alert.sns_message());
        for (name, value) in &alert.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()?;
            request = request.message_attributes(*name, attribute);
        }
        request.send().await?;
        Ok(())
    }
}

impl FindingSink for SnsAlertSink {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        let mut failed = Vec::new();
        for finding in findings {
            let Decision::Send { suppressed } = self.decide(finding) else {
                continue;
            };
            match self.send(finding, suppressed).await {
                Ok(()) => tracing::info!(
                    kind = finding.kind().as_str(),
                    domain = finding.domain.as_deref(),
                    suppressed,
                    "alert published"
                ),
                Err(cause) => {
                    self.forget(finding);
                    tracing::error!(
                        kind = finding.kind().as_str(),
                        domain = finding.domain.as_deref(),
                        error = %chain(cause.as_ref()),
                        "alert not published"
                    );
                    failed.push(cause);
                }
            }
        }
        let count = failed.len();
        match failed.into_iter().next() {
            None => Ok(()),
            Some(source) => Err(SinkError::Delivery { count, source }),
        }
    }
}
