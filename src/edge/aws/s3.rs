//! [`RawMessages`] from S3: the objects a receipt rule's S3 action writes, one per message,
//! named `<prefix><SES message id>`. It fetches and hands over the bytes; it decides nothing.

use crate::ports::raw::{RawError, RawMessages};
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;

/// The largest stored message re-verified: the functions have 128 MB (template.yaml), and
/// parsing holds a message more than once. SES stores up to 40 MB; a canary is a few KB.
const MAX_OBJECT: i64 = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct S3RawMessages {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3RawMessages {
    pub fn new(client: Client, bucket: String, prefix: String) -> Self {
        Self {
            client,
            bucket,
            prefix,
        }
    }
}

impl RawMessages for S3RawMessages {
    async fn fetch(&self, message_id: &str) -> Result<Option<Vec<u8>>, RawError> {
        let key = format!("{}{message_id}", self.prefix);
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| RawError {
            key: format!("s3://{}/{key}", self.bucket),
            source,
        };
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(error) => {
                return match error.as_service_error() {
                    // Not stored (the rule has no S3 action for this recipient) or expired.
                    Some(GetObjectError::NoSuchKey(_)) => Ok(None),
                    _ => Err(failed(Box::new(error))),
                };
            }
        };
        let length = object.content_length().unwrap_or(0);
        if length > MAX_OBJECT {
            return Err(failed(
                format!(
                    "{length} bytes, more than the {} MiB re-verified",
                    MAX_OBJECT / 1024 / 1024
                )
                .into(),
            ));
        }
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| failed(Box::new(e)))?;
        Ok(Some(body.into_bytes().to_vec()))
    }
}
