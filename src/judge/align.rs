//! Identifier alignment (RFC 9989 §4.4): for one Author Domain, which SPF and DKIM results
//! passed for a domain aligned with it, and what DMARC concludes. Decided here, and only here,
//! as values that carry their reasons ([`Evaluation`]); the findings and every text are made
//! from them elsewhere.
//!
//! Identifiers align when equal (strict) or when they share an organizational domain
//! (relaxed). Where organizational domains come from is the caller's choice
//! ([`OrgDomains`]): the public suffix list offline, the DNS tree walk online.

use crate::judge::policy::{Disposition, PolicyDiscovery};
use crate::read::authres::ResultKeyword;
use crate::read::observation::IdentifierCheck;
use std::collections::HashMap;

pub use mail_auth::dmarc::Alignment;

/// The tag value a DMARC record writes for a mode: `r` or `s`.
pub fn mode_tag(mode: Alignment) -> &'static str {
    match mode {
        Alignment::Relaxed => "r",
        Alignment::Strict => "s",
    }
}

/// Where organizational domains come from.
pub trait OrgDomains {
    /// The organizational domain of a normalized domain.
    fn organizational_domain<'a>(&'a self, domain: &'a str) -> &'a str;
}

/// The public suffix list compiled into the `psl` crate: offline, and what DMARC used before
/// RFC 9989. Names with no listed suffix are their own organizational domain.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicSuffixList;

impl OrgDomains for PublicSuffixList {
    fn organizational_domain<'a>(&'a self, domain: &'a str) -> &'a str {
        psl::domain_str(domain).unwrap_or(domain)
    }
}

/// Organizational domains already determined (by a DNS tree walk), falling back to the public
/// suffix list for names that were not looked up.
#[derive(Debug, Clone, Default)]
pub struct KnownOrgDomains(pub HashMap<String, String>);

impl OrgDomains for KnownOrgDomains {
    fn organizational_domain<'a>(&'a self, domain: &'a str) -> &'a str {
        match self.0.get(domain) {
            Some(org) => org,
            None => PublicSuffixList.organizational_domain(domain),
        }
    }
}

/// How one checked identifier stands against the From domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentifierAlignment {
    /// It passed, for a domain aligned with From under `mode`.
    Aligned { mode: Alignment },
    /// It passed, for a domain that does not align under `mode`. `org_a` is the identifier's
    /// organizational domain (`None` when the result names no domain), `org_b` From's.
    NotAligned {
        mode: Alignment,
        org_a: Option<String>,
        org_b: String,
    },
    /// It did not pass: alignment does not arise.
    NotPassed(ResultKeyword),
}

/// One SPF or DKIM result, judged against the From domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierResult {
    /// The authenticated domain (SPF: MAIL FROM or HELO; DKIM: `d=`).
    pub domain: Option<String>,
    pub alignment: IdentifierAlignment,
}

static PASS: ResultKeyword = ResultKeyword::Pass;

impl IdentifierResult {
    /// The raw result: `pass` whenever alignment was judged.
    pub fn result(&self) -> &ResultKeyword {
        match &self.alignment {
            IdentifierAlignment::NotPassed(result) => result,
            _ => &PASS,
        }
    }

    pub fn is_aligned(&self) -> bool {
        matches!(self.alignment, IdentifierAlignment::Aligned { .. })
    }

    /// Passed, but for a domain that does not align.
    pub fn is_unaligned_pass(&self) -> bool {
        matches!(self.alignment, IdentifierAlignment::NotAligned { .. })
    }

    /// A raw check that failed (as opposed to `none`, `neutral` and the like).
    pub fn failed(&self) -> bool {
        matches!(
            self.alignment,
            IdentifierAlignment::NotPassed(
                ResultKeyword::Fail
                    | ResultKeyword::SoftFail
                    | ResultKeyword::HardFail
                    | ResultKeyword::PermError
                    | ResultKeyword::TempError
                    | ResultKeyword::Timeout
                    | ResultKeyword::Policy
            )
        )
    }
}

/// Which identifiers made DMARC pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlignedBy {
    Spf,
    Dkim,
    Both,
}

/// Why DMARC fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcFailure {
    /// Something passed, but for domains that do not align (typically only amazonses.com).
    NotAligned,
    /// Neither SPF nor any DKIM signature passed.
    NothingPassed,
}

/// What DMARC concludes for the Author Domain, with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcOutcome {
    Pass(AlignedBy),
    Fail(DmarcFailure),
    /// No DMARC record applies, so receivers reach no DMARC verdict; `would_pass` says how the
    /// mail would fare once one is published.
    NoPolicy {
        would_pass: bool,
    },
    /// No results from a trusted server to recompute from.
    Unknown,
}

impl DmarcOutcome {
    /// The verdict receivers reach: `None` without results or without a record.
    pub fn passed(self) -> Option<bool> {
        match self {
            Self::Pass(_) => Some(true),
            Self::Fail(_) => Some(false),
            Self::NoPolicy { .. } | Self::Unknown => None,
        }
    }
}

/// What is known of the Author Domain's policy before the evaluation.
#[derive(Debug, Clone, Copy)]
pub enum PolicySource<'a> {
    /// Found by the tree walk (or given with `--policy`): a record, or none.
    Discovered(&'a PolicyDiscovery),
    /// Not looked up, but the receiving server said none is published (SES's GRAY verdict,
    /// or `dmarc=none` in its `Authentication-Results`).
    ReportedAbsent,
    /// Not looked up, and nothing said: relaxed alignment assumed.
    Unknown,
}

/// The published policy as the evaluation saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyState {
    Published {
        /// The name the record was found at.
        at: String,
        disposition: Disposition,
        adkim: Alignment,
        aspf: Alignment,
    },
    /// None applies; `reported` when the receiving server said so rather than DNS.
    NotPublished { reported: bool },
    /// Not looked up (offline, no `--policy` for this domain): relaxed alignment assumed.
    Unknown,
}

impl PolicyState {
    fn from_source(source: PolicySource<'_>) -> Self {
        match source {
            PolicySource::Unknown => Self::Unknown,
            PolicySource::ReportedAbsent => Self::NotPublished { reported: true },
            PolicySource::Discovered(found) => match &found.record {
                None => Self::NotPublished { reported: false },
                Some((at, _)) => Self::Published {
                    at: at.clone(),
                    disposition: found.disposition.unwrap_or(Disposition::None),
                    adkim: found.adkim(),
                    aspf: found.aspf(),
                },
            },
        }
    }

    pub fn adkim(&self) -> Alignment {
        match self {
            Self::Published { adkim, .. } => *adkim,
            _ => Alignment::Relaxed,
        }
    }

    pub fn aspf(&self) -> Alignment {
        match self {
            Self::Published { aspf, .. } => *aspf,
            _ => Alignment::Relaxed,
        }
    }
}

/// The results a message carries, as the evaluation takes them.
#[derive(Debug, Clone, Copy)]
pub struct Checked<'a> {
    pub spf: Option<&'a IdentifierCheck>,
    pub dkim: &'a [IdentifierCheck],
    /// Whether they come from a trusted server's header: only then is DMARC recomputed.
    pub trusted: bool,
}

/// DMARC recomputed for one Author Domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub header_from: String,
    pub policy: PolicyState,
    pub spf: Option<IdentifierResult>,
    pub dkim: Vec<IdentifierResult>,
    pub dmarc: DmarcOutcome,
}

/// Evaluates the checked identifiers against `header_from` (a normalized Author Domain) under
/// what is known of its policy.
pub fn evaluate(
    header_from: &str,
    checked: Checked<'_>,
    policy: PolicySource<'_>,
    orgs: &impl OrgDomains,
) -> Evaluation {
    let policy = PolicyState::from_source(policy);
    let spf = checked
        .spf
        .map(|check| judge(check, header_from, policy.aspf(), orgs));
    let dkim: Vec<IdentifierResult> = checked
        .dkim
        .iter()
        .map(|check| judge(check, header_from, policy.adkim(), orgs))
        .collect();
    let dmarc = match (checked.trusted, &policy) {
        (false, _) => DmarcOutcome::Unknown,
        (true, PolicyState::NotPublished { .. }) => DmarcOutcome::NoPolicy {
            would_pass: dmarc(spf.as_ref(), &dkim).passed() == Some(true),
        },
        (true, _) => dmarc(spf.as_ref(), &dkim),
    };
    Evaluation {
        header_from: header_from.to_owned(),
        policy,
        spf,
        dkim,
        dmarc,
    }
}

fn judge(
    check: &IdentifierCheck,
    header_from: &str,
    mode: Alignment,
    orgs: &impl OrgDomains,
) -> IdentifierResult {
    let alignment = if !check.passed() {
        IdentifierAlignment::NotPassed(check.result.clone())
    } else if check
        .domain
        .as_deref()
        .is_some_and(|d| aligned(d, header_from, mode, orgs))
    {
        IdentifierAlignment::Aligned { mode }
    } else {
        IdentifierAlignment::NotAligned {
            mode,
            org_a: check
                .domain
                .as_deref()
                .map(|d| orgs.organizational_domain(d).to_owned()),
            org_b: orgs.organizational_domain(header_from).to_owned(),
        }
    };
    IdentifierResult {
        domain: check.domain.clone(),
        alignment,
    }
}

fn dmarc(spf: Option<&IdentifierResult>, dkim: &[IdentifierResult]) -> DmarcOutcome {
    let spf_aligned = spf.is_some_and(IdentifierResult::is_aligned);
    let dkim_aligned = dkim.iter().any(IdentifierResult::is_aligned);
    match (spf_aligned, dkim_aligned) {
        (true, true) => DmarcOutcome::Pass(AlignedBy::Both),
        (true, false) => DmarcOutcome::Pass(AlignedBy::Spf),
        (false, true) => DmarcOutcome::Pass(AlignedBy::Dkim),
        (false, false) if spf.into_iter().chain(dkim).any(|r| r.is_unaligned_pass()) => {
            DmarcOutcome::Fail(DmarcFailure::NotAligned)
        }
        (false, false) => DmarcOutcome::Fail(DmarcFailure::NothingPassed),
    }
}

/// RFC 9989 identifier alignment of two normalized domains.
pub fn aligned(
    identifier: &str,
    header_from: &str,
    mode: Alignment,
    orgs: &impl OrgDomains,
) -> bool {
    identifier == header_from
        || (mode == Alignment::Relaxed
            && orgs.organizational_domain(identifier) == orgs.organizational_domain(header_from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::policy::PolicyBook;
    use crate::read::domain::normalize;

    fn domain(text: &str) -> String {
        normalize(text).unwrap_or_else(|| panic!("bad domain {text}"))
    }

    macro_rules! alignment_cases {
        ($($name:ident: ($id:expr, $from:expr, $mode:ident) => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                let (id, from) = (domain($id), domain($from));
                assert_eq!(aligned(&id, &from, Alignment::$mode, &PublicSuffixList), $expected);
            }
        )*};
    }

    alignment_cases! {
        // Identical domains align in both modes.
        strict_same: ("example.com", "example.com", Strict) => true;
        // A subdomain never aligns strictly: Easy DKIM on a subdomain under adkim=s.
        strict_subdomain: ("mail.example.com", "example.com", Strict) => false;
        // SES's custom MAIL FROM subdomain aligns relaxed.
        relaxed_subdomain: ("bounce.example.com", "example.com", Relaxed) => true;
        // Sibling subdomains share the organizational domain.
        relaxed_siblings: ("a.example.com", "b.example.com", Relaxed) => true;
        // amazonses.com never aligns with a customer domain.
        relaxed_amazonses: ("us-east-1.amazonses.com", "example.com", Relaxed) => false;
        // Case does not matter.
        case_insensitive: ("EXAMPLE.com", "example.COM", Strict) => true;
        // A trailing dot does not matter.
        trailing_dot: ("example.com.", "example.com", Strict) => true;
        // U-label and A-label of the same name are equal.
        idn_forms: ("bücher.example", "xn--bcher-kva.example", Strict) => true;
        // Under a multi-label public suffix, the organizational domain is one label below it.
        multi_label_suffix: ("mail.example.co.uk", "example.co.uk", Relaxed) => true;
        // Two registrants under the same public suffix do not align.
        different_registrants: ("other.co.uk", "example.co.uk", Relaxed) => false;
        // The private section of the list counts: two github.io sites are different orgs.
        private_suffix: ("alice.github.io", "bob.github.io", Relaxed) => false;
        // A parent domain aligns relaxed with a deeper From.
        parent_of_from: ("example.com", "news.mail.example.com", Relaxed) => true;
    }

    fn check(result: ResultKeyword, domain: &str) -> IdentifierCheck {
        IdentifierCheck {
            result,
            domain: normalize(domain),
            selector: None,
        }
    }

    fn pass(domain: &str) -> IdentifierCheck {
        check(ResultKeyword::Pass, domain)
    }

    /// One evaluation: the From domain, SPF, DKIM, an optional DMARC record for the From domain.
    #[allow(clippy::needless_pass_by_value)] // the table builds each check in place
    fn eval(
        from: &str,
        spf: Option<IdentifierCheck>,
        dkim: &[IdentifierCheck],
        record: Option<&str>,
    ) -> Evaluation {
        let mut book = PolicyBook::default();
        if let Some(record) = record {
            book.add(&format!("{from}={record}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let discovery = record.map(|_| book.discover(&domain(from)));
        let checked = Checked {
            spf: spf.as_ref(),
            dkim,
            trusted: true,
        };
        let source = discovery
            .as_ref()
            .map_or(PolicySource::Unknown, PolicySource::Discovered);
        evaluate(&domain(from), checked, source, &PublicSuffixList)
    }

    fn relaxed() -> IdentifierAlignment {
        IdentifierAlignment::Aligned {
            mode: Alignment::Relaxed,
        }
    }

    fn not_aligned(mode: Alignment, org_a: Option<&str>, org_b: &str) -> IdentifierAlignment {
        IdentifierAlignment::NotAligned {
            mode,
            org_a: org_a.map(str::to_owned),
            org_b: org_b.to_owned(),
        }
    }

    /// (case, evaluation, expected SPF alignment, expected DKIM alignments, expected outcome)
    type Case = (
        &'static str,
        Evaluation,
        Option<IdentifierAlignment>,
        Vec<IdentifierAlignment>,
        DmarcOutcome,
    );

    #[test]
    fn evaluations() {
        use Alignment::{Relaxed, Strict};
        let cases: Vec<Case> = vec![
            (
                // SES with a custom MAIL FROM and Easy DKIM: both align, plus SES's own signature.
                "custom MAIL FROM and Easy DKIM",
                eval(
                    "example.com",
                    Some(pass("mail.example.com")),
                    &[pass("example.com"), pass("amazonses.com")],
                    None,
                ),
                Some(relaxed()),
                vec![
                    relaxed(),
                    not_aligned(Relaxed, Some("amazonses.com"), "example.com"),
                ],
                DmarcOutcome::Pass(AlignedBy::Both),
            ),
            (
                // The MAIL FROM fallback: SPF passes for amazonses.com, DKIM carries DMARC.
                "fallback, DKIM still aligned",
                eval(
                    "example.com",
                    Some(pass("us-east-1.amazonses.com")),
                    &[pass("example.com"), pass("amazonses.com")],
                    None,
                ),
                Some(not_aligned(Relaxed, Some("amazonses.com"), "example.com")),
                vec![
                    relaxed(),
                    not_aligned(Relaxed, Some("amazonses.com"), "example.com"),
                ],
                DmarcOutcome::Pass(AlignedBy::Dkim),
            ),
            (
                // The fallback with DKIM broken: only amazonses.com passes, DMARC fails.
                "fallback, DKIM broken",
                eval(
                    "example.com",
                    Some(pass("us-east-1.amazonses.com")),
                    &[
                        check(ResultKeyword::Fail, "example.com"),
                        pass("amazonses.com"),
                    ],
                    Some("v=DMARC1; p=reject"),
                ),
                Some(not_aligned(Relaxed, Some("amazonses.com"), "example.com")),
                vec![
                    IdentifierAlignment::NotPassed(ResultKeyword::Fail),
                    not_aligned(Relaxed, Some("amazonses.com"), "example.com"),
                ],
                DmarcOutcome::Fail(DmarcFailure::NotAligned),
            ),
            (
                // aspf=s: SES's MAIL FROM subdomain can never align; adkim=s still works.
                "strict SPF and DKIM",
                eval(
                    "example.com",
                    Some(pass("mail.example.com")),
                    &[pass("example.com")],
                    Some("v=DMARC1; p=reject; adkim=s; aspf=s"),
                ),
                Some(not_aligned(Strict, Some("example.com"), "example.com")),
                vec![IdentifierAlignment::Aligned { mode: Strict }],
                DmarcOutcome::Pass(AlignedBy::Dkim),
            ),
            (
                // adkim=s with Easy DKIM on a subdomain identity signing for a parent From.
                "strict DKIM on a subdomain signature",
                eval(
                    "example.com",
                    None,
                    &[pass("news.example.com")],
                    Some("v=DMARC1; p=quarantine; adkim=s"),
                ),
                None,
                vec![not_aligned(Strict, Some("example.com"), "example.com")],
                DmarcOutcome::Fail(DmarcFailure::NotAligned),
            ),
            (
                // A From subdomain aligns relaxed with a signature for its parent.
                "relaxed From subdomain",
                eval("news.example.com", None, &[pass("example.com")], None),
                None,
                vec![relaxed()],
                DmarcOutcome::Pass(AlignedBy::Dkim),
            ),
            (
                // Two registrants under a multi-label public suffix do not align.
                "public suffix co.uk",
                eval("example.co.uk", Some(pass("other.co.uk")), &[], None),
                Some(not_aligned(Relaxed, Some("other.co.uk"), "example.co.uk")),
                vec![],
                DmarcOutcome::Fail(DmarcFailure::NotAligned),
            ),
            (
                // An IDN From and its A-label signature are the same domain.
                "IDN",
                eval(
                    "bücher.example",
                    None,
                    &[pass("xn--bcher-kva.example")],
                    None,
                ),
                None,
                vec![relaxed()],
                DmarcOutcome::Pass(AlignedBy::Dkim),
            ),
            (
                // A pass that names no domain cannot align.
                "pass without a domain",
                eval(
                    "example.com",
                    Some(IdentifierCheck {
                        result: ResultKeyword::Pass,
                        domain: None,
                        selector: None,
                    }),
                    &[],
                    None,
                ),
                Some(not_aligned(Relaxed, None, "example.com")),
                vec![],
                DmarcOutcome::Fail(DmarcFailure::NotAligned),
            ),
            (
                // Nothing passed at all.
                "nothing passed",
                eval(
                    "example.com",
                    Some(check(ResultKeyword::SoftFail, "example.com")),
                    &[check(ResultKeyword::None, "example.com")],
                    None,
                ),
                Some(IdentifierAlignment::NotPassed(ResultKeyword::SoftFail)),
                vec![IdentifierAlignment::NotPassed(ResultKeyword::None)],
                DmarcOutcome::Fail(DmarcFailure::NothingPassed),
            ),
        ];
        for (name, evaluation, spf, dkim, outcome) in cases {
            assert_eq!(evaluation.spf.map(|r| r.alignment), spf, "{name}: SPF");
            let got: Vec<_> = evaluation.dkim.into_iter().map(|r| r.alignment).collect();
            assert_eq!(got, dkim, "{name}: DKIM");
            assert_eq!(evaluation.dmarc, outcome, "{name}: DMARC");
        }
    }

    #[test]
    fn the_policy_state_follows_discovery() {
        let none = eval("example.com", None, &[pass("example.com")], None);
        assert_eq!(none.policy, PolicyState::Unknown);
        let published = eval(
            "example.com",
            None,
            &[pass("example.com")],
            Some("v=DMARC1; p=reject; aspf=s; t=y"),
        );
        assert_eq!(
            published.policy,
            PolicyState::Published {
                at: "example.com".into(),
                disposition: Disposition::Quarantine,
                adkim: Alignment::Relaxed,
                aspf: Alignment::Strict,
            }
        );
        // A record without p and rua: DMARC does not apply, nothing is published.
        let no_p = eval("example.com", None, &[], Some("v=DMARC1; adkim=s"));
        assert_eq!(no_p.policy, PolicyState::NotPublished { reported: false });
        assert_eq!(no_p.policy.adkim(), Alignment::Relaxed);
        // Without a record there is no verdict, only what it would be.
        assert_eq!(no_p.dmarc, DmarcOutcome::NoPolicy { would_pass: false });
        let said = evaluate(
            "example.com",
            Checked {
                spf: None,
                dkim: &[pass("example.com")],
                trusted: true,
            },
            PolicySource::ReportedAbsent,
            &PublicSuffixList,
        );
        assert_eq!(said.policy, PolicyState::NotPublished { reported: true });
        assert_eq!(said.dmarc, DmarcOutcome::NoPolicy { would_pass: true });
    }

    #[test]
    fn several_from_domains_are_evaluated_each_on_its_own() {
        let spf = pass("mail.one.example");
        let dkim = [pass("two.example")];
        let checked = Checked {
            spf: Some(&spf),
            dkim: &dkim,
            trusted: true,
        };
        let one = evaluate(
            "one.example",
            checked,
            PolicySource::Unknown,
            &PublicSuffixList,
        );
        let two = evaluate(
            "two.example",
            checked,
            PolicySource::Unknown,
            &PublicSuffixList,
        );
        assert_eq!(one.dmarc, DmarcOutcome::Pass(AlignedBy::Spf));
        assert_eq!(two.dmarc, DmarcOutcome::Pass(AlignedBy::Dkim));
    }

    #[test]
    fn untrusted_results_leave_dmarc_unknown() {
        let dkim = [pass("example.com")];
        let checked = Checked {
            spf: None,
            dkim: &dkim,
            trusted: false,
        };
        let evaluation = evaluate(
            "example.com",
            checked,
            PolicySource::Unknown,
            &PublicSuffixList,
        );
        assert_eq!(evaluation.dmarc, DmarcOutcome::Unknown);
        assert!(evaluation.dkim[0].is_aligned());
    }

    #[test]
    fn organizational_domains_from_the_tree_walk_win() {
        // The walk found psd=n at corp.example.com: a.corp and b.corp share it, x.example.com not.
        let orgs = KnownOrgDomains(HashMap::from([
            (
                "a.corp.example.com".to_owned(),
                "corp.example.com".to_owned(),
            ),
            (
                "b.corp.example.com".to_owned(),
                "corp.example.com".to_owned(),
            ),
        ]));
        assert!(aligned(
            "a.corp.example.com",
            "b.corp.example.com",
            Alignment::Relaxed,
            &orgs
        ));
        assert!(!aligned(
            "x.example.com",
            "a.corp.example.com",
            Alignment::Relaxed,
            &orgs
        ));
    }
}
