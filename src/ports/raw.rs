//! Where a received message's raw content comes from when the event does not carry it: the
//! receipt rule's S3 action stores each message (up to 40 MB, where an SNS action bounces
//! mail over 150 KB), and the Lambda action that follows it gets only the headers. The S3
//! implementation is `lambda::aws::s3`.

use crate::ports::{Cause, chain};

/// Why a stored message could not be read. Never fatal: the record is judged from SES's
/// header list, and says so.
#[derive(Debug, thiserror::Error)]
#[error("the stored message {key} could not be read: {}", chain(source.as_ref()))]
pub struct RawError {
    pub key: String,
    #[source]
    pub source: Cause,
}

/// Fetches the raw message SES stored for a message id.
#[allow(async_fn_in_trait)]
pub trait RawMessages {
    /// `Ok(None)`: nothing stored under that id (no S3 action, or it has expired).
    async fn fetch(&self, message_id: &str) -> Result<Option<Vec<u8>>, RawError>;
}

/// No store: the raw message is only what the event carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRawMessages;

impl RawMessages for NoRawMessages {
    async fn fetch(&self, _message_id: &str) -> Result<Option<Vec<u8>>, RawError> {
        Ok(None)
    }
}

impl<R: RawMessages> RawMessages for Option<R> {
    async fn fetch(&self, message_id: &str) -> Result<Option<Vec<u8>>, RawError> {
        match self {
            Some(store) => store.fetch(message_id).await,
            None => Ok(None),
        }
    }
}
