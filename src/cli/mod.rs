//! What the CLI prints: [`print`] for SES's events and the audit's checks (a readable report
//! per message, or one JSON object per finding per line), [`print_reports`] for receivers'
//! reports. The commands themselves are in `src/bin/ses-dmarc-monitor/`; the words of a
//! finding are `say::explain`'s.

pub mod print;
pub mod print_reports;
