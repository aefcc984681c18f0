//! ses-dmarc-monitor: how mail sent through Amazon SES authenticates and aligns under DMARC.
//!
//! The Lambdas (`src/bin/receipt.rs`, `src/bin/feedback.rs`) and the CLI
//! (`src/bin/ses-dmarc-monitor.rs`) run the same path, [`pipeline::run`]: [`input`] recognizes
//! the event.
//!
//! - A received message: [`observation`] reads what the trusted `Authentication-Results`
//!   header ([`authres`]) and SES's verdicts ([`ses`]) say, a [`facts::FactSource`] gathers
//!   DMARC records and organizational domains (offline, or by the RFC 9989 tree walk in
//!   [`dns`]), and [`analyze`] decides alignment.
//! - A feedback notification ([`notification`]): [`feedback`] recognizes authentication
//!   rejections ([`classify`]) and, with the sending identity's state from an
//!   [`identity::IdentityDirectory`], its MAIL FROM health.
//!
//! Both emit [`findings`], which go to a [`sink::FindingSink`]. Everything but `dns`, the
//! ports' traits and the binaries is synchronous and free of AWS and network code.
//!
//! The AWS edge (`aws`, `handler`, `lambda` and the Lambda binaries) is behind the default
//! `aws` feature; without it the crate builds without the SDK, for the fuzz targets.

pub mod edge;
pub mod judge;
pub mod pipeline;
pub mod ports;
pub mod read;
pub mod say;
