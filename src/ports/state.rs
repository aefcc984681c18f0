//! What the functions remember between invocations, in the state table (DynamoDB, with a
//! TTL; `lambda::aws::dynamodb`): which receivers' reports were already counted, and which
//! sources have sent as a domain before. Every use fails open: without the table a report
//! is judged as the CLI judges it (no history) and may count twice, which is better than
//! an alert never sent.

use crate::ports::{Cause, chain};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// A report, as receivers name it: RFC 9990 makes the report id unique per reporter, and a
/// reporter may send one report per policy domain under the same id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportKey {
    /// The reporting organization (its e-mail address when it gives one, else its name),
    /// lower case.
    pub reporter: String,
    pub report_id: String,
    /// The policy domain (TLS: the first policy domain), lower case.
    pub domain: String,
}

impl std::fmt::Display for ReportKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "report {:?} from {} about {}",
            self.report_id, self.reporter, self.domain
        )
    }
}

/// Whether this invocation is the first to count a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First time: count it, judge it, alert.
    New,
    /// Counted before (a re-sent report, a retried invocation, the same object twice).
    Seen,
}

/// The state table could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the state table: {}", chain(source.as_ref()))]
pub struct StateError {
    #[source]
    pub source: Cause,
}

/// How long a claim that was never completed holds: longer than any invocation can run
/// (Lambda's limit is 15 minutes). After it, the invocation that made it is taken to have
/// died half-way, and the report is counted again rather than its alerts lost.
pub const CLAIM_HOLDS: u64 = 15 * 60;

/// The reports' memory: claims on reports, and the sources seen per domain.
#[allow(async_fn_in_trait)]
pub trait ReportLedger {
    /// Claims `key` at `now` (Unix seconds): exactly one caller gets [`Claim::New`], unless
    /// a claim was never completed within [`CLAIM_HOLDS`].
    async fn claim(&self, key: &ReportKey, now: u64) -> Result<Claim, StateError>;

    /// Marks a claim done: the report's findings were delivered.
    async fn complete(&self, key: &ReportKey) -> Result<(), StateError>;

    /// Gives a claim back, when what it was for failed (its alerts were not delivered), so
    /// that the retry counts the report.
    async fn release(&self, key: &ReportKey) -> Result<(), StateError>;

    /// The sources (IP addresses) seen sending as `domain` before; `None` when there is no
    /// history to ask (no table configured): then every source is judged as the CLI judges it.
    async fn known_sources(&self, domain: &str) -> Result<Option<BTreeSet<String>>, StateError>;

    /// Remembers `sources` as seen sending as `domain` at `now`.
    async fn remember_sources(
        &self,
        domain: &str,
        sources: &[String],
        now: u64,
    ) -> Result<(), StateError>;
}

/// No table (`STATE_TABLE` unset): every report is new, and no source is known.
impl<L: ReportLedger> ReportLedger for Option<L> {
    async fn claim(&self, key: &ReportKey, now: u64) -> Result<Claim, StateError> {
        match self {
            Some(ledger) => ledger.claim(key, now).await,
            None => Ok(Claim::New),
        }
    }

    async fn complete(&self, key: &ReportKey) -> Result<(), StateError> {
        match self {
            Some(ledger) => ledger.complete(key).await,
            None => Ok(()),
        }
    }

    async fn release(&self, key: &ReportKey) -> Result<(), StateError> {
        match self {
            Some(ledger) => ledger.release(key).await,
            None => Ok(()),
        }
    }

    async fn known_sources(&self, domain: &str) -> Result<Option<BTreeSet<String>>, StateError> {
        match self {
            Some(ledger) => ledger.known_sources(domain).await,
            None => Ok(None),
        }
    }

    async fn remember_sources(
        &self,
        domain: &str,
        sources: &[String],
        now: u64,
    ) -> Result<(), StateError> {
        match self {
            Some(ledger) => ledger.remember_sources(domain, sources, now).await,
            None => Ok(()),
        }
    }
}

/// State kept in memory, for tests (the probe and incident books): `unavailable` makes every
/// use fail, as a table that cannot be reached does.
#[derive(Debug, Default)]
pub struct InMemory<T> {
    state: Mutex<T>,
    pub unavailable: bool,
}

impl<T> InMemory<T> {
    pub fn new(state: T) -> Self {
        Self {
            state: Mutex::new(state),
            unavailable: false,
        }
    }

    /// What it holds, reachable or not: for a test to look at.
    pub fn snapshot(&self) -> T
    where
        T: Clone + Default,
    {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs `f` on the state, or fails as an unreachable table.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, StateError> {
        if self.unavailable {
            return Err(StateError {
                source: "unreachable (a test's table)".into(),
            });
        }
        let mut state = self.state.lock().map_err(|_| StateError {
            source: "a test's table poisoned".into(),
        })?;
        Ok(f(&mut state))
    }
}

/// The ledger in memory: for tests, and to show what the table must do. `unavailable`
/// makes every call fail, as a table that cannot be reached does.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    /// When each report was claimed, and whether the claim was completed.
    claims: Mutex<HashMap<ReportKey, (u64, bool)>>,
    sources: Mutex<HashMap<String, BTreeSet<String>>>,
    pub unavailable: bool,
}

impl MemoryLedger {
    fn check(&self) -> Result<(), StateError> {
        if self.unavailable {
            Err(StateError {
                source: "unreachable (a test's ledger)".into(),
            })
        } else {
            Ok(())
        }
    }

    fn poisoned() -> StateError {
        StateError {
            source: "memory ledger poisoned".into(),
        }
    }

    /// How many reports are claimed and completed.
    pub fn completed(&self) -> usize {
        self.claims
            .lock()
            .map_or(0, |c| c.values().filter(|(_, done)| *done).count())
    }
}

impl ReportLedger for MemoryLedger {
    async fn claim(&self, key: &ReportKey, now: u64) -> Result<Claim, StateError> {
        self.check()?;
        let mut claims = self.claims.lock().map_err(|_| Self::poisoned())?;
        let held = claims
            .get(key)
            .is_some_and(|(claimed, done)| *done || claimed + CLAIM_HOLDS > now);
        if held {
            return Ok(Claim::Seen);
        }
        claims.insert(key.clone(), (now, false));
        Ok(Claim::New)
    }

    async fn complete(&self, key: &ReportKey) -> Result<(), StateError> {
        self.check()?;
        if let Some(claim) = self
            .claims
            .lock()
            .map_err(|_| Self::poisoned())?
            .get_mut(key)
        {
            claim.1 = true;
        }
        Ok(())
    }

    async fn release(&self, key: &ReportKey) -> Result<(), StateError> {
        self.check()?;
        self.claims
            .lock()
            .map_err(|_| Self::poisoned())?
            .remove(key);
        Ok(())
    }

    async fn known_sources(&self, domain: &str) -> Result<Option<BTreeSet<String>>, StateError> {
        self.check()?;
        let sources = self.sources.lock().map_err(|_| Self::poisoned())?;
        Ok(Some(sources.get(domain).cloned().unwrap_or_default()))
    }

    async fn remember_sources(
        &self,
        domain: &str,
        sources: &[String],
        _now: u64,
    ) -> Result<(), StateError> {
        self.check()?;
        self.sources
            .lock()
            .map_err(|_| Self::poisoned())?
            .entry(domain.to_owned())
            .or_default()
            .extend(sources.iter().cloned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ReportKey {
        ReportKey {
            reporter: "noreply-dmarc-support@google.com".into(),
            report_id: "1".into(),
            domain: "example.com".into(),
        }
    }

    /// The claim's life, as a table: (step, at, expected claim result).
    #[tokio::test]
    async fn a_claim_holds_until_completed_or_stale() {
        let ledger = MemoryLedger::default();
        let k = key();
        assert_eq!(ledger.claim(&k, 1000).await.ok(), Some(Claim::New));
        // The same report while the first is being handled.
        assert_eq!(ledger.claim(&k, 1001).await.ok(), Some(Claim::Seen));
        // The first invocation died half-way: after CLAIM_HOLDS the report is taken again.
        assert_eq!(
            ledger.claim(&k, 1000 + CLAIM_HOLDS).await.ok(),
            Some(Claim::New)
        );
        assert!(ledger.complete(&k).await.is_ok());
        // Done is done, however late.
        assert_eq!(
            ledger.claim(&k, 1000 + 100 * CLAIM_HOLDS).await.ok(),
            Some(Claim::Seen)
        );
        // Released (its alerts were not delivered): the retry takes it.
        assert!(ledger.release(&k).await.is_ok());
        assert_eq!(ledger.claim(&k, 5000).await.ok(), Some(Claim::New));
    }
}
