//! DNS adapter: gathers [`DomainFacts`] through `mail-auth`'s resolver, and re-verifies raw
//! messages (DKIM, SPF) with `mail-auth`. The only module that touches the network for DNS.
//!
//! The RFC 9989 tree walk is planned and interpreted in `policy`; here it is only executed,
//! each `_dmarc` TXT lookup going through `mail-auth` (which also parses the records) and a
//! TTL-respecting cache shared across invocations.

use crate::analyze::{DomainFacts, OrgSource};
use crate::authres::{Method, ResultKeyword};
use crate::domain::KnownOrgDomains;
use crate::facts::FactSource;
use crate::observation::{Check, Disagreement, Observation};
use crate::policy::{discover, organizational_domain, stops_walk, tree_walk_names};
use mail_auth::common::resolver::ToFqdn as _;
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Dmarc;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DnsError, Error as AuthError, MessageAuthenticator,
    Parameters, ResolverCache, SpfResult, Txt,
};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
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

/// A small TTL cache for `mail-auth`'s TXT lookups: entries expire when DNS said they would.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.entries.lock().ok()?;
        let (value, valid_until) = entries.get(name)?;
        (*valid_until > Instant::now()).then(|| value.clone())
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.lock().ok()?.remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key, (value, valid_until));
        }
    }
}

impl<K, V> TtlCache<K, V> {
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// DNS-backed facts: DMARC discovery and organizational domains by the RFC 9989 tree walk.
#[derive(Clone)]
pub struct DnsFacts {
    authenticator: MessageAuthenticator,
    txt_cache: Arc<TtlCache<Box<str>, Txt>>,
}

impl std::fmt::Debug for DnsFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsFacts")
            .field("cached_txt", &self.txt_cache.len())
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
        let mut config = ResolverConfig::default();
        let mut server = NameServerConfig::udp_and_tcp(addr.ip());
        for connection in &mut server.connections {
            connection.port = addr.port();
        }
        config.add_name_server(server);
        let mut options = ResolverOpts::default();
        options.attempts = 2;
        options.timeout = std::time::Duration::from_secs(3);
        MessageAuthenticator::new(config, options)
            .map(Self::with_authenticator)
            .map_err(|source| DnsSetupError::Nameserver { addr, source })
    }

    pub fn with_authenticator(authenticator: MessageAuthenticator) -> Self {
        Self {
            authenticator,
            txt_cache: Arc::new(TtlCache::default()),
        }
    }

    /// The `_dmarc` records on the walk from `domain` up, longest name first.
    async fn walk(&self, domain: &str) -> Result<Vec<(String, Arc<Dmarc>)>, AuthError> {
        let mut found = Vec::new();
        for name in tree_walk_names(domain) {
            let key = format!("_dmarc.{name}").to_fqdn().into_owned();
            match self
                .authenticator
                .txt_lookup::<Dmarc>(key, Some(self.txt_cache.as_ref()))
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

    /// RFC 8020: whether the name exists (NXDOMAIN is the only "no").
    async fn exists(&self, domain: &str) -> Option<bool> {
        let none: Option<&TtlCache<Box<str>, mail_auth::RecordSet<std::net::Ipv4Addr>>> = None;
        match self.authenticator.ipv4_lookup(domain, none).await {
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
            .verify_dkim(Parameters::new(&message).with_txt_cache(self.txt_cache.as_ref()))
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
                domain: o.signature().and_then(|s| crate::domain::normalize(&s.d)),
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
                .verify_spf(
                    Parameters::new(SpfParameters::verify_mail_from(
                        ip,
                        &helo,
                        "ses-dmarc-monitor",
                        &sender,
                    ))
                    .with_txt_cache(self.txt_cache.as_ref()),
                )
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
            match self.walk(&author).await {
                Ok(found) => {
                    let needs_existence = found.first().is_some_and(|(name, _)| *name != author)
                        && found.iter().any(|(_, r)| r.np != r.sp);
                    let exists = if needs_existence {
                        self.exists(&author).await
                    } else {
                        None
                    };
                    let discovery = discover(&author, &found, exists);
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
