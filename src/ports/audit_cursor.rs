//! Where the audit stopped (the state table, `lambda::aws::dynamodb`): a run that cannot
//! check every identity before its deadline records the last domain it checked, and the next
//! run continues after it. Without a table every run starts from the first domain.

use crate::ports::state::{InMemory, StateError};

/// The audit's place in the account's domains, between runs.
#[allow(async_fn_in_trait)]
pub trait AuditCursor {
    /// The last domain the previous run checked, when it stopped before the end.
    async fn stopped_after(&self) -> Result<Option<String>, StateError>;

    /// Records where this run stopped: `Some(domain)` when it stopped early after `domain`,
    /// `None` when it went through to the end.
    async fn stop_after(&self, domain: Option<&str>) -> Result<(), StateError>;
}

/// No table: no place kept.
impl<K: AuditCursor> AuditCursor for Option<K> {
    async fn stopped_after(&self) -> Result<Option<String>, StateError> {
        match self {
            Some(cursor) => cursor.stopped_after().await,
            None => Ok(None),
        }
    }

    async fn stop_after(&self, domain: Option<&str>) -> Result<(), StateError> {
        match self {
            Some(cursor) => cursor.stop_after(domain).await,
            None => Ok(()),
        }
    }
}

/// The place in memory: for tests.
pub type MemoryCursor = InMemory<Option<String>>;

impl AuditCursor for MemoryCursor {
    async fn stopped_after(&self) -> Result<Option<String>, StateError> {
        self.with(|place| place.clone())
    }

    async fn stop_after(&self, domain: Option<&str>) -> Result<(), StateError> {
        self.with(|place| *place = domain.map(str::to_owned))
    }
}
