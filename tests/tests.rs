//! The integration tests: one binary, a module per topic (as ripgrep keeps them), so the
//! crate links once. Test data lives beside `events/`: `fixtures/` (reports, identity and probe states, text goldens); the
//! shared real-world vectors are read from `../shared/vectors` when present.

mod alerting;
mod architecture;
mod audit_dns;
mod aws_edges;
mod canary;
mod cli;
mod common;
mod digest;
mod dns_tree_walk;
mod docs;
mod golden;
mod hostile;
mod metrics;
mod props;
mod receipt_flow;
mod report_rows;
mod reports;
mod reports_flow;
mod reverify;
mod state_table;
mod template;
mod vectors;
