//! Domain names and addresses: normalization, organizational domains, and alignment.
//!
//! Owns the one rule every path shares (RFC 9989 §4.4): identifiers align when equal (strict)
//! or when they share an organizational domain (relaxed), compared as lower-case A-labels
//! without a trailing dot. Where the organizational domain comes from is the caller's choice
//! ([`OrgDomains`]): the public suffix list offline, the DNS tree walk online.

use mail_parser::MessageParser;
use std::collections::HashMap;

pub use mail_auth::dmarc::Alignment;

/// A domain as compared under DMARC: lower-case A-labels, no trailing dot. `None` for text that
/// is not a plausible domain (empty labels, spaces, invalid IDNA).
pub fn normalize(domain: &str) -> Option<String> {
    let trimmed = domain.trim().trim_end_matches('.');
    if trimmed.is_empty() || trimmed.split('.').any(str::is_empty) {
        return None;
    }
    let ascii = idna::domain_to_ascii(trimmed).ok()?;
    let valid = !ascii.is_empty()
        && ascii
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then_some(ascii)
}

/// The domain of `local@domain`, normalized. Handles BATV/SRS local parts (`prvs=…=user`),
/// which may themselves hold `=` and `@`-free tags, by splitting at the last `@`.
pub fn domain_of_address(address: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (_, domain) = address.rsplit_once('@')?;
    normalize(domain)
}

/// The domain of an identity that may be an address (`user@domain`, `@domain`) or a bare
/// domain, as `smtp.mailfrom` and `header.i` are written.
pub fn domain_of_identity(identity: &str) -> Option<String> {
    if identity.contains('@') {
        domain_of_address(identity)
    } else {
        normalize(identity)
    }
}

/// Domains of every address in an RFC 5322 address-list header value (`From`), parsed with
/// `mail-parser`: display names with commas and quotes, groups, folded lines, encoded words.
pub fn domains_of_address_list(value: &str) -> Vec<String> {
    let mut raw = Vec::with_capacity(value.len() + 12);
    raw.extend_from_slice(b"From: ");
    raw.extend_from_slice(value.as_bytes());
    raw.extend_from_slice(b"\r\n\r\n");
    let Some(message) = MessageParser::new().parse_headers(&raw) else {
        return Vec::new();
    };
    let mut domains: Vec<String> = message
        .from()
        .into_iter()
        .flat_map(|list| list.iter())
        .filter_map(|addr| addr.address())
        .filter_map(domain_of_address)
        .collect();
    domains.dedup();
    domains
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

    macro_rules! alignment_cases {
        ($($name:ident: ($id:expr, $from:expr, $mode:ident) => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                let id = normalize($id).unwrap_or_else(|| panic!("bad domain {}", $id));
                let from = normalize($from).unwrap_or_else(|| panic!("bad domain {}", $from));
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

    #[test]
    fn normalize_rejects_non_domains() {
        for bad in ["", ".", "a..b", "has space.example", "x@y"] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn addresses_with_batv_and_brackets() {
        assert_eq!(
            domain_of_address("<prvs=144d0cba42=sender@Example.COM>").as_deref(),
            Some("example.com")
        );
        assert_eq!(domain_of_address("<>"), None);
    }

    #[test]
    fn address_lists() {
        let cases: [(&str, &[&str]); 5] = [
            // A display name with a comma and quotes.
            ("\"Doe, John\" <john@example.com>", &["example.com"]),
            // Several authors from two domains.
            (
                "a@one.example, \"B\" <b@two.example>",
                &["one.example", "two.example"],
            ),
            // A folded header and a comment.
            ("Jane\r\n <jane@Example.org> (work)", &["example.org"]),
            // An encoded-word display name.
            (
                "=?utf-8?q?J=C3=BCrgen?= <j@bücher.example>",
                &["xn--bcher-kva.example"],
            ),
            // Nothing usable.
            ("undisclosed-recipients:;", &[]),
        ];
        for (value, expected) in cases {
            assert_eq!(domains_of_address_list(value), expected, "{value:?}");
        }
    }
}
