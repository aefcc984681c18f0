//! The audit's story, on a schedule: every identity of the account (address identities by
//! their domain), its state read through the directory, its DNS read through the audit's port,
//! judged (`judge::posture`, and its bulk-sender readiness through `flow::bulk`), the findings
//! published, and the passing checks offered as evidence that ends incidents. The incident
//! sweep runs first, before the checks that may take the run's whole time, and also on its own
//! schedule ([`sweep`]).

use crate::flow::bulk::{Known, clear_by_readiness, judge_readiness, readiness_findings};
use crate::flow::receipt::HandlerError;
use crate::judge::bulk::{Judgement, Status};
use crate::judge::incident::{self, IncidentKey, Unmonitored, Watched};
use crate::judge::posture::{self, AuditOutcome, CheckResult, PostureCheck, Target};
use crate::ports::audit_cursor::AuditCursor;
use crate::ports::clock::Clock;
use crate::ports::directory::{self, DirectoryError, IdentityDirectory, IdentityLister};
use crate::ports::dns::AuditDns;
use crate::ports::rollups::Rollups;
use crate::ports::scope::DomainScope;
use crate::ports::sink::{FindingSink, SinkError};
use crate::read::domain::domain_of_identity;
use crate::say::explain;
use crate::say::metrics::AuditCounts;
use futures_util::StreamExt as _;
use std::collections::{BTreeMap, BTreeSet};

/// An audit's passing checks are evidence about their domain: the incidents of the kinds they
/// clear (`judge::incident::cleared_by_audit`) are resolved.
async fn clear_by_audit<S: FindingSink>(report: &AuditOutcome, sink: &S) -> Result<(), SinkError> {
    for (kind, check) in incident::cleared_by_audit(report) {
        let by = explain::audit_evidence(check);
        sink.cleared(&IncidentKey::about(kind, &report.domain), &by)
            .await?;
    }
    Ok(())
}

pub use crate::flow::bulk::Readiness;

/// What the sweep closes incidents by: whether their subject is still watched.
#[derive(Debug, Clone, Copy)]
pub struct Watching<'a, Sc> {
    pub scope: &'a Sc,
    /// Whether the canary is on (probes are sent and expected).
    pub canary: bool,
    /// Whether the audit judges bulk-sender readiness (`BULK_SENDER`).
    pub bulk_sender: bool,
}

/// The domains the account's identities cover, when they could be listed.
fn covered_domains(identities: &[String]) -> BTreeSet<String> {
    identities
        .iter()
        .filter_map(|identity| domain_of_identity(identity))
        .collect()
}

/// Sweeps the incidents (`FindingSink::sweep`): what no longer watches an incident's subject
/// is judged from `watching` and what the account still has (`None` where it could not be
/// listed, so that no incident is closed for want of it).
async fn sweep_with<Sc: DomainScope, S: FindingSink>(
    sink: &S,
    watching: Watching<'_, Sc>,
    identity_domains: Option<&BTreeSet<String>>,
    configuration_sets: Option<&BTreeSet<String>>,
) -> Result<(), SinkError> {
    let watched = Watched {
        identity_domains,
        configuration_sets,
        canary: watching.canary,
        bulk_sender: watching.bulk_sender,
    };
    let unmonitored = |key: &IncidentKey| -> Option<Unmonitored> {
        incident::unmonitored(key, |domain| watching.scope.contains(domain), &watched)
    };
    sink.sweep(&unmonitored).await
}

/// The account's configuration sets, when they can be listed.
async fn configuration_sets<L: IdentityLister>(lister: &L) -> Option<BTreeSet<String>> {
    match lister.configuration_sets().await {
        Ok(sets) => sets.map(|sets| sets.into_iter().collect()),
        Err(error) => {
            tracing::warn!(error = %error, "configuration sets not listed; the sweep closes no pause for a missing one");
            None
        }
    }
}

/// The sweep on its own schedule: the messages owed are sent, incidents whose subject is no
/// longer watched are closed, quiet ones resolved, the others reminded of. The identities and
/// configuration sets are listed to know which still exist; what cannot be listed closes
/// nothing.
pub async fn sweep<L, Sc, S>(
    lister: &L,
    watching: Watching<'_, Sc>,
    sink: &S,
) -> Result<(), HandlerError>
where
    L: IdentityLister,
    Sc: DomainScope,
    S: FindingSink,
{
    let domains = match lister.identities().await {
        Ok(identities) => Some(covered_domains(&identities)),
        Err(error) => {
            tracing::warn!(error = %error, "identities not listed; the sweep closes no incident for a missing identity");
            None
        }
    };
    let sets = configuration_sets(lister).await;
    sweep_with(sink, watching, domains.as_ref(), sets.as_ref())
        .await
        .map_err(HandlerError::Sink)
}

/// What one audit run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditRun {
    pub reports: Vec<AuditOutcome>,
    /// Each domain's bulk-sender readiness, when judged (`BULK_SENDER`).
    pub readiness: Vec<(String, Vec<Judgement>)>,
    /// What went wrong: the listing, or identities whose state could not be read (checked
    /// again next run).
    pub errors: Vec<String>,
    /// The identities could not be listed: nothing was judged.
    pub listing_failed: bool,
    /// Domains left for the next run: this one reached its deadline.
    pub deferred: usize,
    /// Readiness the daily rollups could not take (the digest shows an older one).
    pub state_errors: u64,
}

impl AuditRun {
    /// What was judged and what was not, for the metrics.
    pub fn counts(&self) -> AuditCounts {
        let unjudged = self.per_check(AuditOutcome::unjudged);
        let unreadable = if self.listing_failed {
            0
        } else {
            self.errors.len() as u64
        };
        let mut bulk_failed = BTreeMap::new();
        for judgement in self.readiness.iter().flat_map(|(_, judged)| judged) {
            if judgement.status == Status::Fail {
                *bulk_failed.entry(judgement.requirement).or_default() += 1;
            }
        }
        AuditCounts {
            bulk: (!self.readiness.is_empty()).then_some(bulk_failed),
            identities: (!self.listing_failed).then_some(self.reports.len() as u64),
            failed: self.failed_checks(),
            unjudged,
            unreadable,
            deferred: self.deferred as u64,
            state_errors: self.state_errors,
        }
    }

    /// Failed checks, per check.
    pub fn failed_checks(&self) -> BTreeMap<PostureCheck, u64> {
        self.per_check(AuditOutcome::failed)
    }

    /// How many of the checks `select` picks from each report there are, per check.
    fn per_check<'a, I>(
        &'a self,
        select: impl Fn(&'a AuditOutcome) -> I,
    ) -> BTreeMap<PostureCheck, u64>
    where
        I: Iterator<Item = &'a CheckResult>,
    {
        let mut counts = BTreeMap::new();
        for check in self.reports.iter().flat_map(select) {
            *counts.entry(check.check).or_default() += 1;
        }
        counts
    }
}

/// How long one identity's check may take (its turn at SESv2's pace and its DNS budget): a run
/// starts no identity later than this before its deadline.
pub const PER_IDENTITY: u64 = 30;
/// Identities checked at once by default: their DNS lookups overlap while SESv2's pacing (the
/// directory's) lets one request through at a time.
pub const AT_ONCE: usize = 8;

/// What bounds one audit run: the clock and the invocation's deadline (Unix seconds; `None`
/// for none), where the previous run stopped, and how many identities are checked at once.
#[derive(Debug, Clone, Copy)]
pub struct Bounds<'a, C, K> {
    pub clock: &'a C,
    pub deadline: Option<u64>,
    pub cursor: &'a K,
    pub at_once: usize,
}

/// One audit per domain, in the order runs take them: by domain, starting after `after` (where
/// the previous run stopped) and wrapping around. Each domain is audited through the domain
/// identity itself when there is one, else the first address identity under it.
pub fn in_turn(identities: Vec<String>, after: Option<&str>) -> Vec<(String, String)> {
    let mut targets: Vec<(String, String)> = Vec::new();
    for identity in identities {
        let Some(domain) = domain_of_identity(&identity) else {
            continue;
        };
        let is_domain = !identity.contains('@');
        match targets.iter_mut().find(|(_, d)| *d == domain) {
            Some(existing) if is_domain => existing.0 = identity,
            Some(_) => {}
            None => targets.push((identity, domain)),
        }
    }
    targets.sort_by(|a, b| a.1.cmp(&b.1));
    if let Some(after) = after {
        let start = targets.partition_point(|(_, domain)| domain.as_str() <= after);
        targets.rotate_left(start);
    }
    targets
}

/// What checking one identity came to.
enum Checked {
    Judged(Box<AuditOutcome>, Option<Vec<Judgement>>, Option<SinkError>),
    Unreadable(DirectoryError),
}

/// One identity: its state read, its DNS checked, judged (its posture, and its readiness
/// when `known` is given), the findings published and the passing checks offered as evidence.
async fn check_one<L, D, N, S>(
    (identity, domain): (String, String),
    (lister, directory): (&L, &D),
    dns: &N,
    sink: &S,
    region: &str,
    known: Option<&Known>,
) -> Checked
where
    L: IdentityLister,
    D: IdentityDirectory,
    N: AuditDns,
    S: FindingSink,
{
    let state = match directory::governing_state(directory, &identity).await {
        Ok(state) => state.map(|(_, s)| (*s).clone()),
        Err(error) => {
            tracing::warn!(identity = %identity, error = %error, "identity state unreadable; skipped this run");
            return Checked::Unreadable(error);
        }
    };
    let target = Target {
        mail_from_domain: state
            .as_ref()
            .and_then(|s| s.mail_from_domain())
            .map(str::to_ascii_lowercase),
        identity,
        domain,
        region: region.to_owned(),
        state,
    };
    let view = dns.audit_view(&target).await;
    let report = posture::audit(&target, &view);
    for check in report.failed() {
        tracing::warn!(identity = %report.identity, domain = %report.domain, check = check.check.as_str(), detail = %explain::observed(&check.observed), "audit check failed");
    }
    let readiness = match known {
        Some(known) => Some(judge_readiness(lister, &report, &target, known).await),
        None => None,
    };
    let mut findings = report.findings.clone();
    if let Some(judged) = &readiness {
        for judgement in judged.iter().filter(|j| j.status == Status::Fail) {
            tracing::warn!(domain = %report.domain, requirement = judgement.requirement.as_str(), detail = %crate::say::bulk::detail(judgement), "bulk-sender requirement failed");
        }
        // One batch with the posture's findings: a requirement broken by one of them rides
        // in its alert (`judge::cause`).
        findings.extend(readiness_findings(&report.domain, judged));
    }
    let mut sink_error = sink.publish(&findings).await.err();
    if let Err(error) = clear_by_audit(&report, sink).await {
        sink_error.get_or_insert(error);
    }
    if let Some(judged) = &readiness
        && let Err(error) = clear_by_readiness(&report.domain, judged, sink).await
    {
        sink_error.get_or_insert(error);
    }
    Checked::Judged(Box::new(report), readiness, sink_error)
}

/// The scheduled audit: every identity of the account (address identities by their domain),
/// its state read through the directory, its DNS checked, the findings published; the incident
/// sweep first. Identities are checked a few at a time ([`Bounds::at_once`]), in the order of
/// [`in_turn`]; a
/// run that reaches its deadline records where it stopped and the next continues there. An
/// identity whose state cannot be read is skipped and reported, and fails the run after the
/// others were audited; the next run (or Lambda's retry) tries again. A listing that fails
/// fails the run at once: there is nothing to audit.
#[allow(clippy::too_many_arguments)]
pub async fn audit<L, D, N, Sc, S, C, K, R>(
    lister: &L,
    directory: &D,
    dns: &N,
    watching: Watching<'_, Sc>,
    sink: &S,
    region: &str,
    bounds: Bounds<'_, C, K>,
    readiness: Readiness<'_, R>,
) -> (AuditRun, Result<(), HandlerError>)
where
    R: Rollups,
    L: IdentityLister,
    D: IdentityDirectory,
    N: AuditDns,
    Sc: DomainScope,
    S: FindingSink,
    C: Clock,
    K: AuditCursor,
{
    let mut run = AuditRun::default();
    let identities = match lister.identities().await {
        Ok(identities) => identities,
        Err(error) => {
            run.errors.push(error.to_string());
            run.listing_failed = true;
            return (run, Err(error.into()));
        }
    };
    let scope = watching.scope;
    // The sweep first: reminders, owed messages and quiet resolutions do not wait on checks
    // that may take the run's whole time.
    let sets = configuration_sets(lister).await;
    let mut sink_error = sweep_with(
        sink,
        watching,
        Some(&covered_domains(&identities)),
        sets.as_ref(),
    )
    .await
    .err();
    let after = bounds.cursor.stopped_after().await.unwrap_or_else(|error| {
        tracing::warn!(error = %error, "where the last audit stopped is unknown; starting from the first domain");
        None
    });
    let targets: Vec<(String, String)> = in_turn(identities, after.as_deref())
        .into_iter()
        .filter(|(_, domain)| scope.contains(domain))
        .collect();
    let known = match readiness {
        Readiness::Off => None,
        Readiness::On { rollups } => Some(Known::read(rollups, bounds.clock.now()).await),
    };
    let mut first_unreadable = None;
    // A sliding window of `at_once` checks, in order; none starts within PER_IDENTITY of the
    // deadline.
    let started = std::cell::Cell::new(0usize);
    let in_time = |_: &(String, String)| {
        let ok = bounds
            .deadline
            .is_none_or(|deadline| bounds.clock.now().saturating_add(PER_IDENTITY) <= deadline);
        if ok {
            started.set(started.get() + 1);
        }
        futures_util::future::ready(ok)
    };
    let mut checks = futures_util::stream::iter(targets.iter().cloned())
        .take_while(in_time)
        .map(|target| {
            check_one(
                target,
                (lister, directory),
                dns,
                sink,
                region,
                known.as_ref(),
            )
        })
        .buffered(bounds.at_once.max(1));
    while let Some(checked) = checks.next().await {
        match checked {
            Checked::Judged(report, readiness, error) => {
                if let Some(error) = error {
                    sink_error.get_or_insert(error);
                }
                if let Some(judged) = readiness {
                    run.readiness.push((report.domain.clone(), judged));
                }
                run.reports.push(*report);
            }
            Checked::Unreadable(error) => {
                run.errors.push(error.to_string());
                first_unreadable.get_or_insert(error);
            }
        }
    }
    drop(checks);
    let started = started.get();
    run.deferred = targets.len() - started;
    let stopped_after = started
        .checked_sub(1)
        .and_then(|last| targets.get(last))
        .map(|(_, domain)| domain.clone());
    let place = (run.deferred > 0).then_some(stopped_after).flatten();
    if let Err(error) = bounds.cursor.stop_after(place.as_deref()).await {
        tracing::warn!(error = %error, "where this audit stopped was not recorded; the next starts from the first domain");
    }
    if let Readiness::On { rollups } = readiness {
        run.state_errors =
            crate::flow::rollups::readiness(&run.readiness, rollups, bounds.clock.now()).await;
    }
    let failed: u64 = run.failed_checks().values().sum();
    tracing::info!(
        identities = run.reports.len(),
        deferred = run.deferred,
        failed_checks = failed,
        findings = run.reports.iter().map(|r| r.findings.len()).sum::<usize>(),
        unreadable = run.errors.len(),
        "audit run"
    );
    let result = match (sink_error, first_unreadable) {
        (Some(error), _) => Err(HandlerError::Sink(error)),
        (None, Some(first)) => Err(HandlerError::Identities {
            failed: run.errors.len(),
            total: run.reports.len() + run.errors.len(),
            first,
        }),
        (None, None) => Ok(()),
    };
    (run, result)
}
