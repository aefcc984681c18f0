//! Incidents: one per `(kind, domain, subject)`, opened by the first finding, counted while
//! it lasts, reminded of at an interval, and resolved by evidence that the condition is gone
//! (or, for kinds no evidence can clear, by a quiet period). Which message goes out, if any,
//! is decided here; the state table makes the decision once across every container
//! (`ports::incidents`, `flow::incidents`).
//!
//! What ends an incident is decided here and nowhere else: a recovery finding
//! ([`ended_by`]), a canary probe that arrived without the problem ([`cleared_by_probe`]), an
//! audit check that passed ([`cleared_by_audit`]), a clean report from a receiver that found
//! it ([`cleared_by_report`]), the quiet period, or its subject no longer watched
//! ([`unmonitored`]); the sweep applies the last two ([`swept`]).
//!
//! Pure: the clock is an argument, and the state before a step is given, not read.

use crate::judge::findings::{Facts, Finding, Kind, Severity};
use crate::judge::posture::{AuditOutcome, CheckResult, PostureCheck, Verdict};
use std::collections::BTreeSet;

/// Which incident a finding belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncidentKey {
    pub kind: Kind,
    /// The domain, or `account` for findings about the account as a whole.
    pub domain: String,
    /// What tells two incidents of one kind apart (the VDM recommendation, the paused
    /// resource): [`crate::judge::findings::Facts::subject`].
    pub subject: Option<String>,
}

impl IncidentKey {
    /// The incident of `kind` about `domain`, with no subject.
    pub fn about(kind: Kind, domain: &str) -> Self {
        Self {
            kind,
            domain: domain.to_owned(),
            subject: None,
        }
    }

    /// The incident `finding` belongs to, under its own kind.
    pub fn of(finding: &Finding) -> Self {
        Self::of_kind(finding.kind(), finding)
    }

    /// The incident of `kind` about what `finding` is about (a recovery names the incident
    /// it ends this way).
    pub fn of_kind(kind: Kind, finding: &Finding) -> Self {
        Self {
            kind,
            domain: finding
                .domain
                .clone()
                .unwrap_or_else(|| "account".to_owned()),
            subject: finding.facts.subject().map(str::to_owned),
        }
    }

    /// One text naming the incident, as the state table keys it.
    pub fn id(&self) -> String {
        format!(
            "{}#{}#{}",
            self.kind.as_str(),
            self.domain,
            self.subject.as_deref().unwrap_or("")
        )
    }
}

/// One incident's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// When it was opened, Unix seconds.
    pub opened: u64,
    /// When a finding of it was last seen.
    pub last_seen: u64,
    /// When its last message (new or reminder) was owed.
    pub last_sent: u64,
    /// Findings since it was opened: every occurrence adds one, without reading the incident.
    pub count: u64,
    /// `count` when its last message was owed: the findings since are `count - counted_at_notice`.
    pub counted_at_notice: u64,
    /// The latest finding's detail line.
    pub detail: String,
    /// The most severe of its findings: its messages carry it, the resolution too.
    pub severity: Severity,
    /// When it was resolved; `None` while open.
    pub resolved: Option<u64>,
    /// The message this incident owes: written in the same conditional write as the change
    /// that calls for it, and cleared only once the publisher took it.
    pub owed: Option<Owed>,
    /// The receivers whose reports found it (report kinds): a later clean report from one of
    /// them is evidence that it is over.
    pub reporters: BTreeSet<String>,
}

/// One finding of an incident, to count in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub now: u64,
    pub detail: String,
    pub severity: Severity,
    /// The receiver whose report found it, for report kinds.
    pub reporter: Option<String>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.resolved.is_none()
    }

    /// Open, or owing a message: the sweep looks at it.
    pub fn needs_attention(&self) -> bool {
        self.is_open() || self.owed.is_some()
    }
}

/// A message an incident owes, and until when the writer that is sending it holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    pub notice: Notice,
    /// Unix seconds; past it, the next step or the sweep sends the message instead.
    pub leased_until: u64,
}

/// How long incidents wait, in seconds: the reminder interval, the quiet periods, and how
/// long a writer holds an owed message while it sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub remind_every: u64,
    /// For kinds no check can confirm over, found in mail as it flows.
    pub quiet: u64,
    /// For kinds found in receivers' reports, which come once a day or less often: longer than
    /// the reporting interval, so that the gap between two reports does not read as the end.
    pub report_quiet: u64,
    pub lease: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            remind_every: 6 * 3600,
            quiet: 24 * 3600,
            report_quiet: 72 * 3600,
            lease: 120,
        }
    }
}

impl Timing {
    /// The quiet period that resolves an incident of `kind`; `None` for kinds only evidence ends.
    pub fn quiet_period(&self, kind: Kind) -> Option<u64> {
        if closes_by_evidence(kind) {
            None
        } else if is_from_reports(kind) {
            Some(self.report_quiet)
        } else {
            Some(self.quiet)
        }
    }
}

/// What ended an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Evidence the condition is gone, in a few words ("a canary probe passed").
    Evidence(String),
    /// No finding for the quiet period, for a kind no evidence can clear.
    Quiet { period: u64 },
    /// What it is about is no longer watched: the monitor cannot see it end.
    Unmonitored(Unmonitored),
}

/// Why an incident's subject is no longer watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmonitored {
    /// The domain left the monitored domains.
    DomainRemoved,
    /// No SES identity covers the domain any more.
    IdentityGone,
    /// The canary was turned off.
    CanaryOff,
    /// The configuration set SES paused no longer exists.
    ConfigurationSetGone,
    /// The audit no longer judges bulk-sender readiness (`BULK_SENDER=off`).
    BulkSenderOff,
}

/// What still watches incidents' subjects, as the sweep knows it: `None` where it could not be
/// listed, so that nothing is closed for want of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Watched<'a> {
    /// The domains the account's identities cover.
    pub identity_domains: Option<&'a BTreeSet<String>>,
    /// The account's configuration sets, by name.
    pub configuration_sets: Option<&'a BTreeSet<String>>,
    /// Whether the canary is on.
    pub canary: bool,
    /// Whether the audit judges bulk-sender readiness.
    pub bulk_sender: bool,
}

/// The message a step sends, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The incident opened.
    New,
    /// Still open: `count` findings since the last message at `since`.
    StillOpen { count: u64, since: u64 },
    /// It ended, after `duration` seconds and `count` findings.
    Resolved {
        duration: u64,
        count: u64,
        by: Resolution,
    },
}

impl Notice {
    /// The `state` message attribute subscribers filter on.
    pub fn state(&self) -> &'static str {
        match self {
            Self::New => "new",
            Self::StillOpen { .. } => "open",
            Self::Resolved { .. } => "resolved",
        }
    }
}

/// What a step does to an incident, decided from the state it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Nothing to write, nothing to send.
    Nothing,
    /// Open it: written whole, if nobody wrote it since it was read; it owes "new".
    Open(Incident),
    /// Change the open incident (a reminder, a resolution), if nobody changed it since it was
    /// read; the findings counted meanwhile are kept. It owes the message in it.
    Change(Incident),
    /// It owes a message nobody holds (its sender failed or died): take it and send it.
    Resend(Notice),
}

/// A finding of the incident (`occurrence`). `current` is the incident after this finding was
/// counted in it, when it was open; otherwise it opens (new, or again after it was resolved).
/// An open incident owing a message nobody holds sends it; one owing none reminds once
/// `remind_every` has passed since the last message.
pub fn seen(current: Option<&Incident>, occurrence: &Occurrence, timing: Timing) -> Due {
    let now = occurrence.now;
    match current.filter(|i| i.is_open()) {
        None => Due::Open(Incident {
            opened: now,
            last_seen: now,
            last_sent: now,
            count: 1,
            counted_at_notice: 1,
            detail: occurrence.detail.clone(),
            severity: occurrence.severity,
            resolved: None,
            owed: Some(Owed {
                notice: Notice::New,
                leased_until: now.saturating_add(timing.lease),
            }),
            reporters: occurrence.reporter.iter().cloned().collect(),
        }),
        Some(open) => owed_or_reminder(open, now, timing),
    }
}

/// Evidence at `now` that the incident's condition is gone: an open incident resolves. The
/// resolution replaces a message still owed: it says all the reader needs.
pub fn cleared(current: Option<&Incident>, by: &str, now: u64, timing: Timing) -> Due {
    current.map_or(Due::Nothing, |c| {
        resolve(c, Resolution::Evidence(by.to_owned()), now, timing)
    })
}

/// The sweep at `now`, for an incident open or owing a message: a message owed and not held
/// is sent; an open incident whose subject is no longer watched (`unmonitored`) is closed
/// saying so; one quiet for its kind's quiet period is resolved; else reminded of when its last
/// message is `remind_every` old, even with no finding since (the count then says 0).
pub fn swept(
    key: &IncidentKey,
    current: &Incident,
    unmonitored: Option<Unmonitored>,
    now: u64,
    timing: Timing,
) -> Due {
    if !current.is_open() {
        return resend(current, now);
    }
    if let Some(why) = unmonitored {
        return resolve(current, Resolution::Unmonitored(why), now, timing);
    }
    let quiet_for = now.saturating_sub(current.last_seen);
    match timing.quiet_period(key.kind) {
        Some(period) if quiet_for >= period => {
            resolve(current, Resolution::Quiet { period }, now, timing)
        }
        _ => owed_or_reminder(current, now, timing),
    }
}

fn owed_or_reminder(open: &Incident, now: u64, timing: Timing) -> Due {
    if open.owed.is_some() {
        return resend(open, now);
    }
    if now < open.last_sent.saturating_add(timing.remind_every) {
        return Due::Nothing;
    }
    let mut next = open.clone();
    next.owed = Some(Owed {
        notice: Notice::StillOpen {
            count: open.count.saturating_sub(open.counted_at_notice),
            since: open.last_sent,
        },
        leased_until: now.saturating_add(timing.lease),
    });
    next.last_sent = now;
    next.counted_at_notice = open.count;
    Due::Change(next)
}

fn resend(current: &Incident, now: u64) -> Due {
    match &current.owed {
        Some(owed) if owed.leased_until <= now => Due::Resend(owed.notice.clone()),
        _ => Due::Nothing,
    }
}

fn resolve(current: &Incident, by: Resolution, now: u64, timing: Timing) -> Due {
    if !current.is_open() {
        return Due::Nothing;
    }
    let mut next = current.clone();
    next.resolved = Some(now);
    next.owed = Some(Owed {
        notice: Notice::Resolved {
            duration: now.saturating_sub(current.opened),
            count: current.count,
            by,
        },
        leased_until: now.saturating_add(timing.lease),
    });
    Due::Change(next)
}

/// What no longer watches an incident's subject, when something does not: its domain left
/// the monitored ones (`monitored` says whether a domain still is), no SES identity covers it
/// for a kind about an identity's set-up, the canary is off for a canary kind, or the
/// configuration set a pause is about no longer exists.
pub fn unmonitored(
    key: &IncidentKey,
    monitored: impl Fn(&str) -> bool,
    watched: &Watched<'_>,
) -> Option<Unmonitored> {
    if key.kind == Kind::SendingPaused {
        let set = key
            .subject
            .as_deref()
            .and_then(|arn| arn.split_once(":configuration-set/"))
            .map(|(_, name)| name);
        return match (set, watched.configuration_sets) {
            (Some(name), Some(sets)) if !sets.contains(name) => {
                Some(Unmonitored::ConfigurationSetGone)
            }
            _ => None,
        };
    }
    if key.domain == "account" {
        return None;
    }
    if !monitored(&key.domain) {
        return Some(Unmonitored::DomainRemoved);
    }
    if key.kind == Kind::CanaryMissing && !watched.canary {
        return Some(Unmonitored::CanaryOff);
    }
    if key.kind == Kind::BulkRequirementFailed && !watched.bulk_sender {
        return Some(Unmonitored::BulkSenderOff);
    }
    match watched.identity_domains {
        Some(domains) if closes_by_evidence(key.kind) && !domains.contains(&key.domain) => {
            Some(Unmonitored::IdentityGone)
        }
        _ => None,
    }
}

/// Kinds found in receivers' reports.
pub fn is_from_reports(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::ReportMailFromFallback
            | Kind::ReportDmarcFail
            | Kind::ReportUnknownSource
            | Kind::ReportUnauthenticated
            | Kind::TlsRptFailure
    )
}

/// Kinds whose incidents end only on evidence: the posture audit or the canary checks what
/// they are about on every run. Every other kind ends after a quiet period.
pub fn closes_by_evidence(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::MailFromFallback
            | Kind::MailFromStatus
            | Kind::MailFromMxMissing
            | Kind::MailFromSpfMissing
            | Kind::DkimDnsMissing
            | Kind::DkimNotSigning
            | Kind::CanaryMissing
            | Kind::SendingPaused
            | Kind::BulkRequirementFailed
    )
}

/// The kind of incident these facts end, when they report a recovery (sending resumed, VDM's
/// advice resolved).
pub fn ended_by(facts: &Facts) -> Option<Kind> {
    match facts {
        Facts::SendingResumed { .. } => Some(Kind::SendingPaused),
        Facts::AdvisorResolved { .. } => Some(Kind::AdvisorRecommendation),
        _ => None,
    }
}

/// The kinds a probe from `identity` that arrived with `findings` clears for it: those a
/// probe observes ([`CLEARED_BY_A_PASSING_PROBE`]) that it was `judged` for against the
/// identity's known state (its arrival alone ends `canary_missing`), and did not show.
pub fn cleared_by_probe(identity: &str, judged: &[Kind], findings: &[Finding]) -> Vec<Kind> {
    CLEARED_BY_A_PASSING_PROBE
        .into_iter()
        .filter(|kind| *kind == Kind::CanaryMissing || judged.contains(kind))
        .filter(|kind| {
            !findings
                .iter()
                .any(|f| f.kind() == *kind && f.domain.as_deref() == Some(identity))
        })
        .collect()
}

/// What a believed report could show, so what its silence clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportShape {
    /// A DMARC aggregate report; `custom`: the domain has a custom MAIL FROM, so a fallback
    /// would show in it.
    Aggregate { custom: bool },
    /// An SMTP TLS report.
    Tls,
}

/// The report kinds a believed, newly counted report clears for its domain, for the receiver
/// that sent it: those it could have shown and did not (`found`: its findings, before any
/// daily limit dropped some). Only incidents that receiver's reports opened or counted end so
/// (`Incident::reporters`): one receiver's clean report says nothing of another's view.
pub fn cleared_by_report(shape: ReportShape, found: &[Finding]) -> Vec<Kind> {
    let could_show: &[Kind] = match shape {
        ReportShape::Aggregate { custom: true } => &[
            Kind::ReportMailFromFallback,
            Kind::ReportDmarcFail,
            Kind::ReportUnknownSource,
        ],
        ReportShape::Aggregate { custom: false } => {
            &[Kind::ReportDmarcFail, Kind::ReportUnknownSource]
        }
        ReportShape::Tls => &[Kind::TlsRptFailure],
    };
    could_show
        .iter()
        .copied()
        .filter(|kind| !found.iter().any(|f| f.kind() == *kind))
        .collect()
}

/// The kinds an audit report clears for its domain, each beside the passing check that
/// clears it; a kind the audit also found is not cleared.
pub fn cleared_by_audit(report: &AuditOutcome) -> Vec<(Kind, &CheckResult)> {
    report
        .checks
        .iter()
        .flat_map(|check| {
            cleared_by_check(check)
                .iter()
                .map(move |kind| (*kind, check))
        })
        .filter(|(kind, _)| !report.findings.iter().any(|f| f.kind() == *kind))
        .collect()
}

/// The kinds a canary probe that passed can clear for its identity: what the probe itself
/// observes. Not `dmarc_fail` nor the alignment kinds: their incidents are opened by any
/// sender's mail for the domain, and one good probe says nothing about the others.
pub const CLEARED_BY_A_PASSING_PROBE: [Kind; 4] = [
    Kind::MailFromFallback,
    Kind::MailFromStatus,
    Kind::DkimNotSigning,
    Kind::CanaryMissing,
];

/// The kinds an audit check that passed clears for its domain.
pub fn cleared_by_check(check: &CheckResult) -> &'static [Kind] {
    if check.verdict != Verdict::Pass {
        return &[];
    }
    match check.check {
        // SESv2 reports the custom MAIL FROM domain as SUCCESS: it is in use again.
        PostureCheck::MailFromStatus => &[Kind::MailFromStatus, Kind::MailFromFallback],
        PostureCheck::MailFromMx => &[Kind::MailFromMxMissing],
        PostureCheck::MailFromSpf => &[Kind::MailFromSpfMissing],
        PostureCheck::DkimSigning => &[Kind::DkimNotSigning],
        PostureCheck::DkimDns => &[Kind::DkimDnsMissing],
        PostureCheck::Dmarc => &[Kind::NoDmarcPolicy, Kind::StrictSpfAlignment],
        PostureCheck::ReportAuthorization => &[Kind::ReportDestinationUnauthorized],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3600;
    const T0: u64 = 1_796_000_000;

    fn key(kind: Kind) -> IncidentKey {
        IncidentKey {
            kind,
            domain: "example.com".into(),
            subject: None,
        }
    }

    fn open_at(opened: u64, owed: Option<Owed>) -> Incident {
        Incident {
            opened,
            last_seen: opened,
            last_sent: opened,
            count: 3,
            counted_at_notice: 1,
            detail: "d".into(),
            severity: Severity::Critical,
            resolved: None,
            owed,
            reporters: BTreeSet::new(),
        }
    }

    fn owed(notice: Notice, leased_until: u64) -> Option<Owed> {
        Some(Owed {
            notice,
            leased_until,
        })
    }

    /// What a finding calls for, by the state it finds (after it was counted): a table of
    /// (case, the incident, the time, the decision's shape and the message it owes).
    #[test]
    fn what_a_finding_calls_for() {
        let timing = Timing::default();
        let resolved = Incident {
            resolved: Some(T0 + HOUR),
            ..open_at(T0, None)
        };
        type Case = (
            &'static str,
            Option<Incident>,
            u64,
            &'static str,
            Option<Notice>,
        );
        let cases: &[Case] = &[
            (
                "nothing stored: it opens",
                None,
                T0,
                "open",
                Some(Notice::New),
            ),
            (
                "resolved: it opens again",
                Some(resolved),
                T0 + 2 * HOUR,
                "open",
                Some(Notice::New),
            ),
            (
                "open, nothing owed, within the interval: only counted",
                Some(open_at(T0, None)),
                T0 + HOUR,
                "nothing",
                None,
            ),
            (
                "open for the interval: a reminder with the findings since the last message",
                Some(open_at(T0, None)),
                T0 + 6 * HOUR,
                "change",
                Some(Notice::StillOpen {
                    count: 2,
                    since: T0,
                }),
            ),
            (
                "a message owed and held by its sender: nothing",
                Some(open_at(T0, owed(Notice::New, T0 + 120))),
                T0 + 60,
                "nothing",
                None,
            ),
            (
                "a message owed and let go: sent again as it was",
                Some(open_at(T0, owed(Notice::New, 0))),
                T0 + 60,
                "resend",
                Some(Notice::New),
            ),
            (
                "a message owed whose sender died: sent once the lease is over",
                Some(open_at(T0, owed(Notice::New, T0 + 120))),
                T0 + 120,
                "resend",
                Some(Notice::New),
            ),
            (
                "a message owed past the interval: it goes first, no reminder on top",
                Some(open_at(T0, owed(Notice::New, T0 + 120))),
                T0 + 7 * HOUR,
                "resend",
                Some(Notice::New),
            ),
        ];
        for (name, current, at, shape, notice) in cases {
            let occurrence = Occurrence {
                now: *at,
                detail: "d".into(),
                severity: Severity::Critical,
                reporter: None,
            };
            let due = seen(current.as_ref(), &occurrence, timing);
            let (got_shape, got_notice) = describe(&due);
            assert_eq!((got_shape, got_notice), (*shape, notice.clone()), "{name}");
            if let Due::Open(next) | Due::Change(next) = &due {
                assert_eq!(
                    next.owed.as_ref().map(|o| o.leased_until),
                    Some(at + timing.lease),
                    "{name}: the writer holds its message while it sends it"
                );
            }
        }
    }

    fn describe(due: &Due) -> (&'static str, Option<Notice>) {
        match due {
            Due::Nothing => ("nothing", None),
            Due::Open(next) => ("open", next.owed.as_ref().map(|o| o.notice.clone())),
            Due::Change(next) => ("change", next.owed.as_ref().map(|o| o.notice.clone())),
            Due::Resend(notice) => ("resend", Some(notice.clone())),
        }
    }

    /// What the sweep does, by kind and state: (case, kind, the incident, unwatched, the
    /// time, the decision's shape and its message).
    #[test]
    fn what_the_sweep_calls_for() {
        let timing = Timing::default();
        let sent_resolution = Incident {
            resolved: Some(T0 + HOUR),
            ..open_at(T0, None)
        };
        let owed_resolution = Incident {
            resolved: Some(T0 + HOUR),
            ..open_at(
                T0,
                owed(
                    Notice::Resolved {
                        duration: HOUR,
                        count: 3,
                        by: Resolution::Quiet { period: HOUR },
                    },
                    0,
                ),
            )
        };
        let quiet = |period| Notice::Resolved {
            duration: period,
            count: 3,
            by: Resolution::Quiet { period },
        };
        type Case = (
            &'static str,
            Kind,
            Incident,
            Option<Unmonitored>,
            u64,
            &'static str,
            Option<Notice>,
        );
        let cases: &[Case] = &[
            (
                "a bounce quiet for a day: resolved",
                Kind::AuthBounce,
                open_at(T0, None),
                None,
                T0 + 24 * HOUR,
                "change",
                Some(quiet(24 * HOUR)),
            ),
            (
                "a report kind a day and more after its report: the next report is not due yet",
                Kind::ReportDmarcFail,
                open_at(T0, None),
                None,
                T0 + 25 * HOUR,
                "change",
                Some(Notice::StillOpen {
                    count: 2,
                    since: T0,
                }),
            ),
            (
                "a report kind quiet for three days: resolved",
                Kind::ReportDmarcFail,
                open_at(T0, None),
                None,
                T0 + 72 * HOUR,
                "change",
                Some(quiet(72 * HOUR)),
            ),
            (
                "a fallback no finding came for: only evidence ends it, so a reminder",
                Kind::MailFromFallback,
                open_at(T0, None),
                None,
                T0 + 1000 * HOUR,
                "change",
                Some(Notice::StillOpen {
                    count: 2,
                    since: T0,
                }),
            ),
            (
                "a fallback for a domain no longer monitored: closed, saying so",
                Kind::MailFromFallback,
                open_at(T0, None),
                Some(Unmonitored::DomainRemoved),
                T0 + HOUR,
                "change",
                Some(Notice::Resolved {
                    duration: HOUR,
                    count: 3,
                    by: Resolution::Unmonitored(Unmonitored::DomainRemoved),
                }),
            ),
            (
                "resolved and sent: nothing",
                Kind::AuthBounce,
                sent_resolution,
                None,
                T0 + 30 * HOUR,
                "nothing",
                None,
            ),
            (
                "resolved and the resolution owed: sent",
                Kind::AuthBounce,
                owed_resolution,
                Some(Unmonitored::DomainRemoved),
                T0 + 2 * HOUR,
                "resend",
                Some(quiet(HOUR)),
            ),
        ];
        for (name, kind, current, unwatched, at, shape, notice) in cases {
            let due = swept(&key(*kind), current, *unwatched, *at, timing);
            assert_eq!(describe(&due), (*shape, notice.clone()), "{name}");
        }
    }

    #[test]
    fn evidence_resolves_an_open_incident_once() {
        let timing = Timing::default();
        let due = cleared(
            Some(&open_at(T0, None)),
            "a probe passed",
            T0 + HOUR,
            timing,
        );
        let Due::Change(resolved) = due else {
            panic!("{due:?}")
        };
        assert_eq!(resolved.resolved, Some(T0 + HOUR));
        assert_eq!(
            describe(&Due::Change(resolved.clone())).1,
            Some(Notice::Resolved {
                duration: HOUR,
                count: 3,
                by: Resolution::Evidence("a probe passed".into())
            })
        );
        assert_eq!(
            cleared(Some(&resolved), "again", T0 + 2 * HOUR, timing),
            Due::Nothing
        );
        assert_eq!(cleared(None, "nothing open", T0, timing), Due::Nothing);
    }

    /// What no longer watches an incident: (kind, domain, subject, monitored, identity domains
    /// listed, canary on, expected).
    #[test]
    fn what_is_no_longer_watched() {
        let listed: BTreeSet<String> = ["example.com".to_owned()].into();
        let sets: BTreeSet<String> = ["monitored".to_owned()].into();
        let set =
            |name: &str| format!("arn:aws:ses:us-east-1:111122223333:configuration-set/{name}");
        type Case<'a> = (
            Kind,
            &'static str,
            Option<String>,
            bool,
            Option<&'a BTreeSet<String>>,
            bool,
            Option<Unmonitored>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                Kind::MailFromFallback,
                "example.com",
                None,
                true,
                Some(&listed),
                true,
                None,
            ),
            (
                Kind::MailFromFallback,
                "example.com",
                None,
                false,
                Some(&listed),
                true,
                Some(Unmonitored::DomainRemoved),
            ),
            (
                Kind::MailFromFallback,
                "example.org",
                None,
                true,
                Some(&listed),
                true,
                Some(Unmonitored::IdentityGone),
            ),
            // The identities could not be listed: no incident closed for want of one.
            (
                Kind::MailFromFallback,
                "example.org",
                None,
                true,
                None,
                true,
                None,
            ),
            // Mail flows for a domain without an identity: its kinds end as they always do.
            (
                Kind::DmarcFail,
                "example.org",
                None,
                true,
                Some(&listed),
                true,
                None,
            ),
            (
                Kind::CanaryMissing,
                "example.com",
                None,
                true,
                Some(&listed),
                false,
                Some(Unmonitored::CanaryOff),
            ),
            (
                Kind::SendingPaused,
                "account",
                None,
                false,
                Some(&listed),
                false,
                None,
            ),
            (
                Kind::SendingPaused,
                "account",
                Some(set("monitored")),
                true,
                Some(&listed),
                true,
                None,
            ),
            (
                Kind::SendingPaused,
                "account",
                Some(set("deleted")),
                true,
                Some(&listed),
                true,
                Some(Unmonitored::ConfigurationSetGone),
            ),
        ];
        for (kind, domain, subject, monitored, identities, canary, expected) in cases {
            let key = IncidentKey {
                kind,
                domain: domain.into(),
                subject: subject.clone(),
            };
            let watched = Watched {
                identity_domains: identities,
                configuration_sets: Some(&sets),
                canary,
                bulk_sender: true,
            };
            assert_eq!(
                unmonitored(&key, |_| monitored, &watched),
                expected,
                "{kind:?} {domain} {subject:?}"
            );
        }
        // Bulk-sender readiness turned off: its incidents are watched no more; on, they are.
        let key = IncidentKey {
            kind: Kind::BulkRequirementFailed,
            domain: "example.com".into(),
            subject: Some("complaint_rate".into()),
        };
        for (bulk_sender, expected) in [(false, Some(Unmonitored::BulkSenderOff)), (true, None)] {
            let watched = Watched {
                identity_domains: Some(&listed),
                configuration_sets: Some(&sets),
                canary: true,
                bulk_sender,
            };
            assert_eq!(unmonitored(&key, |_| true, &watched), expected);
        }
    }

    #[test]
    fn a_probe_clears_only_what_it_observed_against_a_known_state() {
        let all = [
            Kind::MailFromFallback,
            Kind::MailFromStatus,
            Kind::DkimNotSigning,
            Kind::DkimUnaligned,
        ];
        // Judged against a known state and clean: what a probe observes, not DMARC or alignment.
        assert_eq!(
            cleared_by_probe("example.com", &all, &[]),
            [
                Kind::MailFromFallback,
                Kind::MailFromStatus,
                Kind::DkimNotSigning,
                Kind::CanaryMissing
            ]
        );
        // The identity's state unknown: only its arrival is evidence.
        assert_eq!(
            cleared_by_probe("example.com", &[], &[]),
            [Kind::CanaryMissing]
        );
    }

    #[test]
    fn what_evidence_clears() {
        let check = |check, verdict| CheckResult {
            check,
            verdict,
            observed: crate::judge::posture::Observed::NoCustomMailFrom,
        };
        assert_eq!(
            cleared_by_check(&check(PostureCheck::MailFromStatus, Verdict::Pass)),
            [Kind::MailFromStatus, Kind::MailFromFallback]
        );
        assert!(cleared_by_check(&check(PostureCheck::MailFromMx, Verdict::Fail)).is_empty());
        assert!(cleared_by_check(&check(PostureCheck::MailFromMx, Verdict::Unjudged)).is_empty());
    }

    #[test]
    fn keys_name_kind_domain_and_subject() {
        assert_eq!(key(Kind::DmarcFail).id(), "dmarc_fail#example.com#");
        let subject = IncidentKey {
            subject: Some("configuration-set/monitored".into()),
            ..key(Kind::SendingPaused)
        };
        assert_eq!(
            subject.id(),
            "sending_paused#example.com#configuration-set/monitored"
        );
    }
}
