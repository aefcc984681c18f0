//! What the functions remember between invocations, in the state table (DynamoDB, with a
//! TTL; `lambda::aws::dynamodb`): which receivers' reports were already counted, and which
//! sources have sent as a domain before. Every use fails open: without the table a report
//! is judged as the CLI judges it (no history) and may count twice, which is better than
//! an alert never sent.

use crate::ports::{Cause, chain};
use std::collections::HashMap;
use std::net::IpAddr;
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

/// Whether this invocation is the one to count a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First time (or its last holder is provably dead): count it, judge it, alert.
    New,
    /// Counted before (a re-sent report, a retried invocation, the same object twice).
    Seen,
    /// Another invocation holds it and may still be running: this one must fail, so that
    /// Lambda retries it (and, at the end, the failure queue keeps it) until the holder has
    /// either finished or died.
    InFlight,
}

/// The state table could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the state table: {}", chain(source.as_ref()))]
pub struct StateError {
    #[source]
    pub source: Cause,
}

/// How long past its invocation's deadline a claim still holds: the clocks of two
/// containers may differ by this much. Lambda ends an invocation at its deadline, so a
/// claim this much older than it was left by an invocation that is dead.
pub const CLAIM_MARGIN: u64 = 30;

/// Who may add findings to incidents, how many times a day: a reporter (the From domain its
/// report was believed by, or `unbelieved`) about one policy domain on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FindingsQuota {
    pub reporter: String,
    pub domain: String,
    /// Days since the Unix epoch.
    pub day: u64,
}

/// When a source was last reported sending as a domain (Unix seconds).
pub type LastSeen = u64;

/// The reports' memory: claims on reports, the sources seen per domain, and how many
/// reports per reporter and day added findings.
#[allow(async_fn_in_trait)]
pub trait ReportLedger {
    /// Claims `key` at `now` (Unix seconds) for an invocation that ends by `holds_until`:
    /// exactly one caller gets [`Claim::New`]; while the claim holds and is not complete,
    /// others get [`Claim::InFlight`]; after it is complete, [`Claim::Seen`].
    async fn claim(&self, key: &ReportKey, now: u64, holds_until: u64)
    -> Result<Claim, StateError>;

    /// Marks a claim done: the report's findings were delivered.
    async fn complete(&self, key: &ReportKey) -> Result<(), StateError>;

    /// Gives a claim back, when what it was for failed (its alerts were not delivered), so
    /// that the retry counts the report.
    async fn release(&self, key: &ReportKey) -> Result<(), StateError>;

    /// Which of `sources` were seen sending as `domain` before, and when last; `None` when
    /// there is no history to ask (no table configured). Proportional to `sources`, never to
    /// the domain's whole history.
    async fn known_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
    ) -> Result<Option<HashMap<IpAddr, LastSeen>>, StateError>;

    /// Remembers `sources` as seen sending as `domain` at `now`.
    async fn remember_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
        now: u64,
    ) -> Result<(), StateError>;

    /// Counts one report with findings against `quota`: whether it is within `most`.
    async fn admit(&self, quota: &FindingsQuota, most: u64, now: u64) -> Result<bool, StateError>;
}

/// No table (`STATE_TABLE` unset): every report is new, no source is known, every report
/// is admitted.
impl<L: ReportLedger> ReportLedger for Option<L> {
    async fn claim(
        &self,
        key: &ReportKey,
        now: u64,
        holds_until: u64,
    ) -> Result<Claim, StateError> {
        match self {
            Some(ledger) => ledger.claim(key, now, holds_until).await,
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

    async fn known_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
    ) -> Result<Option<HashMap<IpAddr, LastSeen>>, StateError> {
        match self {
            Some(ledger) => ledger.known_sources(domain, sources).await,
            None => Ok(None),
        }
    }

    async fn remember_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
        now: u64,
    ) -> Result<(), StateError> {
        match self {
            Some(ledger) => ledger.remember_sources(domain, sources, now).await,
            None => Ok(()),
        }
    }

    async fn admit(&self, quota: &FindingsQuota, most: u64, now: u64) -> Result<bool, StateError> {
        match self {
            Some(ledger) => ledger.admit(quota, most, now).await,
            None => Ok(true),
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

/// A claim as the ledger holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    holds_until: u64,
    done: bool,
}

/// The ledger in memory: for tests, and to show what the table must do. `unavailable`
/// makes every call fail, as a table that cannot be reached does.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    claims: Mutex<HashMap<ReportKey, Held>>,
    sources: Mutex<HashMap<String, HashMap<IpAddr, LastSeen>>>,
    quotas: Mutex<HashMap<FindingsQuota, u64>>,
    /// Sources written, over all calls.
    written: std::sync::atomic::AtomicUsize,
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
            .map_or(0, |c| c.values().filter(|held| held.done).count())
    }

    /// How many source items were written, over all calls.
    pub fn written(&self) -> usize {
        self.written.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many sources are remembered for `domain`.
    pub fn sources_of(&self, domain: &str) -> usize {
        self.sources
            .lock()
            .map_or(0, |s| s.get(domain).map_or(0, HashMap::len))
    }
}

/// What a claim at `now` meets: the one decision [`MemoryLedger`] and the DynamoDB ledger's
/// condition both make.
pub fn claim_meets(held: Option<(u64, bool)>, now: u64) -> Claim {
    match held {
        None => Claim::New,
        Some((_, true)) => Claim::Seen,
        Some((holds_until, false)) if holds_until < now => Claim::New,
        Some(_) => Claim::InFlight,
    }
}

impl ReportLedger for MemoryLedger {
    async fn claim(
        &self,
        key: &ReportKey,
        now: u64,
        holds_until: u64,
    ) -> Result<Claim, StateError> {
        self.check()?;
        let mut claims = self.claims.lock().map_err(|_| Self::poisoned())?;
        let held = claims.get(key).map(|h| (h.holds_until, h.done));
        let claim = claim_meets(held, now);
        if claim == Claim::New {
            claims.insert(
                key.clone(),
                Held {
                    holds_until,
                    done: false,
                },
            );
        }
        Ok(claim)
    }

    async fn complete(&self, key: &ReportKey) -> Result<(), StateError> {
        self.check()?;
        if let Some(claim) = self
            .claims
            .lock()
            .map_err(|_| Self::poisoned())?
            .get_mut(key)
        {
            claim.done = true;
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

    async fn known_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
    ) -> Result<Option<HashMap<IpAddr, LastSeen>>, StateError> {
        self.check()?;
        let all = self.sources.lock().map_err(|_| Self::poisoned())?;
        let known = all.get(domain);
        Ok(Some(
            sources
                .iter()
                .filter_map(|ip| Some((*ip, *known?.get(ip)?)))
                .collect(),
        ))
    }

    async fn remember_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
        now: u64,
    ) -> Result<(), StateError> {
        self.check()?;
        self.written
            .fetch_add(sources.len(), std::sync::atomic::Ordering::SeqCst);
        self.sources
            .lock()
            .map_err(|_| Self::poisoned())?
            .entry(domain.to_owned())
            .or_default()
            .extend(sources.iter().map(|ip| (*ip, now)));
        Ok(())
    }

    async fn admit(&self, quota: &FindingsQuota, most: u64, _now: u64) -> Result<bool, StateError> {
        self.check()?;
        let mut quotas = self.quotas.lock().map_err(|_| Self::poisoned())?;
        let used = quotas.entry(quota.clone()).or_default();
        if *used >= most {
            return Ok(false);
        }
        *used += 1;
        Ok(true)
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

    /// The claim's life, as a table: (step, at, what the claim meets).
    #[tokio::test]
    async fn a_claim_holds_until_completed_or_its_holder_is_dead() {
        let ledger = MemoryLedger::default();
        let k = key();
        // Taken at 1000 by an invocation whose deadline (and margin) ends at 1150.
        assert_eq!(ledger.claim(&k, 1000, 1150).await.ok(), Some(Claim::New));
        // The same report while the first may still be running: fail, to be retried.
        assert_eq!(
            ledger.claim(&k, 1060, 1210).await.ok(),
            Some(Claim::InFlight)
        );
        assert_eq!(
            ledger.claim(&k, 1150, 1300).await.ok(),
            Some(Claim::InFlight)
        );
        // Past the holder's deadline it is dead: the retry takes the report.
        assert_eq!(ledger.claim(&k, 1151, 1301).await.ok(), Some(Claim::New));
        assert!(ledger.complete(&k).await.is_ok());
        // Done is done, however late.
        assert_eq!(
            ledger.claim(&k, 1_000_000, 1_000_150).await.ok(),
            Some(Claim::Seen)
        );
        // Released (its alerts were not delivered): the retry takes it.
        assert!(ledger.release(&k).await.is_ok());
        assert_eq!(ledger.claim(&k, 5000, 5150).await.ok(), Some(Claim::New));
    }

    #[tokio::test]
    async fn a_quota_admits_so_many_a_day() {
        let ledger = MemoryLedger::default();
        let quota = |day| FindingsQuota {
            reporter: "google.com".into(),
            domain: "example.com".into(),
            day,
        };
        let mut admitted = Vec::new();
        for _ in 0..4 {
            admitted.push(ledger.admit(&quota(1), 3, 0).await.ok());
        }
        admitted.push(ledger.admit(&quota(2), 3, 0).await.ok());
        let expected = [Some(true), Some(true), Some(true), Some(false), Some(true)];
        assert_eq!(admitted, expected);
    }
}
