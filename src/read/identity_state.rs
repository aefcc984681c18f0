//! What SES says of a sending identity, shaped like SESv2 `GetEmailIdentity` output (the
//! fields this project reads), and what the user says it should say: the custom MAIL FROM
//! domains given with `--mail-from` or `MAIL_FROM_DOMAINS`.
//!
//! Data only. The SESv2 adapter fills it from the SDK; offline it is read from a file.

use crate::read::domain::{ancestors, normalize};
use crate::read::keyword::keyword_enum;
use serde::Deserialize;
use std::collections::HashMap;

keyword_enum! {
    /// `MailFromAttributes.MailFromDomainStatus`.
    pub enum MailFromStatus {
        Pending = "PENDING",
        Success = "SUCCESS",
        Failed = "FAILED",
        TemporaryFailure = "TEMPORARY_FAILURE",
    } else Unknown(str::to_owned)
}

keyword_enum! {
    /// `MailFromAttributes.BehaviorOnMxFailure`.
    pub enum MxFailureBehavior {
        UseDefaultValue = "USE_DEFAULT_VALUE",
        RejectMessage = "REJECT_MESSAGE",
    } else Unknown(str::to_owned)
}

keyword_enum! {
    /// `DkimAttributes.Status`.
    pub enum DkimStatus {
        Pending = "PENDING",
        Success = "SUCCESS",
        Failed = "FAILED",
        TemporaryFailure = "TEMPORARY_FAILURE",
        NotStarted = "NOT_STARTED",
    } else Unknown(str::to_owned)
}

keyword_enum! {
    /// `DkimAttributes.SigningAttributesOrigin`: Easy DKIM (`AWS_SES`, and its regional
    /// variants) or BYODKIM (`EXTERNAL`).
    pub enum DkimOrigin {
        AwsSes = "AWS_SES",
        External = "EXTERNAL",
    } else Other(str::to_owned)
}

/// `MailFromAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
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

/// `DkimAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DkimAttributes {
    #[serde(default)]
    pub signing_enabled: Option<bool>,
    #[serde(default)]
    pub status: Option<DkimStatus>,
    #[serde(default)]
    pub tokens: Vec<String>,
    #[serde(default)]
    pub signing_attributes_origin: Option<DkimOrigin>,
}

impl DkimAttributes {
    /// BYODKIM: the key is published by the customer under a selector, not by CNAMEs to SES.
    pub fn is_byodkim(&self) -> bool {
        self.signing_attributes_origin == Some(DkimOrigin::External)
    }
}

/// One identity as `GetEmailIdentity` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityState {
    #[serde(default)]
    pub mail_from_attributes: Option<MailFromAttributes>,
    #[serde(default)]
    pub dkim_attributes: Option<DkimAttributes>,
    /// The identity's default configuration set: what SES sends its mail with when the
    /// sending call names none.
    #[serde(default)]
    pub configuration_set_name: Option<String>,
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

/// The identity that covers a From domain and the custom MAIL FROM domain it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomMailFrom {
    /// The identity: the From domain itself or a parent, as address identities and
    /// subdomains inherit from their domain.
    pub identity: String,
    pub mail_from: String,
}

/// A `DOMAIN=MAIL_FROM_DOMAIN` that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not DOMAIN=MAIL_FROM_DOMAIN")]
pub struct ExpectationError(pub String);

/// The custom MAIL FROM domains the user states (`--mail-from`, `MAIL_FROM_DOMAINS`), for when
/// SES cannot be asked or should be double-checked. Keys and values are normalized domains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailFromExpectations(HashMap<String, String>);

impl MailFromExpectations {
    /// Adds `DOMAIN=MAIL_FROM_DOMAIN`.
    pub fn add(&mut self, spec: &str) -> Result<(), ExpectationError> {
        let refuse = || ExpectationError(spec.to_owned());
        let (domain, mail_from) = spec.split_once('=').ok_or_else(refuse)?;
        let domain = normalize(domain).ok_or_else(refuse)?;
        let mail_from = normalize(mail_from).ok_or_else(refuse)?;
        self.0.insert(domain, mail_from);
        Ok(())
    }

    /// The expected MAIL FROM domain of exactly this identity.
    pub fn of(&self, identity: &str) -> Option<&str> {
        self.0
            .get(&identity.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The stated identity covering `domain` (itself or a parent) and its MAIL FROM domain.
    pub fn covering(&self, domain: &str) -> Option<CustomMailFrom> {
        ancestors(domain).find_map(|candidate| {
            let (identity, mail_from) = self.0.get_key_value(candidate)?;
            Some(CustomMailFrom {
                identity: identity.clone(),
                mail_from: mail_from.clone(),
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_cover_subdomains_and_refuse_other_shapes() {
        let mut expected = MailFromExpectations::default();
        expected
            .add("Example.com=Mail.Example.com.")
            .unwrap_or_else(|e| panic!("{e}"));
        let covering = expected.covering("news.example.com");
        assert_eq!(
            covering,
            Some(CustomMailFrom {
                identity: "example.com".into(),
                mail_from: "mail.example.com".into()
            })
        );
        assert_eq!(expected.of("EXAMPLE.com"), Some("mail.example.com"));
        assert_eq!(expected.covering("example.org"), None);
        for bad in [
            "example.com",
            "=mail.example.com",
            "example.com=not a domain",
        ] {
            assert_eq!(
                expected.add(bad).map_err(|e| e.to_string()),
                Err(format!("{bad:?} is not DOMAIN=MAIL_FROM_DOMAIN"))
            );
        }
    }

    #[test]
    fn state_reads_unknown_values_and_byodkim() {
        let state: IdentityState = serde_json::from_str(
            r#"{"MailFromAttributes": {"MailFromDomain": "", "MailFromDomainStatus": "NEW_STATE"},
                "DkimAttributes": {"SigningAttributesOrigin": "EXTERNAL", "Status": "SUCCESS"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.mail_from_domain(), None);
        assert_eq!(
            state
                .mail_from_attributes
                .and_then(|m| m.mail_from_domain_status),
            Some(MailFromStatus::Unknown("NEW_STATE".into()))
        );
        assert!(state.dkim_attributes.is_some_and(|d| d.is_byodkim()));
    }
}
