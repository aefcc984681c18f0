//! Causes and consequences among the findings of one message (or of one identity): a finding
//! whose problem exists only because of another's is a consequence of it, and rides in that
//! finding's alert instead of paging on its own. One cause, one page.
//!
//! The relation, decided here and nowhere else, about the same domain and the same message:
//! - `spf_unaligned` for an amazonses.com envelope follows from `mail_from_fallback` or
//!   `mail_from_status` (SPF is unaligned only because the MAIL FROM fell back);
//! - `dkim_unaligned` follows from `dkim_not_signing`;
//! - `dmarc_fail` follows from the unaligned identifiers that cause it (`spf_unaligned`,
//!   `dkim_unaligned`), and so from their causes in turn;
//! - a failed bulk-sender requirement (`bulk_requirement_failed`) follows from the audit's
//!   findings that break it (`spf` from the MAIL FROM's state, MX or SPF record; `dkim` from
//!   DKIM not signing or its records; `dmarc_policy` from `no_dmarc_policy`), and `spf` and
//!   `alignment` from the requirements they rest on (`mail_from`; `spf` and `dkim`).
//!
//! Every finding is still listed (the CLI, the metrics): only paging follows causes.

use crate::judge::bulk::Requirement;
use crate::judge::findings::{Facts, Finding, Kind, Severity};
use crate::judge::received::is_amazonses;

/// What a finding is among the findings of its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// It stands on its own: it pages (at or above the alert threshold).
    Cause,
    /// It follows from these findings (their indices, each a cause): it rides in their
    /// alerts and pages only through them.
    Consequence { of: Vec<usize> },
}

/// The kinds `facts` follows from, when one is found beside it about the same domain and
/// message.
fn follows_from(facts: &Facts) -> &'static [Kind] {
    match facts {
        Facts::SpfUnaligned {
            domain: Some(domain),
            ..
        } if is_amazonses(domain) => &[Kind::MailFromFallback, Kind::MailFromStatus],
        Facts::DkimUnaligned { .. } => &[Kind::DkimNotSigning],
        Facts::DmarcFail { .. } => &[Kind::SpfUnaligned, Kind::DkimUnaligned],
        _ => &[],
    }
}

/// What a failed bulk-sender requirement follows from: the audit's kinds that break it, and
/// the requirements it rests on.
fn requirement_follows_from(requirement: Requirement) -> (&'static [Kind], &'static [Requirement]) {
    const MAIL_FROM: &[Kind] = &[
        Kind::MailFromStatus,
        Kind::MailFromMxMissing,
        Kind::MailFromFallback,
    ];
    const SPF: &[Kind] = &[
        Kind::MailFromStatus,
        Kind::MailFromMxMissing,
        Kind::MailFromFallback,
        Kind::MailFromSpfMissing,
    ];
    match requirement {
        Requirement::MailFrom => (MAIL_FROM, &[]),
        Requirement::Spf => (SPF, &[Requirement::MailFrom]),
        Requirement::Dkim => (&[Kind::DkimNotSigning, Kind::DkimDnsMissing], &[]),
        Requirement::DmarcPolicy => (&[Kind::NoDmarcPolicy], &[]),
        Requirement::Alignment => (
            &[
                Kind::MailFromStatus,
                Kind::MailFromMxMissing,
                Kind::MailFromFallback,
                Kind::MailFromSpfMissing,
                Kind::DkimNotSigning,
                Kind::DkimDnsMissing,
                Kind::StrictSpfAlignment,
            ],
            &[Requirement::MailFrom, Requirement::Spf, Requirement::Dkim],
        ),
        Requirement::OneClickUnsubscribe
        | Requirement::ComplaintRate
        | Requirement::Tls
        | Requirement::Ptr => (&[], &[]),
    }
}

/// Whether `consequence` follows from `cause` when both are found about the same domain and
/// message.
fn explains(cause: &Facts, consequence: &Facts) -> bool {
    match (consequence, cause) {
        (Facts::BulkRequirementFailed(failed), Facts::BulkRequirementFailed(by)) => {
            requirement_follows_from(failed.requirement)
                .1
                .contains(&by.requirement)
        }
        (Facts::BulkRequirementFailed(failed), cause) => {
            requirement_follows_from(failed.requirement)
                .0
                .contains(&cause.kind())
        }
        (consequence, cause) => follows_from(consequence).contains(&cause.kind()),
    }
}

/// The role of each of `findings` (the findings of one record), in order.
pub fn relate(findings: &[Finding]) -> Vec<Role> {
    (0..findings.len())
        .map(|index| {
            let causes = roots(findings, index, 0);
            if causes.is_empty() {
                Role::Cause
            } else {
                Role::Consequence { of: causes }
            }
        })
        .collect()
}

/// The causes `findings[index]` follows from, followed down to the findings that stand on
/// their own; empty when it stands on its own. The kinds form no cycle; `depth` bounds the
/// walk all the same.
fn roots(findings: &[Finding], index: usize, depth: usize) -> Vec<usize> {
    let finding = &findings[index];
    let mut causes: Vec<usize> = Vec::new();
    if depth > 4 {
        return causes;
    }
    for (other, candidate) in findings.iter().enumerate() {
        let related = other != index
            && explains(&candidate.facts, &finding.facts)
            && candidate.domain == finding.domain
            && candidate.message_id == finding.message_id;
        if !related {
            continue;
        }
        let further = roots(findings, other, depth + 1);
        let found = if further.is_empty() {
            vec![other]
        } else {
            further
        };
        for cause in found {
            if !causes.contains(&cause) {
                causes.push(cause);
            }
        }
    }
    causes
}

/// Each cause of `findings` with its consequences, in the order the causes were found.
pub fn by_cause(findings: &[Finding]) -> Vec<(&Finding, Vec<&Finding>)> {
    let roles = relate(findings);
    findings
        .iter()
        .enumerate()
        .filter(|(index, _)| roles[*index] == Role::Cause)
        .map(|(index, cause)| {
            let consequences = roles
                .iter()
                .enumerate()
                .filter(|(_, role)| matches!(role, Role::Consequence { of } if of.contains(&index)))
                .map(|(other, _)| &findings[other])
                .collect();
            (cause, consequences)
        })
        .collect()
}

/// The severity a cause pages at: its own, raised to its consequences' where higher.
pub fn paging_severity(cause: &Finding, consequences: &[&Finding]) -> Severity {
    consequences
        .iter()
        .map(|c| c.severity())
        .fold(cause.severity(), Severity::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::align::Alignment;
    use crate::judge::findings::PolicyBasis;
    use crate::judge::policy::Disposition;
    use crate::read::identity_state::{CustomMailFrom, MailFromStatus};
    use crate::read::observation::{EnvelopeOrigin, EnvelopeSender, Source};

    fn on(facts: Facts, domain: &str, message: Option<&str>) -> Finding {
        Finding::new(facts, Some(domain), Source::ReceiptLambda).about(message)
    }

    fn fallback() -> Facts {
        Facts::MailFromFallback {
            envelope: EnvelopeSender {
                domain: "us-east-1.amazonses.com".into(),
                origin: EnvelopeOrigin::SesSource,
            },
            custom: CustomMailFrom {
                identity: "example.com".into(),
                mail_from: "mail.example.com".into(),
            },
        }
    }

    fn status() -> Facts {
        Facts::MailFromStatus {
            identity: "example.com".into(),
            mail_from: "mail.example.com".into(),
            status: MailFromStatus::Failed,
            behavior: None,
            region: None,
        }
    }

    fn spf_unaligned(domain: &str) -> Facts {
        Facts::SpfUnaligned {
            header_from: "example.com".into(),
            domain: Some(domain.into()),
            aspf: Alignment::Relaxed,
        }
    }

    fn dkim_unaligned() -> Facts {
        Facts::DkimUnaligned {
            header_from: "example.com".into(),
            domains: vec![Some("amazonses.com".into())],
            adkim: Alignment::Relaxed,
        }
    }

    fn not_signing() -> Facts {
        Facts::DkimNotSigning {
            domain: "example.com".into(),
        }
    }

    fn dmarc_fail() -> Facts {
        Facts::DmarcFail {
            header_from: "example.com".into(),
            policy: PolicyBasis::Published(Disposition::Reject),
        }
    }

    fn bulk(requirement: Requirement) -> Facts {
        use crate::judge::bulk::{Evidence, Judgement, Status, Why};
        Facts::BulkRequirementFailed(Judgement {
            requirement,
            status: Status::Fail,
            evidence: Some(Evidence::Dns),
            why: Why::NoEvidence,
            receivers: Vec::new(),
        })
    }

    fn mx_missing() -> Facts {
        Facts::MailFromMxMissing {
            mail_from: "mail.example.com".into(),
            problem: crate::judge::findings::MxProblem::Missing,
            behavior: None,
            region: "us-east-1".into(),
        }
    }

    fn no_dmarc() -> Facts {
        Facts::NoDmarcPolicy {
            domain: "example.com".into(),
            reported_by_ses: false,
            nothing_aligns: false,
        }
    }

    const SES: &str = "us-east-1.amazonses.com";
    const M: Option<&str> = Some("m-1");

    #[test]
    fn consequences_follow_their_causes() {
        use Role::{Cause, Consequence};
        let c = |of: &[usize]| Consequence { of: of.to_vec() };
        // (case, findings, their roles)
        let cases: Vec<(&str, Vec<Finding>, Vec<Role>)> = vec![
            (
                "SPF unaligned only because the MAIL FROM fell back",
                vec![
                    on(fallback(), "example.com", M),
                    on(spf_unaligned(SES), "example.com", M),
                ],
                vec![Cause, c(&[0])],
            ),
            (
                "or because SES reports the MAIL FROM failed",
                vec![
                    on(status(), "example.com", M),
                    on(spf_unaligned(SES), "example.com", M),
                ],
                vec![Cause, c(&[0])],
            ),
            (
                "SPF unaligned for another sender's domain is its own problem",
                vec![
                    on(fallback(), "example.com", M),
                    on(spf_unaligned("mailer.example.net"), "example.com", M),
                ],
                vec![Cause, Cause],
            ),
            (
                "SPF unaligned with no fallback found stands on its own",
                vec![on(spf_unaligned(SES), "example.com", M)],
                vec![Cause],
            ),
            (
                "DKIM unaligned because signing is off",
                vec![
                    on(not_signing(), "example.com", M),
                    on(dkim_unaligned(), "example.com", M),
                ],
                vec![Cause, c(&[0])],
            ),
            (
                "DMARC fails through both identifiers: the fallback and DKIM broken",
                vec![
                    on(spf_unaligned(SES), "example.com", M),
                    on(dkim_unaligned(), "example.com", M),
                    on(fallback(), "example.com", M),
                    on(dmarc_fail(), "example.com", M),
                ],
                vec![c(&[2]), Cause, Cause, c(&[2, 1])],
            ),
            (
                "DMARC fails with no unaligned identifier found: it pages as itself",
                vec![on(dmarc_fail(), "example.com", M)],
                vec![Cause],
            ),
            (
                "another domain's fallback explains nothing here",
                vec![
                    on(fallback(), "example.org", M),
                    on(spf_unaligned(SES), "example.com", M),
                ],
                vec![Cause, Cause],
            ),
            (
                "another message's fallback explains nothing here",
                vec![
                    on(fallback(), "example.com", Some("m-2")),
                    on(spf_unaligned(SES), "example.com", M),
                ],
                vec![Cause, Cause],
            ),
        ];
        for (case, findings, roles) in cases {
            assert_eq!(relate(&findings), roles, "{case}");
        }
    }

    #[test]
    fn failed_bulk_requirements_follow_the_audit_findings_that_break_them() {
        use Requirement as R;
        use Role::{Cause, Consequence};
        let c = |of: &[usize]| Consequence { of: of.to_vec() };
        let audit = |facts: Facts| on(facts, "example.com", None);
        let cases: Vec<(&str, Vec<Finding>, Vec<Role>)> = vec![
            (
                "SPF and the MAIL FROM fail because its MX is missing: one page, the MX's",
                vec![
                    audit(mx_missing()),
                    audit(bulk(R::MailFrom)),
                    audit(bulk(R::Spf)),
                ],
                vec![Cause, c(&[0]), c(&[0])],
            ),
            (
                "no custom MAIL FROM at all: SPF rides on the MAIL FROM requirement",
                vec![audit(bulk(R::Spf)), audit(bulk(R::MailFrom))],
                vec![c(&[1]), Cause],
            ),
            (
                "alignment fails through SPF (no MAIL FROM) and DKIM (not signing)",
                vec![
                    audit(bulk(R::MailFrom)),
                    audit(bulk(R::Spf)),
                    audit(not_signing()),
                    audit(bulk(R::Dkim)),
                    audit(bulk(R::Alignment)),
                ],
                vec![Cause, c(&[0]), Cause, c(&[2]), c(&[0, 2])],
            ),
            (
                "a missing DMARC record pages once, for both findings",
                vec![audit(no_dmarc()), audit(bulk(R::DmarcPolicy))],
                vec![Cause, c(&[0])],
            ),
            (
                "the complaint rate follows from nothing the audit finds",
                vec![
                    audit(mx_missing()),
                    audit(no_dmarc()),
                    audit(bulk(R::ComplaintRate)),
                ],
                vec![Cause, Cause, Cause],
            ),
            (
                "another domain's MX explains nothing here",
                vec![on(mx_missing(), "example.org", None), audit(bulk(R::Spf))],
                vec![Cause, Cause],
            ),
            (
                "DKIM failing does not explain SPF",
                vec![audit(not_signing()), audit(bulk(R::Spf))],
                vec![Cause, Cause],
            ),
        ];
        for (case, findings, roles) in cases {
            assert_eq!(relate(&findings), roles, "{case}");
        }
    }

    #[test]
    fn a_cause_pages_at_its_consequences_severity_where_higher() {
        let findings = vec![
            on(dkim_unaligned(), "example.com", M),
            on(dmarc_fail(), "example.com", M),
        ];
        let grouped = by_cause(&findings);
        assert_eq!(grouped.len(), 1);
        let (cause, consequences) = &grouped[0];
        assert_eq!(cause.kind(), Kind::DkimUnaligned);
        assert_eq!(cause.severity(), Severity::Warning);
        assert_eq!(paging_severity(cause, consequences), Severity::Critical);
    }
}
