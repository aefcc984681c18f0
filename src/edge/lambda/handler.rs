//! The Lambda handlers: the receipt function (SES receipt-rule Lambda action, or SNS events
//! carrying `Received` notifications), the feedback function (SNS events carrying SES bounce,
//! complaint, delivery and event-publishing notifications) and the scheduled audit.
//!
//! Generic over their ports so tests drive them with fakes; `src/bin/…` only wires them. Each
//! publishes every good record's findings before deciding the invocation's fate, so one bad
//! record never hides the others, and returns what it counted (for the metrics) even when the
//! invocation fails. Errors say whether a retry helps; [`HandlerError`] becomes the
//! `lambda_runtime` diagnostic the failure destination receives.

use crate::edge::dns::DnsFacts;
use crate::judge::incident::{CLEARED_BY_A_PASSING_PROBE, cleared_by_check};
use crate::judge::posture::{self, AuditReport, CheckResult, PostureCheck, Target};
use crate::pipeline::{self, Inbound, Ports, RecordError, RecordOutcome, Settings};
use crate::ports::chain;
use crate::ports::directory::{self, IdentityDirectory, IdentityLister, ListError};
use crate::ports::facts::FactSource;
use crate::ports::probes::{NoProbes, ProbeBook};
use crate::ports::raw::{NoRawMessages, RawMessages};
use crate::ports::scope::DomainScope;
use crate::ports::sink::{FindingSink, SinkError};
use crate::read::domain::domain_of_identity;
use crate::read::input::InputError;
use crate::say::findings::Finding;
use crate::say::metrics::canary::CanaryCounts;
use crate::say::metrics::{AuditCounts, Metrics};
use aws_lambda_events::event::ses::SimpleEmailDisposition;
use aws_lambda_events::event::sqs::SqsBatchResponse;
use lambda_runtime::Diagnostic;
use std::collections::BTreeMap;

/// Why an invocation failed. Lambda retries it; the failure destination keeps the event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event as a whole is not one this function reads: poison.
    #[error("the event is not understood: {0}")]
    Input(#[source] InputError),
    /// Some records failed (after the others were published); `first` is the first cause.
    #[error("{failed} of {total} record(s) failed: {first}")]
    Records {
        failed: usize,
        total: usize,
        #[source]
        first: RecordError,
    },
    /// Findings could not be delivered (SNS throttled or down).
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The audit could not list the identities to audit.
    #[error(transparent)]
    Listing(#[from] ListError),
    /// Identities whose state could not be read were skipped this run.
    #[error("{failed} of {total} identit(ies) could not be read: {first}")]
    Identities {
        failed: usize,
        total: usize,
        #[source]
        first: directory::DirectoryError,
    },
}

impl HandlerError {
    /// Whether retrying the same event can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Input(_) => false,
            Self::Records { first, .. } => first.is_transient(),
            Self::Listing(error) => !error.denied,
            Self::Sink(_) | Self::Identities { .. } => true,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Input(_) => "PoisonEvent",
            Self::Records { first, .. } if first.is_transient() => "TransientRecordFailure",
            Self::Records { .. } => "PoisonRecord",
            Self::Sink(_) => "AlertDeliveryFailed",
            Self::Listing(_) => "IdentityListingFailed",
            Self::Identities { .. } => "IdentityLookupFailed",
        }
    }
}

/// What the runtime reports to Lambda, and Lambda to the failure destination: a type that
/// says whether a retry helps, and the whole chain of causes.
impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.kind().to_owned(),
            error_message: chain(&error),
        }
    }
}

/// What one invocation did, record by record.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Processed {
    pub total: usize,
    /// Records that can never succeed (not JSON, unknown shape): logged, counted.
    pub malformed: Vec<String>,
    /// Records that may succeed on a retry (a throttled lookup).
    pub transient: Vec<String>,
    /// Values AWS sent that this version does not know, e.g. `bounceSubType Foo`.
    pub unknown_values: Vec<String>,
    /// The counts for CloudWatch, monitored domains only.
    pub metrics: Metrics,
    /// The canary probes received, and mail to the canary address that was not one.
    pub canary: CanaryCounts,
}

/// One invocation's result, and what it processed either way.
#[derive(Debug)]
pub struct Invocation<T> {
    pub processed: Processed,
    pub result: Result<T, HandlerError>,
}

/// What went wrong in an invocation whose event was read: each failed record, and each record
/// whose findings could not be delivered, by its SQS message id (`None` outside SQS).
#[derive(Debug, Default)]
struct Failures {
    records: Vec<(Option<String>, RecordError)>,
    undelivered: Vec<Option<String>>,
    delivery: Option<SinkError>,
    /// Whether the event was an SQS batch (then failures are reported per message).
    sqs: bool,
}

/// Runs every record, records the arrival of canary probes, logs each outcome and publishes
/// the findings about monitored domains (and those about the account as a whole, such as a
/// paused account). `now` stands in for a probe's arrival time when the event gives none.
async fn process<F, D, R, P, Sc, S>(
    event: &[u8],
    ports: Ports<'_, F, D>,
    inbound: Inbound<'_, R, P, Sc>,
    sink: &S,
    settings: &Settings,
    now: u64,
) -> (Processed, Result<Failures, HandlerError>)
where
    F: FactSource,
    D: IdentityDirectory,
    R: RawMessages,
    P: ProbeBook,
    Sc: DomainScope,
    S: FindingSink,
{
    let scope = inbound.scope;
    scope.refresh().await;
    let mut outcomes = match pipeline::run_records_with(event, ports, settings, inbound).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            let mut processed = Processed {
                total: 1,
                malformed: vec![error.to_string()],
                ..Processed::default()
            };
            processed.metrics.malformed_event();
            return (processed, Err(HandlerError::Input(error)));
        }
    };
    let in_scope =
        |f: &Finding| scope.covers(f.domain.as_deref()) || f.facts.concerns_the_account();
    let canary = record_arrivals(&mut outcomes, inbound.probes, now).await;
    let mut processed = Processed {
        total: outcomes.len(),
        metrics: Metrics::from_outcomes(outcomes.iter().map(|(_, o)| o), |d| scope.covers(d)),
        canary,
        ..Processed::default()
    };
    let mut failures = Failures {
        sqs: outcomes.iter().any(|(id, _)| id.is_some()),
        ..Failures::default()
    };
    for (record, (id, outcome)) in outcomes.into_iter().enumerate() {
        log_outcome(record, &outcome, &mut processed);
        let findings: Vec<Finding> = outcome
            .findings()
            .iter()
            .filter(|f| in_scope(f))
            .cloned()
            .collect();
        let ignored = outcome.findings().len() - findings.len();
        if ignored > 0 {
            tracing::info!(record, ignored, "findings about domains not monitored");
        }
        // Every record's findings are tried even after a failure; the first error is kept.
        let mut delivered = sink.publish(&findings).await;
        if delivered.is_ok() {
            delivered = clear_by_probe(&outcome, sink).await;
        }
        if let Err(error) = delivered {
            failures.undelivered.push(id.clone());
            failures.delivery.get_or_insert(error);
        }
        if let RecordOutcome::Failed(error) = outcome {
            failures.records.push((id, error));
        }
    }
    (processed, Ok(failures))
}

/// Records each received probe's arrival and findings, and counts the canary's metrics. A
/// probe whose arrival cannot be recorded fails its record (transient) instead of being
/// published: the retry records it, where going on would report it missing later.
async fn record_arrivals<P: ProbeBook>(
    outcomes: &mut [(Option<String>, RecordOutcome)],
    probes: &P,
    now: u64,
) -> CanaryCounts {
    let mut counts = CanaryCounts::default();
    for (_, outcome) in outcomes.iter_mut() {
        let recorded = match &*outcome {
            RecordOutcome::NotAProbe { .. } => {
                counts.unrecognized += 1;
                continue;
            }
            RecordOutcome::Analyzed {
                probe: Some(arrival),
                analysis,
                ..
            } => {
                let probe = &arrival.probe;
                let kinds: Vec<_> = analysis.findings.iter().map(Finding::kind).collect();
                let at = arrival.received_at.unwrap_or(now);
                let result = probes
                    .arrived(&probe.identity, &probe.message_id, at, &kinds)
                    .await;
                if result.is_ok() {
                    let identity = counts.identity(&probe.identity);
                    identity.received += 1;
                    identity.findings += kinds.len() as u64;
                    identity.latency = Some(at.saturating_sub(probe.sent));
                }
                result
            }
            _ => continue,
        };
        if let Err(error) = recorded {
            counts.state_errors += 1;
            *outcome = RecordOutcome::Failed(error.into());
        }
    }
    counts
}

/// A received probe is evidence about its identity: what it was checked for and did not show
/// is over ([`CLEARED_BY_A_PASSING_PROBE`]), and the incidents of it are resolved.
async fn clear_by_probe<S: FindingSink>(
    outcome: &RecordOutcome,
    sink: &S,
) -> Result<(), SinkError> {
    let RecordOutcome::Analyzed {
        probe: Some(arrival),
        analysis,
        ..
    } = outcome
    else {
        return Ok(());
    };
    let identity = &arrival.probe.identity;
    let by = format!(
        "the canary probe {} from {identity} arrived without it",
        arrival.probe.message_id
    );
    for kind in CLEARED_BY_A_PASSING_PROBE {
        let still = analysis
            .findings
            .iter()
            .any(|f| f.kind() == kind && f.domain.as_deref() == Some(identity));
        if !still {
            sink.cleared(kind, identity, &by).await?;
        }
    }
    Ok(())
}

fn log_outcome(record: usize, outcome: &RecordOutcome, processed: &mut Processed) {
    match outcome {
        RecordOutcome::Analyzed {
            observation,
            analysis,
            probe,
            ..
        } => {
            tracing::info!(
                record,
                message_id = observation.message_id.as_deref(),
                probe = probe.as_ref().map(|p| p.probe.message_id.as_str()),
                latency_seconds = probe.as_ref().and_then(|p| p.latency()),
                source = observation.source.as_str(),
                from_domains = observation.header_from.len(),
                findings = analysis.findings.len(),
                notes = ?observation.notes,
                "analyzed"
            );
        }
        RecordOutcome::Feedback { summary, findings } => {
            tracing::info!(
                record,
                message_id = summary.message_id.as_deref(),
                event = %summary.event,
                domain = summary.domain(),
                description = %summary.description,
                findings = findings.len(),
                notes = ?summary.notes,
                "feedback"
            );
            for value in &summary.unknown_values {
                tracing::warn!(record, value = %value, "a value this version does not know");
            }
            processed
                .unknown_values
                .extend(summary.unknown_values.iter().cloned());
        }
        RecordOutcome::Service { event, findings } => {
            tracing::info!(record, event = ?event, findings = findings.len(), "SES service event");
        }
        RecordOutcome::Skipped { reason } => {
            tracing::info!(record, reason = %reason, "skipped");
        }
        RecordOutcome::NotAProbe {
            header_from,
            message_id,
        } => {
            tracing::warn!(record, from = ?header_from, message_id = message_id.as_deref(), "mail to the canary address that is not a recorded probe; left unjudged");
        }
        RecordOutcome::Failed(error) if error.is_transient() => {
            tracing::warn!(record, error = %error, "record failed; the invocation will be retried");
            processed.transient.push(error.to_string());
        }
        RecordOutcome::Failed(error) => {
            tracing::error!(record, error = %error, "record not understood");
            processed.malformed.push(error.to_string());
        }
    }
}

/// The error for failed records: the first one's cause, and how many failed of how many.
fn records_error(
    failures: impl IntoIterator<Item = RecordError>,
    total: usize,
) -> Option<HandlerError> {
    let failures: Vec<RecordError> = failures.into_iter().collect();
    let failed = failures.len();
    let first = failures.into_iter().next()?;
    Some(HandlerError::Records {
        failed,
        total,
        first,
    })
}

/// The receipt function, given the event as the runtime received it (JSON text), what
/// received mail is admitted against (the monitored domains, the canary's probes) and where
/// the receipt rule's S3 action stored the raw messages. Any record that fails fails the
/// invocation (after the others were published); otherwise the receipt rule continues:
/// monitoring never stops delivery. `now`: Unix seconds.
pub async fn receipt<F, D, R, P, Sc, S>(
    event: &[u8],
    ports: Ports<'_, F, D>,
    inbound: Inbound<'_, R, P, Sc>,
    sink: &S,
    settings: &Settings,
    now: u64,
) -> Invocation<SimpleEmailDisposition>
where
    F: FactSource,
    D: IdentityDirectory,
    R: RawMessages,
    P: ProbeBook,
    Sc: DomainScope,
    S: FindingSink,
{
    let (processed, processed_ok) = process(event, ports, inbound, sink, settings, now).await;
    let result = match processed_ok {
        Err(error) => Err(error),
        Ok(Failures {
            delivery: Some(error),
            ..
        }) => Err(error.into()),
        Ok(failures) => match records_error(
            failures.records.into_iter().map(|(_, e)| e),
            processed.total,
        ) {
            Some(error) => Err(error),
            None => {
                let mut disposition = SimpleEmailDisposition::default();
                disposition.disposition = "CONTINUE".to_owned();
                Ok(disposition)
            }
        },
    };
    Invocation { processed, result }
}

/// What the feedback function answers: nothing for SNS and EventBridge events (a failure
/// fails the invocation), a partial batch response for SQS batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackAnswer {
    Acknowledged,
    /// The SQS messages to deliver again; the others are deleted from the queue.
    Batch(SqsBatchResponse),
}

/// The feedback function. Poison records (not JSON, unknown shape) are logged and counted,
/// then acknowledged: a retry cannot fix them. Transient failures (a throttled lookup, an
/// alert not published) fail the invocation so Lambda retries and the failure destination
/// keeps what still fails; in an SQS batch only their messages are returned to the queue
/// (`batchItemFailures`), so one bad record never replays the others.
pub async fn feedback<F, D, Sc, S>(
    event: &[u8],
    ports: Ports<'_, F, D>,
    scope: &Sc,
    sink: &S,
    settings: &Settings,
) -> Invocation<FeedbackAnswer>
where
    F: FactSource,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
{
    let inbound = Inbound {
        raw: &NoRawMessages,
        probes: &NoProbes,
        scope,
    };
    // No probe arrives as feedback: the time is never read.
    let (processed, processed_ok) = process(event, ports, inbound, sink, settings, 0).await;
    let result = match processed_ok {
        Err(HandlerError::Input(error)) => {
            tracing::error!(error = %error, "poison event acknowledged");
            Ok(FeedbackAnswer::Acknowledged)
        }
        Err(error) => Err(error),
        Ok(failures) if failures.sqs => Ok(FeedbackAnswer::Batch(batch_response(failures))),
        Ok(Failures {
            delivery: Some(error),
            ..
        }) => Err(error.into()),
        // Poison records are acknowledged; the transient ones are retried.
        Ok(failures) => {
            let transient = failures
                .records
                .into_iter()
                .map(|(_, e)| e)
                .filter(RecordError::is_transient);
            records_error(transient, processed.total).map_or(Ok(FeedbackAnswer::Acknowledged), Err)
        }
    };
    Invocation { processed, result }
}

/// The SQS messages to deliver again: those whose record failed transiently and those whose
/// findings could not be delivered. Poison records are acknowledged (logged and counted).
fn batch_response(failures: Failures) -> SqsBatchResponse {
    let mut ids: Vec<String> = failures
        .records
        .into_iter()
        .filter(|(_, error)| error.is_transient())
        .filter_map(|(id, _)| id)
        .chain(failures.undelivered.into_iter().flatten())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut response = SqsBatchResponse::default();
    for id in ids {
        response.add_failure(id);
    }
    response
}

/// An audit's passing checks are evidence about their domain: the incidents of the kinds they
/// clear, and of which the audit found nothing, are resolved.
async fn clear_by_audit<S: FindingSink>(report: &AuditReport, sink: &S) -> Result<(), SinkError> {
    for check in &report.checks {
        for kind in cleared_by_check(check) {
            if report.findings.iter().any(|f| f.kind() == *kind) {
                continue;
            }
            let by = format!(
                "the audit found {} healthy: {}",
                check.check.as_str(),
                check.detail
            );
            sink.cleared(*kind, &report.domain, &by).await?;
        }
    }
    Ok(())
}

/// What one audit run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditRun {
    pub reports: Vec<AuditReport>,
    /// What went wrong: the listing, or identities whose state could not be read (checked
    /// again next run).
    pub errors: Vec<String>,
    /// The identities could not be listed: nothing was judged.
    pub listing_failed: bool,
}

impl AuditRun {
    /// What was judged and what was not, for the metrics.
    pub fn counts(&self) -> AuditCounts {
        let unjudged = self.per_check(AuditReport::unjudged);
        let unreadable = if self.listing_failed {
            0
        } else {
            self.errors.len() as u64
        };
        AuditCounts {
            identities: (!self.listing_failed).then_some(self.reports.len() as u64),
            failed: self.failed_checks(),
            unjudged,
            unreadable,
        }
    }

    /// Failed checks, per check.
    pub fn failed_checks(&self) -> BTreeMap<PostureCheck, u64> {
        self.per_check(AuditReport::failed)
    }

    /// How many of the checks `select` picks from each report there are, per check.
    fn per_check<'a, I>(
        &'a self,
        select: impl Fn(&'a AuditReport) -> I,
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

/// The scheduled audit: every identity of the account (address identities by their domain),
/// its state read through the directory, its DNS checked, the findings published. An identity
/// whose state cannot be read is skipped and reported, and fails the run after the others
/// were audited; the next run (or Lambda's retry) tries again. A listing that fails fails the
/// run at once: there is nothing to audit.
pub async fn audit<L, D, Sc, S>(
    lister: &L,
    directory: &D,
    dns: &DnsFacts,
    scope: &Sc,
    sink: &S,
    region: &str,
) -> (AuditRun, Result<(), HandlerError>)
where
    L: IdentityLister,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
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
    // One audit per domain: the domain identity itself when there is one, else the first
    // address identity under it.
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
    let mut sink_error = None;
    let mut first_unreadable = None;
    for (identity, domain) in targets {
        if !scope.contains(&domain) {
            continue;
        }
        let state = match directory::governing_state(directory, &identity).await {
            Ok(state) => state.map(|(_, s)| (*s).clone()),
            Err(error) => {
                tracing::warn!(identity = %identity, error = %error, "identity state unreadable; skipped this run");
                run.errors.push(error.to_string());
                first_unreadable.get_or_insert(error);
                continue;
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
            tracing::warn!(identity = %report.identity, domain = %report.domain, check = check.check.as_str(), detail = %check.detail, "audit check failed");
        }
        if let Err(error) = sink.publish(&report.findings).await {
            sink_error.get_or_insert(error);
        }
        if let Err(error) = clear_by_audit(&report, sink).await {
            sink_error.get_or_insert(error);
        }
        run.reports.push(report);
    }
    // Incidents no check can clear end after their quiet period.
    if let Err(error) = sink.sweep().await {
        sink_error.get_or_insert(error);
    }
    let failed: u64 = run.failed_checks().values().sum();
    tracing::info!(
        identities = run.reports.len(),
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
