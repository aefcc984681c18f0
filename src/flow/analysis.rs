//! One input through the whole path: recognize it (`read::input`), then for a received message
//! observe → re-verify → gather facts → judge, and for a feedback notification summarize →
//! look up the identity → judge. Shared by the Lambdas and the CLI, so all say the same thing
//! about the same event.
//!
//! A received message is first admitted ([`Inbound`]): mail from a domain that is not
//! monitored, and mail to the canary address that is not a recorded probe, are left before
//! any DNS or SESv2 lookup, so that a stranger's mail costs nothing and pages no one. A probe
//! is judged against its identity's state as well ([`crate::judge::canary`]).

use crate::judge::align::{OrgDomains as _, PublicSuffixList};
use crate::judge::canary::{self, ReceivedProbe};
use crate::judge::feedback::{self, FeedbackSummary};
use crate::judge::findings::{Evidence, Finding, Kind};
use crate::judge::received::{Analysis, OrgSource, analyze};
use crate::judge::reverify;
use crate::judge::service;
use crate::ports::directory::{self, DirectoryError, IdentityDirectory};
use crate::ports::facts::FactSource;
use crate::ports::probes::{NoProbes, ProbeBook};
use crate::ports::raw::{NoRawMessages, RawMessages};
use crate::ports::scope::{DomainScope, Everything};
use crate::ports::state::StateError;
use crate::read::domain::ancestors;
use crate::read::identity_state::{CustomMailFrom, MailFromExpectations};
use crate::read::input::{self, InputError, Item, RecordShapeError};
use crate::read::notification::Notification;
use crate::read::observation::{self, Observation, Source};
use crate::read::probe::{self, Probe};
use crate::read::receipt::ReceivedMessage;
use crate::read::service_event::ServiceEvent;
use crate::say::metrics::Counted;
use std::sync::Arc;

/// Configuration of the analysis, read once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Authserv-ids whose `Authentication-Results` are believed (default `amazonses.com`),
    /// normalized once here rather than for every header.
    trusted_ids: Vec<String>,
    /// The custom MAIL FROM domains the user states. Shared with the directory that serves
    /// them to the feedback path (`ports::directory::Expecting`): one set, not two.
    pub expected: Arc<MailFromExpectations>,
    /// The SNS topics records may come through; empty for any. A record from another topic
    /// is refused (poison): someone else's topic subscribed to the function.
    pub expected_topics: Vec<String>,
    /// The canary addresses (`CANARY_ADDRESS`), lower case: mail to them must be a recorded
    /// probe, and any other is counted and left.
    pub canary_addresses: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            trusted_ids: vec!["amazonses.com".to_owned()],
            expected: Arc::default(),
            expected_topics: Vec::new(),
            canary_addresses: Vec::new(),
        }
    }
}

impl Settings {
    /// Replaces the trusted authserv-ids; an empty list keeps the current ones.
    pub fn set_trusted_ids<S: AsRef<str>>(&mut self, ids: impl IntoIterator<Item = S>) {
        let ids: Vec<String> = ids
            .into_iter()
            .map(|id| observation::normalize_authserv_id(id.as_ref().trim()))
            .filter(|id| !id.is_empty())
            .collect();
        if !ids.is_empty() {
            self.trusted_ids = ids;
        }
    }

    pub fn trusted_ids(&self) -> &[String] {
        &self.trusted_ids
    }
}

/// Why one record could not be handled; the others still were.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Malformed: no retry can fix it. Logged, counted and acknowledged.
    #[error(transparent)]
    Poison(#[from] InputError),
    /// A lookup the judgement needs failed (throttled, an outage): a retry may succeed.
    #[error(transparent)]
    Transient(#[from] DirectoryError),
    /// The probes could not be read or written (the state table): a retry may succeed.
    #[error("canary probes: {0}")]
    State(#[from] StateError),
}

impl RecordError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_) | Self::State(_))
    }

    /// What went wrong, without the record's index: for reports that name the record already.
    pub fn reason(&self) -> String {
        match self {
            Self::Poison(InputError::Record { error, .. }) => error.to_string(),
            other => other.to_string(),
        }
    }
}

/// What became of one record of an input.
#[derive(Debug)]
pub enum RecordOutcome {
    Analyzed {
        observation: Box<Observation>,
        analysis: Analysis,
        org_source: OrgSource,
        /// When the message is a canary probe: the probe, and when SES received it.
        probe: Option<Box<ProbeArrival>>,
    },
    /// Mail to the canary address that is not a recorded probe (anyone can send there):
    /// counted and logged, never judged, never alerted on.
    NotAProbe {
        header_from: Vec<String>,
        message_id: Option<String>,
    },
    /// A feedback notification, judged.
    Feedback {
        summary: Box<FeedbackSummary>,
        findings: Vec<Finding>,
    },
    /// One of SES's service events, judged.
    Service {
        event: ServiceEvent,
        findings: Vec<Finding>,
    },
    /// Recognized, and nothing to analyze (non-SES SNS messages, subscription confirmations).
    Skipped {
        reason: String,
    },
    Failed(RecordError),
}

impl RecordOutcome {
    /// What the metrics count of this record.
    pub fn counted(&self) -> Counted<'_> {
        match self {
            Self::Analyzed { analysis, .. } => Counted::Message {
                evaluations: &analysis.evaluations,
                findings: &analysis.findings,
            },
            Self::Feedback { summary, findings } => Counted::Feedback {
                from_domain: summary.from_domains.first().map(String::as_str),
                unknown_values: summary.unknown_values.len(),
                findings,
            },
            Self::Service { findings, .. } => Counted::Other { findings },
            Self::NotAProbe { .. } | Self::Skipped { .. } => Counted::Other { findings: &[] },
            Self::Failed(error) if error.is_transient() => Counted::Retried,
            Self::Failed(_) => Counted::Malformed,
        }
    }

    /// The findings of this record, whichever path produced them.
    pub fn findings(&self) -> &[Finding] {
        match self {
            Self::Analyzed { analysis, .. } => &analysis.findings,
            Self::Feedback { findings, .. } | Self::Service { findings, .. } => findings,
            Self::NotAProbe { .. } | Self::Skipped { .. } | Self::Failed(_) => &[],
        }
    }
}

/// A received probe: as recorded when it was sent, and when SES received it (Unix seconds,
/// from the receipt event; `None` when the input does not say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeArrival {
    pub probe: Probe,
    pub received_at: Option<u64>,
    /// The kinds it was judged for against its identity's known state
    /// (`judge::canary::judged`): the only ones it can show over.
    pub judged: Vec<Kind>,
}

impl ProbeArrival {
    /// Seconds from sending to arrival, when the arrival time is known.
    pub fn latency(&self) -> Option<u64> {
        self.received_at
            .map(|at| at.saturating_sub(self.probe.sent))
    }
}

/// What a received message is admitted against before any lookup: the monitored domains
/// and the canary's probes; and where the receipt rule stored raw messages.
#[derive(Debug)]
pub struct Inbound<'a, R, P, Sc> {
    pub raw: &'a R,
    pub probes: &'a P,
    pub scope: &'a Sc,
}

// By hand, as for `Ports`: only references are copied.
impl<R, P, Sc> Clone for Inbound<'_, R, P, Sc> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R, P, Sc> Copy for Inbound<'_, R, P, Sc> {}

/// No stored messages, no probes, every domain: the CLI's and the feedback path's.
pub const EVERYTHING: Inbound<'static, NoRawMessages, NoProbes, Everything> = Inbound {
    raw: &NoRawMessages,
    probes: &NoProbes,
    scope: &Everything,
};

/// The ports a run reads facts through.
#[derive(Debug)]
pub struct Ports<'a, F, D> {
    pub facts: &'a F,
    pub directory: &'a D,
}

// By hand: derived impls would demand `F: Copy` and `D: Copy`, and only references are copied.
impl<F, D> Clone for Ports<'_, F, D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F, D> Copy for Ports<'_, F, D> {}

/// Runs every record of one input. `Err` only when the input as a whole is unusable.
pub async fn run<F: FactSource, D: IdentityDirectory>(
    bytes: &[u8],
    ports: Ports<'_, F, D>,
    settings: &Settings,
) -> Result<Vec<RecordOutcome>, InputError> {
    let outcomes = run_records(bytes, ports, settings).await?;
    Ok(outcomes.into_iter().map(|(_, outcome)| outcome).collect())
}

/// [`run`], each outcome beside the SQS message its record came in (for partial batch
/// failures; `None` outside SQS).
pub async fn run_records<F: FactSource, D: IdentityDirectory>(
    bytes: &[u8],
    ports: Ports<'_, F, D>,
    settings: &Settings,
) -> Result<Vec<(Option<String>, RecordOutcome)>, InputError> {
    run_records_with(bytes, ports, settings, EVERYTHING).await
}

/// [`run_records`], received messages admitted against `inbound` (see [`Inbound`]), and a
/// received message's raw content read from `inbound.raw` (the receipt rule's S3 action)
/// when the event does not carry it.
pub async fn run_records_with<F, D, R, P, Sc>(
    bytes: &[u8],
    ports: Ports<'_, F, D>,
    settings: &Settings,
    inbound: Inbound<'_, R, P, Sc>,
) -> Result<Vec<(Option<String>, RecordOutcome)>, InputError>
where
    F: FactSource,
    D: IdentityDirectory,
    R: RawMessages,
    P: ProbeBook,
    Sc: DomainScope,
{
    let records = input::detect(bytes)?;
    let mut outcomes = Vec::with_capacity(records.len());
    for (index, record) in records.into_iter().enumerate() {
        let outcome = match (record.item, unexpected_topic(record.topic_arn, settings)) {
            (Err(error), _) => RecordOutcome::Failed(error.into()),
            (Ok(_), Some(error)) => {
                RecordOutcome::Failed(InputError::Record { index, error }.into())
            }
            (Ok(item), None) => run_item(item, ports, settings, inbound).await,
        };
        outcomes.push((record.sqs_message_id, outcome));
    }
    Ok(outcomes)
}

/// Why a record's topic is refused, when it is.
fn unexpected_topic(topic: Option<String>, settings: &Settings) -> Option<RecordShapeError> {
    let topic = topic?;
    (!settings.expected_topics.is_empty() && !settings.expected_topics.contains(&topic))
        .then(|| RecordShapeError::UnexpectedTopic(topic, settings.expected_topics.join(", ")))
}

async fn run_item<F, D, R, P, Sc>(
    item: Item,
    ports: Ports<'_, F, D>,
    settings: &Settings,
    inbound: Inbound<'_, R, P, Sc>,
) -> RecordOutcome
where
    F: FactSource,
    D: IdentityDirectory,
    R: RawMessages,
    P: ProbeBook,
    Sc: DomainScope,
{
    let store = inbound.raw;
    let mut envelope = Envelope::default();
    let (mut observation, raw) = match item {
        Item::Received { message, source } => {
            envelope = Envelope::of(&message);
            let mut raw = None;
            let mut note = None;
            match input::decode_content(&message) {
                Some(Ok(bytes)) => raw = Some(bytes),
                Some(Err(error)) => note = Some(format!("{error}; SES's header list used")),
                // Not in the event: the S3 action may have stored it.
                None => {
                    if let Some(id) = message.mail.message_id.as_deref() {
                        match store.fetch(id).await {
                            Ok(stored) => raw = stored,
                            Err(error) => note = Some(format!("{error}; SES's header list used")),
                        }
                    }
                }
            }
            let content_headers = raw.as_deref().and_then(input::raw_headers);
            if raw.is_some() && content_headers.is_none() {
                note = Some("content has no header section; SES's header list used".into());
            }
            let mut observation = observation::from_received(
                &message,
                source,
                content_headers.as_deref(),
                settings.trusted_ids(),
            );
            observation.notes.extend(note);
            (observation, raw.filter(|_| content_headers.is_some()))
        }
        Item::Raw(raw) => {
            let Some(headers) = input::raw_headers(&raw) else {
                return RecordOutcome::Failed(InputError::NoHeaderSection.into());
            };
            let observation =
                observation::from_headers(&headers, Source::RawMessage, settings.trusted_ids());
            (observation, Some(raw))
        }
        Item::Feedback(notification) => {
            return run_feedback(&notification, ports.directory).await;
        }
        Item::Service(event) => {
            let findings = service::findings(&event);
            return RecordOutcome::Service { event, findings };
        }
        Item::NotSes { what } => {
            return RecordOutcome::Skipped {
                reason: format!("{what}, not an SES notification"),
            };
        }
    };
    if observation.header_from.is_empty() {
        observation
            .notes
            .push("no From address found; alignment cannot be judged".into());
    }
    let probe = match admit(&observation, &envelope, settings, inbound).await {
        Ok(Admission::Judge(probe)) => probe,
        Ok(Admission::Leave(outcome)) => return outcome,
        Err(error) => return RecordOutcome::Failed(error.into()),
    };
    if let Some(raw) = &raw {
        let found = ports.facts.reverify(raw, &observation).await;
        reverify::apply(&mut observation, found);
    }
    let custom = match custom_mail_from(&mut observation, ports.directory, &settings.expected).await
    {
        Ok(custom) => custom,
        Err(error) => return RecordOutcome::Failed(error.into()),
    };
    let domain_facts = ports.facts.facts(&mut observation).await;
    let mut analysis = analyze(&observation, &domain_facts, &custom);
    let probe = match probe {
        Some(probe) => {
            let judged =
                match judge_probe(&probe, &observation, &mut analysis, ports.directory).await {
                    Ok(judged) => judged,
                    Err(error) => return RecordOutcome::Failed(error.into()),
                };
            Some(Box::new(ProbeArrival {
                probe,
                received_at: envelope.received_at,
                judged,
            }))
        }
        None => None,
    };
    RecordOutcome::Analyzed {
        observation: Box::new(observation),
        analysis,
        org_source: ports.facts.org_source(),
        probe,
    }
}

/// What SES's receipt event says beside the headers: to whom, and when it arrived.
#[derive(Debug, Default)]
struct Envelope {
    recipients: Vec<String>,
    received_at: Option<u64>,
}

impl Envelope {
    fn of(message: &ReceivedMessage) -> Self {
        Self {
            recipients: message
                .receipt
                .recipients
                .iter()
                .map(|r| r.trim().to_ascii_lowercase())
                .collect(),
            received_at: message
                .mail
                .timestamp
                .as_deref()
                .and_then(mail_parser::DateTime::parse_rfc3339)
                .and_then(|t| u64::try_from(t.to_timestamp()).ok()),
        }
    }
}

/// Whether a received message is judged (and whether as a probe), or left as it is.
#[derive(Debug)]
enum Admission {
    Judge(Option<Probe>),
    Leave(RecordOutcome),
}

/// Admits a received message before any lookup: a message from no monitored domain is
/// skipped; a recorded probe is judged as one; other mail to a canary address is left.
async fn admit<R, P: ProbeBook, Sc: DomainScope>(
    observation: &Observation,
    envelope: &Envelope,
    settings: &Settings,
    inbound: Inbound<'_, R, P, Sc>,
) -> Result<Admission, StateError> {
    let from = &observation.header_from;
    let to_canary = envelope
        .recipients
        .iter()
        .any(|r| settings.canary_addresses.contains(r));
    let not_a_probe = || {
        Admission::Leave(RecordOutcome::NotAProbe {
            header_from: from.clone(),
            message_id: observation.header_message_id.clone(),
        })
    };
    if !from.is_empty() && !from.iter().any(|d| inbound.scope.contains(d)) {
        // A stranger's mail to the canary address still counts as such.
        return Ok(if to_canary {
            not_a_probe()
        } else {
            Admission::Leave(RecordOutcome::Skipped {
                reason: format!("from {}, not a monitored domain", from.join(", ")),
            })
        });
    }
    // Probes go to the canary address; without one (offline, a probe file), any message
    // may be one.
    let may_be_a_probe = to_canary || settings.canary_addresses.is_empty();
    let ses_id = observation
        .header_message_id
        .as_deref()
        .and_then(probe::ses_message_id)
        .filter(|_| may_be_a_probe);
    let found = match (from.first(), ses_id) {
        (Some(identity), Some(id)) => match inbound.probes.find(identity, id).await {
            Ok(found) => found,
            // Mail to the canary address cannot be told from a stranger's without the
            // table: retried. Other mail is judged as it is.
            Err(error) if to_canary => return Err(error),
            Err(error) => {
                tracing::warn!(error = %error, "probes could not be read; judged as ordinary mail");
                None
            }
        },
        _ => None,
    };
    Ok(match found {
        Some(probe) => Admission::Judge(Some(probe)),
        None if to_canary => not_a_probe(),
        None => Admission::Judge(None),
    })
}

/// Judges a probe against its identity's state: the analysis's findings of the kinds the
/// state decides ([`canary::OWNED`]) are replaced by the probe's. Only a transient lookup
/// failure is an error.
async fn judge_probe<D: IdentityDirectory>(
    probe: &Probe,
    observation: &Observation,
    analysis: &mut Analysis,
    directory: &D,
) -> Result<Vec<Kind>, DirectoryError> {
    let Some(evaluation) = analysis
        .evaluations
        .iter()
        .find(|e| e.header_from == probe.identity)
        .cloned()
    else {
        return Ok(Vec::new());
    };
    let state = match directory::governing_state(directory, &probe.identity).await {
        Ok(state) => state.map(|(_, state)| state),
        Err(error) if error.is_transient() => return Err(error),
        Err(_) => None,
    };
    let received = ReceivedProbe {
        identity: &probe.identity,
        state: state.as_deref(),
        envelope: observation.mail_from.as_ref(),
        evaluation: &evaluation,
        region: None,
    };
    let facts = canary::judge(received);
    let judged = canary::judged(received);
    let author = Some(probe.identity.as_str());
    let evidence = analysis
        .findings
        .iter()
        .filter(|f| f.domain.as_deref() == author)
        .find_map(|f| f.evidence.clone())
        .unwrap_or_else(|| {
            Arc::new(Evidence::Received {
                evaluation: Arc::clone(&evaluation),
                envelope: observation.mail_from.clone(),
                ses: observation.ses.clone(),
                custom: None,
            })
        });
    analysis
        .findings
        .retain(|f| f.domain.as_deref() != author || !canary::OWNED.contains(&f.kind()));
    let id = observation.message_id.as_deref();
    analysis.findings.extend(facts.into_iter().map(|facts| {
        Finding::new(facts, author, observation.source)
            .about(id)
            .with_evidence(&evidence)
    }));
    Ok(judged)
}

async fn run_feedback<D: IdentityDirectory>(
    notification: &Notification,
    directory: &D,
) -> RecordOutcome {
    let mut summary = feedback::summarize(notification);
    let state = match summary.identity_key() {
        Some(key) => match directory::governing_state(directory, key).await {
            Ok(state) => state,
            Err(error) if error.is_transient() => return RecordOutcome::Failed(error.into()),
            Err(error) => {
                summary
                    .notes
                    .push(format!("{error}; MAIL FROM state unknown"));
                None
            }
        },
        None => None,
    };
    let findings = feedback::findings(
        notification,
        &summary,
        state
            .as_ref()
            .map(|(name, state)| (name.as_str(), state.as_ref())),
    );
    RecordOutcome::Feedback {
        summary: Box::new(summary),
        findings,
    }
}

/// For each From domain, the custom MAIL FROM domain of the identity behind it (see
/// [`mail_from_of`]). Only a transient lookup failure is an error: without the identity's
/// state a fallback could go unnoticed, so the record is retried rather than judged blind.
async fn custom_mail_from<D: IdentityDirectory>(
    observation: &mut Observation,
    directory: &D,
    expected: &MailFromExpectations,
) -> Result<Vec<Option<CustomMailFrom>>, DirectoryError> {
    let mut custom = Vec::with_capacity(observation.header_from.len());
    for author in &observation.header_from {
        match mail_from_of(author, directory, expected).await {
            Ok(found) => custom.push(found),
            Err(error) if error.is_transient() => return Err(error),
            Err(error) => {
                observation
                    .notes
                    .push(format!("{error}; MAIL FROM configuration unknown"));
                custom.push(None);
            }
        }
    }
    Ok(custom)
}

/// The custom MAIL FROM domain of the identity behind `domain`: as the user stated it, else
/// as the directory says (the domain itself or a parent, up to its organizational domain;
/// never a bare public suffix). `Ok(None)`: no identity, or one without a custom MAIL FROM.
pub async fn mail_from_of<D: IdentityDirectory>(
    domain: &str,
    directory: &D,
    expected: &MailFromExpectations,
) -> Result<Option<CustomMailFrom>, DirectoryError> {
    if let Some(stated) = expected.covering(domain) {
        return Ok(Some(stated));
    }
    let org = PublicSuffixList.organizational_domain(domain);
    let candidates = ancestors(domain)
        .enumerate()
        .take_while(|(depth, candidate)| {
            *depth == 0 || (candidate.contains('.') && candidate.len() >= org.len())
        });
    for (_, candidate) in candidates {
        if let Some(state) = directory.lookup(candidate).await? {
            return Ok(state.mail_from_domain().map(|mail_from| CustomMailFrom {
                identity: candidate.to_owned(),
                mail_from: mail_from.to_ascii_lowercase(),
            }));
        }
    }
    Ok(None)
}
