//! What the audit reads DNS through: the [`AuditDns`] port. The resolver behind it is
//! `edge::dns::DnsFacts`; tests answer from a table or a loopback name server.

use crate::judge::posture::{DnsView, Target};

/// The DNS answers the posture audit of one target needs, gathered without judging them.
#[allow(async_fn_in_trait)]
pub trait AuditDns {
    async fn audit_view(&self, target: &Target) -> DnsView;
}
