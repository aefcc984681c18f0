//! The top-level members of any JSON document this tool reads (a Lambda event, one of its
//! records, an SNS message, an SES notification), each left an unparsed slice of the input
//! until the document's shape says which one to read.
//!
//! Owns the one pass over a document's keys. `input` tells the shapes apart from them and
//! `notification` reads a feedback payload from them; each payload is then deserialized once,
//! so reading a whole event costs about one pass of `serde_json` over it, and no generic
//! `Value` tree is built.

use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};
use serde_json::value::RawValue;

/// Every member that tells a shape apart or carries a payload, at any level. Absent members
/// and JSON null read as `None`.
#[derive(Deserialize)]
pub(crate) struct Members<'a> {
    #[serde(rename = "Records", borrow)]
    pub(crate) records: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    pub(crate) ses: Option<&'a RawValue>,
    #[serde(rename = "Sns", alias = "sns", borrow)]
    pub(crate) sns: Option<Box<Members<'a>>>,
    #[serde(rename = "Type")]
    pub(crate) sns_type: Option<MaybeString>,
    #[serde(rename = "Message")]
    pub(crate) sns_message: Option<MaybeString>,
    /// The topic an SNS message came through.
    #[serde(rename = "TopicArn")]
    pub(crate) topic_arn: Option<MaybeString>,
    #[serde(rename = "notificationType")]
    pub(crate) notification_type: Option<MaybeString>,
    #[serde(rename = "eventType")]
    pub(crate) event_type: Option<MaybeString>,
    #[serde(rename = "AlarmName", borrow)]
    pub(crate) alarm_name: Option<&'a RawValue>,
    /// An EventBridge event's `detail-type` and `detail`.
    #[serde(rename = "detail-type")]
    pub(crate) detail_type: Option<MaybeString>,
    #[serde(borrow)]
    pub(crate) detail: Option<&'a RawValue>,
    /// An SQS record's `body` and `messageId`.
    pub(crate) body: Option<MaybeString>,
    #[serde(rename = "messageId")]
    pub(crate) message_id: Option<MaybeString>,
    #[serde(borrow)]
    pub(crate) mail: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) receipt: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) content: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) bounce: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) complaint: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) delivery: Option<&'a RawValue>,
    #[serde(rename = "deliveryDelay", borrow)]
    pub(crate) delivery_delay: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) reject: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) failure: Option<&'a RawValue>,
}

/// A member that ought to be a string: its text, or `None` when it holds another type, so the
/// caller can say what was wrong. Read in the same pass as the keys around it (an SNS
/// `Message` included).
pub(crate) struct MaybeString(Option<String>);

impl<'de> Deserialize<'de> for MaybeString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Lenient;
        impl<'de> Visitor<'de> for Lenient {
            type Value = Option<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Some(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Some(text))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| None)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(map).map(|_| None)
            }
        }
        deserializer.deserialize_any(Lenient).map(MaybeString)
    }
}

/// A field read as text whatever SES wrote: a string as it is, a number (an id or a code
/// written without quotes) in its decimal form, anything else as absent. For the fields a
/// decision reads, so an unexpected form loses that field, never the record.
pub(crate) fn lenient_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(
        match Option::<serde_json::Value>::deserialize(deserializer)? {
            Some(serde_json::Value::String(text)) => Some(text),
            Some(serde_json::Value::Number(number)) => Some(number.to_string()),
            _ => None,
        },
    )
}

/// The string a member holds; `None` when absent or not a string.
pub(crate) fn text(member: &Option<MaybeString>) -> Option<&str> {
    member.as_ref().and_then(|m| m.0.as_deref())
}

/// A deserialization error without its position: positions count from the start of the part
/// being read (a record, an SNS message), which would mislead a reader of the whole event.
pub(crate) fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&position) {
        Some(reason) => reason.to_owned(),
        None => text,
    }
}
