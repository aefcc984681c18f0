//! DNS adapter: gathers [`DomainFacts`] through `mail-auth`'s resolver, and re-verifies raw
//! messages (DKIM, SPF) with `mail-auth`. The only module that touches the network for DNS.
//!
//! The RFC 9989 tree walk is planned and interpreted in `policy`; here it is only executed,
//! each `_dmarc` TXT lookup going through `mail-auth` (which also parses the records) and a
//! TTL-respecting cache (`moka`) shared across invocations: a domain's DMARC record is looked
//! up once per TTL, not once per message.

use crate::judge::policy::{
    PolicyDiscovery, discover, organizational_domain, stops_walk, tree_walk_names,
};
use crate::judge::posture::{DnsView, Lookup, Target};
use crate::judge::received::{DomainFacts, OrgSource};
use crate::ports::facts::FactSource;
use crate::read::authres::{Method, ResultKeyword};
use crate::read::domain::KnownOrgDomains;
use crate::read::observation::{Check, Disagreement, Observation};
use mail_auth::common::cache::NoCache;
use mail_auth::common::resolver::ToFqdn as _;
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Dmarc;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DnsError, Error as AuthError, MX, MessageAuthenticator,
    Parameters, RecordSet, ResolverCache, SpfResult, Txt,
};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

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

/// A cache for `mail-auth`'s lookups on `moka`: each entry expires when DNS said it would
/// (the record's TTL, as `mail-auth` computes it), and the cache is bounded in size.
pub struct DnsCache<K, V> {
    entries: moka::sync::Cache<K, (V, Instant)>,
}

impl<K, V> std::fmt::Debug for DnsCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

/// Expires an entry at the instant stored beside its value.
struct UntilValid;

impl<K, V> moka::Expiry<K, (V, Instant)> for UntilValid {
    fn expire_after_create(
        &self,
        _key: &K,
        value: &(V, Instant),
        created_at: Instant,
    ) -> Option<std::time::Duration> {
        Some(value.1.saturating_duration_since(created_at))
    }
}

impl<K, V> DnsCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilValid)
                .build(),
        }
    }

    pub fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

impl<K, V> ResolverCache<K, V> for DnsCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // moka expires lazily; an entry past its instant is never served.
        let (value, valid_until) = self.entries.get(name)?;
        (valid_until > Instant::now()).then_some(value)
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.remove(name).map(|(value, _)| value)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        self.entries.insert(key, (value, valid_until));
    }
}

/// One cache per record type `mail-auth` looks up, shared across warm invocations.
struct Caches {
    txt: DnsCache<Box<str>, Txt>,
    mx: DnsCache<Box<str>, RecordSet<MX>>,
    ipv4: DnsCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: DnsCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: DnsCache<IpAddr, RecordSet<Box<str>>>,
}

impl Caches {
    fn new() -> Self {
        Self {
            txt: DnsCache::new(10_000),
            mx: DnsCache::new(2_000),
            ipv4: DnsCache::new(5_000),
            ipv6: DnsCache::new(5_000),
            ptr: DnsCache::new(1_000),
        }
    }
}

/// DNS-backed facts: DMARC discovery and organizational domains by the RFC 9989 tree walk.
#[derive(Clone)]
pub struct DnsFacts {
    authenticator: MessageAuthenticator,
    caches: Arc<Caches>,
}

impl std::fmt::Debug for DnsFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsFacts")
            .field("cached_txt", &self.caches.txt.entry_count())
            .finish()
    }
}

impl DnsFacts {
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
        }
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

    /// One DNS question, straight to the resolver (no cache: the audit wants today's answer).
    async fn ask(&self, name: &str, kind: RecordType) -> Lookup<Vec<RData>> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self
            .authenticator
            .resolver()
            .lookup(fqdn.as_str(), kind)
            .await
        {
            Ok(lookup) => {
                let data: Vec<RData> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() == kind)
                    .map(|r| r.data.clone())
                    .collect();
                if data.is_empty() {
                    Lookup::Missing
                } else {
                    Lookup::Found(data)
                }
            }
            Err(error) if error.is_nx_domain() || error.is_no_records_found() => Lookup::Missing,
            Err(error) => Lookup::Failed(error.to_string()),
        }
    }

    /// Everything the audit of `target` asks DNS.
    pub async fn audit_view(&self, target: &Target) -> DnsView {
        let mut view = DnsView {
            mail_from_mx: None,
            mail_from_txt: None,
            dkim: Vec::new(),
            dmarc: Lookup::Missing,
        };
        if let Some(mail_from) = &target.mail_from_domain {
            view.mail_from_mx =
                Some(map_found(
                    self.ask(mail_from, RecordType::MX).await,
                    |d| match d {
                        RData::MX(mx) => Some((mx.preference, name_text(&mx.exchange))),
                        _ => None,
                    },
                ));
            view.mail_from_txt = Some(map_found(
                self.ask(mail_from, RecordType::TXT).await,
                txt_text,
            ));
        }
        for name in target.dkim_names() {
            let answer = if name.byodkim {
                map_found(self.ask(&name.name, RecordType::TXT).await, txt_text)
            } else {
                map_found(self.ask(&name.name, RecordType::CNAME).await, |d| match d {
                    RData::CNAME(cname) => Some(name_text(&cname.0)),
                    _ => None,
                })
            };
            view.dkim.push((name, answer));
        }
        view.dmarc = match self.discover(&target.domain).await {
            Ok(discovery) => Lookup::Found(discovery),
            Err(error) => Lookup::Failed(error.to_string()),
        };
        view
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

    /// Verifies the raw message's DKIM signatures and its SPF (from the client IP and envelope
    /// domain the trusted header recorded), and replaces the observation's results with them.
    pub async fn reverify(&self, raw: &[u8], observation: &mut Observation) {
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            observation
                .notes
                .push("the attached message does not parse; SES's results used".into());
            return;
        };
        let outputs = self
            .authenticator
            .verify_dkim(self.cached(Parameters::new(&message)))
            .await;
        let dkim: Vec<Check> = outputs
            .iter()
            .map(|o| Check {
                result: match o.result() {
                    DkimResult::Pass => ResultKeyword::Pass,
                    // mail-auth says "neutral" for a body that no longer matches its hash,
                    // an expired signature and an unparseable one; RFC 6376 §6.1 calls all
                    // three PERMFAIL, and receivers (SES among them) report the first two as
                    // dkim=fail.
                    DkimResult::Neutral(AuthError::Dkim(
                        DkimError::FailedBodyHashMatch | DkimError::SignatureExpired,
                    )) => ResultKeyword::Fail,
                    DkimResult::Neutral(_) => ResultKeyword::PermError,
                    DkimResult::Fail(_) => ResultKeyword::Fail,
                    DkimResult::PermError(_) => ResultKeyword::PermError,
                    DkimResult::TempError(_) => ResultKeyword::TempError,
                    DkimResult::None => ResultKeyword::None,
                },
                domain: o
                    .signature()
                    .and_then(|s| crate::read::domain::normalize(&s.d)),
                selector: o.signature().map(|s| s.s.clone()),
            })
            .collect();
        let reported: Vec<String> = observation.dkim.iter().map(describe_check).collect();
        let verified: Vec<String> = dkim.iter().map(describe_check).collect();
        if !dkim.is_empty() || !observation.dkim.is_empty() {
            if reported != verified {
                observation.disagreements.push(Disagreement {
                    method: Method::Dkim,
                    verified: list_or_nothing(&verified),
                    reported: list_or_nothing(&reported),
                });
            }
            observation.dkim = dkim;
        }

        let ip = observation
            .client_ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        let envelope = observation.mail_from.as_ref().map(|m| m.domain.clone());
        if let (Some(ip), Some(domain)) = (ip, envelope) {
            // Only the domain is kept (privacy); SPF macros using the local part see
            // `postmaster`, as RFC 7208 prescribes for a null local part.
            let sender = format!("postmaster@{domain}");
            let helo = observation.helo.clone().unwrap_or_else(|| domain.clone());
            let output = self
                .authenticator
                .verify_spf(self.cached(Parameters::new(SpfParameters::verify_mail_from(
                    ip,
                    &helo,
                    "ses-dmarc-monitor",
                    &sender,
                ))))
                .await;
            let result = match output.result() {
                SpfResult::Pass => ResultKeyword::Pass,
                SpfResult::Fail => ResultKeyword::Fail,
                SpfResult::SoftFail => ResultKeyword::SoftFail,
                SpfResult::Neutral => ResultKeyword::Neutral,
                SpfResult::TempError => ResultKeyword::TempError,
                SpfResult::PermError => ResultKeyword::PermError,
                SpfResult::None => ResultKeyword::None,
            };
            let verified = Check {
                result,
                domain: Some(domain),
                selector: None,
            };
            if observation.spf.as_ref() != Some(&verified) {
                observation.disagreements.push(Disagreement {
                    method: Method::Spf,
                    verified: describe_check(&verified),
                    reported: observation
                        .spf
                        .as_ref()
                        .map_or_else(|| "nothing".to_owned(), describe_check),
                });
            }
            observation.spf = Some(verified);
        }
    }
}

fn map_found<T>(answer: Lookup<Vec<RData>>, f: impl Fn(&RData) -> Option<T>) -> Lookup<Vec<T>> {
    match answer {
        Lookup::Found(data) => {
            let values: Vec<T> = data.iter().filter_map(f).collect();
            if values.is_empty() {
                Lookup::Missing
            } else {
                Lookup::Found(values)
            }
        }
        Lookup::Missing => Lookup::Missing,
        Lookup::Failed(error) => Lookup::Failed(error),
    }
}

fn name_text(name: &mail_auth::hickory_resolver::proto::rr::Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// A TXT record's character-strings joined, as SPF and DKIM read them.
fn txt_text(data: &RData) -> Option<String> {
    match data {
        RData::TXT(txt) => Some(
            txt.txt_data
                .iter()
                .map(|part| String::from_utf8_lossy(part))
                .collect::<String>(),
        ),
        _ => None,
    }
}

fn list_or_nothing(checks: &[String]) -> String {
    if checks.is_empty() {
        "nothing".to_owned()
    } else {
        checks.join(", ")
    }
}

fn describe_check(check: &Check) -> String {
    format!(
        "{} {}",
        check.result,
        check.domain.as_deref().unwrap_or("(unknown domain)")
    )
}

impl FactSource for DnsFacts {
    fn org_source(&self) -> OrgSource {
        OrgSource::DnsTreeWalk
    }

    async fn facts(&self, observation: &mut Observation) -> DomainFacts {
        let mut policies = HashMap::new();
        let mut orgs = HashMap::new();
        for author in observation.header_from.clone() {
            match self.discover(&author).await {
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
        for domain in identifiers {
            if orgs.contains_key(&domain) {
                continue;
            }
            match self.walk(&domain).await {
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

    async fn reverify(&self, raw: &[u8], observation: &mut Observation) {
        DnsFacts::reverify(self, raw, observation).await;
    }
}
