//! S3, where a receipt rule's S3 action writes one object per message: [`RawMessages`] by
//! SES message id (`<prefix><message id>`, for the receipt function) and [`ObjectStore`] by
//! bucket and key (for the reports function). Each fetches and hands over the bytes; it
//! decides nothing.

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use ses_dmarc_monitor::ports::objects::{ObjectError, ObjectStore};
use ses_dmarc_monitor::ports::raw::{RawError, RawMessages};

/// The largest stored message re-verified: the functions have 128 MB (template.yaml), and
/// parsing holds a message more than once. SES stores up to 40 MB; a canary is a few KB.
const MAX_OBJECT: u64 = 8 * 1024 * 1024;

/// The receipt rule's stored messages, read as [`S3Objects`] reads any object.
#[derive(Debug, Clone)]
pub struct S3RawMessages {
    objects: S3Objects,
    bucket: String,
    prefix: String,
}

impl S3RawMessages {
    pub fn new(client: Client, bucket: String, prefix: String) -> Self {
        Self {
            objects: S3Objects::new(client, MAX_OBJECT),
            bucket,
            prefix,
        }
    }
}

impl RawMessages for S3RawMessages {
    async fn fetch(&self, message_id: &str) -> Result<Option<Vec<u8>>, RawError> {
        let key = format!("{}{message_id}", self.prefix);
        let failed = |source| RawError {
            key: format!("s3://{}/{key}", self.bucket),
            source,
        };
        match self.objects.get(&self.bucket, &key).await {
            Ok(bytes) => Ok(Some(bytes)),
            // Not stored (the rule has no S3 action for this recipient) or expired.
            Err(ObjectError::Missing { .. }) => Ok(None),
            Err(ObjectError::TooLarge { size, limit, .. }) => Err(failed(
                format!(
                    "{size} bytes, more than the {} MiB re-verified",
                    limit / 1024 / 1024
                )
                .into(),
            )),
            Err(ObjectError::Failed { source, .. }) => Err(failed(source)),
        }
    }
}

/// Any object, by bucket and key, up to `limit` bytes.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    limit: u64,
}

impl S3Objects {
    pub fn new(client: Client, limit: u64) -> Self {
        Self { client, limit }
    }
}

impl ObjectStore for S3Objects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| ObjectError::Failed {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            source,
        };
        let object = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(error) => {
                return Err(match error.as_service_error() {
                    Some(GetObjectError::NoSuchKey(_)) => ObjectError::Missing {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                    },
                    _ => failed(Box::new(error)),
                });
            }
        };
        let size = object
            .content_length()
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0);
        if size > self.limit {
            return Err(ObjectError::TooLarge {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                size,
                limit: self.limit,
            });
        }
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| failed(Box::new(e)))?;
        // Without a copy when the collected body is one buffer, as it is for one part.
        Ok(Vec::from(body.into_bytes()))
    }
}
