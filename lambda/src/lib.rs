//! The Lambda functions of ses-dmarc-monitor: the AWS adapters behind the core's ports
//! ([`aws`]: SESv2, SNS, S3, DynamoDB), what each function builds once per cold start
//! ([`wiring`]), the loop every function shares ([`serve`]), and the one conversion of a
//! flow's failure into the runtime's diagnostic ([`diagnostic`]). No decision is made here:
//! each function's story is a flow of the core (`ses_dmarc_monitor::flow`).

pub mod aws;
pub mod diagnostic;
pub mod serve;
pub mod wiring;
