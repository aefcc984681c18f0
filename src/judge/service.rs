//! What SES's service events mean: a paused account (or tenant) is the most severe thing that
//! can happen to a sender, a resumed one clears it; Virtual Deliverability Manager's advice
//! about authentication (DKIM, SPF, DMARC) is a finding, and its resolution clears it. Advice
//! about reputation or content is not this project's to page on, and is only logged.

use crate::judge::findings::{Facts, Finding};
use crate::read::notification::IdentityArn;
use crate::read::observation::Source;
use crate::read::service_event::ServiceEvent;

/// The findings of one service event.
pub fn findings(event: &ServiceEvent) -> Vec<Finding> {
    let facts = match event {
        ServiceEvent::SendingStatus {
            enabled,
            status,
            cause,
            origin,
            resource,
        } => {
            if *enabled {
                Facts::SendingResumed {
                    resource: resource.clone(),
                    status: status.clone(),
                }
            } else {
                Facts::SendingPaused {
                    resource: resource.clone(),
                    cause: cause.clone(),
                    origin: origin.clone(),
                }
            }
        }
        ServiceEvent::Advisor {
            open,
            kind,
            impact,
            description,
            resource,
        } => {
            let Some(kind) = kind.as_ref().filter(|k| k.is_authentication()) else {
                return Vec::new();
            };
            if *open {
                Facts::AdvisorRecommendation {
                    kind: kind.clone(),
                    impact: impact.clone(),
                    description: description.clone(),
                    resource: resource.clone(),
                }
            } else {
                Facts::AdvisorResolved {
                    kind: kind.clone(),
                    resource: resource.clone(),
                }
            }
        }
    };
    let domain = resource_domain(event);
    vec![Finding::new(
        facts,
        domain.as_deref(),
        Source::SesServiceEvent,
    )]
}

/// The domain an event's resource names, when it is an SES identity.
fn resource_domain(event: &ServiceEvent) -> Option<String> {
    let resource = match event {
        ServiceEvent::SendingStatus { resource, .. } | ServiceEvent::Advisor { resource, .. } => {
            resource.as_deref()?
        }
    };
    let identity = IdentityArn::parse(resource)?.identity;
    crate::read::domain::domain_of_identity(&identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::findings::{Kind, Severity};
    use crate::read::service_event::RecommendationType;

    fn advice(open: bool, kind: RecommendationType) -> ServiceEvent {
        ServiceEvent::Advisor {
            open,
            kind: Some(kind),
            impact: Some("HIGH".into()),
            description: Some("No DMARC record was found for example.com.".into()),
            resource: Some("arn:aws:ses:us-east-1:111122223333:identity/example.com".into()),
        }
    }

    /// What one event should produce: its kind, severity and domain, or nothing.
    type Expected = Option<(Kind, Severity, Option<&'static str>)>;

    #[test]
    fn what_each_event_means() {
        let paused = ServiceEvent::SendingStatus {
            enabled: false,
            status: Some("DISABLED".into()),
            cause: Some("High bounce rate.".into()),
            origin: Some("AWS_MANAGED".into()),
            resource: Some("arn:aws:ses:us-east-1:111122223333:tenant/t/tn-1".into()),
        };
        let cases: Vec<(ServiceEvent, Expected)> = vec![
            // A paused account or tenant: critical, about no one domain.
            (
                paused,
                Some((Kind::SendingPaused, Severity::Critical, None)),
            ),
            // Authentication advice, about the identity's domain.
            (
                advice(true, RecommendationType::Dmarc),
                Some((
                    Kind::AdvisorRecommendation,
                    Severity::Warning,
                    Some("example.com"),
                )),
            ),
            (
                advice(false, RecommendationType::Dkim),
                Some((Kind::AdvisorResolved, Severity::Info, Some("example.com"))),
            ),
            // Reputation advice is not ours to page on.
            (advice(true, RecommendationType::Bounce), None),
        ];
        for (event, expected) in cases {
            let found = findings(&event);
            let got = found
                .first()
                .map(|f| (f.kind(), f.severity(), f.domain.as_deref()));
            assert_eq!(got, expected, "{event:?}");
        }
    }
}
