//! Receivers' reports: one input through reading, judging and wording (the CLI's `reports`
//! command, and `analyze` given a report), and the reports function's story over its ports:
//! each stored message an S3 event announces is read, every report in it extracted and
//! judged, counted once across retries and re-sent copies (the state table's claims), and its
//! findings published.
//!
//! Nothing is lost. An object that cannot be read, or holds no report, fails the invocation
//! with its key and cause, so Lambda's retries and then the failure destination keep the
//! event; the object itself is never deleted here (the bucket's lifecycle expires it). A
//! report whose findings could not be delivered gives its claim back, so the retry counts
//! it. Without the state table (unreachable, or not configured) reports are judged as the
//! CLI judges them, and may count twice: duplicates are better than silence.

use crate::flow::Failure;
use crate::flow::analysis::{Settings, mail_from_of};
use crate::judge::findings::Finding;
use crate::judge::report::{self, AggregateSummary, Judging};
use crate::ports::chain;
use crate::ports::directory::{DirectoryError, IdentityDirectory};
use crate::ports::objects::{ObjectError, ObjectStore};
use crate::ports::scope::DomainScope;
use crate::ports::sink::{FindingSink, SinkError};
use crate::ports::state::{Claim, ReportKey, ReportLedger, StateError};
use crate::read::authres::ResultKeyword;
use crate::read::identity_state::CustomMailFrom;
use crate::read::observation::{self, Source};
use crate::read::report::{ExtractError, Extracted, Format, Limits, Report, extract, sniff};
use crate::read::stored_object::{ObjectEventError, StoredObject, stored_objects};
use crate::say::metrics::reports::ReportCounts;
use std::collections::BTreeSet;

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
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            analysis: Settings::default(),
            unknown_source_threshold: 10,
            limits: Limits::default(),
            require_authentication: false,
        }
    }
}

/// What a report is judged against besides its own rows.
#[derive(Debug, Clone, Default)]
pub struct ReportContext {
    /// The custom MAIL FROM of the identity covering the policy domain.
    pub custom: Option<CustomMailFrom>,
    /// Whether the mail it came in passed DMARC (`None`: nothing to judge that by).
    pub authentic: Option<bool>,
    /// The sources seen sending as the domain before; `None` without history.
    pub known_sources: Option<BTreeSet<String>>,
}

/// One report, judged.
#[derive(Debug)]
pub struct Judged {
    /// An aggregate report's rows are in `summary`, each beside what it means.
    pub report: Report,
    /// For a DMARC aggregate report.
    pub summary: Option<AggregateSummary>,
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
    let extracted = extract(bytes, settings.limits);
    let authentic = authenticity(&extracted, settings);
    let reports = extracted
        .reports
        .into_iter()
        .map(|report| {
            let context = ReportContext {
                custom: report_domain(&report).and_then(|d| settings.analysis.expected.covering(d)),
                authentic,
                known_sources: None,
            };
            judge(report, &context, settings)
        })
        .collect();
    ReportsOutcome {
        reports,
        errors: extracted.errors,
        notes: extracted.notes,
    }
}

/// Reads and judges `bytes` when they are reports (for `analyze`, which takes SES's events,
/// messages and reports alike): XML, gzip or zip, a JSON document shaped like a TLS report,
/// or an e-mail that carries one. `None` for anything else.
pub fn run_if_reports(bytes: &[u8], settings: &ReportSettings) -> Option<ReportsOutcome> {
    let is_report = match sniff(bytes) {
        Format::Gzip | Format::Zip | Format::Xml => true,
        // SES's events are JSON too: a TLS report names its organization and policies.
        Format::Json => {
            contains(bytes, b"\"organization-name\"") && contains(bytes, b"\"policies\"")
        }
        Format::Email => {
            let outcome = run(bytes, settings);
            return (!outcome.reports.is_empty()).then_some(outcome);
        }
        Format::Unrecognized => false,
    };
    is_report.then(|| run(bytes, settings))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether the mail the reports in `extracted` came in passed DMARC, by the trusted
/// `Authentication-Results` (RFC 9990 §2: reports are accepted only from mail that does).
/// Reports that came as files, not mail: `None`. Mail without a trusted header: `None`,
/// or not authentic when the settings require authentication.
pub fn authenticity(extracted: &Extracted, settings: &ReportSettings) -> Option<bool> {
    let headers = extracted.carrier.as_deref()?;
    let trusted = settings.analysis.trusted_ids();
    let observed = observation::from_headers(headers, Source::Report, trusted);
    if observed.trusted_results {
        Some(observed.reported_dmarc == Some(ResultKeyword::Pass))
    } else {
        settings.require_authentication.then_some(false)
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

/// Judges one report in its context.
pub fn judge(mut report: Report, context: &ReportContext, settings: &ReportSettings) -> Judged {
    match &mut report {
        Report::Aggregate(aggregate) => {
            let custom = context.custom.as_ref();
            // The rows move into the summary's sources.
            let summary = report::summarize(aggregate, custom.map(|c| c.mail_from.as_str()));
            let domain = aggregate.policy.domain.as_deref();
            let judging = Judging {
                custom,
                unknown_source_threshold: settings.unknown_source_threshold,
                authentic: context.authentic,
                known_sources: context.known_sources.as_ref(),
            };
            let findings = report::aggregate_findings(aggregate, &summary, judging)
                .into_iter()
                .map(|facts| Finding::new(facts, domain, Source::Report))
                .collect();
            Judged {
                report,
                summary: Some(summary),
                findings,
            }
        }
        Report::TlsRpt(tls) => {
            // RFC 8460 asks a TLS report's mail for a DKIM signature, not for a DMARC pass;
            // its failures are a warning either way.
            let domain = tls.domains().first().map(|d| (*d).to_owned());
            let findings = report::tls_findings(tls)
                .into_iter()
                .map(|facts| Finding::new(facts, domain.as_deref(), Source::Report))
                .collect();
            Judged {
                report,
                summary: None,
                findings,
            }
        }
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
    /// The object holds no readable report, or some documents in it could not be read.
    #[error("{object}: {cause}")]
    Unreadable { object: StoredObject, cause: String },
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
}

impl Failure for ReportsError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Event(_) | Self::Unreadable { .. } => false,
            Self::Object(error) => error.is_transient(),
            Self::Directory { source, .. } => source.is_transient(),
            Self::Sink { .. } => true,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Event(_) => "PoisonEvent",
            Self::Object(error) if error.is_transient() => "ObjectReadFailed",
            Self::Object(_) => "ObjectUnavailable",
            Self::Unreadable { .. } => "ReportUnreadable",
            Self::Directory { .. } => "IdentityLookupFailed",
            Self::Sink { .. } => "AlertDeliveryFailed",
        }
    }
}

/// What the reports handler reaches the world through.
#[derive(Debug)]
pub struct ReportPorts<'a, O, L, D, Sc, S> {
    pub objects: &'a O,
    pub ledger: &'a L,
    pub directory: &'a D,
    pub scope: &'a Sc,
    pub sink: &'a S,
}

// By hand: derived, they would ask the ports themselves to be `Copy`.
impl<O, L, D, Sc, S> Clone for ReportPorts<'_, O, L, D, Sc, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O, L, D, Sc, S> Copy for ReportPorts<'_, O, L, D, Sc, S> {}

/// One invocation: what it counted, and how it ended (the first failure, after every
/// object was tried).
#[derive(Debug)]
pub struct ReportsInvocation {
    pub counts: ReportCounts,
    pub result: Result<(), ReportsError>,
}

/// Handles one S3 event at `now` (Unix seconds).
pub async fn reports<O, L, D, Sc, S>(
    event: &[u8],
    ports: ReportPorts<'_, O, L, D, Sc, S>,
    settings: &ReportSettings,
    now: u64,
) -> ReportsInvocation
where
    O: ObjectStore,
    L: ReportLedger,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
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
        if let Err(error) = one_object(&object, ports, settings, now, &mut counts).await {
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

async fn one_object<O, L, D, Sc, S>(
    object: &StoredObject,
    ports: ReportPorts<'_, O, L, D, Sc, S>,
    settings: &ReportSettings,
    now: u64,
    counts: &mut ReportCounts,
) -> Result<(), ReportsError>
where
    O: ObjectStore,
    L: ReportLedger,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
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
    let extracted = extract(&bytes, settings.limits);
    drop(bytes);
    let unreadable = |cause: String| ReportsError::Unreadable {
        object: object.clone(),
        cause,
    };
    if extracted.reports.is_empty() {
        counts.unreadable += 1;
        let cause = extracted
            .errors
            .first()
            .map_or_else(|| "no report in it".to_owned(), |error| chain(error));
        return Err(unreadable(cause));
    }
    let authentic = authenticity(&extracted, settings);
    let mut first = None;
    for report in extracted.reports {
        if let Err(error) =
            one_report(report, authentic, object, ports, settings, now, counts).await
        {
            first.get_or_insert(error);
        }
    }
    // The reports that could be read are counted; the object still goes to the failure
    // destination for the documents that could not (their retry counts the others once).
    if let Some(error) = extracted.errors.first() {
        counts.unreadable += extracted.errors.len() as u64;
        first.get_or_insert(unreadable(format!(
            "{} document(s) could not be read, the first: {}",
            extracted.errors.len(),
            chain(error)
        )));
    }
    first.map_or(Ok(()), Err)
}

fn state_error(counts: &mut ReportCounts, what: &str, error: &StateError) {
    counts.state_errors += 1;
    tracing::warn!(error = %chain(error), "{what}: going on without the state table");
}

async fn one_report<O, L, D, Sc, S>(
    report: Report,
    authentic: Option<bool>,
    object: &StoredObject,
    ports: ReportPorts<'_, O, L, D, Sc, S>,
    settings: &ReportSettings,
    now: u64,
    counts: &mut ReportCounts,
) -> Result<(), ReportsError>
where
    L: ReportLedger,
    D: IdentityDirectory,
    Sc: DomainScope,
    S: FindingSink,
{
    let key = report_key(&report);
    if let Some(key) = &key {
        match ports.ledger.claim(key, now).await {
            Ok(Claim::New) => {}
            Ok(Claim::Seen) => {
                counts.duplicate += 1;
                tracing::info!(report = %key, "counted before; not again");
                return Ok(());
            }
            Err(error) => state_error(counts, "claiming a report", &error),
        }
    } else {
        tracing::warn!(object = %object, "a report without an id or domain: judged, not de-duplicated");
    }
    let domain = report_domain(&report).map(str::to_owned);
    let release = async |counts: &mut ReportCounts| {
        if let Some(key) = &key
            && let Err(error) = ports.ledger.release(key).await
        {
            state_error(counts, "giving a claim back", &error);
        }
    };
    let custom = match &domain {
        None => None,
        Some(domain) => {
            match mail_from_of(domain, ports.directory, &settings.analysis.expected).await {
                Ok(custom) => custom,
                Err(error) if error.is_transient() => {
                    release(counts).await;
                    return Err(ReportsError::Directory {
                        object: object.clone(),
                        domain: domain.clone(),
                        source: error,
                    });
                }
                Err(error) => {
                    tracing::warn!(domain = %domain, error = %error, "MAIL FROM configuration unknown");
                    None
                }
            }
        }
    };
    // Only reports whose mail passed DMARC feed or read the history: a forged report must
    // not make a stranger's server "known".
    let believed = authentic != Some(false);
    let history = match (&report, &domain) {
        (Report::Aggregate(_), Some(domain)) if believed => {
            match ports.ledger.known_sources(domain).await {
                Ok(known) => known,
                Err(error) => {
                    state_error(counts, "reading the known sources", &error);
                    None
                }
            }
        }
        _ => None,
    };
    let context = ReportContext {
        custom,
        authentic,
        known_sources: history,
    };
    let judged = judge(report, &context, settings);
    let monitored = domain.as_deref().filter(|d| ports.scope.contains(d));
    let findings: Vec<Finding> = if monitored.is_some() {
        judged.findings
    } else {
        Vec::new()
    };
    if let Err(source) = ports.sink.publish(&findings).await {
        release(counts).await;
        return Err(ReportsError::Sink {
            object: object.clone(),
            source,
        });
    }
    counts.findings(&findings);
    match (&judged.report, &judged.summary) {
        (Report::Aggregate(_), Some(summary)) => {
            counts.aggregate(monitored, summary, believed);
            if believed && let Some(domain) = &domain {
                let ips: Vec<String> = summary
                    .sources
                    .iter()
                    .filter_map(|s| s.ip.clone())
                    .collect();
                if let Err(error) = ports.ledger.remember_sources(domain, &ips, now).await {
                    state_error(counts, "remembering the sources", &error);
                }
            }
        }
        (Report::TlsRpt(tls), _) => counts.tls(tls.failed()),
        (Report::Aggregate(_), None) => {}
    }
    tracing::info!(
        object = %object,
        report = key.as_ref().map(ToString::to_string),
        domain = domain.as_deref(),
        monitored = monitored.is_some(),
        findings = findings.len(),
        "report counted"
    );
    if let Some(key) = &key
        && let Err(error) = ports.ledger.complete(key).await
    {
        state_error(counts, "completing a claim", &error);
    }
    Ok(())
}
