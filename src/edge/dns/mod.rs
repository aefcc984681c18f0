//! The DNS adapter: the only code that asks DNS. Through `mail-auth`'s resolver it gathers
//! [`DomainFacts`] for the analysis (the RFC 9989 tree walk, planned and interpreted in
//! `judge::policy`, only executed here), re-verifies attached raw messages (`reverify`) and
//! answers the posture audit's questions (`posture`). Lookups for the analysis go through
//! TTL-respecting caches (`cache`) shared across invocations: a domain's DMARC record is
//! looked up once per TTL, not once per message.
//!
//! It reports what it found; it judges nothing.

mod cache;
mod posture;
mod reverify;

use crate::judge::align::KnownOrgDomains;
use crate::judge::policy::{
    PolicyDiscovery, discover, organizational_domain, stops_walk, tree_walk_names,
};
use crate::judge::received::{DomainFacts, OrgSource};
use crate::judge::reverify::Reverified;
use crate::ports::facts::FactSource;
use crate::read::observation::Observation;
use cache::{Caches, DnsCache};
use mail_auth::common::cache::NoCache;
use mail_auth::common::resolver::ToFqdn as _;
use mail_auth::dmarc::Dmarc;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::{
    DnsError, Error as AuthError, MX, MessageAuthenticator, Parameters, RecordSet, Txt,
};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How much DNS work one record may cause. A sender picks its own name servers, and a slow
/// or silent one must not hold an invocation past its timeout (whose retries would then
/// re-send alerts): the policy lookups and the re-verification each get half of `per_record`,
/// and at most `max_domains` domains are looked up. What is not known in time is reported
/// unknown, never as a failure of the domain's authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsBudget {
    pub per_record: Duration,
    pub max_domains: usize,
}

impl Default for DnsBudget {
    /// Well under the functions' 30-second timeout.
    fn default() -> Self {
        Self {
            per_record: Duration::from_secs(10),
            max_domains: 8,
        }
    }
}

/// Why a resolver could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DnsSetupError {
    #[error("cannot read the system resolver configuration: {0}")]
    System(#[source] mail_auth::hickory_resolver::net::NetError),
    #[error("cannot build a resolver for {addr}: {source}")]
    Nameserver {
        addr: SocketAddr,
        #[source]
        source: mail_auth::hickory_resolver::net::NetError,
    },
}

/// DNS-backed facts: DMARC discovery and organizational domains by the RFC 9989 tree walk.
#[derive(Clone)]
pub struct DnsFacts {
    authenticator: MessageAuthenticator,
    caches: Arc<Caches>,
    budget: DnsBudget,
}

impl std::fmt::Debug for DnsFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsFacts")
            .field("cached_txt", &self.caches.txt.entry_count())
            .finish()
    }
}

/// What became of one lookup under the record's budget.
enum Within<T> {
    Done(T),
    /// Not looked up, or not answered in time: the reason, as a phrase.
    Skipped(String),
}

impl DnsFacts {
    /// Runs `lookup` unless the record has used its domains or its time.
    async fn within<T>(
        &self,
        until: tokio::time::Instant,
        looked_up: &mut usize,
        lookup: impl std::future::Future<Output = T>,
    ) -> Within<T> {
        if *looked_up >= self.budget.max_domains {
            return Within::Skipped(format!(
                "not looked up (at most {} domains per message)",
                self.budget.max_domains
            ));
        }
        *looked_up += 1;
        match tokio::time::timeout_at(until, lookup).await {
            Ok(found) => Within::Done(found),
            Err(_) => Within::Skipped(format!(
                "not known in time ({} s of DNS per message)",
                self.phase_budget().as_secs_f32()
            )),
        }
    }

    /// The system resolver (`/etc/resolv.conf`).
    pub fn system() -> Result<Self, DnsSetupError> {
        MessageAuthenticator::new_system_conf()
            .map(Self::with_authenticator)
            .map_err(DnsSetupError::System)
    }

    /// One given nameserver, over UDP and TCP.
    pub fn nameserver(addr: SocketAddr) -> Result<Self, DnsSetupError> {
        Self::nameserver_with_timeout(addr, std::time::Duration::from_secs(3))
    }

    /// One given nameserver, each query given up after `timeout` (two attempts).
    pub fn nameserver_with_timeout(
        addr: SocketAddr,
        timeout: std::time::Duration,
    ) -> Result<Self, DnsSetupError> {
        let mut config = ResolverConfig::default();
        let mut server = NameServerConfig::udp_and_tcp(addr.ip());
        for connection in &mut server.connections {
            connection.port = addr.port();
        }
        config.add_name_server(server);
        let mut options = ResolverOpts::default();
        options.attempts = 2;
        options.timeout = timeout;
        MessageAuthenticator::new(config, options)
            .map(Self::with_authenticator)
            .map_err(|source| DnsSetupError::Nameserver { addr, source })
    }

    pub fn with_authenticator(authenticator: MessageAuthenticator) -> Self {
        Self {
            authenticator,
            caches: Arc::new(Caches::new()),
            budget: DnsBudget::default(),
        }
    }

    /// The same resolver and caches, with another budget per record.
    pub fn with_budget(mut self, budget: DnsBudget) -> Self {
        self.budget = budget;
        self
    }

    /// The share of the record's budget one phase (policies, re-verification) gets.
    fn phase_budget(&self) -> Duration {
        self.budget.per_record / 2
    }

    /// TXT answers held in the cache (DMARC, DKIM keys, SPF).
    pub fn cached_txt_records(&self) -> u64 {
        self.caches.txt.entry_count()
    }

    /// Lookup parameters using this resolver's caches.
    #[allow(clippy::type_complexity)]
    fn cached<'x, P>(
        &'x self,
        params: Parameters<
            'x,
            P,
            NoCache<Box<str>, Txt>,
            NoCache<Box<str>, RecordSet<MX>>,
            NoCache<Box<str>, RecordSet<Ipv4Addr>>,
            NoCache<Box<str>, RecordSet<Ipv6Addr>>,
            NoCache<IpAddr, RecordSet<Box<str>>>,
        >,
    ) -> Parameters<
        'x,
        P,
        DnsCache<Box<str>, Txt>,
        DnsCache<Box<str>, RecordSet<MX>>,
        DnsCache<Box<str>, RecordSet<Ipv4Addr>>,
        DnsCache<Box<str>, RecordSet<Ipv6Addr>>,
        DnsCache<IpAddr, RecordSet<Box<str>>>,
    > {
        let caches = &*self.caches;
        params
            .with_txt_cache(&caches.txt)
            .with_mx_cache(&caches.mx)
            .with_ipv4_cache(&caches.ipv4)
            .with_ipv6_cache(&caches.ipv6)
            .with_ptr_cache(&caches.ptr)
    }

    /// The `_dmarc` records on the walk from `domain` up, longest name first.
    async fn walk(&self, domain: &str) -> Result<Vec<(String, Arc<Dmarc>)>, AuthError> {
        let mut found = Vec::new();
        for name in tree_walk_names(domain) {
            let key = format!("_dmarc.{name}").to_fqdn().into_owned();
            match self
                .authenticator
                .txt_lookup::<Dmarc>(key, Some(&self.caches.txt))
                .await
            {
                Ok(record) => {
                    let stop = stops_walk(&record);
                    found.push((name.to_owned(), record));
                    if stop {
                        break;
                    }
                }
                Err(AuthError::Dns(DnsError::RecordNotFound(_) | DnsError::InvalidRecordType)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(found)
    }

    /// RFC 9989 policy discovery for an Author Domain: the tree walk, and the existence check
    /// `np` needs when the record found is not the domain's own.
    pub async fn discover(&self, author: &str) -> Result<PolicyDiscovery, AuthError> {
        let found = self.walk(author).await?;
        let needs_existence = found.first().is_some_and(|(name, _)| name != author)
            && found.iter().any(|(_, r)| r.np != r.sp);
        let exists = if needs_existence {
            self.exists(author).await
        } else {
            None
        };
        Ok(discover(author, &found, exists))
    }

    /// RFC 8020: whether the name exists (NXDOMAIN is the only "no").
    async fn exists(&self, domain: &str) -> Option<bool> {
        match self
            .authenticator
            .ipv4_lookup(domain, Some(&self.caches.ipv4))
            .await
        {
            Ok(_) => Some(true),
            Err(AuthError::Dns(DnsError::RecordNotFound(code))) => {
                Some(code != mail_auth::hickory_resolver::proto::op::ResponseCode::NXDomain)
            }
            Err(_) => None,
        }
    }
}

impl FactSource for DnsFacts {
    fn org_source(&self) -> OrgSource {
        OrgSource::DnsTreeWalk
    }

    async fn facts(&self, observation: &mut Observation) -> DomainFacts {
        let until = tokio::time::Instant::now() + self.phase_budget();
        let mut looked_up = 0;
        let mut policies = HashMap::new();
        let mut orgs = HashMap::new();
        for author in observation.header_from.clone() {
            let found = match self
                .within(until, &mut looked_up, self.discover(&author))
                .await
            {
                Within::Done(found) => found,
                Within::Skipped(why) => {
                    observation
                        .notes
                        .push(format!("DMARC record of {author} {why}; policy unknown"));
                    continue;
                }
            };
            match found {
                Ok(discovery) => {
                    orgs.insert(author.clone(), discovery.organizational_domain.clone());
                    policies.insert(author, discovery);
                }
                Err(error) => observation.notes.push(format!(
                    "DMARC lookup for {author} failed ({error}); policy unknown"
                )),
            }
        }
        let identifiers: Vec<String> = observation
            .spf
            .iter()
            .chain(&observation.dkim)
            .filter_map(|c| c.domain.clone())
            .collect();
        let mut seen = std::collections::HashSet::new();
        for domain in identifiers {
            if orgs.contains_key(&domain) || !seen.insert(domain.clone()) {
                continue;
            }
            let found = match self.within(until, &mut looked_up, self.walk(&domain)).await {
                Within::Done(found) => found,
                Within::Skipped(why) => {
                    observation.notes.push(format!(
                        "organizational domain of {domain} {why}; public suffix list used"
                    ));
                    continue;
                }
            };
            match found {
                Ok(found) => {
                    let org = organizational_domain(&domain, &found);
                    orgs.insert(domain, org);
                }
                Err(error) => observation.notes.push(format!(
                    "organizational domain of {domain} unknown ({error}); public suffix list used"
                )),
            }
        }
        DomainFacts {
            policies,
            orgs: KnownOrgDomains(orgs),
            org_source: OrgSource::DnsTreeWalk,
        }
    }

    async fn reverify(&self, raw: &[u8], observation: &Observation) -> Reverified {
        let budget = self.phase_budget();
        tokio::time::timeout(budget, self.verify(raw, observation))
            .await
            .unwrap_or(Reverified::OutOfTime(budget))
    }
}
