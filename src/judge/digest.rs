//! The weekly digest's figures and what to fix first: every domain's mail by day and by
//! sender ([`Digest`]), built from believed reports (the CLI) or from the daily rollups (the
//! digest function), and the action items that follow ([`Digest::actions`]), at most
//! [`ACTIONS_SHOWN`], worst first. Words are made in `say::digest`.
//!
//! A report belongs to the UTC day of its `end` (a report ending at 00:00 belongs to the new
//! day) and counts when that moment falls in the period. Reports before the period are the
//! history: the week before gives each domain's change, and every earlier sender is not new.
//! Pure: the period comes from the caller.

use crate::judge::bulk::{Requirement, Status};
use crate::judge::findings::Severity;
use crate::judge::report::{AggregateSummary, Belief, SourceTally};
use crate::judge::source::{Classified, SourceClass};
use crate::read::domain::normalize;
use crate::read::report::aggregate::AggregateReport;
use crate::read::report::tls::TlsReport;
use std::collections::{BTreeMap, BTreeSet};

pub const DAY: u64 = 86_400;
pub const WEEK: u64 = 7 * DAY;
/// How many action items the digest leads with.
pub const ACTIONS_SHOWN: usize = 5;
/// A fall of the DMARC pass rate by this many tenths of a percent, week on week, is an
/// action item.
pub const PASS_RATE_DROP_PERMILLE: u64 = 50;

/// The first second of the UTC day `moment` falls in: the key every day's figures are kept
/// and read under.
pub fn day_start(moment: u64) -> u64 {
    moment / DAY * DAY
}

/// The moments counted: `[from, to)`, Unix seconds; open at an end that is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    pub from: Option<u64>,
    pub to: Option<u64>,
}

impl Period {
    pub fn contains(&self, moment: u64) -> bool {
        self.from.is_none_or(|from| moment >= from) && self.to.is_none_or(|to| moment < to)
    }

    /// The last full week (Monday 00:00 UTC to Monday 00:00 UTC) before `now`.
    pub fn last_full_week(now: u64) -> Period {
        // 1970-01-01 was a Thursday: Mondays are 4 days into the epoch's week.
        let monday = (now.saturating_sub(4 * DAY)) / WEEK * WEEK + 4 * DAY;
        let monday = if monday > now { monday - WEEK } else { monday };
        Period {
            from: Some(monday.saturating_sub(WEEK)),
            to: Some(monday),
        }
    }

    /// The ISO week `from` starts, when the period is exactly one: `(year, week)`.
    pub fn iso_week(&self) -> Option<(i64, u64)> {
        let (from, to) = (self.from?, self.to?);
        let is_monday = from.is_multiple_of(DAY) && (from / DAY + 3).is_multiple_of(7);
        (is_monday && to == from + WEEK).then(|| iso_week_of(from))
    }

    /// The week before, when the period has a start.
    pub fn week_before(&self) -> Option<Period> {
        let from = self.from?;
        Some(Period {
            from: Some(from.saturating_sub(WEEK)),
            to: Some(from),
        })
    }

    /// The days of the period, when it is bounded and at most 31 days long.
    pub fn days(&self) -> Vec<u64> {
        match (self.from, self.to) {
            (Some(from), Some(to)) if to > from && to - from <= 31 * DAY => {
                (from / DAY..to.div_ceil(DAY)).map(|d| d * DAY).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// ISO 8601 year and week of a moment: the week's Thursday decides the year.
fn iso_week_of(moment: u64) -> (i64, u64) {
    let day = (moment / DAY) as i64;
    // Monday = 0; 1970-01-01 (day 0) was a Thursday.
    let weekday = (day + 3).rem_euclid(7);
    let thursday = day - weekday + 3;
    let (year, ordinal) = year_and_ordinal(thursday);
    (year, ordinal as u64 / 7 + 1)
}

/// The civil year of a day since 1970-01-01 and the day's index in it (0-based).
fn year_and_ordinal(day: i64) -> (i64, i64) {
    let mut year = 1970 + day.div_euclid(366);
    let start = |y: i64| days_before_year(y);
    while start(year + 1) <= day {
        year += 1;
    }
    while start(year) > day {
        year -= 1;
    }
    (year, day - start(year))
}

fn days_before_year(year: i64) -> i64 {
    let y = year - 1;
    365 * (year - 1970) + (y / 4 - y / 100 + y / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400)
}

/// One domain's mail on one UTC day, as receivers' reports counted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayFigures {
    pub by_sender: BTreeMap<Classified, SourceTally>,
    /// SES's mail with an amazonses.com envelope: the MAIL FROM fell back.
    pub fallback_messages: u64,
    pub reports: u64,
    /// The reports by reporter, as each names itself.
    pub reporters: BTreeMap<String, u64>,
    /// The policy (`p=`, lower case) the day's latest report found published.
    pub policy: Option<String>,
}

impl DayFigures {
    pub fn absorb(&mut self, other: &DayFigures) {
        for (sender, tally) in &other.by_sender {
            self.by_sender
                .entry(sender.clone())
                .or_default()
                .absorb(tally);
        }
        self.fallback_messages = self
            .fallback_messages
            .saturating_add(other.fallback_messages);
        self.reports = self.reports.saturating_add(other.reports);
        for (reporter, n) in &other.reporters {
            let count = self.reporters.entry(reporter.clone()).or_default();
            *count = count.saturating_add(*n);
        }
        if other.policy.is_some() {
            self.policy.clone_from(&other.policy);
        }
    }

    /// A report's figures.
    pub fn of_report(report: &AggregateReport, summary: &AggregateSummary) -> DayFigures {
        DayFigures {
            by_sender: summary.by_sender.clone(),
            fallback_messages: summary.fallback_messages,
            reports: 1,
            reporters: BTreeMap::from([(reporter_name(report.org_name.as_deref()), 1)]),
            policy: report
                .policy
                .p
                .as_deref()
                .map(|p| p.trim().to_ascii_lowercase())
                .filter(|p| !p.is_empty()),
        }
    }

    pub fn totals(&self) -> SourceTally {
        let mut total = SourceTally::default();
        for tally in self.by_sender.values() {
            total.absorb(tally);
        }
        total
    }
}

/// A reporter as the digest lists it: its name trimmed, `(unnamed)` without one.
pub fn reporter_name(name: Option<&str>) -> String {
    name.map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("(unnamed)")
        .to_owned()
}

/// TLS sessions receivers reported for a policy domain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsFigures {
    pub successful: u64,
    pub failed: u64,
}

/// SES's side of a domain in the week: what the digest function reads besides reports
/// (the canary's probes, feedback, the identity's state in SESv2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SesFigures {
    pub probes_sent: u64,
    pub probes_received: u64,
    /// Probes that arrived authenticated and aligned.
    pub probes_healthy: u64,
    pub deliveries: u64,
    pub auth_bounces: u64,
    pub complaints: u64,
    /// SESv2's `MailFromDomainStatus` and the custom MAIL FROM domain, when read.
    pub mail_from: Option<(String, String)>,
    /// SESv2's DKIM status, when read.
    pub dkim: Option<String>,
}

/// One domain's week.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainWeek {
    /// `p=` of its latest report in the period, lower case.
    pub policy: Option<String>,
    policy_at: u64,
    /// By the UTC day (its first second); `None` for reports that give no date.
    pub days: BTreeMap<Option<u64>, DayFigures>,
    pub tls: Option<TlsFigures>,
    pub ses: Option<SesFigures>,
    /// The reporters, as their reports name them.
    pub reporters: BTreeSet<String>,
    /// The SES tenants its identity is associated with (the digest groups domains by them).
    pub tenant: Option<String>,
    /// Its bulk-sender readiness as the audit last judged it in the period, and that day.
    pub readiness: Option<(u64, BTreeMap<Requirement, Status>)>,
}

impl DomainWeek {
    pub fn totals(&self) -> SourceTally {
        let mut total = SourceTally::default();
        for day in self.days.values() {
            total.absorb(&day.totals());
        }
        total
    }

    /// The week's mail by sender, in the digest's order (class, then name).
    pub fn by_sender(&self) -> BTreeMap<Classified, SourceTally> {
        let mut senders: BTreeMap<Classified, SourceTally> = BTreeMap::new();
        for day in self.days.values() {
            for (sender, tally) in &day.by_sender {
                senders.entry(sender.clone()).or_default().absorb(tally);
            }
        }
        senders
    }

    pub fn fallback_messages(&self) -> u64 {
        self.days
            .values()
            .fold(0u64, |n, d| n.saturating_add(d.fallback_messages))
    }

    pub fn record_policy(&mut self, policy: Option<&str>, at: u64) {
        if let Some(policy) = policy
            && (self.policy.is_none() || at >= self.policy_at)
        {
            self.policy = Some(policy.trim().to_ascii_lowercase());
            self.policy_at = at;
        }
    }
}

/// A reporter and the reports it sent in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    pub name: String,
    pub reports: u64,
}

/// A report that was read and not believed: listed apart, in no figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotBelieved {
    pub reporter: Option<String>,
    pub domain: Option<String>,
    /// The domain its mail passed DMARC for, when it passed for one.
    pub mailed_from: Option<String>,
}

/// An incident open at the end of the period (the digest function reads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    /// The finding kind, as `judge::findings` names it.
    pub kind: String,
    pub domain: String,
    pub severity: Severity,
    pub opened: u64,
    pub occurrences: u64,
    /// Its latest finding's detail line.
    pub detail: String,
}

/// What to fix first: each a typed decision; `say::digest` words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Days whose rollups could not be read: the figures below are short of them.
    FiguresUnreadable { days: u64 },
    /// Not one believed report in the period: the reporting address, the `rua=` tag or the
    /// reports function may be broken.
    NoReports,
    /// An incident still open.
    Incident(OpenIncident),
    /// Receivers saw SES's mail with an amazonses.com envelope, on these days (their first
    /// seconds): the windows the MAIL FROM fell back in.
    MailFromFallback {
        domain: String,
        messages: u64,
        days: Vec<u64>,
    },
    /// Probes were sent and fewer arrived, or arrived unhealthy.
    CanaryFailing {
        domain: String,
        sent: u64,
        received: u64,
        healthy: u64,
    },
    /// Senders not recognized that failed DMARC; `new` when none was seen before the period.
    UnknownSources {
        domain: String,
        addresses: u64,
        failing: u64,
        new: bool,
    },
    /// The DMARC pass rate fell week on week (tenths of a percent).
    PassRateDrop {
        domain: String,
        before_permille: u64,
        now_permille: u64,
    },
    /// Receivers quarantined or rejected mail from SES or a known service: legitimate mail.
    Rejections {
        domain: String,
        quarantined: u64,
        rejected: u64,
    },
    TlsFailures {
        domain: String,
        failed: u64,
        successful: u64,
    },
    /// Reports read and not believed.
    NotBelieved { reports: u64 },
}

impl Action {
    /// The item's kind, as JSON names it.
    pub fn kind(&self) -> &str {
        match self {
            Action::FiguresUnreadable { .. } => "figures_unreadable",
            Action::NoReports => "no_reports",
            Action::Incident(incident) => &incident.kind,
            Action::MailFromFallback { .. } => "mail_from_fallback",
            Action::CanaryFailing { .. } => "canary_failing",
            Action::UnknownSources { new: true, .. } => "new_unknown_sources",
            Action::UnknownSources { .. } => "unknown_sources",
            Action::PassRateDrop { .. } => "pass_rate_drop",
            Action::Rejections { .. } => "rejections",
            Action::TlsFailures { .. } => "tls_failures",
            Action::NotBelieved { .. } => "not_believed",
        }
    }

    pub fn domain(&self) -> Option<&str> {
        match self {
            Action::FiguresUnreadable { .. } | Action::NoReports | Action::NotBelieved { .. } => {
                None
            }
            Action::Incident(incident) => Some(&incident.domain),
            Action::MailFromFallback { domain, .. }
            | Action::CanaryFailing { domain, .. }
            | Action::UnknownSources { domain, .. }
            | Action::PassRateDrop { domain, .. }
            | Action::Rejections { domain, .. }
            | Action::TlsFailures { domain, .. } => Some(domain),
        }
    }

    /// Lower is more urgent.
    fn rank(&self) -> u8 {
        match self {
            Action::FiguresUnreadable { .. } | Action::NoReports => 0,
            Action::Incident(i) if i.severity == Severity::Critical => 1,
            Action::MailFromFallback { .. } => 2,
            Action::CanaryFailing { .. } => 3,
            Action::Incident(_) => 4,
            Action::UnknownSources { new: true, .. } => 5,
            Action::PassRateDrop { .. } => 6,
            Action::Rejections { .. } => 7,
            Action::UnknownSources { .. } => 8,
            Action::TlsFailures { .. } => 9,
            Action::NotBelieved { .. } => 10,
        }
    }

    /// The incident kinds that already say what this item would.
    fn said_by_incident(&self, kind: &str) -> bool {
        match self {
            Action::MailFromFallback { .. } => {
                matches!(kind, "mail_from_fallback" | "report_mail_from_fallback")
            }
            Action::CanaryFailing { .. } => matches!(kind, "canary_missing" | "canary_failing"),
            Action::UnknownSources { .. } => kind == "report_unknown_source",
            Action::TlsFailures { .. } => kind == "tls_report_failures",
            _ => false,
        }
    }
}

/// The digest of a period: every domain's week, the week before, the reporters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    pub period: Period,
    pub domains: BTreeMap<String, DomainWeek>,
    /// Each domain's totals in the week before the period, when reports of it were given.
    pub week_before: BTreeMap<String, SourceTally>,
    /// Senders seen for each domain before the period: a domain listed here has history,
    /// and its senders not listed are new. A domain without history has nothing new.
    pub seen_before: BTreeMap<String, BTreeSet<Classified>>,
    /// Keyed by the name in lower case.
    pub reporters: BTreeMap<String, Reporter>,
    /// Believed aggregate and TLS reports in the period.
    pub reports: u64,
    pub not_believed: Vec<NotBelieved>,
    pub incidents: Vec<OpenIncident>,
    /// Days of the period (or its history) whose figures could not be read.
    pub unreadable_days: u64,
}

/// Where a report falls against the period.
enum Placement {
    In,
    Before { week_before: bool },
    Outside,
}

impl Digest {
    pub fn new(period: Period) -> Self {
        Digest {
            period,
            ..Digest::default()
        }
    }

    fn place(&self, moment: Option<u64>) -> Placement {
        match moment {
            None if self.period == Period::default() => Placement::In,
            None => Placement::Outside,
            Some(moment) if self.period.contains(moment) => Placement::In,
            Some(moment) if self.period.from.is_some_and(|from| moment < from) => {
                Placement::Before {
                    week_before: self
                        .period
                        .week_before()
                        .is_some_and(|week| week.contains(moment)),
                }
            }
            Some(_) => Placement::Outside,
        }
    }

    /// Lists `domain` whether or not reports name it (a monitored domain).
    pub fn expect_domain(&mut self, domain: &str) {
        if let Some(domain) = normalize(domain) {
            self.domains.entry(domain).or_default();
        }
    }

    fn count_reporter(&mut self, name: &str, reports: u64) {
        let reporter = self
            .reporters
            .entry(name.to_lowercase())
            .or_insert_with(|| Reporter {
                name: name.to_owned(),
                reports: 0,
            });
        reporter.reports = reporter.reports.saturating_add(reports);
        self.reports = self.reports.saturating_add(reports);
    }

    /// Adds one DMARC aggregate report, summed up, with whether it is believed.
    pub fn add_aggregate(
        &mut self,
        report: &AggregateReport,
        summary: &AggregateSummary,
        belief: &Belief,
    ) {
        let domain = report.policy.domain.as_deref().and_then(normalize);
        let moment = report.end.or(report.begin);
        let placement = self.place(moment);
        if !belief.believed() {
            if matches!(placement, Placement::In) {
                self.not_believed.push(NotBelieved {
                    reporter: report.org_name.clone(),
                    domain,
                    mailed_from: belief.mailed_from().map(str::to_owned),
                });
            }
            return;
        }
        let Some(domain) = domain else { return };
        let day = moment.map(day_start);
        let figures = DayFigures::of_report(report, summary);
        match placement {
            Placement::In => {
                self.domains
                    .entry(domain.clone())
                    .or_default()
                    .record_policy(report.policy.p.as_deref(), moment.unwrap_or(0));
                self.add_figures(domain, day, &figures);
            }
            Placement::Before { week_before } => self.add_history(&domain, &figures, week_before),
            Placement::Outside => {}
        }
    }

    /// Adds a day's figures read from the rollups (the digest function's way in).
    pub fn add_day(&mut self, domain: &str, day: u64, figures: &DayFigures) {
        let Some(domain) = normalize(domain) else {
            return;
        };
        match self.place(Some(day)) {
            Placement::In => self.add_figures(domain, Some(day), figures),
            Placement::Before { week_before } => self.add_history(&domain, figures, week_before),
            Placement::Outside => {}
        }
    }

    fn add_figures(&mut self, domain: String, day: Option<u64>, figures: &DayFigures) {
        for (reporter, n) in &figures.reporters {
            self.count_reporter(reporter, *n);
        }
        let week = self.domains.entry(domain).or_default();
        week.reporters.extend(figures.reporters.keys().cloned());
        week.record_policy(figures.policy.as_deref(), day.unwrap_or(0));
        week.days.entry(day).or_default().absorb(figures);
    }

    /// Adds a day's TLS sessions for a policy domain from the rollups.
    pub fn add_tls_day(
        &mut self,
        domain: &str,
        day: u64,
        sessions: TlsFigures,
        reporters: &BTreeMap<String, u64>,
    ) {
        let Some(domain) = normalize(domain) else {
            return;
        };
        if !matches!(self.place(Some(day)), Placement::In) {
            return;
        }
        for (reporter, n) in reporters {
            self.count_reporter(reporter, *n);
        }
        let week = self.domains.entry(domain).or_default();
        week.reporters.extend(reporters.keys().cloned());
        let tls = week.tls.get_or_insert_with(TlsFigures::default);
        tls.successful = tls.successful.saturating_add(sessions.successful);
        tls.failed = tls.failed.saturating_add(sessions.failed);
    }

    /// SES's side of a domain in the period (the canary, feedback, the identity's state),
    /// for the digest function to fill.
    pub fn ses_of(&mut self, domain: &str) -> Option<&mut SesFigures> {
        let domain = normalize(domain)?;
        Some(
            self.domains
                .entry(domain)
                .or_default()
                .ses
                .get_or_insert_with(SesFigures::default),
        )
    }

    /// The audit's judgement of a domain's bulk-sender readiness on `day`: the latest day's
    /// stands.
    pub fn add_readiness(
        &mut self,
        domain: &str,
        day: u64,
        judged: &BTreeMap<Requirement, Status>,
    ) {
        let Some(domain) = normalize(domain) else {
            return;
        };
        let week = self.domains.entry(domain).or_default();
        if week.readiness.as_ref().is_none_or(|(at, _)| *at <= day) {
            week.readiness = Some((day, judged.clone()));
        }
    }

    fn add_history(&mut self, domain: &str, figures: &DayFigures, week_before: bool) {
        self.seen_before
            .entry(domain.to_owned())
            .or_default()
            .extend(figures.by_sender.keys().cloned());
        if week_before {
            self.week_before
                .entry(domain.to_owned())
                .or_default()
                .absorb(&figures.totals());
        }
    }

    /// Adds one SMTP TLS report: each policy domain's sessions.
    pub fn add_tls(&mut self, report: &TlsReport, belief: &Belief) {
        let moment = report
            .end
            .as_deref()
            .or(report.begin.as_deref())
            .and_then(crate::read::report::tls::seconds);
        if !matches!(self.place(moment), Placement::In) {
            return;
        }
        if !belief.believed() {
            self.not_believed.push(NotBelieved {
                reporter: report.org_name.clone(),
                domain: report.domains().first().map(|d| (*d).to_owned()),
                mailed_from: belief.mailed_from().map(str::to_owned),
            });
            return;
        }
        let reporter = reporter_name(report.org_name.as_deref());
        self.count_reporter(&reporter, 1);
        for policy in &report.policies {
            let Some(domain) = policy.domain.as_deref().and_then(normalize) else {
                continue;
            };
            let week = self.domains.entry(domain).or_default();
            let tls = week.tls.get_or_insert_with(TlsFigures::default);
            tls.successful = tls
                .successful
                .saturating_add(policy.successful.unwrap_or(0));
            tls.failed = tls.failed.saturating_add(policy.failed.unwrap_or(0));
            week.reporters.insert(reporter.clone());
        }
    }

    /// Every action item, worst first (the digest shows the first [`ACTIONS_SHOWN`]).
    pub fn actions(&self) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.unreadable_days > 0 {
            actions.push(Action::FiguresUnreadable {
                days: self.unreadable_days,
            });
        }
        if self.reports == 0 {
            actions.push(Action::NoReports);
        }
        actions.extend(self.incidents.iter().cloned().map(Action::Incident));
        for (domain, week) in &self.domains {
            let mut derived = domain_actions(domain, week, self);
            derived.retain(|action| {
                !self
                    .incidents
                    .iter()
                    .any(|i| &i.domain == domain && action.said_by_incident(&i.kind))
            });
            actions.extend(derived);
        }
        if !self.not_believed.is_empty() {
            actions.push(Action::NotBelieved {
                reports: self.not_believed.len() as u64,
            });
        }
        actions.sort_by_key(Action::rank);
        actions
    }

    /// The domains in the order the digest shows them: grouped by SES tenant (those with one
    /// first, by tenant), then by name.
    pub fn in_order(&self) -> Vec<(&String, &DomainWeek)> {
        let mut domains: Vec<(&String, &DomainWeek)> = self.domains.iter().collect();
        domains.sort_by(|(a, wa), (b, wb)| {
            (wa.tenant.is_none(), &wa.tenant, a).cmp(&(wb.tenant.is_none(), &wb.tenant, b))
        });
        domains
    }

    /// Records the SES tenants `domain`'s identity is associated with.
    pub fn set_tenants(&mut self, domain: &str, tenants: &[String]) {
        if let Some(domain) = normalize(domain)
            && !tenants.is_empty()
        {
            self.domains.entry(domain).or_default().tenant = Some(tenants.join(", "));
        }
    }

    /// Whether `sender` is new for `domain`: the domain has history, and it is not in it.
    pub fn is_new(&self, domain: &str, sender: &Classified) -> bool {
        self.seen_before
            .get(domain)
            .is_some_and(|seen| !seen.contains(sender))
    }

    /// The domains at least one action item names.
    pub fn domains_needing_action(&self, actions: &[Action]) -> BTreeSet<String> {
        actions
            .iter()
            .filter_map(Action::domain)
            .filter(|d| self.domains.contains_key(*d))
            .map(str::to_owned)
            .collect()
    }
}

/// A pass rate in tenths of a percent; `None` without messages.
pub fn permille(part: u64, whole: u64) -> Option<u64> {
    (whole > 0).then(|| (u128::from(part) * 1000 / u128::from(whole)) as u64)
}

fn domain_actions(domain: &str, week: &DomainWeek, digest: &Digest) -> Vec<Action> {
    let mut actions = Vec::new();
    let domain_owned = || domain.to_owned();
    let fallback = week.fallback_messages();
    if fallback > 0 {
        let days = week
            .days
            .iter()
            .filter(|(_, figures)| figures.fallback_messages > 0)
            .filter_map(|(day, _)| *day)
            .collect();
        actions.push(Action::MailFromFallback {
            domain: domain_owned(),
            messages: fallback,
            days,
        });
    }
    if let Some(ses) = &week.ses
        && ses.probes_sent > 0
        && (ses.probes_received < ses.probes_sent || ses.probes_healthy < ses.probes_received)
    {
        actions.push(Action::CanaryFailing {
            domain: domain_owned(),
            sent: ses.probes_sent,
            received: ses.probes_received,
            healthy: ses.probes_healthy,
        });
    }
    let senders = week.by_sender();
    let (mut addresses, mut failing, mut new) = (0u64, 0u64, false);
    for (sender, tally) in &senders {
        if sender.class == SourceClass::Unknown && tally.dmarc_fail > 0 {
            addresses = addresses
                .saturating_add(tally.addresses.len() as u64)
                .saturating_add(tally.addresses_not_kept);
            failing = failing.saturating_add(tally.dmarc_fail);
            new |= digest.is_new(domain, sender);
        }
    }
    if failing > 0 {
        actions.push(Action::UnknownSources {
            domain: domain_owned(),
            addresses,
            failing,
            new,
        });
    }
    let totals = week.totals();
    if let (Some(before), Some(now)) = (
        digest
            .week_before
            .get(domain)
            .and_then(|b| permille(b.dmarc_pass, b.messages)),
        permille(totals.dmarc_pass, totals.messages),
    ) && before >= now + PASS_RATE_DROP_PERMILLE
    {
        actions.push(Action::PassRateDrop {
            domain: domain_owned(),
            before_permille: before,
            now_permille: now,
        });
    }
    let (mut quarantined, mut rejected) = (0u64, 0u64);
    for (sender, tally) in &senders {
        if matches!(sender.class, SourceClass::Ses | SourceClass::Known) {
            quarantined = quarantined.saturating_add(tally.disposition.quarantine);
            rejected = rejected.saturating_add(tally.disposition.reject);
        }
    }
    if quarantined > 0 || rejected > 0 {
        actions.push(Action::Rejections {
            domain: domain_owned(),
            quarantined,
            rejected,
        });
    }
    if let Some(tls) = week.tls
        && tls.failed > 0
    {
        actions.push(Action::TlsFailures {
            domain: domain_owned(),
            failed: tls.failed,
            successful: tls.successful,
        });
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY_2026_11_30: u64 = 1_795_996_800;

    #[test]
    fn weeks_are_iso_weeks() {
        // 2026-11-30 is a Monday of ISO week 49.
        assert_eq!((MONDAY_2026_11_30 / DAY + 3) % 7, 0);
        let cases = [
            // (a moment, the last full week before it, its ISO week)
            (
                MONDAY_2026_11_30 + 7 * DAY + 9 * 3600,
                MONDAY_2026_11_30,
                (2026, 49),
            ),
            // Monday 00:00 itself: the week that just ended.
            (MONDAY_2026_11_30 + 7 * DAY, MONDAY_2026_11_30, (2026, 49)),
            // Sunday night: the week before.
            (
                MONDAY_2026_11_30 + 7 * DAY - 1,
                MONDAY_2026_11_30 - WEEK,
                (2026, 48),
            ),
        ];
        for (now, monday, week) in cases {
            let period = Period::last_full_week(now);
            assert_eq!(period.from, Some(monday), "{now}");
            assert_eq!(period.to, Some(monday + WEEK));
            assert_eq!(period.iso_week(), Some(week));
            assert_eq!(period.days().len(), 7);
        }
        // Years whose week 1 starts in December, or whose last days are week 53 or 1.
        for (date, seconds, week) in [
            ("2024-12-30", 1_735_516_800, (2025, 1)),
            ("2021-01-03", 1_609_632_000, (2020, 53)),
            ("2021-01-04", 1_609_718_400, (2021, 1)),
            ("2026-01-01", 1_767_225_600, (2026, 1)),
            ("2027-01-01", 1_798_761_600, (2026, 53)),
        ] {
            assert_eq!(iso_week_of(seconds), week, "{date}");
        }
        // Not a Monday-to-Monday week: no ISO week.
        let odd = Period {
            from: Some(MONDAY_2026_11_30 + DAY),
            to: Some(MONDAY_2026_11_30 + 8 * DAY),
        };
        assert_eq!(odd.iso_week(), None);
    }

    fn tally(messages: u64, pass: u64, fail: u64) -> SourceTally {
        SourceTally {
            messages,
            dmarc_pass: pass,
            dmarc_fail: fail,
            dmarc_unknown: messages - pass - fail,
            ..SourceTally::default()
        }
    }

    fn day(senders: &[(SourceClass, Option<&str>, SourceTally)]) -> DayFigures {
        DayFigures {
            by_sender: senders
                .iter()
                .map(|(class, name, tally)| {
                    (
                        Classified {
                            class: *class,
                            name: name.map(str::to_owned),
                        },
                        tally.clone(),
                    )
                })
                .collect(),
            fallback_messages: 0,
            reports: 1,
            reporters: BTreeMap::from([("google.com".to_owned(), 1)]),
            policy: Some("reject".into()),
        }
    }

    #[test]
    fn action_items_in_their_order() {
        use SourceClass::*;
        let week = Period {
            from: Some(MONDAY_2026_11_30),
            to: Some(MONDAY_2026_11_30 + WEEK),
        };
        // Nothing at all: the first item says no reports came.
        let quiet = Digest::new(week);
        assert_eq!(quiet.actions(), vec![Action::NoReports]);

        let mut digest = Digest::new(week);
        let before = MONDAY_2026_11_30 - 3 * DAY;
        digest.add_day(
            "a.example",
            before,
            &day(&[(Ses, Some("a.example"), tally(100, 100, 0))]),
        );
        let mut rejected = tally(100, 80, 20);
        rejected.disposition.reject = 20;
        digest.add_day(
            "a.example",
            MONDAY_2026_11_30,
            &day(&[
                (Ses, Some("a.example"), rejected),
                (Unknown, None, tally(5, 0, 5)),
            ]),
        );
        let mut fallback = day(&[(Ses, Some("b.example"), tally(10, 10, 0))]);
        fallback.fallback_messages = 10;
        digest.add_day("b.example", MONDAY_2026_11_30 + DAY, &fallback);
        digest.add_day(
            "c.example",
            MONDAY_2026_11_30 + DAY,
            &day(&[(Ses, None, tally(3, 3, 0))]),
        );
        // Outside the period: in no figure.
        digest.add_day(
            "c.example",
            MONDAY_2026_11_30 + WEEK,
            &day(&[(Unknown, None, tally(9, 0, 9))]),
        );
        digest.incidents.push(OpenIncident {
            kind: "mail_from_fallback".into(),
            domain: "b.example".into(),
            severity: Severity::Critical,
            opened: MONDAY_2026_11_30,
            occurrences: 4,
            detail: "fell back".into(),
        });
        let actions = digest.actions();
        let kinds: Vec<(&str, Option<&str>)> =
            actions.iter().map(|a| (a.kind(), a.domain())).collect();
        // The incident says the fallback: the report-derived fallback item is not repeated.
        // a.example's unknown sender was not seen before: new. Its pass rate fell from
        // 100% to 76.2% (80 of 105). SES's rejected mail is an item of its own.
        assert_eq!(
            kinds,
            vec![
                ("mail_from_fallback", Some("b.example")),
                ("new_unknown_sources", Some("a.example")),
                ("pass_rate_drop", Some("a.example")),
                ("rejections", Some("a.example")),
            ]
        );
        assert_eq!(
            digest
                .domains_needing_action(&actions)
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["a.example".to_owned(), "b.example".to_owned()]
        );
        assert_eq!(
            actions[2],
            Action::PassRateDrop {
                domain: "a.example".into(),
                before_permille: 1000,
                now_permille: 761,
            }
        );
        assert_eq!(digest.domains["c.example"].totals().messages, 3);
        assert_eq!(digest.reports, 3);
    }

    #[test]
    fn a_failing_canary_and_tls_failures_are_items() {
        let mut digest = Digest::new(Period::default());
        digest.reports = 1;
        let week = digest.domains.entry("a.example".into()).or_default();
        week.ses = Some(SesFigures {
            probes_sent: 1008,
            probes_received: 1000,
            probes_healthy: 1000,
            ..SesFigures::default()
        });
        week.tls = Some(TlsFigures {
            successful: 10,
            failed: 2,
        });
        let kinds: Vec<String> = digest
            .actions()
            .iter()
            .map(|a| a.kind().to_owned())
            .collect();
        assert_eq!(
            kinds,
            vec!["canary_failing".to_owned(), "tls_failures".to_owned()]
        );
        // All probes in and healthy: no item.
        let ses = digest
            .domains
            .get_mut("a.example")
            .and_then(|w| w.ses.as_mut());
        if let Some(ses) = ses {
            ses.probes_received = 1008;
            ses.probes_healthy = 1008;
        }
        let kinds: Vec<String> = digest
            .actions()
            .iter()
            .map(|a| a.kind().to_owned())
            .collect();
        assert_eq!(kinds, vec!["tls_failures".to_owned()]);
    }
}
