//! The Lambda edge: the handlers, generic over their ports, and the wiring each function
//! builds once per cold start.

pub mod handler;
pub mod wiring;
