//! ses-dmarc-monitor: how mail sent through Amazon SES authenticates and aligns under DMARC.
//!
//! This package is the core and the CLI (`src/bin/ses-dmarc-monitor/`); the Lambda functions
//! are the `lambda/` package, which adds the AWS adapters and the serving loop. The modules
//! are floors, and imports point down only:
//!
//! - [`read`]: what is read. [`read::input`] recognizes an event; [`read::receipt`] and
//!   [`read::notification`] model SES's payloads; [`read::authres`] parses
//!   `Authentication-Results`; [`read::observation`] extracts what one message says about its
//!   authentication; [`read::report`] reads receivers' reports.
//! - [`judge`]: what is judged, as typed values. [`judge::findings`] is the vocabulary;
//!   [`judge::align`] decides identifier alignment and the DMARC outcome;
//!   [`judge::received`] makes findings of a message's evaluation; [`judge::feedback`] says
//!   what a notification means; [`judge::posture`] checks an identity's set-up;
//!   [`judge::incident`] decides an incident's next message and what ends it.
//! - [`say`]: what is said, made from judge's values. [`say::explain`] words every finding
//!   once; [`say::alert`] composes alerts, [`say::metrics`] the EMF documents,
//!   [`say::calendar`] dates.
//! - [`ports`]: the traits the flows reach the outside through (DNS, SES identities, the
//!   state table, objects, where findings and alerts go, the clock), with in-memory fakes.
//! - [`flow`]: one story per function (analysis, receipt, feedback, reports, canary, audit,
//!   incidents, alerting), generic over ports.
//! - [`edge`]: the core's edges: DNS, the identity caches, configuration, clock and log.
//! - [`cli`]: what the CLI prints.
//!
//! `read`, `judge` and `say` are synchronous and free of AWS, network and clock. No module of
//! `read`, `judge`, `say` or `ports` names a flow, and `read`, `judge` and `ports` never
//! import `say`.

pub mod cli;
pub mod edge;
pub mod flow;
pub mod judge;
pub mod ports;
pub mod read;
pub mod say;
