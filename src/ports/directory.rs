//! What SES knows about a sending identity, as the core asks for it: the
//! [`IdentityDirectory`] port (one identity's state) and [`IdentityLister`] (the account's
//! identities), with the offline directories the CLI and the tests use.
//!
//! The SESv2 adapter (`lambda::aws::sesv2`) implements both; the cache and the pacing SESv2
//! needs are at the edge too (`edge::identity_cache`).

use crate::judge::bulk::TlsPolicy;
use crate::ports::{Cause, chain};
use crate::read::identity_state::{IdentityState, MailFromAttributes, MailFromExpectations};
use std::collections::HashMap;
use std::sync::Arc;

/// Why an identity could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Throttled, an outage, a timeout: a retry may succeed, so the invocation fails for one.
    #[error("identity lookup for {identity} failed transiently: {}", chain(source.as_ref()))]
    Transient {
        identity: String,
        #[source]
        source: Cause,
    },
    /// Refused for good (a malformed identity name, access denied): the record is judged
    /// without it.
    #[error("identity lookup for {identity} failed: {}", chain(source.as_ref()))]
    Permanent {
        identity: String,
        #[source]
        source: Cause,
    },
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

/// Why the account's identities could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("listing the account's SES identities {}: {}", if self.denied { "was denied" } else { "failed" }, chain(.cause.as_ref()))]
pub struct ListError {
    /// Access denied: a configuration error no retry fixes (the role lacks
    /// `ses:ListEmailIdentities`). Otherwise throttling or an outage, worth a retry.
    pub denied: bool,
    #[source]
    pub cause: Cause,
}

impl ListError {
    pub fn failed(cause: impl Into<Cause>) -> Self {
        Self {
            denied: false,
            cause: cause.into(),
        }
    }
}

/// Lists the account's identities.
#[allow(async_fn_in_trait)]
pub trait IdentityLister {
    /// Domain identities verified for sending, normalized.
    async fn verified_domains(&self) -> Result<Vec<String>, ListError>;
    /// Every identity enabled for sending: domains and addresses, as SES names them.
    async fn identities(&self) -> Result<Vec<String>, ListError>;
    /// The account's configuration sets, by name; `None` where they cannot be listed.
    async fn configuration_sets(&self) -> Result<Option<Vec<String>>, ListError> {
        Ok(None)
    }
    /// The TLS policy of the configuration set `name` (`DeliveryOptions.TlsPolicy`); `None`
    /// where it is not known (no such set, or no way to read it).
    async fn tls_policy(&self, name: &str) -> Result<Option<TlsPolicy>, ListError> {
        let _ = name;
        Ok(None)
    }
    /// The SES tenants `identity` (a domain) is associated with, by name; none where the
    /// account has no tenants or they cannot be listed.
    async fn tenants(&self, identity: &str) -> Result<Vec<String>, ListError> {
        let _ = identity;
        Ok(Vec::new())
    }
}

/// Knows nothing: every identity is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDirectory;

impl IdentityDirectory for NoDirectory {
    async fn lookup(&self, _identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        Ok(None)
    }
}

/// Why an `--identity-state` file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("expected an object of GetEmailIdentity outputs keyed by identity: {0}")]
pub struct StateFileError(#[from] serde_json::Error);

/// Offline identity state: a file shaped like `GetEmailIdentity` output keyed by identity
/// (`--identity-state`).
#[derive(Debug, Clone, Default)]
pub struct OfflineDirectory {
    identities: HashMap<String, Arc<IdentityState>>,
}

impl OfflineDirectory {
    /// Reads `{"<identity>": {"MailFromAttributes": {…}, "DkimAttributes": {…}}, …}`.
    pub fn from_json(text: &str) -> Result<Self, StateFileError> {
        let map: HashMap<String, IdentityState> = serde_json::from_str(text)?;
        Ok(Self {
            identities: map
                .into_iter()
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), Arc::new(v)))
                .collect(),
        })
    }
}

impl IdentityDirectory for OfflineDirectory {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        Ok(self.identities.get(&identity.to_ascii_lowercase()).cloned())
    }
}

/// Another directory, with the MAIL FROM domains the user states for identities it says
/// nothing about: an identity without a custom MAIL FROM in the directory is given the
/// expected one (status unknown). Used where SESv2 is not asked (the CLI, `IDENTITY_LOOKUP=off`).
#[derive(Debug, Clone)]
pub struct Expecting<D> {
    inner: D,
    expected: Arc<MailFromExpectations>,
}

impl<D> Expecting<D> {
    pub fn new(inner: D, expected: Arc<MailFromExpectations>) -> Self {
        Self { inner, expected }
    }
}

impl<D: IdentityDirectory> IdentityDirectory for Expecting<D> {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        let found = self.inner.lookup(identity).await?;
        let Some(mail_from) = self.expected.of(identity) else {
            return Ok(found);
        };
        if found
            .as_ref()
            .is_some_and(|s| s.mail_from_domain().is_some())
        {
            return Ok(found);
        }
        let mut state = found.map(|s| (*s).clone()).unwrap_or_default();
        state.mail_from_attributes = Some(MailFromAttributes {
            mail_from_domain: Some(mail_from.to_owned()),
            ..MailFromAttributes::default()
        });
        Ok(Some(Arc::new(state)))
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
    use crate::read::identity_state::MailFromStatus;

    #[tokio::test]
    async fn offline_state_expectations_and_inheritance() {
        let directory = OfflineDirectory::from_json(
            r#"{"example.com": {"MailFromAttributes": {"MailFromDomain": "mail.example.com",
                 "MailFromDomainStatus": "FAILED", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
                 "DkimAttributes": {"SigningEnabled": true, "Status": "SUCCESS", "Tokens": ["a"]}}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut expected = MailFromExpectations::default();
        for spec in [
            "example.com=other.example.com",
            "example.org=bounce.example.org",
        ] {
            expected.add(spec).unwrap_or_else(|e| panic!("{e}"));
        }
        let directory = Expecting::new(directory, Arc::new(expected));

        // SES's own answer wins over the expectation; address identities inherit it.
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
        // An identity the file does not know gets the expected domain, status unknown.
        let org = directory.lookup("example.org").await.ok().flatten();
        assert_eq!(
            org.as_deref().and_then(IdentityState::mail_from_domain),
            Some("bounce.example.org")
        );
        assert!(
            directory
                .lookup("example.net")
                .await
                .ok()
                .flatten()
                .is_none()
        );
        let error = OfflineDirectory::from_json("[1]").map_err(|e| e.to_string());
        assert!(
            error
                .as_ref()
                .is_err_and(|e| e.starts_with("expected an object of GetEmailIdentity")),
            "{error:?}"
        );
    }
}
