//! Who sent a receiver's report row: SES, a named service, a forwarder or a stranger
//! ([`SourceClass`]), decided offline from the domains the row names, against a bundled,
//! versioned list of services and the user's additions ([`Services`]). One decision shared
//! by `reports`, the rollups, the report rows and the digest; no reverse DNS, no network.
//!
//! The order is the decision: SES's own mail first (its DKIM signature or MAIL FROM), then
//! mail the receiver said was forwarded, then a listed service, then forwarding recognized
//! from the results (an aligned DKIM signature survived, SPF did not: the path changed), and
//! the rest is unknown. A service is recognized only by a domain that *passed*: anyone can
//! claim `sendgrid.net` as an envelope, only SendGrid's servers pass SPF for it.
//!
//! A row's DKIM and SPF results, as it is classified by them and listed with them, are
//! [`AuthLine`]s.

use crate::read::domain::{is_within, normalize};
use crate::read::report::aggregate::AuthResult;
use std::sync::{Arc, LazyLock};

/// What kind of sender a row's mail came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceClass {
    /// Sent through SES for the domain: named by the identity.
    Ses,
    /// A third-party service on the list: named by the service.
    Known,
    /// Relayed on the way: a forwarder, a mailing list.
    Forwarded,
    /// Anything else: a service not listed, a misconfigured server, a spoofer.
    Unknown,
}

impl SourceClass {
    /// In the order the digest lists them.
    pub const ALL: [SourceClass; 4] = [Self::Ses, Self::Known, Self::Forwarded, Self::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ses => "ses",
            Self::Known => "known",
            Self::Forwarded => "forwarded",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.as_str() == text)
    }
}

/// A row's class, and the name it is shown by (the identity for `ses`, the service for
/// `known`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Classified {
    pub class: SourceClass,
    pub name: Option<String>,
}

/// One raw DKIM or SPF result of a row, and whether its domain aligns with the row's From.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthLine {
    pub domain: Option<String>,
    /// DKIM: the signature's selector. SPF: the identity checked (`mfrom`, `helo`).
    pub selector_or_scope: Option<String>,
    pub result: Option<AuthResult>,
    pub aligned: bool,
}

impl AuthLine {
    fn passed(&self) -> bool {
        self.result == Some(AuthResult::Pass)
    }
}

/// What a row says about its sender.
#[derive(Debug, Clone, Copy)]
pub struct RowSender<'a> {
    /// Sent by SES ([`crate::judge::report`] decides: amazonses.com DKIM or envelope, or the
    /// identity's custom MAIL FROM).
    pub ses: bool,
    /// The identity SES sent for, when known.
    pub identity: Option<&'a str>,
    /// The receiver overrode the policy as `forwarded`, `mailing_list` or
    /// `trusted_forwarder` (`local_policy` is not forwarding: Google uses it for its sender
    /// requirements).
    pub forwarded_override: bool,
    pub dkim: &'a [AuthLine],
    pub spf: &'a [AuthLine],
}

/// Classifies one row.
pub fn classify(row: &RowSender<'_>, services: &Services) -> Classified {
    let named = |class, name: Option<&str>| Classified {
        class,
        name: name.map(str::to_owned),
    };
    if row.ses {
        return named(SourceClass::Ses, Some(row.identity.unwrap_or("Amazon SES")));
    }
    if row.forwarded_override {
        return named(SourceClass::Forwarded, None);
    }
    let service = row
        .dkim
        .iter()
        .chain(row.spf)
        .filter(|line| line.passed())
        .filter_map(|line| line.domain.as_deref())
        .find_map(|domain| services.name_of(domain));
    if let Some(service) = service {
        return named(SourceClass::Known, Some(service));
    }
    let aligned_dkim_passed = row.dkim.iter().any(|d| d.passed() && d.aligned);
    let spf_passed = row.spf.iter().any(AuthLine::passed);
    if aligned_dkim_passed && !spf_passed {
        return named(SourceClass::Forwarded, None);
    }
    named(SourceClass::Unknown, None)
}

/// One listed service: mail signed by or sent from `domain` (or under it) is `name`'s.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Service {
    domain: String,
    name: String,
    added: bool,
}

/// A `DOMAIN=NAME` that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not DOMAIN=SERVICE NAME")]
pub struct ServiceSpecError(pub String);

/// The services recognized: the bundled list ([`Services::bundled`]) and the user's
/// additions, which win over a bundled entry for the same domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    entries: Vec<Service>,
    version: String,
}

const BUNDLED: &str = include_str!("known_services.tsv");
/// A service's name is shown in alerts and the digest: a stranger's config cannot make it long.
const NAME_LIMIT: usize = 64;

static BUNDLED_SERVICES: LazyLock<Arc<Services>> = LazyLock::new(|| Arc::new(parse_bundled()));

fn parse_bundled() -> Services {
    let mut services = Services {
        entries: Vec::new(),
        version: String::new(),
    };
    for line in BUNDLED.lines() {
        let mut fields = line.split('\t');
        match (fields.next(), fields.next()) {
            (Some("# version"), Some(version)) => services.version = version.trim().to_owned(),
            (Some(domain), Some(name)) if !domain.starts_with('#') => {
                if let Some(domain) = normalize(domain) {
                    services.entries.push(Service {
                        domain,
                        name: name.trim().to_owned(),
                        added: false,
                    });
                }
            }
            _ => {}
        }
    }
    services
}

impl Services {
    /// The list this version bundles (`src/judge/known_services.tsv`).
    pub fn bundled() -> Arc<Services> {
        Arc::clone(&BUNDLED_SERVICES)
    }

    /// The bundled list's version, as `known_services.tsv` states it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How many entries the list holds, the user's included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the user's `DOMAIN=NAME` (the CLI's `--service`, `KNOWN_SERVICES`).
    pub fn add(&mut self, spec: &str) -> Result<(), ServiceSpecError> {
        let error = || ServiceSpecError(spec.to_owned());
        let (domain, name) = spec.split_once('=').ok_or_else(error)?;
        let domain = normalize(domain).ok_or_else(error)?;
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > NAME_LIMIT
            || name.chars().any(char::is_control)
        {
            return Err(error());
        }
        self.entries.push(Service {
            domain,
            name: name.to_owned(),
            added: true,
        });
        Ok(())
    }

    /// Adds every entry of a comma-separated list of `DOMAIN=NAME`.
    pub fn add_list(&mut self, list: &str) -> Result<(), ServiceSpecError> {
        list.split(',')
            .map(str::trim)
            .filter(|spec| !spec.is_empty())
            .try_for_each(|spec| self.add(spec))
    }

    /// The service `domain` belongs to: the most specific entry it is under, the user's
    /// before the bundled.
    pub fn name_of(&self, domain: &str) -> Option<&str> {
        let domain = normalize(domain)?;
        self.entries
            .iter()
            .filter(|entry| is_within(&domain, &entry.domain))
            .max_by_key(|entry| (entry.domain.len(), entry.added))
            .map(|entry| entry.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DKIM or SPF line: its domain, whether it passed, whether it aligns.
    fn check(domain: &'static str, passed: bool, aligned: bool) -> (String, AuthResult, bool) {
        let result = if passed {
            AuthResult::Pass
        } else {
            AuthResult::Fail
        };
        (domain.to_owned(), result, aligned)
    }

    fn classified(
        ses: bool,
        forwarded_override: bool,
        dkim: &[(String, AuthResult, bool)],
        spf: &[(String, AuthResult, bool)],
        services: &Services,
    ) -> Classified {
        let lines = |lines: &[(String, AuthResult, bool)]| -> Vec<AuthLine> {
            lines
                .iter()
                .map(|(domain, result, aligned)| AuthLine {
                    domain: Some(domain.clone()),
                    selector_or_scope: None,
                    result: Some(result.clone()),
                    aligned: *aligned,
                })
                .collect()
        };
        let dkim = lines(dkim);
        let spf = lines(spf);
        classify(
            &RowSender {
                ses,
                identity: Some("example.com"),
                forwarded_override,
                dkim: &dkim,
                spf: &spf,
            },
            services,
        )
    }

    #[test]
    fn the_bundled_list_parses_whole() {
        let services = Services::bundled();
        let lines = BUNDLED
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        assert_eq!(services.len(), lines, "a bundled entry did not parse");
        assert!(
            services.version().starts_with("20"),
            "{}",
            services.version()
        );
        for line in BUNDLED.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(
                line.split('\t').count(),
                3,
                "domain, name, source: {line:?}"
            );
        }
    }

    #[test]
    fn classes_in_their_order() {
        let services = Services::bundled();
        let (pass, fail) = (true, false);
        use SourceClass::*;
        let cases: Vec<(&str, Classified)> = vec![
            (
                // SES's own signature: SES, named by the identity, before anything else.
                "ses",
                classified(
                    true,
                    true,
                    &[check("amazonses.com", pass, false)],
                    &[],
                    &services,
                ),
            ),
            (
                // The receiver said forwarded: forwarded, even when a service signed it.
                "override",
                classified(
                    false,
                    true,
                    &[check("sendgrid.net", pass, false)],
                    &[],
                    &services,
                ),
            ),
            (
                // A listed service's passing DKIM domain, under the listed one.
                "known dkim",
                classified(
                    false,
                    false,
                    &[check("u123.wl.sendgrid.net", pass, false)],
                    &[check("example.com", fail, true)],
                    &services,
                ),
            ),
            (
                // A listed service's passing SPF domain.
                "known spf",
                classified(
                    false,
                    false,
                    &[],
                    &[check("pm.mtasv.net", pass, false)],
                    &services,
                ),
            ),
            (
                // A claimed service domain that failed names nothing: a stranger.
                "failed claim",
                classified(
                    false,
                    false,
                    &[check("sendgrid.net", fail, false)],
                    &[check("sendgrid.net", fail, false)],
                    &services,
                ),
            ),
            (
                // Aligned DKIM survived, SPF did not pass: the path changed.
                "dkim survived",
                classified(
                    false,
                    false,
                    &[check("example.com", pass, true)],
                    &[check("list.example.org", fail, false)],
                    &services,
                ),
            ),
            (
                // Aligned DKIM and SPF both passed from a source not on the list: unknown.
                "unlisted aligned",
                classified(
                    false,
                    false,
                    &[check("example.com", pass, true)],
                    &[check("example.com", pass, true)],
                    &services,
                ),
            ),
            (
                // A look-alike domain is not under the listed one.
                "look-alike",
                classified(
                    false,
                    false,
                    &[check("notsendgrid.net", pass, false)],
                    &[],
                    &services,
                ),
            ),
        ];
        let expected = [
            (Ses, Some("example.com")),
            (Forwarded, None),
            (Known, Some("SendGrid")),
            (Known, Some("Postmark")),
            (Unknown, None),
            (Forwarded, None),
            (Unknown, None),
            (Unknown, None),
        ];
        assert_eq!(cases.len(), expected.len());
        for ((case, got), (class, name)) in cases.into_iter().zip(expected) {
            assert_eq!(got.class, class, "{case}");
            assert_eq!(got.name.as_deref(), name, "{case}");
        }
    }

    #[test]
    fn a_users_entry_names_its_domain_and_wins() {
        let mut services = (*Services::bundled()).clone();
        assert_eq!(
            services.add_list("em1234.example.com=SendGrid (ours), sendgrid.net = Twilio"),
            Ok(())
        );
        let pass = true;
        let ours = classified(
            false,
            false,
            &[check("em1234.example.com", pass, true)],
            &[],
            &services,
        );
        assert_eq!(ours.class, SourceClass::Known);
        assert_eq!(ours.name.as_deref(), Some("SendGrid (ours)"));
        // Same domain as a bundled entry: the user's name.
        assert_eq!(services.name_of("SENDGRID.NET"), Some("Twilio"));
        // A more specific bundled entry would still win over a broader user one.
        assert_eq!(services.name_of("pm.mtasv.net"), Some("Postmark"));
    }

    #[test]
    fn bad_entries_are_refused() {
        let mut services = Services {
            entries: Vec::new(),
            version: String::new(),
        };
        for bad in [
            "sendgrid.net",
            "=Name",
            "not a domain=Name",
            "x.example=",
            "a.example=\u{7}",
        ] {
            assert_eq!(
                services.add(bad),
                Err(ServiceSpecError(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert!(
            services
                .add(&format!("a.example={}", "n".repeat(65)))
                .is_err()
        );
        assert!(services.is_empty());
    }
}
