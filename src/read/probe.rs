//! The canary's probes: what the canary function records of each probe it sends (the same
//! shape `analyze --probe-state FILE` reads), and how a received message is told to be one:
//! by the `Message-ID` SES wrote when it sent it.

use crate::read::domain::is_within;
use serde::{Deserialize, Serialize};

/// One probe, as recorded when it was sent and updated when it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// The message id `SendEmail` returned.
    pub message_id: String,
    /// The domain identity it was sent from (its From domain), lower case.
    pub identity: String,
    /// When it was sent, in Unix seconds.
    pub sent: u64,
    /// When the receipt function saw it arrive, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    /// Whether `canary_missing` was already reported for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reported_missing: bool,
}

impl Probe {
    /// Whether it is overdue at `now`: not received, `deadline` seconds after it was sent.
    pub fn overdue(&self, now: u64, deadline: u64) -> bool {
        self.received.is_none() && self.sent.saturating_add(deadline) <= now
    }
}

/// The SES message id inside a `Message-ID` SES wrote on sending: `<ID@email.amazonses.com>`
/// in us-east-1, `<ID@REGION.amazonses.com>` elsewhere. `None` for any other Message-ID.
pub fn ses_message_id(header: &str) -> Option<&str> {
    let inner = header.trim().strip_prefix('<')?.strip_suffix('>')?;
    let (id, domain) = inner.rsplit_once('@')?;
    let plausible = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (plausible && is_within(&domain.to_ascii_lowercase(), "amazonses.com")).then_some(id)
}

/// Reads a probe file: a JSON array of probes.
pub fn probes_from_json(text: &str) -> Result<Vec<Probe>, serde_json::Error> {
    let mut probes: Vec<Probe> = serde_json::from_str(text)?;
    for probe in &mut probes {
        probe.identity.make_ascii_lowercase();
    }
    Ok(probes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ses_message_ids_are_recognized() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "<0100019a2b3c4d5e-1f2a3b4c-5d6e-7f80-91a2-b3c4d5e6f708-000000@email.amazonses.com>",
                Some("0100019a2b3c4d5e-1f2a3b4c-5d6e-7f80-91a2-b3c4d5e6f708-000000"),
            ),
            (
                " <0102abc-def-000000@eu-west-1.amazonses.com> ",
                Some("0102abc-def-000000"),
            ),
            ("<0102abc@EU-WEST-1.AMAZONSES.COM>", Some("0102abc")),
            ("<0102abc@mail.example.com>", None),
            ("<0102abc@notamazonses.com>", None),
            ("0102abc@email.amazonses.com", None),
            ("<@email.amazonses.com>", None),
            ("<a b@email.amazonses.com>", None),
            ("", None),
        ];
        for (header, expected) in cases {
            assert_eq!(ses_message_id(header), *expected, "{header:?}");
        }
    }

    #[test]
    fn overdue_until_received() {
        let mut probe = Probe {
            message_id: "m".into(),
            identity: "example.com".into(),
            sent: 1000,
            received: None,
            reported_missing: false,
        };
        assert!(!probe.overdue(1599, 600));
        assert!(probe.overdue(1600, 600));
        probe.received = Some(1042);
        assert!(!probe.overdue(5000, 600));
    }

    #[test]
    fn probe_files_name_what_is_wrong() {
        let probes = probes_from_json(r#"[{"message_id":"a","identity":"Example.COM","sent":5}]"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(probes[0].identity, "example.com");
        let error = probes_from_json(r#"[{"message_id":"a","identity":"x"}]"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("missing field `sent`"), "{error}");
        let error = probes_from_json(r#"[{"message_id":"a","identity":"x","sent":1,"sentt":2}]"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("sentt"), "{error}");
    }
}
