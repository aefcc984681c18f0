//! Typed model of the SES inbound (receipt) payloads this project reads.
//!
//! Owns the shapes only: the `ses` object of a receipt-rule Lambda event and the `Received`
//! notification an SNS action publishes (the same `mail` and `receipt`, plus `content`).
//! Written here rather than taken from `aws_lambda_events` because real mail breaks its
//! strict fields (a Bcc-only message has no `commonHeaders.to`). Every field real payloads
//! omit is optional; every enumeration AWS may extend has an `Unknown` variant.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `mail` + `receipt` (+ `content` for an SNS action with content).
#[derive(Debug, Clone, Deserialize)]
pub struct ReceivedMessage {
    pub mail: Mail,
    pub receipt: Receipt,
    /// The raw message, when the SNS action includes it (≤150 KB); see `receipt.action.encoding`.
    #[serde(default)]
    pub content: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The envelope MAIL FROM address as SES received it.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub headers_truncated: bool,
    #[serde(default)]
    pub headers: Vec<Header>,
    #[serde(default)]
    pub common_headers: Option<CommonHeaders>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommonHeaders {
    #[serde(default)]
    pub from: Vec<String>,
    #[serde(default)]
    pub return_path: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    #[serde(default)]
    pub spf_verdict: Option<Verdict>,
    #[serde(default)]
    pub dkim_verdict: Option<Verdict>,
    #[serde(default)]
    pub dmarc_verdict: Option<Verdict>,
    /// Present when the sender's DMARC check failed (and, in practice, sometimes when it passed).
    #[serde(default)]
    pub dmarc_policy: Option<SesDmarcPolicy>,
    #[serde(default)]
    pub action: Option<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Verdict {
    pub status: VerdictStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerdictStatus {
    Pass,
    Fail,
    Gray,
    ProcessingFailed,
    Disabled,
    Unknown,
}

impl VerdictStatus {
    fn from_text(text: &str) -> Self {
        match text {
            "PASS" => Self::Pass,
            "FAIL" => Self::Fail,
            "GRAY" => Self::Gray,
            "PROCESSING_FAILED" => Self::ProcessingFailed,
            "DISABLED" => Self::Disabled,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Gray => "GRAY",
            Self::ProcessingFailed => "PROCESSING_FAILED",
            Self::Disabled => "DISABLED",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// `receipt.dmarcPolicy`: a plain string in real payloads, lower case, sometimes upper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SesDmarcPolicy {
    None,
    Quarantine,
    Reject,
    Unknown,
}

impl SesDmarcPolicy {
    fn from_text(text: &str) -> Self {
        match text {
            "none" | "NONE" => Self::None,
            "quarantine" | "QUARANTINE" => Self::Quarantine,
            "reject" | "REJECT" => Self::Reject,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
            Self::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Action {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub encoding: Option<ContentEncoding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    Utf8,
    Base64,
    Unknown,
}

impl ContentEncoding {
    fn from_text(text: &str) -> Self {
        match text {
            "UTF8" | "UTF-8" => Self::Utf8,
            "BASE64" => Self::Base64,
            _ => Self::Unknown,
        }
    }
}

impl<'de> Deserialize<'de> for VerdictStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_json_text(deserializer, Self::from_text)
    }
}

impl<'de> Deserialize<'de> for SesDmarcPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_json_text(deserializer, Self::from_text)
    }
}

impl<'de> Deserialize<'de> for ContentEncoding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_json_text(deserializer, Self::from_text)
    }
}

/// Reads an enumeration from its JSON string through `from_text`. Written out rather than
/// derived so that a value of the wrong type is named ("invalid type: integer `7`, expected a
/// string") instead of surfacing as serde_json's bare "expected value", and so that reading a
/// keyword allocates nothing.
pub(crate) fn from_json_text<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    from_text: fn(&str) -> T,
) -> Result<T, D::Error> {
    struct Text<T>(fn(&str) -> T);
    impl<T> Visitor<'_> for Text<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
            Ok((self.0)(text))
        }
    }
    deserializer.deserialize_str(Text(from_text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_only_message_without_to_deserializes() {
        let json = r#"{"mail":{"source":"a@b.example","headers":[],"commonHeaders":{"from":["a@b.example"]}},
                       "receipt":{"spfVerdict":{"status":"PASS"},"dmarcPolicy":"REJECT"}}"#;
        let message: ReceivedMessage = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(message.receipt.dmarc_policy, Some(SesDmarcPolicy::Reject));
        assert_eq!(
            message.receipt.spf_verdict.map(|v| v.status),
            Some(VerdictStatus::Pass)
        );
    }

    #[test]
    fn unknown_verdicts_are_kept_not_rejected() {
        let json = r#"{"mail":{},"receipt":{"dkimVerdict":{"status":"SOMETHING_NEW"},"dmarcPolicy":"weird"}}"#;
        let message: ReceivedMessage = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            message.receipt.dkim_verdict.map(|v| v.status),
            Some(VerdictStatus::Unknown)
        );
        assert_eq!(message.receipt.dmarc_policy, Some(SesDmarcPolicy::Unknown));
    }
}
