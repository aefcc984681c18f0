//! One input through the whole receipt path: recognize → observe → gather facts → analyze.
//! Shared by the receipt Lambda and the CLI, so both say the same thing about the same event.

use crate::analyze::{Analysis, IdentityHints, OrgSource, analyze};
use crate::facts::FactSource;
use crate::input::{self, InputError, Item};
use crate::observation::{self, Observation, Source};
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
    /// Recognized, and not for this path (feedback notifications, non-SES SNS messages).
    Skipped { reason: String },
    /// This record could not be understood; the others still were.
    Failed { error: String },
}

/// Runs every record of one input. `Err` only when the input as a whole is unusable.
pub async fn run<F: FactSource>(
    bytes: &[u8],
    facts: &F,
    settings: &Settings,
) -> Result<Vec<RecordOutcome>, InputError> {
    run_items(input::detect(bytes)?, facts, settings).await
}

/// [`run`] for an event the Lambda runtime already deserialized: no second parse.
pub async fn run_value<F: FactSource>(
    event: serde_json::Value,
    facts: &F,
    settings: &Settings,
) -> Result<Vec<RecordOutcome>, InputError> {
    run_items(input::detect_value(event)?, facts, settings).await
}

async fn run_items<F: FactSource>(
    items: Vec<Result<Item, InputError>>,
    facts: &F,
    settings: &Settings,
) -> Result<Vec<RecordOutcome>, InputError> {
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        outcomes.push(match item {
            Ok(item) => run_item(item, facts, settings).await,
            Err(error) => RecordOutcome::Failed {
                error: error.to_string(),
            },
        });
    }
    Ok(outcomes)
}

async fn run_item<F: FactSource>(item: Item, facts: &F, settings: &Settings) -> RecordOutcome {
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
                return RecordOutcome::Failed {
                    error: "the message has no header section".into(),
                };
            };
            let observation =
                observation::from_headers(&headers, Source::RawMessage, settings.trusted_ids());
            (observation, Some(raw))
        }
        Item::Feedback { kind } => {
            return RecordOutcome::Skipped {
                reason: format!("an SES {kind} feedback notification, not a received message"),
            };
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
    let domain_facts = facts.facts(&mut observation).await;
    let analysis = analyze(&observation, &domain_facts, &settings.hints);
    RecordOutcome::Analyzed {
        observation: Box::new(observation),
        analysis,
        org_source: facts.org_source(),
    }
}
