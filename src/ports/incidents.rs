//! Where incidents are kept (the state table, `lambda::aws::dynamodb`): one record per
//! incident, with a version that only a change of state bumps.
//!
//! - An occurrence is counted in the open incident by one write that reads nothing
//!   ([`IncidentBook::count`]), so a flood of findings does not race on a read.
//! - A change of state (open, remind, resolve) is written only if nobody changed the incident
//!   since it was read, and records the message it owes in that same write.
//! - A message owed is held by one writer while it sends it ([`IncidentBook::lease`]) and
//!   marked sent only after the publisher took it ([`IncidentBook::settle`]); a writer that
//!   failed or died leaves it owed, for the next step or the sweep.

pub use crate::judge::incident::Occurrence;
use crate::judge::incident::{Incident, IncidentKey};
use crate::ports::state::{InMemory, StateError};
use std::collections::HashMap;

/// An incident as stored, with its version: the number of changes of state it went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub incident: Incident,
    pub version: u64,
}

/// How a change of state is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The incident is written whole: it opens (again), its count starts afresh.
    Open,
    /// The open incident's state changes; what occurrences wrote (count, last seen, detail,
    /// severity) is kept as stored, so that none counted meanwhile is lost.
    Change,
}

/// What became of a message owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The publisher took it: nothing is owed any more. `closed`: the incident is resolved,
    /// so it needs no more attention.
    Sent { closed: bool },
    /// It could not be sent: still owed, and free for anyone to send at once.
    Failed,
}

/// The incidents.
#[allow(async_fn_in_trait)]
pub trait IncidentBook {
    /// Counts `occurrence` in the incident under `key` if it is open, in one write: the
    /// incident after it, or `None` when none is open (nothing is written then).
    async fn count(
        &self,
        key: &IncidentKey,
        occurrence: &Occurrence,
    ) -> Result<Option<Stored>, StateError>;

    /// The incident under `key`, if one was ever stored (a consistent read).
    async fn load(&self, key: &IncidentKey) -> Result<Option<Stored>, StateError>;

    /// Writes `next` as `how` says, if the stored version is still `read` (`None`: nothing was
    /// stored). `Ok(false)`: another writer changed it first.
    async fn store(
        &self,
        key: &IncidentKey,
        next: &Incident,
        how: Transition,
        read: Option<u64>,
    ) -> Result<bool, StateError>;

    /// Takes the message owed at `version`, held by nobody at `now`, until `until`.
    /// `Ok(false)`: someone holds it, or the incident changed.
    async fn lease(
        &self,
        key: &IncidentKey,
        version: u64,
        now: u64,
        until: u64,
    ) -> Result<bool, StateError>;

    /// Records what became of the message owed at `version`. `Ok(false)`: the incident
    /// changed meanwhile (its new message is owed instead).
    async fn settle(
        &self,
        key: &IncidentKey,
        version: u64,
        outcome: Settled,
    ) -> Result<bool, StateError>;

    /// Every incident open or owing a message.
    async fn needing_attention(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError>;
}

/// A book shared (by the containers of a test).
impl<B: IncidentBook> IncidentBook for std::sync::Arc<B> {
    async fn count(
        &self,
        key: &IncidentKey,
        occurrence: &Occurrence,
    ) -> Result<Option<Stored>, StateError> {
        (**self).count(key, occurrence).await
    }
    async fn load(&self, key: &IncidentKey) -> Result<Option<Stored>, StateError> {
        (**self).load(key).await
    }
    async fn store(
        &self,
        key: &IncidentKey,
        next: &Incident,
        how: Transition,
        read: Option<u64>,
    ) -> Result<bool, StateError> {
        (**self).store(key, next, how, read).await
    }
    async fn lease(
        &self,
        key: &IncidentKey,
        version: u64,
        now: u64,
        until: u64,
    ) -> Result<bool, StateError> {
        (**self).lease(key, version, now, until).await
    }
    async fn settle(
        &self,
        key: &IncidentKey,
        version: u64,
        outcome: Settled,
    ) -> Result<bool, StateError> {
        (**self).settle(key, version, outcome).await
    }
    async fn needing_attention(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError> {
        (**self).needing_attention().await
    }
}

/// Incidents in memory, with the table's semantics: for tests. `unavailable` fails every
/// call, as an unreachable table.
pub type MemoryIncidents = InMemory<HashMap<IncidentKey, Stored>>;

impl IncidentBook for MemoryIncidents {
    async fn count(
        &self,
        key: &IncidentKey,
        occurrence: &Occurrence,
    ) -> Result<Option<Stored>, StateError> {
        self.with(|incidents| {
            let stored = incidents.get_mut(key).filter(|s| s.incident.is_open())?;
            let incident = &mut stored.incident;
            incident.count += 1;
            incident.last_seen = occurrence.now;
            occurrence.detail.clone_into(&mut incident.detail);
            incident.severity = incident.severity.max(occurrence.severity);
            incident
                .reporters
                .extend(occurrence.reporter.iter().cloned());
            Some(stored.clone())
        })
    }

    async fn load(&self, key: &IncidentKey) -> Result<Option<Stored>, StateError> {
        self.with(|incidents| incidents.get(key).cloned())
    }

    async fn store(
        &self,
        key: &IncidentKey,
        next: &Incident,
        how: Transition,
        read: Option<u64>,
    ) -> Result<bool, StateError> {
        self.with(|incidents| {
            let current = incidents.get(key);
            if current.map(|s| s.version) != read {
                return false;
            }
            let mut written = next.clone();
            if let (Transition::Change, Some(current)) = (how, current) {
                let counted = &current.incident;
                written.count = counted.count;
                written.last_seen = counted.last_seen;
                written.detail.clone_from(&counted.detail);
                written.severity = counted.severity;
                written.reporters.clone_from(&counted.reporters);
            }
            incidents.insert(
                key.clone(),
                Stored {
                    incident: written,
                    version: read.map_or(1, |v| v + 1),
                },
            );
            true
        })
    }

    async fn lease(
        &self,
        key: &IncidentKey,
        version: u64,
        now: u64,
        until: u64,
    ) -> Result<bool, StateError> {
        self.with(|incidents| {
            let Some(stored) = incidents.get_mut(key).filter(|s| s.version == version) else {
                return false;
            };
            match &mut stored.incident.owed {
                Some(owed) if owed.leased_until <= now => {
                    owed.leased_until = until;
                    true
                }
                _ => false,
            }
        })
    }

    async fn settle(
        &self,
        key: &IncidentKey,
        version: u64,
        outcome: Settled,
    ) -> Result<bool, StateError> {
        self.with(|incidents| {
            let Some(stored) = incidents.get_mut(key).filter(|s| s.version == version) else {
                return false;
            };
            match (outcome, &mut stored.incident.owed) {
                (Settled::Sent { .. }, owed) => *owed = None,
                (Settled::Failed, Some(owed)) => owed.leased_until = 0,
                (Settled::Failed, None) => {}
            }
            true
        })
    }

    async fn needing_attention(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError> {
        self.with(|incidents| {
            let mut due: Vec<(IncidentKey, Stored)> = incidents
                .iter()
                .filter(|(_, s)| s.incident.needs_attention())
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect();
            due.sort_by(|a, b| a.0.cmp(&b.0));
            due
        })
    }
}
