//! What is judged: the decisions, each a typed value, over what was read.
//!
//! [`policy`] discovers the DMARC policy in force (RFC 9989 tree walk, planned without I/O),
//! [`align`] decides identifier alignment and the DMARC outcome, [`received`] turns one
//! message's evaluation into findings, [`auth_rejection`] recognizes authentication rejections
//! in bounce texts, [`feedback`] says what a notification means, and [`posture`] checks an
//! identity's DNS set-up, [`canary`] judges the canary's probes against their identity's state, and [`incident`]
//! decides what an incident's next message is.
//! Pure: no I/O, no clock.

pub mod align;
pub mod auth_rejection;
pub mod canary;
pub mod dedup;
pub mod feedback;
pub mod findings;
pub mod incident;
pub mod policy;
pub mod posture;
pub mod received;
pub mod report;
pub mod reverify;
pub mod service;
