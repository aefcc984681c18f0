//! What is judged: the decisions, each a typed value, over what was read.
//!
//! [`findings`] is the vocabulary every decision ends in (kinds, severities, the facts each
//! finding carries: a public contract). [`policy`] discovers the DMARC policy in force
//! (RFC 9989 tree walk, planned without I/O), [`align`] decides identifier alignment and the
//! DMARC outcome, [`received`] turns one message's evaluation into findings, [`reverify`]
//! says what re-verifying an attached message changes, [`auth_rejection`] recognizes
//! authentication rejections in bounce texts, [`feedback`] says what a notification means,
//! [`service`] what an SES service event means, [`posture`] checks an identity's set-up,
//! [`bulk`] judges it against the mailbox providers' bulk-sender requirements,
//! [`report`] what a receiver's report says, [`canary`] judges the canary's probes, and
//! [`incident`] decides what an incident's next message is and what ends it, [`cause`] which
//! finding is a consequence of which (one cause, one page); [`dedup`]
//! decides which findings page when there is no state table.
//! Pure: no I/O, no clock. Words are made one floor up, in `say`.

pub mod align;
pub mod auth_rejection;
pub mod bulk;
pub mod canary;
pub mod cause;
pub mod dedup;
pub mod digest;
pub mod feedback;
pub mod findings;
pub mod incident;
pub mod policy;
pub mod posture;
pub mod received;
pub mod report;
pub mod reverify;
pub mod service;
pub mod source;
