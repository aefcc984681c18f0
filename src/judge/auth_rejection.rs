//! Recognizes authentication rejections in bounce and delay diagnostics.
//!
//! Owns the table of provider signatures: which enhanced status code (RFC 3463) and wording
//! means which authentication check failed (what fixes it is `say::explain`'s). Pure text
//! matching, no I/O. Rejections for reverse DNS, reputation or blocklists are *not*
//! authentication failures and are recognized as such so they are never counted as one.

/// What the receiver says failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failed {
    Spf,
    Dkim,
    Dmarc,
    /// SPF or DKIM passed, but for a domain not aligned with From.
    Alignment,
    /// The From domain publishes no DMARC record.
    NoPolicy,
    /// Neither SPF nor DKIM passed (or the receiver's required level was not met).
    Unauthenticated,
}

/// A diagnostic recognized as an authentication rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRejection {
    pub provider: &'static str,
    /// The enhanced status code, e.g. `5.7.26`.
    pub code: String,
    pub failed: Failed,
    /// 4.x.x: the receiver deferred (SES retries); 5.x.x: it refused.
    pub transient: bool,
}

/// What a diagnostic is, as far as authentication goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnosis {
    Auth(AuthRejection),
    /// A policy rejection that is not about authentication (reverse DNS, reputation,
    /// blocklists): named so it is never mistaken for one.
    NotAuth(&'static str),
    /// Nothing to say (user unknown, mailbox full, …).
    Other,
}

/// One row of the signature table.
struct Signature {
    provider: &'static str,
    /// Codes without their class digit: `7.26` matches 4.7.26 and 5.7.26.
    code: &'static str,
    /// All must occur in the lower-cased text (empty: the code alone suffices).
    needs: &'static [&'static str],
    failed: Failed,
}

/// Provider signatures, most specific first. Gmail's codes come from Google's SMTP error
/// reference, Microsoft's from its NDR documentation, Yahoo's from its sender error codes.
const SIGNATURES: &[Signature] = &[
    // Gmail 7.26 has three wordings: DMARC policy, SPF hard fail, and plain unauthenticated.
    Signature {
        provider: "Gmail",
        code: "7.26",
        needs: &["dmarc"],
        failed: Failed::Dmarc,
    },
    Signature {
        provider: "Gmail",
        code: "7.26",
        needs: &["spf", "hard fail"],
        failed: Failed::Spf,
    },
    Signature {
        provider: "Gmail",
        code: "7.26",
        needs: &[],
        failed: Failed::Unauthenticated,
    },
    Signature {
        provider: "Gmail",
        code: "7.27",
        needs: &[],
        failed: Failed::Spf,
    },
    Signature {
        provider: "Gmail",
        code: "7.30",
        needs: &[],
        failed: Failed::Dkim,
    },
    Signature {
        provider: "Gmail",
        code: "7.32",
        needs: &[],
        failed: Failed::Alignment,
    },
    Signature {
        provider: "Gmail",
        code: "7.40",
        needs: &[],
        failed: Failed::NoPolicy,
    },
    Signature {
        provider: "Microsoft",
        code: "7.509",
        needs: &[],
        failed: Failed::Dmarc,
    },
    Signature {
        provider: "Microsoft",
        code: "7.515",
        needs: &[],
        failed: Failed::Unauthenticated,
    },
    // Yahoo uses 5.7.9 for other policy refusals too: only its "unauthenticated" wording
    // (or one naming a method) is an authentication rejection.
    Signature {
        provider: "Yahoo",
        code: "7.9",
        needs: &["unauthenticated"],
        failed: Failed::Unauthenticated,
    },
];

/// Wordings that mark a rejection as reputation or infrastructure, not authentication.
const NOT_AUTH: &[(&str, &str)] = &[
    ("ptr record", "reverse DNS (PTR) of the sending IP"),
    ("reverse dns", "reverse DNS of the sending IP"),
    ("blocklist", "a blocklist"),
    ("blacklist", "a blocklist"),
    ("blocked using", "a blocklist"),
    ("spamhaus", "a blocklist"),
    ("reputation", "sender reputation"),
    ("rate limited", "rate limiting"),
];

/// Classifies one recipient's diagnostic: `status` is SES's enhanced status field,
/// `diagnostic` the receiver's reply.
pub fn diagnose(status: Option<&str>, diagnostic: Option<&str>) -> Diagnosis {
    let text = diagnostic.unwrap_or("").to_ascii_lowercase();
    // The reply's own code is the receiver's word; SES's `status` field is sometimes generic
    // (5.0.0) when the reply carries the precise one.
    let code = enhanced_codes(&text)
        .find(|c| c[2..].starts_with("7."))
        .or_else(|| status.map(str::trim).filter(|s| is_enhanced_code(s)))
        .map(str::to_owned);
    let Some(code) = code else {
        return Diagnosis::Other;
    };
    let (class, rest) = code.split_at(1);
    let detail = &rest[1..];
    if !detail.starts_with("7.") {
        return Diagnosis::Other;
    }
    let transient = class == "4";

    // Gmail 7.25 is reverse DNS; it names no authentication method but must not slip into
    // the generic rule through the word "authentication" in its help link.
    if detail == "7.25" {
        return Diagnosis::NotAuth("reverse DNS (PTR) of the sending IP");
    }
    // Gmail's 7.26 rate limiting is still about being unauthenticated; check signatures first.
    for signature in SIGNATURES {
        if detail == signature.code && signature.needs.iter().all(|n| text.contains(n)) {
            return Diagnosis::Auth(AuthRejection {
                provider: signature.provider,
                code,
                failed: signature.failed,
                transient,
            });
        }
    }
    if let Some((_, what)) = NOT_AUTH.iter().find(|(needle, _)| text.contains(needle)) {
        return Diagnosis::NotAuth(what);
    }
    // Any other receiver: a 4.7.x/5.7.x reply that names a method or says unauthenticated.
    let failed = if text.contains("dmarc") {
        Some(Failed::Dmarc)
    } else if has_word(&text, "dkim") {
        Some(Failed::Dkim)
    } else if has_word(&text, "spf") {
        Some(Failed::Spf)
    } else if text.contains("unauthenticated") {
        Some(Failed::Unauthenticated)
    } else {
        None
    };
    match failed {
        Some(failed) => Diagnosis::Auth(AuthRejection {
            provider: "another receiver",
            code,
            failed,
            transient,
        }),
        None => Diagnosis::Other,
    }
}

/// Enhanced status codes (`class.subject.detail`, RFC 3463) appearing in the text.
fn enhanced_codes(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        while start < bytes.len() {
            let at = start;
            start += 1;
            let preceded_ok =
                at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'.');
            if !preceded_ok || !matches!(bytes[at], b'2' | b'4' | b'5') {
                continue;
            }
            let len = code_len(&bytes[at..]);
            if len > 0 {
                start = at + len;
                return text.get(at..at + len);
            }
        }
        None
    })
}

/// Length of an enhanced status code at the start of `bytes`, or 0.
fn code_len(bytes: &[u8]) -> usize {
    // class "." 1*3digit "." 1*3digit, not followed by another digit or dot-digit.
    let digits = |from: usize| {
        bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    if bytes.get(1) != Some(&b'.') {
        return 0;
    }
    let subject = digits(2);
    if !(1..=3).contains(&subject) || bytes.get(2 + subject) != Some(&b'.') {
        return 0;
    }
    let detail_at = 3 + subject;
    let detail = digits(detail_at);
    if !(1..=3).contains(&detail) {
        return 0;
    }
    let end = detail_at + detail;
    let continues =
        bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
    if continues { 0 } else { end }
}

fn is_enhanced_code(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'2' | b'4' | b'5'))
        && code_len(text.as_bytes()) == text.len()
}

/// Whether `word` occurs delimited by non-alphanumeric characters ("spf" but not "spfx").
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(status: &str, text: &str) -> Option<(&'static str, String, Failed, bool)> {
        match diagnose(Some(status), Some(text)) {
            Diagnosis::Auth(r) => Some((r.provider, r.code, r.failed, r.transient)),
            _ => None,
        }
    }

    /// One case per provider wording, in the receivers' own phrasing.
    #[test]
    fn provider_signatures() {
        let cases: &[(&str, &str, &str, Failed, bool)] = &[
            (
                "5.7.26",
                "smtp; 550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy. Please contact the administrator of example.com domain if this was a legitimate mail. 550 5.7.26 DMARC policy - gsmtp",
                "Gmail",
                Failed::Dmarc,
                false,
            ),
            (
                "5.7.26",
                "smtp; 550-5.7.26 The MAIL FROM domain [bounce.example.com] has an SPF record with a hard fail policy (-all) but it fails to pass SPF checks with the ip: [192.0.2.1]. gsmtp",
                "Gmail",
                Failed::Spf,
                false,
            ),
            (
                "5.7.26",
                "smtp; 550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, and has been blocked. gsmtp",
                "Gmail",
                Failed::Unauthenticated,
                false,
            ),
            (
                "4.7.26",
                "smtp; 421-4.7.26 This mail has been rate limited because it is unauthenticated. gsmtp",
                "Gmail",
                Failed::Unauthenticated,
                true,
            ),
            (
                "5.7.27",
                "smtp; 550-5.7.27 This mail has been blocked because the sender is unauthenticated. Authentication results: SPF [bounce.example.com] with ip: [192.0.2.1] = did not pass. gsmtp",
                "Gmail",
                Failed::Spf,
                false,
            ),
            (
                "5.7.30",
                "smtp; 550-5.7.30 This mail has been blocked because DKIM does not pass. gsmtp",
                "Gmail",
                Failed::Dkim,
                false,
            ),
            (
                "4.7.32",
                "smtp; 421-4.7.32 Your email has been rate limited because the From: header isn't aligned with either the authenticated SPF or DKIM organizational domain. gsmtp",
                "Gmail",
                Failed::Alignment,
                true,
            ),
            (
                "5.7.40",
                "smtp; 550-5.7.40 Your email has been rejected because the sending domain doesn't have a DMARC record. gsmtp",
                "Gmail",
                Failed::NoPolicy,
                false,
            ),
            (
                "5.7.509",
                "smtp; 550 5.7.509 Access denied, sending domain [EXAMPLE.COM] does not pass DMARC verification and has a DMARC policy of reject.",
                "Microsoft",
                Failed::Dmarc,
                false,
            ),
            (
                "5.7.515",
                "smtp; 550 5.7.515 Access denied, sending domain [example.com] doesn't meet the required authentication level.",
                "Microsoft",
                Failed::Unauthenticated,
                false,
            ),
            (
                "5.7.9",
                "smtp; 550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.",
                "Yahoo",
                Failed::Unauthenticated,
                false,
            ),
            // SES reports 5.0.0 while the reply carries the precise code.
            (
                "5.0.0",
                "smtp; 550 5.7.509 Access denied, sending domain [example.com] does not pass DMARC verification",
                "Microsoft",
                Failed::Dmarc,
                false,
            ),
            // Generic rule: another receiver naming a method.
            (
                "5.7.1",
                "smtp; 550 5.7.1 Email rejected per DMARC policy for example.com",
                "another receiver",
                Failed::Dmarc,
                false,
            ),
            (
                "5.7.1",
                "smtp; 550 5.7.1 SPF check failed for bounce.example.com",
                "another receiver",
                Failed::Spf,
                false,
            ),
            (
                "4.7.1",
                "smtp; 451 4.7.1 DKIM signature invalid, try again",
                "another receiver",
                Failed::Dkim,
                true,
            ),
        ];
        for (status, text, provider, failed, transient) in cases {
            let code = if status == &"5.0.0" {
                "5.7.509"
            } else {
                status
            };
            assert_eq!(
                auth(status, text),
                Some((*provider, code.to_owned(), *failed, *transient)),
                "{text}"
            );
        }
    }

    #[test]
    fn not_authentication() {
        let cases: &[(&str, &str)] = &[
            ("5.1.1", "smtp; 550 5.1.1 user unknown"),
            ("5.2.2", "smtp; 552 5.2.2 mailbox full"),
            (
                "5.7.25",
                "smtp; 550-5.7.25 The IP address sending this message does not have a PTR record setup, or the corresponding forward DNS entry does not point to the sending IP. To protect our users from spam, mail sent from your IP address has been blocked. Please visit https://support.google.com/mail/answer/81126#authentication for more information. gsmtp",
            ),
            (
                "5.7.1",
                "smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            ),
            (
                "5.7.1",
                "smtp; 550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
            ),
            (
                "5.7.9",
                "smtp; 554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes",
            ),
            (
                "5.7.1",
                "smtp; 550 5.7.1 Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. gsmtp",
            ),
            (
                "5.1.1",
                "Amazon SES did not send the message to this address because it is on the suppression list for your account.",
            ),
        ];
        for (status, text) in cases {
            assert_eq!(auth(status, text), None, "{text}");
        }
        assert!(matches!(
            diagnose(Some("5.7.25"), Some("550-5.7.25 no PTR record")),
            Diagnosis::NotAuth(_)
        ));
        assert_eq!(diagnose(None, None), Diagnosis::Other);
    }

    #[test]
    fn enhanced_codes_are_found_exactly() {
        let codes: Vec<&str> =
            enhanced_codes("550-5.7.26 x 5.7.2600 v1.2.3.4 abc5.1.1 421 4.7.0 ip 192.0.2.1")
                .collect();
        assert_eq!(codes, vec!["5.7.26", "4.7.0"]);
        assert!(is_enhanced_code("5.7.509"));
        assert!(!is_enhanced_code("5.7"));
        assert!(!is_enhanced_code("5.7.1x"));
        assert!(!is_enhanced_code(""));
    }
}
