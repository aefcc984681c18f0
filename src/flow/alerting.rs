//! The alert policy: which finding pages, when, and how often. Each finding at or above the
//! configured severity is an occurrence of its incident ([`Incidents`], the state table):
//! only the container whose conditional write opened the incident sends "new", reminders go
//! out at the configured interval, and evidence (or a quiet period) sends one "resolved".
//! Without the table, or when it cannot be reached, alerts are de-duplicated per warm
//! container ([`Deduper`]), as a fallback that may page twice but never stays silent;
//! [`Alerting::take_incident_errors`] counts each such finding (`IncidentErrors`).
//!
//! An incident's message is owed in the state table until the [`Publisher`] took it; one it
//! did not take stays owed (and the de-duplication window is forgotten) and is returned as an
//! error, so that the invocation fails and Lambda retries it; the retry, the next finding of
//! the incident or the sweep sends it: no alert is silently dropped.
//! The time comes from the [`Clock`] port.

use crate::flow::incidents::{Incidents, Step};
use crate::judge::cause;
use crate::judge::dedup::{Decision, Deduper};
use crate::judge::findings::{Finding, Kind, Severity};
use crate::judge::incident::{self, IncidentKey, Notice};
use crate::ports::clock::Clock;
use crate::ports::incidents::IncidentBook;
use crate::ports::publisher::{Alert, Publisher};
use crate::ports::sink::{FindingSink, SinkError, Unwatched};
use crate::ports::state::StateError;
use crate::ports::{Cause, chain};
use crate::say::alert::{Stage, compose, compose_incident};
use crate::say::explain::Detail as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The alert policy over a publisher, the incidents (when there is a table) and a clock.
#[derive(Debug)]
pub struct Alerting<P, B, C> {
    publisher: P,
    deduper: Mutex<Deduper>,
    incidents: Option<Incidents<B>>,
    clock: C,
    incident_errors: AtomicU64,
}

impl<P: Publisher, B: IncidentBook, C: Clock> Alerting<P, B, C> {
    pub fn new(publisher: P, deduper: Deduper, incidents: Option<Incidents<B>>, clock: C) -> Self {
        Self {
            publisher,
            deduper: Mutex::new(deduper),
            incidents,
            clock,
            incident_errors: AtomicU64::new(0),
        }
    }

    /// The publisher, for tests that read what was sent.
    pub fn publisher(&self) -> &P {
        &self.publisher
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

    /// Sends an incident's message, and records in the table whether the publisher took it:
    /// one it did not take stays owed, for anyone to send.
    async fn send_step(&self, step: &Step, alert: &Alert) -> Result<(), Cause> {
        let sent = self.publisher.publish(alert).await;
        match &sent {
            Ok(()) => tracing::info!(
                kind = step.key.kind.as_str(),
                domain = %step.key.domain,
                state = step.notice.state(),
                version = step.version,
                occurrences = step.incident.count,
                "alert published"
            ),
            Err(cause) => {
                tracing::error!(kind = step.key.kind.as_str(), domain = %step.key.domain, error = %chain(cause.as_ref()), "alert not published; it stays owed");
            }
        }
        if let Some(incidents) = &self.incidents
            && let Err(error) = incidents.settle(step, sent.is_ok()).await
        {
            self.unavailable("settling an owed alert", &error);
        }
        sent
    }

    /// Evidence that `key`'s condition is gone: its incident's "resolved", when the table has
    /// it open and this container closed it. `Ok(false)`: nothing was sent (nothing open, or
    /// no table to ask).
    async fn resolve(&self, key: IncidentKey, by: &str) -> Result<bool, Cause> {
        self.resolve_if(key, by, |_| true).await
    }

    /// The same, when the evidence `covers` the incident.
    async fn resolve_if(
        &self,
        key: IncidentKey,
        by: &str,
        covers: impl Fn(&crate::judge::incident::Incident) -> bool,
    ) -> Result<bool, Cause> {
        let Some(incidents) = &self.incidents else {
            return Ok(false);
        };
        match incidents
            .cleared_if(key, by, self.clock.now(), covers)
            .await
        {
            Ok(Some(step)) => {
                let alert = compose_incident(&step.key, &step.incident, &step.notice, step.version);
                self.send_step(&step, &alert).await.map(|()| true)
            }
            Ok(None) => Ok(false),
            Err(error) => {
                self.unavailable("resolving", &error);
                Ok(false)
            }
        }
    }

    /// One cause and the consequences that ride in its alert (`judge::cause`), paging at
    /// `severity`: through its incident when the table can be used, else through the
    /// container's window. `Ok(true)`: handled through the incident.
    async fn through_incident(
        &self,
        finding: &Finding,
        consequences: &[&Finding],
        severity: Severity,
    ) -> Result<bool, Cause> {
        let Some(incidents) = &self.incidents else {
            return Ok(false);
        };
        // A recovery (sending resumed, advice resolved) ends the incident it names. When
        // nothing was open in the table, the window decides, as without one.
        if let Some(kind) = incident::ended_by(&finding.facts) {
            let key = IncidentKey::of_kind(kind, finding);
            return self.resolve(key, &finding.detail()).await;
        }
        if severity < self.deduper().min_severity() {
            return Ok(true);
        }
        match incidents.seen(finding, severity, self.clock.now()).await {
            Ok(None) => Ok(true),
            Ok(Some(step)) => {
                let stage = Stage::Incident {
                    notice: &step.notice,
                    incident: &step.incident,
                    key: &step.key,
                    version: step.version,
                };
                let alert = compose(finding, consequences, &stage);
                self.send_step(&step, &alert).await.map(|()| true)
            }
            Err(error) => {
                self.unavailable("alerting", &error);
                Ok(false)
            }
        }
    }

    /// One cause, and its consequences, through the container's window.
    async fn alone(
        &self,
        finding: &Finding,
        consequences: &[&Finding],
        severity: Severity,
    ) -> Result<(), Cause> {
        let decision = self.deduper().decide(finding, severity, self.clock.now());
        let Decision::Send { suppressed } = decision else {
            return Ok(());
        };
        let alert = compose(finding, consequences, &Stage::Alone { suppressed });
        match self.publisher.publish(&alert).await {
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

fn delivery(failed: Vec<Cause>) -> Result<(), SinkError> {
    let count = failed.len();
    match failed.into_iter().next() {
        None => Ok(()),
        Some(source) => Err(SinkError::Delivery { count, source }),
    }
}

impl<P: Publisher, B: IncidentBook, C: Clock> FindingSink for Alerting<P, B, C> {
    /// One cause, one page: each finding that stands on its own pages (at or above the
    /// threshold), with the consequences that follow from it as its impact; a consequence
    /// never pages on its own (`judge::cause`).
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        let mut failed = Vec::new();
        for (finding, consequences) in cause::by_cause(findings) {
            let severity = cause::paging_severity(finding, &consequences);
            let handled = match self
                .through_incident(finding, &consequences, severity)
                .await
            {
                Ok(handled) => handled,
                Err(cause) => {
                    failed.push(cause);
                    continue;
                }
            };
            if !handled && let Err(cause) = self.alone(finding, &consequences, severity).await {
                failed.push(cause);
            }
        }
        delivery(failed)
    }

    async fn cleared(&self, key: &IncidentKey, by: &str) -> Result<(), SinkError> {
        // The container's window forgets the incident too, so the next occurrence pages at once.
        self.deduper().forget_incident(key.kind, &key.domain);
        delivery(
            self.resolve(key.clone(), by)
                .await
                .err()
                .into_iter()
                .collect(),
        )
    }

    async fn cleared_by_reporter(
        &self,
        kind: Kind,
        domain: &str,
        reporter: &str,
        by: &str,
    ) -> Result<(), SinkError> {
        let key = IncidentKey::about(kind, domain);
        let reporter = crate::flow::incidents::kept_reporter(reporter);
        let covers =
            |incident: &crate::judge::incident::Incident| incident.reporters.contains(&reporter);
        delivery(
            self.resolve_if(key, by, covers)
                .await
                .err()
                .into_iter()
                .collect(),
        )
    }

    async fn sweep(&self, unmonitored: &Unwatched<'_>) -> Result<(), SinkError> {
        let Some(incidents) = &self.incidents else {
            return Ok(());
        };
        let (steps, error) = incidents.sweep(self.clock.now(), unmonitored).await;
        if let Some(error) = error {
            self.unavailable("the sweep", &error);
        }
        let mut failed = Vec::new();
        for step in &steps {
            if let Notice::Resolved { .. } = step.notice {
                self.deduper()
                    .forget_incident(step.key.kind, &step.key.domain);
            }
            // A message owed, a resolution, or a reminder of an incident no finding came for
            // lately.
            let alert = compose_incident(&step.key, &step.incident, &step.notice, step.version);
            if let Err(cause) = self.send_step(step, &alert).await {
                failed.push(cause);
            }
        }
        delivery(failed)
    }
}
