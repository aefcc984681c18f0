//! The flows: each function's story, one module each, generic over the ports it reaches the
//! world through and free of AWS, so that every story is tested with fakes or local servers.
//!
//! [`analysis`] takes one input through the whole path (the CLI, the receipt and feedback
//! functions); [`receipt`] and [`feedback`] are those functions' invocations; [`reports`]
//! reads, judges and counts receivers' reports; [`canary`] sends probes and reports the
//! missing ones; [`audit`] checks every identity on a schedule; [`bulk`] gathers what the
//! evidence says of a domain's bulk-sender readiness; [`incidents`] keeps one
//! incident per problem in the state table; [`alerting`] decides which finding pages.
//!
//! A flow reads and judges through `read` and `judge`, words through `say`, and reaches
//! everything else through `ports`; none of those names a flow.

pub mod alerting;
pub mod analysis;
pub mod audit;
pub mod bulk;
pub mod canary;
pub mod digest;
pub mod feedback;
pub mod incidents;
pub mod receipt;
pub mod reports;
pub mod rollups;

/// A flow's failure as the Lambda runtime reports it: whether a retry helps (poison input is
/// acknowledged, a transient failure retried), and the error type the failure destination
/// records. The Lambda edge makes its diagnostic from this alone.
pub trait Failure: std::error::Error + 'static {
    /// Whether retrying the same event can succeed.
    fn is_transient(&self) -> bool;

    /// `PoisonEvent`, `AlertDeliveryFailed`, …: one word for the kind of failure.
    fn error_type(&self) -> &'static str;
}
