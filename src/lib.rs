//! ses-dmarc-monitor: how mail sent through Amazon SES authenticates and aligns under DMARC.
//!
//! The receipt and feedback Lambdas (`src/bin/receipt.rs`, `feedback.rs`) and the CLI
//! (`src/bin/ses-dmarc-monitor/`) run the same path, [`pipeline::run`]; the reports, audit and
//! canary Lambdas (`reports.rs`, `audit.rs`, `canary.rs`) theirs beside it. The modules are
//! grouped by what they do, and the folders say it:
//!
//! - [`read`]: what is read. [`read::input`] recognizes an event; [`read::receipt`] and
//!   [`read::notification`] model SES's payloads; [`read::authres`] parses
//!   `Authentication-Results`; [`read::observation`] extracts what one message says about its
//!   authentication.
//! - [`judge`]: what is judged, as typed values. [`judge::align`] decides identifier alignment
//!   and the DMARC outcome; [`judge::received`] makes findings of a message's evaluation;
//!   [`judge::auth_rejection`] recognizes authentication rejections in bounces;
//!   [`judge::feedback`] says what a notification means; [`judge::posture`] checks an
//!   identity's DNS set-up; [`judge::policy`] discovers the DMARC policy in force.
//! - [`say`]: what is said. [`say::findings`] is the vocabulary; [`say::explain`] words every
//!   finding once; [`say::alert`], [`say::dedup`], [`say::report`] and [`say::metrics`] turn
//!   findings into alerts, CLI output and EMF documents.
//! - [`reports`] joins `read::report`, `judge::report` and `say::report_summary` for
//!   receivers' DMARC aggregate and SMTP TLS reports, as [`pipeline`] does for SES's events.
//! - [`incidents`] joins `judge::incident` and the state table: one page per incident across
//!   every container, a reminder while it lasts, a "resolved" when evidence ends it.
//! - [`ports`]: the traits the core reaches the outside through (DNS facts, SES identities,
//!   the monitored scope, where findings go), with their offline implementations.
//! - [`edge`]: everything that touches the network, the clock or the environment: DNS,
//!   the AWS clients, the caches SESv2's limits demand, the Lambda handlers and configuration.
//!
//! `read`, `judge` and `say` are synchronous and free of AWS, network and clock. The AWS edge
//! (`edge::aws`, `edge::lambda` and the Lambda binaries) is behind the default `aws` feature;
//! without it the crate builds without the SDK, for the CLI and the fuzz targets.

pub mod edge;
pub mod incidents;
pub mod judge;
pub mod pipeline;
pub mod ports;
pub mod read;
pub mod reports;
pub mod say;
