//! `Authentication-Results` header parsing (RFC 8601), including the deviations real servers emit.
//!
//! Owns the grammar only: it turns one header value into an [`AuthResults`] and says nothing
//! about trust or meaning. The parser is a single forward scan with no recursion; comments are
//! skipped with a depth counter, so nesting depth and input size cost linear time at most.
//!
//! Tolerated deviations (each one seen in real headers): SES's bare `client-ip=` /
//! `envelope-from=` / `helo=` items and trailing `;`; headers without an authserv-id and with
//! the id in the middle (Microsoft); properties without a ptype (`action=none`, `x-bits=1024`);
//! a bare property before the first `;` (Yahoo's `from=`); unquoted `/`, `:` and `@` in values;
//! U-labels anywhere; unbalanced parentheses in comments.

use crate::read::keyword::keyword_enum;
use serde::Serialize;

/// One parsed `Authentication-Results` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthResults {
    /// The authserv-id in its RFC 8601 position (first). `None` when the header starts with a
    /// result instead, as some Microsoft servers write it.
    pub authserv_id: Option<String>,
    /// The optional `authres-version` after the authserv-id.
    pub version: Option<u32>,
    /// The results, in header order. Empty for `; none`.
    pub results: Vec<MethodResult>,
    /// Bare items without `=` found after the first `;` (Microsoft repeats `outlook.com;`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stray_ids: Vec<String>,
    /// `name=value` items before any result that describe none of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leading_properties: Vec<Property>,
    /// Text the parser skipped to recover; each entry says what and where.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One `method=result` with its reason and properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodResult {
    pub method: Method,
    /// `dkim/1` gives `Some(1)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method_version: Option<u32>,
    pub result: ResultKeyword,
    /// The result as the server wrote it, when that was outside RFC 8601's grammar and mapped
    /// (`dkim_pass`, `success`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_result: Option<String>,
    pub reason: Option<String>,
    pub properties: Vec<Property>,
}

impl MethodResult {
    /// The value of the first property `ptype.property`, case-insensitively. `ptype` `None`
    /// matches the bare properties SES and Microsoft write without one.
    pub fn property(&self, ptype: Option<&PropertyType>, property: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.ptype.as_ref() == ptype && p.property.eq_ignore_ascii_case(property))
            .map(|p| p.value.as_str())
    }
}

/// `ptype.property=value`, or `property=value` when `ptype` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Property {
    pub ptype: Option<PropertyType>,
    pub property: String,
    pub value: String,
}

keyword_enum! {
    /// The authentication method of a result (IANA "Email Authentication Methods").
    pub enum Method {
        Spf = "spf",
        Dkim = "dkim",
        Dmarc = "dmarc",
        Arc = "arc",
        Iprev = "iprev",
        Auth = "auth",
        SenderId = "sender-id",
        DomainKeys = "domainkeys",
        Bimi = "bimi",
    } else Unknown(str::to_ascii_lowercase)
}

keyword_enum! {
    /// A result keyword. Servers go beyond RFC 8601's list (`hardfail`, `timeout`,
    /// `bestguesspass`), and those are named too.
    pub enum ResultKeyword {
        Pass = "pass",
        Fail = "fail",
        SoftFail = "softfail",
        Neutral = "neutral",
        None = "none",
        TempError = "temperror",
        PermError = "permerror",
        Policy = "policy",
        HardFail = "hardfail",
        Timeout = "timeout",
        BestGuessPass = "bestguesspass",
        Declined = "declined",
        Skipped = "skipped",
    } else Unknown(str::to_ascii_lowercase)
}

keyword_enum! {
    /// The `ptype` of a property.
    pub enum PropertyType {
        Smtp = "smtp",
        Header = "header",
        Body = "body",
        Policy = "policy",
    } else Unknown(str::to_ascii_lowercase)
}

/// Why a header value could not be parsed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the header value is empty")]
    Empty,
    #[error("no authserv-id and no result found (at byte {at})")]
    NothingRecognized { at: usize },
}

/// Received-SPF (RFC 7208 §9.1) key names: SES writes them as bare `;` items of its
/// `Authentication-Results`, where they describe the SPF check before them.
const RECEIVED_SPF_KEYS: [&str; 7] = [
    "client-ip",
    "envelope-from",
    "helo",
    "identity",
    "receiver",
    "problem",
    "mechanism",
];

/// Parses one `Authentication-Results` header value. A leading `Authentication-Results:`
/// field name is accepted and ignored; folded lines are unfolded.
pub fn parse(input: &str) -> Result<AuthResults, ParseError> {
    let value = strip_field_name(input);
    let mut cursor = Cursor::new(value);
    cursor.skip_cfws();
    if cursor.at_end() {
        return Err(ParseError::Empty);
    }

    let mut header = AuthResults {
        authserv_id: None,
        version: None,
        results: Vec::new(),
        stray_ids: Vec::new(),
        leading_properties: Vec::new(),
        warnings: Vec::new(),
    };

    // Properties written before the result they describe (Yahoo), waiting for it.
    let mut pending: Vec<Property> = Vec::new();

    // The authserv-id, unless the header opens with `method=result` (Microsoft).
    let start = cursor.pos;
    let first = cursor.value(ValueKind::AuthservId);
    cursor.skip_cfws();
    if first.is_some() && cursor.peek() == Some(b'=') {
        cursor.pos = start;
    } else if let Some(id) = first {
        header.authserv_id = Some(id);
        let digits = cursor.take_while(|b| b.is_ascii_digit());
        if !digits.is_empty() {
            header.version = digits.parse().ok();
            cursor.skip_cfws();
        }
        // Before the first `;`: Yahoo's properties of the result that follows (`from=`,
        // `header.i=`), a result whose `;` is missing, or junk.
        while !cursor.at_end() && cursor.peek() != Some(b';') && !starts_result(&cursor) {
            match parse_property(&mut cursor) {
                Some(property) if describes_next(&property) => pending.push(property),
                Some(property) => header.leading_properties.push(property),
                None => cursor.skip_junk(&mut header.warnings),
            }
            cursor.skip_cfws();
        }
    }

    while !cursor.at_end() {
        if cursor.peek() == Some(b';') {
            cursor.pos += 1;
            cursor.skip_cfws();
            continue;
        }
        parse_item(&mut cursor, &mut header, &mut pending);
    }
    header.leading_properties.append(&mut pending);

    if header.authserv_id.is_none() && header.results.is_empty() && header.stray_ids.is_empty() {
        return Err(ParseError::NothingRecognized { at: cursor.pos });
    }
    Ok(header)
}

/// One `;`-separated item: a resinfo, `none`, an SES bare property, a property of the result
/// that follows (Yahoo), or a stray id.
fn parse_item(cursor: &mut Cursor<'_>, header: &mut AuthResults, pending: &mut Vec<Property>) {
    let item_start = cursor.pos;
    let Some(method) = cursor.keyword() else {
        cursor.skip_junk(&mut header.warnings);
        return;
    };
    cursor.skip_cfws();
    if cursor.peek() == Some(b'.') {
        // `header.s=…` standing alone: Yahoo's property of the next result. Otherwise a dotted
        // name without `=` is an authserv-id out of place (Microsoft's `outlook.com;`).
        cursor.pos = item_start;
        if let Some(property) = parse_property(cursor) {
            pending.push(property);
            return;
        }
        match cursor.value(ValueKind::AuthservId) {
            Some(id) if !id.eq_ignore_ascii_case("none") => header.stray_ids.push(id),
            Some(_) => {}
            None => cursor.skip_junk(&mut header.warnings),
        }
        return;
    }
    let mut method_version = None;
    if cursor.eat(b'/') {
        cursor.skip_cfws();
        method_version = cursor.take_while(|b| b.is_ascii_digit()).parse().ok();
        cursor.skip_cfws();
    }
    if !cursor.eat(b'=') {
        // No `=`: `none`, or an authserv-id out of place. Re-read it as a value: ids may
        // contain characters a keyword may not.
        cursor.pos = item_start;
        if let Some(id) = cursor.value(ValueKind::AuthservId) {
            if !id.eq_ignore_ascii_case("none") {
                header.stray_ids.push(id);
            }
        } else {
            cursor.skip_junk(&mut header.warnings);
        }
        return;
    }
    cursor.skip_cfws();
    let value_start = cursor.pos;
    let value = cursor.value(ValueKind::Property).unwrap_or_default();

    let known = Method::knows(method);
    let bare_key = RECEIVED_SPF_KEYS
        .iter()
        .any(|key| key.eq_ignore_ascii_case(method));
    // Yahoo's `spfResult=pass` is an SPF result; its `spfDomain=` is the checked domain.
    let yahoo_spf = method.eq_ignore_ascii_case("spfresult");
    let result_like = is_keyword(&value) || (known && is_result_token(&value));
    if bare_key || !result_like {
        let property = Property {
            ptype: None,
            property: method.to_ascii_lowercase(),
            value,
        };
        if describes_next(&property) {
            pending.push(property);
            return;
        }
        match header.results.last_mut() {
            Some(previous) => previous.properties.push(property),
            None => header.leading_properties.push(property),
        }
        return;
    }

    // A real result: re-read it as a token so `pass(comment)` stops at the comment.
    cursor.pos = value_start;
    let written = cursor.keyword().unwrap_or_default();
    let method = if yahoo_spf {
        Method::Spf
    } else {
        Method::from_text(method)
    };
    let (result, written_result) = result_keyword(&method, written);
    let mut properties: Vec<Property> = pending
        .drain(..)
        .map(|p| match p.property.as_str() {
            "spfdomain" if p.ptype.is_none() => Property {
                ptype: Some(PropertyType::Smtp),
                property: "mailfrom".into(),
                value: p.value,
            },
            _ => p,
        })
        .collect();
    let mut reason = None;
    cursor.skip_cfws();
    // A known `method=result` where a property belongs starts a new result: a `;` is missing
    // (`dkim=pass header.d=a dkim=pass header.d=b`, as some OpenDKIM and Postfix set-ups write).
    while !cursor.at_end() && cursor.peek() != Some(b';') && !starts_result(cursor) {
        match parse_property(cursor) {
            Some(p) if p.ptype.is_none() && p.property == "reason" && reason.is_none() => {
                reason = Some(p.value);
            }
            Some(property) => properties.push(property),
            None => cursor.skip_junk(&mut header.warnings),
        }
        cursor.skip_cfws();
    }
    header.results.push(MethodResult {
        method,
        method_version,
        result,
        written_result,
        reason,
        properties,
    });
}

/// Whether the cursor stands at `method=result` for a method this parser knows (or Yahoo's
/// `spfResult=`), which no property is.
fn starts_result(cursor: &Cursor<'_>) -> bool {
    let mut probe = Cursor {
        text: cursor.text,
        pos: cursor.pos,
    };
    let Some(method) = probe.keyword() else {
        return false;
    };
    if !(Method::knows(method) || method.eq_ignore_ascii_case("spfresult")) {
        return false;
    }
    probe.skip_cfws();
    if probe.eat(b'/') {
        probe.skip_cfws();
        probe.take_while(|b| b.is_ascii_digit());
        probe.skip_cfws();
    }
    if !probe.eat(b'=') {
        return false;
    }
    probe.skip_cfws();
    let value_start = probe.pos;
    let token = probe.keyword().unwrap_or_default();
    // A value that runs on (`dkim=x.example`) is a property's, not a result.
    let whole = probe
        .value_from(value_start)
        .is_some_and(|v| v.len() == token.len());
    whole && is_result_token(token)
}

/// Properties written before the result they describe: a ptype'd one (Yahoo's `header.i=`
/// before `dkim=`), and Yahoo's `from=` and `spfDomain=`.
fn describes_next(property: &Property) -> bool {
    property.ptype.is_some() || matches!(property.property.as_str(), "from" | "spfdomain")
}

/// The result keyword for what the server wrote, and the written text when it was outside the
/// grammar and mapped. Mapped only where the meaning is certain: `dkim_pass` for a DKIM result
/// (the method's name and a keyword), `success` for `pass`.
fn result_keyword(method: &Method, written: &str) -> (ResultKeyword, Option<String>) {
    let mapped = written
        .split_once('_')
        .filter(|(prefix, _)| prefix.eq_ignore_ascii_case(method.as_str()))
        .map(|(_, keyword)| ResultKeyword::from_text(keyword))
        .filter(ResultKeyword::is_known)
        .or_else(|| {
            written
                .eq_ignore_ascii_case("success")
                .then_some(ResultKeyword::Pass)
        });
    match mapped {
        Some(keyword) => (keyword, Some(written.to_owned())),
        None => (ResultKeyword::from_text(written), None),
    }
}

/// `ptype.property=value` or bare `property=value`; `None` (cursor unmoved) if it is neither.
fn parse_property(cursor: &mut Cursor<'_>) -> Option<Property> {
    let start = cursor.pos;
    let restore = |cursor: &mut Cursor<'_>| {
        cursor.pos = start;
        None
    };
    let Some(first) = cursor.keyword() else {
        return restore(cursor);
    };
    cursor.skip_cfws();
    let (ptype, property) = if cursor.eat(b'.') {
        cursor.skip_cfws();
        let Some(property) = cursor.keyword() else {
            return restore(cursor);
        };
        cursor.skip_cfws();
        (Some(PropertyType::from_text(first)), property)
    } else {
        (None, first)
    };
    if !cursor.eat(b'=') {
        return restore(cursor);
    }
    cursor.skip_cfws();
    let value = cursor.value(ValueKind::Property).unwrap_or_default();
    Some(Property {
        ptype,
        property: property.to_ascii_lowercase(),
        value,
    })
}

/// A result as real servers write it: a keyword, or one with `_` (`dkim_pass`).
fn is_result_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 8601 `Keyword` (RFC 5321 Ldh-str): what a result must look like.
fn is_keyword(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !text.ends_with('-')
}

fn strip_field_name(input: &str) -> &str {
    const NAME: &str = "authentication-results:";
    match input.get(..NAME.len()) {
        Some(head) if head.eq_ignore_ascii_case(NAME) => &input[NAME.len()..],
        _ => input,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    /// Stops at `=` too, so `spf=pass` is recognised as not being an id.
    AuthservId,
    /// Runs to whitespace, `;` or `(`: values carry `/`, `:`, `@`, `=` unquoted in practice.
    Property,
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        // Only ASCII predicates are used, so both ends are char boundaries.
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// A method, result, ptype or property name. Accepts any non-delimiter bytes, so a
    /// U-label or `x_foo` does not derail the parse; callers check the shape where it matters.
    fn keyword(&mut self) -> Option<&'a str> {
        let word = self.take_while(|b| {
            !matches!(
                b,
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'=' | b'.' | b'/' | b'(' | b')' | b'"'
            )
        });
        (!word.is_empty()).then_some(word)
    }

    /// The property value starting at `start`, without moving this cursor.
    fn value_from(&self, start: usize) -> Option<String> {
        let mut probe = Cursor {
            text: self.text,
            pos: start,
        };
        probe.value(ValueKind::Property)
    }

    /// A token or quoted-string value, unquoted and unfolded.
    fn value(&mut self, kind: ValueKind) -> Option<String> {
        if self.peek() == Some(b'"') {
            return Some(self.quoted_string());
        }
        let token = self.take_while(|b| match b {
            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' => false,
            b'=' => kind == ValueKind::Property,
            _ => true,
        });
        (!token.is_empty()).then(|| token.to_owned())
    }

    /// A quoted-string; an unterminated one runs to the end of the input.
    fn quoted_string(&mut self) -> String {
        self.pos += 1;
        let mut out = String::new();
        let mut chunk_start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b'"' => break,
                b'\\' | b'\r' | b'\n' => {
                    out.push_str(&self.text[chunk_start..self.pos]);
                    self.pos += 1;
                    if b == b'\\' {
                        // The escaped character may be multi-byte: copy it whole.
                        if let Some(c) = self.text[self.pos..].chars().next() {
                            out.push(c);
                            self.pos += c.len_utf8();
                        }
                    }
                    chunk_start = self.pos;
                }
                _ => self.pos += 1,
            }
        }
        out.push_str(&self.text[chunk_start..self.pos]);
        self.eat(b'"');
        out
    }

    /// Skips folding white space and comments. Nesting is tracked with a counter. A comment
    /// left open at the end of the input is closed at the last `)` after it, if any, which
    /// recovers from one parenthesis too many without swallowing the rest of the header.
    fn skip_cfws(&mut self) {
        loop {
            while self
                .peek()
                .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            {
                self.pos += 1;
            }
            if self.peek() != Some(b'(') {
                return;
            }
            let open = self.pos;
            let mut depth = 0usize;
            while let Some(b) = self.peek() {
                self.pos += 1;
                match b {
                    b'\\' => self.pos = (self.pos + 1).min(self.text.len()),
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if depth > 0 {
                self.pos = match self.bytes()[open + 1..].iter().rposition(|&b| b == b')') {
                    Some(last) => open + 1 + last + 1,
                    None => self.text.len(),
                };
            }
            // An escape before a multi-byte character can leave us mid-character.
            while !self.text.is_char_boundary(self.pos) {
                self.pos += 1;
            }
        }
    }

    /// Skips one unparseable word (or one stray delimiter) and records it.
    fn skip_junk(&mut self, warnings: &mut Vec<String>) {
        let start = self.pos;
        let word = self.take_while(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'('));
        if word.is_empty() {
            // A lone delimiter such as `)` or `=`: step over the whole character.
            let len = self.text[self.pos..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
            self.pos += len;
        }
        const MAX_WARNINGS: usize = 16;
        if warnings.len() < MAX_WARNINGS {
            let shown: String = self.text[start..self.pos].chars().take(40).collect();
            warnings.push(format!("skipped {shown:?} at byte {start}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(ptype: Option<&str>, property: &str, value: &str) -> Property {
        Property {
            ptype: ptype.map(PropertyType::from_text),
            property: property.into(),
            value: value.into(),
        }
    }

    fn summary(header: &AuthResults) -> Vec<String> {
        header
            .results
            .iter()
            .map(|r| {
                let props: Vec<String> = r
                    .properties
                    .iter()
                    .map(|p| match &p.ptype {
                        Some(t) => format!("{t}.{}={}", p.property, p.value),
                        None => format!("{}={}", p.property, p.value),
                    })
                    .collect();
                let reason = r.reason.as_deref().map(|r| format!(" reason={r}"));
                format!(
                    "{}={}{} {}",
                    r.method,
                    r.result,
                    reason.unwrap_or_default(),
                    props.join(" ")
                )
                .trim_end()
                .to_owned()
            })
            .collect()
    }

    macro_rules! parses {
        ($($name:ident: $input:expr => $id:expr, [$($result:expr),* $(,)?];)*) => {$(
            #[test]
            fn $name() {
                let header = parse($input).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(header.authserv_id.as_deref(), $id);
                let expected: Vec<&str> = vec![$($result),*];
                assert_eq!(summary(&header), expected);
            }
        )*};
    }

    parses! {
        // RFC 8601 B.2: no authentication done, with a version.
        rfc_none_with_version: "example.org 1; none" => Some("example.org"), [];
        // RFC 8601 B.3, folded over two lines.
        rfc_folded: "example.com;\r\n          spf=pass smtp.mailfrom=example.net\r\n"
            => Some("example.com"), ["spf=pass smtp.mailfrom=example.net"];
        // RFC 8601 B.6: quoted reasons.
        rfc_reason_quoted: "example.com; dkim=pass reason=\"good signature\" header.i=@mail-router.example.net; dkim=fail reason=\"bad signature\" header.i=@newyork.example.com"
            => Some("example.com"), [
                "dkim=pass reason=good signature header.i=@mail-router.example.net",
                "dkim=fail reason=bad signature header.i=@newyork.example.com",
            ];
        // RFC 8601 B.7: comments between every token, method version, spaced dots.
        rfc_comment_heavy: "foo.example.net (foobar) 1 (baz);\r\n    dkim (Because I like it) / 1 (One yay) = (wait for it) fail\r\n      policy (A dot can go here) . (like that) expired\r\n      (this surprised me) = (as I wasn't expecting it) 1362471462"
            => Some("foo.example.net"), ["dkim=fail policy.expired=1362471462"];
        // Quoted authserv-id holding a U-label.
        quoted_idn_authserv_id: "\"日本語.jp\"; none" => Some("日本語.jp"), [];
        // Unquoted U-label authserv-id, as real servers write it.
        bare_idn_authserv_id: "с-балалайкой.рф; none" => Some("с-балалайкой.рф"), [];
        // SES: bare Received-SPF keys as items, BATV local part, trailing `;`.
        ses_form: "amazonses.com; spf=pass (spfCheck: domain of example.com designates 203.0.113.0 as permitted sender) client-ip=203.0.113.0; envelope-from=prvs=144d0cba42=sender@example.com; helo=smtp.example.com; dkim=pass header.i=@example.com; dmarc=none header.from=example.com;"
            => Some("amazonses.com"), [
                "spf=pass client-ip=203.0.113.0 envelope-from=prvs=144d0cba42=sender@example.com helo=smtp.example.com",
                "dkim=pass header.i=@example.com",
                "dmarc=none header.from=example.com",
            ];
        // Microsoft: no authserv-id, the id as a stray item, `action=`.
        microsoft_no_authserv_id: "spf=pass (sender IP is 66.111.4.222) smtp.mailfrom=fastmail.com; outlook.com; dkim=pass (signature was verified) header.d=fastmail.com;outlook.com; dmarc=pass action=none header.from=fastmail.com;"
            => None, [
                "spf=pass smtp.mailfrom=fastmail.com",
                "dkim=pass header.d=fastmail.com",
                "dmarc=pass action=none header.from=fastmail.com",
            ];
        // Yahoo: legacy domainkeys, each result after the `from=` that describes it (the header
        // is Mail::AuthenticationResults' own Yahoo test case).
        yahoo_domainkeys: "mta4011.mail.gq1.yahoo.com  from=fastmail.com; domainkeys=neutral (no sig);  from=messagingengine.com; dkim=pass (ok)"
            => Some("mta4011.mail.gq1.yahoo.com"), [
                "domainkeys=neutral from=fastmail.com",
                "dkim=pass from=messagingengine.com",
            ];
        // Yahoo's older form, properties before their result, separated by `;` (a Coursera
        // message received at Yahoo in April 2019, quoted in a public guide to reading headers).
        yahoo_properties_first: "mta4121.mail.ne1.yahoo.com \r\n header.i=@t.mail.coursera.org; header.s=scph0616; dkim=pass (ok)"
            => Some("mta4121.mail.ne1.yahoo.com"), [
                "dkim=pass header.i=@t.mail.coursera.org header.s=scph0616",
            ];
        // The same without the `;`, and Yahoo's `spfDomain=`/`spfResult=` pair (the form the
        // issue tracker quoted from a Yahoo-delivered message).
        yahoo_spf_result: "mta1001.mail.ir2.yahoo.com header.i=@example.com header.s=s1 dkim=pass (ok); spfDomain=bounce.example.com; spfResult=pass;"
            => Some("mta1001.mail.ir2.yahoo.com"), [
                "dkim=pass header.i=@example.com header.s=s1",
                "spf=pass smtp.mailfrom=bounce.example.com",
            ];
        // A missing `;` between two results (Zoho's header, quoted in its community forum):
        // the second result is not folded into the first one's properties.
        missing_semicolon_zoho: "mx.zoho.com;\r\n dkim=pass\r\n spf=pass (zoho.com: domain of _spf.google.com designates 209.85.192.169 as permitted sender) smtp.mailfrom=someone@gmail.com;"
            => Some("mx.zoho.com"), [
                "dkim=pass",
                "spf=pass smtp.mailfrom=someone@gmail.com",
            ];
        // The same with SES's own signature first: the customer's aligned pass must survive.
        missing_semicolon_two_dkim: "mx.example.net; dkim=pass header.d=amazonses.com dkim=pass header.d=example.com"
            => Some("mx.example.net"), [
                "dkim=pass header.d=amazonses.com",
                "dkim=pass header.d=example.com",
            ];
        // Unquoted `/` in header.b and bare x- properties (Fastmail).
        unquoted_slash: "mx6.messagingengine.com;\n    dkim=pass (1024-bit rsa key sha256) header.d=mail.ru header.i=@mail.ru header.b=oF80QtY/ x-bits=1024;\n    spf=pass smtp.mailfrom=fmdeliverability@mail.ru smtp.helo=smtp46.i.mail.ru;"
            => Some("mx6.messagingengine.com"), [
                "dkim=pass header.d=mail.ru header.i=@mail.ru header.b=oF80QtY/ x-bits=1024",
                "spf=pass smtp.mailfrom=fmdeliverability@mail.ru smtp.helo=smtp46.i.mail.ru",
            ];
        // Unquoted `:` in a folded URL value (Fastmail BIMI).
        unquoted_url: "mx1.messagingengine.com; bimi=pass header.d=amazon.com policy.authority-uri=\r\n      https://example.net/a.pem"
            => Some("mx1.messagingengine.com"), ["bimi=pass header.d=amazon.com policy.authority-uri=https://example.net/a.pem"];
        // Results beyond RFC 8601's list keep their names.
        nonstandard_results: "example.com; dkim=timeout; dmarc=bestguesspass; spf=Pass"
            => Some("example.com"), ["dkim=timeout", "dmarc=bestguesspass", "spf=pass"];
        // One `)` too many: the stray `)` is skipped, the property after it kept.
        unbalanced_close: "example.com; dkim=pass (good (comment (another))) signature(s)) header.d=example.com"
            => Some("example.com"), ["dkim=pass header.d=example.com"];
        // One `(` too many: the comment closes at the last `)`.
        unbalanced_open: "example.com; dkim=pass ((good (comment (another)) signature(s)) header.d=example.com"
            => Some("example.com"), ["dkim=pass header.d=example.com"];
        // Non-ASCII in values, reasons and comments.
        non_ascii_values: "example.net (éxamplé); dkim=pass header.i=二ノ宮@黒川.日本; dkim=fail reason=\"Tést reason\""
            => Some("example.net"), ["dkim=pass header.i=二ノ宮@黒川.日本", "dkim=fail reason=Tést reason"];
        // An escaped quote inside a quoted value, and an escaped paren inside a comment.
        escapes: "example.com; dkim=pass (a \\) b) header.d=\"ex\\\"ample.com\""
            => Some("example.com"), ["dkim=pass header.d=ex\"ample.com"];
        // The field name is accepted and ignored.
        with_field_name: "Authentication-Results: example.com; spf=none"
            => Some("example.com"), ["spf=none"];
    }

    /// Yahoo writes results outside the grammar (MimeKit issue #584, a message from
    /// news.aegeanair.com received at atlas122.free.mail.gq1.yahoo.com): they are read where
    /// their meaning is certain, and the written text is kept.
    #[test]
    fn results_outside_the_grammar() {
        let header = parse(" atlas122.free.mail.gq1.yahoo.com; dkim=dkim_pass header.i=@news.aegeanair.com header.s=@aegeanair2; spf=pass smtp.mailfrom=news.aegeanair.com; dmarc=success(p=REJECT) header.from=news.aegeanair.com;")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            summary(&header),
            [
                "dkim=pass header.i=@news.aegeanair.com header.s=@aegeanair2",
                "spf=pass smtp.mailfrom=news.aegeanair.com",
                "dmarc=pass header.from=news.aegeanair.com",
            ]
        );
        let written: Vec<Option<&str>> = header
            .results
            .iter()
            .map(|r| r.written_result.as_deref())
            .collect();
        assert_eq!(written, [Some("dkim_pass"), None, Some("success")]);
        // Where the meaning is not certain, the text stays as written.
        let odd =
            parse("example.com; dkim=spf_pass; dmarc=succeeded").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(summary(&odd), ["dkim=spf_pass", "dmarc=succeeded"]);
    }

    #[test]
    fn ses_properties_are_typed() {
        let header = parse("amazonses.com; spf=pass client-ip=192.0.2.1; envelope-from=a@b.example; dkim=pass header.i=@b.example")
            .unwrap_or_else(|e| panic!("{e}"));
        let spf = &header.results[0];
        assert_eq!(spf.method, Method::Spf);
        assert_eq!(spf.result, ResultKeyword::Pass);
        assert_eq!(spf.property(None, "envelope-from"), Some("a@b.example"));
        assert_eq!(
            header.results[1].properties,
            vec![prop(Some("header"), "i", "@b.example")]
        );
    }

    #[test]
    fn microsoft_stray_id_is_kept() {
        let header = parse("spf=pass smtp.mailfrom=a.example; outlook.com; dkim=none")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.stray_ids, vec!["outlook.com".to_owned()]);
        assert_eq!(header.authserv_id, None);
    }

    #[test]
    fn empty_and_garbage_are_errors() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert_eq!(parse("  (only a comment) "), Err(ParseError::Empty));
        assert!(matches!(
            parse(";;; ==="),
            Err(ParseError::NothingRecognized { .. })
        ));
    }

    #[test]
    fn deep_nesting_is_linear_and_does_not_overflow() {
        let deep = format!(
            "example.com; dkim=pass {} header.d=a.example",
            "(".repeat(100_000)
        );
        let header = parse(&deep).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.results.len(), 1);
        let balanced = format!(
            "example.com; {}x{} spf=pass",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        let header = parse(&balanced).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(summary(&header), vec!["spf=pass"]);
    }

    #[test]
    fn huge_header_parses() {
        let mut big = String::from("example.com");
        for i in 0..40_000 {
            big.push_str(&format!("; dkim=pass header.d=d{i}.example"));
        }
        assert!(big.len() > 1 << 20);
        let header = parse(&big).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.results.len(), 40_000);
    }

    #[test]
    fn warnings_are_bounded() {
        let junk = format!("example.com; spf=pass {}", ") ".repeat(1000));
        let header = parse(&junk).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.warnings.len(), 16);
    }
}
