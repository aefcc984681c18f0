//! What is said: every text made from the judge's values, once. [`explain`] words every
//! finding (its detail line, remedy, headline and evidence); [`alert`] composes what the
//! publisher sends; [`metrics`] the EMF documents; [`calendar`] dates and durations; [`rows`] the report rows the analytics
//! table reads; [`bulk`] bulk-sender readiness. Pure:
//! time arrives as an argument.

pub mod alert;
pub mod bulk;
pub mod calendar;
pub mod digest;
pub mod explain;
pub mod metrics;
pub mod rows;
