//! The findings vocabulary: the one output every path produces. A public contract (DESIGN.md):
//! a kind's name never changes meaning, and each kind has a default severity.

use crate::read::observation::Source;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    MailFromFallback,
    MailFromStatus,
    DmarcFail,
    SpfUnaligned,
    DkimUnaligned,
    SpfFail,
    DkimFail,
    StrictSpfAlignment,
    NoDmarcPolicy,
    AuthBounce,
    AuthComplaint,
    VerdictMismatch,
    ForgedAuthResults,
    HeadersTruncated,
    MailFromMxMissing,
    MailFromSpfMissing,
    DkimDnsMissing,
    DkimNotSigning,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MailFromFallback => "mail_from_fallback",
            Self::MailFromStatus => "mail_from_status",
            Self::DmarcFail => "dmarc_fail",
            Self::SpfUnaligned => "spf_unaligned",
            Self::DkimUnaligned => "dkim_unaligned",
            Self::SpfFail => "spf_fail",
            Self::DkimFail => "dkim_fail",
            Self::StrictSpfAlignment => "strict_spf_alignment",
            Self::NoDmarcPolicy => "no_dmarc_policy",
            Self::AuthBounce => "auth_bounce",
            Self::AuthComplaint => "auth_complaint",
            Self::VerdictMismatch => "verdict_mismatch",
            Self::ForgedAuthResults => "forged_auth_results",
            Self::HeadersTruncated => "headers_truncated",
            Self::MailFromMxMissing => "mail_from_mx_missing",
            Self::MailFromSpfMissing => "mail_from_spf_missing",
            Self::DkimDnsMissing => "dkim_dns_missing",
            Self::DkimNotSigning => "dkim_not_signing",
        }
    }

    /// DESIGN.md's default severity. `dmarc_fail` is critical only under an enforcing policy;
    /// the analysis decides that case itself.
    pub fn default_severity(self) -> Severity {
        match self {
            Self::MailFromFallback
            | Self::MailFromStatus
            | Self::DmarcFail
            | Self::MailFromMxMissing
            | Self::DkimDnsMissing => Severity::Critical,
            Self::SpfUnaligned
            | Self::DkimUnaligned
            | Self::StrictSpfAlignment
            | Self::NoDmarcPolicy
            | Self::AuthBounce
            | Self::AuthComplaint
            | Self::ForgedAuthResults
            | Self::MailFromSpfMissing
            | Self::DkimNotSigning => Severity::Warning,
            Self::SpfFail | Self::DkimFail | Self::VerdictMismatch | Self::HeadersTruncated => {
                Severity::Info
            }
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    /// The From (or identity) domain the finding is about.
    pub domain: String,
    pub message_id: Option<String>,
    pub source: Source,
    /// Human-readable evidence. Never holds addresses' local parts, subjects or bodies.
    pub detail: String,
    /// What was observed, one fact per line (the results, the policy, the identity's MAIL
    /// FROM state), for alerts. Same privacy rule as `detail`.
    /// Shared by the findings of one evaluation: built once, not copied per finding.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub evidence: Arc<[String]>,
}

impl Finding {
    /// Attaches the facts the finding was judged on.
    pub fn with_evidence(mut self, evidence: &Arc<[String]>) -> Self {
        self.evidence = Arc::clone(evidence);
        self
    }

    pub fn build(kind: Kind, domain: &str, detail: String) -> FindingBuilder {
        FindingBuilder {
            kind,
            severity: kind.default_severity(),
            domain: domain.to_owned(),
            detail,
        }
    }
}

/// A finding before the message it belongs to is attached.
#[derive(Debug, Clone)]
pub struct FindingBuilder {
    kind: Kind,
    severity: Severity,
    domain: String,
    detail: String,
}

impl FindingBuilder {
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn set_severity(&mut self, severity: Severity) {
        self.severity = severity;
    }

    pub fn about(self, message_id: Option<&str>, source: Source) -> Finding {
        Finding {
            kind: self.kind,
            severity: self.severity,
            domain: self.domain,
            message_id: message_id.map(str::to_owned),
            source,
            detail: self.detail,
            evidence: Arc::from([]),
        }
    }
}
