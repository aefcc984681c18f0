//! What re-verifying an attached raw message changes: where its DKIM and SPF results differ
//! from what the trusted server reported, the difference is recorded (a `verdict_mismatch`)
//! and the re-verified results replace the reported ones.
//!
//! Pure: the DNS adapter verifies and returns what it found ([`Reverified`]); this module
//! decides what that means for the observation.

use crate::read::authres::Method;
use crate::read::observation::{Disagreement, IdentifierCheck, Observation};

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
        /// Every DKIM signature's result.
        dkim: Vec<IdentifierCheck>,
        /// SPF, when the client IP and envelope domain were known to check it with.
        spf: Option<IdentifierCheck>,
    },
}

/// Applies what re-verification found to the observation.
pub fn apply(observation: &mut Observation, found: Reverified) {
    let (dkim, spf) = match found {
        Reverified::NotAttempted => {
            observation
                .notes
                .push("the raw message is attached; re-verification needs --dns".into());
            return;
        }
        Reverified::Unparsable => {
            observation
                .notes
                .push("the attached message does not parse; SES's results used".into());
            return;
        }
        Reverified::OutOfTime(budget) => {
            observation.notes.push(format!(
                "re-verification not finished in time ({} s of DNS per message); SES's results used",
                budget.as_secs_f32()
            ));
            return;
        }
        Reverified::Verified { dkim, spf } => (dkim, spf),
    };
    // DKIM: the whole set of signatures is compared (a message signed by nobody included).
    if !dkim.is_empty() || !observation.dkim.is_empty() {
        if !same_results(&dkim, &observation.dkim) {
            observation.disagreements.push(Disagreement {
                method: Method::Dkim,
                verified: dkim.clone(),
                reported: observation.dkim.clone(),
            });
        }
        observation.dkim = dkim;
    }
    if let Some(verified) = spf {
        if observation.spf.as_ref() != Some(&verified) {
            observation.disagreements.push(Disagreement {
                method: Method::Spf,
                verified: vec![verified.clone()],
                reported: observation.spf.iter().cloned().collect(),
            });
        }
        observation.spf = Some(verified);
    }
}

/// Results and domains in order; selectors do not count (the header may not name them).
fn same_results(a: &[IdentifierCheck], b: &[IdentifierCheck]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.result == y.result && x.domain == y.domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::authres::ResultKeyword;
    use crate::read::observation::{self, Source};

    fn check(result: ResultKeyword, domain: &str, selector: Option<&str>) -> IdentifierCheck {
        IdentifierCheck {
            result,
            domain: Some(domain.into()),
            selector: selector.map(str::to_owned),
        }
    }

    fn observed() -> Observation {
        observation::from_headers(
            &[(
                "Authentication-Results",
                "amazonses.com; spf=pass smtp.mailfrom=mail.example.com; dkim=pass header.d=example.com",
            )],
            Source::RawMessage,
            &["amazonses.com".into()],
        )
    }

    #[test]
    fn disagreements_are_recorded_and_results_replaced() {
        let cases = [
            // (case, what re-verification found, methods that disagree)
            (
                "the same results, a selector besides",
                Reverified::Verified {
                    dkim: vec![check(ResultKeyword::Pass, "example.com", Some("s1"))],
                    spf: Some(check(ResultKeyword::Pass, "mail.example.com", None)),
                },
                vec![],
            ),
            (
                "the body changed after signing",
                Reverified::Verified {
                    dkim: vec![check(ResultKeyword::Fail, "example.com", Some("s1"))],
                    spf: None,
                },
                vec![Method::Dkim],
            ),
            (
                "SPF fails from the recorded client IP",
                Reverified::Verified {
                    dkim: vec![check(ResultKeyword::Pass, "example.com", None)],
                    spf: Some(check(ResultKeyword::Fail, "mail.example.com", None)),
                },
                vec![Method::Spf],
            ),
        ];
        for (name, found, expected) in cases {
            let mut observation = observed();
            let verified = found.clone();
            apply(&mut observation, found);
            let methods: Vec<Method> = observation
                .disagreements
                .iter()
                .map(|d| d.method.clone())
                .collect();
            assert_eq!(methods, expected, "{name}");
            if let Reverified::Verified { dkim, .. } = verified {
                assert_eq!(observation.dkim, dkim, "{name}: results replaced");
            }
        }
    }

    #[test]
    fn nothing_verified_leaves_the_results_and_says_why() {
        for (found, note) in [
            (Reverified::NotAttempted, "needs --dns"),
            (Reverified::Unparsable, "does not parse"),
        ] {
            let mut observation = observed();
            let before = observation.dkim.clone();
            apply(&mut observation, found);
            assert_eq!(observation.dkim, before);
            assert!(observation.disagreements.is_empty());
            assert!(observation.notes.iter().any(|n| n.contains(note)));
        }
    }
}
