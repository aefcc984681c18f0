//! Which From domains are ours to alert on: a receipt rule sees mail from anyone, and a page
//! about a stranger's DMARC record is noise. `MONITORED_DOMAINS` names them; by default they
//! are the account's verified SES domain identities, listed once per period.

use crate::ports::directory::DirectoryError;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The set of monitored domains. `contains` is synchronous (it filters every finding);
/// `refresh` is called once per invocation and does I/O only when the set is due.
#[allow(async_fn_in_trait)]
pub trait DomainScope {
    async fn refresh(&self);
    /// Whether `domain` or one of its parents is monitored.
    fn contains(&self, domain: &str) -> bool;
}

/// Every domain.
#[derive(Debug, Clone, Copy, Default)]
pub struct Everything;

impl DomainScope for Everything {
    async fn refresh(&self) {}
    fn contains(&self, _domain: &str) -> bool {
        true
    }
}

/// A fixed list (`MONITORED_DOMAINS`).
#[derive(Debug, Clone, Default)]
pub struct DomainList(HashSet<String>);

impl DomainList {
    pub fn new(domains: impl IntoIterator<Item = String>) -> Self {
        Self(domains.into_iter().collect())
    }
}

impl DomainScope for DomainList {
    async fn refresh(&self) {}
    fn contains(&self, domain: &str) -> bool {
        covered(&self.0, domain)
    }
}

fn covered(set: &HashSet<String>, domain: &str) -> bool {
    let mut candidate = domain;
    loop {
        if set.contains(candidate) {
            return true;
        }
        match candidate.split_once('.') {
            Some((_, parent)) => candidate = parent,
            None => return false,
        }
    }
}

/// Lists the account's identities.
#[allow(async_fn_in_trait)]
pub trait IdentityLister {
    /// Domain identities verified for sending, normalized.
    async fn verified_domains(&self) -> Result<Vec<String>, DirectoryError>;
    /// Every identity enabled for sending: domains and addresses, as SES names them.
    async fn identities(&self) -> Result<Vec<String>, DirectoryError>;
}

#[cfg(feature = "aws")]
impl IdentityLister for crate::edge::aws::sesv2::SesV2Directory {
    async fn verified_domains(&self) -> Result<Vec<String>, DirectoryError> {
        crate::edge::aws::sesv2::SesV2Directory::verified_domains(self).await
    }
    async fn identities(&self) -> Result<Vec<String>, DirectoryError> {
        crate::edge::aws::sesv2::SesV2Directory::identities(self).await
    }
}

/// The account's verified domains, re-listed every `ttl`. Until a listing succeeds every
/// domain counts as monitored: a missed page is worse than an extra one.
#[derive(Debug)]
pub struct VerifiedDomains<L> {
    lister: L,
    ttl: Duration,
    state: Mutex<Option<(HashSet<String>, Instant)>>,
}

impl<L> VerifiedDomains<L> {
    pub fn new(lister: L, ttl: Duration) -> Self {
        Self {
            lister,
            ttl,
            state: Mutex::new(None),
        }
    }
}

impl<L: IdentityLister> DomainScope for VerifiedDomains<L> {
    async fn refresh(&self) {
        let due = self
            .state
            .lock()
            .map(|s| s.as_ref().is_none_or(|(_, at)| at.elapsed() >= self.ttl))
            .unwrap_or(true);
        if !due {
            return;
        }
        match self.lister.verified_domains().await {
            Ok(domains) => {
                if let Ok(mut state) = self.state.lock() {
                    *state = Some((domains.into_iter().collect(), Instant::now()));
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "listing SES identities failed; keeping the previous set");
            }
        }
    }

    fn contains(&self, domain: &str) -> bool {
        match self.state.lock() {
            Ok(state) => state.as_ref().is_none_or(|(set, _)| covered(set, domain)),
            Err(_) => true,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn lists_cover_subdomains_only() {
        let list = DomainList::new(["example.com".to_owned()]);
        assert!(list.contains("example.com"));
        assert!(list.contains("news.example.com"));
        assert!(!list.contains("example.org"));
        assert!(!list.contains("badexample.com"));
        assert!(!list.contains("com"));
    }

    struct Lister(AtomicUsize);

    impl IdentityLister for Lister {
        async fn verified_domains(&self) -> Result<Vec<String>, DirectoryError> {
            if self.0.fetch_add(1, Ordering::SeqCst) == 1 {
                return Err(DirectoryError::Transient {
                    identity: "(list)".into(),
                    reason: "throttled".into(),
                });
            }
            Ok(vec!["example.com".into()])
        }
        async fn identities(&self) -> Result<Vec<String>, DirectoryError> {
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
        assert_eq!(cached.lister.0.load(Ordering::SeqCst), 1);
    }
}
