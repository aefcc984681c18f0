//! What SES knows about a sending identity: the [`IdentityDirectory`] port, the identity state
//! it returns (shaped like SESv2 `GetEmailIdentity` output), an offline directory read from a
//! file and `--mail-from`, and a TTL cache that makes at most one lookup per identity per period.
//!
//! The SESv2 adapter implements the same trait at the AWS edge.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `MailFromAttributes.MailFromDomainStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MailFromStatus {
    Pending,
    Success,
    Failed,
    TemporaryFailure,
    #[serde(other)]
    Unknown,
}

impl MailFromStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::TemporaryFailure => "TEMPORARY_FAILURE",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// `MailFromAttributes.BehaviorOnMxFailure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MxFailureBehavior {
    UseDefaultValue,
    RejectMessage,
    #[serde(other)]
    Unknown,
}

impl MxFailureBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UseDefaultValue => "USE_DEFAULT_VALUE",
            Self::RejectMessage => "REJECT_MESSAGE",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// `MailFromAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MailFromAttributes {
    /// The custom MAIL FROM domain; absent or empty when none is configured.
    #[serde(default)]
    pub mail_from_domain: Option<String>,
    /// Absent when only the expected domain is known (offline `--mail-from`).
    #[serde(default)]
    pub mail_from_domain_status: Option<MailFromStatus>,
    #[serde(default)]
    pub behavior_on_mx_failure: Option<MxFailureBehavior>,
}

/// `DkimAttributes`, kept as SES reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DkimAttributes {
    #[serde(default)]
    pub signing_enabled: Option<bool>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tokens: Vec<String>,
    #[serde(default)]
    pub signing_attributes_origin: Option<String>,
}

/// One identity as `GetEmailIdentity` describes it (the fields this project reads).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityState {
    #[serde(default)]
    pub mail_from_attributes: Option<MailFromAttributes>,
    #[serde(default)]
    pub dkim_attributes: Option<DkimAttributes>,
}

impl IdentityState {
    /// The configured custom MAIL FROM domain, when there is one.
    pub fn mail_from_domain(&self) -> Option<&str> {
        self.mail_from_attributes
            .as_ref()?
            .mail_from_domain
            .as_deref()
            .filter(|d| !d.is_empty())
    }
}

/// Why an identity could not be looked up. Transient errors fail the invocation so Lambda
/// retries it; nothing else does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("identity lookup for {identity} failed transiently: {reason}")]
    Transient { identity: String, reason: String },
    #[error("identity lookup for {identity} failed: {reason}")]
    Permanent { identity: String, reason: String },
}

impl DirectoryError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// Looks up an SES identity (a domain, or an e-mail address). `Ok(None)`: unknown to the
/// directory (not verified in this account, or no state given offline).
#[allow(async_fn_in_trait)]
pub trait IdentityDirectory {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError>;
}

/// Knows nothing: every identity is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDirectory;

impl IdentityDirectory for NoDirectory {
    async fn lookup(&self, _identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        Ok(None)
    }
}

/// Offline identity state: a file shaped like `GetEmailIdentity` output keyed by identity
/// (`--identity-state`), and expected MAIL FROM domains (`--mail-from`).
#[derive(Debug, Clone, Default)]
pub struct OfflineDirectory {
    identities: HashMap<String, Arc<IdentityState>>,
}

impl OfflineDirectory {
    /// Reads `{"<identity>": {"MailFromAttributes": {…}, "DkimAttributes": {…}}, …}`.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let map: HashMap<String, IdentityState> = serde_json::from_str(text).map_err(|e| {
            format!("expected an object of GetEmailIdentity outputs keyed by identity: {e}")
        })?;
        Ok(Self {
            identities: map
                .into_iter()
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), Arc::new(v)))
                .collect(),
        })
    }

    /// States that `identity` is expected to use `mail_from_domain` (status unknown), unless
    /// the identity state already says more.
    pub fn expect_mail_from(&mut self, identity: &str, mail_from_domain: &str) {
        let entry = self
            .identities
            .entry(identity.to_ascii_lowercase())
            .or_default();
        if entry.mail_from_domain().is_none() {
            Arc::make_mut(entry).mail_from_attributes = Some(MailFromAttributes {
                mail_from_domain: Some(mail_from_domain.to_owned()),
                ..MailFromAttributes::default()
            });
        }
    }
}

impl IdentityDirectory for OfflineDirectory {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        Ok(self.identities.get(&identity.to_ascii_lowercase()).cloned())
    }
}

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

/// The state that governs `identity`: its own when it has a MAIL FROM configured, else (an
/// address identity) its domain's, which address identities inherit.
pub async fn governing_state<D: IdentityDirectory>(
    directory: &D,
    identity: &str,
) -> Result<Option<(String, Arc<IdentityState>)>, DirectoryError> {
    let own = directory.lookup(identity).await?;
    if let Some(state) = &own
        && state.mail_from_attributes.is_some()
    {
        return Ok(Some((identity.to_owned(), state.clone())));
    }
    if let Some((_, domain)) = identity.rsplit_once('@')
        && let Some(state) = directory.lookup(domain).await?
    {
        return Ok(Some((domain.to_owned(), state)));
    }
    Ok(own.map(|s| (identity.to_owned(), s)))
}

#[cfg(test)]
mod tests {
    use super::*;
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
                    reason: "TooManyRequestsException".into(),
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
                reason: "connection reset".into(),
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

    #[tokio::test]
    async fn offline_state_and_inheritance() {
        let mut directory = OfflineDirectory::from_json(
            r#"{"example.com": {"MailFromAttributes": {"MailFromDomain": "mail.example.com",
                 "MailFromDomainStatus": "FAILED", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
                 "DkimAttributes": {"SigningEnabled": true, "Status": "SUCCESS", "Tokens": ["a"]}}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        directory.expect_mail_from("example.com", "other.example.com");
        directory.expect_mail_from("example.org", "bounce.example.org");

        let (governing, state) = governing_state(&directory, "ops@example.com")
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("inherited"));
        assert_eq!(governing, "example.com");
        assert_eq!(state.mail_from_domain(), Some("mail.example.com"));
        assert_eq!(
            state
                .mail_from_attributes
                .as_ref()
                .and_then(|m| m.mail_from_domain_status.clone()),
            Some(MailFromStatus::Failed)
        );
        let org = directory.lookup("example.org").await.ok().flatten();
        assert_eq!(
            org.as_deref().and_then(IdentityState::mail_from_domain),
            Some("bounce.example.org")
        );
        assert!(OfflineDirectory::from_json("[1]").is_err());
    }
}
