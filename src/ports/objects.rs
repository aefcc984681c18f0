//! Where the reports function reads what a receipt rule's S3 action stored: one object per
//! received message, named by the event that announced it. The S3 implementation is
//! `lambda::aws::s3`; tests keep objects in memory.

use crate::ports::{Cause, chain};
use std::collections::HashMap;

/// Why a stored object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Gone: deleted, or expired before it was read. A retry cannot help.
    #[error("s3://{bucket}/{key} does not exist (deleted or expired)")]
    Missing { bucket: String, key: String },
    /// Larger than the function reads; the object is kept for a person to look at.
    #[error("s3://{bucket}/{key} holds {size} bytes, more than the {limit} read")]
    TooLarge {
        bucket: String,
        key: String,
        size: u64,
        limit: u64,
    },
    /// The store failed (throttled, unreachable, denied): a retry may help.
    #[error("s3://{bucket}/{key} could not be read: {}", chain(source.as_ref()))]
    Failed {
        bucket: String,
        key: String,
        #[source]
        source: Cause,
    },
}

impl ObjectError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

/// Reads stored objects whole.
#[allow(async_fn_in_trait)]
pub trait ObjectStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError>;
}

/// Objects in memory, by (bucket, key): for tests.
#[derive(Debug, Default)]
pub struct MemoryObjects(pub HashMap<(String, String), Vec<u8>>);

impl MemoryObjects {
    pub fn with(mut self, bucket: &str, key: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.0
            .insert((bucket.to_owned(), key.to_owned()), bytes.into());
        self
    }
}

impl ObjectStore for MemoryObjects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
        self.0
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
            .ok_or_else(|| ObjectError::Missing {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })
    }
}
