//! What the receipt, feedback, canary and audit functions add to the daily rollups the weekly
//! digest reads, from what an invocation counted: the canary's probes sent, received and
//! healthy per identity, feedback per monitored domain, and each domain's bulk-sender
//! readiness as the audit last judged it. One write per identity or domain and invocation; a write that fails is logged and counted (`StateErrors`), never a failed
//! invocation (the reports function adds its own, per report: `flow::reports`).

use crate::flow::receipt::Processed;
use crate::judge::digest::day_start;
use crate::ports::chain;
use crate::ports::rollups::{Addition, CanaryDay, Rollups};
use crate::say::metrics::canary::CanaryCounts;

async fn add_all<R: Rollups>(
    rollups: &R,
    now: u64,
    additions: impl IntoIterator<Item = (String, Addition)>,
) -> u64 {
    let mut errors = 0;
    for (subject, addition) in additions {
        if let Err(error) = rollups.add(day_start(now), &subject, &addition).await {
            tracing::warn!(subject = %subject, error = %chain(&error), "adding to the daily rollups");
            errors += 1;
        }
    }
    errors
}

/// The canary's probes an invocation sent (the canary function) or received (the receipt
/// function), per identity. Returns the writes that failed.
pub async fn canary<R: Rollups>(counts: &CanaryCounts, rollups: &R, now: u64) -> u64 {
    let additions = counts
        .per_identity
        .iter()
        .filter(|(_, c)| c.sent + c.received > 0)
        .map(|(identity, c)| {
            let probes = CanaryDay {
                sent: c.sent,
                received: c.received,
                healthy: c.healthy,
            };
            (identity.clone(), Addition::Canary(probes))
        });
    add_all(rollups, now, additions).await
}

/// The feedback an invocation read (the feedback function), per monitored domain, and the
/// probes it received (the receipt function). Returns the writes that failed.
pub async fn processed<R: Rollups>(processed: &Processed, rollups: &R, now: u64) -> u64 {
    let feedback = processed
        .feedback
        .iter()
        .map(|(domain, day)| (domain.clone(), Addition::Feedback(*day)));
    add_all(rollups, now, feedback).await + canary(&processed.canary, rollups, now).await
}

/// Each domain's bulk-sender readiness, as an audit run judged it (the day's latest replaces
/// the earlier). Returns the writes that failed.
pub async fn readiness<R: Rollups>(
    judged: &[(String, Vec<crate::judge::bulk::Judgement>)],
    rollups: &R,
    now: u64,
) -> u64 {
    let additions = judged.iter().map(|(domain, judged)| {
        let statuses = judged.iter().map(|j| (j.requirement, j.status)).collect();
        (domain.clone(), Addition::Readiness(statuses))
    });
    add_all(rollups, now, additions).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::rollups::{FeedbackDay, MemoryRollups};

    #[tokio::test]
    async fn an_invocations_counts_land_on_its_day() {
        let rollups = MemoryRollups::default();
        let mut processed = Processed::default();
        processed.feedback.insert(
            "example.com".into(),
            FeedbackDay {
                deliveries: 3,
                auth_bounces: 1,
                complaints: 0,
            },
        );
        let probe = processed.canary.identity("example.com");
        probe.received = 1;
        probe.healthy = 1;
        let now = 1_795_392_000 + 3600;
        assert_eq!(super::processed(&processed, &rollups, now).await, 0);
        let mut sent = CanaryCounts::default();
        sent.identity("example.com").sent = 2;
        assert_eq!(canary(&sent, &rollups, now + 60).await, 0);
        let day = rollups.day(1_795_392_000).await.unwrap_or_default();
        assert_eq!(day.feedback["example.com"].deliveries, 3);
        assert_eq!(
            day.canary["example.com"],
            CanaryDay {
                sent: 2,
                received: 1,
                healthy: 1
            }
        );
        // Nothing counted, nothing written; a failing table is counted, not raised.
        let failing = MemoryRollups {
            failing: true,
            ..MemoryRollups::default()
        };
        assert_eq!(canary(&CanaryCounts::default(), &failing, now).await, 0);
        assert_eq!(canary(&sent, &failing, now).await, 1);
    }
}
