//! Incidents across every container and retry: [`judge::incident`] decides each step,
//! [`IncidentBook`] keeps the state, and a step's message is owed in the same write that
//! changes the incident. Used by the alerting flow (`flow::alerting`).
//!
//! At least once, never lost:
//! - a finding is counted in its open incident by one write that reads nothing; only when a
//!   message is due (the incident opens, a reminder, a resolution) is a change written, on
//!   condition that nobody changed the incident since it was read, and only the writer whose
//!   change was written sends its message;
//! - the message is marked sent only after the publisher took it ([`Incidents::settle`]); a
//!   writer whose publisher failed lets go of it at once, and one that died holds it only
//!   for [`Timing::lease`]: the next finding of the incident, or the sweep, sends it then;
//! - a message sent twice (the publisher took it but its answer was lost) carries the same
//!   incident id and version, so a reader can tell the copy.
//!
//! [`judge::incident`]: crate::judge::incident

use crate::judge::findings::{Finding, Severity};
use crate::judge::incident::{self, Due, Incident, IncidentKey, Notice, Timing, Unmonitored};
use crate::ports::incidents::{IncidentBook, Occurrence, Settled, Transition};
use crate::ports::state::StateError;
use crate::say::explain::Detail as _;

/// How often a step is redone after another writer changed the incident first. Each loss
/// means someone else's change was written; the step is then usually over.
const ATTEMPTS: usize = 8;

/// A message to send: the incident it is about, at the version that owes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub key: IncidentKey,
    pub notice: Notice,
    pub incident: Incident,
    pub version: u64,
}

/// The incidents, in a book.
#[derive(Debug)]
pub struct Incidents<B> {
    pub book: B,
    pub timing: Timing,
}

impl<B: IncidentBook> Incidents<B> {
    /// `finding` seen at `now`, paging at `severity` (its own, or raised by its
    /// consequences: `judge::cause`): counted, and the message to send, if this caller is to
    /// send one.
    pub async fn seen(
        &self,
        finding: &Finding,
        severity: Severity,
        now: u64,
    ) -> Result<Option<Step>, StateError> {
        let key = IncidentKey::of(finding);
        let occurrence = Occurrence {
            now,
            // Kept in the table and quoted in reminders: bounded, as alerts are.
            detail: crate::say::alert::sanitize(&finding.detail(), 2_000),
            severity,
            reporter: finding.facts.reporter().map(kept_reporter),
        };
        let mut counted = false;
        for _ in 0..ATTEMPTS {
            let stored = if counted {
                self.book.load(&key).await?
            } else {
                match self.book.count(&key, &occurrence).await? {
                    Some(stored) => {
                        counted = true;
                        Some(stored)
                    }
                    None => self.book.load(&key).await?,
                }
            };
            // Opened by another writer between the count and the read: count in it.
            if !counted && stored.as_ref().is_some_and(|s| s.incident.is_open()) {
                continue;
            }
            let current = stored.as_ref().map(|s| &s.incident);
            let due = incident::seen(current, &occurrence, self.timing);
            match self
                .apply(&key, due, stored.map(|s| s.version), now)
                .await?
            {
                Applied::Lost => {
                    // Whoever opened it first counted their own finding, not this one.
                    continue;
                }
                Applied::Done(step) => return Ok(step.map(|s| *s)),
            }
        }
        Err(self.contended(&key))
    }

    /// Evidence at `now` that `key`'s condition is gone (`by`, in a few words): the
    /// "resolved" message, if the incident was open and this caller closed it.
    pub async fn cleared(
        &self,
        key: IncidentKey,
        by: &str,
        now: u64,
    ) -> Result<Option<Step>, StateError> {
        self.cleared_if(key, by, now, |_| true).await
    }

    /// The same, for evidence that covers the incident only when `covers` says so (a clean
    /// report covers only what its own reporter found).
    pub async fn cleared_if(
        &self,
        key: IncidentKey,
        by: &str,
        now: u64,
        covers: impl Fn(&Incident) -> bool,
    ) -> Result<Option<Step>, StateError> {
        for _ in 0..ATTEMPTS {
            let stored = self.book.load(&key).await?;
            let current = stored.as_ref().map(|s| &s.incident).filter(|i| covers(i));
            let due = incident::cleared(current, by, now, self.timing);
            match self
                .apply(&key, due, stored.map(|s| s.version), now)
                .await?
            {
                Applied::Lost => continue,
                Applied::Done(step) => return Ok(step.map(|s| *s)),
            }
        }
        Err(self.contended(&key))
    }

    /// The incidents open or owing a message at `now`: messages owed and not held are sent;
    /// open incidents whose subject is no longer watched (`unmonitored`) are closed saying
    /// so; those quiet for their kind's quiet period are resolved; the others reminded of
    /// when their last message is `remind_every` old. The messages to send, and the first
    /// error (the others were still stepped).
    pub async fn sweep(
        &self,
        now: u64,
        unmonitored: impl Fn(&IncidentKey) -> Option<Unmonitored>,
    ) -> (Vec<Step>, Option<StateError>) {
        let mut steps = Vec::new();
        let mut first_error = None;
        let due_now = match self.book.needing_attention().await {
            Ok(due) => due,
            Err(error) => return (steps, Some(error)),
        };
        for (key, stored) in due_now {
            let why = unmonitored(&key);
            let mut current = Some(stored);
            for _ in 0..ATTEMPTS {
                let Some(stored) = current.take() else { break };
                let due = incident::swept(&key, &stored.incident, why, now, self.timing);
                match self.apply(&key, due, Some(stored.version), now).await {
                    Ok(Applied::Done(step)) => {
                        steps.extend(step.map(|s| *s));
                        break;
                    }
                    Ok(Applied::Lost) => match self.book.load(&key).await {
                        Ok(again) => current = again,
                        Err(error) => {
                            first_error.get_or_insert(error);
                        }
                    },
                    Err(error) => {
                        first_error.get_or_insert(error);
                        break;
                    }
                }
            }
        }
        (steps, first_error)
    }

    /// Records that `step`'s message was `sent` (the publisher took it) or not (it stays
    /// owed, for anyone to send at once).
    pub async fn settle(&self, step: &Step, sent: bool) -> Result<(), StateError> {
        let outcome = if sent {
            Settled::Sent {
                closed: !step.incident.is_open(),
            }
        } else {
            Settled::Failed
        };
        // `false`: the incident changed meanwhile, and owes its newer message instead.
        self.book
            .settle(&step.key, step.version, outcome)
            .await
            .map(|_| ())
    }

    /// Writes what `due` calls for against the version `read`.
    async fn apply(
        &self,
        key: &IncidentKey,
        due: Due,
        read: Option<u64>,
        now: u64,
    ) -> Result<Applied, StateError> {
        let (next, how) = match due {
            Due::Nothing => return Ok(Applied::Done(None)),
            Due::Open(next) => (next, Transition::Open),
            Due::Change(next) => (next, Transition::Change),
            Due::Resend(notice) => {
                let Some(version) = read else {
                    return Ok(Applied::Done(None));
                };
                let until = now.saturating_add(self.timing.lease);
                if !self.book.lease(key, version, now, until).await? {
                    return Ok(Applied::Done(None));
                }
                let incident = self
                    .book
                    .load(key)
                    .await?
                    .filter(|s| s.version == version)
                    .map(|s| s.incident);
                return Ok(Applied::Done(incident.map(|incident| {
                    Box::new(Step {
                        key: key.clone(),
                        notice,
                        incident,
                        version,
                    })
                })));
            }
        };
        if !self.book.store(key, &next, how, read).await? {
            return Ok(Applied::Lost);
        }
        let version = read.map_or(1, |v| v + 1);
        // The message goes out with the incident as stored: the findings counted meanwhile
        // are in it.
        let incident = match how {
            Transition::Open => next,
            Transition::Change => self
                .book
                .load(key)
                .await?
                .filter(|s| s.version == version)
                .map_or(next, |s| s.incident),
        };
        let notice = incident.owed.as_ref().map(|o| o.notice.clone());
        Ok(Applied::Done(notice.map(|notice| {
            Box::new(Step {
                key: key.clone(),
                notice,
                incident,
                version,
            })
        })))
    }

    fn contended(&self, key: &IncidentKey) -> StateError {
        StateError {
            source: format!(
                "incident {} was changed by others {ATTEMPTS} times in a row",
                key.id()
            )
            .into(),
        }
    }
}

/// A receiver's name as an incident keeps it: bounded, as every text in the table.
pub fn kept_reporter(reporter: &str) -> String {
    crate::say::alert::sanitize(reporter, 253)
}

/// What writing a step's change came to.
enum Applied {
    /// Another writer changed the incident first.
    Lost,
    /// Written (or nothing to write): the message to send, if any.
    Done(Option<Box<Step>>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::findings::{Facts, Kind};
    use crate::judge::incident::Resolution;
    use crate::ports::incidents::{MemoryIncidents, Stored};
    use crate::read::identity_state::CustomMailFrom;
    use crate::read::observation::{EnvelopeOrigin, EnvelopeSender, Source};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::sync::Barrier;

    const T0: u64 = 1_796_000_000;
    const HOUR: u64 = 3600;

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

    async fn seen<B: IncidentBook>(incidents: &Incidents<B>, at: u64) -> Option<Step> {
        let finding = fallback();
        incidents
            .seen(&finding, finding.severity(), at)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn stored(book: &MemoryIncidents) -> Stored {
        book.load(&IncidentKey::of(&fallback()))
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no incident"))
    }

    /// What a container does with a step's message.
    #[derive(Debug, Clone, Copy)]
    enum Then {
        /// The publisher took it.
        Sent,
        /// The publisher failed: the invocation fails and is retried.
        Failed,
        /// The container died before it could say.
        Died,
    }

    /// Every path of an owed "new" as a table: each row is a finding at a time and what became
    /// of the message its step owed (if any); the expected message is (state, version).
    #[tokio::test]
    async fn an_owed_message_is_sent_until_the_publisher_took_it() {
        type Row = (u64, Then, Option<(&'static str, u64)>);
        let lease = Timing::default().lease;
        let cases: &[(&str, &[Row])] = &[
            (
                "sent at once: the next findings only count",
                &[
                    (T0, Then::Sent, Some(("new", 1))),
                    (T0 + 5, Then::Sent, None),
                    (T0 + lease + 5, Then::Sent, None),
                ],
            ),
            (
                "SNS down, then up: the retry sends the same new",
                &[
                    (T0, Then::Failed, Some(("new", 1))),
                    (T0 + 60, Then::Failed, Some(("new", 1))),
                    (T0 + 180, Then::Sent, Some(("new", 1))),
                    (T0 + 240, Then::Sent, None),
                ],
            ),
            (
                "the container dies between the write and the send: held for the lease, then sent",
                &[
                    (T0, Then::Died, Some(("new", 1))),
                    (T0 + 10, Then::Sent, None),
                    (T0 + lease, Then::Sent, Some(("new", 1))),
                    (T0 + lease + 10, Then::Sent, None),
                ],
            ),
            (
                "SNS took it but its answer was lost: the copy has the same version",
                &[
                    (T0, Then::Died, Some(("new", 1))),
                    (T0 + lease + 1, Then::Sent, Some(("new", 1))),
                ],
            ),
            (
                "a reminder owed and failed is sent by the next finding",
                &[
                    (T0, Then::Sent, Some(("new", 1))),
                    (T0 + 6 * HOUR, Then::Failed, Some(("open", 2))),
                    (T0 + 6 * HOUR + 30, Then::Sent, Some(("open", 2))),
                    (T0 + 6 * HOUR + 60, Then::Sent, None),
                ],
            ),
        ];
        for (name, rows) in cases {
            let incidents = incidents(MemoryIncidents::default());
            for (index, (at, then, expected)) in rows.iter().enumerate() {
                let step = seen(&incidents, *at).await;
                assert_eq!(
                    step.as_ref().map(|s| (s.notice.state(), s.version)),
                    *expected,
                    "{name}: row {index}"
                );
                if let Some(step) = &step {
                    match then {
                        Then::Sent => assert!(incidents.settle(step, true).await.is_ok()),
                        Then::Failed => assert!(incidents.settle(step, false).await.is_ok()),
                        Then::Died => {}
                    }
                }
            }
            // Every finding was counted, whatever became of the messages.
            assert_eq!(
                stored(&incidents.book).await.incident.count,
                rows.len() as u64,
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn the_sweep_sends_what_a_dead_container_owed() {
        let incidents = incidents(MemoryIncidents::default());
        let lease = incidents.timing.lease;
        assert!(seen(&incidents, T0).await.is_some());
        let (held, _) = incidents.sweep(T0 + 1, |_| None).await;
        assert!(held.is_empty(), "held by its sender: {held:?}");
        let (steps, error) = incidents.sweep(T0 + lease, |_| None).await;
        assert!(error.is_none());
        let owed: Vec<(&str, u64)> = steps
            .iter()
            .map(|s| (s.notice.state(), s.version))
            .collect();
        assert_eq!(owed, [("new", 1)]);
        for step in &steps {
            assert!(incidents.settle(step, true).await.is_ok());
        }
        let (after, _) = incidents.sweep(T0 + 2 * lease, |_| None).await;
        assert!(after.is_empty(), "sent once: {after:?}");
    }

    /// Both counts and loads happen before either store, as two containers at once.
    struct AtOnce {
        inner: MemoryIncidents,
        barrier: Barrier,
        first_round: AtomicBool,
    }

    impl IncidentBook for AtOnce {
        async fn count(
            &self,
            key: &IncidentKey,
            occurrence: &Occurrence,
        ) -> Result<Option<Stored>, StateError> {
            self.inner.count(key, occurrence).await
        }
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
            how: Transition,
            read: Option<u64>,
        ) -> Result<bool, StateError> {
            self.inner.store(key, next, how, read).await
        }
        async fn lease(
            &self,
            key: &IncidentKey,
            version: u64,
            now: u64,
            until: u64,
        ) -> Result<bool, StateError> {
            self.inner.lease(key, version, now, until).await
        }
        async fn settle(
            &self,
            key: &IncidentKey,
            version: u64,
            outcome: Settled,
        ) -> Result<bool, StateError> {
            self.inner.settle(key, version, outcome).await
        }
        async fn needing_attention(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError> {
            self.inner.needing_attention().await
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
        let (a, b) = tokio::join!(seen(&incidents, T0), seen(&incidents, T0));
        let notices: Vec<Notice> = [a, b].into_iter().flatten().map(|s| s.notice).collect();
        assert_eq!(notices, [Notice::New]);
        // The loser counted its finding in the incident the winner opened.
        let stored = stored(&incidents.book.inner).await;
        assert_eq!((stored.incident.count, stored.version), (2, 1));
    }

    #[tokio::test]
    async fn a_burst_across_eight_writers_pages_once_and_counts_every_finding() {
        let book = Arc::new(MemoryIncidents::default());
        let mut writers = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let incidents = incidents(Arc::clone(&book));
            writers.spawn(async move {
                let mut steps = Vec::new();
                for i in 0..250 {
                    steps.extend(seen(&incidents, T0 + i / 50).await);
                }
                steps
            });
        }
        let mut steps = Vec::new();
        while let Some(done) = writers.join_next().await {
            steps.extend(done.unwrap_or_default());
        }
        let states: Vec<&str> = steps.iter().map(|s| s.notice.state()).collect();
        assert_eq!(states, ["new"]);
        assert_eq!(stored(&book).await.incident.count, 2_000);
    }

    #[tokio::test]
    async fn an_incident_opens_counts_reminds_and_resolves_once() {
        let incidents = incidents(MemoryIncidents::default());
        let state = |step: Option<Step>| step.map(|s| s.notice.state());
        let send = |step: Option<Step>| async {
            if let Some(step) = &step {
                assert!(incidents.settle(step, true).await.is_ok());
            }
            step
        };
        assert_eq!(state(send(seen(&incidents, T0).await).await), Some("new"));
        assert_eq!(state(send(seen(&incidents, T0 + 60).await).await), None);
        let reminder = send(seen(&incidents, T0 + 6 * HOUR).await).await;
        assert_eq!(
            reminder.map(|s| s.notice),
            Some(Notice::StillOpen {
                count: 2,
                since: T0
            })
        );
        let key = IncidentKey::of(&fallback());
        let resolved = incidents
            .cleared(key.clone(), "a canary probe passed", T0 + 7 * HOUR)
            .await
            .ok()
            .flatten();
        assert_eq!(
            resolved.as_ref().map(|s| s.notice.clone()),
            Some(Notice::Resolved {
                duration: 7 * HOUR,
                count: 3,
                by: Resolution::Evidence("a canary probe passed".into())
            })
        );
        send(resolved).await;
        // Evidence again, or a second container with the same evidence: nothing to say.
        assert_eq!(
            state(
                incidents
                    .cleared(key, "again", T0 + 8 * HOUR)
                    .await
                    .ok()
                    .flatten()
            ),
            None
        );
        // Resolved and sent: nothing needs the sweep any more.
        assert!(
            incidents
                .book
                .needing_attention()
                .await
                .is_ok_and(|due| due.is_empty())
        );
    }

    #[tokio::test]
    async fn the_sweep_resolves_quiet_kinds_by_their_period_closes_the_unwatched_and_reminds() {
        let incidents = incidents(MemoryIncidents::default());
        let bounce = Finding::new(
            Facts::AuthComplaint {
                recipient_domains: vec!["example.net".into()],
                sending: Default::default(),
            },
            Some("example.com"),
            Source::SesNotification,
        );
        let report = Finding::new(
            Facts::ReportUnauthenticated {
                reporter: "receiver.example".into(),
                messages: 1,
                mailed_from: None,
            },
            Some("example.org"),
            Source::Report,
        );
        let gone = Finding::new(
            Facts::CanaryMissing {
                identity: "example.net".into(),
                message_id: "m-1".into(),
                sent: T0 - 900,
                deadline: T0 - 300,
            },
            Some("example.net"),
            Source::Canary,
        );
        for finding in [fallback(), bounce, report, gone] {
            let step = incidents.seen(&finding, finding.severity(), T0).await;
            let Ok(Some(step)) = step else {
                panic!("{finding:?} opened nothing")
            };
            assert!(incidents.settle(&step, true).await.is_ok());
        }
        // The canary was turned off for example.net: its incident is closed, saying so.
        let unwatched =
            |key: &IncidentKey| (key.domain == "example.net").then_some(Unmonitored::CanaryOff);
        let states = |steps: &[Step]| -> Vec<(Kind, String)> {
            steps
                .iter()
                .map(|s| match &s.notice {
                    Notice::Resolved { by, .. } => (s.key.kind, format!("resolved {by:?}")),
                    other => (s.key.kind, other.state().to_owned()),
                })
                .collect()
        };
        let (first, _) = incidents.sweep(T0 + HOUR, unwatched).await;
        assert_eq!(
            states(&first),
            [(
                Kind::CanaryMissing,
                "resolved Unmonitored(CanaryOff)".to_owned()
            )]
        );
        for step in &first {
            assert!(incidents.settle(step, true).await.is_ok());
        }
        // A day on: the complaint is over, the report kind waits for its longer period, the
        // fallback (only evidence ends it) is reminded of.
        let (day, _) = incidents.sweep(T0 + 25 * HOUR, |_| None).await;
        let mut day_states = states(&day);
        day_states.sort();
        assert_eq!(
            day_states,
            [
                (Kind::MailFromFallback, "open".to_owned()),
                (
                    Kind::AuthComplaint,
                    "resolved Quiet { period: 86400 }".to_owned()
                ),
                (Kind::ReportUnauthenticated, "open".to_owned()),
            ]
        );
        for step in &day {
            assert!(incidents.settle(step, true).await.is_ok());
        }
        let (later, _) = incidents.sweep(T0 + 72 * HOUR, |_| None).await;
        let later_states = states(&later);
        assert!(
            later_states.contains(&(
                Kind::ReportUnauthenticated,
                "resolved Quiet { period: 259200 }".to_owned()
            )),
            "{later_states:?}"
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
