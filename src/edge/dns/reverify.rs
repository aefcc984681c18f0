//! Re-verification of an attached raw message with `mail-auth`: each DKIM signature, and SPF
//! from the client IP and envelope domain the trusted header recorded. It says what it found;
//! `judge::reverify` decides what that means for the observation.

use super::DnsFacts;
use crate::judge::reverify::Reverified;
use crate::read::authres::ResultKeyword;
use crate::read::domain::normalize;
use crate::read::observation::{IdentifierCheck, Observation};
use mail_auth::dkim::DkimError;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, DkimResult, Error as AuthError, Parameters, SpfResult};
use std::net::IpAddr;

impl DnsFacts {
    /// Verifies the raw message's DKIM signatures and its SPF.
    pub async fn verify(&self, raw: &[u8], observation: &Observation) -> Reverified {
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return Reverified::Unparsable;
        };
        let dkim = self
            .authenticator
            .verify_dkim(self.cached(Parameters::new(&message)))
            .await
            .iter()
            .map(|output| IdentifierCheck {
                result: dkim_result(output.result()),
                domain: output.signature().and_then(|s| normalize(&s.d)),
                selector: output.signature().map(|s| s.s.clone()),
            })
            .collect();
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
