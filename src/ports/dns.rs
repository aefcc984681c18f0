//! What the audit (and bulk-sender readiness) reads DNS through: the [`AuditDns`] port. The resolver behind it is
//! `edge::dns::DnsFacts`; tests answer from a table or a loopback name server.

use crate::judge::bulk::SendingAddress;
use crate::judge::posture::{DnsView, Target};
use std::net::IpAddr;

/// The DNS answers the posture audit of one target needs, gathered without judging them.
#[allow(async_fn_in_trait)]
pub trait AuditDns {
    async fn audit_view(&self, target: &Target) -> DnsView;

    /// A sending address's reverse DNS, confirmed forward (bulk-sender readiness' `ptr`).
    /// Without a resolver nothing is known of it.
    async fn sending_address(&self, ip: IpAddr) -> SendingAddress {
        SendingAddress::unconfirmed(ip)
    }
}
