//! Where the canary's probes and the weekly digest are sent through: SESv2 `SendEmail`
//! (`lambda::aws::sesv2`), or
//! a recording sender in tests.

use crate::ports::{Cause, chain};
use std::collections::HashSet;
use std::sync::Mutex;

/// One probe to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `<local part>@<identity>`.
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub configuration_set: Option<String>,
}

/// Why a probe was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// SES refused it: the identity's custom MAIL FROM domain is not verified and its
    /// behaviour on MX failure is `REJECT_MESSAGE`. A finding, not a failure of the canary.
    #[error("SES refused to send: the custom MAIL FROM domain is not verified: {}", chain(.0.as_ref()))]
    MailFromNotVerified(Cause),
    /// Anything else: throttling, a paused account, a missing permission, an outage.
    #[error("SES did not send the probe: {}", chain(.0.as_ref()))]
    Failed(Cause),
}

/// Sends probes.
#[allow(async_fn_in_trait)]
pub trait ProbeSender {
    /// Sends `probe`; the message id SES gave it.
    async fn send(&self, probe: &Outgoing) -> Result<String, SendError>;
}

/// Records what it is asked to send. Identities in `refusing` are refused as SES refuses
/// an unverified MAIL FROM domain under `REJECT_MESSAGE`; `failing` fails every send.
#[derive(Debug, Default)]
pub struct RecordingSender {
    pub sent: Mutex<Vec<Outgoing>>,
    pub refusing: HashSet<String>,
    pub failing: bool,
}

impl ProbeSender for RecordingSender {
    async fn send(&self, probe: &Outgoing) -> Result<String, SendError> {
        let identity = probe.from.rsplit_once('@').map_or("", |(_, d)| d);
        if self.failing {
            return Err(SendError::Failed("throttled (a test's sender)".into()));
        }
        if self.refusing.contains(identity) {
            return Err(SendError::MailFromNotVerified(
                "MailFromDomainNotVerifiedException (a test's sender)".into(),
            ));
        }
        let mut sent = self
            .sent
            .lock()
            .map_err(|_| SendError::Failed("recording sender poisoned".into()))?;
        sent.push(probe.clone());
        Ok(format!("0100-test-{:06}", sent.len()))
    }
}

/// One e-mail for people (the weekly digest): a text and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub configuration_set: Option<String>,
}

/// Sends mail for people.
#[allow(async_fn_in_trait)]
pub trait Mailer {
    /// Sends `mail`; the message id SES gave it.
    async fn mail(&self, mail: &Mail) -> Result<String, SendError>;
}

/// Records the mail it is asked to send; `failing` fails every send.
#[derive(Debug, Default)]
pub struct RecordingMailer {
    pub mailed: Mutex<Vec<Mail>>,
    pub failing: bool,
}

impl Mailer for RecordingMailer {
    async fn mail(&self, mail: &Mail) -> Result<String, SendError> {
        if self.failing {
            return Err(SendError::Failed("throttled (a test's mailer)".into()));
        }
        let mut mailed = self
            .mailed
            .lock()
            .map_err(|_| SendError::Failed("recording mailer poisoned".into()))?;
        mailed.push(mail.clone());
        Ok(format!("0100-digest-{:06}", mailed.len()))
    }
}
