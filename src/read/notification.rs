//! Typed model of SES feedback: identity notifications (`notificationType` Bounce, Complaint,
//! Delivery) and configuration-set event publishing (`eventType` Send, Delivery, Bounce,
//! Complaint, Reject, DeliveryDelay, `Rendering Failure`, Open, Click, Subscription).
//!
//! Owns the shapes only. Written by hand because `aws_lambda_events` has no types for them.
//! Every enumeration AWS may extend keeps unknown values (`Unknown(text)`) instead of failing,
//! so a new value is reported and counted. Recipient addresses are personal data: only their
//! domains are kept, at deserialization, so no later code can log an address by mistake.

use crate::read::document::{Members, lenient_text, reason, text};
use crate::read::domain::domain_of_address;
use crate::read::keyword::keyword_enum;
use crate::read::receipt::{CommonHeaders, Header};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

keyword_enum! {
    /// `bounce.bounceType`.
    pub enum BounceType {
        Undetermined = "Undetermined",
        Permanent = "Permanent",
        Transient = "Transient",
    } else Unknown(str::to_owned)
}

keyword_enum! {
    /// `bounce.bounceSubType`.
    pub enum BounceSubType {
        Undetermined = "Undetermined",
        General = "General",
        NoEmail = "NoEmail",
        Suppressed = "Suppressed",
        OnAccountSuppressionList = "OnAccountSuppressionList",
        MailboxFull = "MailboxFull",
        MessageTooLarge = "MessageTooLarge",
        ContentRejected = "ContentRejected",
        AttachmentRejected = "AttachmentRejected",
    } else Unknown(str::to_owned)
}

keyword_enum! {
    /// `complaint.complaintFeedbackType` (RFC 5965 feedback types, as the ISP reported them).
    pub enum FeedbackType {
        Abuse = "abuse",
        AuthFailure = "auth-failure",
        Fraud = "fraud",
        NotSpam = "not-spam",
        Other = "other",
        Virus = "virus",
    } else Unknown(str::to_owned)
}

keyword_enum! {
    /// `deliveryDelay.delayType`.
    pub enum DelayType {
        InternalFailure = "InternalFailure",
        General = "General",
        MailboxFull = "MailboxFull",
        SpamDetected = "SpamDetected",
        RecipientServerError = "RecipientServerError",
        IpFailure = "IPFailure",
        TransientCommunicationFailure = "TransientCommunicationFailure",
        ByoipHostNameLookupUnavailable = "BYOIPHostNameLookupUnavailable",
        Undetermined = "Undetermined",
        SendingDeliverabilityIssue = "SendingDeliverabilityIssue",
    } else Unknown(str::to_owned)
}

/// Which of SES's two feedback mechanisms produced the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Identity notifications: `notificationType`.
    IdentityNotification,
    /// Configuration-set event publishing: `eventType`.
    EventPublishing,
}

/// One feedback notification.
#[derive(Debug, Clone)]
pub struct Notification {
    pub form: Form,
    pub event: Event,
    pub mail: SentMail,
}

/// The event and its payload.
#[derive(Debug, Clone)]
pub enum Event {
    Bounce(Bounce),
    Complaint(Complaint),
    Delivery(Delivery),
    DeliveryDelay(DeliveryDelay),
    Reject(Reject),
    RenderingFailure(RenderingFailure),
    Send,
    Open,
    Click,
    Subscription,
    /// An event type this version does not know, as AWS named it.
    Unknown(String),
}

impl Event {
    /// The name AWS uses for the event type.
    pub fn name(&self) -> &str {
        match self {
            Self::Bounce(_) => "Bounce",
            Self::Complaint(_) => "Complaint",
            Self::Delivery(_) => "Delivery",
            Self::DeliveryDelay(_) => "DeliveryDelay",
            Self::Reject(_) => "Reject",
            Self::RenderingFailure(_) => "Rendering Failure",
            Self::Send => "Send",
            Self::Open => "Open",
            Self::Click => "Click",
            Self::Subscription => "Subscription",
            Self::Unknown(name) => name,
        }
    }
}

/// `mail`: the message the feedback is about. Only what a decision reads is modelled: a field
/// nothing reads (timestamps, ids, `destination`, …) can never make a record unreadable, in
/// whatever form SES writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMail {
    /// The domain of `mail.source` (the sender address, possibly with a display name).
    #[serde(default, rename = "source", deserialize_with = "address_domain")]
    pub source_domain: Option<String>,
    /// `arn:aws:ses:<region>:<account>:identity/<identity>`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub source_arn: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub message_id: Option<String>,
    /// Present only when the identity includes original headers in notifications.
    #[serde(default)]
    pub headers: Vec<Header>,
    #[serde(default)]
    pub common_headers: Option<CommonHeaders>,
    /// Event publishing tags (`ses:from-domain`, `ses:configuration-set`, and the sender's own).
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
}

impl SentMail {
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags.get(name)?.first().map(String::as_str)
    }
}

/// One recipient of a bounce, delay or complaint, reduced to what may be kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// The domain of `emailAddress`; the address itself is dropped when read.
    #[serde(default, rename = "emailAddress", deserialize_with = "address_domain")]
    pub domain: Option<String>,
    /// Enhanced status code (RFC 3463), e.g. `5.7.26`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    /// The receiving server's reply, e.g. `smtp; 550-5.7.26 …`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub diagnostic_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bounce {
    #[serde(default = "undetermined_bounce")]
    pub bounce_type: BounceType,
    #[serde(default = "undetermined_subtype")]
    pub bounce_sub_type: BounceSubType,
    #[serde(default)]
    pub bounced_recipients: Vec<Recipient>,
}

fn undetermined_bounce() -> BounceType {
    BounceType::Undetermined
}

fn undetermined_subtype() -> BounceSubType {
    BounceSubType::Undetermined
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Complaint {
    #[serde(default)]
    pub complained_recipients: Vec<Recipient>,
    /// Absent when the ISP sent no feedback report.
    #[serde(default)]
    pub complaint_feedback_type: Option<FeedbackType>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Plain addresses in this payload; reduced to domains.
    #[serde(default, deserialize_with = "address_domains")]
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDelay {
    #[serde(default = "undetermined_delay")]
    pub delay_type: DelayType,
    #[serde(default)]
    pub delayed_recipients: Vec<Recipient>,
}

fn undetermined_delay() -> DelayType {
    DelayType::Undetermined
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reject {
    #[serde(default, deserialize_with = "lenient_text")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderingFailure {
    #[serde(default, deserialize_with = "lenient_text")]
    pub template_name: Option<String>,
}

fn address_domain<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let address = Option::<String>::deserialize(deserializer)?;
    Ok(address.as_deref().and_then(domain_of_address))
}

fn address_domains<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let addresses = Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default();
    Ok(addresses
        .iter()
        .filter_map(|a| domain_of_address(a))
        .collect())
}

/// The sending identity named by `mail.sourceArn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityArn {
    pub region: String,
    pub account: String,
    /// A domain or an e-mail address, as verified in SES.
    pub identity: String,
}

impl IdentityArn {
    /// `arn:aws:ses:<region>:<account>:identity/<identity>` (any partition); `None` otherwise.
    pub fn parse(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_partition), Some("ses"), Some(region), Some(account), Some(rest)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let identity = rest.strip_prefix("identity/")?;
        (!identity.is_empty() && !region.is_empty()).then(|| Self {
            region: region.to_owned(),
            account: account.to_owned(),
            identity: identity.to_owned(),
        })
    }
}

/// Why a feedback notification could not be read; each says what was missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    #[error("neither notificationType nor eventType")]
    Untyped,
    #[error("a {event} notification without its {part} object")]
    Missing { event: String, part: &'static str },
    #[error("{event}: {part}: {reason}")]
    Malformed {
        event: String,
        part: &'static str,
        /// What the JSON reader said, without its position.
        reason: String,
    },
}

/// Reads a notification already recognized as feedback (it has `notificationType` or
/// `eventType`, and is not `Received`), from its JSON text.
pub fn parse(document: &[u8]) -> Result<Notification, NotificationError> {
    let members: Members<'_> =
        serde_json::from_slice(document).map_err(|e| NotificationError::NotAnObject(reason(&e)))?;
    from_members(&members, None)
}

/// [`parse`] for a document whose members were already read. `event_type` stands in for an
/// `eventType` the document omits (EventBridge names the event in its `detail-type`).
pub(crate) fn from_members(
    members: &Members<'_>,
    event_type: Option<&str>,
) -> Result<Notification, NotificationError> {
    let written = (text(&members.notification_type), text(&members.event_type));
    let (form, type_name) = match (written.0, written.1.or(event_type)) {
        (Some(name), _) => (Form::IdentityNotification, name.to_owned()),
        (None, Some(name)) => (Form::EventPublishing, name.to_owned()),
        (None, None) => return Err(NotificationError::Untyped),
    };
    fn read<T: serde::de::DeserializeOwned>(
        event: &str,
        part: &'static str,
        payload: Option<&RawValue>,
    ) -> Result<T, NotificationError> {
        // A member that is JSON null reads as absent: `Option` takes null for `None`.
        let payload = payload.ok_or_else(|| NotificationError::Missing {
            event: event.to_owned(),
            part,
        })?;
        serde_json::from_str(payload.get()).map_err(|e| NotificationError::Malformed {
            event: event.to_owned(),
            part,
            reason: reason(&e),
        })
    }
    let mail: SentMail = read(&type_name, "mail", members.mail)?;
    let event = match type_name.as_str() {
        "Bounce" => Event::Bounce(read(&type_name, "bounce", members.bounce)?),
        "Complaint" => Event::Complaint(read(&type_name, "complaint", members.complaint)?),
        "Delivery" => Event::Delivery(read(&type_name, "delivery", members.delivery)?),
        "DeliveryDelay" => {
            Event::DeliveryDelay(read(&type_name, "deliveryDelay", members.delivery_delay)?)
        }
        "Reject" => Event::Reject(read(&type_name, "reject", members.reject)?),
        "Rendering Failure" => {
            Event::RenderingFailure(read(&type_name, "failure", members.failure)?)
        }
        "Send" => Event::Send,
        "Open" => Event::Open,
        "Click" => Event::Click,
        "Subscription" => Event::Subscription,
        _ => Event::Unknown(type_name.clone()),
    };
    Ok(Notification { form, event, mail })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounce(json: &str) -> Bounce {
        match parse(json.as_bytes()) {
            Ok(Notification {
                event: Event::Bounce(b),
                ..
            }) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_values_are_kept_not_rejected() {
        let b = bounce(
            r#"{"notificationType":"Bounce","mail":{},"bounce":{"bounceType":"Transient",
                "bounceSubType":"SomethingNew","bouncedRecipients":[]}}"#,
        );
        assert_eq!(b.bounce_type, BounceType::Transient);
        assert_eq!(
            b.bounce_sub_type,
            BounceSubType::Unknown("SomethingNew".into())
        );
        assert!(!b.bounce_sub_type.is_known());
    }

    #[test]
    fn recipients_keep_only_their_domain() {
        let b = bounce(
            r#"{"eventType":"Bounce","mail":{"source":"\"Ops, Inc\" <ops@Example.COM>"},
                "bounce":{"bounceType":"Permanent","bounceSubType":"General",
                "bouncedRecipients":[{"emailAddress":"\"John\" <john@gmail.com>","status":"5.7.26"}]}}"#,
        );
        assert_eq!(b.bounced_recipients[0].domain.as_deref(), Some("gmail.com"));
        assert!(!format!("{b:?}").contains("john"));
    }

    #[test]
    fn missing_payload_and_mail_are_named() {
        let err = |json: &str| parse(json.as_bytes()).err().map(|e| e.to_string());
        assert_eq!(
            err(r#"{"notificationType":"Bounce","mail":{}}"#).as_deref(),
            Some("a Bounce notification without its bounce object")
        );
        assert_eq!(
            err(r#"{"eventType":"Open"}"#).as_deref(),
            Some("a Open notification without its mail object")
        );
    }

    #[test]
    fn event_publishing_names_and_unknown_types() {
        let n = parse(
            br#"{"eventType":"Rendering Failure","mail":{},
            "failure":{"errorMessage":"x","templateName":"T"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.form, Form::EventPublishing);
        assert_eq!(n.event.name(), "Rendering Failure");
        let n = parse(br#"{"eventType":"Teleport","mail":{}}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(n.event, Event::Unknown(ref t) if t == "Teleport"));
    }

    #[test]
    fn identity_arns() {
        let arn = IdentityArn::parse("arn:aws:ses:eu-west-1:111122223333:identity/example.com");
        assert_eq!(
            arn,
            Some(IdentityArn {
                region: "eu-west-1".into(),
                account: "111122223333".into(),
                identity: "example.com".into()
            })
        );
        let address = IdentityArn::parse("arn:aws-us-gov:ses:us-gov-west-1:1:identity/a@b.example");
        assert_eq!(address.map(|a| a.identity).as_deref(), Some("a@b.example"));
        for bad in [
            "",
            "arn:aws:sns:us-east-1:1:identity/x",
            "arn:aws:ses:us-east-1:1:configuration-set/x",
            "arn:aws:ses:us-east-1:1:identity/",
        ] {
            assert_eq!(IdentityArn::parse(bad), None, "{bad}");
        }
    }

    /// SES's documented delivery example once carried `processingTimeMillis` as a string
    /// ("546", the SES developer guide's notification examples); timestamps come as ISO text,
    /// epoch numbers or arrays, and ids without quotes. None of that may cost the record, and
    /// what decisions read keeps its meaning.
    #[test]
    fn fields_no_decision_reads_are_never_fatal() {
        let delivery = parse(
            br#"{"notificationType":"Delivery","mail":{"timestamp":1762419600,
                "source":"hello@example.com","sourceArn":"arn:aws:ses:eu-west-1:111122223333:identity/example.com",
                "messageId":20261106,"destination":"a@example.net","headersTruncated":"false"},
                "delivery":{"timestamp":[2026,11,6,9,0,2],"processingTimeMillis":"546",
                "recipients":["a@example.net"],"smtpResponse":250,"reportingMTA":null}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(delivery.mail.message_id.as_deref(), Some("20261106"));
        assert_eq!(delivery.mail.source_domain.as_deref(), Some("example.com"));
        match delivery.event {
            Event::Delivery(d) => assert_eq!(d.recipients, ["example.net"]),
            other => panic!("{other:?}"),
        }
        let b = bounce(
            r#"{"eventType":"Bounce","mail":{"messageId":{"odd":true}},"bounce":{"bounceType":"Permanent",
                "bounceSubType":"General","feedbackId":7,"timestamp":"not a date",
                "bouncedRecipients":[{"emailAddress":"x@example.org","status":550,"action":["failed"],
                "diagnosticCode":"smtp; 550 5.7.1 SPF check failed"}]}}"#,
        );
        assert_eq!(b.bounced_recipients[0].status.as_deref(), Some("550"));
        assert_eq!(
            b.bounced_recipients[0].diagnostic_code.as_deref(),
            Some("smtp; 550 5.7.1 SPF check failed")
        );
    }
}
