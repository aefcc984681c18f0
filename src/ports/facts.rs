//! Where the facts an analysis needs come from: the [`FactSource`] port, and its offline
//! implementation (records given with `--policy`, the public suffix list). The DNS
//! implementation is `edge::dns::DnsFacts`.

use crate::judge::align::KnownOrgDomains;
use crate::judge::policy::PolicyBook;
use crate::judge::received::{DomainFacts, OrgSource};
use crate::judge::reverify::Reverified;
use crate::read::observation::Observation;

/// Gathers what the pure analysis needs to know about an observation's domains.
#[allow(async_fn_in_trait)]
pub trait FactSource {
    fn org_source(&self) -> OrgSource;

    /// DMARC discovery for the From domains and organizational domains of the identifiers.
    /// Lookup failures are recorded in the observation's notes.
    async fn facts(&self, observation: &mut Observation) -> DomainFacts;

    /// Verifies an attached raw message again (DKIM, and SPF from the client IP and envelope
    /// the observation recorded) and says what it found; `judge::reverify` applies it.
    async fn reverify(&self, raw: &[u8], observation: &Observation) -> Reverified;
}

/// Offline facts: DMARC records from `--policy`, organizational domains from the public
/// suffix list.
#[derive(Debug, Clone, Default)]
pub struct OfflineFacts {
    pub book: PolicyBook,
}

impl FactSource for OfflineFacts {
    fn org_source(&self) -> OrgSource {
        OrgSource::PublicSuffixList
    }

    async fn facts(&self, observation: &mut Observation) -> DomainFacts {
        let policies = observation
            .header_from
            .iter()
            .map(|author| (author.clone(), self.book.discover(author)))
            // Offline, a domain without a supplied record is unknown, not unpublished.
            .filter(|(_, discovery)| discovery.record.is_some())
            .collect();
        DomainFacts {
            policies,
            orgs: KnownOrgDomains::default(),
            org_source: OrgSource::PublicSuffixList,
        }
    }

    async fn reverify(&self, _raw: &[u8], _observation: &Observation) -> Reverified {
        Reverified::NotAttempted
    }
}
