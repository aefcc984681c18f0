//! When a finding becomes an alert: at or above a configured severity, and once per
//! `(kind, domain, subject)` per window, so one incident does not page twice and two never
//! share one page. The next alert after a window says how many were held back.
//!
//! Pure: the clock is an argument. The alerting flow (`flow::alerting`) keeps one per warm
//! container: the decision when the state table's incidents (`flow::incidents`) cannot be
//! used, which may page once per container but never stays silent.

use crate::judge::findings::{Finding, Kind, Severity};
use std::collections::HashMap;
use std::time::Duration;

/// Which findings become alerts: at or above a severity, once per [`Key`] per window.
#[derive(Debug)]
pub struct Deduper {
    min_severity: Severity,
    window: Duration,
    seen: HashMap<Key, Window>,
}

/// One incident: its kind, its domain, and its subject ([`Facts::subject`]: which VDM
/// recommendation, which paused resource), so that two different incidents of one kind
/// never share an alert.
///
/// [`Facts::subject`]: crate::judge::findings::Facts::subject
type Key = (Kind, Option<String>, Option<String>);

fn key(kind: Kind, finding: &Finding) -> Key {
    (
        kind,
        finding.domain.clone(),
        finding.facts.subject().map(str::to_owned),
    )
}

#[derive(Debug, Clone, Copy)]
struct Window {
    /// Unix seconds.
    opened: u64,
    suppressed: u64,
}

/// The decision for one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it; `suppressed` findings of the same key were held back since the last alert.
    Send { suppressed: u64 },
    /// Below the minimum severity.
    BelowThreshold,
    /// Within the window of an alert already sent.
    Suppressed,
}

impl Deduper {
    pub fn new(min_severity: Severity, window: Duration) -> Self {
        Self {
            min_severity,
            window,
            seen: HashMap::new(),
        }
    }

    /// Decides for one finding at `now` (Unix seconds). A key is new when it was never sent or its window
    /// has passed; a new key always goes out, whatever its severity above the threshold.
    /// `severity` is the one it pages at: its own, or raised by its consequences
    /// (`judge::cause`).
    pub fn decide(&mut self, finding: &Finding, severity: Severity, now: u64) -> Decision {
        // A recovery ends an incident: it goes out when that incident paged (here, or in a
        // container that has since gone, as its severity says it would have), whatever the
        // recovery's own severity; the next occurrence pages again.
        if let Some(cleared) = crate::judge::incident::ended_by(&finding.facts) {
            let seen = self.seen.remove(&key(cleared, finding)).is_some();
            if seen || cleared.default_severity() >= self.min_severity {
                return Decision::Send { suppressed: 0 };
            }
        }
        if severity < self.min_severity {
            return Decision::BelowThreshold;
        }
        let key = key(finding.kind(), finding);
        match self.seen.get_mut(&key) {
            Some(window) if now.saturating_sub(window.opened) < self.window.as_secs() => {
                window.suppressed += 1;
                Decision::Suppressed
            }
            Some(window) => {
                let suppressed = window.suppressed;
                *window = Window {
                    opened: now,
                    suppressed: 0,
                };
                Decision::Send { suppressed }
            }
            None => {
                self.seen.insert(
                    key,
                    Window {
                        opened: now,
                        suppressed: 0,
                    },
                );
                Decision::Send { suppressed: 0 }
            }
        }
    }

    /// The least severe finding that alerts.
    pub fn min_severity(&self) -> Severity {
        self.min_severity
    }

    /// Forgets every alert of `kind` about `domain`: its incident ended, so the next
    /// occurrence pages at once.
    pub fn forget_incident(&mut self, kind: Kind, domain: &str) {
        self.seen
            .retain(|(k, d, _), _| !(*k == kind && d.as_deref() == Some(domain)));
    }

    /// Forgets that `finding`'s key was sent, so the next occurrence goes out: used when
    /// publishing failed, so a lost alert is never counted as sent.
    pub fn forget(&mut self, finding: &Finding) {
        self.seen.remove(&key(finding.kind(), finding));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::findings::{Facts, PolicyBasis};
    use crate::read::authres::ResultKeyword;
    use crate::read::observation::Source;
    use crate::read::service_event::RecommendationType;

    fn finding(facts: Facts, domain: &str) -> Finding {
        Finding::new(facts, Some(domain), Source::ReceiptLambda).about(Some("m-1"))
    }

    #[test]
    fn window_suppresses_and_counts() {
        let mut d = Deduper::new(Severity::Warning, Duration::from_secs(3600));
        let t0: u64 = 1_796_000_000;
        let f = finding(
            Facts::DmarcFail {
                header_from: "example.com".into(),
                policy: PolicyBasis::Published(crate::judge::policy::Disposition::Reject),
            },
            "example.com",
        );
        assert_eq!(
            d.decide(&f, f.severity(), t0),
            Decision::Send { suppressed: 0 }
        );
        assert_eq!(d.decide(&f, f.severity(), t0 + 10), Decision::Suppressed);
        assert_eq!(d.decide(&f, f.severity(), t0 + 20), Decision::Suppressed);
        // Another domain, another kind: new keys go out at once.
        let other = finding(f.facts.clone(), "example.org");
        assert_eq!(
            d.decide(&other, other.severity(), t0 + 30),
            Decision::Send { suppressed: 0 }
        );
        let kind = finding(Facts::ForgedAuthResults { count: 1 }, "example.com");
        assert_eq!(
            d.decide(&kind, kind.severity(), t0 + 30),
            Decision::Send { suppressed: 0 }
        );
        // After the window, the next alert says how many were held back.
        assert_eq!(
            d.decide(&f, f.severity(), t0 + 3600),
            Decision::Send { suppressed: 2 }
        );
        // Below the threshold: an info finding.
        let info = finding(
            Facts::SpfFail {
                result: ResultKeyword::Fail,
                domain: None,
            },
            "example.com",
        );
        assert_eq!(
            d.decide(&info, info.severity(), t0),
            Decision::BelowThreshold
        );
        d.forget(&f);
        assert_eq!(
            d.decide(&f, f.severity(), t0 + 3601),
            Decision::Send { suppressed: 0 }
        );
    }

    #[test]
    fn findings_about_no_domain_share_one_window() {
        let mut d = Deduper::new(Severity::Warning, Duration::from_secs(60));
        let t0: u64 = 1_796_000_000;
        let none = Finding::new(
            Facts::ForgedAuthResults { count: 1 },
            None,
            Source::RawMessage,
        );
        assert_eq!(
            d.decide(&none, none.severity(), t0),
            Decision::Send { suppressed: 0 }
        );
        assert_eq!(d.decide(&none, none.severity(), t0), Decision::Suppressed);
        // A named domain is another key.
        let named = finding(Facts::ForgedAuthResults { count: 1 }, "example.com");
        assert_eq!(
            d.decide(&named, named.severity(), t0),
            Decision::Send { suppressed: 0 }
        );
    }

    #[test]
    fn a_recovery_goes_out_when_its_incident_paged() {
        let paused = Finding::new(
            Facts::SendingPaused {
                resource: None,
                cause: None,
                origin: None,
            },
            None,
            Source::SesServiceEvent,
        );
        let resumed = Finding::new(
            Facts::SendingResumed {
                resource: None,
                status: None,
            },
            None,
            Source::SesServiceEvent,
        );
        let advice = |open: bool| {
            let facts = if open {
                Facts::AdvisorRecommendation {
                    kind: RecommendationType::Dmarc,
                    impact: None,
                    description: None,
                    resource: None,
                }
            } else {
                Facts::AdvisorResolved {
                    kind: RecommendationType::Dmarc,
                    resource: None,
                }
            };
            Finding::new(facts, Some("example.com"), Source::SesServiceEvent)
        };
        let t0: u64 = 1_796_000_000;
        // (threshold, incidents seen first, the recovery, its decision)
        let cases = [
            // The pause paged here: the resumption goes out, and a new pause pages again.
            (
                Severity::Warning,
                vec![&paused],
                &resumed,
                Decision::Send { suppressed: 0 },
            ),
            // A fresh container never saw the pause, but it paged somewhere.
            (
                Severity::Critical,
                vec![],
                &resumed,
                Decision::Send { suppressed: 0 },
            ),
            // Advice below a critical-only threshold never paged: its resolution is noise.
            (
                Severity::Critical,
                vec![],
                &advice(false),
                Decision::BelowThreshold,
            ),
            (
                Severity::Warning,
                vec![],
                &advice(false),
                Decision::Send { suppressed: 0 },
            ),
        ];
        for (threshold, before, recovery, expected) in cases {
            let mut d = Deduper::new(threshold, Duration::from_secs(3600));
            for incident in &before {
                assert_eq!(
                    d.decide(incident, incident.severity(), t0),
                    Decision::Send { suppressed: 0 }
                );
            }
            assert_eq!(
                d.decide(recovery, recovery.severity(), t0),
                expected,
                "{:?}",
                recovery.kind()
            );
            for incident in before {
                assert_eq!(
                    d.decide(incident, incident.severity(), t0),
                    Decision::Send { suppressed: 0 }
                );
            }
        }
        // An open recommendation is held back like any warning until it is resolved.
        let mut d = Deduper::new(Severity::Warning, Duration::from_secs(3600));
        assert_eq!(
            d.decide(&advice(true), advice(true).severity(), t0),
            Decision::Send { suppressed: 0 }
        );
        assert_eq!(
            d.decide(&advice(true), advice(true).severity(), t0),
            Decision::Suppressed
        );
        assert_eq!(
            d.decide(&advice(false), advice(false).severity(), t0),
            Decision::Send { suppressed: 0 }
        );
        assert_eq!(
            d.decide(&advice(true), advice(true).severity(), t0),
            Decision::Send { suppressed: 0 }
        );
    }

    #[test]
    fn different_subjects_are_different_incidents() {
        let advice = |kind: RecommendationType, open: bool| {
            let facts = if open {
                Facts::AdvisorRecommendation {
                    kind,
                    impact: None,
                    description: None,
                    resource: None,
                }
            } else {
                Facts::AdvisorResolved {
                    kind,
                    resource: None,
                }
            };
            Finding::new(facts, Some("example.com"), Source::SesServiceEvent)
        };
        let paused = |resource: &str| {
            Finding::new(
                Facts::SendingPaused {
                    resource: Some(resource.into()),
                    cause: None,
                    origin: None,
                },
                None,
                Source::SesServiceEvent,
            )
        };
        let resumed = |resource: &str| {
            Finding::new(
                Facts::SendingResumed {
                    resource: Some(resource.into()),
                    status: None,
                },
                None,
                Source::SesServiceEvent,
            )
        };
        let account = "arn:aws:ses:us-east-1:111122223333:account";
        let set = "arn:aws:ses:us-east-1:111122223333:configuration-set/marketing";
        let t0: u64 = 1_796_000_000;
        let sent = Decision::Send { suppressed: 0 };
        // In order, one Deduper: (the finding, its decision).
        let steps = [
            (advice(RecommendationType::Dmarc, true), sent),
            // VDM's SPF advice for the same domain is another problem: it pages too.
            (advice(RecommendationType::Spf, true), sent),
            (
                advice(RecommendationType::Dmarc, true),
                Decision::Suppressed,
            ),
            // Resolving the DMARC advice leaves the SPF advice open.
            (advice(RecommendationType::Dmarc, false), sent),
            (advice(RecommendationType::Spf, true), Decision::Suppressed),
            (advice(RecommendationType::Dmarc, true), sent),
            // A paused configuration set does not hide a paused account.
            (paused(set), sent),
            (paused(account), sent),
            (paused(account), Decision::Suppressed),
            (resumed(set), sent),
            (paused(account), Decision::Suppressed),
            (paused(set), sent),
        ];
        let mut d = Deduper::new(Severity::Warning, Duration::from_secs(3600));
        for (i, (finding, expected)) in steps.iter().enumerate() {
            assert_eq!(
                d.decide(finding, finding.severity(), t0),
                *expected,
                "step {i}: {:?}",
                finding.facts
            );
        }
    }
}
