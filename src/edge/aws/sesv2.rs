//! [`IdentityDirectory`] through SESv2 `GetEmailIdentity`; identities listed with
//! `ListEmailIdentities`. Wrap it in `identity::CachedDirectory`: SESv2 allows one request
//! per second per account.

use crate::ports::directory::{
    DirectoryError, DkimAttributes, IdentityDirectory, IdentityState, MailFromAttributes,
    MailFromStatus, MxFailureBehavior,
};
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
use aws_sdk_sesv2::operation::get_email_identity::{GetEmailIdentityError, GetEmailIdentityOutput};
use aws_sdk_sesv2::types::{BehaviorOnMxFailure, IdentityType, MailFromDomainStatus};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct SesV2Directory {
    client: Client,
}

impl SesV2Directory {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Every domain identity of the account verified for sending, all pages.
    pub async fn verified_domains(&self) -> Result<Vec<String>, DirectoryError> {
        Ok(self
            .list(|i| i.identity_type() == Some(&IdentityType::Domain))
            .await?
            .iter()
            .filter_map(|name| crate::read::domain::normalize(name))
            .collect())
    }

    /// Every identity enabled for sending (domains and addresses), all pages.
    pub async fn identities(&self) -> Result<Vec<String>, DirectoryError> {
        self.list(|_| true).await
    }

    async fn list(
        &self,
        keep: impl Fn(&aws_sdk_sesv2::types::IdentityInfo) -> bool,
    ) -> Result<Vec<String>, DirectoryError> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_email_identities()
            .page_size(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| DirectoryError::Transient {
                identity: "(list)".into(),
                reason: DisplayErrorContext(&e).to_string(),
            })?;
            names.extend(
                page.email_identities()
                    .iter()
                    .filter(|i| i.sending_enabled() && keep(i))
                    .filter_map(|i| i.identity_name())
                    .map(str::to_owned),
            );
        }
        Ok(names)
    }
}

impl IdentityDirectory for SesV2Directory {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        match self
            .client
            .get_email_identity()
            .email_identity(identity)
            .send()
            .await
        {
            Ok(output) => Ok(Some(Arc::new(state_of(&output)))),
            Err(error) => {
                let reason = DisplayErrorContext(&error).to_string();
                let identity = identity.to_owned();
                match &error {
                    SdkError::ServiceError(service) => match service.err() {
                        GetEmailIdentityError::NotFoundException(_) => Ok(None),
                        GetEmailIdentityError::BadRequestException(_) => {
                            Err(DirectoryError::Permanent { identity, reason })
                        }
                        // Throttling (after the SDK's own backoff), 5xx and what AWS adds.
                        _ => Err(DirectoryError::Transient { identity, reason }),
                    },
                    // Timeouts, connection failures: worth a retry of the invocation.
                    _ => Err(DirectoryError::Transient { identity, reason }),
                }
            }
        }
    }
}

/// The fields this project reads, in its own model.
pub fn state_of(output: &GetEmailIdentityOutput) -> IdentityState {
    IdentityState {
        mail_from_attributes: output.mail_from_attributes().map(|m| MailFromAttributes {
            mail_from_domain: Some(m.mail_from_domain().to_owned()).filter(|d| !d.is_empty()),
            mail_from_domain_status: Some(match m.mail_from_domain_status() {
                MailFromDomainStatus::Pending => MailFromStatus::Pending,
                MailFromDomainStatus::Success => MailFromStatus::Success,
                MailFromDomainStatus::Failed => MailFromStatus::Failed,
                MailFromDomainStatus::TemporaryFailure => MailFromStatus::TemporaryFailure,
                _ => MailFromStatus::Unknown,
            }),
            behavior_on_mx_failure: Some(match m.behavior_on_mx_failure() {
                BehaviorOnMxFailure::UseDefaultValue => MxFailureBehavior::UseDefaultValue,
                BehaviorOnMxFailure::RejectMessage => MxFailureBehavior::RejectMessage,
                _ => MxFailureBehavior::Unknown,
            }),
        }),
        dkim_attributes: output.dkim_attributes().map(|d| DkimAttributes {
            signing_enabled: Some(d.signing_enabled()),
            status: d.status().map(|s| s.as_str().to_owned()),
            tokens: d.tokens().to_vec(),
            signing_attributes_origin: d.signing_attributes_origin().map(|o| o.as_str().to_owned()),
        }),
    }
}
