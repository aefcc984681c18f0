//! SMTP TLS reports (RFC 8460 §4.4) read from their JSON into [`TlsReport`].
//!
//! Read leniently: only the fields a finding needs are typed, the rest (`policy-string`,
//! `mx-host`, written as a string or a list in the wild and in the RFC's own example) is
//! left unread. A missing session count is unknown, never zero.

use crate::read::domain::normalize;
use crate::read::keyword::keyword_enum;
use serde::Deserialize;

keyword_enum! {
    /// Which policy the sending MTA applied (RFC 8460 §4.4 `policy-type`).
    pub enum PolicyType {
        Tlsa = "tlsa",
        Sts = "sts",
        NoPolicyFound = "no-policy-found",
    } else Unknown(str::to_owned)
}

keyword_enum! {
    /// Why sessions failed (RFC 8460 §4.3 `result-type`).
    pub enum ResultType {
        StarttlsNotSupported = "starttls-not-supported",
        CertificateHostMismatch = "certificate-host-mismatch",
        CertificateExpired = "certificate-expired",
        CertificateNotTrusted = "certificate-not-trusted",
        ValidationFailure = "validation-failure",
        TlsaInvalid = "tlsa-invalid",
        DnssecInvalid = "dnssec-invalid",
        DaneRequired = "dane-required",
        StsPolicyFetchError = "sts-policy-fetch-error",
        StsPolicyInvalid = "sts-policy-invalid",
        StsWebpkiInvalid = "sts-webpki-invalid",
        /// A failure detail that names no result type.
        Unspecified = "unspecified",
    } else Unknown(str::to_owned)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsReport {
    pub org_name: Option<String>,
    /// `contact-info`: an address or a URL of the reporter.
    pub contact: Option<String>,
    pub report_id: Option<String>,
    pub begin: Option<String>,
    pub end: Option<String>,
    pub policies: Vec<TlsPolicy>,
}

/// Unix seconds of an RFC 3339 date-time as a TLS report writes it (`date-range`); `None`
/// for anything else, or a moment before 1970.
pub fn seconds(date_time: &str) -> Option<u64> {
    mail_parser::DateTime::parse_rfc3339(date_time.trim())
        .and_then(|t| u64::try_from(t.to_timestamp()).ok())
}

/// One policy's sessions: the domain whose MX hosts were contacted, and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPolicy {
    /// Lower case.
    pub domain: Option<String>,
    pub policy_type: Option<PolicyType>,
    pub successful: Option<u64>,
    pub failed: Option<u64>,
    /// `result-type` and its failed sessions, as reported.
    pub failures: Vec<(ResultType, u64)>,
}

impl TlsReport {
    pub fn successful(&self) -> u64 {
        self.policies.iter().filter_map(|p| p.successful).sum()
    }

    pub fn failed(&self) -> u64 {
        self.policies.iter().filter_map(|p| p.failed).sum()
    }

    /// The policy domains, each once, in report order.
    pub fn domains(&self) -> Vec<&str> {
        let mut domains: Vec<&str> = Vec::new();
        for domain in self.policies.iter().filter_map(|p| p.domain.as_deref()) {
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        domains
    }
}

/// Why a JSON document is not a TLS report.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("JSON does not parse: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no \"policies\": not an SMTP TLS report")]
    NoPolicies,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Wire {
    organization_name: Option<String>,
    contact_info: Option<String>,
    report_id: Option<String>,
    date_range: Option<WireRange>,
    policies: Option<Vec<WirePolicy>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireRange {
    start_datetime: Option<String>,
    end_datetime: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WirePolicy {
    policy: Option<WirePolicyId>,
    summary: Option<WireSummary>,
    #[serde(default)]
    failure_details: Vec<WireFailure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WirePolicyId {
    policy_type: Option<PolicyType>,
    policy_domain: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireSummary {
    total_successful_session_count: Option<u64>,
    total_failure_session_count: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireFailure {
    result_type: Option<ResultType>,
    failed_session_count: Option<u64>,
}

/// Reads one TLS report.
pub fn parse(json: &[u8]) -> Result<TlsReport, TlsError> {
    let wire: Wire = serde_json::from_slice(json)?;
    let policies = wire.policies.ok_or(TlsError::NoPolicies)?;
    let (begin, end) = wire
        .date_range
        .map_or((None, None), |r| (r.start_datetime, r.end_datetime));
    let bounded = |text: Option<String>| text.map(|t| crate::read::text::bounded(&t, 256));
    Ok(TlsReport {
        org_name: bounded(wire.organization_name),
        contact: bounded(wire.contact_info),
        report_id: bounded(wire.report_id),
        begin,
        end,
        policies: policies
            .into_iter()
            .map(|p| {
                let (policy_type, domain) = p
                    .policy
                    .map_or((None, None), |id| (id.policy_type, id.policy_domain));
                let (successful, failed) = p.summary.map_or((None, None), |s| {
                    (
                        s.total_successful_session_count,
                        s.total_failure_session_count,
                    )
                });
                TlsPolicy {
                    domain: domain.as_deref().and_then(normalize),
                    policy_type,
                    successful,
                    failed,
                    failures: p
                        .failure_details
                        .into_iter()
                        .map(|f| {
                            (
                                f.result_type.unwrap_or(ResultType::Unspecified),
                                f.failed_session_count.unwrap_or(0),
                            )
                        })
                        .collect(),
                }
            })
            .collect(),
    })
}
