//! The edges of the core: the modules that touch the network, the clock or the environment.
//! DNS through `mail-auth`'s resolver ([`dns`]), the caches SESv2's limits demand
//! ([`identity_cache`]), the configuration read at cold start ([`config`]), the system clock
//! and the log. The AWS adapters and the Lambda serving loop are the `lambda/` package's.

pub mod clock;
pub mod config;
pub mod dns;
pub mod identity_cache;
pub mod log;
