//! What re-verifying an attached raw message changes: the re-verified DKIM and SPF results
//! replace the reported ones, the observation records that they were recomputed (or why
//! not), and where they *mean* something else for DMARC than what the trusted server reported,
//! the difference is recorded (a `verdict_mismatch`).
//!
//! Two decisions live here:
//! - A signature the verifier here refuses to check (a syntax or algorithm it does not accept)
//!   is not evidence against the message: where the trusted server passed the same `d=`, its
//!   pass is kept and the refusal is reported at info level. A library's refusal never turns
//!   a message that verifies elsewhere into a DMARC failure.
//! - Results are compared by what they mean for DMARC ([`DmarcMeaning`]): `fail` beside
//!   `permerror` is the same "does not count", not a disagreement.
//!
//! Pure: the DNS adapter verifies and returns what it found ([`Reverified`]); this module
//! decides what that means for the observation.

use crate::read::authres::{Method, ResultKeyword};
use crate::read::observation::{
    Disagreement, IdentifierCheck, NotReverified, Observation, PartialBody, Refusal, Reverification,
};

/// What verifying the attached message again found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reverified {
    /// Not attempted: no DNS to verify with (offline).
    NotAttempted,
    /// The attachment is not a message `mail-auth` can read.
    Unparsable,
    /// DNS did not answer within the record's budget (a slow or silent name server).
    OutOfTime(std::time::Duration),
    Verified {
        /// Every DKIM signature, in header order.
        dkim: Vec<SignatureResult>,
        /// SPF, when the client IP and envelope domain were known to check it with.
        spf: Option<IdentifierCheck>,
    },
}

/// One DKIM signature, verified again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureResult {
    /// Checked: its result, and for an `l=` signature that leaves part of the body unsigned,
    /// how much it covers.
    Checked {
        check: IdentifierCheck,
        partial: Option<PartialBody>,
    },
    /// The verifier refused to check it; `reason` in its words.
    Refused {
        domain: Option<String>,
        selector: Option<String>,
        reason: String,
    },
}

/// What a SPF or DKIM result means for DMARC (RFC 9989: only a pass counts; a temporary
/// error leaves the outcome open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DmarcMeaning {
    Passes,
    /// fail, softfail, neutral, policy, permerror: the identifier does not count.
    DoesNotCount,
    /// temperror: not known now.
    Unknown,
    /// none: nothing to check (no signature, no SPF record).
    Absent,
}

impl DmarcMeaning {
    pub fn of(result: &ResultKeyword) -> Self {
        match result {
            ResultKeyword::Pass => Self::Passes,
            ResultKeyword::TempError => Self::Unknown,
            ResultKeyword::None => Self::Absent,
            _ => Self::DoesNotCount,
        }
    }
}

/// Applies what re-verification found to the observation.
pub fn apply(observation: &mut Observation, found: Reverified) {
    let (signatures, spf) = match found {
        Reverified::NotAttempted => return not_done(observation, NotReverified::NoDns),
        Reverified::Unparsable => return not_done(observation, NotReverified::Unparsable),
        Reverified::OutOfTime(budget) => {
            return not_done(observation, NotReverified::OutOfTime(budget));
        }
        Reverified::Verified { dkim, spf } => (dkim, spf),
    };
    let mut dkim = Vec::with_capacity(signatures.len());
    let mut refused = Vec::new();
    let mut partial = Vec::new();
    for signature in signatures {
        match signature {
            SignatureResult::Checked { check, partial: p } => {
                if check.passed() {
                    partial.extend(p);
                }
                dkim.push(check);
            }
            SignatureResult::Refused {
                domain,
                selector,
                reason,
            } => {
                let kept = observation
                    .dkim
                    .iter()
                    .find(|reported| reported.passed() && reported.domain == domain)
                    .map(|reported| reported.result.clone());
                dkim.push(IdentifierCheck {
                    result: kept.clone().unwrap_or(ResultKeyword::PermError),
                    domain: domain.clone(),
                    selector: selector.clone(),
                });
                refused.push(Refusal {
                    domain,
                    selector,
                    reason,
                    kept,
                });
            }
        }
    }
    // DKIM: the whole set of signatures is compared (a message signed by nobody included).
    if !dkim.is_empty() || !observation.dkim.is_empty() {
        if meanings(&dkim) != meanings(&observation.dkim) {
            observation.disagreements.push(Disagreement {
                method: Method::Dkim,
                verified: dkim.clone(),
                reported: observation.dkim.clone(),
            });
        }
        observation.dkim = dkim;
    }
    let spf_verified = spf.is_some();
    if let Some(verified) = spf {
        let reported = observation.spf.iter().cloned().collect::<Vec<_>>();
        if meanings(std::slice::from_ref(&verified)) != meanings(&reported) {
            observation.disagreements.push(Disagreement {
                method: Method::Spf,
                verified: vec![verified.clone()],
                reported,
            });
        }
        observation.spf = Some(verified);
    }
    observation.reverification = Reverification::Done {
        spf: spf_verified,
        refused,
        partial,
    };
}

fn not_done(observation: &mut Observation, why: NotReverified) {
    observation.reverification = Reverification::NotDone(why);
}

/// Each check's domain and meaning, in a fixed order: the header may list signatures in
/// another order than the message carries them, and selectors do not count (the header may
/// not name them).
fn meanings(checks: &[IdentifierCheck]) -> Vec<(Option<&str>, DmarcMeaning)> {
    let mut meanings: Vec<_> = checks
        .iter()
        .map(|c| (c.domain.as_deref(), DmarcMeaning::of(&c.result)))
        .collect();
    meanings.sort_unstable();
    meanings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::observation::{self, Source};

    fn check(result: ResultKeyword, domain: &str, selector: Option<&str>) -> IdentifierCheck {
        IdentifierCheck {
            result,
            domain: Some(domain.into()),
            selector: selector.map(str::to_owned),
        }
    }

    fn checked(result: ResultKeyword, domain: &str) -> SignatureResult {
        SignatureResult::Checked {
            check: check(result, domain, Some("s1")),
            partial: None,
        }
    }

    fn refused(domain: &str) -> SignatureResult {
        SignatureResult::Refused {
            domain: Some(domain.into()),
            selector: Some("s1".into()),
            reason: "Unsupported algorithm in DKIM Signature".into(),
        }
    }

    /// SES's header: SPF pass for the MAIL FROM domain; DKIM as given.
    fn observed(dkim: &str) -> Observation {
        observation::from_headers(
            &[(
                "Authentication-Results",
                format!("amazonses.com; spf=pass smtp.mailfrom=mail.example.com; {dkim}"),
            )],
            Source::RawMessage,
            &["amazonses.com".into()],
        )
    }

    const PASS: &str = "dkim=pass header.d=example.com";
    const PASS_BOTH: &str = "dkim=pass header.d=amazonses.com; dkim=pass header.d=example.com";

    #[test]
    fn results_are_compared_by_what_they_mean_for_dmarc() {
        use ResultKeyword::{Fail, Pass, PermError, TempError};
        let spf_pass = Some(check(Pass, "mail.example.com", None));
        let cases = [
            // (case, SES's DKIM, re-verified DKIM, re-verified SPF, methods that disagree)
            (
                "the same results, a selector besides",
                PASS,
                vec![checked(Pass, "example.com")],
                spf_pass.clone(),
                vec![],
            ),
            (
                "fail reported, permerror recomputed: both do not count",
                "dkim=fail header.d=example.com",
                vec![checked(PermError, "example.com")],
                spf_pass.clone(),
                vec![],
            ),
            (
                "signatures in another order than the header lists them",
                PASS_BOTH,
                vec![checked(Pass, "example.com"), checked(Pass, "amazonses.com")],
                None,
                vec![],
            ),
            (
                "the body changed after signing",
                PASS,
                vec![checked(Fail, "example.com")],
                None,
                vec![Method::Dkim],
            ),
            (
                "a temporary error is not a failure",
                "dkim=fail header.d=example.com",
                vec![checked(TempError, "example.com")],
                None,
                vec![Method::Dkim],
            ),
            (
                "a signature SES did not report",
                PASS,
                vec![checked(Pass, "example.com"), checked(Pass, "example.net")],
                None,
                vec![Method::Dkim],
            ),
            (
                "SPF fails from the recorded client IP",
                PASS,
                vec![checked(Pass, "example.com")],
                Some(check(Fail, "mail.example.com", None)),
                vec![Method::Spf],
            ),
            (
                "SPF softfail where SES said pass",
                PASS,
                vec![checked(Pass, "example.com")],
                Some(check(ResultKeyword::SoftFail, "mail.example.com", None)),
                vec![Method::Spf],
            ),
            (
                "refused here, passed by SES: SES's pass is kept",
                PASS,
                vec![refused("example.com")],
                None,
                vec![],
            ),
            (
                "refused here, failed by SES: a permerror, the same meaning",
                "dkim=fail header.d=example.com",
                vec![refused("example.com")],
                None,
                vec![],
            ),
        ];
        for (name, reported, dkim, spf, expected) in cases {
            let mut observation = observed(reported);
            apply(&mut observation, Reverified::Verified { dkim, spf });
            let methods: Vec<Method> = observation
                .disagreements
                .iter()
                .map(|d| d.method.clone())
                .collect();
            assert_eq!(methods, expected, "{name}");
            assert!(
                matches!(observation.reverification, Reverification::Done { .. }),
                "{name}"
            );
        }
    }

    #[test]
    fn a_refused_signature_keeps_the_pass_it_had_and_names_its_domain() {
        let cases = [
            // (SES's DKIM, the result kept, what is recorded as kept)
            (PASS, ResultKeyword::Pass, Some(ResultKeyword::Pass)),
            (
                "dkim=fail header.d=example.com",
                ResultKeyword::PermError,
                None,
            ),
            ("dkim=none", ResultKeyword::PermError, None),
        ];
        for (reported, result, kept) in cases {
            let mut observation = observed(reported);
            apply(
                &mut observation,
                Reverified::Verified {
                    dkim: vec![refused("example.com")],
                    spf: None,
                },
            );
            assert_eq!(
                observation.dkim,
                vec![check(result, "example.com", Some("s1"))],
                "{reported}"
            );
            let Reverification::Done { refused, .. } = &observation.reverification else {
                panic!("{reported}: not recorded as re-verified");
            };
            assert_eq!(refused.len(), 1, "{reported}");
            assert_eq!(refused[0].domain.as_deref(), Some("example.com"));
            assert_eq!(refused[0].kept, kept, "{reported}");
        }
    }

    #[test]
    fn partial_bodies_are_recorded_for_passing_signatures_only() {
        let partial = |domain: &str| {
            Some(PartialBody {
                domain: Some(domain.into()),
                signed: 20,
                body: 45,
            })
        };
        let mut observation = observed(PASS);
        apply(
            &mut observation,
            Reverified::Verified {
                dkim: vec![
                    SignatureResult::Checked {
                        check: check(ResultKeyword::Pass, "example.com", None),
                        partial: partial("example.com"),
                    },
                    SignatureResult::Checked {
                        check: check(ResultKeyword::Fail, "example.net", None),
                        partial: partial("example.net"),
                    },
                ],
                spf: None,
            },
        );
        let Reverification::Done { partial, spf, .. } = &observation.reverification else {
            panic!("not recorded as re-verified");
        };
        assert!(!spf, "SPF was not re-verified");
        let domains: Vec<_> = partial.iter().map(|p| p.domain.as_deref()).collect();
        assert_eq!(domains, vec![Some("example.com")]);
    }

    #[test]
    fn nothing_verified_leaves_the_results_and_says_why() {
        let budget = std::time::Duration::from_secs(5);
        for (found, why) in [
            (Reverified::NotAttempted, NotReverified::NoDns),
            (Reverified::Unparsable, NotReverified::Unparsable),
            (
                Reverified::OutOfTime(budget),
                NotReverified::OutOfTime(budget),
            ),
        ] {
            let mut observation = observed(PASS);
            let before = observation.dkim.clone();
            apply(&mut observation, found);
            assert_eq!(observation.dkim, before);
            assert!(observation.disagreements.is_empty());
            assert_eq!(observation.reverification, Reverification::NotDone(why));
        }
    }
}
