//! [`FindingSink`] that publishes alerts to an SNS topic, composed by `say::alert`.
//!
//! With the state table, each finding at or above the configured severity is an occurrence
//! of its incident (`crate::incidents`): only the container whose conditional write opened
//! the incident sends "new", reminders go out at the configured interval, and evidence (or a
//! quiet period) sends one "resolved". Without the table, or when it cannot be reached,
//! alerts are de-duplicated per warm container (`say::dedup`), as a fallback that may page
//! twice but never stays silent; `IncidentErrors` counts each such finding.
//!
//! Throttling and 5xx are retried by the SDK with backoff within the operation timeout; what
//! still fails is returned as an error so the invocation fails, Lambda retries it and the
//! dead-letter destination keeps the event. A failed alert is taken back (the incident's
//! step undone, the de-duplication window forgotten), so the retry sends it again: no alert
//! is silently dropped.

use crate::edge::aws::dynamodb::DynamoLedger;
use crate::incidents::{Incidents, Step};
use crate::judge::incident::{IncidentKey, Notice};
use crate::ports::incidents::IncidentBook;
use crate::ports::sink::{FindingSink, SinkError};
use crate::ports::state::StateError;
use crate::ports::{Cause, chain};
use crate::say::alert::{Alert, Stage, compose, compose_incident};
use crate::say::dedup::{Decision, Deduper};
use crate::say::findings::{Finding, Kind};
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub struct SnsAlertSink<B = DynamoLedger> {
    client: Client,
    topic_arn: String,
    deduper: Mutex<Deduper>,
    incidents: Option<Incidents<B>>,
    incident_errors: AtomicU64,
}

impl<B: IncidentBook> SnsAlertSink<B> {
    pub fn new(
        client: Client,
        topic_arn: String,
        deduper: Deduper,
        incidents: Option<Incidents<B>>,
    ) -> Self {
        Self {
            client,
            topic_arn,
            deduper: Mutex::new(deduper),
            incidents,
            incident_errors: AtomicU64::new(0),
        }
    }

    /// How many findings were alerted without the state table since the last call.
    pub fn take_incident_errors(&self) -> u64 {
        self.incident_errors.swap(0, Ordering::SeqCst)
    }

    fn deduper(&self) -> std::sync::MutexGuard<'_, Deduper> {
        // A poisoned lock only means another invocation panicked mid-update; the window's
        // state is still usable.
        self.deduper.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unavailable(&self, what: &str, error: &StateError) {
        self.incident_errors.fetch_add(1, Ordering::SeqCst);
        tracing::warn!(error = %chain(error), "{what}: the incident could not be read or written; alerting without it");
    }

    async fn send(&self, alert: &Alert) -> Result<(), Cause> {
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

    /// Sends an incident's message; when it cannot be sent, the step is taken back so that
    /// it is sent again.
    async fn send_step(&self, step: &Step, alert: &Alert) -> Result<(), Cause> {
        let sent = self.send(alert).await;
        match &sent {
            Ok(()) => tracing::info!(
                kind = step.key.kind.as_str(),
                domain = %step.key.domain,
                state = step.notice.state(),
                occurrences = step.incident.count,
                "alert published"
            ),
            Err(cause) => {
                tracing::error!(kind = step.key.kind.as_str(), domain = %step.key.domain, error = %chain(cause.as_ref()), "alert not published");
                if let Some(incidents) = &self.incidents
                    && let Err(error) = incidents.undo(step).await
                {
                    self.unavailable("undoing an unsent alert", &error);
                }
            }
        }
        sent
    }

    /// Evidence that `key`'s condition is gone: its incident's "resolved", when the table has
    /// it open and this container closed it. `Ok(false)`: nothing was sent (nothing open, or
    /// no table to ask).
    async fn resolve(&self, key: IncidentKey, by: &str) -> Result<bool, Cause> {
        let Some(incidents) = &self.incidents else {
            return Ok(false);
        };
        match incidents.cleared(key, by, now()).await {
            Ok(Some(step)) => {
                let alert = compose_incident(&step.key, &step.incident, &step.notice);
                self.send_step(&step, &alert).await.map(|()| true)
            }
            Ok(None) => Ok(false),
            Err(error) => {
                self.unavailable("resolving", &error);
                Ok(false)
            }
        }
    }

    /// One finding: through its incident when the table can be used, else through the
    /// container's window. `Ok(true)`: handled through the incident.
    async fn through_incident(&self, finding: &Finding) -> Result<bool, Cause> {
        let Some(incidents) = &self.incidents else {
            return Ok(false);
        };
        // A recovery (sending resumed, advice resolved) ends the incident it names. When
        // nothing was open in the table, the window decides, as without one.
        if let Some(kind) = finding.facts.clears() {
            let key = IncidentKey::of_kind(kind, finding);
            return self.resolve(key, &finding.detail()).await;
        }
        if finding.severity() < self.deduper().min_severity() {
            return Ok(true);
        }
        match incidents.seen(finding, now()).await {
            Ok(None) => Ok(true),
            Ok(Some(step)) => {
                let stage = Stage::Incident {
                    notice: &step.notice,
                    incident: &step.incident,
                };
                let alert = compose(finding, &stage);
                self.send_step(&step, &alert).await.map(|()| true)
            }
            Err(error) => {
                self.unavailable("alerting", &error);
                Ok(false)
            }
        }
    }

    /// One finding through the container's window.
    async fn alone(&self, finding: &Finding) -> Result<(), Cause> {
        let Decision::Send { suppressed } = self.deduper().decide(finding, Instant::now()) else {
            return Ok(());
        };
        let alert = compose(finding, &Stage::Alone { suppressed });
        match self.send(&alert).await {
            Ok(()) => {
                tracing::info!(
                    kind = finding.kind().as_str(),
                    domain = finding.domain.as_deref(),
                    suppressed,
                    "alert published"
                );
                Ok(())
            }
            Err(cause) => {
                self.deduper().forget(finding);
                tracing::error!(
                    kind = finding.kind().as_str(),
                    domain = finding.domain.as_deref(),
                    error = %chain(cause.as_ref()),
                    "alert not published"
                );
                Err(cause)
            }
        }
    }
}

/// The time now, in Unix seconds.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn delivery(failed: Vec<Cause>) -> Result<(), SinkError> {
    let count = failed.len();
    match failed.into_iter().next() {
        None => Ok(()),
        Some(source) => Err(SinkError::Delivery { count, source }),
    }
}

impl<B: IncidentBook> FindingSink for SnsAlertSink<B> {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        let mut failed = Vec::new();
        for finding in findings {
            let handled = match self.through_incident(finding).await {
                Ok(handled) => handled,
                Err(cause) => {
                    failed.push(cause);
                    continue;
                }
            };
            if !handled && let Err(cause) = self.alone(finding).await {
                failed.push(cause);
            }
        }
        delivery(failed)
    }

    async fn cleared(&self, kind: Kind, domain: &str, by: &str) -> Result<(), SinkError> {
        let key = IncidentKey {
            kind,
            domain: domain.to_owned(),
            subject: None,
        };
        // The container's window forgets the incident too, so the next occurrence pages at once.
        self.deduper().forget_incident(key.kind, &key.domain);
        delivery(self.resolve(key, by).await.err().into_iter().collect())
    }

    async fn sweep(&self) -> Result<(), SinkError> {
        let Some(incidents) = &self.incidents else {
            return Ok(());
        };
        let steps = match incidents.sweep(now()).await {
            Ok(steps) => steps,
            Err(error) => {
                self.unavailable("the quiet sweep", &error);
                return Ok(());
            }
        };
        let mut failed = Vec::new();
        for step in &steps {
            if let Notice::Resolved { .. } = step.notice {
                self.deduper()
                    .forget_incident(step.key.kind, &step.key.domain);
            }
            // A resolution, or a reminder of an incident no finding came for lately.
            let alert = compose_incident(&step.key, &step.incident, &step.notice);
            if let Err(cause) = self.send_step(step, &alert).await {
                failed.push(cause);
            }
        }
        delivery(failed)
    }
}
