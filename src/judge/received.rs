//! What a received message means: for each From domain, the [`Evaluation`] `align` makes of
//! its results, and the findings that follow, each from one small function over that
//! evaluation and the [`Observation`].
//!
//! Pure: what DNS or AWS know arrives in [`DomainFacts`] and in the identities' custom MAIL
//! FROM domains, gathered beforehand by the caller (offline from flags, online from DNS and
//! SESv2).

use crate::judge::align::{
    self, Alignment, Checked, DmarcOutcome, Evaluation, IdentifierResult, KnownOrgDomains,
    PolicySource, PolicyState,
};
use crate::judge::findings::{Evidence, Facts, Finding, PolicyBasis, Reporter};
use crate::judge::policy::{Disposition, PolicyDiscovery};
use crate::read::authres::ResultKeyword;
use crate::read::domain::is_within;
use crate::read::identity_state::CustomMailFrom;
use crate::read::observation::{Observation, PartialBody, Refusal, Reverification};
use crate::read::receipt::{SesDmarcPolicy, VerdictStatus};
use std::collections::HashMap;
use std::sync::Arc;

/// How organizational domains were determined; the report says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgSource {
    /// Offline: the public suffix list compiled into the program.
    PublicSuffixList,
    /// RFC 9989 DNS tree walk.
    DnsTreeWalk,
}

/// What is known about the domains an observation names.
#[derive(Debug, Clone)]
pub struct DomainFacts {
    /// DMARC discovery per Author Domain. A missing entry means "unknown" (offline, no
    /// `--policy` given), which is not the same as "no record published".
    pub policies: HashMap<String, PolicyDiscovery>,
    pub orgs: KnownOrgDomains,
    pub org_source: OrgSource,
}

/// One message, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// One per From domain, in header order.
    pub evaluations: Vec<Arc<Evaluation>>,
    pub findings: Vec<Finding>,
}

/// SES sends with this MAIL FROM when no custom one is configured or it fell back.
pub fn is_amazonses(domain: &str) -> bool {
    is_within(domain, "amazonses.com")
}

/// Judges one observation. `custom[i]` is the custom MAIL FROM domain of the identity
/// covering the `i`-th From domain, when it has one.
pub fn analyze(
    observation: &Observation,
    facts: &DomainFacts,
    custom: &[Option<CustomMailFrom>],
) -> Analysis {
    let id = observation.message_id.as_deref();
    let source = observation.source;
    let primary = observation.header_from.first().map(String::as_str);
    let mut findings: Vec<Finding> = message_findings(observation)
        .map(|facts| Finding::new(facts, primary, source).about(id))
        .collect();

    let checked = Checked {
        spf: observation.spf.as_ref(),
        dkim: &observation.dkim,
        trusted: observation.trusted_results,
    };
    let mut evaluations = Vec::with_capacity(observation.header_from.len());
    for (index, author) in observation.header_from.iter().enumerate() {
        let custom = custom.get(index).and_then(Option::as_ref);
        let policy = match facts.policies.get(author) {
            Some(discovery) => PolicySource::Discovered(discovery),
            None if reported_absent(observation) => PolicySource::ReportedAbsent,
            None => PolicySource::Unknown,
        };
        let evaluation = Arc::new(align::evaluate(author, checked, policy, &facts.orgs));
        let found = author_findings(observation, &evaluation, custom);
        // Evidence is for alerts: kept only when there is something to alert on.
        if !found.is_empty() {
            let evidence = Arc::new(Evidence::Received {
                evaluation: Arc::clone(&evaluation),
                envelope: observation.mail_from.clone(),
                ses: observation.ses.clone(),
                custom: custom.cloned(),
            });
            findings.extend(found.into_iter().map(|facts| {
                Finding::new(facts, Some(author), source)
                    .about(id)
                    .with_evidence(&evidence)
            }));
        }
        evaluations.push(evaluation);
    }
    Analysis {
        evaluations,
        findings,
    }
}

/// Findings about the message as a whole.
fn message_findings(observation: &Observation) -> impl Iterator<Item = Facts> + '_ {
    let truncated = observation
        .headers_truncated
        .then_some(Facts::HeadersTruncated);
    let forged = (observation.forged_auth_results > 0).then_some(Facts::ForgedAuthResults {
        count: observation.forged_auth_results,
    });
    let disagreements = observation
        .disagreements
        .iter()
        .map(|d| Facts::ReverifiedMismatch {
            method: d.method.clone(),
            verified: d.verified.clone(),
            reported: d.reported.clone(),
        });
    let (refused, partial): (&[Refusal], &[PartialBody]) = match &observation.reverification {
        Reverification::Done {
            refused, partial, ..
        } => (refused, partial),
        _ => (&[], &[]),
    };
    let refused = refused.iter().map(|r| Facts::DkimNotReverified {
        domain: r.domain.clone(),
        selector: r.selector.clone(),
        reason: r.reason.clone(),
        kept: r.kept.clone(),
    });
    let partial = partial.iter().map(|p| Facts::DkimPartialBody {
        domain: p.domain.clone(),
        signed: p.signed,
        body: p.body,
    });
    truncated
        .into_iter()
        .chain(forged)
        .chain(disagreements)
        .chain(refused)
        .chain(partial)
}

/// Findings about one From domain, in the order a reader wants them: raw failures, unaligned
/// passes, the MAIL FROM, the policy, then disagreements with the reported verdict.
fn author_findings(
    observation: &Observation,
    evaluation: &Evaluation,
    custom: Option<&CustomMailFrom>,
) -> Vec<Facts> {
    [
        spf_fail(evaluation),
        dkim_fail(evaluation),
        spf_unaligned(evaluation),
        dkim_unaligned(evaluation),
        mail_from_fallback(observation, custom),
        strict_spf_alignment(observation, evaluation, custom),
        dmarc_policy(observation, evaluation),
        dmarc_mismatch(observation, evaluation),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn spf_fail(evaluation: &Evaluation) -> Option<Facts> {
    let spf = evaluation.spf.as_ref().filter(|r| r.failed())?;
    Some(Facts::SpfFail {
        result: spf.result().clone(),
        domain: spf.domain.clone(),
    })
}

fn dkim_fail(evaluation: &Evaluation) -> Option<Facts> {
    let failures: Vec<(ResultKeyword, Option<String>)> = evaluation
        .dkim
        .iter()
        .filter(|r| r.failed())
        .map(|r| (r.result().clone(), r.domain.clone()))
        .collect();
    (!failures.is_empty()).then_some(Facts::DkimFail { failures })
}

fn spf_unaligned(evaluation: &Evaluation) -> Option<Facts> {
    let spf = evaluation.spf.as_ref().filter(|r| r.is_unaligned_pass())?;
    Some(Facts::SpfUnaligned {
        header_from: evaluation.header_from.clone(),
        domain: spf.domain.clone(),
        aspf: evaluation.policy.aspf(),
    })
}

/// Some signature passed, and none of those aligns (typically only `d=amazonses.com`).
fn dkim_unaligned(evaluation: &Evaluation) -> Option<Facts> {
    let passing: Vec<&IdentifierResult> = evaluation
        .dkim
        .iter()
        .filter(|r| r.is_aligned() || r.is_unaligned_pass())
        .collect();
    if passing.is_empty() || passing.iter().any(|r| r.is_aligned()) {
        return None;
    }
    Some(Facts::DkimUnaligned {
        header_from: evaluation.header_from.clone(),
        domains: passing.iter().map(|r| r.domain.clone()).collect(),
        adkim: evaluation.policy.adkim(),
    })
}

/// An identity with a custom MAIL FROM domain sent with amazonses.com's.
fn mail_from_fallback(observation: &Observation, custom: Option<&CustomMailFrom>) -> Option<Facts> {
    let custom = custom?;
    let envelope = observation
        .mail_from
        .as_ref()
        .filter(|sender| is_amazonses(&sender.domain))?;
    Some(Facts::MailFromFallback {
        envelope: envelope.clone(),
        custom: custom.clone(),
    })
}

/// `aspf=s` can never be met by SES's MAIL FROM, a subdomain (or amazonses.com).
fn strict_spf_alignment(
    observation: &Observation,
    evaluation: &Evaluation,
    custom: Option<&CustomMailFrom>,
) -> Option<Facts> {
    let PolicyState::Published {
        at,
        aspf: Alignment::Strict,
        ..
    } = &evaluation.policy
    else {
        return None;
    };
    let author = &evaluation.header_from;
    let sent_through_ses = observation.mail_from.as_ref().is_some_and(|sender| {
        sender.domain != *author
            && (is_within(&sender.domain, author) || is_amazonses(&sender.domain))
    });
    (custom.is_some() || sent_through_ses).then(|| Facts::StrictSpfAlignment {
        domain: author.clone(),
        record_at: Some(at.clone()),
        mail_from: custom.map(|c| c.mail_from.clone()),
    })
}

/// Whether the receiving server said the From domain publishes no DMARC record: SES's GRAY
/// verdict, or `dmarc=none` from the trusted server. Offline, that stands in for the lookup.
fn reported_absent(observation: &Observation) -> bool {
    let ses_gray = observation
        .ses
        .as_ref()
        .and_then(|s| s.dmarc.as_ref())
        .is_some_and(|v| *v == VerdictStatus::Gray);
    ses_gray || observation.reported_dmarc == Some(ResultKeyword::None)
}

/// `no_dmarc_policy` without a record (there is no DMARC verdict then), `dmarc_fail` under one.
/// Offline, SES's `dmarcPolicy` tells the policy in force.
fn dmarc_policy(observation: &Observation, evaluation: &Evaluation) -> Option<Facts> {
    match evaluation.dmarc {
        DmarcOutcome::Unknown | DmarcOutcome::Pass(_) => None,
        DmarcOutcome::NoPolicy { would_pass } => Some(Facts::NoDmarcPolicy {
            domain: evaluation.header_from.clone(),
            reported_by_ses: evaluation.policy == PolicyState::NotPublished { reported: true },
            nothing_aligns: !would_pass,
        }),
        DmarcOutcome::Fail(_) => {
            let ses = observation.ses.as_ref();
            let policy = match &evaluation.policy {
                PolicyState::Published { disposition, .. } => PolicyBasis::Published(*disposition),
                _ => match ses.and_then(|s| s.dmarc_policy.as_ref()) {
                    Some(SesDmarcPolicy::Reject) => PolicyBasis::ReportedBySes(Disposition::Reject),
                    Some(SesDmarcPolicy::Quarantine) => {
                        PolicyBasis::ReportedBySes(Disposition::Quarantine)
                    }
                    Some(SesDmarcPolicy::None) => PolicyBasis::ReportedBySes(Disposition::None),
                    Some(SesDmarcPolicy::Unknown(_)) | None => PolicyBasis::Unknown,
                },
            };
            Some(Facts::DmarcFail {
                header_from: evaluation.header_from.clone(),
                policy,
            })
        }
    }
}

/// SES's verdict (or the trusted server's `dmarc=`) against the recomputation.
fn dmarc_mismatch(observation: &Observation, evaluation: &Evaluation) -> Option<Facts> {
    let ours = evaluation.dmarc.passed()?;
    let (reporter, reported_pass) = match observation.ses.as_ref().and_then(|s| s.dmarc.as_ref()) {
        Some(VerdictStatus::Pass) => (Reporter::SesVerdict, true),
        Some(VerdictStatus::Fail) => (Reporter::SesVerdict, false),
        Some(_) => return None,
        None => match &observation.reported_dmarc {
            Some(ResultKeyword::Pass) => (Reporter::TrustedHeader, true),
            Some(ResultKeyword::Fail) => (Reporter::TrustedHeader, false),
            _ => return None,
        },
    };
    (reported_pass != ours).then_some(Facts::DmarcMismatch {
        reporter,
        reported_pass,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::findings::Kind;
    use crate::read::observation::{self, Source};

    fn facts() -> DomainFacts {
        DomainFacts {
            policies: HashMap::new(),
            orgs: KnownOrgDomains::default(),
            org_source: OrgSource::PublicSuffixList,
        }
    }

    fn observe(auth_results: &str) -> Observation {
        let headers = [
            ("Authentication-Results", auth_results),
            ("From", "ops@example.com"),
        ];
        observation::from_headers(&headers, Source::RawMessage, &["amazonses.com".into()])
    }

    fn custom() -> Option<CustomMailFrom> {
        Some(CustomMailFrom {
            identity: "example.com".into(),
            mail_from: "mail.example.com".into(),
        })
    }

    /// (case, header, custom MAIL FROM configured, expected kinds)
    #[test]
    fn kinds_per_case() {
        let cases: &[(&str, &str, bool, &[Kind])] = &[
            (
                "everything aligned",
                "amazonses.com; spf=pass smtp.mailfrom=mail.example.com; dkim=pass header.d=example.com",
                true,
                &[],
            ),
            (
                "the fallback: SPF for amazonses.com, DKIM still aligned",
                "amazonses.com; spf=pass smtp.mailfrom=us-east-1.amazonses.com; dkim=pass header.d=example.com",
                true,
                &[Kind::SpfUnaligned, Kind::MailFromFallback],
            ),
            (
                "the same without a custom MAIL FROM configured: no fallback to speak of",
                "amazonses.com; spf=pass smtp.mailfrom=us-east-1.amazonses.com; dkim=pass header.d=example.com",
                false,
                &[Kind::SpfUnaligned],
            ),
            (
                "only SES's own signature passes",
                "amazonses.com; spf=pass smtp.mailfrom=us-east-1.amazonses.com; dkim=fail header.d=example.com; dkim=pass header.d=amazonses.com",
                false,
                &[
                    Kind::DkimFail,
                    Kind::SpfUnaligned,
                    Kind::DkimUnaligned,
                    Kind::DmarcFail,
                ],
            ),
            (
                "the trusted server says dmarc=fail while an aligned identifier passed",
                "amazonses.com; spf=pass smtp.mailfrom=mail.example.com; dmarc=fail header.from=example.com",
                false,
                &[Kind::VerdictMismatch],
            ),
            (
                "dmarc=none beside an aligned pass: no record is published",
                "amazonses.com; dkim=pass header.d=example.com; dmarc=none header.from=example.com",
                false,
                &[Kind::NoDmarcPolicy],
            ),
            (
                "dmarc=none and nothing aligned: no verdict, so no dmarc_fail; the unaligned pass stays",
                "amazonses.com; spf=pass smtp.mailfrom=us-east-1.amazonses.com; dkim=none; dmarc=none header.from=example.com",
                false,
                &[Kind::SpfUnaligned, Kind::NoDmarcPolicy],
            ),
            (
                "SPF softfail for the From domain itself",
                "amazonses.com; spf=softfail smtp.mailfrom=example.com; dkim=pass header.d=example.com",
                false,
                &[Kind::SpfFail],
            ),
        ];
        for (name, header, configured, expected) in cases {
            let custom = if *configured { vec![custom()] } else { vec![] };
            let analysis = analyze(&observe(header), &facts(), &custom);
            let kinds: Vec<Kind> = analysis.findings.iter().map(Finding::kind).collect();
            assert_eq!(kinds, *expected, "{name}");
        }
    }

    #[test]
    fn findings_share_the_evaluation_as_evidence() {
        let observation = observe(
            "amazonses.com; spf=pass smtp.mailfrom=us-east-1.amazonses.com; dkim=fail header.d=example.com",
        );
        let analysis = analyze(&observation, &facts(), &[custom()]);
        let evidence: Vec<_> = analysis
            .findings
            .iter()
            .filter_map(|f| f.evidence.as_ref())
            .collect();
        assert!(evidence.len() >= 2);
        assert!(evidence.windows(2).all(|w| Arc::ptr_eq(w[0], w[1])));
        match evidence[0].as_ref() {
            Evidence::Received { evaluation, .. } => {
                assert!(Arc::ptr_eq(evaluation, &analysis.evaluations[0]));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strict_spf_under_a_published_record() {
        let mut book = crate::judge::policy::PolicyBook::default();
        book.add("example.com=v=DMARC1; p=reject; aspf=s")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut facts = facts();
        facts
            .policies
            .insert("example.com".into(), book.discover("example.com"));
        let observation = observe(
            "amazonses.com; spf=pass smtp.mailfrom=mail.example.com; dkim=pass header.d=example.com",
        );
        let analysis = analyze(&observation, &facts, &[custom()]);
        let kinds: Vec<Kind> = analysis.findings.iter().map(Finding::kind).collect();
        assert_eq!(kinds, [Kind::SpfUnaligned, Kind::StrictSpfAlignment]);
        assert_eq!(
            analysis.findings[1].facts,
            Facts::StrictSpfAlignment {
                domain: "example.com".into(),
                record_at: Some("example.com".into()),
                mail_from: Some("mail.example.com".into()),
            }
        );
    }
}
