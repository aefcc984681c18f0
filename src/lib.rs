//! ses-dmarc-monitor: how mail sent through Amazon SES authenticates and aligns under DMARC.
//!
//! The receipt Lambda (`src/bin/receipt.rs`) and the CLI (`src/bin/ses-dmarc-monitor.rs`) run the
//! same path, [`pipeline::run`]: [`input`] recognizes the event, [`observation`] reads what the
//! trusted `Authentication-Results` header ([`authres`]) and SES's verdicts ([`ses`]) say, a
//! [`facts::FactSource`] gathers DMARC records and organizational domains (offline, or by the
//! RFC 9989 tree walk in [`dns`]), and [`analyze`] decides alignment and emits [`findings`],
//! which go to a [`sink::FindingSink`]. Everything but `dns`, `facts`' trait and the binaries
//! is synchronous and free of AWS and network code.

pub mod analyze;
pub mod authres;
pub mod dns;
pub mod domain;
pub mod facts;
pub mod findings;
pub mod input;
pub mod observation;
pub mod pipeline;
pub mod policy;
pub mod receipt;
pub mod report;
pub mod ses;
pub mod sink;
