//! The SESv2 adapter: [`IdentityDirectory`] through `GetEmailIdentity`, [`IdentityLister`]
//! through `ListEmailIdentities`, `ListConfigurationSets` and `GetConfigurationSet`, [`ProbeSender`] through `SendEmail`. It translates the SDK's types into the project's model and
//! sorts errors into transient and permanent; it decides nothing else. Wrap it in
//! `edge::identity_cache::CachedDirectory`: SESv2 allows one request per second per account.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::get_configuration_set::GetConfigurationSetError;
use aws_sdk_sesv2::operation::get_email_identity::{GetEmailIdentityError, GetEmailIdentityOutput};
use aws_sdk_sesv2::types::{IdentityType, TlsPolicy as SdkTlsPolicy};
use ses_dmarc_monitor::judge::bulk::TlsPolicy;
use ses_dmarc_monitor::ports::directory::{
    DirectoryError, IdentityDirectory, IdentityLister, ListError,
};
use ses_dmarc_monitor::ports::sender::{Mail, Mailer, Outgoing, ProbeSender, SendError};
use ses_dmarc_monitor::read::domain::normalize;
use ses_dmarc_monitor::read::identity_state::{
    DkimAttributes, DkimOrigin, DkimStatus, IdentityState, MailFromAttributes, MailFromStatus,
    MxFailureBehavior,
};
use std::sync::Arc;

/// How a refusal for lack of permission starts its log line: the template's metric filter
/// counts these lines as `ConfigurationErrors`, and an alarm pages once.
pub const DENIED: &str = "SESv2 access denied (a configuration error, not retried)";

/// A failed listing call (`action`, as IAM names it) as the port's error: access denied is a
/// configuration error, logged for the metric filter that counts them.
fn list_error<E, R>(action: &'static str) -> impl FnOnce(SdkError<E, R>) -> ListError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    move |e| {
        let denied = is_denied(e.code());
        if denied {
            tracing::error!(error = %e, "{DENIED}: {action}");
        }
        ListError {
            denied,
            cause: Box::new(e),
        }
    }
}

/// Whether an error code says the caller lacks permission (or valid credentials): no retry
/// fixes that, only the role does.
fn is_denied(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "AccessDeniedException"
                | "AccessDenied"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
        )
    )
}

#[derive(Debug, Clone)]
pub struct SesV2Directory {
    client: Client,
    /// `arn:<partition>:ses:<region>:<account>:identity/`: what an identity's ARN starts with,
    /// when the function knows its account (from its own ARN); tenants are listed by ARN.
    identity_arn_prefix: Option<String>,
}

impl SesV2Directory {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            identity_arn_prefix: None,
        }
    }

    /// The same directory, able to list an identity's tenants: `function_arn` is the
    /// invoked function's ARN (`arn:<partition>:lambda:<region>:<account>:function:<name>`),
    /// which names the partition, region and account the identities live in.
    pub fn with_account_of(&self, function_arn: &str) -> Self {
        let parts: Vec<&str> = function_arn.split(':').collect();
        let identity_arn_prefix = (parts.len() >= 5 && parts[0] == "arn" && !parts[4].is_empty())
            .then(|| format!("arn:{}:ses:{}:{}:identity/", parts[1], parts[3], parts[4]));
        Self {
            client: self.client.clone(),
            identity_arn_prefix,
        }
    }

    /// The identities enabled for sending that `keep` accepts, all pages.
    async fn list(
        &self,
        keep: impl Fn(&aws_sdk_sesv2::types::IdentityInfo) -> bool,
    ) -> Result<Vec<String>, ListError> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_email_identities()
            .page_size(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(list_error("ses:ListEmailIdentities"))?;
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

impl IdentityLister for SesV2Directory {
    async fn verified_domains(&self) -> Result<Vec<String>, ListError> {
        Ok(self
            .list(|i| i.identity_type() == Some(&IdentityType::Domain))
            .await?
            .iter()
            .filter_map(|name| normalize(name))
            .collect())
    }

    async fn identities(&self) -> Result<Vec<String>, ListError> {
        self.list(|_| true).await
    }

    async fn tls_policy(&self, name: &str) -> Result<Option<TlsPolicy>, ListError> {
        let output = match self
            .client
            .get_configuration_set()
            .configuration_set_name(name)
            .send()
            .await
        {
            Ok(output) => output,
            // The identity names a set that no longer exists: its policy is not known.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(GetConfigurationSetError::is_not_found_exception) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(list_error("ses:GetConfigurationSet")(error)),
        };
        // A set without delivery options sends under SES's default, Optional.
        Ok(
            match output.delivery_options().and_then(|d| d.tls_policy()) {
                None | Some(SdkTlsPolicy::Optional) => Some(TlsPolicy::Optional),
                Some(SdkTlsPolicy::Require) => Some(TlsPolicy::Require),
                Some(_) => None,
            },
        )
    }

    async fn configuration_sets(&self) -> Result<Option<Vec<String>>, ListError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_configuration_sets()
                .set_next_token(token.take())
                .page_size(1000)
                .send()
                .await
                .map_err(list_error("ses:ListConfigurationSets"))?;
            names.extend(page.configuration_sets().iter().cloned());
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(Some(names)),
            }
        }
    }

    async fn tenants(&self, identity: &str) -> Result<Vec<String>, ListError> {
        let Some(prefix) = &self.identity_arn_prefix else {
            return Ok(Vec::new());
        };
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_resource_tenants()
                .resource_arn(format!("{prefix}{identity}"))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(list_error("ses:ListResourceTenants"))?;
            names.extend(
                page.resource_tenants()
                    .iter()
                    .filter_map(|t| t.tenant_name())
                    .map(str::to_owned),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(names),
            }
        }
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
                let identity = identity.to_owned();
                if is_denied(error.code()) {
                    tracing::error!(identity = %identity, error = %error, "{DENIED}: ses:GetEmailIdentity; judged without the identity's state");
                    return Err(DirectoryError::Permanent {
                        identity,
                        source: Box::new(error),
                    });
                }
                match &error {
                    SdkError::ServiceError(service) => match service.err() {
                        GetEmailIdentityError::NotFoundException(_) => Ok(None),
                        GetEmailIdentityError::BadRequestException(_) => {
                            Err(DirectoryError::Permanent {
                                identity,
                                source: Box::new(error),
                            })
                        }
                        // Throttling (after the SDK's own backoff), 5xx and what AWS adds.
                        _ => Err(DirectoryError::Transient {
                            identity,
                            source: Box::new(error),
                        }),
                    },
                    // Timeouts, connection failures: worth a retry of the invocation.
                    _ => Err(DirectoryError::Transient {
                        identity,
                        source: Box::new(error),
                    }),
                }
            }
        }
    }
}

impl ProbeSender for SesV2Directory {
    async fn send(&self, probe: &Outgoing) -> Result<String, SendError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(|e| SendError::Failed(Box::new(e)))
        };
        let message = Message::builder()
            .subject(content(&probe.subject)?)
            .body(Body::builder().text(content(&probe.body)?).build())
            .build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&probe.from)
            .destination(Destination::builder().to_addresses(&probe.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(probe.configuration_set.clone())
            .send()
            .await;
        match sent {
            Ok(output) => output
                .message_id()
                .map(str::to_owned)
                .ok_or_else(|| SendError::Failed("SendEmail answered without a message id".into())),
            Err(error) => {
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_mail_from_domain_not_verified_exception())
                {
                    return Err(SendError::MailFromNotVerified(Box::new(error)));
                }
                if is_denied(error.code()) {
                    tracing::error!(from = %probe.from, error = %error, "{DENIED}: ses:SendEmail");
                }
                Err(SendError::Failed(Box::new(error)))
            }
        }
    }
}

impl Mailer for SesV2Directory {
    async fn mail(&self, mail: &Mail) -> Result<String, SendError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(|e| SendError::Failed(Box::new(e)))
        };
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(
                Body::builder()
                    .text(content(&mail.text)?)
                    .html(content(&mail.html)?)
                    .build(),
            )
            .build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&mail.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(mail.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(mail.configuration_set.clone())
            .send()
            .await;
        match sent {
            Ok(output) => output
                .message_id()
                .map(str::to_owned)
                .ok_or_else(|| SendError::Failed("SendEmail answered without a message id".into())),
            Err(error) => {
                if is_denied(error.code()) {
                    tracing::error!(from = %mail.from, error = %error, "{DENIED}: ses:SendEmail");
                }
                Err(SendError::Failed(Box::new(error)))
            }
        }
    }
}

/// The fields this project reads, in its own model. SDK enumerations are read by their text,
/// so a value this SDK does not name is kept as SES sent it.
pub fn state_of(output: &GetEmailIdentityOutput) -> IdentityState {
    IdentityState {
        mail_from_attributes: output.mail_from_attributes().map(|m| MailFromAttributes {
            mail_from_domain: Some(m.mail_from_domain().to_owned()).filter(|d| !d.is_empty()),
            mail_from_domain_status: Some(MailFromStatus::from_text(
                m.mail_from_domain_status().as_str(),
            )),
            behavior_on_mx_failure: Some(MxFailureBehavior::from_text(
                m.behavior_on_mx_failure().as_str(),
            )),
        }),
        dkim_attributes: output.dkim_attributes().map(|d| DkimAttributes {
            signing_enabled: Some(d.signing_enabled()),
            status: d.status().map(|s| DkimStatus::from_text(s.as_str())),
            tokens: d.tokens().to_vec(),
            signing_attributes_origin: d
                .signing_attributes_origin()
                .map(|o| DkimOrigin::from_text(o.as_str())),
        }),
        configuration_set_name: output.configuration_set_name().map(str::to_owned),
    }
}
