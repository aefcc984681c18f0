//! Where incidents are kept (the state table, `lambda::aws::dynamodb`): a versioned record per
//! incident, written only if nobody wrote it since it was read. Of two containers that see
//! the same finding at once, exactly one write succeeds, and only that one sends the message.

use crate::judge::incident::{Incident, IncidentKey};
use crate::ports::state::{InMemory, StateError};
use std::collections::HashMap;

/// An incident as stored, with the version its next write must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub incident: Incident,
    pub version: u64,
}

/// The incidents.
#[allow(async_fn_in_trait)]
pub trait IncidentBook {
    /// The incident under `key`, if one was ever stored.
    async fn load(&self, key: &IncidentKey) -> Result<Option<Stored>, StateError>;

    /// Stores `next` under `key` if the stored version is still `read` (`None`: nothing
    /// was stored). `Ok(false)`: another writer came first; read again.
    async fn store(
        &self,
        key: &IncidentKey,
        next: &Incident,
        read: Option<u64>,
    ) -> Result<bool, StateError>;

    /// Every open incident.
    async fn open_incidents(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError>;
}

/// A book shared (by the containers of a test).
impl<B: IncidentBook> IncidentBook for std::sync::Arc<B> {
    async fn load(&self, key: &IncidentKey) -> Result<Option<Stored>, StateError> {
        (**self).load(key).await
    }
    async fn store(
        &self,
        key: &IncidentKey,
        next: &Incident,
        read: Option<u64>,
    ) -> Result<bool, StateError> {
        (**self).store(key, next, read).await
    }
    async fn open_incidents(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError> {
        (**self).open_incidents().await
    }
}

/// Incidents in memory: for tests. `unavailable` fails every call, as an unreachable table.
pub type MemoryIncidents = InMemory<HashMap<IncidentKey, Stored>>;

impl IncidentBook for MemoryIncidents {
    async fn load(&self, key: &IncidentKey) -> Result<Option<Stored>, StateError> {
        self.with(|incidents| incidents.get(key).cloned())
    }

    async fn store(
        &self,
        key: &IncidentKey,
        next: &Incident,
        read: Option<u64>,
    ) -> Result<bool, StateError> {
        self.with(|incidents| {
            let current = incidents.get(key).map(|s| s.version);
            if current != read {
                return false;
            }
            incidents.insert(
                key.clone(),
                Stored {
                    incident: next.clone(),
                    version: read.map_or(1, |v| v + 1),
                },
            );
            true
        })
    }

    async fn open_incidents(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError> {
        self.with(|incidents| {
            let mut open: Vec<(IncidentKey, Stored)> = incidents
                .iter()
                .filter(|(_, s)| s.incident.is_open())
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect();
            open.sort_by(|a, b| a.0.cmp(&b.0));
            open
        })
    }
}
