//! DMARC policy discovery (RFC 9989 §4.10): which names the DNS tree walk queries, which record
//! applies to an Author Domain, what its Organizational Domain is, and which policy is in force.
//!
//! Pure: the walk is planned here and its answers are interpreted here; fetching the records
//! is the caller's (the DNS adapter, or [`PolicyBook`] offline). Records are parsed with
//! `mail-auth`.

use crate::read::keyword::keyword_enum;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::dmarc::{Alignment, Dmarc, Policy as RecordPolicy, Psd};
use std::collections::HashMap;
use std::sync::Arc;

keyword_enum! {
    /// The policy a receiver applies to failing mail.
    pub enum Disposition {
        None = "none",
        Quarantine = "quarantine",
        Reject = "reject",
    }
}

/// What the walk found for one Author Domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDiscovery {
    /// The normalized Author Domain (RFC5322.From domain).
    pub author_domain: String,
    /// The record that applies and the name it was published at; `None` when DMARC does not
    /// apply (no record, or a record with neither a valid `p` nor `rua`).
    pub record: Option<(String, Arc<Dmarc>)>,
    /// The Organizational Domain of the Author Domain.
    pub organizational_domain: String,
    /// The policy in force for this Author Domain (`p`, `sp` or `np`, lowered one step by `t=y`).
    pub disposition: Option<Disposition>,
}

impl PolicyDiscovery {
    pub fn adkim(&self) -> Alignment {
        self.record
            .as_ref()
            .map_or(Alignment::Relaxed, |(_, r)| r.adkim)
    }

    pub fn aspf(&self) -> Alignment {
        self.record
            .as_ref()
            .map_or(Alignment::Relaxed, |(_, r)| r.aspf)
    }
}

/// The names whose `_dmarc` TXT records the walk queries, in order: the domain itself, then
/// (for 8 or more labels) its 7-label suffix, then one label less at a time down to the TLD.
pub fn tree_walk_names(domain: &str) -> Vec<&str> {
    let labels = domain.split('.').filter(|l| !l.is_empty()).count();
    let mut names = Vec::new();
    if labels < 2 {
        return names;
    }
    let mut count = labels;
    loop {
        names.push(drop_leftmost_labels(domain, labels - count));
        if count == 1 {
            break;
        }
        count = if count >= 8 { 7 } else { count - 1 };
    }
    names
}

/// Whether the walk stops after this record (`psd=y` or `psd=n`, RFC 9989 §4.10.1).
pub fn stops_walk(record: &Dmarc) -> bool {
    matches!(record.psd, Psd::Yes | Psd::No)
}

/// Interprets the records a walk found (longest name first). `author_exists` is the RFC 8020
/// answer for the Author Domain, needed only when `np` and `sp` differ (`None`: unknown, and
/// the domain is assumed to exist).
pub fn discover(
    author_domain: &str,
    found: &[(String, Arc<Dmarc>)],
    author_exists: Option<bool>,
) -> PolicyDiscovery {
    let organizational_domain = organizational_domain(author_domain, found);
    let author_record = found.iter().find(|(name, _)| name == author_domain);
    let record = author_record
        .or_else(|| {
            found
                .iter()
                .find(|(name, _)| *name == organizational_domain)
        })
        .or_else(|| found.last())
        .cloned();

    let disposition = record.as_ref().and_then(|(name, record)| {
        let stated = if record.p == RecordPolicy::Unspecified {
            // Without a valid `p`, DMARC applies as p=none only if `rua` asks for reports.
            if record.rua.is_empty() {
                return None;
            }
            RecordPolicy::None
        } else if name == author_domain {
            record.p
        } else if record.np != record.sp && author_exists == Some(false) {
            record.np
        } else {
            record.sp
        };
        let disposition = match stated {
            RecordPolicy::Reject => Disposition::Reject,
            RecordPolicy::Quarantine => Disposition::Quarantine,
            RecordPolicy::None | RecordPolicy::Unspecified => Disposition::None,
        };
        Some(if record.t {
            match disposition {
                Disposition::Reject => Disposition::Quarantine,
                _ => Disposition::None,
            }
        } else {
            disposition
        })
    });
    let record = record.filter(|_| disposition.is_some());

    PolicyDiscovery {
        author_domain: author_domain.to_owned(),
        record,
        organizational_domain,
        disposition,
    }
}

/// RFC 9989 §4.10.2: the first record with `psd=n` names the Organizational Domain; one with
/// `psd=y` puts it one label below; otherwise it is the shortest name with a record, or the
/// domain itself when there is none.
pub fn organizational_domain(domain: &str, found: &[(String, Arc<Dmarc>)]) -> String {
    for (name, record) in found {
        match record.psd {
            Psd::No => return name.clone(),
            Psd::Yes if name != domain => return one_label_below(name, domain).to_owned(),
            _ => {}
        }
    }
    found
        .last()
        .map_or_else(|| domain.to_owned(), |(name, _)| name.clone())
}

fn one_label_below<'a>(psd_name: &str, start: &'a str) -> &'a str {
    let depth = psd_name.split('.').filter(|l| !l.is_empty()).count() + 1;
    let start_labels = start.split('.').filter(|l| !l.is_empty()).count();
    drop_leftmost_labels(start, start_labels.saturating_sub(depth))
}

fn drop_leftmost_labels(domain: &str, n: usize) -> &str {
    let mut rest = domain;
    for _ in 0..n {
        match rest.split_once('.') {
            Some((_, tail)) => rest = tail,
            None => return "",
        }
    }
    rest
}

/// Why a `--policy` record was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("expected DOMAIN=RECORD, got {0:?}")]
    Shape(String),
    #[error("{0:?} is not a domain name")]
    Domain(String),
    #[error("the DMARC record for {domain} does not parse: {record:?}")]
    Record { domain: String, record: String },
}

/// DMARC records supplied by hand (`--policy DOMAIN=RECORD`): the offline stand-in for DNS.
#[derive(Debug, Clone, Default)]
pub struct PolicyBook {
    records: HashMap<String, Arc<Dmarc>>,
}

impl PolicyBook {
    /// Adds `DOMAIN=v=DMARC1; …`, parsed with `mail-auth`.
    pub fn add(&mut self, spec: &str) -> Result<(), PolicyError> {
        let (domain, record) = spec
            .split_once('=')
            .ok_or_else(|| PolicyError::Shape(spec.to_owned()))?;
        let name = crate::read::domain::normalize(domain)
            .ok_or_else(|| PolicyError::Domain(domain.to_owned()))?;
        let parsed = Dmarc::parse(record.trim().as_bytes()).map_err(|_| PolicyError::Record {
            domain: name.clone(),
            record: record.to_owned(),
        })?;
        self.records.insert(name, Arc::new(parsed));
        Ok(())
    }

    /// The tree walk over the supplied records.
    pub fn discover(&self, author_domain: &str) -> PolicyDiscovery {
        let mut found = Vec::new();
        for name in tree_walk_names(author_domain) {
            if let Some(record) = self.records.get(name) {
                found.push((name.to_owned(), Arc::clone(record)));
                if stops_walk(record) {
                    break;
                }
            }
        }
        discover(author_domain, &found, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(specs: &[&str]) -> PolicyBook {
        let mut book = PolicyBook::default();
        for spec in specs {
            book.add(spec).unwrap_or_else(|e| panic!("{e}"));
        }
        book
    }

    #[test]
    fn walk_names_follow_the_eight_label_cap() {
        assert_eq!(
            tree_walk_names("a.b.example.com"),
            vec!["a.b.example.com", "b.example.com", "example.com", "com"]
        );
        let deep = "a.b.c.d.e.f.g.h.example.com";
        let names = tree_walk_names(deep);
        assert_eq!(names[0], deep);
        assert_eq!(names[1], "d.e.f.g.h.example.com");
        assert_eq!(names.last().copied(), Some("com"));
        assert!(tree_walk_names("localhost").is_empty());
    }

    #[test]
    fn author_record_uses_p_and_subdomain_uses_sp() {
        let book = book(&["example.com=v=DMARC1; p=reject; sp=quarantine; adkim=s"]);
        let own = book.discover("example.com");
        assert_eq!(own.disposition, Some(Disposition::Reject));
        assert_eq!(own.adkim(), Alignment::Strict);
        let sub = book.discover("news.example.com");
        assert_eq!(sub.disposition, Some(Disposition::Quarantine));
        assert_eq!(sub.organizational_domain, "example.com");
        assert_eq!(
            sub.record.as_ref().map(|(n, _)| n.as_str()),
            Some("example.com")
        );
    }

    #[test]
    fn testing_mode_lowers_the_policy() {
        let book = book(&["example.com=v=DMARC1; p=reject; t=y"]);
        assert_eq!(
            book.discover("example.com").disposition,
            Some(Disposition::Quarantine)
        );
    }

    #[test]
    fn no_record_or_no_p_without_rua_means_no_policy() {
        assert_eq!(book(&[]).discover("example.com").disposition, None);
        let no_p = book(&["example.com=v=DMARC1; adkim=s"]);
        assert_eq!(no_p.discover("example.com").disposition, None);
        assert!(no_p.discover("example.com").record.is_none());
        let rua_only = book(&["example.com=v=DMARC1; rua=mailto:d@example.com"]);
        assert_eq!(
            rua_only.discover("example.com").disposition,
            Some(Disposition::None)
        );
    }

    #[test]
    fn psd_records_set_the_organizational_domain() {
        // A public suffix operator's record (psd=y) puts the org domain one label below it.
        let book = book(&["bank=v=DMARC1; p=reject; psd=y"]);
        let found = book.discover("login.mybank.bank");
        assert_eq!(found.organizational_domain, "mybank.bank");
        assert_eq!(found.disposition, Some(Disposition::Reject));
        // psd=n marks the org domain itself and stops the walk.
        let book = self::book(&[
            "corp.example.com=v=DMARC1; p=none; psd=n",
            "example.com=v=DMARC1; p=reject",
        ]);
        let found = book.discover("a.corp.example.com");
        assert_eq!(found.organizational_domain, "corp.example.com");
        assert_eq!(found.disposition, Some(Disposition::None));
    }

    #[test]
    fn np_applies_only_to_non_existent_subdomains() {
        let record = Arc::new(
            Dmarc::parse(b"v=DMARC1; p=none; sp=quarantine; np=reject")
                .unwrap_or_else(|e| panic!("{e:?}")),
        );
        let found = vec![("example.com".to_owned(), record)];
        let gone = discover("nx.example.com", &found, Some(false));
        assert_eq!(gone.disposition, Some(Disposition::Reject));
        let there = discover("www.example.com", &found, Some(true));
        assert_eq!(there.disposition, Some(Disposition::Quarantine));
    }

    #[test]
    fn bad_policy_specs_are_refused() {
        let mut book = PolicyBook::default();
        assert!(matches!(
            book.add("example.com"),
            Err(PolicyError::Shape(_))
        ));
        assert!(matches!(
            book.add("example.com=p=reject"),
            Err(PolicyError::Record { .. })
        ));
        assert!(matches!(
            book.add("bad domain=v=DMARC1; p=none"),
            Err(PolicyError::Domain(_))
        ));
    }
}
