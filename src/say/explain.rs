//! What a finding says in words: its detail line, its remedy, its headline and its evidence
//! lines. Every text about a finding is written here, once; the CLI, the alerts and the logs
//! all take it from here.
//!
//! The remedy is a value ([`Remedy`]): which fix the SES developer guide gives for the facts.
//! Findings of the feedback path and of the audit end their detail line with it (they are read
//! on their own, in a bounce log or a `check` run); a received message's findings leave it to
//! the alert, which prints it under "What to do".

use crate::judge::align::{Alignment, IdentifierResult, PolicyState, mode_tag};
use crate::judge::auth_rejection::Failed;
use crate::judge::feedback::{Happened, Recipients};
use crate::judge::findings::{
    Evidence, Facts, Finding, Kind, MxProblem, PolicyBasis, Rejected, Reporter, Sending, SpfProblem,
};
use crate::judge::incident::Unmonitored;
use crate::judge::policy::Disposition;
use crate::judge::posture::{CheckResult, DmarcAdvice, Observed, Question};
use crate::read::identity_state::{MailFromAttributes, MxFailureBehavior};
use crate::read::notification::IdentityArn;
use crate::read::observation::{
    IdentifierCheck, NotReverified, Reverification, SesVerdicts, Source,
};
use crate::read::service_event::RecommendationType;
use crate::say::calendar::{date_range, utc_time};
use std::fmt::{self, Write as _};

/// The fix for a finding, as the SES developer guide gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy<'a> {
    /// Bring the custom MAIL FROM domain's MX and SPF back (the fallback, a failed status).
    RestoreMailFrom {
        mail_from: Option<&'a str>,
        region: Option<&'a str>,
    },
    PublishMailFromMx {
        mail_from: &'a str,
        region: &'a str,
    },
    PublishMailFromSpf {
        mail_from: Option<&'a str>,
    },
    /// A receiver says SPF failed.
    CheckMailFromSpf,
    /// Make one identifier pass aligned.
    AlignAnIdentifier,
    /// Something passed, for the wrong domain.
    SignForFromDomain,
    AddCustomMailFrom,
    CheckDkim,
    RestoreDkimRecords,
    EnableDkimSigning,
    RelaxSpfAlignment,
    PublishDmarc {
        domain: Option<&'a str>,
    },
    /// The receiver requires authenticated mail and nothing passed.
    AuthenticateFully,
    NoChangeUnlessRepeated,
    /// Whoever adds the signature sets a body length.
    SignWholeBody,
    /// A source other than SES sends as the domain.
    IdentifySource,
    /// Receivers' senders could not use TLS to the domain's MX hosts.
    CheckInboundTls,
    /// Let the report address's domain agree to take the reports.
    AuthorizeReportDestination {
        record: &'a str,
    },
    /// A probe never arrived: find where the loop broke.
    TraceTheProbe,
    /// Meet a mailbox provider's bulk-sender requirement (`say::bulk` words the fix).
    MeetBulkRequirement(&'a crate::judge::bulk::Judgement),
    /// SES paused sending.
    FixThePauseCause,
    /// VDM's own advice.
    FollowTheAdvisor,
    /// A recovery.
    NothingToDo,
}

impl fmt::Display for Remedy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::RestoreMailFrom { mail_from, region } => write!(
                f,
                "Restore the MX record \"10 feedback-smtp.{}.amazonses.com\" and the SPF TXT record \"v=spf1 include:amazonses.com ~all\" on {}, then check the identity's MAIL FROM status in the SES console (it must read SUCCESS).",
                region.unwrap_or("<region>"),
                mail_from.unwrap_or("the MAIL FROM domain")
            ),
            Self::PublishMailFromMx { mail_from, region } => write!(
                f,
                "Publish exactly one MX record on {mail_from}: \"10 feedback-smtp.{region}.amazonses.com\"."
            ),
            Self::PublishMailFromSpf { mail_from } => write!(
                f,
                "Publish \"v=spf1 include:amazonses.com ~all\" as TXT on {}.",
                mail_from.unwrap_or("the MAIL FROM domain")
            ),
            Self::CheckMailFromSpf => f.write_str(
                "Check that the MAIL FROM domain's SPF record includes amazonses.com (and that the custom MAIL FROM domain is still in use, not the amazonses.com fallback).",
            ),
            Self::AlignAnIdentifier => f.write_str(
                "Make DKIM pass for the From domain (SES Easy DKIM, verified) or SPF pass for a custom MAIL FROM under it, so DMARC aligns.",
            ),
            Self::SignForFromDomain => f.write_str(
                "Sign with DKIM for the From domain (not only amazonses.com) or use a custom MAIL FROM subdomain of it, so at least one identifier aligns.",
            ),
            Self::AddCustomMailFrom => f.write_str(
                "Configure a custom MAIL FROM domain under the From domain (with its MX and SPF records) so SPF aligns as well as DKIM.",
            ),
            Self::CheckDkim => f.write_str(
                "Check the identity's DKIM status in SES and that its DKIM CNAME (or BYODKIM TXT) records still resolve.",
            ),
            Self::RestoreDkimRecords => f.write_str(
                "Restore the DKIM records the SES console lists under the identity's DKIM settings, then check its DKIM status.",
            ),
            Self::EnableDkimSigning => f.write_str("Enable DKIM signing for the identity in SES."),
            Self::RelaxSpfAlignment => f.write_str(
                "Use aspf=r (relaxed) in the DMARC record and rely on DKIM for strict alignment (adkim=s): SES's MAIL FROM is always a subdomain, so strict SPF alignment can never pass.",
            ),
            Self::PublishDmarc { domain } => write!(
                f,
                "Publish a DMARC record at _dmarc.{} (start with \"v=DMARC1; p=none; rua=mailto:…\").",
                domain.unwrap_or("<From domain>")
            ),
            Self::AuthenticateFully => f.write_str(
                "Enable Easy DKIM for the From domain and a custom MAIL FROM domain with SPF, then publish DMARC: the receiver requires authenticated mail.",
            ),
            Self::NoChangeUnlessRepeated => {
                f.write_str("No change is needed unless this repeats; compare with the raw message.")
            }
            Self::SignWholeBody => f.write_str(
                "Sign the whole body: remove the body length (l=) from the signer's settings. Text added after signing, by a mailing list or by anyone else, passes as yours while it is set.",
            ),
            Self::IdentifySource => f.write_str(
                "Find out who sends from this address: if it is yours, sign its mail with DKIM for the domain (or add it to SPF); if it is not, the published policy is what stops it.",
            ),
            Self::CheckInboundTls => f.write_str(
                "Check the MX hosts the report names: their TLS certificates (names, expiry, chain) and the MTA-STS policy or DANE records published for the domain.",
            ),
            Self::AuthorizeReportDestination { record } => write!(
                f,
                "Publish TXT \"v=DMARC1\" at {record}, or send rua= to an address under the policy domain."
            ),
            Self::FixThePauseCause => f.write_str(
                "Read the cause on the SES console's reputation page for this resource and fix it; then re-enable sending (a customer-managed pause) or ask AWS to review it (an AWS-managed one). No mail leaves until then.",
            ),
            Self::FollowTheAdvisor => f.write_str(
                "Open the recommendation in the SES console (Virtual Deliverability Manager, Advisor) and apply it.",
            ),
            Self::TraceTheProbe => f.write_str(
                "Send a message from the identity yourself and see whether it arrives; if it does not, read SES's sending statistics and the identity's status. If it does, check the monitor's receipt path: the receipt rule set is active, its rule matches the canary address, and the receipt function's logs show no errors.",
            ),
            Self::MeetBulkRequirement(judgement) => match crate::say::bulk::fix(judgement) {
                Some(fix) => {
                    let mut chars = fix.chars();
                    let first = chars.next().map(|c| c.to_uppercase().to_string());
                    write!(f, "{}{}.", first.unwrap_or_default(), chars.as_str())
                }
                None => f.write_str("See docs/bulk-senders.md for this requirement."),
            },
            Self::NothingToDo => f.write_str("No action is needed."),
        }
    }
}

/// The fix for these facts.
pub fn remedy(facts: &Facts) -> Remedy<'_> {
    match facts {
        Facts::MailFromFallback { custom, .. } => Remedy::RestoreMailFrom {
            mail_from: Some(&custom.mail_from),
            region: None,
        },
        Facts::MailFromStatus {
            mail_from, region, ..
        } => Remedy::RestoreMailFrom {
            mail_from: Some(mail_from),
            region: region.as_deref(),
        },
        Facts::MailFromMxMissing {
            mail_from, region, ..
        } => Remedy::PublishMailFromMx { mail_from, region },
        Facts::MailFromSpfMissing { mail_from, .. } => Remedy::PublishMailFromSpf {
            mail_from: Some(mail_from),
        },
        Facts::SpfFail { .. } => Remedy::PublishMailFromSpf { mail_from: None },
        Facts::DmarcFail { .. } | Facts::AuthComplaint { .. } => Remedy::AlignAnIdentifier,
        Facts::DkimUnaligned { .. } => Remedy::SignForFromDomain,
        Facts::SpfUnaligned { .. } => Remedy::AddCustomMailFrom,
        Facts::DkimFail { .. } => Remedy::CheckDkim,
        Facts::DkimDnsMissing { .. } => Remedy::RestoreDkimRecords,
        Facts::DkimNotSigning { .. } => Remedy::EnableDkimSigning,
        Facts::StrictSpfAlignment { .. } => Remedy::RelaxSpfAlignment,
        Facts::NoDmarcPolicy { domain, .. } => Remedy::PublishDmarc {
            domain: Some(domain),
        },
        Facts::AuthBounce { rejection, .. } => match rejection.failed {
            Failed::Spf => Remedy::CheckMailFromSpf,
            Failed::Dkim => Remedy::CheckDkim,
            Failed::Dmarc => Remedy::AlignAnIdentifier,
            Failed::Alignment => Remedy::SignForFromDomain,
            // The receiver's reply names no domain to publish at.
            Failed::NoPolicy => Remedy::PublishDmarc { domain: None },
            Failed::Unauthenticated => Remedy::AuthenticateFully,
        },
        Facts::DkimPartialBody { .. } => Remedy::SignWholeBody,
        Facts::ReverifiedMismatch { .. }
        | Facts::DkimNotReverified { .. }
        | Facts::DmarcMismatch { .. }
        | Facts::ForgedAuthResults { .. }
        | Facts::HeadersTruncated => Remedy::NoChangeUnlessRepeated,
        Facts::SendingPaused { .. } => Remedy::FixThePauseCause,
        Facts::AdvisorRecommendation { kind, .. } => match kind {
            RecommendationType::Dkim => Remedy::CheckDkim,
            RecommendationType::Spf => Remedy::CheckMailFromSpf,
            RecommendationType::Dmarc => Remedy::PublishDmarc { domain: None },
            _ => Remedy::FollowTheAdvisor,
        },
        Facts::SendingResumed { .. } | Facts::AdvisorResolved { .. } => Remedy::NothingToDo,
        Facts::ReportMailFromFallback { custom, .. } => Remedy::RestoreMailFrom {
            mail_from: Some(&custom.mail_from),
            region: None,
        },
        Facts::ReportDmarcFail { .. } => Remedy::AlignAnIdentifier,
        Facts::ReportUnknownSource { .. } => Remedy::IdentifySource,
        Facts::ReportUnauthenticated { .. } => Remedy::NoChangeUnlessRepeated,
        Facts::TlsRptFailure { .. } => Remedy::CheckInboundTls,
        Facts::ReportDestinationUnauthorized { record, .. } => {
            Remedy::AuthorizeReportDestination { record }
        }
        Facts::CanaryMissing { .. } => Remedy::TraceTheProbe,
        Facts::BulkRequirementFailed(judgement) => Remedy::MeetBulkRequirement(judgement),
    }
}

/// A finding's detail line: what happened and, where the finding is read on its own, the fix.
pub fn detail(finding: &Finding) -> String {
    let mut text = statement(finding);
    if matches!(
        finding.source,
        Source::SesNotification
            | Source::EventPublishing
            | Source::Audit
            | Source::SesServiceEvent
            | Source::Report
            | Source::Canary
    ) {
        let _ = write!(text, ". Fix: {}", remedy(&finding.facts));
    }
    text
}

/// What a consequence means for the mail of its cause, in one line: the impact its cause's
/// alert carries (`judge::cause`). Other facts are worded by their detail line.
pub fn impact(facts: &Facts) -> String {
    match facts {
        Facts::SpfUnaligned { header_from, .. } => {
            format!("SPF no longer aligns with From {header_from}; DMARC now rests on DKIM alone")
        }
        Facts::DkimUnaligned { header_from, .. } => {
            format!("DKIM no longer aligns with From {header_from}; DMARC now rests on SPF alone")
        }
        Facts::DmarcFail {
            header_from,
            policy,
        } => {
            let consequence = match policy.disposition() {
                Some(Disposition::Reject) => "p=reject receivers reject this mail",
                Some(Disposition::Quarantine) => "p=quarantine receivers file this mail as spam",
                Some(Disposition::None) => {
                    "p=none: receivers still deliver it, but report it as failing"
                }
                None => "what receivers do depends on a policy not looked up",
            };
            format!("DMARC fails for {header_from}: {consequence}")
        }
        other => headline(other.kind()).to_owned(),
    }
}

/// The canary probe's subject: what a person who finds it in a mailbox reads first.
pub fn probe_subject(identity: &str) -> String {
    format!("ses-dmarc-monitor canary for {identity}")
}

/// The canary probe's text, sent at `now` (Unix seconds).
pub fn probe_body(identity: &str, now: u64) -> String {
    format!(
        "This probe was sent through Amazon SES from {identity} at {} by the ses-dmarc-monitor canary, to check how mail from the identity authenticates when it arrives. Nothing needs to be done with it.\n",
        utc_time(now)
    )
}

/// Why incidents are over: a canary probe that arrived without their problem.
pub fn probe_evidence(message_id: &str, identity: &str) -> String {
    format!("the canary probe {message_id} from {identity} arrived without it")
}

/// Why incidents are over: a receiver whose reports found them sent a report without them.
pub fn report_evidence(reporter: &str) -> String {
    format!("a later report from {reporter} shows it no more")
}

/// Why an incident was closed without being known to be over: what no longer watches it.
pub fn unmonitored(why: Unmonitored) -> &'static str {
    match why {
        Unmonitored::DomainRemoved => {
            "the domain is no longer among the monitored domains (MonitoredDomains), so nothing watches it any more"
        }
        Unmonitored::IdentityGone => {
            "no SES identity covers the domain any more, so the audit and the canary no longer check it"
        }
        Unmonitored::CanaryOff => "the canary is off, so no probe is expected any more",
        Unmonitored::ConfigurationSetGone => {
            "the configuration set no longer exists, so nothing is sent with it any more"
        }
        Unmonitored::BulkSenderOff => {
            "bulk-sender checks are off (BulkSenderChecks), so the audit no longer judges the requirement"
        }
    }
}

/// Why incidents are over: an audit check found what they were about healthy.
pub fn audit_evidence(check: &CheckResult) -> String {
    format!(
        "the audit found {} healthy: {}",
        check.check.as_str(),
        observed(&check.observed)
    )
}

/// Why a failed bulk-sender requirement's incident is over: the audit found it met.
pub fn readiness_evidence(judgement: &crate::judge::bulk::Judgement) -> String {
    format!(
        "the audit found the bulk-sender requirement {} met: {}",
        judgement.requirement.as_str(),
        crate::say::bulk::detail(judgement)
    )
}

/// What a feedback notification says happened, in one line: to how many recipients at which
/// domains, never an address.
pub fn happened(happened: &Happened) -> String {
    let recipients = |r: &Recipients| {
        let domains = if r.domains.is_empty() {
            "unknown domains".to_owned()
        } else {
            r.domains.join(", ")
        };
        format!("{} recipient(s) at {domains}", r.count)
    };
    match happened {
        Happened::Bounced {
            bounce_type,
            sub_type,
            recipients: r,
        } => format!("{bounce_type}/{sub_type} bounce, {}", recipients(r)),
        Happened::Delayed {
            delay_type,
            recipients: r,
        } => format!("delivery delayed ({delay_type}), {}", recipients(r)),
        Happened::Complained {
            feedback_type,
            recipients: r,
        } => format!(
            "complaint ({}), {}",
            feedback_type.as_deref().map_or_else(
                || "no feedback type".to_owned(),
                |t| format!("feedback type {t}")
            ),
            recipients(r)
        ),
        Happened::Delivered(r) => format!("delivered to {}", recipients(r)),
        Happened::Rejected { reason } => format!(
            "rejected by SES before sending: {}",
            reason.as_deref().unwrap_or("no reason given")
        ),
        Happened::RenderingFailed { template } => format!(
            "template {} failed to render",
            template.as_deref().unwrap_or("(unnamed)")
        ),
        Happened::Sent => "accepted by SES for sending".into(),
        Happened::Opened => "opened".into(),
        Happened::Clicked => "link clicked".into(),
        Happened::SubscriptionChanged => "subscription preferences changed".into(),
        Happened::Unknown(name) => format!("an event type this version does not know ({name})"),
    }
}

/// What an audit check found, in one line: the `check` command's report, the log, the
/// evidence that ends an incident.
pub fn observed(observed: &Observed) -> String {
    match observed {
        Observed::NoCustomMailFrom => "no custom MAIL FROM domain: mail leaves with an amazonses.com envelope sender, so only DKIM can align".into(),
        Observed::MailFromStatus { mail_from, status } => {
            format!("SES reports MAIL FROM {mail_from} as {status}")
        }
        Observed::LookupFailed {
            question,
            name,
            error,
        } => {
            let question = match question {
                Question::Mx => "MX",
                Question::Txt => "TXT",
                Question::Dmarc => "DMARC",
            };
            format!("{question} lookup for {name} failed ({error}); not judged")
        }
        Observed::MxMissing { mail_from } => format!("{mail_from} has no MX record"),
        Observed::Mx {
            mail_from,
            records,
            expected: None,
        } => format!("{mail_from} MX {}", mx_list(records)),
        Observed::Mx {
            mail_from,
            records,
            expected: Some(expected),
        } => format!(
            "{mail_from} MX {}, expected only 10 {expected}",
            mx_list(records)
        ),
        Observed::Spf {
            mail_from,
            problem,
        } => match problem {
            None => format!("{mail_from} SPF includes amazonses.com"),
            Some(SpfProblem::Missing) => format!("{mail_from} has no SPF record"),
            Some(SpfProblem::Unparsable(record)) => {
                format!("{mail_from} has an SPF record that does not parse: \"{record}\"")
            }
            Some(SpfProblem::NoAmazonSesInclude(record)) => format!(
                "{mail_from} has an SPF record without include:amazonses.com: \"{record}\""
            ),
            Some(SpfProblem::Several(count)) => {
                format!("{mail_from} has {count} SPF records (RFC 7208 allows one: a permerror)")
            }
        },
        Observed::DkimSigning { enabled, status } => format!(
            "DKIM signing {}, status {}",
            if *enabled { "enabled" } else { "disabled" },
            status.as_deref().unwrap_or("unknown")
        ),
        Observed::DkimLookupsFailed(failed) => {
            format!("lookups failed: {}; not judged", failed.join(", "))
        }
        Observed::DkimInPlace(count) => format!("{count} DKIM record(s) in place"),
        Observed::DkimMissing(missing) => format!("missing or wrong: {}", missing.join(", ")),
        Observed::NoDmarcRecord { domain } => format!("no DMARC record for {domain}"),
        Observed::Dmarc {
            disposition,
            record_at,
            adkim,
            aspf,
            advice,
        } => {
            let mut line = published_policy(*disposition, record_at, *adkim, *aspf);
            for advice in advice {
                line.push_str(match advice {
                    DmarcAdvice::MonitorOnly => "; p=none monitors only: move to p=quarantine or p=reject (with adkim=s) once reports are clean",
                    DmarcAdvice::NoReports => "; no rua=: nobody receives aggregate reports",
                });
            }
            line
        }
        Observed::ReportAuthorizationMissing(names) => {
            format!("no TXT \"v=DMARC1\" at {}", names.join(", "))
        }
        Observed::ReportAuthorizationFailed(failed) => {
            format!("lookup failed: {}; not judged", failed.join(", "))
        }
        Observed::ReportAuthorizationFound(names) => format!(
            "reports may go to another domain: {} found",
            names.join(", ")
        ),
    }
}

/// A finding's detail line as a method, for the places that word findings: `finding.detail()`.
pub trait Detail {
    fn detail(&self) -> String;
}

impl Detail for Finding {
    fn detail(&self) -> String {
        detail(self)
    }
}

/// What happened, in one line.
fn statement(finding: &Finding) -> String {
    let domain = finding.domain.as_deref().unwrap_or("an unknown domain");
    match &finding.facts {
        Facts::MailFromFallback { envelope, custom } => format!(
            "the envelope sender is {} (from {}), not the custom MAIL FROM domain {} of identity {}: SES fell back to its default, so SPF cannot align",
            envelope.domain, envelope.origin, custom.mail_from, custom.identity
        ),
        Facts::MailFromStatus {
            identity,
            mail_from,
            status,
            behavior,
            ..
        } => format!(
            "identity {identity}: SES reports MAIL FROM domain {mail_from} as {status}; {}",
            consequence(behavior.as_ref())
        ),
        Facts::DmarcFail {
            header_from,
            policy,
        } => {
            let policy_text = match policy {
                PolicyBasis::Published(d) => format!("p={d}"),
                PolicyBasis::ReportedBySes(d) => format!("p={d} (as SES reported it)"),
                PolicyBasis::Unknown => "policy unknown offline (give --policy or --dns)".into(),
            };
            let effect = match policy.disposition() {
                Some(crate::judge::policy::Disposition::Reject) => "reject this mail",
                Some(crate::judge::policy::Disposition::Quarantine) => "send this mail to spam",
                _ => "may treat this mail as unauthenticated",
            };
            format!(
                "no SPF or DKIM pass aligns with From {header_from}; {policy_text}: receivers {effect}"
            )
        }
        Facts::SpfUnaligned {
            header_from,
            domain,
            aspf,
        } => format!(
            "SPF passed for {}, which does not align with From {header_from} (aspf={})",
            or_unknown(domain.as_deref()),
            mode_tag(*aspf)
        ),
        Facts::DkimUnaligned {
            header_from,
            domains,
            adkim,
        } => {
            let domains: Vec<String> = domains
                .iter()
                .map(|d| format!("d={}", or_unknown(d.as_deref())))
                .collect();
            format!(
                "DKIM passed only for {}, none aligned with From {header_from} (adkim={})",
                domains.join(", "),
                mode_tag(*adkim)
            )
        }
        Facts::SpfFail { result, domain } => {
            format!("SPF {result} for {}", or_unknown(domain.as_deref()))
        }
        Facts::DkimFail { failures } => {
            let failures: Vec<String> = failures
                .iter()
                .map(|(result, d)| format!("{result} for d={}", or_unknown(d.as_deref())))
                .collect();
            format!("DKIM {}", failures.join(", "))
        }
        Facts::StrictSpfAlignment {
            domain,
            record_at,
            mail_from,
        } => format!(
            "the DMARC record of {domain}{} sets aspf=s; SES's MAIL FROM{} is a subdomain (or amazonses.com), so SPF can never align",
            record_at
                .as_deref()
                .filter(|at| at != domain)
                .map(|at| format!(" (at {at})"))
                .unwrap_or_default(),
            mail_from
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default()
        ),
        Facts::NoDmarcPolicy {
            domain,
            reported_by_ses,
            nothing_aligns,
        } => format!(
            "{domain} publishes no DMARC record{} (bulk-sender rules at Gmail and Yahoo require one){}",
            if *reported_by_ses {
                ", as SES reported it"
            } else {
                ""
            },
            if *nothing_aligns {
                "; no SPF or DKIM pass aligns with it, so this mail will fail DMARC once a policy is published"
            } else {
                ""
            }
        ),
        Facts::AuthBounce {
            rejection,
            how,
            recipient_domains,
            sending,
            sender_dkim,
        } => {
            let verb = match how {
                Rejected::Bounced => "bounced",
                Rejected::Delayed => "delayed",
            };
            let code = rejection.code.as_deref().map(|c| format!(" {c}"));
            let how = match (rejection.transient, code) {
                (true, code) => format!(
                    "{verb} (transient{}: SES retries, but mail will bounce if it persists)",
                    code.unwrap_or_default()
                ),
                (false, Some(code)) => format!("{verb} ({})", code.trim_start()),
                (false, None) => verb.to_owned(),
            };
            let dkim = if sender_dkim.is_empty() {
                String::new()
            } else {
                format!(
                    "; the message carried the sender's own DKIM signature(s) for {}",
                    sender_dkim.join(", ")
                )
            };
            format!(
                "{} {how} mail from {domain}: {}; recipient domain(s) {}{}{dkim}",
                rejection.provider,
                what_failed(rejection.failed),
                recipient_domains
                    .iter()
                    .map(|d| or_unknown(d.as_deref()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", "),
                sending_text(sending)
            )
        }
        Facts::AuthComplaint {
            recipient_domains,
            sending,
        } => format!(
            "the mailbox provider ({}) reported an authentication failure (feedback type auth-failure) for mail from {domain}{}",
            domain_list(recipient_domains),
            sending_text(sending)
        ),
        Facts::ReverifiedMismatch {
            method,
            verified,
            reported,
        } => format!(
            "{} verified again on the attached message: {}; the trusted server reported {}",
            method.as_str().to_ascii_uppercase(),
            describe_checks(verified),
            describe_checks(reported)
        ),
        Facts::DkimNotReverified {
            domain,
            selector,
            reason,
            kept,
        } => {
            let signature = signature_name(domain.as_deref(), selector.as_deref());
            match kept {
                Some(result) => format!(
                    "{signature} could not be verified again here ({reason}); the trusted server's {result} is kept"
                ),
                None => format!(
                    "{signature} could not be verified again here ({reason}), and the trusted server did not pass it: counted as permerror"
                ),
            }
        }
        Facts::DkimPartialBody {
            domain,
            signed,
            body,
        } => format!(
            "{} signs only the first {signed} of the body's {body} octets (l={signed}): the last {} are not authenticated, and receivers that accept l= still pass the message",
            signature_name(domain.as_deref(), None),
            body.saturating_sub(*signed)
        ),
        Facts::DmarcMismatch {
            reporter,
            reported_pass,
        } => {
            let who = match (reporter, reported_pass) {
                (Reporter::SesVerdict, true) => "SES's dmarcVerdict is PASS",
                (Reporter::SesVerdict, false) => "SES's dmarcVerdict is FAIL",
                (Reporter::TrustedHeader, true) => "the trusted header says dmarc=pass",
                (Reporter::TrustedHeader, false) => "the trusted header says dmarc=fail",
            };
            format!(
                "{who}, but the recomputed alignment {}",
                if *reported_pass { "fails" } else { "passes" }
            )
        }
        Facts::ForgedAuthResults { count } => format!(
            "{count} Authentication-Results header(s) below the trusted one claim its authserv-id: added before the message reached the trusted server, and ignored"
        ),
        Facts::HeadersTruncated => {
            "SES truncated the headers (over 10 KB); results below may be partial".into()
        }
        Facts::MailFromMxMissing {
            mail_from,
            problem,
            behavior,
            region,
        } => {
            let expected = format!("feedback-smtp.{region}.amazonses.com");
            match problem {
                MxProblem::Missing => format!(
                    "the MAIL FROM domain {mail_from} has no MX record; {}",
                    consequence(behavior.as_ref())
                ),
                MxProblem::Elsewhere(records) => format!(
                    "the MAIL FROM domain {mail_from} points its MX at {} instead of {expected}; {}",
                    mx_list(records),
                    consequence(behavior.as_ref())
                ),
                MxProblem::Extra(records) => format!(
                    "the MAIL FROM domain {mail_from} has {} MX records ({}) where SES expects exactly one; SES may fail to verify it",
                    records.len(),
                    mx_list(records)
                ),
            }
        }
        Facts::MailFromSpfMissing { mail_from, problem } => {
            let problem = match problem {
                SpfProblem::Missing => "has no SPF record".to_owned(),
                SpfProblem::Unparsable(record) => {
                    format!("has an SPF record that does not parse: \"{record}\"")
                }
                SpfProblem::NoAmazonSesInclude(record) => {
                    format!("has an SPF record without include:amazonses.com: \"{record}\"")
                }
                SpfProblem::Several(count) => {
                    format!("has {count} SPF records (RFC 7208 allows one: a permerror)")
                }
            };
            format!(
                "the MAIL FROM domain {mail_from} {problem}: SPF cannot pass for mail SES sends"
            )
        }
        Facts::DkimDnsMissing {
            domain,
            byodkim,
            missing,
            signing,
        } => format!(
            "{} record(s) for {domain} missing or wrong: {}; {}",
            if *byodkim {
                "BYODKIM key (TXT)"
            } else {
                "Easy DKIM CNAME"
            },
            missing.join(", "),
            if *signing {
                "DKIM stops passing when SES re-verifies the identity"
            } else {
                "DKIM cannot be enabled"
            }
        ),
        Facts::DkimNotSigning { domain } => format!(
            "SES does not DKIM-sign mail from {domain}: only SPF can align, and only with a custom MAIL FROM"
        ),
        Facts::SendingPaused {
            resource,
            cause,
            origin,
        } => format!(
            "SES paused sending for {}{}: no mail leaves{}",
            resource.as_deref().unwrap_or("the account"),
            match origin.as_deref() {
                Some("AWS_MANAGED") => " (by AWS)",
                Some("CUSTOMER_MANAGED") => " (by someone in the account)",
                _ => "",
            },
            cause
                .as_deref()
                .map(|c| format!("; the cause SES gives: {}", their_words(c)))
                .unwrap_or_default()
        ),
        Facts::SendingResumed { resource, status } => format!(
            "SES resumed sending for {}{}",
            resource.as_deref().unwrap_or("the account"),
            status
                .as_deref()
                .map(|s| format!(" (status {s})"))
                .unwrap_or_default()
        ),
        Facts::AdvisorRecommendation {
            kind,
            impact,
            description,
            ..
        } => format!(
            "Virtual Deliverability Manager advises on {kind} for {domain}{}: {}",
            impact
                .as_deref()
                .map(|i| format!(" (impact {i})"))
                .unwrap_or_default(),
            description
                .as_deref()
                .map_or("no description given", their_words)
        ),
        Facts::AdvisorResolved { kind, .. } => {
            format!(
                "Virtual Deliverability Manager resolved its {kind} recommendation for {domain}"
            )
        }
        Facts::ReportMailFromFallback {
            reporter,
            messages,
            range,
            custom,
        } => format!(
            "{reporter} reports {messages} message(s) from {domain} {} whose envelope sender was under amazonses.com, not the custom MAIL FROM domain {} of identity {}: SES fell back to its default, so SPF did not align",
            date_range(*range),
            custom.mail_from,
            custom.identity
        ),
        Facts::ReportDmarcFail {
            reporter,
            messages,
            range,
            policy,
        } => format!(
            "{reporter} reports {messages} message(s) from {domain} sent through SES {} that failed DMARC; {}",
            date_range(*range),
            match policy {
                Some(crate::judge::policy::Disposition::Reject) => "under p=reject it rejects them",
                Some(crate::judge::policy::Disposition::Quarantine) => {
                    "under p=quarantine it sends them to spam"
                }
                _ => "the policy enforces nothing, so they were delivered",
            }
        ),
        Facts::ReportUnknownSource {
            reporter,
            source_ip,
            messages,
        } => format!(
            "{reporter} reports {messages} message(s) from {}, not SES, using {domain} in From and failing DMARC",
            source_ip.as_deref().unwrap_or("an unnamed source")
        ),
        Facts::ReportUnauthenticated {
            reporter,
            messages,
            mailed_from: None,
        } => format!(
            "a report for {domain} naming {reporter} as its sender ({messages} message(s)) did not pass DMARC itself: anyone can send one, so its rows are counted and not believed"
        ),
        Facts::ReportUnauthenticated {
            reporter,
            messages,
            mailed_from: Some(from),
        } => format!(
            "a report for {domain} naming {reporter} as its sender ({messages} message(s)) came in mail that passed DMARC for {from}, which is not the reporter's organization: anyone with a domain can send one, so its rows are counted and not believed (when {from} is a receiver's, list it in TRUSTED_REPORTERS)"
        ),
        Facts::ReportDestinationUnauthorized {
            destination,
            record,
        } => format!(
            "{domain}'s DMARC record sends aggregate reports to {destination}, which publishes no TXT \"v=DMARC1\" at {record}: receivers send it nothing"
        ),
        Facts::BulkRequirementFailed(judgement) => {
            let (found, _) = crate::say::bulk::parts(judgement);
            format!(
                "{domain} fails the bulk-sender requirement {} of {} ({} evidence): {found}",
                judgement.requirement.as_str(),
                crate::say::bulk::provider_names(judgement.requirement).join(", "),
                judgement.evidence.map_or("no", |e| e.as_str()),
            )
        }
        Facts::CanaryMissing {
            identity,
            message_id,
            sent,
            deadline,
        } => format!(
            "the canary probe {message_id} sent from {identity} at {} did not arrive within {} minutes: mail from the identity is not getting through, or the monitor's receipt path is down",
            utc_time(*sent),
            deadline / 60
        ),
        Facts::TlsRptFailure {
            reporter,
            failed,
            successful,
            failures,
        } => {
            let mut text = format!(
                "{reporter} reports {failed} of {} TLS session(s) to {domain}'s MX hosts failed",
                failed + successful
            );
            if !failures.is_empty() {
                let listed: Vec<String> = failures
                    .iter()
                    .map(|(kind, count)| format!("{kind} {count}"))
                    .collect();
                let _ = write!(text, " ({})", listed.join(", "));
            }
            text
        }
    }
}

/// A sentence someone else wrote, without its closing full stop, so that it can stand
/// inside ours.
fn their_words(text: &str) -> &str {
    text.trim_end().trim_end_matches('.')
}

/// What a receiver found, as a phrase.
fn what_failed(failed: Failed) -> &'static str {
    match failed {
        Failed::Spf => "SPF did not pass",
        Failed::Dkim => "DKIM did not pass",
        Failed::Dmarc => "DMARC did not pass",
        Failed::Alignment => "From is not aligned with the SPF or DKIM domain",
        Failed::NoPolicy => "the From domain has no DMARC record",
        Failed::Unauthenticated => {
            "unauthenticated (the required SPF/DKIM/DMARC checks did not pass)"
        }
    }
}

/// What SES does with the identity's mail while its MAIL FROM domain is broken.
fn consequence(behavior: Option<&MxFailureBehavior>) -> &'static str {
    match behavior {
        Some(MxFailureBehavior::RejectMessage) => {
            "with BehaviorOnMxFailure REJECT_MESSAGE, SES refuses to send this identity's mail"
        }
        Some(MxFailureBehavior::UseDefaultValue) => {
            "with BehaviorOnMxFailure USE_DEFAULT_VALUE, mail is about to fall back (or already does) to the amazonses.com MAIL FROM, and SPF stops aligning"
        }
        _ => "SES cannot use the custom MAIL FROM domain",
    }
}

/// The DMARC policy a message was judged under, as every text says it: the CLI's report, the
/// alert's evidence and the audit's check.
pub fn policy_line(policy: &PolicyState) -> String {
    match policy {
        PolicyState::Published {
            at,
            disposition,
            adkim,
            aspf,
        } => published_policy(*disposition, at, *adkim, *aspf),
        PolicyState::NotPublished { reported: false } => "no DMARC record published".to_owned(),
        PolicyState::NotPublished { reported: true } => {
            "no DMARC record published, as SES reported it".to_owned()
        }
        PolicyState::Unknown => {
            "DMARC policy unknown (offline, or DNS did not answer in time), relaxed alignment assumed"
                .to_owned()
        }
    }
}

fn published_policy(
    disposition: Disposition,
    at: &str,
    adkim: Alignment,
    aspf: Alignment,
) -> String {
    format!(
        "DMARC p={disposition} (record at {at}, adkim={}, aspf={})",
        mode_tag(adkim),
        mode_tag(aspf)
    )
}

/// The sending identity, as every text names it: `sending identity example.com (eu-west-1)`.
pub fn sending_identity(arn: &IdentityArn) -> String {
    format!("sending identity {} ({})", arn.identity, arn.region)
}

fn sending_text(sending: &Sending) -> String {
    let mut text = String::new();
    if let Some(arn) = &sending.identity {
        let _ = write!(text, "; {}", sending_identity(arn));
    }
    if let Some(set) = &sending.configuration_set {
        let _ = write!(text, ", configuration set {set}");
    }
    text
}

fn domain_list(domains: &[String]) -> String {
    if domains.is_empty() {
        "unknown domains".to_owned()
    } else {
        domains.join(", ")
    }
}

fn mx_list(records: &[(u16, String)]) -> String {
    let names: Vec<String> = records
        .iter()
        .map(|(preference, exchange)| format!("{preference} {exchange}"))
        .collect();
    names.join(", ")
}

fn or_unknown(domain: Option<&str>) -> &str {
    domain.unwrap_or("an unknown domain")
}

/// `pass example.com, fail other.example`, or `nothing`.
/// What was done with an attached message's content, for the report: which results are
/// recomputed and which are the trusted server's. `None` when no content came.
pub fn reverification(reverification: &Reverification) -> Option<String> {
    const REPORTED: &str = "the results below are the trusted server's";
    Some(match reverification {
        Reverification::NoContent => return None,
        Reverification::NotDone(NotReverified::NoDns) => {
            format!("not re-verified (no DNS: use --dns or --nameserver); {REPORTED}")
        }
        Reverification::NotDone(NotReverified::Unparsable) => {
            format!("not re-verified (the attached message does not parse); {REPORTED}")
        }
        Reverification::NotDone(NotReverified::OutOfTime(budget)) => format!(
            "not re-verified (DNS did not answer within {} s); {REPORTED}",
            budget.as_secs_f32()
        ),
        Reverification::Done { spf: true, .. } => {
            "re-verified from the attached content: DKIM and SPF below are recomputed, not the trusted server's".into()
        }
        Reverification::Done { spf: false, .. } => {
            "re-verified from the attached content: DKIM below is recomputed; SPF is the trusted server's (no client IP and envelope sender to check it with)".into()
        }
    })
}

/// `the DKIM signature d=example.com (s=sel)`.
fn signature_name(domain: Option<&str>, selector: Option<&str>) -> String {
    let mut name = format!(
        "the DKIM signature d={}",
        domain.unwrap_or("(no readable domain)")
    );
    if let Some(selector) = selector {
        let _ = write!(name, " (s={selector})");
    }
    name
}

fn describe_checks(checks: &[IdentifierCheck]) -> String {
    if checks.is_empty() {
        return "nothing".to_owned();
    }
    let described: Vec<String> = checks
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c.result,
                c.domain.as_deref().unwrap_or("(unknown domain)")
            )
        })
        .collect();
    described.join(", ")
}

/// `pass example.com, aligned`; `not_aligned` is how a passing, unaligned one reads.
pub fn describe_identifier(result: &IdentifierResult, not_aligned: &str) -> String {
    let domain = result.domain.as_deref().unwrap_or("(unknown domain)");
    if result.is_aligned() {
        format!("{} {domain}, aligned", result.result())
    } else if result.is_unaligned_pass() {
        format!("{} {domain}, {not_aligned}", result.result())
    } else {
        format!("{} {domain}", result.result())
    }
}

/// `spf PASS, dkim PASS, dmarc FAIL`.
pub fn ses_verdicts(ses: &SesVerdicts) -> String {
    let show = |v: &Option<crate::read::receipt::VerdictStatus>| {
        v.as_ref()
            .map_or_else(|| "-".to_owned(), ToString::to_string)
    };
    format!(
        "spf {}, dkim {}, dmarc {}",
        show(&ses.spf),
        show(&ses.dkim),
        show(&ses.dmarc)
    )
}

/// A kind in a few words: the first line of an alert.
pub fn headline(kind: Kind) -> &'static str {
    match kind {
        Kind::MailFromFallback => {
            "mail left with the amazonses.com MAIL FROM instead of the custom one"
        }
        Kind::MailFromStatus => "the identity's custom MAIL FROM domain is not healthy in SES",
        Kind::DmarcFail => "DMARC fails: no SPF or DKIM pass aligns with the From domain",
        Kind::SpfUnaligned => "SPF passes for a domain that does not align with From",
        Kind::DkimUnaligned => "DKIM passes only for domains that do not align with From",
        Kind::SpfFail => "SPF failed",
        Kind::DkimFail => "DKIM failed",
        Kind::StrictSpfAlignment => "the DMARC record demands strict SPF alignment SES cannot meet",
        Kind::NoDmarcPolicy => "the From domain publishes no DMARC record",
        Kind::AuthBounce => "a receiver rejected mail for failed authentication",
        Kind::AuthComplaint => "a receiver reported an authentication failure",
        Kind::VerdictMismatch => "SES's verdict disagrees with the recomputed one",
        Kind::DkimNotReverified => "a DKIM signature could not be verified again here",
        Kind::DkimPartialBody => "a DKIM signature covers only part of the body",
        Kind::ForgedAuthResults => "a message carried a forged Authentication-Results header",
        Kind::HeadersTruncated => "SES truncated the headers; the analysis may be partial",
        Kind::MailFromMxMissing => "the custom MAIL FROM domain's MX record is missing or wrong",
        Kind::MailFromSpfMissing => "the custom MAIL FROM domain's SPF record is missing or wrong",
        Kind::DkimDnsMissing => "the identity's DKIM DNS records are missing or wrong",
        Kind::DkimNotSigning => "SES does not DKIM-sign this identity's mail",
        Kind::SendingPaused => "SES paused sending: no mail leaves",
        Kind::SendingResumed => "SES resumed sending",
        Kind::AdvisorRecommendation => "Virtual Deliverability Manager advises on authentication",
        Kind::AdvisorResolved => "Virtual Deliverability Manager resolved its advice",
        Kind::ReportMailFromFallback => {
            "a receiver's report shows mail with the amazonses.com MAIL FROM instead of the custom one"
        }
        Kind::ReportDmarcFail => "a receiver's report shows mail sent through SES failing DMARC",
        Kind::ReportUnknownSource => {
            "a receiver's report shows another source sending as the domain and failing DMARC"
        }
        Kind::ReportUnauthenticated => "a DMARC report arrived that did not pass DMARC itself",
        Kind::TlsRptFailure => "senders report failed TLS sessions to the domain's MX hosts",
        Kind::ReportDestinationUnauthorized => {
            "the DMARC record sends reports to a domain that has not agreed to take them"
        }
        Kind::CanaryMissing => "a canary probe sent through SES never arrived",
        Kind::BulkRequirementFailed => {
            "the domain fails a bulk-sender requirement of Gmail, Yahoo or Microsoft"
        }
    }
}

/// The observations behind a finding, one fact per line.
pub fn evidence_lines(evidence: &Evidence) -> Vec<String> {
    match evidence {
        Evidence::Received {
            evaluation,
            envelope,
            ses,
            custom,
        } => {
            let describe = |r: &IdentifierResult| describe_identifier(r, "not aligned");
            let mut lines = vec![format!("From domain: {}", evaluation.header_from)];
            if let Some(envelope) = envelope {
                lines.push(format!(
                    "envelope sender domain: {} (from {})",
                    envelope.domain, envelope.origin
                ));
            }
            lines.push(format!(
                "SPF: {}",
                evaluation.spf.as_ref().map_or("none".to_owned(), describe)
            ));
            let dkim: Vec<String> = evaluation.dkim.iter().map(describe).collect();
            lines.push(format!(
                "DKIM: {}",
                if dkim.is_empty() {
                    "none".to_owned()
                } else {
                    dkim.join("; ")
                }
            ));
            lines.push(policy_line(&evaluation.policy));
            if let Some(ses) = ses {
                lines.push(format!("SES verdicts: {}", ses_verdicts(ses)));
            }
            if let Some(custom) = custom {
                lines.push(format!(
                    "identity {}: custom MAIL FROM domain {}",
                    custom.identity, custom.mail_from
                ));
            }
            lines
        }
        Evidence::Feedback {
            event,
            happened: what,
            sending,
            governing,
        } => {
            let mut lines = vec![format!("{event}: {}", happened(what))];
            if let Some(arn) = &sending.identity {
                lines.push(format!(
                    "{}, account {}",
                    sending_identity(arn),
                    arn.account
                ));
            }
            if let Some(set) = &sending.configuration_set {
                lines.push(format!("configuration set: {set}"));
            }
            if let Some((name, attributes)) = governing {
                lines.push(mail_from_line(name, attributes));
            }
            lines
        }
    }
}

fn mail_from_line(name: &str, attributes: &MailFromAttributes) -> String {
    format!(
        "identity {name}: MAIL FROM domain {}, status {}, on MX failure {}",
        attributes.mail_from_domain.as_deref().unwrap_or("(none)"),
        attributes
            .mail_from_domain_status
            .as_ref()
            .map_or("unknown", |s| s.as_str()),
        attributes
            .behavior_on_mx_failure
            .as_ref()
            .map_or("unknown", |b| b.as_str())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::auth_rejection::AuthRejection;
    use crate::read::identity_state::{CustomMailFrom, MailFromStatus};
    use crate::read::observation::{EnvelopeOrigin, EnvelopeSender};

    fn finding(facts: Facts, source: Source) -> Finding {
        Finding::new(facts, Some("example.com"), source)
    }

    #[test]
    fn remedies_follow_the_facts() {
        let bounce = |failed| Facts::AuthBounce {
            rejection: AuthRejection {
                provider: "Gmail",
                code: Some("5.7.26".into()),
                failed,
                transient: false,
            },
            how: Rejected::Bounced,
            recipient_domains: vec![Some("gmail.com".into())],
            sending: Sending::default(),
            sender_dkim: vec![],
        };
        let status = Facts::MailFromStatus {
            identity: "example.com".into(),
            mail_from: "mail.example.com".into(),
            status: MailFromStatus::Failed,
            behavior: None,
            region: Some("eu-west-1".into()),
        };
        let cases = [
            // What a receiver says failed decides the fix.
            (bounce(Failed::Spf), Remedy::CheckMailFromSpf),
            (bounce(Failed::Dkim), Remedy::CheckDkim),
            (bounce(Failed::Dmarc), Remedy::AlignAnIdentifier),
            (bounce(Failed::Alignment), Remedy::SignForFromDomain),
            (
                bounce(Failed::NoPolicy),
                Remedy::PublishDmarc { domain: None },
            ),
            (bounce(Failed::Unauthenticated), Remedy::AuthenticateFully),
            // The identity's own MAIL FROM domain and region are named when known.
            (
                status,
                Remedy::RestoreMailFrom {
                    mail_from: Some("mail.example.com"),
                    region: Some("eu-west-1"),
                },
            ),
            (Facts::HeadersTruncated, Remedy::NoChangeUnlessRepeated),
            (
                Facts::DkimPartialBody {
                    domain: Some("example.com".into()),
                    signed: 20,
                    body: 45,
                },
                Remedy::SignWholeBody,
            ),
        ];
        for (facts, expected) in &cases {
            assert_eq!(remedy(facts), *expected, "{facts:?}");
        }
    }

    #[test]
    fn feedback_and_audit_lines_end_with_their_fix_received_ones_do_not() {
        let facts = Facts::NoDmarcPolicy {
            domain: "example.com".into(),
            reported_by_ses: false,
            nothing_aligns: false,
        };
        let statement = "example.com publishes no DMARC record (bulk-sender rules at Gmail and Yahoo require one)";
        assert_eq!(
            finding(facts.clone(), Source::ReceiptLambda).detail(),
            statement
        );
        assert_eq!(
            finding(facts, Source::Audit).detail(),
            format!(
                "{statement}. Fix: Publish a DMARC record at _dmarc.example.com (start with \"v=DMARC1; p=none; rua=mailto:…\")."
            )
        );
    }

    #[test]
    fn the_fallback_names_both_domains_and_where_the_sender_was_read() {
        let facts = Facts::MailFromFallback {
            envelope: EnvelopeSender {
                domain: "us-east-1.amazonses.com".into(),
                origin: EnvelopeOrigin::AuthResults,
            },
            custom: CustomMailFrom {
                identity: "example.com".into(),
                mail_from: "mail.example.com".into(),
            },
        };
        assert_eq!(
            finding(facts.clone(), Source::ReceiptLambda).detail(),
            "the envelope sender is us-east-1.amazonses.com (from Authentication-Results), not the custom MAIL FROM domain mail.example.com of identity example.com: SES fell back to its default, so SPF cannot align"
        );
        assert!(
            remedy(&facts)
                .to_string()
                .contains("on mail.example.com, then check")
        );
    }

    #[test]
    fn every_kind_has_a_headline() {
        for kind in Kind::ALL {
            assert!(!headline(*kind).is_empty(), "{kind}");
        }
    }
}

#[cfg(test)]
mod feedback_worded {
    //! What the feedback path judges, as its findings read.
    use super::Detail as _;
    use crate::judge::feedback::*;
    use crate::judge::findings::{Kind, Severity};
    use crate::read::identity_state::IdentityState;
    use crate::read::identity_state::MailFromAttributes;
    use crate::read::notification::Notification;
    use crate::read::observation::Source;

    #[allow(clippy::needless_pass_by_value)] // callers build the JSON in place
    fn notification(json: serde_json::Value) -> Notification {
        crate::read::notification::parse(json.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn bounce(status: &str, diagnostic: &str, bounce_type: &str) -> Notification {
        notification(serde_json::json!({
            "notificationType": "Bounce",
            "mail": {
                "source": "\"Example Ops\" <ops@example.com>",
                "sourceArn": "arn:aws:ses:eu-west-1:111122223333:identity/example.com",
                "messageId": "m-1",
                "commonHeaders": {"from": ["\"Ops, Example\" <ops@example.com>"]},
            },
            "bounce": {
                "bounceType": bounce_type, "bounceSubType": "General",
                "bouncedRecipients": [
                    {"emailAddress": "a@gmail.com", "status": status, "diagnosticCode": diagnostic},
                    {"emailAddress": "b@googlemail.com", "status": status, "diagnosticCode": diagnostic},
                ],
            },
        }))
    }

    #[test]
    fn gmail_dmarc_bounce_names_provider_code_and_fix_without_addresses() {
        let n = bounce(
            "5.7.26",
            "smtp; 550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy. gsmtp",
            "Permanent",
        );
        let summary = summarize(&n);
        let found = findings(&n, &summary, None);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(
            (f.kind(), f.severity()),
            (Kind::AuthBounce, Severity::Warning)
        );
        assert_eq!(f.domain.as_deref(), Some("example.com"));
        assert_eq!(f.message_id.as_deref(), Some("m-1"));
        assert!(f.detail().starts_with("Gmail bounced (5.7.26) mail from example.com: DMARC did not pass; recipient domain(s) gmail.com, googlemail.com; sending identity example.com (eu-west-1)"), "{}", f.detail());
        assert!(!f.detail().contains("a@gmail.com"));
    }

    #[test]
    fn plain_bounces_give_nothing() {
        let n = bounce("5.1.1", "smtp; 550 5.1.1 user unknown", "Permanent");
        assert!(findings(&n, &summarize(&n), None).is_empty());
    }

    #[test]
    fn transient_rejections_say_so() {
        let n = bounce(
            "4.7.32",
            "smtp; 421-4.7.32 the From: header isn't aligned with either the authenticated SPF or DKIM organizational domain",
            "Transient",
        );
        let found = findings(&n, &summarize(&n), None);
        assert!(
            found[0].detail().contains("transient 4.7.32"),
            "{}",
            found[0].detail()
        );
        assert!(found[0].detail().contains("From is not aligned"));
    }

    #[test]
    fn mail_from_status_only_when_not_success() {
        let n = bounce("5.1.1", "smtp; 550 5.1.1 user unknown", "Permanent");
        let summary = summarize(&n);
        let state = |status: &str, behavior: &str| IdentityState {
            mail_from_attributes: serde_json::from_value::<MailFromAttributes>(serde_json::json!({
                "MailFromDomain": "mail.example.com",
                "MailFromDomainStatus": status,
                "BehaviorOnMxFailure": behavior,
            }))
            .ok(),
            dkim_attributes: None,
            configuration_set_name: None,
        };
        let ok = state("SUCCESS", "USE_DEFAULT_VALUE");
        assert!(findings(&n, &summary, Some(("example.com", &ok))).is_empty());
        let failed = state("FAILED", "USE_DEFAULT_VALUE");
        let found = findings(&n, &summary, Some(("example.com", &failed)));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].kind(), found[0].severity()),
            (Kind::MailFromStatus, Severity::Critical)
        );
        assert!(
            found[0]
                .detail()
                .contains("feedback-smtp.eu-west-1.amazonses.com")
        );
        assert!(
            found[0]
                .detail()
                .contains("MAIL FROM domain mail.example.com as FAILED")
        );
        let reject = state("TEMPORARY_FAILURE", "REJECT_MESSAGE");
        let found = findings(&n, &summary, Some(("example.com", &reject)));
        assert!(found[0].detail().contains("SES refuses to send"));
        // No MAIL FROM configured: nothing to say.
        assert!(
            findings(
                &n,
                &summary,
                Some(("example.com", &IdentityState::default()))
            )
            .is_empty()
        );
    }

    #[test]
    fn from_domain_fallbacks() {
        let n = notification(serde_json::json!({
            "eventType": "Complaint",
            "mail": {"source": "x@source.example", "tags": {"ses:from-domain": ["Tagged.Example"], "ses:configuration-set": ["cs"]}},
            "complaint": {"complainedRecipients": [{"emailAddress": "r@yahoo.com"}], "complaintFeedbackType": "auth-failure"},
        }));
        let summary = summarize(&n);
        assert_eq!(summary.from_domains, vec!["tagged.example"]);
        assert_eq!(summary.configuration_set.as_deref(), Some("cs"));
        assert_eq!(summary.identity_key(), Some("tagged.example"));
        let found = findings(&n, &summary, None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind(), Kind::AuthComplaint);
        assert_eq!(found[0].source, Source::EventPublishing);
        assert!(found[0].detail().contains("(yahoo.com)"));

        let n = notification(serde_json::json!({
            "notificationType": "Complaint",
            "mail": {"source": "x@source.example"},
            "complaint": {"complainedRecipients": []},
        }));
        let summary = summarize(&n);
        assert_eq!(summary.from_domains, vec!["source.example"]);
        assert!(findings(&n, &summary, None).is_empty());
    }
}
