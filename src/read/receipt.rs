//! Typed model of the SES inbound (receipt) payloads this project reads.
//!
//! Owns the shapes only: the `ses` object of a receipt-rule Lambda event and the `Received`
//! notification an SNS action publishes (the same `mail` and `receipt`, plus `content`).
//! Written here rather than taken from `aws_lambda_events` because real mail breaks its
//! strict fields (a Bcc-only message has no `commonHeaders.to`). Only what a decision reads is
//! modelled, so a field nothing reads can never make a record unreadable; every field real
//! payloads omit is optional; every enumeration AWS may extend keeps unknown values.

use crate::read::keyword::keyword_enum;
use serde::Deserialize;

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
    /// When SES received the message (ISO 8601).
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
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The envelope recipients the receipt rule matched.
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub spf_verdict: Option<ReceiptVerdict>,
    #[serde(default)]
    pub dkim_verdict: Option<ReceiptVerdict>,
    #[serde(default)]
    pub dmarc_verdict: Option<ReceiptVerdict>,
    /// Present when the sender's DMARC check failed (and, in practice, sometimes when it passed).
    #[serde(default)]
    pub dmarc_policy: Option<SesDmarcPolicy>,
    #[serde(default)]
    pub action: Option<Action>,
}

/// `{"status": "PASS"}`: one of SES's verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReceiptVerdict {
    pub status: VerdictStatus,
}

keyword_enum! {
    /// `receipt.*Verdict.status`.
    pub enum VerdictStatus {
        Pass = "PASS",
        Fail = "FAIL",
        Gray = "GRAY",
        ProcessingFailed = "PROCESSING_FAILED",
        Disabled = "DISABLED",
    } else Unknown(str::to_owned)
}

keyword_enum! {
    /// `receipt.dmarcPolicy`: a plain string in real payloads, lower case, sometimes upper.
    pub enum SesDmarcPolicy {
        None = "none",
        Quarantine = "quarantine",
        Reject = "reject",
    } else Unknown(str::to_owned)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Action {
    #[serde(default)]
    pub encoding: Option<ContentEncoding>,
}

keyword_enum! {
    /// `receipt.action.encoding` of an SNS action.
    pub enum ContentEncoding {
        Utf8 = "UTF8" | "UTF-8",
        Base64 = "BASE64",
    } else Unknown(str::to_owned)
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
            Some(VerdictStatus::Unknown("SOMETHING_NEW".into()))
        );
        assert_eq!(
            message.receipt.dmarc_policy,
            Some(SesDmarcPolicy::Unknown("weird".into()))
        );
    }
}
