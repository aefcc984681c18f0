//! Where findings go: the [`FindingSink`] port, an in-memory sink for tests, and the ways
//! sinks combine. The log sink is `edge::log::LogSink`; the alerting flow
//! (`flow::alerting`) is the sink that pages.

use crate::judge::findings::{Finding, Kind};
use crate::judge::incident::{IncidentKey, Unmonitored};
use crate::ports::{Cause, chain};

/// Why findings could not be delivered. A transient failure fails the invocation, so Lambda
/// retries and the dead-letter destination keeps the event: no finding is silently dropped.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("delivering {count} finding(s) failed: {}", chain(source.as_ref()))]
    Delivery {
        count: usize,
        #[source]
        source: Cause,
    },
}

/// Receives the findings of one analyzed message, and the evidence that ends incidents.
#[allow(async_fn_in_trait)]
pub trait FindingSink {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError>;

    /// Evidence that the condition of the incident `key` names (its kind, domain and
    /// subject) is gone (`by`, in a few words: "a canary probe passed"): the incident, when
    /// open, is resolved.
    async fn cleared(&self, _key: &IncidentKey, _by: &str) -> Result<(), SinkError> {
        Ok(())
    }

    /// Evidence from `reporter`'s clean report that `kind`'s condition about `domain` is over:
    /// an open incident of it that `reporter`'s reports found is resolved.
    async fn cleared_by_reporter(
        &self,
        _kind: Kind,
        _domain: &str,
        _reporter: &str,
        _by: &str,
    ) -> Result<(), SinkError> {
        Ok(())
    }

    /// Sends the messages owed, closes the incidents whose subject is no longer watched
    /// (`unmonitored` says why, for those), resolves those quiet long enough and reminds of
    /// the others (the sweep's schedule runs it).
    async fn sweep(&self, _unmonitored: &Unwatched<'_>) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Why an incident's subject is no longer watched, or `None` when it still is.
pub type Unwatched<'a> = dyn Fn(&IncidentKey) -> Option<Unmonitored> + 'a;

/// Keeps findings in memory: for tests, and for callers that batch.
#[derive(Debug, Default)]
pub struct MemorySink(
    pub std::sync::Mutex<Vec<Finding>>,
    /// The evidence received: each incident said to be over.
    pub std::sync::Mutex<Vec<IncidentKey>>,
);

impl MemorySink {
    /// The kinds of the findings published so far, in order.
    pub fn kinds(&self) -> Vec<Kind> {
        self.0
            .lock()
            .map(|f| f.iter().map(Finding::kind).collect())
            .unwrap_or_default()
    }

    /// The `(kind, domain)` of each incident said to be over, in order.
    pub fn cleared_pairs(&self) -> Vec<(Kind, String)> {
        self.1
            .lock()
            .map(|c| c.iter().map(|k| (k.kind, k.domain.clone())).collect())
            .unwrap_or_default()
    }
}

impl FindingSink for MemorySink {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        self.0
            .lock()
            .map_err(|_| SinkError::Delivery {
                count: findings.len(),
                source: "memory sink poisoned".into(),
            })?
            .extend_from_slice(findings);
        Ok(())
    }

    async fn cleared(&self, key: &IncidentKey, _by: &str) -> Result<(), SinkError> {
        if let Ok(mut cleared) = self.1.lock() {
            cleared.push(key.clone());
        }
        Ok(())
    }

    async fn cleared_by_reporter(
        &self,
        kind: Kind,
        domain: &str,
        _reporter: &str,
        by: &str,
    ) -> Result<(), SinkError> {
        self.cleared(&IncidentKey::about(kind, domain), by).await
    }
}

/// Both sinks, in order: the log always, then the alerts. The first error is returned after
/// both were tried.
impl<A: FindingSink, B: FindingSink> FindingSink for (A, B) {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        let first = self.0.publish(findings).await;
        let second = self.1.publish(findings).await;
        first.and(second)
    }

    async fn cleared(&self, key: &IncidentKey, by: &str) -> Result<(), SinkError> {
        let first = self.0.cleared(key, by).await;
        let second = self.1.cleared(key, by).await;
        first.and(second)
    }

    async fn cleared_by_reporter(
        &self,
        kind: Kind,
        domain: &str,
        reporter: &str,
        by: &str,
    ) -> Result<(), SinkError> {
        let first = self.0.cleared_by_reporter(kind, domain, reporter, by).await;
        let second = self.1.cleared_by_reporter(kind, domain, reporter, by).await;
        first.and(second)
    }

    async fn sweep(&self, unmonitored: &Unwatched<'_>) -> Result<(), SinkError> {
        let first = self.0.sweep(unmonitored).await;
        let second = self.1.sweep(unmonitored).await;
        first.and(second)
    }
}

/// A sink that may not be configured (no alert topic): then findings only go to the others.
impl<S: FindingSink> FindingSink for Option<S> {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        match self {
            Some(sink) => sink.publish(findings).await,
            None => Ok(()),
        }
    }

    async fn cleared(&self, key: &IncidentKey, by: &str) -> Result<(), SinkError> {
        match self {
            Some(sink) => sink.cleared(key, by).await,
            None => Ok(()),
        }
    }

    async fn cleared_by_reporter(
        &self,
        kind: Kind,
        domain: &str,
        reporter: &str,
        by: &str,
    ) -> Result<(), SinkError> {
        match self {
            Some(sink) => sink.cleared_by_reporter(kind, domain, reporter, by).await,
            None => Ok(()),
        }
    }

    async fn sweep(&self, unmonitored: &Unwatched<'_>) -> Result<(), SinkError> {
        match self {
            Some(sink) => sink.sweep(unmonitored).await,
            None => Ok(()),
        }
    }
}
