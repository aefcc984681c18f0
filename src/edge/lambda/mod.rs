//! The Lambda edge: the handlers, generic over their ports ([`handler`]); what each function
//! builds once per cold start ([`wiring`]); and the loop the receipt and feedback functions
//! share ([`serve`]).

pub mod handler;
pub mod serve;
pub mod wiring;
