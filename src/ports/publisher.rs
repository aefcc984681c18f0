//! Where alerts go: the [`Publisher`] port and the [`Alert`] it carries (composed by
//! `say::alert`). The alerting flow decides what to send and when;
//! a publisher only sends (SNS at the AWS edge, a recording list in tests).

use crate::ports::Cause;

/// One alert, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    /// The e-mail text.
    pub body: String,
    /// The finding as JSON, for machine subscribers.
    pub json: String,
    /// `kind`, `severity`, `domain`, `state`: SNS message attributes, for subscription
    /// filter policies.
    pub attributes: Vec<(&'static str, String)>,
}

impl Alert {
    /// The SNS `Message` with `MessageStructure=json`: `default` (every protocol not named),
    /// `email` (the readable text), and `sqs`/`lambda`/`http`/`https` (the JSON finding).
    pub fn sns_message(&self) -> String {
        serde_json::json!({
            "default": self.body,
            "email": self.body,
            "email-json": self.json,
            "sqs": self.json,
            "lambda": self.json,
            "http": self.json,
            "https": self.json,
        })
        .to_string()
    }
}

/// Sends one composed alert. An error is the sender's cause, kept whole: the alerting flow
/// takes its step back so that the message is sent again.
#[allow(async_fn_in_trait)]
pub trait Publisher {
    async fn publish(&self, alert: &Alert) -> Result<(), Cause>;
}

/// Keeps what it was given, and fails while told to: for tests.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    pub sent: std::sync::Mutex<Vec<Alert>>,
    pub failing: std::sync::atomic::AtomicBool,
}

impl RecordingPublisher {
    /// The subjects sent so far, in order.
    pub fn subjects(&self) -> Vec<String> {
        self.sent
            .lock()
            .map(|sent| sent.iter().map(|a| a.subject.clone()).collect())
            .unwrap_or_default()
    }
}

impl Publisher for RecordingPublisher {
    async fn publish(&self, alert: &Alert) -> Result<(), Cause> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("the publisher is told to fail".into());
        }
        self.sent
            .lock()
            .map_err(|_| "recording publisher poisoned")?
            .push(alert.clone());
        Ok(())
    }
}
