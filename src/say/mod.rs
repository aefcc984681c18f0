//! What is said: the findings vocabulary and every text made from it.
//!
//! [`findings`] is the public contract (kinds, severities, and the facts each finding
//! carries); [`report`] prints outcomes for the CLI, [`alert`] composes what SNS sends and
//! [`metrics`] the EMF documents; [`explain`] words every finding, and [`dedup`] decides
//! which become alerts. Pure: time arrives as an argument.

pub mod alert;
pub mod dedup;
pub mod explain;
pub mod findings;
pub mod metrics;
pub mod report;
pub mod report_summary;
