//! What one received message tells about its authentication: the [`Observation`].
//!
//! Owns the extraction from headers and SES verdicts: which `Authentication-Results` header
//! is trusted, which identifiers were checked with what result, and where the envelope sender
//! came from. No judgement happens here: `judge::align` and `judge::received` decide what the
//! observation means.

use crate::read::authres::{self, Method, MethodResult, PropertyType, ResultKeyword};
use crate::read::domain::{
    domain_of_address, domain_of_identity, domains_of_address_list, normalize,
};
use crate::read::keyword::keyword_enum;
use crate::read::receipt::{ReceivedMessage, SesDmarcPolicy, VerdictStatus};

keyword_enum! {
    /// The input an observation (and the findings about it) came from.
    pub enum Source {
        /// A receipt rule's Lambda action (`Records[].ses`).
        ReceiptLambda = "receipt_lambda",
        /// A receipt rule's SNS action (`notificationType: Received`).
        ReceiptSns = "receipt_sns",
        /// A raw RFC 5322 message (`.eml`, or SNS content read on its own).
        RawMessage = "raw_message",
        /// An SES identity notification (bounce, complaint, delivery).
        SesNotification = "ses_notification",
        /// An SES configuration-set event (event publishing).
        EventPublishing = "event_publishing",
        /// The posture audit (SES identity state against DNS).
        Audit = "audit",
        /// One of SES's service events on EventBridge (sending status, VDM advice).
        SesServiceEvent = "ses_service_event",
        /// A receiver's DMARC aggregate report or a sender's SMTP TLS report.
        Report = "report",
        /// The canary function: a probe it could not send, or one never received.
        Canary = "canary",
    }
}

keyword_enum! {
    /// Where the envelope sender (RFC5321.MailFrom) domain was read, by the header's name.
    pub enum EnvelopeOrigin {
        AuthResults = "Authentication-Results",
        ReceivedSpf = "Received-SPF",
        ReturnPath = "Return-Path",
        SesSource = "SES mail.source",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSender {
    pub domain: String,
    pub origin: EnvelopeOrigin,
}

/// One SPF or DKIM check of an identifier, as the trusted server reported it (or as
/// re-verification found it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierCheck {
    pub result: ResultKeyword,
    /// The authenticated domain: the MAIL FROM (or HELO) domain for SPF, `d=` for DKIM.
    pub domain: Option<String>,
    /// The DKIM selector, when known.
    pub selector: Option<String>,
}

impl IdentifierCheck {
    pub fn passed(&self) -> bool {
        self.result == ResultKeyword::Pass
    }
}

/// SES's own verdicts from `receipt`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SesVerdicts {
    pub spf: Option<VerdictStatus>,
    pub dkim: Option<VerdictStatus>,
    pub dmarc: Option<VerdictStatus>,
    pub dmarc_policy: Option<SesDmarcPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub source: Source,
    pub message_id: Option<String>,
    /// The `Message-ID` header (for a received event, `message_id` is SES's inbound id).
    pub header_message_id: Option<String>,
    /// Normalized RFC5322.From domains (several when the header lists several authors).
    pub header_from: Vec<String>,
    pub mail_from: Option<EnvelopeSender>,
    pub helo: Option<String>,
    pub client_ip: Option<String>,
    /// Whether a header from a trusted authserv-id was found at all.
    pub trusted_results: bool,
    pub spf: Option<IdentifierCheck>,
    pub dkim: Vec<IdentifierCheck>,
    /// The trusted server's own `dmarc=` result.
    pub reported_dmarc: Option<ResultKeyword>,
    pub ses: Option<SesVerdicts>,
    pub headers_truncated: bool,
    /// Further `Authentication-Results` headers claiming a trusted authserv-id: added before
    /// the trusted server received the message.
    pub forged_auth_results: usize,
    /// What became of the attached raw message's content, when one came.
    pub reverification: Reverification,
    /// Where verifying the attached raw message again disagreed with the trusted server.
    pub disagreements: Vec<Disagreement>,
    /// Problems met while reading the input that did not stop the analysis.
    pub notes: Vec<String>,
    /// The unsubscribe headers of list mail (`List-Unsubscribe` present).
    pub list_unsubscribe: Option<ListUnsubscribeHeaders>,
}

/// A list message's unsubscribe headers (RFC 2369, RFC 8058), as the message carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUnsubscribeHeaders {
    /// `List-Unsubscribe` holds an https URI.
    pub https: bool,
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    pub one_click_post: bool,
    /// The `d=` of each DKIM signature whose `h=` covers both headers.
    pub covered_by: Vec<String>,
}

/// One method whose re-verification of the raw message disagreed with what the trusted
/// server reported; the re-verified results replace the reported ones in the observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub method: Method,
    /// What re-verification found.
    pub verified: Vec<IdentifierCheck>,
    /// What the trusted server had reported.
    pub reported: Vec<IdentifierCheck>,
}

/// What was done with the content of an attached raw message: whether the results in the
/// observation are the trusted server's words or were recomputed here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Reverification {
    /// No raw message came with the record: the results are the trusted server's.
    #[default]
    NoContent,
    /// The content came and was not verified again; the results are the trusted server's.
    NotDone(NotReverified),
    /// DKIM, and SPF when `spf`, recomputed from the content.
    Done {
        spf: bool,
        /// Signatures the verifier here could not check.
        refused: Vec<Refusal>,
        /// Passing signatures whose `l=` leaves part of the body unsigned.
        partial: Vec<PartialBody>,
    },
}

/// Why attached content was not verified again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReverified {
    /// Offline: no DNS to fetch keys and SPF records from.
    NoDns,
    /// The content is not a message the verifier can read.
    Unparsable,
    /// DNS did not answer within the record's budget.
    OutOfTime(std::time::Duration),
}

/// A DKIM signature the verifier here refused to check (a syntax or algorithm it does not
/// accept), with what the trusted server said of the same signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `d=`, read from the signature header even where the verifier could not parse it.
    pub domain: Option<String>,
    pub selector: Option<String>,
    /// The verifier's reason, in its words.
    pub reason: String,
    /// The trusted server's passing result for that domain, kept in the results.
    pub kept: Option<ResultKeyword>,
}

/// A passing DKIM signature that covers only the first `signed` octets of a canonicalized
/// body of `body` octets (RFC 6376 §3.5 `l=`): what follows is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialBody {
    pub domain: Option<String>,
    pub signed: u64,
    pub body: u64,
}

/// A header field as `(name, value)`, borrowed or owned; lists run topmost first.
pub trait HeaderField {
    fn name(&self) -> &str;
    fn value(&self) -> &str;
}

impl<N: AsRef<str>, V: AsRef<str>> HeaderField for (N, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

impl HeaderField for crate::read::receipt::Header {
    fn name(&self) -> &str {
        &self.name
    }
    fn value(&self) -> &str {
        &self.value
    }
}

/// Builds an observation from an SES receipt record (Lambda action or SNS notification). When
/// `content` decoded to a message, its complete headers replace the possibly truncated ones.
pub fn from_received(
    message: &ReceivedMessage,
    source: Source,
    content_headers: Option<&[(String, String)]>,
    trusted_ids: &[String],
) -> Observation {
    let mail = &message.mail;
    let mut observation = match content_headers {
        Some(headers) => from_headers(headers, source, trusted_ids),
        None => from_headers(&mail.headers, source, trusted_ids),
    };

    // commonHeaders.from survives where the header list was truncated.
    if observation.header_from.is_empty()
        && let Some(common) = &mail.common_headers
    {
        for from in &common.from {
            observation
                .header_from
                .extend(domains_of_address_list(from));
        }
        observation.header_from.dedup();
    }
    if observation.mail_from.is_none()
        && let Some(domain) = mail.source.as_deref().and_then(domain_of_address)
    {
        observation.mail_from = Some(EnvelopeSender {
            domain,
            origin: EnvelopeOrigin::SesSource,
        });
    }
    if let Some(id) = &mail.message_id {
        observation.message_id = Some(id.clone());
    }
    observation.headers_truncated = mail.headers_truncated && content_headers.is_none();

    let receipt = &message.receipt;
    observation.ses = Some(SesVerdicts {
        spf: receipt.spf_verdict.as_ref().map(|v| v.status.clone()),
        dkim: receipt.dkim_verdict.as_ref().map(|v| v.status.clone()),
        dmarc: receipt.dmarc_verdict.as_ref().map(|v| v.status.clone()),
        dmarc_policy: receipt.dmarc_policy.clone(),
    });
    observation
}

/// The unsubscribe headers of list mail: `None` without `List-Unsubscribe`.
fn list_unsubscribe<'a>(
    mut unsubscribe: impl Iterator<Item = &'a str>,
    mut post: impl Iterator<Item = &'a str>,
    signatures: &[mail_auth::dkim::Signature],
) -> Option<ListUnsubscribeHeaders> {
    let uris = unsubscribe.next()?;
    // `<https://…>, <mailto:…>`: the URIs in angle brackets (RFC 2369).
    let https = uris.split('<').skip(1).any(|uri| {
        uri.trim_start()
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
    });
    let one_click_post = post
        .next()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("List-Unsubscribe=One-Click"));
    let covers = |signature: &mail_auth::dkim::Signature, name: &str| {
        signature
            .h
            .iter()
            .any(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let covered_by = signatures
        .iter()
        .filter(|s| covers(s, "List-Unsubscribe") && covers(s, "List-Unsubscribe-Post"))
        .map(|s| s.d.to_ascii_lowercase())
        .collect();
    Some(ListUnsubscribeHeaders {
        https,
        one_click_post,
        covered_by,
    })
}

/// Builds an observation from message headers alone. `trusted_ids` are compared as given:
/// pass them through [`normalize_authserv_id`] (as `flow::analysis::Settings` does).
pub fn from_headers(
    headers: &[impl HeaderField],
    source: Source,
    trusted_ids: &[String],
) -> Observation {
    let values = |name: &'static str| {
        headers
            .iter()
            .filter(move |h| h.name().eq_ignore_ascii_case(name))
            .map(HeaderField::value)
    };
    let mut notes = Vec::new();

    let mut header_from = Vec::new();
    for value in values("From") {
        header_from.extend(domains_of_address_list(value));
    }
    header_from.dedup();

    // The topmost header from a trusted authserv-id is the trusted server's own; any later
    // one with that id was already in the message when it arrived.
    let mut trusted = None;
    let mut forged = 0;
    for value in values("Authentication-Results") {
        match authres::parse(value) {
            Ok(parsed) => {
                let is_trusted = parsed
                    .authserv_id
                    .as_deref()
                    .is_some_and(|id| is_trusted_id(id, trusted_ids));
                if is_trusted {
                    if trusted.is_none() {
                        trusted = Some(parsed);
                    } else {
                        forged += 1;
                    }
                }
            }
            Err(error) => notes.push(format!(
                "an Authentication-Results header does not parse: {error}"
            )),
        }
    }

    let signatures: Vec<mail_auth::dkim::Signature> = values("DKIM-Signature")
        .filter_map(|v| mail_auth::dkim::Signature::parse(v.as_bytes()).ok())
        .collect();

    let mut observation = Observation {
        source,
        message_id: values("Message-ID").next().map(|v| v.trim().to_owned()),
        header_message_id: values("Message-ID").next().map(|v| v.trim().to_owned()),
        header_from,
        mail_from: None,
        helo: None,
        client_ip: None,
        trusted_results: trusted.is_some(),
        spf: None,
        dkim: Vec::new(),
        reported_dmarc: None,
        ses: None,
        headers_truncated: false,
        forged_auth_results: forged,
        reverification: Reverification::NoContent,
        disagreements: Vec::new(),
        notes,
        list_unsubscribe: None,
    };
    observation.list_unsubscribe = list_unsubscribe(
        values("List-Unsubscribe"),
        values("List-Unsubscribe-Post"),
        &signatures,
    );

    if let Some(header) = &trusted {
        for result in &header.results {
            match result.method {
                Method::Spf if observation.spf.is_none() => {
                    read_spf(result, &mut observation);
                }
                Method::Dkim => observation.dkim.push(read_dkim(result, &signatures)),
                Method::Dmarc if observation.reported_dmarc.is_none() => {
                    observation.reported_dmarc = Some(result.result.clone());
                }
                _ => {}
            }
        }
    }

    if observation.mail_from.is_none() {
        observation.mail_from = envelope_from_received_spf(values("Received-SPF").next())
            .map(|domain| EnvelopeSender {
                domain,
                origin: EnvelopeOrigin::ReceivedSpf,
            })
            .or_else(|| {
                values("Return-Path")
                    .next()
                    .and_then(domain_of_address)
                    .map(|domain| EnvelopeSender {
                        domain,
                        origin: EnvelopeOrigin::ReturnPath,
                    })
            });
    }
    observation
}

/// An authserv-id as compared: a normalized domain, or lower-cased when it is not one.
pub fn normalize_authserv_id(id: &str) -> String {
    normalize(id).unwrap_or_else(|| id.to_ascii_lowercase())
}

fn is_trusted_id(id: &str, trusted_ids: &[String]) -> bool {
    let id = normalize_authserv_id(id);
    trusted_ids.contains(&id)
}

fn read_spf(result: &MethodResult, observation: &mut Observation) {
    let mailfrom = result
        .property(Some(&PropertyType::Smtp), "mailfrom")
        .or_else(|| result.property(None, "envelope-from"));
    let helo = result
        .property(Some(&PropertyType::Smtp), "helo")
        .or_else(|| result.property(None, "helo"));
    observation.helo = helo.map(str::to_owned);
    observation.client_ip = result
        .property(None, "client-ip")
        .or_else(|| result.property(Some(&PropertyType::Policy), "iprev"))
        .map(str::to_owned);
    // smtp.mailfrom may hold a bare domain (RFC 8601 allows it) or an address.
    let mailfrom_domain = mailfrom.and_then(domain_of_identity);
    if let Some(domain) = &mailfrom_domain {
        observation.mail_from = Some(EnvelopeSender {
            domain: domain.clone(),
            origin: EnvelopeOrigin::AuthResults,
        });
    }
    // With a null MAIL FROM, SPF checks the HELO identity (RFC 7208 §2.4).
    let domain = mailfrom_domain.or_else(|| helo.and_then(normalize));
    observation.spf = Some(IdentifierCheck {
        result: result.result.clone(),
        domain,
        selector: None,
    });
}

fn read_dkim(result: &MethodResult, signatures: &[mail_auth::dkim::Signature]) -> IdentifierCheck {
    let header = |p| result.property(Some(&PropertyType::Header), p);
    let selector = header("s").map(str::to_owned);
    let from_signature = || {
        let b = header("b");
        let matching = signatures.iter().filter(|sig| {
            let b_matches = b.is_none_or(|b| base64_prefix_matches(&sig.b, b));
            let s_matches = selector
                .as_deref()
                .is_none_or(|s| sig.s.eq_ignore_ascii_case(s));
            b_matches && s_matches
        });
        let mut matching = matching.map(|sig| sig.d.as_str());
        // Only an unambiguous match counts.
        match (matching.next(), matching.next()) {
            (Some(d), None) => normalize(d),
            _ => None,
        }
    };
    let domain = header("d")
        .and_then(normalize)
        .or_else(|| header("i").and_then(domain_of_identity))
        .or_else(from_signature);
    IdentifierCheck {
        result: result.result.clone(),
        domain,
        selector,
    }
}

/// `header.b` carries the first characters of the signature's base64 `b=` (RFC 6008).
fn base64_prefix_matches(signature: &[u8], prefix: &str) -> bool {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(signature);
    !prefix.is_empty() && encoded.starts_with(prefix)
}

/// `envelope-from=` of a Received-SPF header (RFC 7208 §9.1 key-value pairs).
fn envelope_from_received_spf(value: Option<&str>) -> Option<String> {
    let value = value?;
    value
        .split(';')
        .flat_map(|part| part.split_whitespace())
        .find_map(|pair| {
            let (key, val) = pair.split_once('=')?;
            key.eq_ignore_ascii_case("envelope-from").then_some(val)
        })
        .and_then(|v| domain_of_address(v.trim_matches('"')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUSTED: &[&str] = &["amazonses.com"];

    fn trusted() -> Vec<String> {
        TRUSTED.iter().map(|s| s.to_string()).collect()
    }

    fn observe(headers: &[(&str, &str)]) -> Observation {
        from_headers(headers, Source::RawMessage, &trusted())
    }

    #[test]
    fn ses_header_gives_spf_dkim_and_envelope() {
        let o = observe(&[
            (
                "Authentication-Results",
                "amazonses.com; spf=pass (x) client-ip=192.0.2.1; envelope-from=prvs=1a2b=bounce@Mail.Example.com; helo=mta.example.com; dkim=pass header.i=@example.com; dkim=pass header.i=@amazonses.com; dmarc=pass header.from=example.com;",
            ),
            ("from", "\"Doe, Jane\" <jane@example.com>"),
        ]);
        assert_eq!(o.header_from, vec!["example.com"]);
        let mail_from = o.mail_from.unwrap_or_else(|| panic!("no envelope"));
        assert_eq!(mail_from.domain, "mail.example.com");
        assert_eq!(mail_from.origin, EnvelopeOrigin::AuthResults);
        assert_eq!(o.client_ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(o.helo.as_deref(), Some("mta.example.com"));
        let domains: Vec<_> = o.dkim.iter().map(|c| c.domain.as_deref()).collect();
        assert_eq!(domains, vec![Some("example.com"), Some("amazonses.com")]);
        assert_eq!(o.reported_dmarc, Some(ResultKeyword::Pass));
    }

    #[test]
    fn only_the_topmost_trusted_header_counts() {
        let o = observe(&[
            (
                "Authentication-Results",
                "amazonses.com; spf=fail smtp.mailfrom=x.example",
            ),
            (
                "Authentication-Results",
                "mx.other.example; spf=pass smtp.mailfrom=y.example",
            ),
            (
                "Authentication-Results",
                "AmazonSES.com; spf=pass smtp.mailfrom=z.example",
            ),
        ]);
        assert_eq!(o.forged_auth_results, 1);
        let spf = o.spf.unwrap_or_else(|| panic!("no spf"));
        assert_eq!(spf.result, ResultKeyword::Fail);
        assert_eq!(spf.domain.as_deref(), Some("x.example"));
    }

    #[test]
    fn untrusted_results_are_ignored() {
        let o = observe(&[(
            "Authentication-Results",
            "mx.evil.example; dkim=pass header.d=example.com",
        )]);
        assert!(!o.trusted_results);
        assert!(o.dkim.is_empty());
    }

    #[test]
    fn envelope_falls_back_to_received_spf_then_return_path() {
        let o = observe(&[
            (
                "Received-SPF",
                "pass (x) client-ip=192.0.2.1; envelope-from=a@spf.example; helo=h;",
            ),
            ("Return-Path", "<b@rp.example>"),
        ]);
        assert_eq!(
            o.mail_from.map(|m| (m.domain, m.origin)),
            Some(("spf.example".into(), EnvelopeOrigin::ReceivedSpf))
        );
        let o = observe(&[("Return-Path", "<b@rp.example>")]);
        assert_eq!(
            o.mail_from.map(|m| (m.domain, m.origin)),
            Some(("rp.example".into(), EnvelopeOrigin::ReturnPath))
        );
    }

    #[test]
    fn dkim_domain_from_matching_signature() {
        let o = observe(&[
            (
                "Authentication-Results",
                "amazonses.com; dkim=pass header.s=sel1",
            ),
            (
                "DKIM-Signature",
                "v=1; a=rsa-sha256; d=signer.example; s=sel1; h=from; bh=AAAA; b=AAAA",
            ),
            (
                "DKIM-Signature",
                "v=1; a=rsa-sha256; d=other.example; s=sel2; h=from; bh=AAAA; b=AAAA",
            ),
        ]);
        assert_eq!(o.dkim[0].domain.as_deref(), Some("signer.example"));
    }

    #[test]
    fn several_from_domains_are_all_kept() {
        let o = observe(&[("From", "a@one.example, b@two.example")]);
        assert_eq!(o.header_from, vec!["one.example", "two.example"]);
    }
}
