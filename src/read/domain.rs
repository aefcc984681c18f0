//! Domain names and addresses as every other module compares them: lower-case A-labels without
//! a trailing dot. Addresses are cut down to their domain as they are read (the local part is
//! personal data), and a name's parents are walked in one place ([`ancestors`]).

use mail_parser::MessageParser;

/// A domain as compared under DMARC: lower-case A-labels, no trailing dot. `None` for text that
/// is not a plausible domain (empty labels, spaces, invalid IDNA).
pub fn normalize(domain: &str) -> Option<String> {
    let trimmed = domain.trim().trim_end_matches('.');
    // 253 octets is the longest name DNS carries (RFC 1035 §2.3.4).
    if trimmed.is_empty() || trimmed.len() > 253 {
        return None;
    }
    // Nearly every name is already ASCII: then UTS #46 only lower-cases it, and the IDNA
    // mapping (the costly part, once per domain of every row and header) is skipped. An
    // `xn--` label still goes through it, to be validated. One pass over the bytes finds the
    // empty labels and says which it is (it runs for every domain of every report row).
    let bytes = trimmed.as_bytes();
    let mut plain = true;
    for label in bytes.split(|b| *b == b'.') {
        if label.is_empty() {
            return None;
        }
        plain &= !label
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
            && label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    }
    if plain {
        return Some(trimmed.to_ascii_lowercase());
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

/// The domain and each of its parents, longest first: `a.b.example` gives `a.b.example`,
/// `b.example`, `example`.
pub fn ancestors(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(domain), |name| {
        name.split_once('.').map(|(_, parent)| parent)
    })
}

/// Whether `name` is `domain` or one of its subdomains (normalized names).
pub fn is_within(name: &str, domain: &str) -> bool {
    name.strip_suffix(domain)
        .is_some_and(|head| head.is_empty() || head.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_and_containment() {
        assert_eq!(
            ancestors("a.b.example").collect::<Vec<_>>(),
            ["a.b.example", "b.example", "example"]
        );
        assert!(is_within("mail.example.com", "example.com"));
        assert!(is_within("example.com", "example.com"));
        // A label boundary is required: badexample.com is not under example.com.
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("example.com", "mail.example.com"));
    }

    #[test]
    fn normalize_rejects_non_domains() {
        for bad in [
            "",
            ".",
            "a..b",
            ".lead.example",
            "bü..example",
            "has space.example",
            "x@y",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_ascii_shortcut_agrees_with_idna() {
        // Every plain ASCII spelling gives what UTS #46 gives; `xn--` labels are validated.
        for name in [
            "Example.COM",
            "mail.example.com.",
            "_dmarc.Example.com",
            "a-b.c-d.example",
            "123.example",
            "-lead.example",
            "xn--bcher-kva.example",
            "XN--BCHER-KVA.example",
            "xn--invalid-.example",
        ] {
            let trimmed = name.trim_end_matches('.');
            let by_idna = idna::domain_to_ascii(trimmed).ok().filter(|a| {
                a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
            });
            assert_eq!(normalize(name), by_idna, "{name}");
        }
        assert_eq!(
            normalize("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
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
