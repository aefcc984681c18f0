//! The Lambda edge: the handlers, generic over their ports ([`handler`] for the receipt,
//! feedback and audit functions, [`reports`] for the reports function, [`canary`] for the
//! canary); what each function builds once per cold start ([`wiring`]); and the loop the
//! functions share ([`serve`]).

pub mod canary;
pub mod handler;
pub mod reports;
pub mod serve;
pub mod wiring;
