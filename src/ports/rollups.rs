//! The daily rollups the weekly digest reads: per UTC day, counters for each monitored
//! domain (receivers' aggregate and TLS reports, feedback) and each identity (the canary),
//! and each domain's latest bulk-sender readiness (the audit's),
//! added as data arrives, one write per report, probe or notification
//! (`lambda::aws::dynamodb`, kept 400 days), or in memory for tests. Writing fails open: the
//! flows count the error (`StateErrors`) and go on.

use crate::judge::bulk::{Requirement, Status};
use crate::judge::digest::{DayFigures, TlsFigures};
use crate::ports::state::StateError;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How long a rollup is kept: a year of weeks to compare, and some.
pub const ROLLUP_KEPT: u64 = 400 * 86_400;

/// The canary's probes of one identity on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CanaryDay {
    pub sent: u64,
    pub received: u64,
    /// Arrived authenticated and aligned.
    pub healthy: u64,
}

/// Feedback about one domain's mail on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedbackDay {
    /// Recipients SES delivered to.
    pub deliveries: u64,
    /// Bounces that were authentication rejections.
    pub auth_bounces: u64,
    /// Complained recipients.
    pub complaints: u64,
}

impl FeedbackDay {
    /// Adds `other`'s counts to these (another notification, or another day).
    pub fn absorb(&mut self, other: &FeedbackDay) {
        self.deliveries = self.deliveries.saturating_add(other.deliveries);
        self.auth_bounces = self.auth_bounces.saturating_add(other.auth_bounces);
        self.complaints = self.complaints.saturating_add(other.complaints);
    }
}

/// TLS sessions reported about one policy domain on one day, and by whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsDay {
    pub sessions: TlsFigures,
    /// Reports by reporter, as each names itself.
    pub reporters: BTreeMap<String, u64>,
}

/// What one arrival adds to a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addition {
    /// One believed aggregate report about a domain.
    Dmarc(DayFigures),
    /// One believed TLS report's sessions for one policy domain.
    Tls(TlsDay),
    /// Probes of an identity.
    Canary(CanaryDay),
    /// Notifications about a domain's mail.
    Feedback(FeedbackDay),
    /// The audit's latest judgement of a domain's bulk-sender readiness: it replaces the
    /// day's earlier one, requirement by requirement.
    Readiness(Readiness),
}

/// A domain's bulk-sender readiness, by requirement.
pub type Readiness = BTreeMap<Requirement, Status>;

/// Everything added on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayRollups {
    pub dmarc: BTreeMap<String, DayFigures>,
    pub tls: BTreeMap<String, TlsDay>,
    pub canary: BTreeMap<String, CanaryDay>,
    pub feedback: BTreeMap<String, FeedbackDay>,
    pub readiness: BTreeMap<String, Readiness>,
}

impl DayRollups {
    /// Adds `addition` about `subject` (a domain, or the canary's identity).
    pub fn absorb(&mut self, subject: &str, addition: &Addition) {
        let add = |total: &mut u64, n: u64| *total = total.saturating_add(n);
        match addition {
            Addition::Dmarc(figures) => self
                .dmarc
                .entry(subject.to_owned())
                .or_default()
                .absorb(figures),
            Addition::Tls(tls) => {
                let day = self.tls.entry(subject.to_owned()).or_default();
                add(&mut day.sessions.successful, tls.sessions.successful);
                add(&mut day.sessions.failed, tls.sessions.failed);
                for (reporter, n) in &tls.reporters {
                    add(day.reporters.entry(reporter.clone()).or_default(), *n);
                }
            }
            Addition::Canary(probes) => {
                let day = self.canary.entry(subject.to_owned()).or_default();
                add(&mut day.sent, probes.sent);
                add(&mut day.received, probes.received);
                add(&mut day.healthy, probes.healthy);
            }
            Addition::Feedback(feedback) => self
                .feedback
                .entry(subject.to_owned())
                .or_default()
                .absorb(feedback),
            Addition::Readiness(judged) => {
                self.readiness
                    .entry(subject.to_owned())
                    .or_default()
                    .extend(judged.iter().map(|(r, s)| (*r, *s)));
            }
        }
    }
}

/// Where the daily rollups are kept.
#[allow(async_fn_in_trait)]
pub trait Rollups {
    /// Adds `addition` about `subject` to the UTC day starting at `day` (Unix seconds).
    async fn add(&self, day: u64, subject: &str, addition: &Addition) -> Result<(), StateError>;

    /// Everything added to the day starting at `day`.
    async fn day(&self, day: u64) -> Result<DayRollups, StateError>;
}

/// Without the state table there are no rollups: nothing is kept, every day is empty.
impl<R: Rollups> Rollups for Option<R> {
    async fn add(&self, day: u64, subject: &str, addition: &Addition) -> Result<(), StateError> {
        match self {
            Some(rollups) => rollups.add(day, subject, addition).await,
            None => Ok(()),
        }
    }

    async fn day(&self, day: u64) -> Result<DayRollups, StateError> {
        match self {
            Some(rollups) => rollups.day(day).await,
            None => Ok(DayRollups::default()),
        }
    }
}

impl<R: Rollups> Rollups for &R {
    async fn add(&self, day: u64, subject: &str, addition: &Addition) -> Result<(), StateError> {
        (**self).add(day, subject, addition).await
    }

    async fn day(&self, day: u64) -> Result<DayRollups, StateError> {
        (**self).day(day).await
    }
}

/// Rollups in memory; `failing` fails every call.
#[derive(Debug, Default)]
pub struct MemoryRollups {
    pub days: Mutex<BTreeMap<u64, DayRollups>>,
    pub failing: bool,
}

impl Rollups for MemoryRollups {
    async fn add(&self, day: u64, subject: &str, addition: &Addition) -> Result<(), StateError> {
        if self.failing {
            return Err(StateError {
                source: "the rollups are down (a test's)".into(),
            });
        }
        let mut days = self.days.lock().map_err(|_| poisoned())?;
        days.entry(day).or_default().absorb(subject, addition);
        Ok(())
    }

    async fn day(&self, day: u64) -> Result<DayRollups, StateError> {
        if self.failing {
            return Err(StateError {
                source: "the rollups are down (a test's)".into(),
            });
        }
        let days = self.days.lock().map_err(|_| poisoned())?;
        Ok(days.get(&day).cloned().unwrap_or_default())
    }
}

fn poisoned() -> StateError {
    StateError {
        source: "the rollups' lock is poisoned".into(),
    }
}
