//! How the CLI prints outcomes: a readable report grouped per message, or one JSON object
//! per finding per line (the contract in the README).

use crate::flow::analysis::RecordOutcome;
use crate::judge::align::{DmarcOutcome, Evaluation, IdentifierResult};
use crate::judge::cause::{self, Role};
use crate::judge::findings::{Finding, Severity};
use crate::judge::posture::{AuditOutcome, Verdict};
use crate::judge::received::OrgSource;
use crate::read::observation::{Observation, Reverification};
use crate::read::service_event::ServiceEvent;
use crate::say::explain::Detail as _;
use crate::say::explain::{self, describe_identifier};
use serde::Serialize;
use std::fmt::Write as _;

/// One finding in `--format json`.
#[derive(Debug, Serialize)]
pub struct JsonFinding<'a> {
    pub input: &'a str,
    pub record: usize,
    pub kind: &'static str,
    pub severity: &'static str,
    /// Empty when no input named a domain.
    pub domain: &'a str,
    pub message_id: Option<&'a str>,
    pub detail: String,
    /// The kinds of the findings this one follows from (`judge::cause`): it pages only
    /// through them. Absent when it stands on its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consequence_of: Vec<&'static str>,
}

impl<'a> JsonFinding<'a> {
    pub fn new(input: &'a str, record: usize, finding: &'a Finding) -> Self {
        Self {
            input,
            record,
            kind: finding.kind().as_str(),
            severity: finding.severity().as_str(),
            domain: finding.domain.as_deref().unwrap_or(""),
            message_id: finding.message_id.as_deref(),
            detail: finding.detail(),
            consequence_of: Vec::new(),
        }
    }

    /// Every finding of one record, each consequence naming its causes.
    pub fn all(input: &'a str, record: usize, findings: &'a [Finding]) -> Vec<Self> {
        let roles = cause::relate(findings);
        findings
            .iter()
            .zip(roles)
            .map(|(finding, role)| {
                let mut json = Self::new(input, record, finding);
                if let Role::Consequence { of } = role {
                    json.consequence_of = of.iter().map(|i| findings[*i].kind().as_str()).collect();
                }
                json
            })
            .collect()
    }
}

/// Counts for the closing summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub inputs: usize,
    pub unreadable: usize,
    pub analyzed: usize,
    pub feedback: usize,
    pub service: usize,
    /// Receivers' reports (DMARC aggregate, SMTP TLS).
    pub reports: usize,
    pub skipped: usize,
    pub failed: usize,
    pub critical: usize,
    pub warning: usize,
    pub info: usize,
    pub offline: bool,
}

impl Tally {
    pub fn count(&mut self, outcome: &RecordOutcome) {
        match outcome {
            RecordOutcome::Analyzed { org_source, .. } => {
                self.analyzed += 1;
                self.offline |= *org_source == OrgSource::PublicSuffixList;
            }
            RecordOutcome::Feedback { .. } => self.feedback += 1,
            RecordOutcome::Service { .. } => self.service += 1,
            RecordOutcome::Skipped { .. } | RecordOutcome::NotAProbe { .. } => self.skipped += 1,
            RecordOutcome::Failed(_) => self.failed += 1,
        }
        self.count_findings(outcome.findings());
    }

    /// One receiver's report and its findings.
    pub fn count_report(&mut self, findings: &[Finding]) {
        self.reports += 1;
        self.count_findings(findings);
    }

    fn count_findings(&mut self, findings: &[Finding]) {
        for finding in findings {
            match finding.severity() {
                Severity::Critical => self.critical += 1,
                Severity::Warning => self.warning += 1,
                Severity::Info => self.info += 1,
            }
        }
    }

    pub fn summary(&self) -> String {
        let service = if self.service > 0 {
            format!(", {} SES service event(s)", self.service)
        } else {
            String::new()
        };
        let reports = if self.reports > 0 {
            format!(", {} receiver report(s)", self.reports)
        } else {
            String::new()
        };
        let mut line = format!(
            "Summary: {} input(s), {} message(s) analyzed, {} feedback notification(s){service}{reports}, {} skipped, {} unreadable; findings: {} critical, {} warning, {} info.",
            self.inputs,
            self.analyzed,
            self.feedback,
            self.skipped,
            self.unreadable + self.failed,
            self.critical,
            self.warning,
            self.info
        );
        if self.offline {
            line.push_str(" Offline: organizational domains from the public suffix list, DMARC records only as given with --policy (use --dns to look them up).");
        }
        line
    }
}

/// The readable report for one record.
pub fn text(input: &str, record: usize, outcome: &RecordOutcome) -> String {
    let mut out = String::new();
    match outcome {
        RecordOutcome::Analyzed {
            observation,
            analysis,
            probe,
            ..
        } => {
            let _ = writeln!(
                out,
                "{input} [record {record}] {} message {}",
                observation.source.as_str(),
                observation.message_id.as_deref().unwrap_or("(no id)")
            );
            if let Some(arrival) = probe {
                let _ = writeln!(
                    out,
                    "  canary probe {} sent from {} at {}{}",
                    arrival.probe.message_id,
                    arrival.probe.identity,
                    crate::say::calendar::utc_time(arrival.probe.sent),
                    arrival
                        .latency()
                        .map(|s| format!(", received {s} s later"))
                        .unwrap_or_default()
                );
            }
            write_observation(&mut out, observation);
            for evaluation in &analysis.evaluations {
                write_evaluation(&mut out, evaluation);
            }
            // "ok" only where something was judged: a message without a From domain has no
            // evaluation, and its note says alignment cannot be judged; attached content not
            // verified again was not checked.
            if analysis.findings.is_empty()
                && observation.trusted_results
                && !analysis.evaluations.is_empty()
            {
                out.push_str(match observation.reverification {
                    Reverification::NotDone(_) => {
                        "  nothing to report in the trusted server's results (not re-verified)\n"
                    }
                    _ => "  ok: aligned, nothing to report\n",
                });
            }
            write_findings(&mut out, &analysis.findings);
            for note in &observation.notes {
                let _ = writeln!(out, "  note: {note}");
            }
        }
        RecordOutcome::Feedback { summary, findings } => {
            let _ = writeln!(
                out,
                "{input} [record {record}] {} {} message {}",
                summary.form_source().as_str(),
                summary.event,
                summary.message_id.as_deref().unwrap_or("(no id)")
            );
            let _ = writeln!(out, "  {}", explain::happened(&summary.happened));
            let from = if summary.from_domains.is_empty() {
                "(none)".to_owned()
            } else {
                summary.from_domains.join(", ")
            };
            let mut line = format!("  From domain: {from}");
            if let Some(arn) = &summary.identity {
                let _ = write!(line, "; {}", explain::sending_identity(arn));
            }
            if let Some(set) = &summary.configuration_set {
                let _ = write!(line, "; configuration set {set}");
            }
            let _ = writeln!(out, "{line}");
            if !summary.sender_dkim_domains.is_empty() {
                let _ = writeln!(
                    out,
                    "  the sender's own DKIM signature(s): d={}",
                    summary.sender_dkim_domains.join(", d=")
                );
            }
            write_findings(&mut out, findings);
            for value in &summary.unknown_values {
                let _ = writeln!(out, "  note: a value this version does not know: {value}");
            }
            for note in &summary.notes {
                let _ = writeln!(out, "  note: {note}");
            }
        }
        RecordOutcome::Service { event, findings } => {
            let _ = writeln!(
                out,
                "{input} [record {record}] SES service event: {}",
                describe_service_event(event)
            );
            write_findings(&mut out, findings);
        }
        RecordOutcome::Skipped { reason } => {
            let _ = writeln!(out, "{input} [record {record}] skipped: {reason}");
        }
        RecordOutcome::NotAProbe {
            header_from,
            message_id,
        } => {
            let _ = writeln!(
                out,
                "{input} [record {record}] skipped: mail to the canary address from {} (message {}) is not a recorded probe",
                if header_from.is_empty() {
                    "no From domain".to_owned()
                } else {
                    header_from.join(", ")
                },
                message_id.as_deref().unwrap_or("(no id)")
            );
        }
        RecordOutcome::Failed(error) => {
            let _ = writeln!(out, "{input} [record {record}] error: {}", error.reason());
        }
    }
    out
}

/// One line about a service event, for the report.
fn describe_service_event(event: &ServiceEvent) -> String {
    match event {
        ServiceEvent::SendingStatus {
            enabled, resource, ..
        } => format!(
            "sending {} for {}",
            if *enabled { "resumed" } else { "paused" },
            resource.as_deref().unwrap_or("the account")
        ),
        ServiceEvent::Advisor {
            open, kind, impact, ..
        } => format!(
            "advisor recommendation {} ({}{})",
            if *open { "opened" } else { "resolved" },
            kind.as_ref().map_or("no type", |k| k.as_str()),
            impact
                .as_deref()
                .map(|i| format!(", impact {i}"))
                .unwrap_or_default()
        ),
    }
}

/// One line per finding, marked by severity: the CLI's reports of records and of receivers'
/// reports alike.
/// Every finding, each consequence under the first cause it follows from (`judge::cause`):
/// all are listed, and the reader sees which one pages.
pub fn write_findings(out: &mut String, findings: &[Finding]) {
    let roles = cause::relate(findings);
    let line = |out: &mut String, finding: &Finding, indent: &str| {
        let severity = finding.severity();
        let marker = match severity {
            Severity::Critical => "!!",
            Severity::Warning => " !",
            Severity::Info => " -",
        };
        let _ = writeln!(
            out,
            "{indent}{marker} {severity} {}: {}",
            finding.kind(),
            finding.detail()
        );
    };
    for (index, finding) in findings.iter().enumerate() {
        if roles[index] != Role::Cause {
            continue;
        }
        line(out, finding, "  ");
        for (other, role) in roles.iter().enumerate() {
            let Role::Consequence { of } = role else {
                continue;
            };
            if of.first() == Some(&index) {
                let causes: Vec<&str> = of.iter().map(|i| findings[*i].kind().as_str()).collect();
                let _ = writeln!(out, "      a consequence of {}:", causes.join(" and "));
                line(out, &findings[other], "      ");
            }
        }
    }
}

fn write_observation(out: &mut String, observation: &Observation) {
    let from = if observation.header_from.is_empty() {
        "(none)".to_owned()
    } else {
        observation.header_from.join(", ")
    };
    let envelope = observation.mail_from.as_ref().map_or_else(
        || "(unknown)".to_owned(),
        |m| format!("{} (from {})", m.domain, m.origin.as_str()),
    );
    let _ = writeln!(
        out,
        "  From domain: {from}; envelope sender domain: {envelope}"
    );
    if !observation.trusted_results {
        out.push_str(
            "  no Authentication-Results from a trusted authserv-id: nothing to recompute\n",
        );
    }
    if let Some(line) = explain::reverification(&observation.reverification) {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(ses) = &observation.ses {
        let _ = writeln!(
            out,
            "  SES verdicts: {}{}",
            explain::ses_verdicts(ses),
            ses.dmarc_policy
                .as_ref()
                .map(|p| format!(" (dmarcPolicy {})", p.as_str()))
                .unwrap_or_default()
        );
    }
}

fn write_evaluation(out: &mut String, evaluation: &Evaluation) {
    // Capitals: in the report, the unaligned pass is what the reader looks for.
    let describe = |r: &IdentifierResult| describe_identifier(r, "NOT aligned");
    let from = &evaluation.header_from;
    let policy = explain::policy_line(&evaluation.policy);
    let _ = writeln!(out, "  {from}: {policy}");
    let spf = evaluation.spf.as_ref().map_or("-".to_owned(), describe);
    let _ = writeln!(out, "    SPF:  {spf}");
    let dkim: Vec<String> = evaluation.dkim.iter().map(describe).collect();
    let _ = writeln!(
        out,
        "    DKIM: {}",
        if dkim.is_empty() {
            "-".to_owned()
        } else {
            dkim.join("; ")
        }
    );
    let dmarc = match evaluation.dmarc {
        DmarcOutcome::Pass(_) => "pass (an aligned identifier passed)",
        DmarcOutcome::Fail(_) => "FAIL (no aligned identifier passed)",
        DmarcOutcome::NoPolicy { would_pass: true } => {
            "no verdict, no DMARC record (an aligned identifier passed: it will pass once one is published)"
        }
        DmarcOutcome::NoPolicy { would_pass: false } => {
            "no verdict, no DMARC record (no aligned identifier passed: it will FAIL once one is published)"
        }
        DmarcOutcome::Unknown => "unknown",
    };
    let _ = writeln!(out, "    DMARC (recomputed): {dmarc}");
}

/// The readable report of one audited domain: each check, then the findings.
pub fn audit_text(report: &AuditOutcome) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} (identity {})", report.domain, report.identity);
    for check in &report.checks {
        let mark = match check.verdict {
            Verdict::Pass => "ok  ",
            Verdict::Fail => "FAIL",
            Verdict::NotApplicable | Verdict::Unjudged => "--  ",
        };
        let observed = explain::observed(&check.observed);
        let _ = writeln!(out, "  {mark} {}: {observed}", check.check);
    }
    write_findings(&mut out, &report.findings);
    out
}
