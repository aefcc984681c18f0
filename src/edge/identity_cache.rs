//! What SESv2's limits demand of the identity lookups, with the clock and tokio they need:
//! a TTL cache in front of a directory ([`CachedDirectory`]), pacing of the calls behind it
//! ([`Paced`]), and the account's verified domains re-listed once per period
//! ([`VerifiedDomains`], the default monitored scope).

use crate::ports::directory::{DirectoryError, IdentityDirectory, IdentityLister};
use crate::ports::scope::{DomainList, DomainScope};
use crate::read::identity_state::IdentityState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Caches another directory's answers (found or not) for `ttl`. Lookups are serialized, so
/// concurrent requests for one identity make one call (single flight), and the directory
/// behind never sees more than one request at a time (SESv2 allows one per second). When a
/// refresh fails, the expired answer is served and the log says so; errors are not cached,
/// so the next request tries again.
#[derive(Debug)]
pub struct CachedDirectory<D> {
    inner: D,
    ttl: Duration,
    entries: tokio::sync::Mutex<HashMap<String, CacheEntry>>,
}

/// An answer (found or not) and when it was fetched.
type CacheEntry = (Option<Arc<IdentityState>>, Instant);

impl<D> CachedDirectory<D> {
    pub fn new(inner: D, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: IdentityDirectory> IdentityDirectory for CachedDirectory<D> {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        let key = identity.to_ascii_lowercase();
        let mut entries = self.entries.lock().await;
        if let Some((state, fetched)) = entries.get(&key)
            && fetched.elapsed() < self.ttl
        {
            return Ok(state.clone());
        }
        match self.inner.lookup(&key).await {
            Ok(state) => {
                entries.insert(key, (state.clone(), Instant::now()));
                Ok(state)
            }
            Err(error) => match entries.get(&key) {
                Some((stale, fetched)) => {
                    tracing::warn!(
                        identity = %key,
                        age_seconds = fetched.elapsed().as_secs(),
                        error = %error,
                        "identity state is stale: refresh failed, serving the cached answer"
                    );
                    Ok(stale.clone())
                }
                None => Err(error),
            },
        }
    }
}

/// Spaces the calls to another directory at least `interval` apart: SESv2 allows one request
/// per second per account.
#[derive(Debug)]
pub struct Paced<D> {
    inner: D,
    interval: Duration,
    last: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl<D> Paced<D> {
    pub fn new(inner: D, interval: Duration) -> Self {
        Self {
            inner,
            interval,
            last: tokio::sync::Mutex::new(None),
        }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// Waits for this caller's turn.
    pub async fn turn(&self) {
        let mut last = self.last.lock().await;
        if let Some(previous) = *last {
            tokio::time::sleep_until(previous + self.interval).await;
        }
        *last = Some(tokio::time::Instant::now());
    }
}

impl<D: IdentityDirectory> IdentityDirectory for Paced<D> {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        self.turn().await;
        self.inner.lookup(identity).await
    }
}

/// The account's verified domains, re-listed every `ttl`. Until a listing succeeds every
/// domain counts as monitored (a missed page is worse than an extra one), unless the listing
/// was denied: a configuration error, logged for its alarm, under which nothing counts as
/// monitored rather than every domain the functions ever see.
#[derive(Debug)]
pub struct VerifiedDomains<L> {
    lister: L,
    ttl: Duration,
    state: Mutex<Listing>,
}

/// What the last listing left.
#[derive(Debug)]
enum Listing {
    NotYet,
    Listed(DomainList, Instant),
    /// Denied, and not listed before: retried after `ttl`.
    Denied(Instant),
}

impl<L> VerifiedDomains<L> {
    pub fn new(lister: L, ttl: Duration) -> Self {
        Self {
            lister,
            ttl,
            state: Mutex::new(Listing::NotYet),
        }
    }

    pub fn lister(&self) -> &L {
        &self.lister
    }
}

impl<L: IdentityLister> DomainScope for VerifiedDomains<L> {
    async fn refresh(&self) {
        let due = self
            .state
            .lock()
            .map(|s| match &*s {
                Listing::NotYet => true,
                Listing::Listed(_, at) | Listing::Denied(at) => at.elapsed() >= self.ttl,
            })
            .unwrap_or(true);
        if !due {
            return;
        }
        match self.lister.verified_domains().await {
            Ok(domains) => {
                if let Ok(mut state) = self.state.lock() {
                    *state = Listing::Listed(DomainList::new(domains), Instant::now());
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "listing SES identities failed; keeping the previous set");
                if error.denied
                    && let Ok(mut state) = self.state.lock()
                    && !matches!(*state, Listing::Listed(..))
                {
                    *state = Listing::Denied(Instant::now());
                }
            }
        }
    }

    fn contains(&self, domain: &str) -> bool {
        match self.state.lock().as_deref() {
            Ok(Listing::NotYet) | Err(_) => true,
            Ok(Listing::Listed(list, _)) => list.covers_name(domain),
            Ok(Listing::Denied(_)) => false,
        }
    }

    fn lists(&self, domain: &str) -> bool {
        match self.state.lock().as_deref() {
            Ok(Listing::NotYet) | Err(_) => true,
            Ok(Listing::Listed(list, _)) => list.lists_name(domain),
            Ok(Listing::Denied(_)) => false,
        }
    }
}

/// Any kind of configured scope.
#[derive(Debug)]
pub enum Scope<L> {
    Everything,
    List(DomainList),
    Verified(VerifiedDomains<L>),
}

impl<L: IdentityLister> DomainScope for Scope<L> {
    async fn refresh(&self) {
        match self {
            Self::Everything => {}
            Self::List(list) => list.refresh().await,
            Self::Verified(verified) => verified.refresh().await,
        }
    }

    fn contains(&self, domain: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::List(list) => list.contains(domain),
            Self::Verified(verified) => verified.contains(domain),
        }
    }

    fn lists(&self, domain: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::List(list) => list.lists(domain),
            Self::Verified(verified) => verified.lists(domain),
        }
    }

    fn covers(&self, domain: Option<&str>) -> bool {
        match self {
            Self::Everything => true,
            _ => domain.is_some_and(|d| self.contains(d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::directory::ListError;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);

    impl IdentityDirectory for Counting {
        async fn lookup(
            &self,
            identity: &str,
        ) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            if identity == "throttled.example" {
                return Err(DirectoryError::Transient {
                    identity: identity.into(),
                    source: "TooManyRequestsException".into(),
                });
            }
            Ok(Some(Arc::new(IdentityState::default())))
        }
    }

    /// Answers once, then fails.
    struct Flaky(AtomicUsize);

    impl IdentityDirectory for Flaky {
        async fn lookup(
            &self,
            identity: &str,
        ) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 && identity == "example.com" {
                return Ok(Some(Arc::new(IdentityState::default())));
            }
            Err(DirectoryError::Transient {
                identity: identity.into(),
                source: "connection reset".into(),
            })
        }
    }

    #[tokio::test]
    async fn one_lookup_per_identity_per_period() {
        let cached = CachedDirectory::new(Counting(AtomicUsize::new(0)), Duration::from_secs(300));
        // Concurrent requests for one identity (the inner lookup yields while "in flight").
        let (a, b, c) = tokio::join!(
            cached.lookup("example.com"),
            cached.lookup("EXAMPLE.com"),
            cached.lookup("example.com"),
        );
        assert!([a, b, c].iter().all(|r| matches!(r, Ok(Some(_)))));
        for _ in 0..50 {
            assert!(matches!(cached.lookup("example.com").await, Ok(Some(_))));
        }
        cached.lookup("other.example").await.ok();
        assert_eq!(cached.inner().0.load(Ordering::SeqCst), 2);

        // Failures are not cached.
        assert!(cached.lookup("throttled.example").await.is_err());
        assert!(cached.lookup("throttled.example").await.is_err());
        assert_eq!(cached.inner().0.load(Ordering::SeqCst), 4);

        // An expired entry whose refresh fails is served stale.
        let flaky = CachedDirectory::new(Flaky(AtomicUsize::new(0)), Duration::ZERO);
        assert!(matches!(flaky.lookup("example.com").await, Ok(Some(_))));
        assert!(matches!(flaky.lookup("example.com").await, Ok(Some(_))));
        assert_eq!(flaky.inner().0.load(Ordering::SeqCst), 2);
        assert!(flaky.lookup("never-fetched.example").await.is_err());

        let expired = CachedDirectory::new(Counting(AtomicUsize::new(0)), Duration::ZERO);
        expired.lookup("example.com").await.ok();
        expired.lookup("example.com").await.ok();
        assert_eq!(expired.inner().0.load(Ordering::SeqCst), 2);
    }

    struct Lister(AtomicUsize);

    impl IdentityLister for Lister {
        async fn verified_domains(&self) -> Result<Vec<String>, ListError> {
            if self.0.fetch_add(1, Ordering::SeqCst) == 1 {
                return Err(ListError::failed("throttled"));
            }
            Ok(vec!["example.com".into()])
        }
        async fn identities(&self) -> Result<Vec<String>, ListError> {
            self.verified_domains().await
        }
    }

    #[tokio::test]
    async fn verified_domains_fail_open_and_keep_the_last_set() {
        let scope = VerifiedDomains::new(Lister(AtomicUsize::new(0)), Duration::ZERO);
        assert!(
            scope.contains("stranger.example"),
            "open before the first listing"
        );
        scope.refresh().await;
        assert!(scope.contains("mail.example.com"));
        assert!(!scope.contains("stranger.example"));
        scope.refresh().await; // fails: the previous set stays
        assert!(!scope.contains("stranger.example"));

        let cached = VerifiedDomains::new(Lister(AtomicUsize::new(0)), Duration::from_secs(300));
        cached.refresh().await;
        cached.refresh().await;
        assert_eq!(cached.lister().0.load(Ordering::SeqCst), 1);
    }

    struct Denied;

    impl IdentityLister for Denied {
        async fn verified_domains(&self) -> Result<Vec<String>, ListError> {
            Err(ListError {
                denied: true,
                cause: "AccessDeniedException".into(),
            })
        }
        async fn identities(&self) -> Result<Vec<String>, ListError> {
            self.verified_domains().await
        }
    }

    #[tokio::test]
    async fn a_denied_listing_monitors_nothing() {
        let scope = VerifiedDomains::new(Denied, Duration::from_secs(300));
        scope.refresh().await;
        assert!(!scope.contains("example.com"));
        assert!(!scope.covers(Some("stranger.example")));
    }
}
