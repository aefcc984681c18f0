//! Which From domains are ours to alert on: a receipt rule sees mail from anyone, and a page
//! about a stranger's DMARC record is noise. `MONITORED_DOMAINS` names them; by default they
//! are the account's verified SES domain identities (`edge::identity_cache::VerifiedDomains`,
//! listed once per period).

use crate::read::domain::ancestors;
use std::collections::HashSet;

/// The set of monitored domains. `contains` is synchronous (it filters every finding);
/// `refresh` is called once per invocation and does I/O only when the set is due.
#[allow(async_fn_in_trait)]
pub trait DomainScope {
    async fn refresh(&self);

    /// Whether `domain` or one of its parents is monitored.
    fn contains(&self, domain: &str) -> bool;

    /// Whether `domain` itself is monitored (a subdomain only when it is listed itself): what
    /// a receiver's report, whose policy domain anyone can choose, must be about to alert.
    fn lists(&self, domain: &str) -> bool;

    /// Whether a finding about `domain` is in scope. One about no domain at all is only when
    /// every domain is.
    fn covers(&self, domain: Option<&str>) -> bool {
        domain.is_some_and(|d| self.contains(d))
    }
}

/// Every domain.
#[derive(Debug, Clone, Copy, Default)]
pub struct Everything;

impl DomainScope for Everything {
    async fn refresh(&self) {}
    fn contains(&self, _domain: &str) -> bool {
        true
    }
    fn lists(&self, _domain: &str) -> bool {
        true
    }
    fn covers(&self, _domain: Option<&str>) -> bool {
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

    /// Whether `domain` or one of its parents is listed.
    pub fn covers_name(&self, domain: &str) -> bool {
        ancestors(domain).any(|candidate| self.0.contains(candidate))
    }

    /// Whether `domain` itself is listed.
    pub fn lists_name(&self, domain: &str) -> bool {
        self.0.contains(domain)
    }
}

impl DomainScope for DomainList {
    async fn refresh(&self) {}
    fn contains(&self, domain: &str) -> bool {
        self.covers_name(domain)
    }
    fn lists(&self, domain: &str) -> bool {
        self.lists_name(domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_cover_subdomains_only() {
        let list = DomainList::new(["example.com".to_owned()]);
        assert!(list.contains("example.com"));
        assert!(list.contains("news.example.com"));
        assert!(!list.contains("example.org"));
        assert!(!list.contains("badexample.com"));
        assert!(!list.contains("com"));
        assert!(list.lists("example.com"));
        assert!(!list.lists("news.example.com"));
        assert!(!list.covers(None));
        assert!(Everything.covers(None));
    }
}
