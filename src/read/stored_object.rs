//! Which stored objects an event announces: S3's own event notification (`Records[].s3`),
//! or S3's "Object Created" event on EventBridge (what the template wires, since a bucket
//! notifying a function that may read it would be a circular dependency in CloudFormation).
//!
//! S3 notifications URL-encode the key (a space as `+`, other bytes as `%XX`); EventBridge
//! carries it as it is. [`StoredObject::key`] is always the key itself.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use serde::Deserialize;

/// One object an event announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub bucket: String,
    /// Decoded.
    pub key: String,
    pub size: Option<u64>,
}

impl std::fmt::Display for StoredObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Why an event names no object this function can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectEventError {
    #[error("not an S3 event notification nor an EventBridge \"Object Created\" event: {0}")]
    Shape(String),
    #[error("S3 record {index} names no {missing}")]
    Incomplete { index: usize, missing: &'static str },
    #[error("S3 record {index}: the key {key:?} is not URL-encoded UTF-8")]
    Key { index: usize, key: String },
    #[error(
        "EventBridge event {detail_type:?} from {source_name:?}: only S3's \"Object Created\" is read"
    )]
    OtherEvent {
        detail_type: String,
        source_name: String,
    },
}

#[derive(Debug, Deserialize)]
struct Detail {
    bucket: Bucket,
    object: Object,
}

#[derive(Debug, Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Object {
    key: String,
    #[serde(default)]
    size: Option<u64>,
}

/// The objects `event` announces, in order.
pub fn stored_objects(event: &[u8]) -> Result<Vec<StoredObject>, ObjectEventError> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "Records")]
        records: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe =
        serde_json::from_slice(event).map_err(|e| ObjectEventError::Shape(e.to_string()))?;
    if probe.records.is_some() {
        let event: S3Event =
            serde_json::from_slice(event).map_err(|e| ObjectEventError::Shape(e.to_string()))?;
        return event
            .records
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                let incomplete = |missing| ObjectEventError::Incomplete { index, missing };
                let bucket = record.s3.bucket.name.ok_or(incomplete("bucket"))?;
                let encoded = record.s3.object.key.ok_or(incomplete("object key"))?;
                let key = url_decode(&encoded).ok_or(ObjectEventError::Key {
                    index,
                    key: encoded.clone(),
                })?;
                Ok(StoredObject {
                    bucket,
                    key,
                    size: record.s3.object.size.and_then(|s| u64::try_from(s).ok()),
                })
            })
            .collect();
    }
    let event: EventBridgeEvent<serde_json::Value> =
        serde_json::from_slice(event).map_err(|e| ObjectEventError::Shape(e.to_string()))?;
    if event.source != "aws.s3" || event.detail_type != "Object Created" {
        return Err(ObjectEventError::OtherEvent {
            detail_type: event.detail_type,
            source_name: event.source,
        });
    }
    let detail: Detail =
        serde_json::from_value(event.detail).map_err(|e| ObjectEventError::Shape(e.to_string()))?;
    Ok(vec![StoredObject {
        bucket: detail.bucket.name,
        key: detail.object.key,
        size: detail.object.size,
    }])
}

/// An S3 notification's key decoded: `+` is a space, `%XX` a byte; `None` when that is not
/// UTF-8 or a `%` is not followed by two hex digits.
fn url_decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = encoded.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_event(key: &str) -> String {
        serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-30T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:EXAMPLE"},
            "requestParameters": {"sourceIPAddress": "10.0.0.1"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "reports",
                   "bucket": {"name": "mail-bucket", "arn": "arn:aws:s3:::mail-bucket"},
                   "object": {"key": key, "size": 2048}}
        }]})
        .to_string()
    }

    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        let cases = [
            ("reports/0100abc", Some("reports/0100abc")),
            ("reports/a+b%3Ac", Some("reports/a b:c")),
            ("reports/caf%C3%A9", Some("reports/café")),
            ("reports/bad%2", None),
            ("reports/bad%zz", None),
            ("reports/%FF", None),
        ];
        for (encoded, expected) in cases {
            let read = stored_objects(s3_event(encoded).as_bytes());
            match expected {
                Some(key) => assert_eq!(
                    read,
                    Ok(vec![StoredObject {
                        bucket: "mail-bucket".into(),
                        key: key.into(),
                        size: Some(2048)
                    }]),
                    "{encoded}"
                ),
                None => assert!(
                    matches!(read, Err(ObjectEventError::Key { index: 0, .. })),
                    "{encoded}: {read:?}"
                ),
            }
        }
    }

    #[test]
    fn eventbridge_object_created_names_its_key_unencoded() {
        let event = serde_json::json!({
            "version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
            "account": "111122223333", "time": "2026-11-30T10:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:s3:::mail-bucket"],
            "detail": {"version": "0", "bucket": {"name": "mail-bucket"},
                       "object": {"key": "reports/a+b", "size": 10},
                       "reason": "PutObject"}
        });
        let read = stored_objects(event.to_string().as_bytes());
        assert_eq!(
            read,
            Ok(vec![StoredObject {
                bucket: "mail-bucket".into(),
                key: "reports/a+b".into(),
                size: Some(10)
            }])
        );
    }

    #[test]
    fn other_events_are_refused_by_name() {
        let scheduled =
            br#"{"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}"#;
        assert_eq!(
            stored_objects(scheduled),
            Err(ObjectEventError::OtherEvent {
                detail_type: "Scheduled Event".into(),
                source_name: "aws.events".into()
            })
        );
        assert!(matches!(
            stored_objects(b"not json"),
            Err(ObjectEventError::Shape(_))
        ));
        assert!(matches!(
            stored_objects(br#"{"Records": [{"s3": {}}]}"#),
            Err(ObjectEventError::Shape(_))
        ));
    }
}
