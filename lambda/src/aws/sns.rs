//! [`Publisher`] over an SNS topic: one composed alert (`say::alert`) published, with its
//! message attributes for subscription filters. Only sends: what to send and when is the
//! alerting flow's (`flow::alerting`).
//!
//! Throttling and 5xx are retried by the SDK with backoff within the operation timeout; what
//! still fails is returned whole, for the flow to take its step back.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use ses_dmarc_monitor::ports::Cause;
use ses_dmarc_monitor::ports::publisher::Alert;
use ses_dmarc_monitor::ports::publisher::Publisher;

/// Publishes alerts to one topic.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, alert: &Alert) -> Result<(), Cause> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&alert.subject)
            .message_structure("json")
            .message(alert.sns_message());
        for (name, value) in &alert.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()?;
            request = request.message_attributes(*name, attribute);
        }
        request.send().await?;
        Ok(())
    }
}
