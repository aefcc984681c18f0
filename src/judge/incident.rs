//! Incidents: one per `(kind, domain, subject)`, opened by the first finding, counted while
//! it lasts, reminded of at an interval, and resolved by evidence that the condition is gone
//! (or, for kinds no evidence can clear, by a quiet period). Which message goes out, if any,
//! is decided here; the state table makes the decision once across every container
//! (`ports::incidents`, `flow::incidents`).
//!
//! What ends an incident is decided here and nowhere else: a recovery finding
//! ([`ended_by`]), a canary probe that arrived without the problem ([`cleared_by_probe`]), an
//! audit check that passed ([`cleared_by_audit`]), or the quiet period ([`quiet`]).
//!
//! Pure: the clock is an argument, and the state before a step is given, not read.

use crate::judge::findings::{Facts, Finding, Kind, Severity};
use crate::judge::posture::{AuditOutcome, CheckResult, PostureCheck, Verdict};

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
    /// When its last message (new or reminder) went out.
    pub last_sent: u64,
    /// Findings since it was opened.
    pub count: u64,
    /// Findings since its last message.
    pub unsent: u64,
    /// The latest finding's detail line.
    pub detail: String,
    /// The most severe of its findings: its messages carry it, the resolution too.
    pub severity: Severity,
    /// When it was resolved; `None` while open.
    pub resolved: Option<u64>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.resolved.is_none()
    }
}

/// How long incidents wait: the reminder interval and the quiet period, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub remind_every: u64,
    pub quiet: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            remind_every: 6 * 3600,
            quiet: 24 * 3600,
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

/// A finding of the incident seen at `now` (its detail line and severity): it opens the
/// incident (new, or again after it was resolved), or counts in the open one, reminding once
/// `remind_every` has passed since the last message.
pub fn seen(
    current: Option<&Incident>,
    (detail, severity): (&str, Severity),
    now: u64,
    timing: Timing,
) -> (Incident, Option<Notice>) {
    match current.filter(|i| i.is_open()) {
        None => (
            Incident {
                opened: now,
                last_seen: now,
                last_sent: now,
                count: 1,
                unsent: 0,
                detail: detail.to_owned(),
                severity,
                resolved: None,
            },
            Some(Notice::New),
        ),
        Some(open) => {
            let mut next = open.clone();
            next.count += 1;
            next.unsent += 1;
            next.last_seen = now.max(open.last_seen);
            next.severity = open.severity.max(severity);
            detail.clone_into(&mut next.detail);
            if now >= open.last_sent.saturating_add(timing.remind_every) {
                let notice = Notice::StillOpen {
                    count: next.unsent,
                    since: open.last_sent,
                };
                next.last_sent = now;
                next.unsent = 0;
                (next, Some(notice))
            } else {
                (next, None)
            }
        }
    }
}

/// Evidence at `now` that the incident's condition is gone: an open incident resolves.
pub fn cleared(current: Option<&Incident>, by: &str, now: u64) -> Option<(Incident, Notice)> {
    resolve(current?, Resolution::Evidence(by.to_owned()), now)
}

/// The quiet period at `now`: an open incident of a kind no evidence clears, with no finding
/// for `timing.quiet`, resolves.
pub fn quiet(
    key: &IncidentKey,
    current: &Incident,
    now: u64,
    timing: Timing,
) -> Option<(Incident, Notice)> {
    let quiet_for = now.saturating_sub(current.last_seen);
    (!closes_by_evidence(key.kind) && quiet_for >= timing.quiet)
        .then(|| {
            resolve(
                current,
                Resolution::Quiet {
                    period: timing.quiet,
                },
                now,
            )
        })
        .flatten()
}

/// The reminder interval at `now`: an open incident whose last message is `remind_every`
/// old is reminded of, even when no finding came since (the count then says 0).
pub fn remind(current: &Incident, now: u64, timing: Timing) -> Option<(Incident, Notice)> {
    if !current.is_open() || now < current.last_sent.saturating_add(timing.remind_every) {
        return None;
    }
    let mut next = current.clone();
    next.last_sent = now;
    next.unsent = 0;
    let notice = Notice::StillOpen {
        count: current.unsent,
        since: current.last_sent,
    };
    Some((next, notice))
}

fn resolve(current: &Incident, by: Resolution, now: u64) -> Option<(Incident, Notice)> {
    if !current.is_open() {
        return None;
    }
    let mut next = current.clone();
    next.resolved = Some(now);
    let notice = Notice::Resolved {
        duration: now.saturating_sub(current.opened),
        count: current.count,
        by,
    };
    Some((next, notice))
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

/// The kinds a probe from `identity` that arrived with `findings` clears for it: those it
/// checks for ([`CLEARED_BY_A_PASSING_PROBE`]) and did not show.
pub fn cleared_by_probe(identity: &str, findings: &[Finding]) -> Vec<Kind> {
    CLEARED_BY_A_PASSING_PROBE
        .into_iter()
        .filter(|kind| {
            !findings
                .iter()
                .any(|f| f.kind() == *kind && f.domain.as_deref() == Some(identity))
        })
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

/// The kinds a canary probe that passed clears for its identity: everything a probe checks.
pub const CLEARED_BY_A_PASSING_PROBE: [Kind; 7] = [
    Kind::MailFromFallback,
    Kind::MailFromStatus,
    Kind::DkimUnaligned,
    Kind::DkimNotSigning,
    Kind::SpfUnaligned,
    Kind::DmarcFail,
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

    /// The incident's life as a table: (what happens, at, the message expected, count).
    #[test]
    fn open_count_remind_resolve() {
        enum Step {
            Seen,
            Cleared,
        }
        let timing = Timing::default();
        let steps: &[(Step, u64, Option<&str>, u64)] = &[
            (Step::Seen, T0, Some("new"), 1),
            (Step::Seen, T0 + 60, None, 2),
            (Step::Seen, T0 + 5 * HOUR, None, 3),
            // Six hours after the first message: a reminder with the two since then.
            (Step::Seen, T0 + 6 * HOUR, Some("open"), 4),
            (Step::Seen, T0 + 7 * HOUR, None, 5),
            (Step::Cleared, T0 + 8 * HOUR, Some("resolved"), 5),
            // Evidence again: nothing left to resolve.
            (Step::Cleared, T0 + 9 * HOUR, None, 5),
            // The condition returns: a new incident.
            (Step::Seen, T0 + 10 * HOUR, Some("new"), 1),
        ];
        let mut current: Option<Incident> = None;
        for (index, (step, at, expected, count)) in steps.iter().enumerate() {
            let notice = match step {
                Step::Seen => {
                    let (next, notice) = seen(
                        current.as_ref(),
                        ("detail", Severity::Critical),
                        *at,
                        timing,
                    );
                    current = Some(next);
                    notice
                }
                Step::Cleared => match cleared(current.as_ref(), "a canary probe passed", *at) {
                    Some((next, notice)) => {
                        current = Some(next);
                        Some(notice)
                    }
                    None => None,
                },
            };
            assert_eq!(
                notice.as_ref().map(Notice::state),
                *expected,
                "step {index}"
            );
            assert_eq!(
                current.as_ref().map(|i| i.count),
                Some(*count),
                "step {index}"
            );
            match notice {
                Some(Notice::StillOpen { count, since }) => {
                    assert_eq!((count, since), (3, T0), "step {index}");
                }
                Some(Notice::Resolved {
                    duration,
                    count,
                    by,
                }) => {
                    assert_eq!(
                        (duration, count, by),
                        (
                            8 * HOUR,
                            5,
                            Resolution::Evidence("a canary probe passed".into())
                        ),
                        "step {index}"
                    );
                }
                _ => {}
            }
        }
    }

    #[test]
    fn quiet_kinds_resolve_after_the_quiet_period_and_evidence_kinds_never() {
        let timing = Timing::default();
        let (bounce, _) = seen(None, ("d", Severity::Warning), T0, timing);
        let bounce_key = key(Kind::AuthBounce);
        assert_eq!(quiet(&bounce_key, &bounce, T0 + 23 * HOUR, timing), None);
        let (resolved, notice) =
            quiet(&bounce_key, &bounce, T0 + 24 * HOUR, timing).unwrap_or_else(|| panic!());
        assert_eq!(resolved.resolved, Some(T0 + 24 * HOUR));
        assert_eq!(
            notice,
            Notice::Resolved {
                duration: 24 * HOUR,
                count: 1,
                by: Resolution::Quiet { period: 24 * HOUR }
            }
        );
        // Resolved already: the sweep says nothing again.
        assert_eq!(quiet(&bounce_key, &resolved, T0 + 48 * HOUR, timing), None);
        // A fallback is not over because no mail was seen: only evidence ends it.
        let (fallback, _) = seen(None, ("d", Severity::Critical), T0, timing);
        assert_eq!(
            quiet(
                &key(Kind::MailFromFallback),
                &fallback,
                T0 + 1000 * HOUR,
                timing
            ),
            None
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
