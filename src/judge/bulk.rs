//! Bulk-sender readiness: the rules Gmail and Yahoo (since February 2024) and Microsoft's
//! Outlook.com (since May 2025) set for senders of 5,000 or more messages a day, judged per
//! domain from what this monitor holds: the posture audit's DNS and SES checks
//! ([`crate::judge::posture`]), messages received from the domain (the canary's, or given),
//! feedback notifications, and the configuration set's TLS policy.
//!
//! Each requirement gets a [`Status`] and the [`Evidence`] it rests on. Where the data cannot
//! judge, the status is `unknown`, never `pass`. `spf` and `dkim` mean the domain's own:
//! SES's amazonses.com envelope and its `d=amazonses.com` signature do not count.
//!
//! Pure: everything arrives in [`Signals`].

use crate::judge::align::{Alignment, PublicSuffixList, aligned};
use crate::judge::auth_rejection::Failed;
use crate::judge::findings::{Severity, SpfProblem};
use crate::judge::posture::{AuditOutcome, CheckResult, Observed, PostureCheck, Verdict};
use crate::read::domain::is_within;
use crate::read::identity_state::MailFromStatus;
use crate::read::keyword::keyword_enum;

keyword_enum! {
    /// One rule of the providers' bulk-sender requirements.
    pub enum Requirement {
        Spf = "spf",
        Dkim = "dkim",
        DmarcPolicy = "dmarc_policy",
        Alignment = "alignment",
        MailFrom = "mail_from",
        OneClickUnsubscribe = "one_click_unsubscribe",
        ComplaintRate = "complaint_rate",
        Tls = "tls",
        Ptr = "ptr",
    }
}

keyword_enum! {
    /// A mailbox provider whose rules these are.
    pub enum Provider {
        Gmail = "gmail",
        Yahoo = "yahoo",
        Microsoft = "microsoft",
    }
}

keyword_enum! {
    pub enum Status {
        Pass = "pass",
        Fail = "fail",
        Unknown = "unknown",
    }
}

keyword_enum! {
    /// What a judgement rests on.
    pub enum Evidence {
        Dns = "dns",
        Ses = "ses",
        Canary = "canary",
        Feedback = "feedback",
        Reports = "reports",
    }
}

const ALL_THREE: &[Provider] = &[Provider::Gmail, Provider::Yahoo, Provider::Microsoft];
const GMAIL_YAHOO: &[Provider] = &[Provider::Gmail, Provider::Yahoo];

impl Requirement {
    /// The providers that require it. Microsoft's rules name SPF, DKIM and DMARC (and so the
    /// MAIL FROM, through SPF); one-click unsubscribe, the complaint rate, TLS and reverse DNS
    /// are Gmail's and Yahoo's.
    pub fn providers(self) -> &'static [Provider] {
        match self {
            Self::Spf | Self::Dkim | Self::DmarcPolicy | Self::Alignment | Self::MailFrom => {
                ALL_THREE
            }
            Self::OneClickUnsubscribe | Self::ComplaintRate | Self::Tls | Self::Ptr => GMAIL_YAHOO,
        }
    }

    /// Critical where the providers reject the mail; a warning otherwise.
    pub fn severity(self) -> Severity {
        match self {
            Self::Spf | Self::Dkim | Self::DmarcPolicy | Self::Alignment | Self::MailFrom => {
                Severity::Critical
            }
            Self::OneClickUnsubscribe | Self::ComplaintRate | Self::Tls | Self::Ptr => {
                Severity::Warning
            }
        }
    }
}

/// The complaint rate Gmail and Yahoo hold senders under, and the one Gmail asks to stay
/// below, in hundredths of a percent (basis points).
pub const COMPLAINT_RATE_LIMIT_BP: u64 = 30;
pub const COMPLAINT_RATE_TARGET_BP: u64 = 10;
/// Deliveries below which a complaint rate says nothing.
pub const COMPLAINT_RATE_LEAST_DELIVERIES: u64 = 100;

/// Why a requirement was judged as it was: the detail's facts (`say::bulk` words them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// A lookup failed (timeout, SERVFAIL): nothing concluded this time.
    LookupFailed {
        name: String,
        error: String,
    },
    /// No custom MAIL FROM domain: SES's amazonses.com envelope, which is not the domain's.
    NoCustomMailFrom,
    /// SES says the custom MAIL FROM domain is not in use.
    MailFromStatus {
        mail_from: String,
        status: MailFromStatus,
    },
    /// SES's view of the custom MAIL FROM is not known (no identity state given).
    MailFromStatusUnknown {
        mail_from: String,
    },
    /// The MAIL FROM domain's MX is missing or not exactly SES's.
    MailFromMx {
        mail_from: String,
        records: Vec<(u16, String)>,
        expected: String,
    },
    /// The custom MAIL FROM is in use and its MX is SES's.
    MailFromReady {
        mail_from: String,
    },
    /// The MAIL FROM domain's SPF record has a problem.
    SpfRecord {
        mail_from: String,
        problem: SpfProblem,
    },
    /// The MAIL FROM domain publishes one SPF record that includes amazonses.com.
    SpfReady {
        mail_from: String,
    },
    /// SES's DKIM state is not known (no identity state given).
    DkimStateUnknown,
    DkimNotSigning,
    /// DKIM records missing or pointing elsewhere, by name.
    DkimRecords(Vec<String>),
    /// SES signs with the domain's key and its records are in place.
    DkimReady,
    DmarcRecord {
        record_at: String,
        disposition: crate::judge::policy::Disposition,
    },
    NoDmarcRecord,
    /// Aligned with From through these.
    Aligned {
        dkim: bool,
        spf: bool,
    },
    /// Neither DKIM nor SPF aligns with From under the domain's policy.
    NotAligned {
        adkim: Alignment,
        aspf: Alignment,
    },
    /// What a received message showed: the identifier and whether it passed.
    Sampled {
        identifier: String,
        passed: bool,
    },
    /// Received messages passed only for SES's own identifiers (amazonses.com); for SPF with
    /// the custom MAIL FROM domain the identity has (SES fell back from it).
    SampledOnlyAmazonSes {
        configured: Option<String>,
    },
    /// List mail received: how many, and how many carried a working one-click unsubscribe.
    ListMail {
        messages: u64,
        one_click: u64,
        mailto_only: u64,
        unsigned: u64,
    },
    /// No list mail (no `List-Unsubscribe`) among the messages given.
    NoListMail,
    Complaints {
        complaints: u64,
        deliveries: u64,
    },
    TooFewDeliveries {
        deliveries: u64,
    },
    TlsPolicy {
        required: bool,
        /// The identity's default configuration set; `None`: it has none, and SES's own
        /// policy (Optional) applies.
        configuration_set: Option<String>,
    },
    TlsPolicyUnknown,
    /// A sampled sending address whose reverse and forward DNS agree.
    ReverseDns {
        ip: String,
        name: String,
    },
    /// Sent from SES's shared addresses, whose reverse DNS SES keeps.
    SesSharedAddress,
    ReverseDnsUnknown,
    /// Nothing given that could judge it.
    NoEvidence,
    /// Nothing else judged it, but receivers refused or flagged the domain's mail for it
    /// (the verdicts are in [`Judgement::receivers`]).
    ReceiversRejected,
}

/// One requirement judged for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub requirement: Requirement,
    pub status: Status,
    /// `None` only when unknown.
    pub evidence: Option<Evidence>,
    pub why: Why,
    /// Receivers' own verdicts on the domain's mail that bear on it: they support a
    /// failure, stand against a pass, and fail what nothing else could judge.
    pub receivers: Vec<ReceiverVerdict>,
}

impl Judgement {
    fn new(requirement: Requirement, status: Status, evidence: Evidence, why: Why) -> Self {
        Self {
            requirement,
            status,
            evidence: Some(evidence),
            why,
            receivers: Vec::new(),
        }
    }

    fn unknown(requirement: Requirement, why: Why) -> Self {
        Self {
            requirement,
            status: Status::Unknown,
            evidence: None,
            why,
            receivers: Vec::new(),
        }
    }
}

/// A receiver's own verdict on the domain's mail: an authentication rejection in a bounce
/// or delay (Gmail's `5.7.26`/`5.7.27`/`5.7.30`, Outlook's `5.7.515`, …), or Google's
/// "Sender requirement failed" comment in an aggregate report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverVerdict {
    /// What it says failed.
    pub requirement: Requirement,
    /// The receiver, as the bounce's signature or the report names it.
    pub receiver: String,
    /// The enhanced status code, when given.
    pub code: Option<String>,
    /// Recipients (a bounce) or messages (a report) it was about.
    pub messages: u64,
    /// [`Evidence::Feedback`] (a bounce) or [`Evidence::Reports`].
    pub evidence: Evidence,
}

/// The requirement a receiver's authentication rejection says failed: a DMARC failure or
/// plain "unauthenticated" is the From domain's alignment.
pub fn rejected_for(failed: Failed) -> Requirement {
    match failed {
        Failed::Spf => Requirement::Spf,
        Failed::Dkim => Requirement::Dkim,
        Failed::NoPolicy => Requirement::DmarcPolicy,
        Failed::Dmarc | Failed::Alignment | Failed::Unauthenticated => Requirement::Alignment,
    }
}

/// The receivers' verdicts borne on each judgement: kept beside it; a requirement nothing
/// else could judge fails on them, with their evidence.
fn weigh(judgements: &mut [Judgement], verdicts: &[ReceiverVerdict]) {
    for judgement in judgements {
        let mut bearing: Vec<ReceiverVerdict> = Vec::new();
        for verdict in verdicts
            .iter()
            .filter(|v| v.requirement == judgement.requirement)
        {
            match bearing.iter_mut().find(|b| {
                b.receiver == verdict.receiver
                    && b.code == verdict.code
                    && b.evidence == verdict.evidence
            }) {
                Some(same) => same.messages = same.messages.saturating_add(verdict.messages),
                None => bearing.push(verdict.clone()),
            }
        }
        if let (Status::Unknown, Some(first)) = (judgement.status, bearing.first()) {
            judgement.status = Status::Fail;
            judgement.evidence = Some(first.evidence);
            judgement.why = Why::ReceiversRejected;
        }
        judgement.receivers = bearing;
    }
}

/// What one received message from the domain showed (the canary's probe, or a given message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// SPF: the envelope domain and whether it passed.
    pub spf: Option<(String, bool)>,
    /// DKIM: each signature's `d=` and whether it passed.
    pub dkim: Vec<(String, bool)>,
    /// When the message is list mail (it carries `List-Unsubscribe`).
    pub list: Option<ListUnsubscribe>,
    /// The sending address and its reverse DNS, where known.
    pub sender: Option<SendingAddress>,
}

/// A list message's unsubscribe headers (RFC 8058).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListUnsubscribe {
    /// `List-Unsubscribe` holds an https URI.
    pub https: bool,
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    pub one_click_post: bool,
    /// Both headers are covered by a valid DKIM signature aligned with From.
    pub signed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendingAddress {
    pub ip: String,
    /// The reverse DNS name whose forward lookup gives the address back, when they agree.
    pub verified_name: Option<String>,
    /// One of SES's addresses (its reverse DNS is under amazonses.com, which SES keeps).
    pub ses_shared: bool,
}

impl SendingAddress {
    /// An address whose reverse DNS is not known (not looked up, or no resolver).
    pub fn unconfirmed(ip: std::net::IpAddr) -> Self {
        Self {
            ip: ip.to_string(),
            verified_name: None,
            ses_shared: false,
        }
    }
}

/// The configuration set's TLS policy (SESv2 `DeliveryOptions.TlsPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    Require,
    Optional,
}

/// Everything the readiness of one domain is judged from.
#[derive(Debug, Clone, Copy)]
pub struct Signals<'a> {
    pub domain: &'a str,
    /// The SES region the identity sends from: its MAIL FROM MX is
    /// `10 feedback-smtp.<region>.amazonses.com`.
    pub region: &'a str,
    /// The posture audit of the domain: DNS, and SES's state when it was known.
    pub posture: &'a AuditOutcome,
    /// Whether SES's state of the identity was known (SESv2, `--identity-state`): without
    /// it, the absence of a custom MAIL FROM domain is not known either.
    pub ses_state: bool,
    /// Messages received from the domain.
    pub samples: &'a [Sample],
    /// Feedback: (deliveries, complaints) in the evidence given; `None` without any.
    pub feedback: Option<(u64, u64)>,
    /// Receivers' verdicts on the domain's mail (bounces, reports).
    pub verdicts: &'a [ReceiverVerdict],
    pub tls: Option<TlsPolicy>,
    /// The configuration set whose policy `tls` is (`None`: SES's default).
    pub configuration_set: Option<&'a str>,
}

/// Every requirement judged for one domain, in [`Requirement::ALL`]'s order.
pub fn readiness(signals: &Signals<'_>) -> Vec<Judgement> {
    let mail_from = mail_from(signals);
    let spf = spf(signals, &mail_from);
    let dkim = dkim(signals);
    let dmarc = dmarc_policy(signals);
    let alignment = alignment(signals, &spf, &dkim);
    let mut judgements = vec![
        spf,
        dkim,
        dmarc,
        alignment,
        mail_from,
        one_click(signals),
        complaint_rate(signals),
        tls(signals),
        ptr(signals),
    ];
    weigh(&mut judgements, signals.verdicts);
    judgements
}

fn check(posture: &AuditOutcome, which: PostureCheck) -> Option<&CheckResult> {
    posture.checks.iter().find(|c| c.check == which)
}

/// The domain's own identifier: the domain or one in its organization.
fn own(domain: &str, identifier: &str) -> bool {
    aligned(identifier, domain, Alignment::Relaxed, &PublicSuffixList)
        && !is_within(identifier, "amazonses.com")
}

/// What the received messages showed for SPF or DKIM: passed for an own identifier, or only
/// for SES's own.
fn sampled(
    requirement: Requirement,
    domain: &str,
    results: impl Iterator<Item = (String, bool)>,
) -> Option<Judgement> {
    let mut seen_amazonses = false;
    let mut own_result = None;
    for (identifier, passed) in results {
        if own(domain, &identifier) {
            if passed || own_result.is_none() {
                own_result = Some((identifier, passed));
            }
        } else if passed && is_within(&identifier, "amazonses.com") {
            seen_amazonses = true;
        }
    }
    match own_result {
        Some((identifier, passed)) => Some(Judgement::new(
            requirement,
            if passed { Status::Pass } else { Status::Fail },
            Evidence::Canary,
            Why::Sampled { identifier, passed },
        )),
        None if seen_amazonses => Some(Judgement::new(
            requirement,
            Status::Fail,
            Evidence::Canary,
            Why::SampledOnlyAmazonSes { configured: None },
        )),
        None => None,
    }
}

fn lookup_failed(requirement: Requirement, observed: &Observed) -> Option<Judgement> {
    match observed {
        Observed::LookupFailed { name, error, .. } => Some(Judgement::unknown(
            requirement,
            Why::LookupFailed {
                name: name.clone(),
                error: error.clone(),
            },
        )),
        _ => None,
    }
}

/// `mail_from`: SES says the custom MAIL FROM is in use (`SUCCESS`) and its MX is exactly
/// `10 feedback-smtp.<region>.amazonses.com`; or a received message's envelope was it.
fn mail_from(signals: &Signals<'_>) -> Judgement {
    let requirement = Requirement::MailFrom;
    let posture = signals.posture;
    let mx = check(posture, PostureCheck::MailFromMx);
    let status = check(posture, PostureCheck::MailFromStatus);
    if let Some(CheckResult {
        observed: Observed::NoCustomMailFrom,
        ..
    }) = mx
    {
        return if signals.ses_state {
            Judgement::new(
                requirement,
                Status::Fail,
                Evidence::Ses,
                Why::NoCustomMailFrom,
            )
        } else {
            Judgement::unknown(requirement, Why::NoEvidence)
        };
    }
    if let Some(CheckResult {
        verdict: Verdict::Fail,
        observed: Observed::MailFromStatus { mail_from, status },
        ..
    }) = status
    {
        return Judgement::new(
            requirement,
            Status::Fail,
            Evidence::Ses,
            Why::MailFromStatus {
                mail_from: mail_from.clone(),
                status: status.clone(),
            },
        );
    }
    match mx.map(|c| (&c.verdict, &c.observed)) {
        Some((Verdict::Fail, Observed::MxMissing { mail_from })) => {
            return Judgement::new(
                requirement,
                Status::Fail,
                Evidence::Dns,
                Why::MailFromMx {
                    mail_from: mail_from.clone(),
                    records: Vec::new(),
                    expected: format!("feedback-smtp.{}.amazonses.com", signals.region),
                },
            );
        }
        Some((
            Verdict::Fail,
            Observed::Mx {
                mail_from,
                records,
                expected,
            },
        )) => {
            return Judgement::new(
                requirement,
                Status::Fail,
                Evidence::Dns,
                Why::MailFromMx {
                    mail_from: mail_from.clone(),
                    records: records.clone(),
                    expected: expected.clone().unwrap_or_else(|| {
                        format!("feedback-smtp.{}.amazonses.com", signals.region)
                    }),
                },
            );
        }
        Some((Verdict::Pass, Observed::Mx { mail_from, .. })) => {
            return if status.is_some_and(|s| s.verdict == Verdict::Pass) {
                Judgement::new(
                    requirement,
                    Status::Pass,
                    Evidence::Ses,
                    Why::MailFromReady {
                        mail_from: mail_from.clone(),
                    },
                )
            } else {
                // DNS is right; whether SES has verified it and uses it, only SES says, or a
                // message sent with it.
                sampled_envelope(signals, mail_from).unwrap_or_else(|| {
                    Judgement::unknown(
                        requirement,
                        Why::MailFromStatusUnknown {
                            mail_from: mail_from.clone(),
                        },
                    )
                })
            };
        }
        Some((_, observed)) => {
            if let Some(unknown) = lookup_failed(requirement, observed) {
                return unknown;
            }
        }
        None => {}
    }
    Judgement::unknown(requirement, Why::NoEvidence)
}

/// A received message whose envelope was the custom MAIL FROM domain: it is in use.
fn sampled_envelope(signals: &Signals<'_>, mail_from: &str) -> Option<Judgement> {
    signals.samples.iter().find_map(|sample| {
        let (envelope, _) = sample.spf.as_ref()?;
        (envelope.eq_ignore_ascii_case(mail_from)).then(|| {
            Judgement::new(
                Requirement::MailFrom,
                Status::Pass,
                Evidence::Canary,
                Why::Sampled {
                    identifier: envelope.clone(),
                    passed: true,
                },
            )
        })
    })
}

/// The custom MAIL FROM domain the posture audit looked at, when there is one.
fn configured_mail_from(posture: &AuditOutcome) -> Option<String> {
    posture.checks.iter().find_map(|c| match &c.observed {
        Observed::MailFromStatus { mail_from, .. }
        | Observed::MxMissing { mail_from }
        | Observed::Mx { mail_from, .. }
        | Observed::Spf { mail_from, .. } => Some(mail_from.clone()),
        _ => None,
    })
}

/// `spf`: SPF passes for the domain's own envelope domain. Without a custom MAIL FROM, or
/// with one SES does not use, the envelope is amazonses.com's: a failure.
fn spf(signals: &Signals<'_>, mail_from: &Judgement) -> Judgement {
    let requirement = Requirement::Spf;
    let observed_mail = signals
        .samples
        .iter()
        .filter_map(|s| s.spf.clone())
        .collect::<Vec<_>>();
    if let Some(mut judged) = sampled(requirement, signals.domain, observed_mail.into_iter()) {
        if let Why::SampledOnlyAmazonSes { configured } = &mut judged.why {
            *configured = configured_mail_from(signals.posture);
        }
        return judged;
    }
    match &mail_from.why {
        Why::NoCustomMailFrom | Why::MailFromStatus { .. } => {
            return Judgement::new(
                requirement,
                Status::Fail,
                Evidence::Ses,
                mail_from.why.clone(),
            );
        }
        Why::LookupFailed { .. } => return Judgement::unknown(requirement, mail_from.why.clone()),
        _ => {}
    }
    match check(signals.posture, PostureCheck::MailFromSpf).map(|c| (&c.verdict, &c.observed)) {
        Some((
            Verdict::Fail,
            Observed::Spf {
                mail_from,
                problem: Some(problem),
            },
        )) => Judgement::new(
            requirement,
            Status::Fail,
            Evidence::Dns,
            Why::SpfRecord {
                mail_from: mail_from.clone(),
                problem: problem.clone(),
            },
        ),
        // The record is right; SPF passes for the envelope once SES uses it.
        Some((
            Verdict::Pass,
            Observed::Spf {
                mail_from: domain, ..
            },
        )) => match mail_from.status {
            Status::Fail => Judgement::new(
                requirement,
                Status::Fail,
                mail_from.evidence.unwrap_or(Evidence::Dns),
                mail_from.why.clone(),
            ),
            Status::Pass => Judgement::new(
                requirement,
                Status::Pass,
                Evidence::Dns,
                Why::SpfReady {
                    mail_from: domain.clone(),
                },
            ),
            Status::Unknown => Judgement::unknown(requirement, mail_from.why.clone()),
        },
        Some((_, observed)) => lookup_failed(requirement, observed)
            .unwrap_or_else(|| Judgement::unknown(requirement, Why::NoEvidence)),
        None => Judgement::unknown(requirement, Why::NoEvidence),
    }
}

/// `dkim`: DKIM passes for the From domain: SES signs with the domain's key and its records
/// are in place, or a received message's own signature passed.
fn dkim(signals: &Signals<'_>) -> Judgement {
    let requirement = Requirement::Dkim;
    let signatures = signals.samples.iter().flat_map(|s| s.dkim.iter().cloned());
    if let Some(judged) = sampled(requirement, signals.domain, signatures) {
        return judged;
    }
    let signing = check(signals.posture, PostureCheck::DkimSigning);
    let records = check(signals.posture, PostureCheck::DkimDns);
    match (
        signing.map(|c| c.verdict),
        records.map(|c| (&c.verdict, &c.observed)),
    ) {
        (None, _) => Judgement::unknown(requirement, Why::DkimStateUnknown),
        (Some(Verdict::Fail), _) => Judgement::new(
            requirement,
            Status::Fail,
            Evidence::Ses,
            Why::DkimNotSigning,
        ),
        (_, Some((Verdict::Fail, Observed::DkimMissing(names)))) => Judgement::new(
            requirement,
            Status::Fail,
            Evidence::Dns,
            Why::DkimRecords(names.clone()),
        ),
        (_, Some((Verdict::Pass, _))) => {
            Judgement::new(requirement, Status::Pass, Evidence::Ses, Why::DkimReady)
        }
        (_, Some((_, Observed::DkimLookupsFailed(failed)))) => Judgement::unknown(
            requirement,
            Why::LookupFailed {
                name: failed.join(", "),
                error: "lookup failed".into(),
            },
        ),
        _ => Judgement::unknown(requirement, Why::NoEvidence),
    }
}

/// `dmarc_policy`: a DMARC record applies to the domain (RFC 9989's tree walk), `p` at least
/// `none`.
fn dmarc_policy(signals: &Signals<'_>) -> Judgement {
    let requirement = Requirement::DmarcPolicy;
    match check(signals.posture, PostureCheck::Dmarc).map(|c| &c.observed) {
        Some(Observed::Dmarc {
            record_at,
            disposition,
            ..
        }) => Judgement::new(
            requirement,
            Status::Pass,
            Evidence::Dns,
            Why::DmarcRecord {
                record_at: record_at.clone(),
                disposition: *disposition,
            },
        ),
        Some(Observed::NoDmarcRecord { .. }) => {
            Judgement::new(requirement, Status::Fail, Evidence::Dns, Why::NoDmarcRecord)
        }
        Some(observed) => lookup_failed(requirement, observed)
            .unwrap_or_else(|| Judgement::unknown(requirement, Why::NoEvidence)),
        None => Judgement::unknown(requirement, Why::NoEvidence),
    }
}

/// `alignment`: From aligned with SPF or DKIM under the domain's policy. SES's DKIM signs
/// with the identity's domain (`d=` the From domain or its parent); the custom MAIL FROM is
/// a subdomain. With no DMARC record, relaxed alignment applies (a `d=` equal to the From
/// domain aligns however it is read).
fn alignment(signals: &Signals<'_>, spf: &Judgement, dkim: &Judgement) -> Judgement {
    let requirement = Requirement::Alignment;
    let (adkim, aspf) = match check(signals.posture, PostureCheck::Dmarc).map(|c| &c.observed) {
        Some(Observed::Dmarc { adkim, aspf, .. }) => (*adkim, *aspf),
        _ => (Alignment::Relaxed, Alignment::Relaxed),
    };
    let domain = signals.domain;
    let identity = signals.posture.identity.as_str();
    let mail_from_domain = match &spf.why {
        Why::SpfReady { mail_from } => Some(mail_from.as_str()),
        Why::Sampled { identifier, .. } => Some(identifier.as_str()),
        _ => None,
    };
    let dkim_domain = match &dkim.why {
        Why::Sampled { identifier, .. } => Some(identifier.as_str()),
        Why::DkimReady => Some(identity),
        _ => None,
    };
    let dkim_aligned = dkim.status == Status::Pass
        && dkim_domain.is_some_and(|d| aligned(d, domain, adkim, &PublicSuffixList));
    let spf_aligned = spf.status == Status::Pass
        && mail_from_domain.is_some_and(|d| aligned(d, domain, aspf, &PublicSuffixList));
    if dkim_aligned || spf_aligned {
        let evidence = if dkim_aligned {
            dkim.evidence
        } else {
            spf.evidence
        };
        return Judgement::new(
            requirement,
            Status::Pass,
            evidence.unwrap_or(Evidence::Dns),
            Why::Aligned {
                dkim: dkim_aligned,
                spf: spf_aligned,
            },
        );
    }
    if dkim.status == Status::Unknown || spf.status == Status::Unknown {
        return Judgement::unknown(requirement, Why::NoEvidence);
    }
    Judgement::new(
        requirement,
        Status::Fail,
        dkim.evidence.or(spf.evidence).unwrap_or(Evidence::Dns),
        Why::NotAligned { adkim, aspf },
    )
}

/// `one_click_unsubscribe`: judged on list mail only (messages with `List-Unsubscribe`).
fn one_click(signals: &Signals<'_>) -> Judgement {
    let requirement = Requirement::OneClickUnsubscribe;
    let lists: Vec<&ListUnsubscribe> = signals
        .samples
        .iter()
        .filter_map(|s| s.list.as_ref())
        .collect();
    if lists.is_empty() {
        return Judgement::unknown(requirement, Why::NoListMail);
    }
    let working = |l: &&&ListUnsubscribe| l.https && l.one_click_post && l.signed;
    let why = Why::ListMail {
        messages: lists.len() as u64,
        one_click: lists.iter().filter(working).count() as u64,
        mailto_only: lists.iter().filter(|l| !l.https).count() as u64,
        unsigned: lists
            .iter()
            .filter(|l| l.https && l.one_click_post && !l.signed)
            .count() as u64,
    };
    let all = lists.iter().all(|l| working(&l));
    Judgement::new(
        requirement,
        if all { Status::Pass } else { Status::Fail },
        Evidence::Canary,
        why,
    )
}

/// `complaint_rate`: complaints over deliveries in the feedback given: a failure from 0.3%,
/// unknown under 100 deliveries.
fn complaint_rate(signals: &Signals<'_>) -> Judgement {
    let requirement = Requirement::ComplaintRate;
    let Some((deliveries, complaints)) = signals.feedback else {
        return Judgement::unknown(requirement, Why::NoEvidence);
    };
    if deliveries < COMPLAINT_RATE_LEAST_DELIVERIES {
        return Judgement::unknown(requirement, Why::TooFewDeliveries { deliveries });
    }
    let at_limit = u128::from(complaints) * 10_000
        >= u128::from(COMPLAINT_RATE_LIMIT_BP) * u128::from(deliveries);
    Judgement::new(
        requirement,
        if at_limit { Status::Fail } else { Status::Pass },
        Evidence::Feedback,
        Why::Complaints {
            complaints,
            deliveries,
        },
    )
}

/// Whether a complaint rate is at or above Gmail's 0.1% target.
pub fn above_target(complaints: u64, deliveries: u64) -> bool {
    u128::from(complaints) * 10_000 >= u128::from(COMPLAINT_RATE_TARGET_BP) * u128::from(deliveries)
}

/// `tls`: unknown unless the configuration set's TLS policy is known. SES offers TLS to every
/// receiver that takes it (Gmail and Yahoo do) under either policy; `Require` makes it a must.
fn tls(signals: &Signals<'_>) -> Judgement {
    match signals.tls {
        Some(policy) => Judgement::new(
            Requirement::Tls,
            Status::Pass,
            Evidence::Ses,
            Why::TlsPolicy {
                required: policy == TlsPolicy::Require,
                configuration_set: signals.configuration_set.map(str::to_owned),
            },
        ),
        None => Judgement::unknown(Requirement::Tls, Why::TlsPolicyUnknown),
    }
}

/// `ptr`: a sampled sending address whose reverse and forward DNS agree passes; SES's shared
/// addresses never fail (SES keeps their reverse DNS); unknown where nothing says.
fn ptr(signals: &Signals<'_>) -> Judgement {
    let senders = signals.samples.iter().filter_map(|s| s.sender.as_ref());
    let mut shared = false;
    for sender in senders {
        if let Some(name) = &sender.verified_name {
            return Judgement::new(
                Requirement::Ptr,
                Status::Pass,
                Evidence::Canary,
                Why::ReverseDns {
                    ip: sender.ip.clone(),
                    name: name.clone(),
                },
            );
        }
        shared |= sender.ses_shared;
    }
    Judgement::unknown(
        Requirement::Ptr,
        if shared {
            Why::SesSharedAddress
        } else {
            Why::ReverseDnsUnknown
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::policy::PolicyBook;
    use crate::judge::posture::{DkimName, DnsView, Lookup, Target, audit};
    use crate::read::identity_state::IdentityState;

    const SES_MX: &str = "feedback-smtp.us-east-1.amazonses.com";

    /// SES's state of example.com: custom MAIL FROM `mail_from` in `status`, Easy DKIM
    /// signing or not. `None`: not known.
    fn state(mail_from: Option<(&str, &str)>, signing: bool) -> IdentityState {
        let mut value = serde_json::json!({
            "DkimAttributes": {"SigningEnabled": signing, "Status": "SUCCESS", "Tokens": ["tok1"]}
        });
        if let Some((domain, status)) = mail_from {
            value["MailFromAttributes"] = serde_json::json!({
                "MailFromDomain": domain, "MailFromDomainStatus": status,
                "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"
            });
        }
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"))
    }

    /// What DNS answers: the MAIL FROM's MX and TXT, the DKIM CNAME, the DMARC record.
    struct Dns {
        mx: Lookup<Vec<(u16, String)>>,
        spf: &'static str,
        dkim_points_to_ses: bool,
        dmarc: Option<&'static str>,
    }

    /// A healthy set-up's answers: SES's MX, SPF including amazonses.com, the DKIM CNAMEs,
    /// `p=none`.
    fn healthy() -> Dns {
        Dns {
            mx: Lookup::Found(vec![(10, SES_MX.into())]),
            spf: "v=spf1 include:amazonses.com ~all",
            dkim_points_to_ses: true,
            dmarc: Some("v=DMARC1; p=none"),
        }
    }

    fn judge(
        state: Option<IdentityState>,
        dns: Dns,
        signals: impl Fn(&mut Inputs),
    ) -> Vec<Judgement> {
        let mail_from_domain = state
            .as_ref()
            .and_then(|s| s.mail_from_domain().map(str::to_owned));
        let target = Target {
            identity: "example.com".into(),
            domain: "example.com".into(),
            region: "us-east-1".into(),
            mail_from_domain,
            state,
        };
        let ses_state = target.state.is_some();
        let mut book = PolicyBook::default();
        if let Some(record) = dns.dmarc {
            book.add(&format!("example.com={record}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let view = DnsView {
            mail_from_mx: Some(dns.mx),
            mail_from_txt: Some(Lookup::Found(vec![dns.spf.to_owned()])),
            dkim: target
                .dkim_names()
                .into_iter()
                .map(|name: DkimName| {
                    let answer = if dns.dkim_points_to_ses {
                        Lookup::Found(vec![format!("{}.dkim.amazonses.com", name.token)])
                    } else {
                        Lookup::Missing
                    };
                    (name, answer)
                })
                .collect(),
            dmarc: Lookup::Found(book.discover("example.com")),
            report_authorizations: Vec::new(),
        };
        let posture = audit(&target, &view);
        let mut inputs = Inputs::default();
        signals(&mut inputs);
        readiness(&Signals {
            domain: "example.com",
            region: "us-east-1",
            posture: &posture,
            ses_state,
            samples: &inputs.samples,
            feedback: inputs.feedback,
            verdicts: &inputs.verdicts,
            tls: inputs.tls,
            configuration_set: None,
        })
    }

    #[derive(Default)]
    struct Inputs {
        samples: Vec<Sample>,
        feedback: Option<(u64, u64)>,
        verdicts: Vec<ReceiverVerdict>,
        tls: Option<TlsPolicy>,
    }

    fn status_of(judgements: &[Judgement], requirement: Requirement) -> Expected {
        judgements
            .iter()
            .find(|j| j.requirement == requirement)
            .map(|j| (j.status, j.evidence))
            .unwrap_or_else(|| panic!("{requirement:?} not judged"))
    }

    /// A requirement's status and evidence.
    type Expected = (Status, Option<Evidence>);
    /// A case: what it shows, SES's state, DNS, the messages received, what is expected.
    type Case = (
        &'static str,
        Option<IdentityState>,
        Dns,
        Vec<Sample>,
        Expected,
    );

    /// Judges every case and checks `requirement`'s status and evidence.
    fn check_table(requirement: Requirement, cases: Vec<Case>) {
        for (case, state, dns, samples, expected) in cases {
            let judged = judge(state, dns, |i| i.samples = samples.clone());
            assert_eq!(status_of(&judged, requirement), expected, "{case}");
        }
    }

    fn ready() -> Option<IdentityState> {
        Some(state(Some(("mail.example.com", "SUCCESS")), true))
    }

    fn no_signals(_: &mut Inputs) {}

    use Evidence as E;
    use Requirement as R;
    use Status as S;

    #[test]
    fn every_requirement_once_in_order_with_its_providers_and_severity() {
        let judged = judge(ready(), healthy(), no_signals);
        let order: Vec<Requirement> = judged.iter().map(|j| j.requirement).collect();
        assert_eq!(order, Requirement::ALL);
        assert_eq!(
            R::Spf.providers(),
            [Provider::Gmail, Provider::Yahoo, Provider::Microsoft]
        );
        assert_eq!(
            R::ComplaintRate.providers(),
            [Provider::Gmail, Provider::Yahoo]
        );
        assert_eq!(R::MailFrom.severity(), Severity::Critical);
        assert_eq!(R::Ptr.severity(), Severity::Warning);
        // Unknown carries no evidence; the others always do.
        assert!(
            judged
                .iter()
                .all(|j| (j.status == S::Unknown) == j.evidence.is_none())
        );
    }

    #[test]
    fn spf() {
        let cases: Vec<Case> = vec![
            (
                "custom MAIL FROM in use, its SPF includes amazonses.com",
                ready(),
                healthy(),
                vec![],
                (S::Pass, Some(E::Dns)),
            ),
            (
                "no custom MAIL FROM: SES's amazonses.com envelope is not the domain's",
                Some(state(None, true)),
                healthy(),
                vec![],
                (S::Fail, Some(E::Ses)),
            ),
            (
                "SES says the MAIL FROM failed: it sends with its own envelope",
                Some(state(Some(("mail.example.com", "FAILED")), true)),
                healthy(),
                vec![],
                (S::Fail, Some(E::Ses)),
            ),
            (
                "the MAIL FROM's SPF lacks amazonses.com",
                ready(),
                Dns {
                    spf: "v=spf1 -all",
                    ..healthy()
                },
                vec![],
                (S::Fail, Some(E::Dns)),
            ),
            (
                "no SES state, nothing given: unknown, never pass",
                None,
                healthy(),
                vec![],
                (S::Unknown, None),
            ),
            (
                "a received message passed SPF for the custom MAIL FROM",
                None,
                healthy(),
                vec![Sample {
                    spf: Some(("mail.example.com".into(), true)),
                    ..Sample::default()
                }],
                (S::Pass, Some(E::Canary)),
            ),
            (
                "a received message passed SPF only for amazonses.com: not the domain's",
                None,
                healthy(),
                vec![Sample {
                    spf: Some(("us-east-1.amazonses.com".into(), true)),
                    ..Sample::default()
                }],
                (S::Fail, Some(E::Canary)),
            ),
            (
                "the TXT lookup failed",
                ready(),
                Dns {
                    mx: Lookup::Failed("SERVFAIL".into()),
                    ..healthy()
                },
                vec![],
                (S::Unknown, None),
            ),
        ];
        check_table(R::Spf, cases);
    }

    #[test]
    fn dkim() {
        let cases: Vec<Case> = vec![
            (
                "Easy DKIM signing, CNAMEs in place",
                ready(),
                healthy(),
                vec![],
                (S::Pass, Some(E::Ses)),
            ),
            (
                "signing off",
                Some(state(Some(("mail.example.com", "SUCCESS")), false)),
                healthy(),
                vec![],
                (S::Fail, Some(E::Ses)),
            ),
            (
                "the CNAMEs are missing",
                ready(),
                Dns {
                    dkim_points_to_ses: false,
                    ..healthy()
                },
                vec![],
                (S::Fail, Some(E::Dns)),
            ),
            ("no SES state", None, healthy(), vec![], (S::Unknown, None)),
            (
                "a message signed d=example.com that passed",
                None,
                healthy(),
                vec![Sample {
                    dkim: vec![("amazonses.com".into(), true), ("example.com".into(), true)],
                    ..Sample::default()
                }],
                (S::Pass, Some(E::Canary)),
            ),
            (
                "only SES's d=amazonses.com passed: not the domain's",
                None,
                healthy(),
                vec![Sample {
                    dkim: vec![("amazonses.com".into(), true)],
                    ..Sample::default()
                }],
                (S::Fail, Some(E::Canary)),
            ),
            (
                "the domain's signature failed",
                None,
                healthy(),
                vec![Sample {
                    dkim: vec![("example.com".into(), false)],
                    ..Sample::default()
                }],
                (S::Fail, Some(E::Canary)),
            ),
        ];
        check_table(R::Dkim, cases);
    }

    #[test]
    fn dmarc_policy() {
        let cases: Vec<(&str, Dns, Expected)> = vec![
            ("p=none is enough", healthy(), (S::Pass, Some(E::Dns))),
            (
                "p=reject",
                Dns {
                    dmarc: Some("v=DMARC1; p=reject"),
                    ..healthy()
                },
                (S::Pass, Some(E::Dns)),
            ),
            (
                "no record anywhere up the tree",
                Dns {
                    dmarc: None,
                    ..healthy()
                },
                (S::Fail, Some(E::Dns)),
            ),
        ];
        for (case, dns, expected) in cases {
            let judged = judge(ready(), dns, no_signals);
            assert_eq!(status_of(&judged, R::DmarcPolicy), expected, "{case}");
        }
    }

    #[test]
    fn alignment() {
        let cases: Vec<(&str, Option<IdentityState>, Dns, Expected)> = vec![
            (
                "DKIM d=example.com and SPF mail.example.com, relaxed",
                ready(),
                healthy(),
                (S::Pass, Some(E::Ses)),
            ),
            (
                "no DMARC record: d= equal to From aligns all the same",
                ready(),
                Dns {
                    dmarc: None,
                    ..healthy()
                },
                (S::Pass, Some(E::Ses)),
            ),
            (
                "strict SPF, but DKIM d=example.com aligns",
                ready(),
                Dns {
                    dmarc: Some("v=DMARC1; p=none; aspf=s"),
                    ..healthy()
                },
                (S::Pass, Some(E::Ses)),
            ),
            (
                "no DKIM signing and no custom MAIL FROM: nothing aligns",
                Some(state(None, false)),
                healthy(),
                (S::Fail, Some(E::Ses)),
            ),
            ("not known", None, healthy(), (S::Unknown, None)),
        ];
        for (case, state, dns, expected) in cases {
            let judged = judge(state, dns, no_signals);
            assert_eq!(status_of(&judged, R::Alignment), expected, "{case}");
        }
    }

    #[test]
    fn mail_from() {
        let cases: Vec<Case> = vec![
            (
                "SUCCESS and exactly SES's MX",
                ready(),
                healthy(),
                vec![],
                (S::Pass, Some(E::Ses)),
            ),
            (
                "no custom MAIL FROM",
                Some(state(None, true)),
                healthy(),
                vec![],
                (S::Fail, Some(E::Ses)),
            ),
            (
                "SES says FAILED",
                Some(state(Some(("mail.example.com", "FAILED")), true)),
                healthy(),
                vec![],
                (S::Fail, Some(E::Ses)),
            ),
            (
                "the MX is missing",
                ready(),
                Dns {
                    mx: Lookup::Missing,
                    ..healthy()
                },
                vec![],
                (S::Fail, Some(E::Dns)),
            ),
            (
                "another MX beside SES's",
                ready(),
                Dns {
                    mx: Lookup::Found(vec![(10, SES_MX.into()), (20, "mx.example.net".into())]),
                    ..healthy()
                },
                vec![],
                (S::Fail, Some(E::Dns)),
            ),
            (
                "the MX lookup failed",
                ready(),
                Dns {
                    mx: Lookup::Failed("timeout".into()),
                    ..healthy()
                },
                vec![],
                (S::Unknown, None),
            ),
            (
                "no SES state: unknown",
                None,
                healthy(),
                vec![],
                (S::Unknown, None),
            ),
        ];
        check_table(R::MailFrom, cases);
    }

    #[test]
    fn one_click_unsubscribe() {
        let list = |https, one_click_post, signed| Sample {
            list: Some(ListUnsubscribe {
                https,
                one_click_post,
                signed,
            }),
            ..Sample::default()
        };
        let cases: Vec<(&str, Vec<Sample>, Expected)> = vec![
            (
                "no list mail sampled",
                vec![Sample::default()],
                (S::Unknown, None),
            ),
            (
                "https, the Post header, both signed",
                vec![list(true, true, true), Sample::default()],
                (S::Pass, Some(E::Canary)),
            ),
            (
                "mailto: only",
                vec![list(false, false, true)],
                (S::Fail, Some(E::Canary)),
            ),
            (
                "no List-Unsubscribe-Post",
                vec![list(true, false, true)],
                (S::Fail, Some(E::Canary)),
            ),
            (
                "not covered by an aligned signature",
                vec![list(true, true, false)],
                (S::Fail, Some(E::Canary)),
            ),
            (
                "one list message of two without it",
                vec![list(true, true, true), list(false, false, true)],
                (S::Fail, Some(E::Canary)),
            ),
        ];
        for (case, samples, expected) in cases {
            let judged = judge(ready(), healthy(), |i| i.samples = samples.clone());
            assert_eq!(
                status_of(&judged, R::OneClickUnsubscribe),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn complaint_rate() {
        type Deliveries = Option<(u64, u64)>;
        let cases: Vec<(&str, Deliveries, Expected)> = vec![
            ("no feedback given", None, (S::Unknown, None)),
            (
                "99 deliveries say nothing",
                Some((99, 0)),
                (S::Unknown, None),
            ),
            (
                "0.2%: under 0.3%",
                Some((1_000, 2)),
                (S::Pass, Some(E::Feedback)),
            ),
            (
                "exactly 0.3% fails",
                Some((1_000, 3)),
                (S::Fail, Some(E::Feedback)),
            ),
            (
                "counts near 2^64 neither wrap nor panic",
                Some((u64::MAX, u64::MAX)),
                (S::Fail, Some(E::Feedback)),
            ),
        ];
        for (case, feedback, expected) in cases {
            let judged = judge(ready(), healthy(), |i| i.feedback = feedback);
            assert_eq!(status_of(&judged, R::ComplaintRate), expected, "{case}");
        }
        // Gmail's target is 0.1%: 0.2% passes, above it.
        assert!(above_target(2, 1_000) && !above_target(0, 1_000));
    }

    #[test]
    fn receivers_verdicts_support_fail_or_stand_against() {
        let verdict =
            |requirement, receiver: &str, code: &str, messages, evidence| ReceiverVerdict {
                requirement,
                receiver: receiver.into(),
                code: Some(code.into()),
                messages,
                evidence,
            };
        let dkim_bounce = verdict(R::Dkim, "Gmail", "5.7.30", 3, E::Feedback);
        let dmarc_report = verdict(R::Alignment, "google.com", "5.7.26", 12, E::Reports);
        // (case, SES's state, the verdicts, the requirement looked at, expected, the
        // messages the verdicts kept beside it)
        type VerdictCase = (
            &'static str,
            Option<IdentityState>,
            Vec<ReceiverVerdict>,
            Requirement,
            Expected,
            u64,
        );
        let cases: Vec<VerdictCase> = vec![
            (
                "nothing else judged DKIM: Gmail's 5.7.30 bounces fail it",
                None,
                vec![dkim_bounce.clone()],
                R::Dkim,
                (S::Fail, Some(E::Feedback)),
                3,
            ),
            (
                "SES signs and the records are there: the bounces stand beside the pass",
                ready(),
                vec![dkim_bounce.clone(), dkim_bounce.clone()],
                R::Dkim,
                (S::Pass, Some(E::Ses)),
                6,
            ),
            (
                "a verdict on DKIM says nothing of SPF",
                None,
                vec![dkim_bounce.clone()],
                R::Spf,
                (S::Unknown, None),
                0,
            ),
            (
                "Google's report comment fails alignment nothing else judged",
                None,
                vec![dmarc_report.clone()],
                R::Alignment,
                (S::Fail, Some(E::Reports)),
                12,
            ),
            (
                "no verdicts: as before",
                None,
                vec![],
                R::Dkim,
                (S::Unknown, None),
                0,
            ),
        ];
        for (case, state, verdicts, requirement, expected, messages) in cases {
            let judged = judge(state, healthy(), |i| i.verdicts = verdicts.clone());
            assert_eq!(status_of(&judged, requirement), expected, "{case}");
            let kept: u64 = judged
                .iter()
                .filter(|j| j.requirement == requirement)
                .flat_map(|j| &j.receivers)
                .map(|v| v.messages)
                .sum();
            assert_eq!(kept, messages, "{case}");
        }
        assert_eq!(rejected_for(Failed::Unauthenticated), R::Alignment);
        assert_eq!(rejected_for(Failed::NoPolicy), R::DmarcPolicy);
    }

    #[test]
    fn tls_and_ptr() {
        let cases: Vec<(&str, Option<TlsPolicy>, Expected)> = vec![
            (
                "the configuration set's policy not known",
                None,
                (S::Unknown, None),
            ),
            ("Require", Some(TlsPolicy::Require), (S::Pass, Some(E::Ses))),
            (
                "Optional: SES still uses TLS where the receiver offers it",
                Some(TlsPolicy::Optional),
                (S::Pass, Some(E::Ses)),
            ),
        ];
        for (case, tls, expected) in cases {
            let judged = judge(ready(), healthy(), |i| i.tls = tls);
            assert_eq!(status_of(&judged, R::Tls), expected, "{case}");
        }
        let sender = |verified_name: Option<&str>, ses_shared| Sample {
            sender: Some(SendingAddress {
                ip: "192.0.2.1".into(),
                verified_name: verified_name.map(str::to_owned),
                ses_shared,
            }),
            ..Sample::default()
        };
        let cases: Vec<(&str, Vec<Sample>, Expected)> = vec![
            ("nothing sampled", vec![], (S::Unknown, None)),
            (
                "reverse and forward agree",
                vec![sender(Some("a1-2.smtp-out.amazonses.com"), true)],
                (S::Pass, Some(E::Canary)),
            ),
            (
                "an SES shared address without a verified name never fails",
                vec![sender(None, true)],
                (S::Unknown, None),
            ),
        ];
        for (case, samples, expected) in cases {
            let judged = judge(ready(), healthy(), |i| i.samples = samples.clone());
            assert_eq!(status_of(&judged, R::Ptr), expected, "{case}");
        }
    }
}
