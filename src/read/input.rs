//! Recognizing what an input is: an SES receipt Lambda event; an SNS event, SQS event or SNS
//! message body carrying an SES notification; an EventBridge event (SES's email events and its
//! service events); a bare notification, or several in a row as Firehose exports them; or a
//! raw RFC 5322 message.
//!
//! Owns shape detection and content decoding. A batch is split into records so one bad record
//! is reported on its own and never hides the others.

use crate::read::document::{Members, reason, text};
use crate::read::notification::{self, Notification, NotificationError};
use crate::read::observation::Source;
use crate::read::receipt::{ContentEncoding, ReceivedMessage};
use crate::read::service_event::{self, Category, ServiceEvent};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use base64::Engine as _;
use serde_json::Value;
use serde_json::value::RawValue;

/// One record of an input, recognized.
#[derive(Debug, Clone)]
pub enum Item {
    /// An SES receipt (Lambda action, or SNS `Received` notification).
    Received {
        message: Box<ReceivedMessage>,
        source: Source,
    },
    /// A raw message.
    Raw(Vec<u8>),
    /// An SES feedback notification (bounce, complaint, delivery, or event publishing, through
    /// SNS, SQS, EventBridge or a Firehose export).
    Feedback(Box<Notification>),
    /// One of SES's own service events on EventBridge (sending paused, VDM advice).
    Service(ServiceEvent),
    /// Something that is not an SES notification (an SNS subscription confirmation, a
    /// CloudWatch alarm, plain text, another service's EventBridge event).
    NotSes { what: String },
}

/// One record of an input: what it is, and the SQS message it came in (for partial batch
/// failures).
#[derive(Debug, Clone)]
pub struct Record {
    pub item: Result<Item, InputError>,
    pub sqs_message_id: Option<String>,
    /// The SNS topic it came through, when it came through one.
    pub topic_arn: Option<String>,
}

impl Record {
    fn plain(item: Result<Item, InputError>) -> Self {
        Self {
            item,
            sqs_message_id: None,
            topic_arn: None,
        }
    }
}

/// The topic an SNS envelope names.
fn topic(members: &Members<'_>) -> Option<String> {
    text(&members.topic_arn).map(str::to_owned)
}

/// Why an input or one of its records could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("unrecognized JSON shape ({0})")]
    UnknownShape(String),
    #[error("record {index}: {error}")]
    Record {
        index: usize,
        #[source]
        error: RecordShapeError,
    },
    #[error("neither JSON nor an RFC 5322 message")]
    NotAMessage,
    #[error("input is empty")]
    Empty,
    #[error("the message has no header section")]
    NoHeaderSection,
}

/// Why one record of an input is not one this tool reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordShapeError {
    #[error("not an object")]
    NotAnObject,
    #[error("Sns is not an object")]
    SnsNotAnObject,
    #[error("not a record this tool reads")]
    Unreadable,
    #[error("neither an SES, SNS nor SQS record (keys: {0})")]
    Neither(String),
    #[error("SNS record without a Message string")]
    NoSnsMessage,
    #[error("SQS record without a body string")]
    NoSqsBody,
    /// An SQS body, or a line of an export, that is JSON of no known shape.
    #[error("unrecognized JSON shape ({0})")]
    UnknownShape(String),
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("not an SES notification: {0}")]
    Notification(#[source] NotificationError),
    /// What was wrong with its `mail`, `receipt` or `content`, in the JSON reader's words.
    #[error("not an SES receipt: {0}")]
    Receipt(String),
    /// The EventBridge envelope itself, in the JSON reader's words.
    #[error("not an EventBridge event: {0}")]
    EventBridge(String),
    /// An SNS message from a topic this function was not set up to read.
    #[error("from the unexpected SNS topic {0} (expected: {1})")]
    UnexpectedTopic(String, String),
}

/// Why SES's `content` could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("content is not valid Base64: {0}")]
pub struct ContentError(#[source] base64::DecodeError);

/// Recognizes an input. `Err` when nothing in it is usable; otherwise one entry per record,
/// each recognized or with its own error.
///
/// JSON goes straight into the typed model: the shape is read from the keys alone (their
/// values are left as unparsed slices), and only the part each record needs is deserialized,
/// once. A generic `Value` tree is built only to word an error. Several JSON documents in a
/// row (newline-delimited, as Firehose exports SES events to S3) are one record each.
pub fn detect(bytes: &[u8]) -> Result<Vec<Record>, InputError> {
    let trimmed = bytes.trim_ascii_start();
    if trimmed.is_empty() {
        return Err(InputError::Empty);
    }
    if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
        return match serde_json::from_slice::<Members<'_>>(bytes) {
            Ok(members) => detect_document(members, bytes),
            Err(_) => stream(bytes).ok_or_else(|| shape_error(bytes)),
        };
    }
    if looks_like_message(trimmed) {
        return Ok(vec![Record::plain(Ok(Item::Raw(bytes.to_vec())))]);
    }
    Err(InputError::NotAMessage)
}

fn detect_document(members: Members<'_>, bytes: &[u8]) -> Result<Vec<Record>, InputError> {
    if let Some(records) = members.records {
        return Ok(records
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                let (item, sqs_message_id, topic_arn) = detect_record(record);
                Record {
                    item: item.map_err(|error| InputError::Record { index, error }),
                    sqs_message_id,
                    topic_arn,
                }
            })
            .collect());
    }
    // JSON that parsed is UTF-8 (serde_json checks strings; the rest is ASCII).
    let document = std::str::from_utf8(bytes).unwrap_or_default();
    match single(&members, document) {
        Some(item) => Ok(vec![Record {
            topic_arn: topic(&members),
            ..Record::plain(item.map_err(|error| InputError::Record { index: 0, error }))
        }]),
        None => Err(shape_error(bytes)),
    }
}

/// A document that is one record: an SNS message body (as delivered over HTTP(S), SQS or
/// copied from the console), a bare notification, an EventBridge event, or a bare `ses`
/// object. `None` when it is none of these.
fn single(members: &Members<'_>, document: &str) -> Option<Result<Item, RecordShapeError>> {
    Some(
        if members.sns_type.is_some() && members.sns_message.is_some() {
            sns_message(members)
        } else if members.detail_type.is_some() && members.detail.is_some() {
            eventbridge(document)
        } else if members.notification_type.is_some() || members.event_type.is_some() {
            notification(members)
        } else if members.mail.is_some() && members.receipt.is_some() {
            received_members(members, Source::ReceiptLambda)
        } else {
            return None;
        },
    )
}

/// Several JSON documents in a row (a Firehose export), each a record; `None` unless there
/// are at least two. Firehose writes them one per line or back to back; when one is broken
/// (a truncated upload), the lines are read one by one so the others still count.
fn stream(bytes: &[u8]) -> Option<Vec<Record>> {
    let documents: Vec<Result<&str, RecordShapeError>> =
        match serde_json::Deserializer::from_slice(bytes)
            .into_iter::<&RawValue>()
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(documents) => documents.into_iter().map(|d| Ok(d.get())).collect(),
            Err(_) => std::str::from_utf8(bytes)
                .ok()?
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(|line| match serde_json::from_str::<&RawValue>(line) {
                    Ok(document) => Ok(document.get()),
                    Err(error) => Err(RecordShapeError::Json(error.to_string())),
                })
                .collect(),
        };
    if documents.len() < 2 || documents.iter().all(Result::is_err) {
        return None;
    }
    Some(
        documents
            .into_iter()
            .enumerate()
            .map(|(index, document)| {
                let item = document.and_then(|document| {
                    match serde_json::from_str::<Members<'_>>(document) {
                        Ok(members) => single(&members, document).unwrap_or_else(|| {
                            Err(RecordShapeError::UnknownShape(keys_of(document)))
                        }),
                        Err(_) => Err(RecordShapeError::NotAnObject),
                    }
                });
                Record::plain(item.map_err(|error| InputError::Record { index, error }))
            })
            .collect(),
    )
}

/// One record of a batch and, for SQS, its message id; the SNS topic it came through.
type Detected = (
    Result<Item, RecordShapeError>,
    Option<String>,
    Option<String>,
);

fn detect_record(record: &RawValue) -> Detected {
    let Ok(members) = serde_json::from_str::<Members<'_>>(record.get()) else {
        return (Err(record_error(record.get().as_bytes())), None, None);
    };
    if let Some(ses) = members.ses {
        return (
            received(ses.get().as_bytes(), Source::ReceiptLambda),
            None,
            None,
        );
    }
    if let Some(sns) = &members.sns {
        return (sns_message(sns), None, topic(sns));
    }
    if members.body.is_some() {
        let id = text(&members.message_id).map(str::to_owned);
        let (item, topic_arn) = sqs_body(&members);
        return (item, id, topic_arn);
    }
    let error = RecordShapeError::Neither(keys_of(record.get()));
    (Err(error), None, None)
}

/// An SQS message body: an SNS envelope (the subscription without raw message delivery), an
/// SES notification (with it), or an EventBridge event; and the envelope's topic.
fn sqs_body(members: &Members<'_>) -> (Result<Item, RecordShapeError>, Option<String>) {
    let Some(body) = text(&members.body) else {
        return (Err(RecordShapeError::NoSqsBody), None);
    };
    match serde_json::from_str::<Members<'_>>(body) {
        Ok(inner) => (
            single(&inner, body)
                .unwrap_or_else(|| Err(RecordShapeError::UnknownShape(keys_of(body)))),
            topic(&inner),
        ),
        Err(_) if body.trim_start().starts_with('{') => {
            (Err(RecordShapeError::Json(json_reason(body))), None)
        }
        Err(_) => (
            Ok(Item::NotSes {
                what: "an SQS message that is not JSON".into(),
            }),
            None,
        ),
    }
}

/// An EventBridge event, read through `aws_lambda_events`' envelope: SES's email events carry
/// an event-publishing record in `detail`, its service events their own detail.
fn eventbridge(document: &str) -> Result<Item, RecordShapeError> {
    let event = envelope(document)?;
    let detail_type = event.detail_type.as_str();
    if event.source != "aws.ses" {
        return Ok(Item::NotSes {
            what: format!("an EventBridge event from {} ({detail_type})", event.source),
        });
    }
    let unknown = || Item::NotSes {
        what: format!("an SES event this version does not know ({detail_type})"),
    };
    match service_event::category(detail_type) {
        Category::Email => {
            let inner: Members<'_> = serde_json::from_str(event.detail.get())
                .map_err(|e| RecordShapeError::EventBridge(format!("detail: {}", reason(&e))))?;
            notification::from_members(&inner, service_event::email_event_type(detail_type))
                .map(|n| Item::Feedback(Box::new(n)))
                .map_err(RecordShapeError::Notification)
        }
        Category::Service => {
            let resources = event.resources.unwrap_or_default();
            Ok(
                service_event::read(detail_type, event.detail.get(), &resources)
                    .map_or_else(unknown, Item::Service),
            )
        }
        Category::Other => Ok(unknown()),
    }
}

/// The EventBridge envelope. Only `detail-type`, `source`, `detail` and `resources` are read:
/// when another member is malformed (a `time` that is not a timestamp, a numeric `version`),
/// the envelope is read again without the others rather than losing the event.
fn envelope(document: &str) -> Result<EventBridgeEvent<Box<RawValue>>, RecordShapeError> {
    let wrong = |e: serde_json::Error| RecordShapeError::EventBridge(reason(&e));
    serde_json::from_str(document).or_else(|_| {
        let mut members: serde_json::Map<String, Value> =
            serde_json::from_str(document).map_err(wrong)?;
        members.retain(|key, value| match key.as_str() {
            "detail-type" | "source" | "detail" => true,
            "resources" => value
                .as_array()
                .is_some_and(|r| r.iter().all(Value::is_string)),
            _ => false,
        });
        for key in ["detail-type", "source"] {
            if !members.get(key).is_some_and(Value::is_string) {
                return Err(RecordShapeError::EventBridge(format!(
                    "{key} is not a string"
                )));
            }
        }
        serde_json::from_str(&Value::Object(members).to_string()).map_err(wrong)
    })
}

fn sns_message(sns: &Members<'_>) -> Result<Item, RecordShapeError> {
    let kind = text(&sns.sns_type).unwrap_or("Notification");
    if kind != "Notification" {
        return Ok(Item::NotSes {
            what: format!("SNS {kind}"),
        });
    }
    let Some(message) = text(&sns.sns_message) else {
        return Err(RecordShapeError::NoSnsMessage);
    };
    match serde_json::from_str::<Members<'_>>(message) {
        // An EventBridge rule can target SNS too: its event is the message.
        Ok(members) if members.detail_type.is_some() && members.detail.is_some() => {
            eventbridge(message)
        }
        Ok(members) => notification(&members),
        Err(_) => Ok(Item::NotSes {
            what: "an SNS message that is not JSON".into(),
        }),
    }
}

fn notification(members: &Members<'_>) -> Result<Item, RecordShapeError> {
    match (text(&members.notification_type), text(&members.event_type)) {
        (Some("Received"), _) => received_members(members, Source::ReceiptSns),
        (Some(_), _) | (None, Some(_)) => notification::from_members(members, None)
            .map(|n| Item::Feedback(Box::new(n)))
            .map_err(RecordShapeError::Notification),
        (None, None) if members.alarm_name.is_some() => Ok(Item::NotSes {
            what: "a CloudWatch alarm".into(),
        }),
        (None, None) => Ok(Item::NotSes {
            what: "an SNS message that is not an SES notification".into(),
        }),
    }
}

/// A receipt (`mail`, `receipt` and the SNS action's `content`) from members already read.
fn received_members(members: &Members<'_>, source: Source) -> Result<Item, RecordShapeError> {
    fn part<T: serde::de::DeserializeOwned>(
        raw: Option<&RawValue>,
        name: &str,
    ) -> Result<Option<T>, String> {
        raw.map(|raw| {
            serde_json::from_str(raw.get()).map_err(|e| format!("{name}: {}", reason(&e)))
        })
        .transpose()
    }
    let message = || -> Result<ReceivedMessage, String> {
        Ok(ReceivedMessage {
            mail: part(members.mail, "mail")?.ok_or("missing field `mail`")?,
            receipt: part(members.receipt, "receipt")?.ok_or("missing field `receipt`")?,
            content: part(members.content, "content")?,
        })
    };
    match message() {
        Ok(message) => Ok(Item::Received {
            message: Box::new(message),
            source,
        }),
        Err(error) => Err(RecordShapeError::Receipt(error)),
    }
}

fn received(document: &[u8], source: Source) -> Result<Item, RecordShapeError> {
    let message: ReceivedMessage =
        serde_json::from_slice(document).map_err(|e| RecordShapeError::Receipt(reason(&e)))?;
    Ok(Item::Received {
        message: Box::new(message),
        source,
    })
}

/// Why a JSON input has no shape we know, worded from the document itself. Only error paths
/// come here, so building the whole tree is affordable.
fn shape_error(bytes: &[u8]) -> InputError {
    match serde_json::from_slice::<Value>(bytes) {
        Err(error) => InputError::Json(error.to_string()),
        Ok(Value::Object(object)) if object.get("Records").is_some_and(|r| !r.is_array()) => {
            InputError::UnknownShape("Records is not an array".into())
        }
        Ok(Value::Object(object)) => {
            InputError::UnknownShape(format!("top-level keys: {}", key_list(&object)))
        }
        Ok(_) => InputError::UnknownShape("not an object".into()),
    }
}

/// Why a record is not one: it is not an object, or its `Sns` member is not.
fn record_error(record: &[u8]) -> RecordShapeError {
    match serde_json::from_slice::<Value>(record) {
        Ok(Value::Object(object)) => match object.get("Sns").or_else(|| object.get("sns")) {
            Some(sns) if !sns.is_object() => RecordShapeError::SnsNotAnObject,
            _ => RecordShapeError::Unreadable,
        },
        _ => RecordShapeError::NotAnObject,
    }
}

/// The first keys of a JSON object, for an error message.
fn key_list(object: &serde_json::Map<String, Value>) -> String {
    let keys: Vec<&str> = object.keys().map(String::as_str).take(8).collect();
    keys.join(", ")
}

/// The first keys of a JSON document, for an error message (empty when it is not an object).
fn keys_of(document: &str) -> String {
    match serde_json::from_str::<Value>(document) {
        Ok(Value::Object(object)) => key_list(&object),
        _ => String::new(),
    }
}

/// Why a text is not JSON, in the JSON reader's words.
fn json_reason(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .err()
        .map_or_else(String::new, |e| e.to_string())
}

/// The raw message SES attached to an SNS notification, decoded.
pub fn decode_content(message: &ReceivedMessage) -> Option<Result<Vec<u8>, ContentError>> {
    let content = message.content.as_deref()?;
    let encoding = message
        .receipt
        .action
        .as_ref()
        .and_then(|a| a.encoding.as_ref())
        .unwrap_or(&ContentEncoding::Utf8);
    Some(match encoding {
        ContentEncoding::Base64 => {
            let compact: Vec<u8> = content
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(ContentError)
        }
        ContentEncoding::Utf8 | ContentEncoding::Unknown(_) => Ok(content.as_bytes().to_vec()),
    })
}

/// Header fields of a raw message, topmost first, with values unfolded. `None` when the
/// bytes do not start with a header section.
pub fn raw_headers(raw: &[u8]) -> Option<Vec<(String, String)>> {
    let message = mail_parser::MessageParser::new().parse_headers(raw)?;
    let headers: Vec<(String, String)> = message
        .headers()
        .iter()
        .filter_map(|h| {
            let value = raw.get(h.offset_start as usize..h.offset_end as usize)?;
            let value = String::from_utf8_lossy(value);
            let unfolded: String = value
                .split(['\r', '\n'])
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join("");
            Some((h.name.as_str().to_owned(), unfolded.trim().to_owned()))
        })
        .collect();
    (!headers.is_empty()).then_some(headers)
}

/// Whether the bytes open with something shaped like a header field (`Name:`).
pub(crate) fn looks_like_message(bytes: &[u8]) -> bool {
    let line_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = &bytes[..line_end];
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line[..colon]
            .iter()
            .all(|&b| b.is_ascii_graphic() && b != b':'),
        _ => line.starts_with(b"From "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(bytes: &str) -> Vec<String> {
        match detect(bytes.as_bytes()) {
            Ok(records) => records
                .into_iter()
                .map(|record| {
                    let kind = match record.item {
                        Ok(Item::Received { source, .. }) => source.as_str().to_owned(),
                        Ok(Item::Raw(_)) => "raw".into(),
                        Ok(Item::Feedback(n)) => format!("feedback:{}", n.event.name()),
                        Ok(Item::Service(event)) => format!("service:{event:?}"),
                        Ok(Item::NotSes { what }) => format!("not-ses:{what}"),
                        Err(e) => format!("error:{e}"),
                    };
                    match record.sqs_message_id {
                        Some(id) => format!("{kind} (sqs {id})"),
                        None => kind,
                    }
                })
                .collect(),
            Err(e) => vec![format!("input-error:{e}")],
        }
    }

    #[test]
    fn shapes() {
        let received = r#"{"notificationType":"Received","mail":{},"receipt":{}}"#;
        let sns_body = serde_json::json!({"Type":"Notification","Message": received}).to_string();
        let sns_event = serde_json::json!({"Records":[{"EventSource":"aws:sns","Sns":{"Type":"Notification","Message": received}}]}).to_string();
        let cases: Vec<(String, Vec<&str>)> = vec![
            // A Lambda-action event with two records, one broken.
            (
                r#"{"Records":[{"ses":{"mail":{},"receipt":{}}},{"ses":{"mail":3}}]}"#.into(),
                vec![
                    "receipt_lambda",
                    "error:record 1: not an SES receipt: invalid type: integer `3`, expected struct Mail",
                ],
            ),
            (sns_body, vec!["receipt_sns"]),
            (sns_event, vec!["receipt_sns"]),
            (received.into(), vec!["receipt_sns"]),
            (
                r#"{"notificationType":"Bounce","mail":{},"bounce":{}}"#.into(),
                vec!["feedback:Bounce"],
            ),
            (
                r#"{"eventType":"Rendering Failure","mail":{},"failure":{}}"#.into(),
                vec!["feedback:Rendering Failure"],
            ),
            (
                r#"{"eventType":"Bounce","mail":{}}"#.into(),
                vec![
                    "error:record 0: not an SES notification: a Bounce notification without its bounce object",
                ],
            ),
            (
                r#"{"Type":"SubscriptionConfirmation","Message":"You have chosen..."}"#.into(),
                vec!["not-ses:SNS SubscriptionConfirmation"],
            ),
            (
                r#"{"Type":"Notification","Message":"Hello\r\nworld!"}"#.into(),
                vec!["not-ses:an SNS message that is not JSON"],
            ),
            (
                "From: a@b.example\r\nSubject: x\r\n\r\nbody".into(),
                vec!["raw"],
            ),
            (
                r#"{"Records":{"ses":{}}}"#.into(),
                vec!["input-error:unrecognized JSON shape (Records is not an array)"],
            ),
            (
                r#"{"Records":[{"Sns":"text"},7,{"Sns":{"Type":"Notification","Message":"{\"notificationType\":\"Received\",\"receipt\":{}}"}}]}"#.into(),
                vec![
                    "error:record 0: Sns is not an object",
                    "error:record 1: not an object",
                    "error:record 2: not an SES receipt: missing field `mail`",
                ],
            ),
            (
                r#"{"hello":1}"#.into(),
                vec!["input-error:unrecognized JSON shape (top-level keys: hello)"],
            ),
            (
                "{not json".into(),
                vec!["input-error:not valid JSON: key must be a string at line 1 column 2"],
            ),
            (
                "just some words".into(),
                vec!["input-error:neither JSON nor an RFC 5322 message"],
            ),
            ("   ".into(), vec!["input-error:input is empty"]),
        ];
        for (input, expected) in cases {
            assert_eq!(kinds(&input), expected, "{input}");
        }
    }

    /// EventBridge, SQS and Firehose-export shapes.
    #[test]
    fn more_shapes() {
        let bounce = r#"{"eventType":"Bounce","mail":{},"bounce":{"bounceType":"Permanent"}}"#;
        let sns_body = serde_json::json!({"Type":"Notification","MessageId":"m","Message": bounce})
            .to_string();
        let eventbridge = |detail_type: &str, source: &str, detail: &str| {
            format!(
                r#"{{"version":"0","id":"e1","detail-type":"{detail_type}","source":"{source}","account":"111122223333","time":"2025-01-15T10:30:02Z","region":"us-east-1","resources":[],"detail":{detail}}}"#
            )
        };
        let cases: Vec<(String, Vec<&str>)> = vec![
            // SES's email event on EventBridge: the detail is an event-publishing record.
            (
                eventbridge("Email Bounced", "aws.ses", bounce),
                vec!["feedback:Bounce"],
            ),
            // A detail without eventType: the detail-type names it.
            (
                eventbridge("Email Bounced", "aws.ses", r#"{"mail":{},"bounce":{}}"#),
                vec!["feedback:Bounce"],
            ),
            // Another service's event is not refused, only skipped.
            (
                eventbridge("Scheduled Event", "aws.events", "{}"),
                vec!["not-ses:an EventBridge event from aws.events (Scheduled Event)"],
            ),
            (
                eventbridge("Email Teleported", "aws.ses", "{}"),
                vec!["not-ses:an SES event this version does not know (Email Teleported)"],
            ),
            // A broken envelope says what was wrong with it.
            (
                r#"{"detail-type":"Email Bounced","source":7,"detail":{}}"#.into(),
                vec!["error:record 0: not an EventBridge event: source is not a string"],
            ),
            // Members nothing reads (time, version, resources of numbers) never cost the event.
            (
                eventbridge("Email Bounced", "aws.ses", bounce)
                    .replace("2025-01-15T10:30:02Z", "yesterday")
                    .replace(r#""version":"0""#, r#""version":0"#)
                    .replace(r#""resources":[]"#, r#""resources":[1]"#),
                vec!["feedback:Bounce"],
            ),
            // SQS: an SNS envelope (no raw delivery), a raw notification, and a broken body.
            (
                serde_json::json!({"Records": [
                    {"messageId": "q1", "eventSource": "aws:sqs", "body": sns_body},
                    {"messageId": "q2", "eventSource": "aws:sqs", "body": bounce},
                    {"messageId": "q3", "eventSource": "aws:sqs", "body": "{\"x\":"},
                    {"messageId": "q4", "eventSource": "aws:sqs", "body": eventbridge("Email Bounced", "aws.ses", bounce)},
                ]})
                .to_string(),
                vec![
                    "feedback:Bounce (sqs q1)",
                    "feedback:Bounce (sqs q2)",
                    "error:record 2: not valid JSON: EOF while parsing a value at line 1 column 5 (sqs q3)",
                    "feedback:Bounce (sqs q4)",
                ],
            ),
            // A Firehose export: one event per line.
            (
                format!("{bounce}\n{bounce}\n{{\"hello\":1}}\n"),
                vec![
                    "feedback:Bounce",
                    "feedback:Bounce",
                    "error:record 2: unrecognized JSON shape (hello)",
                ],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(kinds(&input), expected, "{input}");
        }
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(detect(deep.as_bytes()), Err(InputError::Json(_))));
    }

    #[test]
    fn raw_headers_are_unfolded() {
        let raw =
            b"Authentication-Results: amazonses.com;\r\n spf=pass\r\nFrom: a@b.example\r\n\r\nbody";
        let headers = raw_headers(raw).unwrap_or_default();
        assert_eq!(
            headers[0],
            (
                "Authentication-Results".into(),
                "amazonses.com; spf=pass".into()
            )
        );
    }
}
