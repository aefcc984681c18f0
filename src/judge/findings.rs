//! The findings vocabulary: the one output every path produces. A public contract (DESIGN.md):
//! a kind's name never changes meaning, and each kind has a default severity.
//!
//! A finding carries the facts it was judged on as values ([`Facts`]), not text: its kind and
//! severity follow from them here, and `say::explain` words them once, for the CLI, the alert
//! and the log alike.

use crate::judge::align::{Alignment, Evaluation};
use crate::judge::auth_rejection::AuthRejection;
use crate::judge::feedback::Happened;
use crate::judge::policy::Disposition;
use crate::read::authres::{Method, ResultKeyword};
use crate::read::identity_state::{
    CustomMailFrom, MailFromAttributes, MailFromStatus, MxFailureBehavior,
};
use crate::read::keyword::keyword_enum;
use crate::read::notification::IdentityArn;
use crate::read::observation::{EnvelopeSender, IdentifierCheck, SesVerdicts, Source};
use crate::read::report::tls::ResultType;
use crate::read::service_event::RecommendationType;
use std::sync::Arc;

keyword_enum! {
    /// What a finding is about: the names of the public vocabulary.
    pub enum Kind {
        MailFromFallback = "mail_from_fallback",
        MailFromStatus = "mail_from_status",
        DmarcFail = "dmarc_fail",
        SpfUnaligned = "spf_unaligned",
        DkimUnaligned = "dkim_unaligned",
        SpfFail = "spf_fail",
        DkimFail = "dkim_fail",
        StrictSpfAlignment = "strict_spf_alignment",
        NoDmarcPolicy = "no_dmarc_policy",
        AuthBounce = "auth_bounce",
        AuthComplaint = "auth_complaint",
        VerdictMismatch = "verdict_mismatch",
        DkimNotReverified = "dkim_not_reverified",
        DkimPartialBody = "dkim_partial_body",
        ForgedAuthResults = "forged_auth_results",
        HeadersTruncated = "headers_truncated",
        MailFromMxMissing = "mail_from_mx_missing",
        MailFromSpfMissing = "mail_from_spf_missing",
        DkimDnsMissing = "dkim_dns_missing",
        DkimNotSigning = "dkim_not_signing",
        SendingPaused = "sending_paused",
        SendingResumed = "sending_resumed",
        AdvisorRecommendation = "advisor_recommendation",
        AdvisorResolved = "advisor_resolved",
        ReportMailFromFallback = "report_mail_from_fallback",
        ReportDmarcFail = "report_dmarc_fail",
        ReportUnknownSource = "report_unknown_source",
        ReportUnauthenticated = "report_unauthenticated",
        TlsRptFailure = "tls_rpt_failure",
        ReportDestinationUnauthorized = "report_destination_unauthorized",
        CanaryMissing = "canary_missing",
        BulkRequirementFailed = "bulk_requirement_failed",
    }
}

keyword_enum! {
    /// How urgent a finding is; alerts go out at or above a configured one.
    #[derive(clap::ValueEnum)]
    pub enum Severity {
        Info = "info",
        Warning = "warning",
        Critical = "critical",
    }
}

/// The policy a DMARC failure is judged under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyBasis {
    /// The record found in DNS (or given with `--policy`).
    Published(Disposition),
    /// No record was looked up; SES's `dmarcPolicy` stands in.
    ReportedBySes(Disposition),
    Unknown,
}

impl PolicyBasis {
    pub fn disposition(self) -> Option<Disposition> {
        match self {
            Self::Published(d) | Self::ReportedBySes(d) => Some(d),
            Self::Unknown => None,
        }
    }
}

/// Whether a rejection ended delivery or only delayed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    Bounced,
    Delayed,
}

/// Who sent the mail a feedback finding is about, as the notification names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sending {
    pub identity: Option<IdentityArn>,
    pub configuration_set: Option<String>,
}

/// Who reported the DMARC verdict the recomputation disagrees with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    /// SES's `receipt.dmarcVerdict`.
    SesVerdict,
    /// The trusted `Authentication-Results` header's `dmarc=`.
    TrustedHeader,
}

/// What is wrong with a MAIL FROM domain's MX records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxProblem {
    Missing,
    /// None points at `feedback-smtp.<region>.amazonses.com`.
    Elsewhere(Vec<(u16, String)>),
    /// The right one, among others.
    Extra(Vec<(u16, String)>),
}

/// What is wrong with a MAIL FROM domain's SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpfProblem {
    Missing,
    Unparsable(String),
    NoAmazonSesInclude(String),
    /// RFC 7208 allows one record; more is a permerror.
    Several(usize),
}

/// The facts behind a finding, one variant per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    /// Mail left with an amazonses.com envelope sender although the identity has a custom one.
    MailFromFallback {
        envelope: EnvelopeSender,
        custom: CustomMailFrom,
    },
    /// SES does not report the identity's custom MAIL FROM domain as `SUCCESS`.
    MailFromStatus {
        identity: String,
        mail_from: String,
        status: MailFromStatus,
        behavior: Option<MxFailureBehavior>,
        region: Option<String>,
    },
    DmarcFail {
        header_from: String,
        policy: PolicyBasis,
    },
    SpfUnaligned {
        header_from: String,
        domain: Option<String>,
        aspf: Alignment,
    },
    DkimUnaligned {
        header_from: String,
        /// The domains of the passing, unaligned signatures.
        domains: Vec<Option<String>>,
        adkim: Alignment,
    },
    SpfFail {
        result: ResultKeyword,
        domain: Option<String>,
    },
    DkimFail {
        /// Each failed signature: its result and `d=`.
        failures: Vec<(ResultKeyword, Option<String>)>,
    },
    /// `aspf=s`: SES's MAIL FROM subdomain can never align.
    StrictSpfAlignment {
        domain: String,
        /// Where the record was found, when the walk said.
        record_at: Option<String>,
        mail_from: Option<String>,
    },
    NoDmarcPolicy {
        domain: String,
        /// Offline, SES's verdicts said so (no record was looked up).
        reported_by_ses: bool,
        /// And no identifier aligned either.
        nothing_aligns: bool,
    },
    AuthBounce {
        rejection: AuthRejection,
        how: Rejected,
        /// The recipients' domains (`None`: an address without one).
        recipient_domains: Vec<Option<String>>,
        sending: Sending,
        /// `d=` of the sender's own DKIM signatures, when the original headers were included.
        sender_dkim: Vec<String>,
    },
    AuthComplaint {
        recipient_domains: Vec<String>,
        sending: Sending,
    },
    /// Re-verifying the attached message found other results than the trusted server reported.
    ReverifiedMismatch {
        method: Method,
        verified: Vec<IdentifierCheck>,
        reported: Vec<IdentifierCheck>,
    },
    /// Re-verification: the verifier here refused to check a DKIM signature (a syntax or
    /// algorithm it does not accept). `kept` is the trusted server's pass, kept in its place.
    DkimNotReverified {
        domain: Option<String>,
        selector: Option<String>,
        reason: String,
        kept: Option<ResultKeyword>,
    },
    /// Re-verification: a passing DKIM signature signs only the first `signed` octets of a
    /// `body`-octet canonicalized body (`l=`).
    DkimPartialBody {
        domain: Option<String>,
        signed: u64,
        body: u64,
    },
    /// A reported DMARC verdict disagrees with the recomputed one.
    DmarcMismatch {
        reporter: Reporter,
        reported_pass: bool,
    },
    ForgedAuthResults {
        count: usize,
    },
    HeadersTruncated,
    MailFromMxMissing {
        mail_from: String,
        problem: MxProblem,
        behavior: Option<MxFailureBehavior>,
        region: String,
    },
    MailFromSpfMissing {
        mail_from: String,
        problem: SpfProblem,
    },
    DkimDnsMissing {
        domain: String,
        byodkim: bool,
        /// Each record missing or wrong, with what it points at instead.
        missing: Vec<String>,
        signing: bool,
    },
    DkimNotSigning {
        domain: String,
    },
    /// SES paused sending for the account, a tenant or a configuration set.
    SendingPaused {
        resource: Option<String>,
        cause: Option<String>,
        /// `AWS_MANAGED` (SES's enforcement) or `CUSTOMER_MANAGED`.
        origin: Option<String>,
    },
    SendingResumed {
        resource: Option<String>,
        status: Option<String>,
    },
    /// Virtual Deliverability Manager advises on DKIM, SPF or DMARC.
    AdvisorRecommendation {
        kind: RecommendationType,
        impact: Option<String>,
        description: Option<String>,
        resource: Option<String>,
    },
    AdvisorResolved {
        kind: RecommendationType,
        resource: Option<String>,
    },
    /// A receiver's aggregate report: messages with SES's own envelope domain while the
    /// identity has a custom MAIL FROM domain. `range`: the report's Unix seconds.
    ReportMailFromFallback {
        reporter: String,
        messages: u64,
        range: (Option<u64>, Option<u64>),
        custom: CustomMailFrom,
    },
    /// A receiver's aggregate report: messages sent through SES failed DMARC. `policy`: the
    /// published one, `None` when unknown or only tested (`t=y`).
    ReportDmarcFail {
        reporter: String,
        messages: u64,
        range: (Option<u64>, Option<u64>),
        policy: Option<Disposition>,
    },
    /// A receiver's aggregate report: a source other than SES sends as the domain and fails.
    ReportUnknownSource {
        reporter: String,
        source_ip: Option<String>,
        messages: u64,
    },
    /// A report that is not believed: its own mail did not pass DMARC, or passed it for
    /// `mailed_from`, which is not in the organization of the reporter it names.
    ReportUnauthenticated {
        reporter: String,
        messages: u64,
        mailed_from: Option<String>,
    },
    /// A `rua=` destination outside the policy domain has not agreed to take its reports: no
    /// TXT `v=DMARC1` at `record` (audit).
    ReportDestinationUnauthorized {
        destination: String,
        record: String,
    },
    /// A canary probe was not received within its deadline. `sent`: Unix seconds;
    /// `deadline`: seconds.
    CanaryMissing {
        identity: String,
        message_id: String,
        sent: u64,
        deadline: u64,
    },
    /// A bulk-sender requirement of Gmail, Yahoo or Microsoft the domain fails
    /// (`judge::bulk`): the requirement, the evidence and why.
    BulkRequirementFailed(crate::judge::bulk::Judgement),
    /// An SMTP TLS report with failed sessions; `failures`: result type and sessions.
    TlsRptFailure {
        reporter: String,
        failed: u64,
        successful: u64,
        failures: Vec<(ResultType, u64)>,
    },
}

impl Facts {
    pub fn kind(&self) -> Kind {
        match self {
            Self::MailFromFallback { .. } => Kind::MailFromFallback,
            Self::MailFromStatus { .. } => Kind::MailFromStatus,
            Self::DmarcFail { .. } => Kind::DmarcFail,
            Self::SpfUnaligned { .. } => Kind::SpfUnaligned,
            Self::DkimUnaligned { .. } => Kind::DkimUnaligned,
            Self::SpfFail { .. } => Kind::SpfFail,
            Self::DkimFail { .. } => Kind::DkimFail,
            Self::StrictSpfAlignment { .. } => Kind::StrictSpfAlignment,
            Self::NoDmarcPolicy { .. } => Kind::NoDmarcPolicy,
            Self::AuthBounce { .. } => Kind::AuthBounce,
            Self::AuthComplaint { .. } => Kind::AuthComplaint,
            Self::ReverifiedMismatch { .. } | Self::DmarcMismatch { .. } => Kind::VerdictMismatch,
            Self::DkimNotReverified { .. } => Kind::DkimNotReverified,
            Self::DkimPartialBody { .. } => Kind::DkimPartialBody,
            Self::ForgedAuthResults { .. } => Kind::ForgedAuthResults,
            Self::HeadersTruncated => Kind::HeadersTruncated,
            Self::MailFromMxMissing { .. } => Kind::MailFromMxMissing,
            Self::MailFromSpfMissing { .. } => Kind::MailFromSpfMissing,
            Self::DkimDnsMissing { .. } => Kind::DkimDnsMissing,
            Self::DkimNotSigning { .. } => Kind::DkimNotSigning,
            Self::SendingPaused { .. } => Kind::SendingPaused,
            Self::SendingResumed { .. } => Kind::SendingResumed,
            Self::AdvisorRecommendation { .. } => Kind::AdvisorRecommendation,
            Self::AdvisorResolved { .. } => Kind::AdvisorResolved,
            Self::ReportMailFromFallback { .. } => Kind::ReportMailFromFallback,
            Self::ReportDmarcFail { .. } => Kind::ReportDmarcFail,
            Self::ReportUnknownSource { .. } => Kind::ReportUnknownSource,
            Self::ReportUnauthenticated { .. } => Kind::ReportUnauthenticated,
            Self::TlsRptFailure { .. } => Kind::TlsRptFailure,
            Self::ReportDestinationUnauthorized { .. } => Kind::ReportDestinationUnauthorized,
            Self::CanaryMissing { .. } => Kind::CanaryMissing,
            Self::BulkRequirementFailed(_) => Kind::BulkRequirementFailed,
        }
    }

    /// About the account as a whole, not a domain: always in the monitored scope.
    pub fn concerns_the_account(&self) -> bool {
        matches!(
            self,
            Self::SendingPaused { .. } | Self::SendingResumed { .. }
        )
    }

    /// The receiver whose believed report these facts come from (a report kind's).
    pub fn reporter(&self) -> Option<&str> {
        match self {
            Self::ReportMailFromFallback { reporter, .. }
            | Self::ReportDmarcFail { reporter, .. }
            | Self::ReportUnknownSource { reporter, .. }
            | Self::TlsRptFailure { reporter, .. } => Some(reporter),
            _ => None,
        }
    }

    /// What tells one incident from another of the same kind about the same domain: VDM's
    /// recommendation type, or the resource SES paused (the account, a configuration set, a
    /// tenant), the bulk-sender requirement. A recovery names the same subject as the
    /// incident it ends.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::BulkRequirementFailed(judgement) => Some(judgement.requirement.as_str()),
            Self::AdvisorRecommendation { kind, .. } | Self::AdvisorResolved { kind, .. } => {
                Some(kind.as_str())
            }
            Self::SendingPaused { resource, .. } | Self::SendingResumed { resource, .. } => {
                resource.as_deref()
            }
            _ => None,
        }
    }

    /// DESIGN.md's default severity, and the cases where the facts raise or lower it.
    pub fn severity(&self) -> Severity {
        match self {
            Self::DmarcFail { policy, .. } => match policy.disposition() {
                Some(Disposition::Reject | Disposition::Quarantine) => Severity::Critical,
                _ => Severity::Warning,
            },
            Self::ReportDmarcFail { policy, .. } => match policy {
                Some(Disposition::Reject | Disposition::Quarantine) => Severity::Critical,
                _ => Severity::Warning,
            },
            // The right MX beside others may still work; a wrong or missing one does not.
            Self::MailFromMxMissing {
                problem: MxProblem::Extra(_),
                ..
            } => Severity::Warning,
            // Broken DKIM records only bite when SES signs with them.
            Self::DkimDnsMissing { signing: false, .. } => Severity::Warning,
            // Critical where the providers reject the mail.
            Self::BulkRequirementFailed(judgement) => judgement.requirement.severity(),
            _ => self.kind().default_severity(),
        }
    }
}

impl Kind {
    /// DESIGN.md's default severity.
    pub fn default_severity(self) -> Severity {
        match self {
            Self::MailFromFallback
            | Self::MailFromStatus
            | Self::DmarcFail
            | Self::MailFromMxMissing
            | Self::DkimDnsMissing
            | Self::SendingPaused
            | Self::ReportMailFromFallback
            | Self::ReportDmarcFail
            | Self::CanaryMissing => Severity::Critical,
            Self::SpfUnaligned
            | Self::DkimUnaligned
            | Self::StrictSpfAlignment
            | Self::NoDmarcPolicy
            | Self::AuthBounce
            | Self::AuthComplaint
            | Self::ForgedAuthResults
            | Self::MailFromSpfMissing
            | Self::DkimNotSigning
            | Self::AdvisorRecommendation
            | Self::ReportUnknownSource
            | Self::ReportUnauthenticated
            | Self::TlsRptFailure
            | Self::ReportDestinationUnauthorized
            | Self::BulkRequirementFailed => Severity::Warning,
            Self::SpfFail
            | Self::DkimFail
            | Self::VerdictMismatch
            | Self::DkimNotReverified
            | Self::DkimPartialBody
            | Self::HeadersTruncated
            | Self::SendingResumed
            | Self::AdvisorResolved => Severity::Info,
        }
    }
}

/// What was observed around a finding, for the alert's evidence section. Shared by the
/// findings of one evaluation or notification: built once, not copied per finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// A received message, for one of its From domains.
    Received {
        evaluation: Arc<Evaluation>,
        envelope: Option<EnvelopeSender>,
        ses: Option<SesVerdicts>,
        custom: Option<CustomMailFrom>,
    },
    /// A feedback notification.
    Feedback {
        /// The event type as AWS names it, and what happened.
        event: String,
        happened: Happened,
        sending: Sending,
        /// The identity whose MAIL FROM state governs the sender, and that state.
        governing: Option<(String, MailFromAttributes)>,
    },
}

/// One finding: the facts, what they are about, and where they were seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub facts: Facts,
    /// The From (or identity) domain the finding is about; `None` when no input named one.
    pub domain: Option<String>,
    pub message_id: Option<String>,
    pub source: Source,
    pub evidence: Option<Arc<Evidence>>,
}

impl Finding {
    pub fn new(facts: Facts, domain: Option<&str>, source: Source) -> Self {
        Self {
            facts,
            domain: domain.map(str::to_owned),
            message_id: None,
            source,
            evidence: None,
        }
    }

    /// Names the message the finding is about.
    pub fn about(mut self, message_id: Option<&str>) -> Self {
        self.message_id = message_id.map(str::to_owned);
        self
    }

    /// Attaches what was observed around it.
    pub fn with_evidence(mut self, evidence: &Arc<Evidence>) -> Self {
        self.evidence = Some(Arc::clone(evidence));
        self
    }

    pub fn kind(&self) -> Kind {
        self.facts.kind()
    }

    pub fn severity(&self) -> Severity {
        self.facts.severity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mx(problem: MxProblem) -> Facts {
        Facts::MailFromMxMissing {
            mail_from: "mail.example.com".into(),
            problem,
            behavior: None,
            region: "us-east-1".into(),
        }
    }

    fn dmarc_fail(policy: PolicyBasis) -> Facts {
        Facts::DmarcFail {
            header_from: "example.com".into(),
            policy,
        }
    }

    fn dkim_dns(signing: bool) -> Facts {
        Facts::DkimDnsMissing {
            domain: "example.com".into(),
            byodkim: false,
            missing: vec!["a._domainkey.example.com".into()],
            signing,
        }
    }

    #[test]
    fn severity_follows_the_facts() {
        let cases = [
            // An enforcing policy makes a DMARC failure critical, whoever reported it.
            (
                dmarc_fail(PolicyBasis::Published(Disposition::Reject)),
                Severity::Critical,
            ),
            (
                dmarc_fail(PolicyBasis::ReportedBySes(Disposition::Quarantine)),
                Severity::Critical,
            ),
            // Monitoring only, or unknown: receivers deliver, so a warning.
            (
                dmarc_fail(PolicyBasis::Published(Disposition::None)),
                Severity::Warning,
            ),
            (dmarc_fail(PolicyBasis::Unknown), Severity::Warning),
            // No MX, or one pointing elsewhere: SES falls back or refuses.
            (mx(MxProblem::Missing), Severity::Critical),
            (
                mx(MxProblem::Elsewhere(vec![(10, "mx.example.net".into())])),
                Severity::Critical,
            ),
            // The right MX among others.
            (
                mx(MxProblem::Extra(vec![(10, "a".into()), (20, "b".into())])),
                Severity::Warning,
            ),
            // DKIM records missing while SES signs with them: DKIM stops passing.
            (dkim_dns(true), Severity::Critical),
            (dkim_dns(false), Severity::Warning),
            // Defaults.
            (Facts::HeadersTruncated, Severity::Info),
            // A verifier's refusal never pages, whatever SES said of the signature.
            (
                Facts::DkimNotReverified {
                    domain: Some("example.com".into()),
                    selector: None,
                    reason: "Unsupported algorithm in DKIM Signature".into(),
                    kept: None,
                },
                Severity::Info,
            ),
            (
                Facts::DkimPartialBody {
                    domain: Some("example.com".into()),
                    signed: 20,
                    body: 45,
                },
                Severity::Info,
            ),
            (Facts::ForgedAuthResults { count: 2 }, Severity::Warning),
        ];
        for (facts, expected) in cases {
            assert_eq!(facts.severity(), expected, "{facts:?}");
        }
    }

    #[test]
    fn both_mismatches_are_verdict_mismatch() {
        let dmarc = Facts::DmarcMismatch {
            reporter: Reporter::SesVerdict,
            reported_pass: true,
        };
        let reverified = Facts::ReverifiedMismatch {
            method: Method::Dkim,
            verified: vec![],
            reported: vec![],
        };
        assert_eq!(dmarc.kind(), Kind::VerdictMismatch);
        assert_eq!(reverified.kind(), Kind::VerdictMismatch);
        assert_eq!(Kind::VerdictMismatch.as_str(), "verdict_mismatch");
    }
}
