//! The edges: the only modules that touch the network, the clock or the environment. DNS
//! through `mail-auth`'s resolver, AWS through the SDK, the Lambda handlers, and the
//! configuration read at cold start.

#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod dns;
pub mod identity_cache;
#[cfg(feature = "aws")]
pub mod lambda;
