//! What is read: the shapes inputs arrive in, and what a message says about itself.
//!
//! Parsing only, no judgement: [`input`] recognizes an event (over the one pass of
//! `document`), [`receipt`] and [`notification`] model SES's payloads, [`identity_state`]
//! SESv2's description of an identity, [`authres`] parses `Authentication-Results`,
//! [`observation`] extracts the trusted results and identifiers of one message, [`domain`]
//! normalizes the names and addresses everything else compares, [`report`] reads receivers'
//! reports and [`stored_object`] the S3 events that announce them; [`text`] makes a
//! stranger's text safe to carry.

pub mod authres;
pub(crate) mod document;
pub mod domain;
pub mod identity_state;
pub mod input;
pub mod keyword;
pub mod notification;
pub mod observation;
pub mod probe;
pub mod receipt;
pub mod report;
pub mod service_event;
pub mod stored_object;
pub mod text;
