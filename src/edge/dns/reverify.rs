//! Re-verification of an attached raw message with `mail-auth`: each DKIM signature, and SPF
//! from the client IP and envelope domain the trusted header recorded. It says what it found;
//! `judge::reverify` decides what that means for the observation.
//!
//! Signatures with a body length (`l=`) are verified, as the large receivers do (RFC 6376
//! §8.2 leaves it to the verifier): the monitor predicts what receivers conclude. A
//! signature `mail-auth` refuses is reported as refused, with the `d=` read from its header,
//! never dropped: a missing signature would read as "not signed".

use super::DnsFacts;
use crate::judge::reverify::{Reverified, SignatureResult};
use crate::read::authres::ResultKeyword;
use crate::read::domain::normalize;
use crate::read::observation::{IdentifierCheck, Observation, PartialBody};
use mail_auth::common::headers::Writable as _;
use mail_auth::dkim::{Canonicalization, DkimError};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, DkimResult, Error as AuthError, Parameters, SpfResult};
use std::net::IpAddr;

impl DnsFacts {
    /// Verifies the raw message's DKIM signatures and its SPF.
    pub async fn verify(&self, raw: &[u8], observation: &Observation) -> Reverified {
        // Not strict: `l=` signatures are verified rather than refused.
        let Some(mut message) = AuthenticatedMessage::parse_with_opts(raw, None, false) else {
            return Reverified::Unparsable;
        };
        let body_lengths = rehash_length_limited(&mut message);
        let mut dkim: Vec<SignatureResult> = self
            .authenticator
            .verify_dkim(self.cached(Parameters::new(&message)))
            .await
            .iter()
            // Without a signature: one `mail-auth` could not parse, listed from `errors` below.
            .filter_map(|output| {
                let signature = output.signature()?;
                let domain = normalize(&signature.d);
                let selector = Some(signature.s.clone());
                if let Some(reason) = refusal(output.result()) {
                    return Some(SignatureResult::Refused {
                        domain,
                        selector,
                        reason: reason.to_string(),
                    });
                }
                let partial = body_lengths
                    .iter()
                    .find(|(cb, _)| *cb == signature.cb)
                    .filter(|(_, body)| signature.l > 0 && *body > signature.l)
                    .map(|(_, body)| PartialBody {
                        domain: domain.clone(),
                        signed: signature.l,
                        body: *body,
                    });
                Some(SignatureResult::Checked {
                    check: IdentifierCheck {
                        result: dkim_result(output.result()),
                        domain,
                        selector,
                    },
                    partial,
                })
            })
            .collect();
        dkim.extend(
            message
                .errors
                .iter()
                .filter(|e| e.name.eq_ignore_ascii_case(b"DKIM-Signature"))
                .map(|e| {
                    let value = String::from_utf8_lossy(e.value);
                    SignatureResult::Refused {
                        domain: tag(&value, "d").and_then(normalize),
                        selector: tag(&value, "s").map(str::to_owned),
                        reason: e.header.to_string(),
                    }
                }),
        );
        let ip = observation
            .client_ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        let envelope = observation.mail_from.as_ref().map(|m| m.domain.as_str());
        let spf = match (ip, envelope) {
            (Some(ip), Some(domain)) => {
                // Only the domain is kept (privacy); SPF macros using the local part see
                // `postmaster`, as RFC 7208 prescribes for a null local part.
                let sender = format!("postmaster@{domain}");
                let helo = observation.helo.as_deref().unwrap_or(domain);
                let output = self
                    .authenticator
                    .verify_spf(self.cached(Parameters::new(SpfParameters::verify_mail_from(
                        ip,
                        helo,
                        "ses-dmarc-monitor",
                        &sender,
                    ))))
                    .await;
                Some(IdentifierCheck {
                    result: spf_result(output.result()),
                    domain: Some(domain.to_owned()),
                    selector: None,
                })
            }
            _ => None,
        };
        Reverified::Verified { dkim, spf }
    }
}

/// RFC 6376 §3.5: `l=` counts octets of the *canonicalized* body. `mail-auth` 0.13.3 counts
/// raw octets, which differ wherever canonicalization changes the body (relaxed whitespace,
/// trailing blank lines), so the body hashes of `l=` signatures are computed again here.
/// Returns the canonicalized body's length for each canonicalization an `l=` signature uses.
fn rehash_length_limited(message: &mut AuthenticatedMessage<'_>) -> Vec<(Canonicalization, u64)> {
    let raw = message.raw_message;
    let body = raw.get(message.body_offset as usize..).unwrap_or_default();
    let mut bodies: Vec<(Canonicalization, Vec<u8>)> = Vec::new();
    for (cb, algorithm, length, hash) in &mut message.body_hashes {
        if *length == 0 {
            continue;
        }
        let index = match bodies.iter().position(|(c, _)| c == cb) {
            Some(index) => index,
            None => {
                let mut canonical = Vec::with_capacity(body.len());
                cb.canonical_body(body, 0).write(&mut canonical);
                bodies.push((*cb, canonical));
                bodies.len() - 1
            }
        };
        let canonical = &bodies[index].1;
        // A count beyond the body hashes what there is, and so fails to match: the body
        // was shortened after signing.
        let signed = usize::try_from(*length).map_or(canonical.len(), |l| l.min(canonical.len()));
        *hash = algorithm.hash(&canonical[..signed]).as_ref().to_vec();
    }
    bodies
        .into_iter()
        .map(|(cb, canonical)| (cb, canonical.len() as u64))
        .collect()
}

/// Where `mail-auth` declined to check a signature it parsed (an algorithm, version,
/// canonicalization or key type it does not support): the reason, in its words. Such a
/// result says nothing about the message.
fn refusal(result: &DkimResult) -> Option<&AuthError> {
    match result {
        DkimResult::Neutral(error) | DkimResult::Fail(error) | DkimResult::PermError(error)
            if matches!(
                error,
                AuthError::Dkim(
                    DkimError::UnsupportedAlgorithm
                        | DkimError::UnsupportedVersion
                        | DkimError::UnsupportedCanonicalization
                        | DkimError::UnsupportedKeyType
                )
            ) =>
        {
            Some(error)
        }
        _ => None,
    }
}

/// A tag's value in a DKIM-Signature tag list (RFC 6376 §3.2), read without the verifier:
/// a signature it refuses still names its domain and selector.
fn tag<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    value.split(';').find_map(|pair| {
        let (tag, value) = pair.split_once('=')?;
        (tag.trim() == name).then(|| value.trim())
    })
}

fn dkim_result(result: &DkimResult) -> ResultKeyword {
    match result {
        DkimResult::Pass => ResultKeyword::Pass,
        // mail-auth says "neutral" for a body that no longer matches its hash, an expired
        // signature and an unparseable one; RFC 6376 §6.1 calls all three PERMFAIL, and
        // receivers (SES among them) report the first two as dkim=fail.
        DkimResult::Neutral(AuthError::Dkim(
            DkimError::FailedBodyHashMatch | DkimError::SignatureExpired,
        )) => ResultKeyword::Fail,
        DkimResult::Neutral(_) => ResultKeyword::PermError,
        DkimResult::Fail(_) => ResultKeyword::Fail,
        DkimResult::PermError(_) => ResultKeyword::PermError,
        DkimResult::TempError(_) => ResultKeyword::TempError,
        DkimResult::None => ResultKeyword::None,
    }
}

fn spf_result(result: SpfResult) -> ResultKeyword {
    match result {
        SpfResult::Pass => ResultKeyword::Pass,
        SpfResult::Fail => ResultKeyword::Fail,
        SpfResult::SoftFail => ResultKeyword::SoftFail,
        SpfResult::Neutral => ResultKeyword::Neutral,
        SpfResult::TempError => ResultKeyword::TempError,
        SpfResult::PermError => ResultKeyword::PermError,
        SpfResult::None => ResultKeyword::None,
    }
}
