//! The canary's probes, as the state table keeps them (`lambda::aws::dynamodb`): the canary
//! function records each probe it sends, the receipt function looks a received message up
//! and records its arrival, and the next canary run finds the probes that never arrived.
//! `analyze --probe-state FILE` reads them from a file ([`MemoryProbes`]).

use crate::judge::findings::Kind;
use crate::ports::state::{InMemory, StateError};
use crate::read::probe::Probe;

/// How long a probe is kept (the table's TTL): far beyond any deadline, so that a late
/// arrival is still recognized as a probe rather than taken for a stranger's mail.
pub const PROBE_KEPT: u64 = 2 * 24 * 3600;

/// The recorded probes.
#[allow(async_fn_in_trait)]
pub trait ProbeBook {
    /// The probe SES sent as `message_id` from `identity`, when one was recorded.
    async fn find(&self, identity: &str, message_id: &str) -> Result<Option<Probe>, StateError>;

    /// Records a probe just sent.
    async fn record(&self, probe: &Probe) -> Result<(), StateError>;

    /// Records a probe's arrival at `at` (Unix seconds) and the kinds of its findings.
    async fn arrived(
        &self,
        identity: &str,
        message_id: &str,
        at: u64,
        findings: &[Kind],
    ) -> Result<(), StateError>;

    /// Every probe recorded for `identity` and not yet expired.
    async fn probes(&self, identity: &str) -> Result<Vec<Probe>, StateError>;

    /// Marks a probe's absence as reported. `false`: another run reported it first.
    async fn report_missing(&self, identity: &str, message_id: &str) -> Result<bool, StateError>;
}

/// No probes: every received message is ordinary mail.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProbes;

impl ProbeBook for NoProbes {
    async fn find(&self, _: &str, _: &str) -> Result<Option<Probe>, StateError> {
        Ok(None)
    }
    async fn record(&self, _: &Probe) -> Result<(), StateError> {
        Ok(())
    }
    async fn arrived(&self, _: &str, _: &str, _: u64, _: &[Kind]) -> Result<(), StateError> {
        Ok(())
    }
    async fn probes(&self, _: &str) -> Result<Vec<Probe>, StateError> {
        Ok(Vec::new())
    }
    async fn report_missing(&self, _: &str, _: &str) -> Result<bool, StateError> {
        Ok(false)
    }
}

/// No table configured: no probes.
impl<B: ProbeBook> ProbeBook for Option<B> {
    async fn find(&self, identity: &str, message_id: &str) -> Result<Option<Probe>, StateError> {
        match self {
            Some(book) => book.find(identity, message_id).await,
            None => Ok(None),
        }
    }
    async fn record(&self, probe: &Probe) -> Result<(), StateError> {
        match self {
            Some(book) => book.record(probe).await,
            None => Ok(()),
        }
    }
    async fn arrived(
        &self,
        identity: &str,
        message_id: &str,
        at: u64,
        findings: &[Kind],
    ) -> Result<(), StateError> {
        match self {
            Some(book) => book.arrived(identity, message_id, at, findings).await,
            None => Ok(()),
        }
    }
    async fn probes(&self, identity: &str) -> Result<Vec<Probe>, StateError> {
        match self {
            Some(book) => book.probes(identity).await,
            None => Ok(Vec::new()),
        }
    }
    async fn report_missing(&self, identity: &str, message_id: &str) -> Result<bool, StateError> {
        match self {
            Some(book) => book.report_missing(identity, message_id).await,
            None => Ok(false),
        }
    }
}

/// Probes in memory: a probe file, or a test's table.
pub type MemoryProbes = InMemory<Vec<Probe>>;

impl MemoryProbes {
    /// A copy of every probe held.
    pub fn all(&self) -> Vec<Probe> {
        self.snapshot()
    }
}

fn is(probe: &Probe, identity: &str, message_id: &str) -> bool {
    probe.identity == identity && probe.message_id == message_id
}

impl ProbeBook for MemoryProbes {
    async fn find(&self, identity: &str, message_id: &str) -> Result<Option<Probe>, StateError> {
        self.with(|probes| probes.iter().find(|p| is(p, identity, message_id)).cloned())
    }

    async fn record(&self, probe: &Probe) -> Result<(), StateError> {
        self.with(|probes| probes.push(probe.clone()))
    }

    async fn arrived(
        &self,
        identity: &str,
        message_id: &str,
        at: u64,
        _findings: &[Kind],
    ) -> Result<(), StateError> {
        self.with(|probes| {
            for probe in probes.iter_mut().filter(|p| is(p, identity, message_id)) {
                probe.received.get_or_insert(at);
            }
        })
    }

    async fn probes(&self, identity: &str) -> Result<Vec<Probe>, StateError> {
        self.with(|probes| {
            probes
                .iter()
                .filter(|p| p.identity == identity)
                .cloned()
                .collect()
        })
    }

    async fn report_missing(&self, identity: &str, message_id: &str) -> Result<bool, StateError> {
        self.with(|probes| {
            probes
                .iter_mut()
                .find(|p| is(p, identity, message_id) && !p.reported_missing)
                .map(|p| p.reported_missing = true)
                .is_some()
        })
    }
}
