//! Receivers' reports: one input through reading, judging and wording (the CLI's `reports`
//! command, and `analyze` given a report), and the reports function's story over its ports:
//! each stored message an S3 event announces is read, every report in it streamed, judged,
//! counted once across retries and re-sent copies (the state table's claims), and its
//! findings published.
//!
//! Trust, in order: a report is believed only when the mail it came in passed DMARC for a
//! From in the organization of the reporter it names (or one the user trusts,
//! `TRUSTED_REPORTERS`); only a believed report claims its id, reads or writes the source
//! history, or says more than that it is not believed. Its findings concern a monitored
//! domain itself (a subdomain only when listed), and each reporter adds findings about a
//! domain at most so many times a day.
//!
//! Nothing is lost. Mail with no report in it (spam to the published address) is counted
//! and dropped; a document that claims to be a report and cannot be read, in mail that
//! passed DMARC, fails the invocation with its key and cause, so Lambda's retries and then the
//! failure destination keep the event. A report claimed by an invocation that may still be
//! running fails this one as transient, until the holder finished or is provably dead (past
//! its deadline). A report whose findings could not be delivered gives its claim back.
//! Without the state table reports are judged as the CLI judges them, and may count twice:
//! duplicates are better than silence.

use crate::flow::Failure;
use crate::flow::analysis::{Settings, mail_from_of};
use crate::judge::digest::{DayFigures, TlsFigures, day_start, reporter_name};
use crate::judge::findings::{Facts, Finding};
use crate::judge::incident::{self, ReportShape};
use crate::judge::report::{
    self, AggregateSummary, Belief, Carried, Judging, SendingSource, Summarizer,
    aggregate_reporters, tls_reporters,
};
use crate::judge::source::Services;
use crate::ports::chain;
use crate::ports::directory::{DirectoryError, IdentityDirectory};
use crate::ports::objects::{ObjectError, ObjectStore};
use crate::ports::rollups::{Addition, Rollups, TlsDay};
use crate::ports::rows::{RowBatch, RowStore, RowsError, batch_name};
use crate::ports::scope::DomainScope;
use crate::ports::sink::{FindingSink, SinkError};
use crate::ports::state::{
    CLAIM_MARGIN, Claim, FindingsQuota, LastSeen, ReportKey, ReportLedger, StateError,
};
use crate::read::authres::ResultKeyword;
use crate::read::domain::domains_of_address_list;
use crate::read::identity_state::CustomMailFrom;
use crate::read::observation::{self, Source};
use crate::read::report::aggregate::AggregateReport;
use crate::read::report::{
    Document, DocumentKind, ExtractError, Format, Limits, Opened, Report, open, sniff,
};
use crate::read::stored_object::{ObjectEventError, StoredObject, stored_objects};
use crate::say::metrics::reports::ReportCounts;
use crate::say::rows::GzipRows;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Settings the reports path takes besides the analysis flow's.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// Trusted authserv-ids and the custom MAIL FROM domains the user states.
    pub analysis: Settings,
    /// Messages from one non-SES source failing DMARC before `report_unknown_source`.
    pub unknown_source_threshold: u64,
    pub limits: Limits,
    /// Whether a report message without the trusted server's `Authentication-Results` is
    /// unauthenticated. In AWS, where SES adds them to every message it stores, yes; for a
    /// file saved from a mailbox elsewhere, no: there is nothing to judge it by.
    pub require_authentication: bool,
    /// From domains (by organization) whose DMARC-passing reports are believed whatever
    /// reporter they name: receivers that mail from another domain than the one they name.
    pub trusted_reporters: Vec<String>,
    /// Reports a reporter may add findings from, per monitored domain and UTC day.
    pub findings_per_reporter_day: u64,
    /// The sending services rows are recognized by: the bundled list and the user's
    /// additions (`KNOWN_SERVICES`, `--service`).
    pub services: Arc<Services>,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            analysis: Settings::default(),
            unknown_source_threshold: 10,
            limits: Limits::default(),
            require_authentication: false,
            trusted_reporters: Vec::new(),
            findings_per_reporter_day: 5,
            services: Services::bundled(),
        }
    }
}

/// One report, judged.
#[derive(Debug)]
pub struct Judged {
    /// The report as read: an aggregate report's rows are in `summary` instead.
    pub report: Report,
    /// For a DMARC aggregate report.
    pub summary: Option<AggregateSummary>,
    pub belief: Belief,
    pub findings: Vec<Finding>,
}

/// What one input gave.
#[derive(Debug, Default)]
pub struct ReportsOutcome {
    pub reports: Vec<Judged>,
    /// Documents that could not be read; the reports beside them are still judged.
    pub errors: Vec<ExtractError>,
    pub notes: Vec<String>,
}

/// Reads and judges every report in `bytes`, against the MAIL FROM domains the settings
/// state and no history (the CLI's way).
pub fn run(bytes: &[u8], settings: &ReportSettings) -> ReportsOutcome {
    let mut reports = Vec::new();
    let mut outcome = run_each(bytes, settings, |judged| reports.push(judged));
    outcome.reports = reports;
    outcome
}

/// [`run`], each report handed to `each` as soon as it is judged (and dropped after): memory
/// grows neither with a report's rows nor with the number of reports in one input.
pub fn run_each(
    bytes: &[u8],
    settings: &ReportSettings,
    mut each: impl FnMut(Judged),
) -> ReportsOutcome {
    run_each_with_rows(bytes, settings, false, |judged, _| each(judged))
}

/// [`run_each`], with the records of each believed aggregate report gathered as they are
/// read (`reports --format rows`) when `gather_rows`: handed over beside the report, so that
/// a document that turns out unreadable gives none.
pub fn run_each_with_rows(
    bytes: &[u8],
    settings: &ReportSettings,
    gather_rows: bool,
    mut each: impl FnMut(Judged, Option<GzipRows>),
) -> ReportsOutcome {
    let opened = open(bytes, settings.limits);
    let carried = carried(&opened, settings);
    let mut outcome = ReportsOutcome {
        reports: Vec::new(),
        errors: Vec::new(),
        notes: opened.notes.clone(),
    };
    outcome.errors.extend(opened.errors);
    for document in &opened.documents {
        // The compressor is made at a report's first row, only when rows are asked for.
        let mut rows: Option<GzipRows> = None;
        let mut gather = |head: &AggregateReport, source: &SendingSource| {
            if gather_rows {
                rows.get_or_insert_with(GzipRows::default).add(head, source);
            }
        };
        let judged = read_document(document, &carried, settings, &mut gather, |domain| {
            settings.analysis.expected.covering(domain)
        })
        .map(|(read, custom)| judge(read, custom.as_ref(), None, settings));
        match judged {
            Ok(judged) => {
                if let Report::Aggregate(head) = &judged.report
                    && head.lossy
                {
                    outcome
                        .notes
                        .push("invalid UTF-8 replaced (U+FFFD)".to_owned());
                }
                each(judged, rows);
            }
            Err(error) => outcome.errors.push(error),
        }
    }
    outcome
}

/// Reads and judges `bytes` when they are reports (for `analyze`, which takes SES's events,
/// messages and reports alike): XML, gzip or zip, a JSON document shaped like a TLS report,
/// or an e-mail that carries one. `None` for anything else.
pub fn run_if_reports(bytes: &[u8], settings: &ReportSettings) -> Option<ReportsOutcome> {
    let is_report = match sniff(bytes) {
        Format::Gzip | Format::Zip | Format::Xml => true,
        // SES's events are JSON too: a TLS report names its organization and policies.
        Format::Json => {
            memchr::memmem::find(bytes, b"\"organization-name\"").is_some()
                && memchr::memmem::find(bytes, b"\"policies\"").is_some()
        }
        Format::Email => {
            let outcome = run(bytes, settings);
            return (!outcome.reports.is_empty()).then_some(outcome);
        }
        Format::Unrecognized => false,
    };
    is_report.then(|| run(bytes, settings))
}

/// What the mail the reports in `opened` came in says of itself, by the trusted
/// `Authentication-Results` (RFC 9990 §2: reports are accepted only from mail that passes
/// DMARC).
pub fn carried(opened: &Opened<'_>, settings: &ReportSettings) -> Carried {
    let Some(headers) = opened.carrier.as_deref() else {
        return Carried::NotMail;
    };
    let trusted = settings.analysis.trusted_ids();
    let observed = observation::from_headers(headers, Source::Report, trusted);
    if !observed.trusted_results {
        return if settings.require_authentication {
            Carried::NotAuthenticated
        } else {
            Carried::Unjudged
        };
    }
    match (observed.reported_dmarc, observed.header_from.first()) {
        (Some(ResultKeyword::Pass), Some(from)) => Carried::DmarcPassed { from: from.clone() },
        _ => Carried::NotAuthenticated,
    }
}

/// The domain a report is about: an aggregate report's policy domain, a TLS report's first
/// policy domain.
pub fn report_domain(report: &Report) -> Option<&str> {
    match report {
        Report::Aggregate(aggregate) => aggregate.policy.domain.as_deref(),
        Report::TlsRpt(tls) => tls.domains().first().copied(),
    }
}

/// How a report is known for de-duplication: (reporter, report id, domain), lower case
/// where case carries no meaning. `None` for a report that lacks its id or its domain: it
/// cannot be told apart from a re-sent copy, so it is judged each time.
pub fn report_key(report: &Report) -> Option<ReportKey> {
    let (reporter, report_id) = match report {
        Report::Aggregate(aggregate) => (
            aggregate.email.as_ref().or(aggregate.org_name.as_ref()),
            aggregate.report_id.as_ref(),
        ),
        Report::TlsRpt(tls) => (tls.org_name.as_ref(), tls.report_id.as_ref()),
    };
    Some(ReportKey {
        reporter: reporter.map_or_else(String::new, |r| r.trim().to_lowercase()),
        report_id: report_id?.trim().to_owned(),
        domain: report_domain(report)?.to_lowercase(),
    })
    .filter(|key| !key.report_id.is_empty() && !key.domain.is_empty())
}

/// One document, read: the report (an aggregate report's head), its summary, and whether it
/// is believed.
#[derive(Debug)]
pub struct Read {
    pub report: Report,
    pub summary: Option<AggregateSummary>,
    pub belief: Belief,
}

/// What receives each record of a believed aggregate report, judged, with the report's head.
type RowHook<'a> = dyn FnMut(&AggregateReport, &SendingSource) + 'a;

/// Reads one document in one pass: its head, whether it is believed, and (for an
/// aggregate report) its rows streamed into a summary against the custom MAIL FROM
/// `custom_of` gives for its domain (asked once, at the first row: a report's metadata and
/// policy come before its records), each handed to `rows` too when the report is believed.
/// An unbelieved report is summed without one: its rows are counted, not judged.
fn read_document(
    document: &Document<'_>,
    carried: &Carried,
    settings: &ReportSettings,
    rows: &mut RowHook<'_>,
    custom_of: impl FnOnce(&str) -> Option<CustomMailFrom>,
) -> Result<(Read, Option<CustomMailFrom>), ExtractError> {
    let believe =
        |reporters: &[String]| report::belief(carried, reporters, &settings.trusted_reporters);
    match document.kind {
        DocumentKind::Tls => {
            let tls = document.tls()?;
            let belief = believe(&tls_reporters(&tls));
            let read = Read {
                report: Report::TlsRpt(tls),
                summary: None,
                belief,
            };
            Ok((read, None))
        }
        DocumentKind::Aggregate => {
            let mut custom_of = Some(custom_of);
            let mut custom = None;
            let mut summarizer: Option<Summarizer> = None;
            let mut believed = false;
            let report = document.aggregate_rows(|head, row| {
                let summarizer = summarizer.get_or_insert_with(|| {
                    believed = believe(&aggregate_reporters(head)).believed();
                    custom = head
                        .policy
                        .domain
                        .as_deref()
                        .filter(|_| believed)
                        .zip(custom_of.take())
                        .and_then(|(domain, custom_of)| custom_of(domain));
                    Summarizer::new(&head.policy, custom.as_ref().map(|c| c.mail_from.as_str()))
                        .with_senders(
                            Arc::clone(&settings.services),
                            custom.as_ref().map(|c| c.identity.as_str()),
                        )
                });
                if believed {
                    summarizer.add_then(row, |source| rows(head, source));
                } else {
                    summarizer.add(row);
                }
            })?;
            let belief = believe(&aggregate_reporters(&report));
            let summary = summarizer.map_or_else(AggregateSummary::default, Summarizer::finish);
            let read = Read {
                report: Report::Aggregate(report),
                summary: Some(summary),
                belief,
            };
            Ok((read, custom))
        }
    }
}

/// Judges one report read, in its context: the custom MAIL FROM of its domain, and the
/// sources seen sending as it before (`None` without history).
pub fn judge(
    read: Read,
    custom: Option<&CustomMailFrom>,
    known_sources: Option<&HashMap<IpAddr, LastSeen>>,
    settings: &ReportSettings,
) -> Judged {
    let Read {
        report,
        summary,
        belief,
    } = read;
    let domain = report_domain(&report).map(str::to_owned);
    let facts: Vec<Facts> = match (&report, &summary) {
        (Report::Aggregate(aggregate), Some(summary)) => {
            let judging = Judging {
                custom,
                unknown_source_threshold: settings.unknown_source_threshold,
                belief: &belief,
                known_sources,
            };
            report::aggregate_findings(aggregate, summary, judging)
        }
        (Report::TlsRpt(tls), _) if !belief.believed() => vec![Facts::ReportUnauthenticated {
            reporter: tls.org_name.clone().unwrap_or_else(|| "a sender".into()),
            messages: tls.successful().saturating_add(tls.failed()),
            mailed_from: belief.mailed_from().map(str::to_owned),
        }],
        // RFC 8460 asks a TLS report's mail for a DKIM signature, not for a DMARC pass;
        // its failures are a warning either way.
        (Report::TlsRpt(tls), _) => report::tls_findings(tls).into_iter().collect(),
        (Report::Aggregate(_), None) => Vec::new(),
    };
    let findings = facts
        .into_iter()
        .map(|facts| Finding::new(facts, domain.as_deref(), Source::Report))
        .collect();
    Judged {
        report,
        summary,
        belief,
        findings,
    }
}

/// Why a reports invocation failed. Lambda retries it; the failure destination keeps the
/// event, and the object stays in the bucket.
#[derive(Debug, thiserror::Error)]
pub enum ReportsError {
    /// The event announces no object: poison.
    #[error("the event is not understood: {0}")]
    Event(#[from] ObjectEventError),
    /// The object could not be fetched.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// A document that claims to be a report could not be read.
    #[error("{object}: {cause}")]
    Unreadable { object: StoredObject, cause: String },
    /// Another invocation holds the report's claim and may still be running.
    #[error(
        "{object}: {report} is being counted by another invocation; retried until it finished or its deadline passed"
    )]
    InFlight {
        object: StoredObject,
        report: String,
    },
    /// The identity's state could not be read (SESv2 throttled or down).
    #[error("{object}: the identity behind {domain} could not be looked up: {source}")]
    Directory {
        object: StoredObject,
        domain: String,
        #[source]
        source: DirectoryError,
    },
    /// Findings could not be delivered; the report's claim was given back.
    #[error("{object}: {source}")]
    Sink {
        object: StoredObject,
        #[source]
        source: SinkError,
    },
    /// The report's rows could not be written; its claim was given back.
    #[error("{object}: {source}")]
    Rows {
        object: StoredObject,
        #[source]
        source: RowsError,
    },
}

impl Failure for ReportsError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Event(_) | Self::Unreadable { .. } => false,
            Self::Object(error) => error.is_transient(),
            Self::Directory { source, .. } => source.is_transient(),
            Self::InFlight { .. } | Self::Sink { .. } | Self::Rows { .. } => true,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Event(_) => "PoisonEvent",
            Self::Object(error) if error.is_transient() => "ObjectReadFailed",
            Self::Object(_) => "ObjectUnavailable",
            Self::Unreadable { .. } => "ReportUnreadable",
            Self::InFlight { .. } => "ReportInFlight",
            Self::Directory { .. } => "IdentityLookupFailed",
            Self::Sink { .. } => "AlertDeliveryFailed",
            Self::Rows { .. } => "RowsWriteFailed",
        }
    }
}

/// What the reports handler reaches the world through.
#[derive(Debug)]
pub struct ReportPorts<'a, O, L, D, Sc, S, R, W> {
    pub objects: &'a O,
    pub ledger: &'a L,
    pub directory: &'a D,
    pub scope: &'a Sc,
    pub sink: &'a S,
    /// The daily rollups the weekly digest reads.
    pub rollups: &'a R,
    /// Where each report's rows go, for the analytics table.
    pub rows: &'a W,
}

// By hand: derived, they would ask the ports themselves to be `Copy`.
impl<O, L, D, Sc, S, R, W> Clone for ReportPorts<'_, O, L, D, Sc, S, R, W> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O, L, D, Sc, S, R, W> Copy for ReportPorts<'_, O, L, D, Sc, S, R, W> {}

/// When an invocation runs: now, and the deadline Lambda ends it at (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clockwork {
    pub now: u64,
    pub deadline: u64,
}

impl Clockwork {
    /// Until when this invocation's claims hold: its deadline and a margin for clocks.
    fn holds_until(self) -> u64 {
        self.deadline.saturating_add(CLAIM_MARGIN)
    }
}

/// One invocation: what it counted, and how it ended (the first failure, after every
/// object was tried).
#[derive(Debug)]
pub struct ReportsInvocation {
    pub counts: ReportCounts,
    pub result: Result<(), ReportsError>,
}

/// Handles one S3 event.
pub async fn reports<O, L, D, Sc, S, R, W>(
    event: &[u8],
    ports: ReportPorts<'_, O, L, D, Sc, S, R, W>,
    settings: &ReportSettings,
    clock: Clockwork,
) -> ReportsInvocation
where
    O: ObjectStore,
    L: ReportLedger,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
    R: Rollups,
    W: RowStore,
{
    let mut counts = ReportCounts::default();
    let objects = match stored_objects(event) {
        Ok(objects) => objects,
        Err(error) => {
            tracing::error!(error = %error, "event not understood");
            counts.unreadable += 1;
            return ReportsInvocation {
                counts,
                result: Err(error.into()),
            };
        }
    };
    ports.scope.refresh().await;
    let mut first = None;
    for object in objects {
        if let Err(error) = one_object(&object, ports, settings, clock, &mut counts).await {
            tracing::error!(
                object = %object,
                transient = error.is_transient(),
                error = %chain(&error),
                "report object failed"
            );
            first.get_or_insert(error);
        }
    }
    ReportsInvocation {
        counts,
        result: first.map_or(Ok(()), Err),
    }
}

/// The sender's domain of mail with no report in it, for the log: its From.
fn sender_of(opened: &Opened<'_>) -> String {
    opened
        .carrier
        .iter()
        .flatten()
        .find(|(name, _)| name.eq_ignore_ascii_case("from"))
        .and_then(|(_, value)| domains_of_address_list(value).into_iter().next())
        .unwrap_or_else(|| "(none)".to_owned())
}

async fn one_object<O, L, D, Sc, S, R, W>(
    object: &StoredObject,
    ports: ReportPorts<'_, O, L, D, Sc, S, R, W>,
    settings: &ReportSettings,
    clock: Clockwork,
    counts: &mut ReportCounts,
) -> Result<(), ReportsError>
where
    O: ObjectStore,
    L: ReportLedger,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
    R: Rollups,
    W: RowStore,
{
    let bytes = match ports.objects.get(&object.bucket, &object.key).await {
        Ok(bytes) => bytes,
        Err(error) => {
            if !error.is_transient() {
                counts.unreadable += 1;
            }
            return Err(error.into());
        }
    };
    let opened = open(&bytes, settings.limits);
    let carried = carried(&opened, settings);
    // Only mail that passed DMARC can fail the invocation: anyone can send the rest.
    let authenticated = !matches!(carried, Carried::NotAuthenticated);
    let unreadable = |cause: String| ReportsError::Unreadable {
        object: object.clone(),
        cause,
    };
    if opened.documents.is_empty() && !(opened.claims_report() && authenticated) {
        counts.ignored += 1;
        tracing::info!(
            object = %object,
            sender = %sender_of(&opened),
            authenticated,
            "mail to the report address with no report in it: dropped"
        );
        return Ok(());
    }
    let mut first = None;
    let mut errors = opened.errors.iter().map(|e| chain(e)).collect::<Vec<_>>();
    for (index, document) in opened.documents.iter().enumerate() {
        let place = Place { object, index };
        match one_report(document, &carried, place, ports, settings, clock, counts).await {
            Ok(()) => {}
            Err(Trouble::Failed(error)) => {
                first.get_or_insert(error);
            }
            Err(Trouble::Unreadable(error)) => errors.push(chain(&error)),
        }
    }
    if !errors.is_empty() {
        if !authenticated {
            counts.unbelieved += errors.len() as u64;
            tracing::warn!(object = %object, first = %errors[0], "unreadable documents in mail that did not pass DMARC: dropped");
        } else {
            // The reports that could be read are counted; the object still goes to the
            // failure destination for the documents that could not (their retry counts the
            // others once).
            counts.unreadable += errors.len() as u64;
            first.get_or_insert(unreadable(
                if opened.documents.is_empty() && errors.len() == 1 {
                    errors[0].clone()
                } else {
                    format!(
                        "{} document(s) could not be read, the first: {}",
                        errors.len(),
                        errors[0]
                    )
                },
            ));
        }
    } else if opened.documents.is_empty() {
        counts.unreadable += 1;
        first.get_or_insert(unreadable("no report in it".to_owned()));
    }
    first.map_or(Ok(()), Err)
}

/// How one document ended, when not well.
enum Trouble {
    /// The invocation fails (and is retried).
    Failed(ReportsError),
    /// The document could not be read.
    Unreadable(ExtractError),
}

fn state_error(counts: &mut ReportCounts, what: &str, error: &StateError) {
    counts.state_errors += 1;
    tracing::warn!(error = %chain(error), "{what}: going on without the state table");
}

/// Days since the Unix epoch of `seconds`.
fn day_of(seconds: u64) -> u64 {
    seconds / 86_400
}

/// Adds a believed, newly counted report to the daily rollups of `domain` (a monitored
/// domain): one write for an aggregate report, one per monitored policy domain of a TLS
/// report. A report belongs to the UTC day of its end (`now` when it gives none).
async fn add_to_rollups<R: Rollups>(
    report: &Report,
    summary: Option<&AggregateSummary>,
    domain: &str,
    rollups: &R,
    clock: Clockwork,
    counts: &mut ReportCounts,
) {
    let day_start = |moment: Option<u64>| day_start(moment.unwrap_or(clock.now));
    let additions: Vec<(u64, String, Addition)> = match (report, summary) {
        (Report::Aggregate(aggregate), Some(summary)) => vec![(
            day_start(aggregate.end.or(aggregate.begin)),
            domain.to_owned(),
            Addition::Dmarc(DayFigures::of_report(aggregate, summary)),
        )],
        (Report::TlsRpt(tls), _) => {
            let end = tls
                .end
                .as_deref()
                .and_then(crate::read::report::tls::seconds);
            let reporter = reporter_name(tls.org_name.as_deref());
            // Sessions per policy domain: each its own rollup, the first (the report's
            // domain) always, others of the same organization's domains too.
            tls.policies
                .iter()
                .filter_map(|policy| {
                    let policy_domain = policy.domain.as_deref()?;
                    (policy_domain == domain
                        || crate::read::domain::is_within(policy_domain, domain))
                    .then(|| {
                        (
                            day_start(end),
                            policy_domain.to_owned(),
                            Addition::Tls(TlsDay {
                                sessions: TlsFigures {
                                    successful: policy.successful.unwrap_or(0),
                                    failed: policy.failed.unwrap_or(0),
                                },
                                reporters: BTreeMap::from([(reporter.clone(), 1)]),
                            }),
                        )
                    })
                })
                .collect()
        }
        (Report::Aggregate(_), None) => Vec::new(),
    };
    for (day, subject, addition) in additions {
        if let Err(error) = rollups.add(day, &subject, &addition).await {
            state_error(counts, "adding to the daily rollups", &error);
        }
    }
}

/// How long a known source's record is trusted before it is written again (its item lives
/// 400 days after the last write).
const REFRESH_SOURCES_AFTER: u64 = 30 * 86_400;

/// Where a document was found: its object, and its place among the object's documents.
#[derive(Debug, Clone, Copy)]
struct Place<'a> {
    object: &'a StoredObject,
    index: usize,
}

async fn one_report<O, L, D, Sc, S, R, W>(
    document: &Document<'_>,
    carried: &Carried,
    place: Place<'_>,
    ports: ReportPorts<'_, O, L, D, Sc, S, R, W>,
    settings: &ReportSettings,
    clock: Clockwork,
    counts: &mut ReportCounts,
) -> Result<(), Trouble>
where
    L: ReportLedger,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
    R: Rollups,
    W: RowStore,
{
    let object = place.object;
    // The identity's MAIL FROM is looked up between the head and the rows (the rows are
    // judged against it), for a believed report only: the head is read twice, which costs
    // its first kilobytes.
    let head_domain = match document.kind {
        DocumentKind::Aggregate => {
            let head = document.aggregate_head().map_err(Trouble::Unreadable)?;
            let reporters = aggregate_reporters(&head);
            report::belief(carried, &reporters, &settings.trusted_reporters)
                .believed()
                .then_some(head.policy.domain)
                .flatten()
        }
        DocumentKind::Tls => None,
    };
    let custom = match &head_domain {
        Some(domain) => {
            match mail_from_of(domain, ports.directory, &settings.analysis.expected).await {
                Ok(custom) => custom,
                Err(error) if error.is_transient() => {
                    return Err(Trouble::Failed(ReportsError::Directory {
                        object: object.clone(),
                        domain: domain.clone(),
                        source: error,
                    }));
                }
                Err(error) => {
                    tracing::warn!(domain = %domain, error = %error, "MAIL FROM configuration unknown");
                    None
                }
            }
        }
        None => None,
    };
    // Rows are gathered for a monitored domain only, the compressor made at the first row.
    let mut rows: Option<GzipRows> = None;
    let mut monitored: Option<bool> = None;
    let mut gather = |head: &AggregateReport, source: &SendingSource| {
        let wanted = *monitored.get_or_insert_with(|| {
            head.policy
                .domain
                .as_deref()
                .is_some_and(|d| ports.scope.lists(d))
        });
        if wanted {
            rows.get_or_insert_with(GzipRows::default).add(head, source);
        }
    };
    let (read, custom) = read_document(document, carried, settings, &mut gather, |_| custom)
        .map_err(Trouble::Unreadable)?;
    let domain = report_domain(&read.report).map(str::to_owned);
    let listed = domain.as_deref().filter(|d| ports.scope.lists(d));
    if !read.belief.believed() {
        counts.unbelieved += 1;
        let judged = judge(read, None, None, settings);
        tracing::warn!(
            object = %object,
            domain = domain.as_deref(),
            belief = ?judged.belief,
            "a report that is not believed: counted, not judged"
        );
        let findings = if listed.is_some() {
            judged.findings
        } else {
            Vec::new()
        };
        let quota = FindingsQuota {
            reporter: "unbelieved".to_owned(),
            domain: domain.unwrap_or_default(),
            day: day_of(clock.now),
        };
        return publish(
            findings, &quota, None, object, ports, settings, clock, counts,
        )
        .await;
    }
    let key = report_key(&read.report);
    if let Some(key) = &key {
        match ports
            .ledger
            .claim(key, clock.now, clock.holds_until())
            .await
        {
            Ok(Claim::New) => {}
            Ok(Claim::Seen) => {
                counts.duplicate += 1;
                tracing::info!(report = %key, "counted before; not again");
                return Ok(());
            }
            Ok(Claim::InFlight) => {
                counts.in_flight += 1;
                return Err(Trouble::Failed(ReportsError::InFlight {
                    object: object.clone(),
                    report: key.to_string(),
                }));
            }
            Err(error) => state_error(counts, "claiming a report", &error),
        }
    } else {
        tracing::warn!(object = %object, "a report without an id or domain: judged, not de-duplicated");
    }
    if listed.is_some()
        && let Report::Aggregate(aggregate) = &read.report
    {
        write_rows(aggregate, rows, key.as_ref(), place, ports, clock, counts).await?;
    }
    let addresses: Vec<IpAddr> = read
        .summary
        .as_ref()
        .map(|summary| {
            summary
                .addresses_sorted()
                .into_iter()
                .map(|(ip, _)| ip)
                .collect()
        })
        .unwrap_or_default();
    let history = match &domain {
        Some(domain) if !addresses.is_empty() => {
            match ports.ledger.known_sources(domain, &addresses).await {
                Ok(known) => known,
                Err(error) => {
                    state_error(counts, "reading the known sources", &error);
                    None
                }
            }
        }
        _ => None,
    };
    let judged = judge(read, custom.as_ref(), history.as_ref(), settings);
    let findings = if listed.is_some() {
        judged.findings
    } else {
        Vec::new()
    };
    // What this receiver's report could show and did not: over, for the incidents its earlier
    // reports found. Decided before a daily limit drops any finding.
    let clean = listed.map(|domain| {
        let (shape, reporter) = match &judged.report {
            Report::Aggregate(aggregate) => (
                ReportShape::Aggregate {
                    custom: custom.is_some(),
                },
                report::aggregate_reporter(aggregate),
            ),
            Report::TlsRpt(tls) => (ReportShape::Tls, report::tls_reporter(tls)),
        };
        (
            domain.to_owned(),
            reporter,
            incident::cleared_by_report(shape, &findings),
        )
    });
    let quota = FindingsQuota {
        reporter: carried_reporter(carried, key.as_ref()),
        domain: domain.clone().unwrap_or_default(),
        day: day_of(clock.now),
    };
    publish(
        findings,
        &quota,
        key.as_ref(),
        object,
        ports,
        settings,
        clock,
        counts,
    )
    .await?;
    if let Some(domain) = listed {
        add_to_rollups(
            &judged.report,
            judged.summary.as_ref(),
            domain,
            ports.rollups,
            clock,
            counts,
        )
        .await;
    }
    match (&judged.report, &judged.summary) {
        (Report::Aggregate(_), Some(summary)) => {
            counts.aggregate(listed, summary);
            if let Some(domain) = &domain {
                // Only what is new, or not written for a while: proportional to the report's
                // new sources, not to its size.
                let stale = clock.now.saturating_sub(REFRESH_SOURCES_AFTER);
                let due: Vec<IpAddr> = addresses
                    .iter()
                    .filter(|ip| {
                        history
                            .as_ref()
                            .and_then(|known| known.get(ip))
                            .is_none_or(|seen| *seen < stale)
                    })
                    .copied()
                    .collect();
                if !due.is_empty()
                    && let Err(error) = ports.ledger.remember_sources(domain, &due, clock.now).await
                {
                    state_error(counts, "remembering the sources", &error);
                }
            }
        }
        (Report::TlsRpt(tls), _) => counts.tls(tls.failed()),
        (Report::Aggregate(_), None) => {}
    }
    if let Some((domain, reporter, kinds)) = &clean {
        let by = crate::say::explain::report_evidence(reporter);
        for kind in kinds {
            if let Err(source) = ports
                .sink
                .cleared_by_reporter(*kind, domain, reporter, &by)
                .await
            {
                // The report is counted; the next clean one ends the incident, or its quiet
                // period does.
                tracing::warn!(kind = kind.as_str(), error = %chain(&source), "a clean report's evidence was not delivered");
            }
        }
    }
    tracing::info!(
        object = %object,
        report = key.as_ref().map(ToString::to_string),
        domain = domain.as_deref(),
        monitored = listed.is_some(),
        "report counted"
    );
    if let Some(key) = &key
        && let Err(error) = ports.ledger.complete(key).await
    {
        state_error(counts, "completing a claim", &error);
    }
    Ok(())
}

/// Writes a believed, newly claimed report's rows (a monitored domain's), named by its report
/// key (else by the object and its place in it): a retry writes the same batch. When they
/// cannot be written, the claim is given back and the invocation fails, to be retried.
async fn write_rows<O, L, D, Sc, S, R, W>(
    report: &AggregateReport,
    rows: Option<GzipRows>,
    key: Option<&ReportKey>,
    place: Place<'_>,
    ports: ReportPorts<'_, O, L, D, Sc, S, R, W>,
    clock: Clockwork,
    counts: &mut ReportCounts,
) -> Result<(), Trouble>
where
    L: ReportLedger,
    W: RowStore,
{
    let object = place.object;
    let name = match key {
        Some(key) => batch_name(&key.reporter, &key.report_id, &key.domain),
        None => batch_name(&object.to_string(), &place.index.to_string(), ""),
    };
    let Some(rows) = rows else {
        return Ok(());
    };
    let written = match rows.finish() {
        Ok((0, _)) => return Ok(()),
        Ok((rows, ndjson_gzip)) => {
            let batch = RowBatch {
                day: crate::say::rows::day_of(report)
                    .unwrap_or_else(|| crate::say::calendar::utc_date(clock.now)),
                name,
                rows,
                ndjson_gzip,
            };
            ports.rows.put(&batch).await.map(|()| rows)
        }
        Err(error) => Err(RowsError {
            key: name,
            source: error.into(),
        }),
    };
    match written {
        Ok(rows) => {
            counts.rows_written = counts.rows_written.saturating_add(rows);
            Ok(())
        }
        Err(source) => {
            if let Some(key) = key
                && let Err(error) = ports.ledger.release(key).await
            {
                state_error(counts, "giving a claim back", &error);
            }
            Err(Trouble::Failed(ReportsError::Rows {
                object: object.clone(),
                source,
            }))
        }
    }
}

/// Whom a believed report's findings count against: the From its mail passed DMARC for, else
/// the reporter it names.
fn carried_reporter(carried: &Carried, key: Option<&ReportKey>) -> String {
    match carried {
        Carried::DmarcPassed { from } => from.clone(),
        _ => key.map_or_else(String::new, |k| k.reporter.clone()),
    }
}

/// Publishes a report's findings within its reporter's daily quota (the rest are counted as
/// dropped). When they cannot be delivered, the report's claim is given back for the retry.
#[allow(clippy::too_many_arguments)]
async fn publish<O, L, D, Sc, S, R, W>(
    mut findings: Vec<Finding>,
    quota: &FindingsQuota,
    key: Option<&ReportKey>,
    object: &StoredObject,
    ports: ReportPorts<'_, O, L, D, Sc, S, R, W>,
    settings: &ReportSettings,
    clock: Clockwork,
    counts: &mut ReportCounts,
) -> Result<(), Trouble>
where
    L: ReportLedger,
    S: FindingSink,
{
    if !findings.is_empty() {
        let admitted = match ports
            .ledger
            .admit(quota, settings.findings_per_reporter_day, clock.now)
            .await
        {
            Ok(admitted) => admitted,
            Err(error) => {
                state_error(counts, "counting a reporter's findings", &error);
                true
            }
        };
        if !admitted {
            counts.findings_dropped += findings.len() as u64;
            tracing::warn!(
                reporter = %quota.reporter,
                domain = %quota.domain,
                dropped = findings.len(),
                "the reporter's findings for today are at their limit: dropped"
            );
            findings.clear();
        }
    }
    if let Err(source) = ports.sink.publish(&findings).await {
        if let Some(key) = key
            && let Err(error) = ports.ledger.release(key).await
        {
            state_error(counts, "giving a claim back", &error);
        }
        return Err(Trouble::Failed(ReportsError::Sink {
            object: object.clone(),
            source,
        }));
    }
    counts.findings(&findings);
    Ok(())
}
