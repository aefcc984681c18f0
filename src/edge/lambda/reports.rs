//! The reports function's handler: each stored message an S3 event announces is read, every
//! report in it extracted and judged (`crate::reports`), counted once across retries and
//! re-sent copies (the state table's claims), and its findings published.
//!
//! Nothing is lost. An object that cannot be read, or holds no report, fails the invocation
//! with its key and cause, so Lambda's retries and then the failure destination keep the
//! event; the object itself is never deleted here (the bucket's lifecycle expires it). A
//! report whose findings could not be delivered gives its claim back, so the retry counts
//! it. Without the state table (unreachable, or not configured) reports are judged as the
//! CLI judges them, and may count twice: duplicates are better than silence.

use crate::pipeline::mail_from_of;
use crate::ports::chain;
use crate::ports::directory::{DirectoryError, IdentityDirectory};
use crate::ports::objects::{ObjectError, ObjectStore};
use crate::ports::scope::DomainScope;
use crate::ports::sink::{FindingSink, SinkError};
use crate::ports::state::{Claim, ReportLedger, StateError};
use crate::read::report::{Report, extract};
use crate::read::stored_object::{ObjectEventError, StoredObject, stored_objects};
use crate::reports::{self, ReportContext, ReportSettings, report_domain, report_key};
use crate::say::findings::Finding;
use crate::say::metrics::reports::ReportCounts;
use lambda_runtime::Diagnostic;

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

impl ReportsError {
    /// Whether retrying the same event can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Event(_) | Self::Unreadable { .. } => false,
            Self::Object(error) => error.is_transient(),
            Self::Directory { source, .. } => source.is_transient(),
            Self::Sink { .. } => true,
        }
    }

    fn kind(&self) -> &'static str {
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

/// What the failure destination receives: whether a retry helps, and every cause.
impl From<ReportsError> for Diagnostic {
    fn from(error: ReportsError) -> Self {
        Diagnostic {
            error_type: error.kind().to_owned(),
            error_message: chain(&error),
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
    let authentic = reports::authenticity(&extracted, settings);
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
            match mail_from_of(domain, ports.directory, &settings.pipeline.expected).await {
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
    let judged = reports::judge(report, &context, settings);
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
