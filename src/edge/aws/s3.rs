//! S3, where a receipt rule's S3 action writes one object per message: [`RawMessages`] by
//! SES message id (`<prefix><message id>`, for the receipt function) and [`ObjectStore`] by
//! bucket and key (for the reports function). Each fetches and hands over the bytes; it
//! decides nothing.

use crate::ports::objects::{ObjectError, ObjectStore};
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
