//! What the canary loop means: a received probe judged against what SESv2 says its identity
//! should look like, a send SES refused, and probes that never arrived.
//!
//! A probe is mail the monitor sent itself, so unlike other mail it has an expected shape:
//! SES's own state says which envelope domain and which DKIM signature it must carry. The
//! DMARC outcome comes from the ordinary analysis ([`crate::judge::received`]); this module
//! decides the kinds that depend on the identity's state ([`OWNED`]).

use crate::judge::align::Evaluation;
use crate::judge::findings::{Facts, Kind};
use crate::judge::received::is_amazonses;
use crate::read::identity_state::{CustomMailFrom, IdentityState, MailFromStatus};
use crate::read::observation::EnvelopeSender;
use crate::read::probe::Probe;

/// The kinds a probe's judgement decides from the identity's state: the ordinary analysis's
/// findings of these kinds are replaced by the probe's.
pub const OWNED: [Kind; 4] = [
    Kind::MailFromFallback,
    Kind::MailFromStatus,
    Kind::DkimUnaligned,
    Kind::DkimNotSigning,
];

/// A received probe, and what is known of its identity.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedProbe<'a> {
    /// The identity the probe was sent from (its From domain).
    pub identity: &'a str,
    /// The identity's state in SESv2; `None` when SES does not know it.
    pub state: Option<&'a IdentityState>,
    /// The envelope sender the probe arrived with.
    pub envelope: Option<&'a EnvelopeSender>,
    /// DMARC recomputed for the probe's From domain.
    pub evaluation: &'a Evaluation,
    /// The region the identity sends from (for the fix's MX host).
    pub region: Option<&'a str>,
}

/// What the identity's state demands of the probe, and where the probe fell short:
/// - a custom MAIL FROM domain whose status is `SUCCESS` (or stated by the user) must be the
///   envelope domain, else `mail_from_fallback`; any other status is `mail_from_status`;
/// - DKIM signing enabled demands a passing signature aligned with From besides SES's own
///   `amazonses.com` one, else `dkim_unaligned`; signing disabled is `dkim_not_signing`.
pub fn judge(probe: ReceivedProbe<'_>) -> Vec<Facts> {
    let Some(state) = probe.state else {
        return Vec::new();
    };
    mail_from(probe, state)
        .into_iter()
        .chain(dkim(probe, state))
        .collect()
}

/// The kinds this probe was judged for against a known identity state: only these can it show
/// over. Without the state, or without the part of it a check needs, nothing is judged, and an
/// unknown is never evidence.
pub fn judged(probe: ReceivedProbe<'_>) -> Vec<Kind> {
    let Some(state) = probe.state else {
        return Vec::new();
    };
    let mut kinds = Vec::new();
    if state.mail_from_domain().is_some()
        && let Some(attributes) = &state.mail_from_attributes
    {
        kinds.push(Kind::MailFromStatus);
        let healthy = matches!(
            attributes.mail_from_domain_status,
            Some(MailFromStatus::Success) | None
        );
        if healthy && probe.envelope.is_some() {
            kinds.push(Kind::MailFromFallback);
        }
    }
    if state
        .dkim_attributes
        .as_ref()
        .is_some_and(|d| d.signing_enabled.is_some())
    {
        kinds.extend([Kind::DkimNotSigning, Kind::DkimUnaligned]);
    }
    kinds
}

fn mail_from(probe: ReceivedProbe<'_>, state: &IdentityState) -> Option<Facts> {
    let mail_from = state.mail_from_domain()?.to_ascii_lowercase();
    let attributes = state.mail_from_attributes.as_ref()?;
    match &attributes.mail_from_domain_status {
        // A status only the user's expectation gives (offline) is taken as healthy.
        Some(MailFromStatus::Success) | None => {
            let envelope = probe.envelope?;
            (!envelope.domain.eq_ignore_ascii_case(&mail_from)).then(|| Facts::MailFromFallback {
                envelope: envelope.clone(),
                custom: CustomMailFrom {
                    identity: probe.identity.to_owned(),
                    mail_from,
                },
            })
        }
        Some(status) => Some(Facts::MailFromStatus {
            identity: probe.identity.to_owned(),
            mail_from,
            status: status.clone(),
            behavior: attributes.behavior_on_mx_failure.clone(),
            region: probe.region.map(str::to_owned),
        }),
    }
}

fn dkim(probe: ReceivedProbe<'_>, state: &IdentityState) -> Option<Facts> {
    match state.dkim_attributes.as_ref()?.signing_enabled? {
        false => Some(Facts::DkimNotSigning {
            domain: probe.identity.to_owned(),
        }),
        true => {
            let evaluation = probe.evaluation;
            let ours = |domain: &Option<String>| !domain.as_deref().is_some_and(is_amazonses);
            let aligned = evaluation
                .dkim
                .iter()
                .any(|r| r.is_aligned() && ours(&r.domain));
            (!aligned).then(|| Facts::DkimUnaligned {
                header_from: evaluation.header_from.clone(),
                domains: evaluation
                    .dkim
                    .iter()
                    .filter(|r| r.is_aligned() || r.is_unaligned_pass())
                    .map(|r| r.domain.clone())
                    .collect(),
                adkim: evaluation.policy.adkim(),
            })
        }
    }
}

/// SES refused to send the probe because the custom MAIL FROM domain is not verified and the
/// identity's behaviour on MX failure is `REJECT_MESSAGE`: mail from the identity is being
/// refused. `state`: the identity's state, when it could be read.
pub fn refused(identity: &str, state: Option<&IdentityState>, region: &str) -> Facts {
    let attributes = state.and_then(|s| s.mail_from_attributes.as_ref());
    Facts::MailFromStatus {
        identity: identity.to_owned(),
        mail_from: state
            .and_then(IdentityState::mail_from_domain)
            .unwrap_or("its custom MAIL FROM domain")
            .to_ascii_lowercase(),
        status: attributes
            .and_then(|a| a.mail_from_domain_status.clone())
            .filter(|s| *s != MailFromStatus::Success)
            .unwrap_or_else(|| {
                MailFromStatus::Unknown("not verified (SES refused to send)".into())
            }),
        behavior: attributes.and_then(|a| a.behavior_on_mx_failure.clone()),
        region: Some(region.to_owned()),
    }
}

/// The probes overdue at `now` that were not reported yet, as `canary_missing`.
pub fn missing<'a>(
    probes: &'a [Probe],
    now: u64,
    deadline: u64,
) -> impl Iterator<Item = (&'a Probe, Facts)> + 'a {
    probes
        .iter()
        .filter(move |p| p.overdue(now, deadline) && !p.reported_missing)
        .map(move |p| {
            (
                p,
                Facts::CanaryMissing {
                    identity: p.identity.clone(),
                    message_id: p.message_id.clone(),
                    sent: p.sent,
                    deadline,
                },
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::align::{self, Checked, KnownOrgDomains, PolicySource};
    use crate::read::authres::ResultKeyword;
    use crate::read::identity_state::{
        DkimAttributes, DkimOrigin, MailFromAttributes, MxFailureBehavior,
    };
    use crate::read::observation::{EnvelopeOrigin, IdentifierCheck};

    const MAIL_FROM: &str = "bounce.example.com";

    fn envelope(domain: &str) -> EnvelopeSender {
        EnvelopeSender {
            domain: domain.into(),
            origin: EnvelopeOrigin::SesSource,
        }
    }

    fn pass(domain: &str) -> IdentifierCheck {
        IdentifierCheck {
            result: ResultKeyword::Pass,
            domain: Some(domain.into()),
            selector: None,
        }
    }

    /// DMARC for example.com with the given DKIM passes and SPF for the envelope.
    fn evaluation(envelope: &str, dkim: &[&str]) -> Evaluation {
        let spf = pass(envelope);
        let dkim: Vec<IdentifierCheck> = dkim.iter().map(|d| pass(d)).collect();
        align::evaluate(
            "example.com",
            Checked {
                spf: Some(&spf),
                dkim: &dkim,
                trusted: true,
            },
            PolicySource::Unknown,
            &KnownOrgDomains::default(),
        )
    }

    fn state(mail_from: MailFromState, dkim: DkimState) -> IdentityState {
        IdentityState {
            mail_from_attributes: mail_from.map(|(status, behavior)| MailFromAttributes {
                mail_from_domain: Some(MAIL_FROM.into()),
                mail_from_domain_status: status,
                behavior_on_mx_failure: Some(behavior),
            }),
            dkim_attributes: dkim.map(|(enabled, origin)| DkimAttributes {
                signing_enabled: Some(enabled),
                signing_attributes_origin: Some(origin),
                ..DkimAttributes::default()
            }),
            configuration_set_name: None,
        }
    }

    type MailFromState = Option<(Option<MailFromStatus>, MxFailureBehavior)>;
    type DkimState = Option<(bool, DkimOrigin)>;
    /// The identity's state, the probe's envelope domain and passing DKIM domains, and the
    /// kinds expected.
    type Case<'a> = (MailFromState, DkimState, &'a str, &'a [&'a str], &'a [Kind]);

    /// Every identity state against the probes it may send: (identity's MAIL FROM status and
    /// behaviour, DKIM signing and origin, the probe's envelope, its passing DKIM domains,
    /// the kinds expected).
    #[test]
    fn probes_are_judged_against_every_identity_state() {
        use DkimOrigin::{AwsSes as Easy, External as Byo};
        use MailFromStatus::{Failed, Pending, Success, TemporaryFailure};
        use MxFailureBehavior::{RejectMessage as Reject, UseDefaultValue as Default};
        let ses = "eu-west-1.amazonses.com";
        let both = ["example.com", "amazonses.com"];
        let only_ses = ["amazonses.com"];
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            // Healthy: the custom MAIL FROM, an aligned signature (Easy DKIM, BYODKIM).
            (Some((Some(Success), Default)), Some((true, Easy)), MAIL_FROM, &both, &[]),
            (Some((Some(Success), Reject)), Some((true, Byo)), MAIL_FROM, &both, &[]),
            // The fallback, seen on real mail although SES reports SUCCESS.
            (Some((Some(Success), Default)), Some((true, Easy)), ses, &both, &[Kind::MailFromFallback]),
            // Any other envelope is no better.
            (Some((Some(Success), Default)), Some((true, Easy)), "other.example.net", &both, &[Kind::MailFromFallback]),
            // SES knows its MAIL FROM is unhealthy: that is the finding, whatever the envelope.
            (Some((Some(Pending), Default)), Some((true, Easy)), ses, &both, &[Kind::MailFromStatus]),
            (Some((Some(Failed), Default)), Some((true, Easy)), ses, &both, &[Kind::MailFromStatus]),
            (Some((Some(TemporaryFailure), Default)), Some((true, Easy)), ses, &both, &[Kind::MailFromStatus]),
            (Some((Some(Failed), Reject)), Some((true, Easy)), ses, &both, &[Kind::MailFromStatus]),
            // Stated by the user only (no status): the envelope must match.
            (Some((None, Default)), None, MAIL_FROM, &both, &[]),
            (Some((None, Default)), None, ses, &both, &[Kind::MailFromFallback]),
            // No custom MAIL FROM: amazonses.com is expected.
            (None, Some((true, Easy)), ses, &both, &[]),
            // DKIM enabled, and only SES's own signature passes (or none does).
            (None, Some((true, Easy)), ses, &only_ses, &[Kind::DkimUnaligned]),
            (None, Some((true, Byo)), ses, &[], &[Kind::DkimUnaligned]),
            // DKIM disabled.
            (None, Some((false, Easy)), ses, &only_ses, &[Kind::DkimNotSigning]),
            (Some((Some(Success), Default)), Some((false, Byo)), ses, &only_ses, &[Kind::MailFromFallback, Kind::DkimNotSigning]),
        ];
        for (index, (mail_from, dkim, envelope_domain, signed, expected)) in
            cases.iter().enumerate()
        {
            let state = state(mail_from.clone(), dkim.clone());
            let envelope = envelope(envelope_domain);
            let evaluation = evaluation(envelope_domain, signed);
            let facts = judge(ReceivedProbe {
                identity: "example.com",
                state: Some(&state),
                envelope: Some(&envelope),
                evaluation: &evaluation,
                region: Some("eu-west-1"),
            });
            let kinds: Vec<Kind> = facts.iter().map(Facts::kind).collect();
            assert_eq!(kinds, *expected, "case {index}: {facts:?}");
            assert!(kinds.iter().all(|k| OWNED.contains(k)), "case {index}");
        }
    }

    #[test]
    fn an_identity_ses_does_not_know_demands_nothing() {
        let evaluation = evaluation("amazonses.com", &[]);
        let probe = ReceivedProbe {
            identity: "example.com",
            state: None,
            envelope: None,
            evaluation: &evaluation,
            region: None,
        };
        assert!(judge(probe).is_empty());
    }

    #[test]
    fn a_refused_send_says_what_ses_knows() {
        let known = state(
            Some((
                Some(MailFromStatus::Failed),
                MxFailureBehavior::RejectMessage,
            )),
            None,
        );
        let Facts::MailFromStatus {
            mail_from,
            status,
            behavior,
            ..
        } = refused("example.com", Some(&known), "eu-west-1")
        else {
            panic!("not mail_from_status");
        };
        assert_eq!(
            (mail_from.as_str(), status, behavior),
            (
                MAIL_FROM,
                MailFromStatus::Failed,
                Some(MxFailureBehavior::RejectMessage)
            )
        );
        let Facts::MailFromStatus { status, .. } = refused("example.com", None, "eu-west-1") else {
            panic!("not mail_from_status");
        };
        assert!(matches!(status, MailFromStatus::Unknown(_)));
    }

    #[test]
    fn missing_probes_are_reported_once() {
        let probe = |id: &str, sent: u64, received: Option<u64>, reported_missing: bool| Probe {
            message_id: id.into(),
            identity: "example.com".into(),
            sent,
            received,
            reported_missing,
        };
        let probes = [
            probe("late", 0, None, false),
            probe("arrived", 0, Some(30), false),
            probe("told", 0, None, true),
            probe("young", 1000, None, false),
        ];
        let ids: Vec<&str> = missing(&probes, 1200, 1200)
            .map(|(p, _)| p.message_id.as_str())
            .collect();
        assert_eq!(ids, ["late"]);
    }
}
