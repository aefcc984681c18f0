//! What a receiver's report says about a domain's mail: each DMARC aggregate report summed
//! up ([`AggregateSummary`]), each row attributed to SES or not, and the findings that
//! follow. TLS reports give a finding when sessions failed.
//!
//! A row is SES's when a DKIM signature passed for `amazonses.com`, or its envelope or SPF
//! domain is under `amazonses.com` or is the identity's custom MAIL FROM domain. The source
//! IP alone says nothing (SES's ranges are shared and change). Rows a receiver let through by
//! an override (a forwarder, a mailing list, local policy) are not alerted: that mail was
//! delivered, and its authentication broke on the way.
//!
//! Pure: the identity's custom MAIL FROM domain comes from the caller (SESv2, `--mail-from`).

use crate::judge::align::{Alignment, PublicSuffixList, aligned};
use crate::judge::findings::Facts;
use crate::judge::policy::Disposition as Policy;
use crate::judge::source::{AuthLine, Classified, RowSender, Services, classify};
use crate::read::domain::{domain_of_identity, is_within, normalize};
use crate::read::identity_state::CustomMailFrom;
use crate::read::report::aggregate::{
    AggregateReport, AuthResult, Disposition, Evaluated, OverrideType, PolicyPublished, Reason, Row,
};
use crate::read::report::tls::TlsReport;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// Messages by what the receiver did with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispositions {
    pub none: u64,
    pub quarantine: u64,
    pub reject: u64,
    pub pass: u64,
    /// Missing, or a value this version does not know.
    pub unknown: u64,
}

/// A row's DMARC outcome at the receiver (`policy_evaluated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowDmarc {
    /// DKIM or SPF passed aligned.
    Pass,
    /// Both were evaluated, and neither passed (any word but `pass`, such as `softfail` or
    /// `temperror`, is not a pass).
    Fail,
    /// One is missing and the other did not pass: never counted as a failure.
    Unknown,
}

impl RowDmarc {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Unknown => "unknown",
        }
    }
}

/// One row (a source and its messages), judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendingSource {
    pub ip: Option<String>,
    pub count: u64,
    pub disposition: Option<Disposition>,
    pub header_from: Option<String>,
    pub envelope_from: Option<String>,
    pub dkim: Vec<AuthLine>,
    pub spf: Vec<AuthLine>,
    pub dmarc: RowDmarc,
    pub ses: bool,
    /// Envelope or SPF domain under amazonses.com: SES's own MAIL FROM.
    pub amazonses_envelope: bool,
    /// The receiver overrode the policy for a forwarder, list or local policy.
    pub overridden: bool,
    /// Why the receiver applied another disposition than the policy's, as reported.
    pub reasons: Vec<Reason>,
    /// The receiver's verdicts: DKIM, SPF passed aligned (`policy_evaluated`).
    pub dkim_aligned: bool,
    pub spf_aligned: bool,
    /// Who sent it ([`crate::judge::source`]).
    pub sender: Classified,
}

/// How many addresses a source lists per report (the rest are counted).
pub const ADDRESSES_PER_SOURCE: usize = 1_000;

/// One kind of sender's messages in one report (or, summed, in a day or a week).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTally {
    pub messages: u64,
    pub dmarc_pass: u64,
    pub dmarc_fail: u64,
    pub dmarc_unknown: u64,
    pub dkim_aligned: u64,
    pub spf_aligned: u64,
    pub disposition: Dispositions,
    /// Its addresses, up to [`ADDRESSES_PER_SOURCE`].
    pub addresses: BTreeSet<IpAddr>,
    /// Rows whose address was past those kept, or not an address.
    pub addresses_not_kept: u64,
}

impl SourceTally {
    /// Adds `other`'s figures; addresses up to the bound.
    pub fn absorb(&mut self, other: &SourceTally) {
        let add = |total: &mut u64, n: u64| *total = total.saturating_add(n);
        add(&mut self.messages, other.messages);
        add(&mut self.dmarc_pass, other.dmarc_pass);
        add(&mut self.dmarc_fail, other.dmarc_fail);
        add(&mut self.dmarc_unknown, other.dmarc_unknown);
        add(&mut self.dkim_aligned, other.dkim_aligned);
        add(&mut self.spf_aligned, other.spf_aligned);
        self.disposition.absorb(&other.disposition);
        for ip in &other.addresses {
            self.keep_address(Some(*ip), false);
        }
        add(&mut self.addresses_not_kept, other.addresses_not_kept);
    }

    /// Keeps `ip` while there is room, or counts it; `absent` says it is known not to be kept
    /// already (then it is not looked for).
    fn keep_address(&mut self, ip: Option<IpAddr>, absent: bool) {
        match ip {
            Some(ip) if self.addresses.len() < ADDRESSES_PER_SOURCE => {
                self.addresses.insert(ip);
            }
            Some(ip) if !absent && self.addresses.contains(&ip) => {}
            _ => self.addresses_not_kept = self.addresses_not_kept.saturating_add(1),
        }
    }

    /// Counts `source`'s row, whose address (parsed once, by the caller) is `address`, which
    /// is `new` to the report (so no sender's tally holds it yet).
    fn add_row(&mut self, source: &SendingSource, address: Option<IpAddr>, new: bool) {
        let n = source.count;
        let add = |total: &mut u64| *total = total.saturating_add(n);
        add(&mut self.messages);
        add(match source.dmarc {
            RowDmarc::Pass => &mut self.dmarc_pass,
            RowDmarc::Fail => &mut self.dmarc_fail,
            RowDmarc::Unknown => &mut self.dmarc_unknown,
        });
        if source.dkim_aligned {
            add(&mut self.dkim_aligned);
        }
        if source.spf_aligned {
            add(&mut self.spf_aligned);
        }
        self.disposition.add(source.disposition.as_ref(), n);
        self.keep_address(address, new);
    }
}

impl Dispositions {
    /// Counts `n` messages the receiver treated as `disposition`.
    pub fn add(&mut self, disposition: Option<&Disposition>, n: u64) {
        let total = match disposition {
            Some(Disposition::None) => &mut self.none,
            Some(Disposition::Quarantine) => &mut self.quarantine,
            Some(Disposition::Reject) => &mut self.reject,
            Some(Disposition::Pass) => &mut self.pass,
            Some(Disposition::Unknown(_)) | None => &mut self.unknown,
        };
        *total = total.saturating_add(n);
    }

    pub fn absorb(&mut self, other: &Dispositions) {
        let add = |total: &mut u64, n: u64| *total = total.saturating_add(n);
        add(&mut self.none, other.none);
        add(&mut self.quarantine, other.quarantine);
        add(&mut self.reject, other.reject);
        add(&mut self.pass, other.pass);
        add(&mut self.unknown, other.unknown);
    }
}

/// Messages from one source IP address in one report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpTally {
    pub messages: u64,
    /// Failing DMARC, not sent by SES, not let through by an override: a stranger's.
    pub failing_other: u64,
}

/// How many rows a summary lists (the rest are counted, and the listing says so).
pub const SOURCES_LISTED: usize = 10_000;
/// How many rows (and addresses) a summary holds before it makes room for all the rows it may
/// list (and as many addresses).
const ROWS_BEFORE_ROOM_FOR_ALL: usize = 256;
/// How many distinct source addresses a summary keeps (the rest are counted, not kept).
pub const ADDRESSES_KEPT: usize = 200_000;

/// One DMARC aggregate report, summed up as its rows are read ([`Summarizer`]). Totals are
/// exact whatever the report's size; what is kept per row and per address is bounded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AggregateSummary {
    pub messages: u64,
    pub dmarc_pass: u64,
    pub dmarc_fail: u64,
    pub dmarc_unknown: u64,
    pub disposition: Dispositions,
    pub amazonses_envelope: u64,
    pub ses_messages: u64,
    /// Sent by SES with an amazonses.com envelope, not let through by an override, for an
    /// identity with a custom MAIL FROM domain (without one, that envelope is SES's default).
    pub fallback_messages: u64,
    /// Sent by SES and failing DMARC, not let through by an override.
    pub ses_failing: u64,
    /// The first [`SOURCES_LISTED`] rows, each judged.
    pub sources: Vec<SendingSource>,
    /// Rows past those listed.
    pub sources_not_listed: u64,
    /// Per source address, up to [`ADDRESSES_KEPT`] of them.
    pub addresses: HashMap<IpAddr, IpTally>,
    /// Rows whose address came past [`ADDRESSES_KEPT`]: counted, not kept.
    pub addresses_not_kept: u64,
    /// Rows with no source address, or one that is not an IP address.
    pub without_address: IpTally,
    /// The messages by who sent them ([`crate::judge::source`]).
    pub by_sender: BTreeMap<Classified, SourceTally>,
}

impl AggregateSummary {
    /// The rows read: those listed and those past them.
    pub fn rows(&self) -> u64 {
        (self.sources.len() as u64).saturating_add(self.sources_not_listed)
    }

    /// Messages sent by others than SES.
    pub fn other_messages(&self) -> u64 {
        self.messages.saturating_sub(self.ses_messages)
    }

    /// The addresses kept, in order.
    pub fn addresses_sorted(&self) -> Vec<(IpAddr, IpTally)> {
        let mut addresses: Vec<(IpAddr, IpTally)> = self
            .addresses
            .iter()
            .map(|(ip, tally)| (*ip, *tally))
            .collect();
        addresses.sort_unstable_by_key(|(ip, _)| *ip);
        addresses
    }
}

/// Sums up a report's rows as they are read: [`Summarizer::add`] each, then
/// [`Summarizer::finish`]. `mail_from` is the custom MAIL FROM domain of the identity covering
/// the policy domain, when it has one. Counts saturate: a report's numbers are a stranger's.
#[derive(Debug)]
pub struct Summarizer {
    policy_domain: Option<String>,
    adkim: Alignment,
    aspf: Alignment,
    mail_from: Option<String>,
    identity: Option<String>,
    services: Arc<Services>,
    summary: AggregateSummary,
}

impl Summarizer {
    /// For a report that publishes `policy`, sent by an identity whose custom MAIL FROM
    /// domain is `mail_from`.
    pub fn new(policy: &PolicyPublished, mail_from: Option<&str>) -> Self {
        Self {
            policy_domain: policy.domain.clone(),
            adkim: mode(policy.adkim.as_deref()),
            aspf: mode(policy.aspf.as_deref()),
            mail_from: mail_from.map(str::to_owned),
            identity: policy.domain.as_deref().and_then(normalize),
            services: Services::bundled(),
            summary: AggregateSummary::default(),
        }
    }

    /// Classifies senders against `services` (the bundled list and the user's additions),
    /// and names SES's mail by `identity` when known (else the policy domain).
    pub fn with_senders(mut self, services: Arc<Services>, identity: Option<&str>) -> Self {
        self.services = services;
        if let Some(identity) = identity {
            self.identity = Some(identity.to_owned());
        }
        self
    }

    pub fn add(&mut self, row: Row) {
        self.add_then(row, |_| {});
    }

    /// [`Summarizer::add`], handing the row judged to `then` first (the report rows are
    /// written from it while the summary keeps only what it bounds).
    pub fn add_then(&mut self, row: Row, then: impl FnOnce(&SendingSource)) {
        let source = source(
            row,
            self.policy_domain.as_deref(),
            (self.adkim, self.aspf),
            self.mail_from.as_deref(),
            (self.identity.as_deref(), &self.services),
        );
        then(&source);
        let summary = &mut self.summary;
        let n = source.count;
        let add = |total: &mut u64| *total = total.saturating_add(n);
        add(&mut summary.messages);
        match source.dmarc {
            RowDmarc::Pass => add(&mut summary.dmarc_pass),
            RowDmarc::Fail => add(&mut summary.dmarc_fail),
            RowDmarc::Unknown => add(&mut summary.dmarc_unknown),
        }
        summary.disposition.add(source.disposition.as_ref(), n);
        let address = source
            .ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        if source.amazonses_envelope {
            add(&mut summary.amazonses_envelope);
        }
        if source.ses {
            add(&mut summary.ses_messages);
        }
        if !source.overridden {
            if source.ses && source.amazonses_envelope && self.mail_from.is_some() {
                add(&mut summary.fallback_messages);
            }
            if source.ses && source.dmarc == RowDmarc::Fail {
                add(&mut summary.ses_failing);
            }
        }
        let failing_other = !source.ses && !source.overridden && source.dmarc == RowDmarc::Fail;
        let kept = summary.addresses.len();
        // Past a few hundred addresses, room is made for as many as the rows listed: each time
        // the map grew, every address was hashed again.
        if kept == ROWS_BEFORE_ROOM_FOR_ALL {
            summary.addresses.reserve(SOURCES_LISTED);
        }
        // An address new to the report is in no sender's tally yet: they need not look for it.
        let mut new = false;
        let tally = match address {
            None => Some(&mut summary.without_address),
            Some(ip) if kept < ADDRESSES_KEPT => Some(match summary.addresses.entry(ip) {
                Entry::Occupied(kept) => kept.into_mut(),
                Entry::Vacant(place) => {
                    new = true;
                    place.insert(IpTally::default())
                }
            }),
            Some(ip) => summary.addresses.get_mut(&ip),
        };
        match tally {
            Some(tally) => {
                tally.messages = tally.messages.saturating_add(n);
                if failing_other {
                    tally.failing_other = tally.failing_other.saturating_add(n);
                }
            }
            None => summary.addresses_not_kept += 1,
        }
        let by_sender = &mut summary.by_sender;
        match by_sender.get_mut(&source.sender) {
            Some(tally) => tally.add_row(&source, address, new),
            None => by_sender
                .entry(source.sender.clone())
                .or_default()
                .add_row(&source, address, new),
        }
        if summary.sources.len() < SOURCES_LISTED {
            // Past a few hundred rows, room is made for all that may be listed at once: the
            // list doubling from there moved each listed row again and again (rows are large).
            if summary.sources.len() == ROWS_BEFORE_ROOM_FOR_ALL {
                summary
                    .sources
                    .reserve_exact(SOURCES_LISTED - ROWS_BEFORE_ROOM_FOR_ALL);
            }
            summary.sources.push(source);
        } else {
            summary.sources_not_listed += 1;
        }
    }

    pub fn finish(self) -> AggregateSummary {
        self.summary
    }
}

/// Sums up `report`'s rows (read whole, [`crate::read::report::aggregate::parse`]), which
/// move into the summary's sources.
pub fn summarize(report: &mut AggregateReport, mail_from: Option<&str>) -> AggregateSummary {
    let rows = std::mem::take(&mut report.rows);
    let mut summarizer = Summarizer::new(&report.policy, mail_from);
    for row in rows {
        summarizer.add(row);
    }
    summarizer.finish()
}

fn mode(tag: Option<&str>) -> Alignment {
    match tag {
        Some(t) if t.trim().eq_ignore_ascii_case("s") => Alignment::Strict,
        _ => Alignment::Relaxed,
    }
}

fn source(
    row: Row,
    policy_domain: Option<&str>,
    (adkim, aspf): (Alignment, Alignment),
    mail_from: Option<&str>,
    (identity, services): (Option<&str>, &Services),
) -> SendingSource {
    let from = row.header_from.as_deref().or(policy_domain);
    let line = |domain: Option<String>, selector_or_scope, result: Option<AuthResult>, mode| {
        AuthLine {
            aligned: matches!((&domain, from), (Some(d), Some(f)) if aligned(d, f, mode, &PublicSuffixList)),
            domain,
            selector_or_scope,
            result,
        }
    };
    let amazonses = |d: &str| is_within(d, "amazonses.com");
    let dkim_passed_for_ses = row
        .dkim_results
        .iter()
        .any(|d| d.result == Some(AuthResult::Pass) && d.domain.as_deref().is_some_and(amazonses));
    let envelope_domains = || {
        row.envelope_from
            .iter()
            .chain(row.spf_results.iter().filter_map(|s| s.domain.as_ref()))
    };
    let amazonses_envelope = envelope_domains().any(|d| amazonses(d));
    let ses = amazonses_envelope
        || envelope_domains().any(|d| Some(d.as_str()) == mail_from)
        || dkim_passed_for_ses;
    let dmarc = row_dmarc(row.dkim.as_ref(), row.spf.as_ref());
    let overridden = row.reasons.iter().any(|r| {
        matches!(
            r.kind,
            Some(
                OverrideType::Forwarded
                    | OverrideType::TrustedForwarder
                    | OverrideType::MailingList
                    | OverrideType::LocalPolicy
            )
        )
    });
    let forwarded_override = row.reasons.iter().any(|r| {
        matches!(
            r.kind,
            Some(
                OverrideType::Forwarded
                    | OverrideType::TrustedForwarder
                    | OverrideType::MailingList
            )
        )
    });
    let dkim: Vec<AuthLine> = row
        .dkim_results
        .into_iter()
        .map(|d| line(d.domain, d.selector, d.result, adkim))
        .collect();
    let spf: Vec<AuthLine> = row
        .spf_results
        .into_iter()
        .map(|s| line(s.domain, s.scope, s.result, aspf))
        .collect();
    let sender = classify(
        &RowSender {
            ses,
            identity,
            forwarded_override,
            dkim: &dkim,
            spf: &spf,
        },
        services,
    );
    SendingSource {
        ip: row.source_ip,
        count: row.count.unwrap_or(0),
        disposition: row.disposition,
        header_from: row.header_from,
        envelope_from: row.envelope_from,
        dkim,
        spf,
        dmarc,
        ses,
        amazonses_envelope,
        overridden,
        reasons: row.reasons,
        dkim_aligned: row.dkim == Some(Evaluated::Pass),
        spf_aligned: row.spf == Some(Evaluated::Pass),
        sender,
    }
}

/// A row's DMARC result, the one rule everywhere (`reports`, `digest`, the report rows):
/// pass when `policy_evaluated` DKIM or SPF is `pass`; fail when both are present and
/// neither is `pass`; unknown only when one is missing and the present one is not `pass`.
pub fn row_dmarc(dkim: Option<&Evaluated>, spf: Option<&Evaluated>) -> RowDmarc {
    match (dkim, spf) {
        (Some(Evaluated::Pass), _) | (_, Some(Evaluated::Pass)) => RowDmarc::Pass,
        (Some(_), Some(_)) => RowDmarc::Fail,
        _ => RowDmarc::Unknown,
    }
}

/// What the mail a report came in says of itself, by the trusted `Authentication-Results`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carried {
    /// Not received as mail (a file given to the CLI): nothing to judge it by.
    NotMail,
    /// Mail without the trusted server's results, where none are required (a file saved
    /// from a mailbox elsewhere).
    Unjudged,
    /// The mail passed DMARC for this From domain.
    DmarcPassed { from: String },
    /// The mail did not pass DMARC, or carried no trusted result where one is required.
    NotAuthenticated,
}

/// Whether a report is believed (RFC 9990 §2: reports are accepted only from mail that
/// passes DMARC), and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Belief {
    Believed,
    /// Its mail did not pass DMARC.
    Unauthenticated,
    /// Its mail passed DMARC for `from`, whose organization is not the reporter's the report
    /// names: anyone with a domain of their own can send such mail.
    ReporterMismatch {
        from: String,
    },
}

impl Belief {
    pub fn believed(&self) -> bool {
        *self == Self::Believed
    }

    /// The From domain the mail passed DMARC for, when that is why it is not believed.
    pub fn mailed_from(&self) -> Option<&str> {
        match self {
            Self::ReporterMismatch { from } => Some(from),
            _ => None,
        }
    }
}

/// Whether a report naming `reporters` (its e-mail's or contact's domain, its organization
/// when that is a domain) is believed, given the mail it came in: the DMARC-passing From
/// must be in the organization of a reporter it names, or in that of a domain the user trusts
/// to mail reports (`trusted`: a receiver that mails from another domain than the one it
/// names).
pub fn belief(carried: &Carried, reporters: &[String], trusted: &[String]) -> Belief {
    match carried {
        Carried::NotMail | Carried::Unjudged => Belief::Believed,
        Carried::NotAuthenticated => Belief::Unauthenticated,
        Carried::DmarcPassed { from } => {
            let same_organization =
                |domain: &String| aligned(domain, from, Alignment::Relaxed, &PublicSuffixList);
            if reporters.iter().chain(trusted).any(same_organization) {
                Belief::Believed
            } else {
                Belief::ReporterMismatch { from: from.clone() }
            }
        }
    }
}

/// The domains an aggregate report names its reporter by: its `email`'s, and its
/// `org_name` when that is a domain.
pub fn aggregate_reporters(report: &AggregateReport) -> Vec<String> {
    reporters(report.email.as_deref(), report.org_name.as_deref())
}

/// The domains a TLS report names its reporter by: its `contact-info`'s (an address or a
/// URL), and its `organization-name` when that is a domain.
pub fn tls_reporters(report: &TlsReport) -> Vec<String> {
    reporters(report.contact.as_deref(), report.org_name.as_deref())
}

fn reporters(contact: Option<&str>, organization: Option<&str>) -> Vec<String> {
    let contact = contact.and_then(|contact| {
        let contact = contact.trim();
        let contact = contact.strip_prefix("mailto:").unwrap_or(contact);
        match contact.split_once("://") {
            Some((_, rest)) => normalize(rest.split(['/', ':', '?']).next().unwrap_or_default()),
            None => domain_of_identity(contact),
        }
    });
    let organization = organization
        .filter(|name| name.contains('.'))
        .and_then(normalize);
    contact.into_iter().chain(organization).collect()
}

/// What one report says, as findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judging<'a> {
    /// The identity's custom MAIL FROM, when it has one.
    pub custom: Option<&'a CustomMailFrom>,
    /// Messages from one non-SES source failing DMARC before it is reported.
    pub unknown_source_threshold: u64,
    /// Whether the report is believed.
    pub belief: &'a Belief,
    /// The sources seen sending as the domain before (the state table's history); `None`
    /// without history, when every failing source that is not SES counts as unknown.
    pub known_sources: Option<&'a HashMap<IpAddr, u64>>,
}

/// Who sent an aggregate report, as its findings name the receiver.
pub fn aggregate_reporter(report: &AggregateReport) -> String {
    report
        .org_name
        .clone()
        .unwrap_or_else(|| "a receiver".into())
}

/// Who sent a TLS report, as its finding names the sender.
pub fn tls_reporter(report: &TlsReport) -> String {
    report.org_name.clone().unwrap_or_else(|| "a sender".into())
}

/// The findings of one aggregate report.
pub fn aggregate_findings(
    report: &AggregateReport,
    summary: &AggregateSummary,
    judging: Judging<'_>,
) -> Vec<Facts> {
    let reporter = aggregate_reporter(report);
    let range = (report.begin, report.end);
    if !judging.belief.believed() {
        // Anyone can mail a report: its rows are counted, never believed.
        return vec![Facts::ReportUnauthenticated {
            reporter,
            messages: summary.messages,
            mailed_from: judging.belief.mailed_from().map(str::to_owned),
        }];
    }
    let mut findings = Vec::new();
    if let Some(custom) = judging.custom
        && summary.fallback_messages > 0
    {
        findings.push(Facts::ReportMailFromFallback {
            reporter: reporter.clone(),
            messages: summary.fallback_messages,
            range,
            custom: custom.clone(),
        });
    }
    if summary.ses_failing > 0 {
        let policy = report
            .policy
            .p
            .as_deref()
            .and_then(Policy::from_text)
            .filter(|_| !report.policy.testing);
        findings.push(Facts::ReportDmarcFail {
            reporter: reporter.clone(),
            messages: summary.ses_failing,
            range,
            policy,
        });
    }
    let known = |ip: &IpAddr| {
        judging
            .known_sources
            .is_some_and(|known| known.contains_key(ip))
    };
    let over = |tally: &IpTally| {
        tally.failing_other > 0 && tally.failing_other >= judging.unknown_source_threshold
    };
    // Only the few strangers over the threshold are ordered and written out: a report of
    // thousands of addresses would otherwise sort and format every one of them.
    let mut strangers: Vec<(IpAddr, u64)> = summary
        .addresses
        .iter()
        .filter(|(ip, tally)| over(tally) && !known(ip))
        .map(|(ip, tally)| (*ip, tally.failing_other))
        .collect();
    strangers.sort_unstable();
    let without_address =
        over(&summary.without_address).then_some((None, summary.without_address.failing_other));
    let strangers = strangers
        .into_iter()
        .map(|(ip, messages)| (Some(ip.to_string()), messages))
        .chain(without_address);
    for (source_ip, messages) in strangers {
        findings.push(Facts::ReportUnknownSource {
            reporter: reporter.clone(),
            source_ip,
            messages,
        });
    }
    findings
}

/// The finding of one TLS report, when sessions failed.
pub fn tls_findings(report: &TlsReport) -> Option<Facts> {
    let failed = report.failed();
    (failed > 0).then(|| Facts::TlsRptFailure {
        reporter: tls_reporter(report),
        failed,
        successful: report.successful(),
        failures: report
            .policies
            .iter()
            .flat_map(|p| p.failures.iter().cloned())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_a_rows_dmarc_result() {
        use Evaluated::{Fail, Pass};
        let other = || Evaluated::Unknown("softfail".into());
        let cases = [
            // Either passing is a pass, whatever the other says or lacks.
            (Some(Pass), Some(Fail), RowDmarc::Pass),
            (None, Some(Pass), RowDmarc::Pass),
            (Some(other()), Some(Pass), RowDmarc::Pass),
            // Both present, neither a pass: a fail, whatever the words.
            (Some(Fail), Some(Fail), RowDmarc::Fail),
            (Some(other()), Some(Fail), RowDmarc::Fail),
            (
                Some(Evaluated::Unknown("temperror".into())),
                Some(other()),
                RowDmarc::Fail,
            ),
            // One missing, the other not a pass: unknown, never counted as a failure.
            (Some(Fail), None, RowDmarc::Unknown),
            (None, Some(other()), RowDmarc::Unknown),
            (None, None, RowDmarc::Unknown),
        ];
        for (dkim, spf, expected) in cases {
            assert_eq!(
                row_dmarc(dkim.as_ref(), spf.as_ref()),
                expected,
                "{dkim:?} {spf:?}"
            );
        }
    }
    use crate::judge::findings::Kind;

    /// Past the addresses a summary keeps, rows are counted in the figures and said to be
    /// unjudged, never silently dropped.
    #[test]
    fn rows_past_the_kept_addresses_are_counted_and_said() {
        let policy = PolicyPublished::default();
        let mut summarizer = Summarizer::new(&policy, None);
        let row = |n: usize| Row {
            source_ip: Some(std::net::Ipv4Addr::from(0x0a00_0000_u32 + n as u32).to_string()),
            count: Some(2),
            ..Row::default()
        };
        for n in 0..=ADDRESSES_KEPT {
            summarizer.add(row(n));
        }
        // An address already kept is still tallied.
        summarizer.add(row(0));
        // One kept by the summary, past those its sender's tally keeps.
        summarizer.add(row(ADDRESSES_PER_SOURCE + 1));
        let summary = summarizer.finish();
        assert_eq!(summary.addresses.len(), ADDRESSES_KEPT);
        assert_eq!(summary.addresses_not_kept, 1);
        assert_eq!(summary.messages, 2 * (ADDRESSES_KEPT as u64 + 3));
        // Every row here is one sender's: its tally keeps the first addresses and counts the
        // rest, the repeat of a kept one aside.
        let unknown = summary.by_sender.values().next();
        assert_eq!(summary.by_sender.len(), 1);
        assert_eq!(
            unknown.map(|t| (t.addresses.len(), t.addresses_not_kept)),
            Some((
                ADDRESSES_PER_SOURCE,
                (ADDRESSES_KEPT + 1 - ADDRESSES_PER_SOURCE) as u64 + 1
            ))
        );
        let first = summary
            .addresses
            .get(&"10.0.0.0".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(first.map(|t| t.messages), Some(4));
    }

    /// A report for example.com (`p`, `testing`) with one record: `evaluated` is
    /// `policy_evaluated`'s `(dkim, spf)`, then the envelope and the raw results.
    fn one_row(
        p: &str,
        count: u64,
        evaluated: (&str, &str),
        envelope: &str,
        auth: &str,
        reason: &str,
    ) -> AggregateReport {
        let xml = format!(
            "<feedback><report_metadata><org_name>rx.example</org_name><report_id>1</report_id>\
             </report_metadata><policy_published><domain>example.com</domain><p>{p}</p>\
             </policy_published><record><row><source_ip>192.0.2.7</source_ip><count>{count}</count>\
             <policy_evaluated><disposition>none</disposition><dkim>{}</dkim><spf>{}</spf>{reason}\
             </policy_evaluated></row><identifiers><header_from>example.com</header_from>\
             <envelope_from>{envelope}</envelope_from></identifiers><auth_results>{auth}</auth_results>\
             </record></feedback>",
            evaluated.0, evaluated.1
        );
        crate::read::report::aggregate::parse(&xml).unwrap_or_else(|e| panic!("{e}"))
    }

    const SES_DKIM: &str = "<dkim><domain>amazonses.com</domain><result>pass</result></dkim>";
    const OWN_DKIM: &str = "<dkim><domain>example.com</domain><result>pass</result></dkim>";
    const FORWARDED: &str = "<reason><type>forwarded</type></reason>";

    #[test]
    fn each_row_is_attributed_and_judged() {
        let custom = CustomMailFrom {
            identity: "example.com".into(),
            mail_from: "mail.example.com".into(),
        };
        let known: HashMap<IpAddr, u64> = [(IpAddr::from([192, 0, 2, 7]), 0)].into();
        // (case, report, custom MAIL FROM, known sources, row: (dmarc, ses, amazonses envelope),
        //  finding kinds)
        type Case = (
            &'static str,
            AggregateReport,
            bool,
            Option<&'static HashMap<IpAddr, u64>>,
            (RowDmarc, bool, bool),
            Vec<Kind>,
        );
        let known: &'static HashMap<IpAddr, u64> = Box::leak(Box::new(known));
        let cases: Vec<Case> = vec![
            (
                "SES via the custom MAIL FROM, aligned",
                one_row(
                    "reject",
                    90,
                    ("pass", "pass"),
                    "mail.example.com",
                    OWN_DKIM,
                    "",
                ),
                true,
                None,
                (RowDmarc::Pass, true, false),
                vec![],
            ),
            (
                "the fallback: amazonses.com envelope, DKIM broken",
                one_row(
                    "reject",
                    7,
                    ("fail", "fail"),
                    "us-east-1.amazonses.com",
                    SES_DKIM,
                    "",
                ),
                true,
                None,
                (RowDmarc::Fail, true, true),
                vec![Kind::ReportMailFromFallback, Kind::ReportDmarcFail],
            ),
            (
                "the fallback with DKIM aligned still passes DMARC",
                one_row(
                    "reject",
                    7,
                    ("pass", "fail"),
                    "us-east-1.amazonses.com",
                    OWN_DKIM,
                    "",
                ),
                true,
                None,
                (RowDmarc::Pass, true, true),
                vec![Kind::ReportMailFromFallback],
            ),
            (
                "no custom MAIL FROM: an amazonses.com envelope is no fallback",
                one_row(
                    "reject",
                    7,
                    ("pass", "fail"),
                    "us-east-1.amazonses.com",
                    SES_DKIM,
                    "",
                ),
                false,
                None,
                (RowDmarc::Pass, true, true),
                vec![],
            ),
            (
                "a stranger failing, at the threshold",
                one_row("reject", 10, ("fail", "fail"), "spoof.example", "", ""),
                true,
                None,
                (RowDmarc::Fail, false, false),
                vec![Kind::ReportUnknownSource],
            ),
            (
                "a stranger failing, under the threshold",
                one_row("reject", 9, ("fail", "fail"), "spoof.example", "", ""),
                true,
                None,
                (RowDmarc::Fail, false, false),
                vec![],
            ),
            (
                "a failing source seen before is known",
                one_row("reject", 50, ("fail", "fail"), "spoof.example", "", ""),
                true,
                Some(known),
                (RowDmarc::Fail, false, false),
                vec![],
            ),
            (
                "forwarded: the receiver let it through, never alerted",
                one_row(
                    "reject",
                    30,
                    ("fail", "fail"),
                    "us-east-1.amazonses.com",
                    SES_DKIM,
                    FORWARDED,
                ),
                true,
                None,
                (RowDmarc::Fail, true, true),
                vec![],
            ),
            (
                "one result missing: unknown, never a failure",
                one_row("reject", 5, ("fail", ""), "mail.example.com", OWN_DKIM, ""),
                true,
                None,
                (RowDmarc::Unknown, true, false),
                vec![],
            ),
        ];
        for (case, mut report, with_custom, known_sources, row, kinds) in cases {
            let custom = with_custom.then_some(&custom);
            let summary = summarize(&mut report, custom.map(|c| c.mail_from.as_str()));
            let source = &summary.sources[0];
            assert_eq!(
                (source.dmarc, source.ses, source.amazonses_envelope),
                row,
                "{case}"
            );
            let judging = Judging {
                custom,
                unknown_source_threshold: 10,
                belief: &Belief::Believed,
                known_sources,
            };
            let found: Vec<Kind> = aggregate_findings(&report, &summary, judging)
                .iter()
                .map(Facts::kind)
                .collect();
            assert_eq!(found, kinds, "{case}");
        }
    }

    #[test]
    fn strangers_over_the_threshold_are_found_in_address_order_then_the_addressless() {
        let record = |ip: &str, count: u64| {
            format!(
                "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
                 <disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated>\
                 </row><identifiers><header_from>example.com</header_from></identifiers>\
                 <auth_results><spf><domain>spoof.example</domain><result>fail</result></spf>\
                 </auth_results></record>"
            )
        };
        let records: String = [
            ("203.0.113.9", 12),
            ("2001:db8::1", 30),
            ("", 15),
            ("198.51.100.4", 11),
            ("10.0.0.1", 40),
            ("192.0.2.200", 9),
        ]
        .iter()
        .map(|(ip, count)| record(ip, *count))
        .collect();
        let xml = format!(
            "<feedback><report_metadata><org_name>rx.example</org_name><report_id>1</report_id>\
             </report_metadata><policy_published><domain>example.com</domain><p>reject</p>\
             </policy_published>{records}</feedback>"
        );
        let mut report =
            crate::read::report::aggregate::parse(&xml).unwrap_or_else(|e| panic!("{e}"));
        let summary = summarize(&mut report, None);
        let known: HashMap<IpAddr, u64> = [(IpAddr::from([198, 51, 100, 4]), 0)].into();
        let judging = Judging {
            custom: None,
            unknown_source_threshold: 10,
            belief: &Belief::Believed,
            known_sources: Some(&known),
        };
        let found: Vec<(Option<String>, u64)> = aggregate_findings(&report, &summary, judging)
            .into_iter()
            .filter_map(|facts| match facts {
                Facts::ReportUnknownSource {
                    source_ip,
                    messages,
                    ..
                } => Some((source_ip, messages)),
                _ => None,
            })
            .collect();
        // 192.0.2.200 is under the threshold, 198.51.100.4 is known; IPv4 before IPv6.
        let expected = [
            (Some("10.0.0.1"), 40),
            (Some("203.0.113.9"), 12),
            (Some("2001:db8::1"), 30),
            (None, 15),
        ]
        .map(|(ip, n)| (ip.map(str::to_owned), n));
        assert_eq!(found, expected);
    }

    #[test]
    fn an_unauthenticated_report_says_only_that() {
        let mut report = one_row(
            "reject",
            7,
            ("fail", "fail"),
            "us-east-1.amazonses.com",
            SES_DKIM,
            "",
        );
        let summary = summarize(&mut report, None);
        let judging = Judging {
            custom: None,
            unknown_source_threshold: 1,
            belief: &Belief::Unauthenticated,
            known_sources: None,
        };
        let found: Vec<Kind> = aggregate_findings(&report, &summary, judging)
            .iter()
            .map(Facts::kind)
            .collect();
        assert_eq!(found, [Kind::ReportUnauthenticated]);
    }

    #[test]
    fn a_report_is_believed_only_from_its_reporters_organization() {
        let passed = |from: &str| Carried::DmarcPassed { from: from.into() };
        let google = vec!["google.com".to_owned()];
        let trusted = vec!["mailer.example".to_owned()];
        let mismatch = |from: &str| Belief::ReporterMismatch { from: from.into() };
        // (case, carried, reporter domains, expected)
        let cases = [
            (
                "a file: nothing to judge by",
                Carried::NotMail,
                google.clone(),
                Belief::Believed,
            ),
            (
                "mail without results, none required",
                Carried::Unjudged,
                google.clone(),
                Belief::Believed,
            ),
            (
                "its reporter's own domain",
                passed("google.com"),
                google.clone(),
                Belief::Believed,
            ),
            (
                "a subdomain of its reporter's",
                passed("dmarc.google.com"),
                google.clone(),
                Belief::Believed,
            ),
            (
                "an attacker's own domain, naming Google",
                passed("attacker.example"),
                google.clone(),
                mismatch("attacker.example"),
            ),
            (
                "a look-alike",
                passed("google.com.attacker.example"),
                google.clone(),
                mismatch("google.com.attacker.example"),
            ),
            (
                "no reporter domain named",
                passed("google.com"),
                vec![],
                mismatch("google.com"),
            ),
            (
                "a domain the user trusts",
                passed("reports.mailer.example"),
                vec!["receiver.example".to_owned()],
                Belief::Believed,
            ),
            (
                "failed DMARC",
                Carried::NotAuthenticated,
                google.clone(),
                Belief::Unauthenticated,
            ),
        ];
        for (case, carried, reporters, expected) in cases {
            assert_eq!(belief(&carried, &reporters, &trusted), expected, "{case}");
        }
    }

    #[test]
    fn reporters_are_named_by_address_url_or_domain() {
        // (contact, organization, domains)
        let cases = [
            (
                Some("noreply-dmarc-support@google.com"),
                Some("google.com"),
                vec!["google.com", "google.com"],
            ),
            (
                Some("mailto:tlsrpt@Sender.Example"),
                Some("Sender Inc"),
                vec!["sender.example"],
            ),
            (
                Some("https://tls.example.net/contact"),
                None,
                vec!["tls.example.net"],
            ),
            (None, Some("Yahoo"), vec![]),
        ];
        for (contact, organization, expected) in cases {
            assert_eq!(reporters(contact, organization), expected, "{contact:?}");
        }
    }

    #[test]
    fn counts_saturate_and_addresses_fold() {
        let xml = "<feedback><report_metadata><org_name>rx</org_name></report_metadata>\
            <policy_published><domain>example.com</domain></policy_published>\
            <record><row><source_ip>192.0.2.1</source_ip><count>18446744073709551615</count></row></record>\
            <record><row><source_ip>192.0.2.1</source_ip><count>40</count></row></record>\
            <record><row><source_ip>not an address</source_ip><count>2</count></row></record></feedback>";
        let mut report =
            crate::read::report::aggregate::parse(xml).unwrap_or_else(|e| panic!("{e}"));
        let summary = summarize(&mut report, None);
        assert_eq!(summary.messages, u64::MAX, "saturated, never wrapped");
        assert_eq!(summary.addresses.len(), 1);
        assert_eq!(summary.without_address.messages, 2);
        assert_eq!(summary.rows(), 3);
    }
}
