//! Incidents across every container and retry: [`judge::incident`] decides each step,
//! [`IncidentBook`] keeps the state, and a step's message is sent only by the caller whose
//! conditional write succeeded. Used by the alerting flow (`flow::alerting`).
//!
//! A write lost to another container is read again and the step redone, a few times; a
//! message that could not be sent is taken back ([`Incidents::undo`]), so that the next
//! occurrence (or the retry) sends it. Errors go to the caller, which alerts anyway: a
//! duplicate is better than silence.
//!
//! [`judge::incident`]: crate::judge::incident

use crate::judge::findings::{Finding, Severity};
use crate::judge::incident::{self, Incident, IncidentKey, Notice, Timing};
use crate::ports::incidents::IncidentBook;
use crate::ports::state::StateError;
use crate::say::explain::Detail as _;

/// How often a step is redone after another writer came first.
const ATTEMPTS: usize = 8;

/// A message to send: the step's notice and the incident after it, and how to take the step
/// back if the message cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub key: IncidentKey,
    pub notice: Notice,
    pub incident: Incident,
    before: Option<Incident>,
    version: u64,
}

/// The incidents, in a book.
#[derive(Debug)]
pub struct Incidents<B> {
    pub book: B,
    pub timing: Timing,
}

impl<B: IncidentBook> Incidents<B> {
    /// `finding` seen at `now`, paging at `severity` (its own, or raised by its
    /// consequences: `judge::cause`): the message to send, if this caller is to send one.
    pub async fn seen(
        &self,
        finding: &Finding,
        severity: Severity,
        now: u64,
    ) -> Result<Option<Step>, StateError> {
        let key = IncidentKey::of(finding);
        // Kept in the table and quoted in reminders: bounded, as alerts are.
        let detail = crate::say::alert::sanitize(&finding.detail(), 2_000);
        self.step(key, |current| {
            Some(incident::seen(
                current,
                (&detail, severity),
                now,
                self.timing,
            ))
        })
        .await
    }

    /// Evidence at `now` that `key`'s condition is gone (`by`, in a few words): the
    /// "resolved" message, if the incident was open and this caller closed it.
    pub async fn cleared(
        &self,
        key: IncidentKey,
        by: &str,
        now: u64,
    ) -> Result<Option<Step>, StateError> {
        self.step(key, |current| {
            incident::cleared(current, by, now).map(|(next, notice)| (next, Some(notice)))
        })
        .await
    }

    /// The open incidents at `now`: those of kinds no evidence clears that were quiet for
    /// the quiet period are resolved, the others reminded of when their last message is
    /// `remind_every` old. The messages to send.
    pub async fn sweep(&self, now: u64) -> Result<Vec<Step>, StateError> {
        let due = |key: &IncidentKey, current: &Incident| {
            incident::quiet(key, current, now, self.timing)
                .or_else(|| incident::remind(current, now, self.timing))
        };
        let mut steps = Vec::new();
        for (key, stored) in self.book.open_incidents().await? {
            if due(&key, &stored.incident).is_none() {
                continue;
            }
            let step = self
                .step(key.clone(), |current| {
                    current
                        .and_then(|c| due(&key, c))
                        .map(|(next, notice)| (next, Some(notice)))
                })
                .await?;
            steps.extend(step);
        }
        Ok(steps)
    }

    /// Takes back a step whose message could not be sent, so that it is sent again: a new
    /// incident is closed again (the next finding reopens it), a reminder or a resolution is
    /// undone. `Ok(false)`: another writer came first, and will send its own message.
    pub async fn undo(&self, step: &Step) -> Result<bool, StateError> {
        let restored = match (&step.notice, &step.before) {
            (Notice::New, before) => {
                let mut closed = before.clone().unwrap_or_else(|| step.incident.clone());
                closed.resolved = Some(closed.resolved.unwrap_or(step.incident.opened));
                closed
            }
            (_, Some(before)) => before.clone(),
            (_, None) => return Ok(false),
        };
        self.book
            .store(&step.key, &restored, Some(step.version))
            .await
    }

    /// Reads `key`, applies `decide` to its incident, and writes the result if nobody wrote
    /// in between; again when someone did. `decide` gives the next incident and the message
    /// it calls for, or `None` when there is nothing to write.
    async fn step(
        &self,
        key: IncidentKey,
        decide: impl Fn(Option<&Incident>) -> Option<(Incident, Option<Notice>)>,
    ) -> Result<Option<Step>, StateError> {
        for _ in 0..ATTEMPTS {
            let stored = self.book.load(&key).await?;
            let read = stored.as_ref().map(|s| s.version);
            let before = stored.map(|s| s.incident);
            let Some((next, notice)) = decide(before.as_ref()) else {
                return Ok(None);
            };
            if self.book.store(&key, &next, read).await? {
                return Ok(notice.map(|notice| Step {
                    key: key.clone(),
                    notice,
                    incident: next,
                    before,
                    version: read.map_or(1, |v| v + 1),
                }));
            }
        }
        Err(StateError {
            source: format!(
                "incident {} was written by others {ATTEMPTS} times in a row",
                key.id()
            )
            .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::findings::{Facts, Kind};
    use crate::judge::incident::Resolution;
    use crate::ports::incidents::{MemoryIncidents, Stored};
    use crate::read::identity_state::CustomMailFrom;
    use crate::read::observation::{EnvelopeOrigin, EnvelopeSender, Source};
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::sync::Barrier;

    const T0: u64 = 1_796_000_000;

    fn fallback() -> Finding {
        Finding::new(
            Facts::MailFromFallback {
                envelope: EnvelopeSender {
                    domain: "us-east-1.amazonses.com".into(),
                    origin: EnvelopeOrigin::SesSource,
                },
                custom: CustomMailFrom {
                    identity: "example.com".into(),
                    mail_from: "mail.example.com".into(),
                },
            },
            Some("example.com"),
            Source::ReceiptLambda,
        )
    }

    fn incidents<B>(book: B) -> Incidents<B> {
        Incidents {
            book,
            timing: Timing::default(),
        }
    }

    /// Both loads happen before either store, as two containers at once.
    struct AtOnce {
        inner: MemoryIncidents,
        barrier: Barrier,
        first_round: AtomicBool,
    }

    impl IncidentBook for AtOnce {
        async fn load(&self, key: &IncidentKey) -> Result<Option<Stored>, StateError> {
            let loaded = self.inner.load(key).await;
            if self.first_round.load(Ordering::SeqCst) {
                self.barrier.wait().await;
                self.first_round.store(false, Ordering::SeqCst);
            }
            loaded
        }
        async fn store(
            &self,
            key: &IncidentKey,
            next: &Incident,
            read: Option<u64>,
        ) -> Result<bool, StateError> {
            self.inner.store(key, next, read).await
        }
        async fn open_incidents(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError> {
            self.inner.open_incidents().await
        }
    }

    #[tokio::test]
    async fn of_two_writers_racing_to_open_exactly_one_sends() {
        let book = AtOnce {
            inner: MemoryIncidents::default(),
            barrier: Barrier::new(2),
            first_round: AtomicBool::new(true),
        };
        let incidents = incidents(book);
        let finding = fallback();
        let (a, b) = tokio::join!(
            incidents.seen(&finding, finding.severity(), T0),
            incidents.seen(&finding, finding.severity(), T0)
        );
        let notices: Vec<Notice> = [a, b]
            .into_iter()
            .filter_map(|r| r.ok().flatten())
            .map(|s| s.notice)
            .collect();
        assert_eq!(notices, [Notice::New]);
        // The loser counted its finding in the incident the winner opened.
        let stored = incidents
            .book
            .inner
            .load(&IncidentKey::of(&finding))
            .await
            .ok()
            .flatten()
            .map(|s| (s.incident.count, s.version));
        assert_eq!(stored, Some((2, 2)));
    }

    #[tokio::test]
    async fn an_incident_opens_counts_reminds_and_resolves_once() {
        let incidents = incidents(MemoryIncidents::default());
        let finding = fallback();
        let state =
            |step: Result<Option<Step>, StateError>| step.ok().flatten().map(|s| s.notice.state());
        assert_eq!(
            state(incidents.seen(&finding, finding.severity(), T0).await),
            Some("new")
        );
        assert_eq!(
            state(incidents.seen(&finding, finding.severity(), T0 + 60).await),
            None
        );
        assert_eq!(
            state(
                incidents
                    .seen(&finding, finding.severity(), T0 + 6 * 3600)
                    .await
            ),
            Some("open")
        );
        let key = IncidentKey::of(&finding);
        let resolved = incidents
            .cleared(key.clone(), "a canary probe passed", T0 + 7 * 3600)
            .await
            .ok()
            .flatten();
        assert_eq!(
            resolved.map(|s| s.notice),
            Some(Notice::Resolved {
                duration: 7 * 3600,
                count: 3,
                by: Resolution::Evidence("a canary probe passed".into())
            })
        );
        // Evidence again, or a second container with the same evidence: nothing to say.
        assert_eq!(
            state(incidents.cleared(key, "again", T0 + 8 * 3600).await),
            None
        );
    }

    #[tokio::test]
    async fn a_message_not_sent_is_taken_back_and_sent_by_the_next_finding() {
        let incidents = incidents(MemoryIncidents::default());
        let finding = fallback();
        let first = incidents
            .seen(&finding, finding.severity(), T0)
            .await
            .ok()
            .flatten();
        let Some(first) = first else {
            panic!("no new incident")
        };
        assert!(incidents.undo(&first).await.unwrap_or(false));
        let again = incidents
            .seen(&finding, finding.severity(), T0 + 5)
            .await
            .ok()
            .flatten();
        assert_eq!(again.map(|s| s.notice), Some(Notice::New));
    }

    #[tokio::test]
    async fn the_sweep_resolves_quiet_kinds_and_reminds_of_the_others() {
        let incidents = incidents(MemoryIncidents::default());
        let bounce = Finding::new(
            Facts::AuthComplaint {
                recipient_domains: vec!["example.net".into()],
                sending: Default::default(),
            },
            Some("example.com"),
            Source::SesNotification,
        );
        for finding in [fallback(), bounce] {
            assert!(
                incidents
                    .seen(&finding, finding.severity(), T0)
                    .await
                    .ok()
                    .flatten()
                    .is_some()
            );
        }
        assert!(incidents.sweep(T0 + 3600).await.is_ok_and(|s| s.is_empty()));
        let swept = incidents.sweep(T0 + 25 * 3600).await.unwrap_or_default();
        let steps: Vec<(Kind, &str)> = swept
            .iter()
            .map(|s| (s.key.kind, s.notice.state()))
            .collect();
        // The complaint is over; the fallback, which only evidence ends, is reminded of.
        assert_eq!(
            steps,
            [
                (Kind::MailFromFallback, "open"),
                (Kind::AuthComplaint, "resolved")
            ]
        );
        assert!(
            incidents
                .sweep(T0 + 26 * 3600)
                .await
                .is_ok_and(|s| s.is_empty())
        );
    }

    #[tokio::test]
    async fn an_unreachable_book_is_an_error_for_the_caller_to_alert_anyway() {
        let mut book = MemoryIncidents::default();
        book.unavailable = true;
        assert!(
            incidents(book)
                .seen(&fallback(), fallback().severity(), T0)
                .await
                .is_err()
        );
    }
}
