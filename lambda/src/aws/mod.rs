//! The AWS adapters: the SESv2 identity directory and probe sender, the SNS publisher, the S3
//! object stores, the report rows' destinations (S3, Firehose) and the DynamoDB state table. The only modules that call AWS; each translates
//! between the SDK's types and the core's ports, and decides nothing.

pub mod dynamodb;
pub mod rows;
pub mod s3;
pub mod sesv2;
pub mod sns;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// The SDK configuration both clients share: credentials and region from the Lambda
/// environment; throttling and 5xx retried with exponential backoff (SESv2's
/// `TooManyRequestsException` is a throttling error to the SDK), the whole operation bounded
/// so retries end well inside the function's timeout.
pub async fn sdk_config(operation_timeout: Duration) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(operation_timeout)
                .operation_attempt_timeout(Duration::from_secs(3))
                .build(),
        )
        .load()
        .await
}
