//! The caches `mail-auth`'s lookups go through: each entry kept until the TTL DNS gave it
//! (as `mail-auth` computes it), bounded in size, shared across warm invocations.

use mail_auth::{MX, RecordSet, ResolverCache, Txt};
use std::borrow::Borrow;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

/// A cache for `mail-auth`'s lookups on `moka`: each entry expires when DNS said it would
/// (the record's TTL, as `mail-auth` computes it), and the cache is bounded in size.
pub(super) struct DnsCache<K, V> {
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
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilValid)
                .build(),
        }
    }

    pub(super) fn entry_count(&self) -> u64 {
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
pub(super) struct Caches {
    pub(super) txt: DnsCache<Box<str>, Txt>,
    pub(super) mx: DnsCache<Box<str>, RecordSet<MX>>,
    pub(super) ipv4: DnsCache<Box<str>, RecordSet<Ipv4Addr>>,
    pub(super) ipv6: DnsCache<Box<str>, RecordSet<Ipv6Addr>>,
    pub(super) ptr: DnsCache<IpAddr, RecordSet<Box<str>>>,
}

impl Caches {
    pub(super) fn new() -> Self {
        Self {
            txt: DnsCache::new(10_000),
            mx: DnsCache::new(2_000),
            ipv4: DnsCache::new(5_000),
            ipv6: DnsCache::new(5_000),
            ptr: DnsCache::new(1_000),
        }
    }
}
