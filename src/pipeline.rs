//! One input through the whole path: recognize, then for a received message observe → gather
//! facts → analyze, and for a feedback notification summarize → look up the identity → judge.
//! Shared by the Lambdas and the CLI, so all say the same thing about the same event.

use crate::judge::feedback::{self, FeedbackSummary};
use crate::judge::received::{Analysis, IdentityHints, OrgSource, analyze};
use crate::ports::directory::{self, IdentityDirectory};
use crate::ports::facts::FactSource;
use crate::read::domain::OrgDomains as _;
use crate::read::input::{self, InputError, Item};
use crate::read::observation::{self, Observation, Source};
use crate::say::findings::Finding;
use serde::Serialize;

/// Configuration of the analysis, read once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Authserv-ids whose `Authentication-Results` are believed (default `amazonses.com`),
    /// normalized once here rather than for every header.
    trusted_ids: Vec<String>,
    pub hints: IdentityHints,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            trusted_ids: vec!["amazonses.com".to_owned()],
            hints: IdentityHints::default(),
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

/// What became of one record of an input.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RecordOutcome {
    Analyzed {
        observation: Box<Observation>,
        analysis: Analysis,
        org_source: OrgSource,
    },
    /// A feedback notification, judged.
    Feedback {
        summary: Box<FeedbackSummary>,
        findings: Vec<Finding>,
    },
    /// Recognized, and nothing to analyze (non-SES SNS messages, subscription confirmations).
    Skipped { reason: String },
    /// This record could not be handled; the others still were. `transient` when trying
    /// again later may succeed (a throttled lookup), as opposed to a malformed record.
    Failed { error: String, transient: bool },
}

impl RecordOutcome {
    /// The findings of this record, whichever path produced them.
    pub fn findings(&self) -> &[Finding] {
        match self {
            Self::Analyzed { analysis, .. } => &analysis.findings,
            Self::Feedback { findings, .. } => findings,
            Self::Skipped { .. } | Self::Failed { .. } => &[],
        }
    }

    fn malformed(error: impl Into<String>) -> Self {
        Self::Failed {
            error: error.into(),
            transient: false,
        }
    }
}

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
    run_items(input::detect(bytes)?, ports, settings).await
}

async fn run_items<F: FactSource, D: IdentityDirectory>(
    items: Vec<Result<Item, InputError>>,
    ports: Ports<'_, F, D>,
    settings: &Settings,
) -> Result<Vec<RecordOutcome>, InputError> {
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        outcomes.push(match item {
            Ok(item) => run_item(item, ports, settings).await,
            Err(error) => RecordOutcome::malformed(error.to_string()),
        });
    }
    Ok(outcomes)
}

async fn run_feedback<D: IdentityDirectory>(
    notification: &crate::read::notification::Notification,
    directory: &D,
) -> RecordOutcome {
    let mut summary = feedback::summarize(notification);
    let state = match summary.identity_key() {
        Some(key) => match directory::governing_state(directory, key).await {
            Ok(state) => state,
            Err(error) if error.is_transient() => {
                return RecordOutcome::Failed {
                    error: error.to_string(),
                    transient: true,
                };
            }
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

/// The configured MAIL FROM domains of the identities behind the From domains, from the
/// directory (the domain itself or a parent, up to its organizational domain), added to the
/// configured hints. `None` when the directory adds nothing. Only a transient lookup failure
/// is an error: without the identity's state a fallback could go unnoticed, so the record is
/// retried rather than judged blind.
async fn identity_hints<D: IdentityDirectory>(
    observation: &mut Observation,
    directory: &D,
    configured: &IdentityHints,
) -> Result<Option<IdentityHints>, directory::DirectoryError> {
    let mut added = None::<IdentityHints>;
    for author in &observation.header_from {
        if configured.custom_mail_from(author).is_some() {
            continue;
        }
        let org = crate::read::domain::PublicSuffixList.organizational_domain(author);
        let mut candidate = author.as_str();
        loop {
            match directory.lookup(candidate).await {
                Ok(Some(state)) => {
                    if let Some(mail_from) = state.mail_from_domain() {
                        added
                            .get_or_insert_with(|| configured.clone())
                            .mail_from
                            .insert(candidate.to_owned(), mail_from.to_ascii_lowercase());
                    }
                    break;
                }
                Ok(None) => {}
                Err(error) if error.is_transient() => return Err(error),
                Err(error) => {
                    observation
                        .notes
                        .push(format!("{error}; MAIL FROM configuration unknown"));
                    break;
                }
            }
            match candidate.split_once('.') {
                Some((_, parent)) if candidate != org && parent.contains('.') => candidate = parent,
                _ => break,
            }
        }
    }
    Ok(added)
}

async fn run_item<F: FactSource, D: IdentityDirectory>(
    item: Item,
    ports: Ports<'_, F, D>,
    settings: &Settings,
) -> RecordOutcome {
    let facts = ports.facts;
    let (mut observation, raw) = match item {
        Item::Received { message, source } => {
            let mut raw = None;
            let mut note = None;
            match input::decode_content(&message) {
                Some(Ok(bytes)) => raw = Some(bytes),
                Some(Err(error)) => note = Some(format!("{error}; SES's header list used")),
                None => {}
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
                return RecordOutcome::malformed("the message has no header section");
            };
            let observation =
                observation::from_headers(&headers, Source::RawMessage, settings.trusted_ids());
            (observation, Some(raw))
        }
        Item::Feedback(notification) => {
            return run_feedback(&notification, ports.directory).await;
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
    if let Some(raw) = &raw {
        facts.reverify(raw, &mut observation).await;
    }
    let hints = match identity_hints(&mut observation, ports.directory, &settings.hints).await {
        Ok(hints) => hints,
        Err(error) => {
            return RecordOutcome::Failed {
                error: error.to_string(),
                transient: true,
            };
        }
    };
    let domain_facts = facts.facts(&mut observation).await;
    let analysis = analyze(
        &observation,
        &domain_facts,
        hints.as_ref().unwrap_or(&settings.hints),
    );
    RecordOutcome::Analyzed {
        observation: Box::new(observation),
        analysis,
        org_source: facts.org_source(),
    }
}
