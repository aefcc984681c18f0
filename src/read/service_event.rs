//! SES's own service events, which it sends to the EventBridge default bus with no set-up:
//! the account's (or a tenant's) sending paused or resumed (`Sending Status Disabled` /
//! `Enabled`), and Virtual Deliverability Manager's advisor opening or resolving a
//! recommendation (`Advisor Recommendation Status Open` / `Resolved`).
//!
//! Shapes as the SES developer guide documents them (tenants.html, "Setting up EventBridge
//! notifications"):
//!
//! ```text
//! Sending Status Disabled: "detail": {"version": "1.0.0", "data": {"origin": "CUSTOMER_MANAGED",
//!   "record": {"status": "DISABLED", "cause": "…", "lastUpdatedTimestamp": [2025, 7, 24, …]}}}
//! Advisor Recommendation Status Open: "detail": {"version": "1.0.0",
//!   "data": "The bounce rate exceeded 15.0% …", "metadata": {"impact": "HIGH", "type": "BOUNCE"}}
//! ```
//!
//! Everything in `detail` is optional and read leniently: a field this project does not need
//! never makes the event unreadable. Recommendation types are those of SESv2's
//! `Recommendation` (DKIM, DMARC, SPF, BIMI, COMPLAINT, BOUNCE, FEEDBACK_3P, IP_LISTING).

use crate::read::keyword::keyword_enum;
use serde_json::Value;

keyword_enum! {
    /// What a VDM advisor recommendation is about.
    pub enum RecommendationType {
        Dkim = "DKIM",
        Dmarc = "DMARC",
        Spf = "SPF",
        Bimi = "BIMI",
        Complaint = "COMPLAINT",
        Bounce = "BOUNCE",
        FeedbackThirdParty = "FEEDBACK_3P",
        IpListing = "IP_LISTING",
    } else Unknown(str::to_owned)
}

impl RecommendationType {
    /// DKIM, SPF and DMARC: what this project watches. The others are reputation and
    /// content advice.
    pub fn is_authentication(&self) -> bool {
        matches!(self, Self::Dkim | Self::Dmarc | Self::Spf)
    }
}

/// One SES service event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEvent {
    /// Sending was paused (`enabled: false`) or resumed.
    SendingStatus {
        enabled: bool,
        /// `record.status` as SES wrote it (`DISABLED`, `ENABLED`, `REINSTATED`).
        status: Option<String>,
        cause: Option<String>,
        /// `CUSTOMER_MANAGED` (someone in the account) or `AWS_MANAGED` (SES's enforcement).
        origin: Option<String>,
        /// The paused entity: the account, a tenant or a configuration set, by ARN.
        resource: Option<String>,
    },
    /// A VDM advisor recommendation opened (`open: true`) or resolved.
    Advisor {
        open: bool,
        kind: Option<RecommendationType>,
        impact: Option<String>,
        /// What VDM advised, in its words.
        description: Option<String>,
        /// The resource it is about (an identity's ARN, a tenant's).
        resource: Option<String>,
    },
}

/// The service event for an EventBridge `detail-type`, read from its `detail`; `None` when the
/// detail-type is not one.
pub fn read(detail_type: &str, detail: &str, resources: &[String]) -> Option<ServiceEvent> {
    let detail: Value = serde_json::from_str(detail).unwrap_or(Value::Null);
    let resource = resources.first().cloned().or_else(|| {
        text(&detail, &["resourceArn"]).or_else(|| text(&detail, &["data", "resourceArn"]))
    });
    let event = match detail_type {
        "Sending Status Enabled" | "Sending Status Disabled" => ServiceEvent::SendingStatus {
            enabled: detail_type.ends_with("Enabled"),
            status: text(&detail, &["data", "record", "status"])
                .or_else(|| text(&detail, &["sendingStatus"])),
            cause: text(&detail, &["data", "record", "cause"])
                .or_else(|| text(&detail, &["cause"])),
            origin: text(&detail, &["data", "origin"]),
            resource,
        },
        "Advisor Recommendation Status Open" | "Advisor Recommendation Status Resolved" => {
            ServiceEvent::Advisor {
                open: detail_type.ends_with("Open"),
                kind: text(&detail, &["metadata", "type"])
                    .or_else(|| text(&detail, &["type"]))
                    .map(|t| RecommendationType::from_text(&t)),
                impact: text(&detail, &["metadata", "impact"])
                    .or_else(|| text(&detail, &["impact"])),
                description: text(&detail, &["data"]).or_else(|| text(&detail, &["description"])),
                resource,
            }
        }
        _ => return None,
    };
    Some(event)
}

/// The string at `path`, when there is one.
fn text(value: &Value, path: &[&str]) -> Option<String> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Which kind of SES event an EventBridge `detail-type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// `Email …`: an event-publishing record.
    Email,
    /// `Sending Status …` and `Advisor Recommendation …`.
    Service,
    Other,
}

/// Which kind of SES event a `detail-type` names.
pub fn category(detail_type: &str) -> Category {
    if email_event_type(detail_type).is_some() {
        Category::Email
    } else if detail_type.starts_with("Sending Status ")
        || detail_type.starts_with("Advisor Recommendation Status ")
    {
        Category::Service
    } else {
        Category::Other
    }
}

/// The event-publishing `eventType` an email event's `detail-type` stands for (for details
/// that omit `eventType`).
pub fn email_event_type(detail_type: &str) -> Option<&'static str> {
    Some(match detail_type {
        "Email Bounced" => "Bounce",
        "Email Complaint Received" => "Complaint",
        "Email Delivered" => "Delivery",
        "Email Delivery Delayed" => "DeliveryDelay",
        "Email Sent" => "Send",
        "Email Rejected" => "Reject",
        "Email Rendering Failed" => "Rendering Failure",
        "Email Opened" => "Open",
        "Email Clicked" => "Click",
        "Email Subscribed" => "Subscription",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SES developer guide's examples (tenants.html), as EventBridge delivers them.
    #[test]
    fn documented_examples() {
        let paused = read(
            "Sending Status Disabled",
            r#"{"version": "1.0.0", "data": {"origin": "CUSTOMER_MANAGED", "record": {"status": "DISABLED",
                "cause": "Status manually updated.", "lastUpdatedTimestamp": [2025, 7, 24, 12, 44, 28, 995000000]}}}"#,
            &["arn:aws:ses:us-east-1:012345678901:tenant/t/tn-1".into()],
        );
        assert_eq!(
            paused,
            Some(ServiceEvent::SendingStatus {
                enabled: false,
                status: Some("DISABLED".into()),
                cause: Some("Status manually updated.".into()),
                origin: Some("CUSTOMER_MANAGED".into()),
                resource: Some("arn:aws:ses:us-east-1:012345678901:tenant/t/tn-1".into()),
            })
        );
        let advice = read(
            "Advisor Recommendation Status Open",
            r#"{"version": "1.0.0", "data": "The bounce rate exceeded 15.0% based on a representative volume of 197 emails.",
                "metadata": {"impact": "HIGH", "type": "BOUNCE"}}"#,
            &[],
        );
        match advice {
            Some(ServiceEvent::Advisor {
                open: true,
                kind: Some(RecommendationType::Bounce),
                impact: Some(impact),
                description: Some(description),
                resource: None,
            }) => {
                assert_eq!(impact, "HIGH");
                assert!(description.starts_with("The bounce rate exceeded"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn odd_details_are_read_not_refused() {
        // A detail that is not an object, and one with numbers where text is usual.
        let odd = read("Advisor Recommendation Status Resolved", "7", &[]);
        assert!(matches!(
            odd,
            Some(ServiceEvent::Advisor {
                open: false,
                kind: None,
                ..
            })
        ));
        let numbers = read(
            "Sending Status Enabled",
            r#"{"data": {"record": {"status": 1}}}"#,
            &[],
        );
        assert!(matches!(
            numbers,
            Some(ServiceEvent::SendingStatus {
                enabled: true,
                status: None,
                ..
            })
        ));
        assert_eq!(read("Email Bounced", "{}", &[]), None);
        assert_eq!(category("Email Delivery Delayed"), Category::Email);
        assert_eq!(category("Sending Status Disabled"), Category::Service);
        assert_eq!(category("Scheduled Event"), Category::Other);
    }
}
