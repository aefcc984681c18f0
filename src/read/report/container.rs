//! What a report arrives in, recognized by its content and unpacked: gzip, zip, an e-mail
//! with the report attached or inline, or the XML or JSON itself.
//!
//! Bounded: what one input expands to is capped ([`Limits`]), so a zip or gzip bomb ends in
//! a clear error, and containers nest only so deep.

use super::{Report, aggregate, tls};
use crate::read::input::{looks_like_message, raw_headers};
use mail_parser::MimeHeaders as _;
use std::borrow::Cow;
use std::io::Read;

/// How much one input may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes decompressed from gzip and zip, over the whole input.
    pub expanded: u64,
    /// Containers within containers (an e-mail with a zip of a gzip is 3).
    pub depth: u8,
}

impl Default for Limits {
    /// Large enough for the biggest daily reports (Google's, for busy domains, are tens of
    /// megabytes of XML), small enough for a Lambda function's memory.
    fn default() -> Self {
        Self {
            expanded: 256 * 1024 * 1024,
            depth: 4,
        }
    }
}

/// What one input held.
#[derive(Debug, Default)]
pub struct Extracted {
    pub reports: Vec<Report>,
    /// Documents that were there and could not be read; the others are still returned.
    pub errors: Vec<ExtractError>,
    /// Recoveries the reader made (invalid UTF-8 replaced, …).
    pub notes: Vec<String>,
    /// The header fields of the e-mail the reports came in, topmost first: whose
    /// `Authentication-Results` say whether the report itself is authentic.
    pub carrier: Option<Vec<(String, String)>>,
}

/// Why (part of) an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{what} expands beyond {limit} bytes (the limit for one input)")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("containers nested deeper than {0}")]
    TooDeep(u8),
    #[error("corrupt gzip: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("corrupt zip: {0}")]
    Zip(#[source] zip::result::ZipError),
    #[error("zip entry {name:?}: {source}")]
    ZipEntry {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("an e-mail that does not parse")]
    Email,
    #[error("an e-mail with no report in it")]
    NoReportInEmail,
    #[error("{0}")]
    Aggregate(#[from] aggregate::AggregateError),
    #[error("TLS report: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("neither a DMARC aggregate report, a TLS report, gzip, zip nor an e-mail")]
    Unrecognized,
    #[error("empty")]
    Empty,
}

/// What the bytes are, by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gzip,
    Zip,
    Xml,
    Json,
    Email,
    Unrecognized,
}

/// Recognizes a report or its container by content.
pub fn sniff(bytes: &[u8]) -> Format {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Format::Gzip;
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Format::Zip;
    }
    if encoding_rs::Encoding::for_bom(bytes).is_some_and(|(e, _)| e != encoding_rs::UTF_8) {
        return Format::Xml; // UTF-16: only XML is written so
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|at| &text[at..]) {
        // An XML report; not any markup (an HTML body beside the attachment).
        Some(markup) if markup.starts_with(b"<") => {
            let head = &markup[..markup.len().min(64 * 1024)];
            if markup.starts_with(b"<?xml") || head.windows(9).any(|w| w == b"<feedback") {
                Format::Xml
            } else {
                Format::Unrecognized
            }
        }
        Some(json) if json.starts_with(b"{") => Format::Json,
        _ if looks_like_message(bytes) => Format::Email,
        _ => Format::Unrecognized,
    }
}

/// Reads every report in `bytes`.
pub fn extract(bytes: &[u8], limits: Limits) -> Extracted {
    let mut reader = Reader {
        limits,
        expanded: 0,
        out: Extracted::default(),
    };
    if sniff(bytes) == Format::Email {
        reader.out.carrier = raw_headers(bytes);
    }
    if let Err(error) = reader.read(bytes, 0) {
        reader.out.errors.push(error);
    }
    reader.out
}

struct Reader {
    limits: Limits,
    expanded: u64,
    out: Extracted,
}

impl Reader {
    fn read(&mut self, bytes: &[u8], depth: u8) -> Result<(), ExtractError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ExtractError::Empty);
        }
        if depth > self.limits.depth {
            return Err(ExtractError::TooDeep(self.limits.depth));
        }
        match sniff(bytes) {
            Format::Gzip => {
                let inflated = match self.inflate(
                    "gzip",
                    flate2::read::MultiGzDecoder::new(bytes),
                    ExtractError::Gzip,
                ) {
                    Ok(inflated) => inflated,
                    // Mimecast ends its gzip with a line break: read the one member there is.
                    Err(ExtractError::Gzip(_)) => {
                        let inflated = self.inflate(
                            "gzip",
                            flate2::read::GzDecoder::new(bytes),
                            ExtractError::Gzip,
                        )?;
                        self.out
                            .notes
                            .push("bytes after the gzip stream ignored".to_owned());
                        inflated
                    }
                    Err(other) => return Err(other),
                };
                self.read(&inflated, depth + 1)
            }
            Format::Zip => self.unzip(bytes, depth),
            Format::Xml => {
                let text = self.decode_xml(bytes);
                let report = aggregate::parse(&text)?;
                self.out.reports.push(Report::Aggregate(report));
                Ok(())
            }
            Format::Json => {
                let report = tls::parse(bytes)?;
                self.out.reports.push(Report::TlsRpt(report));
                Ok(())
            }
            Format::Email => self.email(bytes, depth),
            Format::Unrecognized => Err(ExtractError::Unrecognized),
        }
    }

    /// Reads a decompressing reader to its end, within what the input may still expand to.
    fn inflate(
        &mut self,
        what: &'static str,
        reader: impl Read,
        corrupt: impl FnOnce(std::io::Error) -> ExtractError,
    ) -> Result<Vec<u8>, ExtractError> {
        let room = self.limits.expanded.saturating_sub(self.expanded);
        let mut out = Vec::new();
        reader
            .take(room.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(corrupt)?;
        if out.len() as u64 > room {
            return Err(ExtractError::TooLarge {
                what,
                limit: self.limits.expanded,
            });
        }
        self.expanded += out.len() as u64;
        Ok(out)
    }

    fn unzip(&mut self, bytes: &[u8], depth: u8) -> Result<(), ExtractError> {
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(ExtractError::Zip)?;
        for index in 0..archive.len() {
            let entry = archive.by_index(index).map_err(ExtractError::Zip)?;
            if entry.is_dir() {
                continue;
            }
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            let inflated = self.inflate("a zip entry", entry, |source| ExtractError::ZipEntry {
                name,
                source,
            })?;
            if let Err(error) = self.read(&inflated, depth + 1) {
                self.out.errors.push(error);
            }
        }
        Ok(())
    }

    /// Every leaf part that is a report or holds one; the rest (a text body, Yahoo's
    /// literal `unused`) is the mail around the report.
    fn email(&mut self, bytes: &[u8], depth: u8) -> Result<(), ExtractError> {
        let message = mail_parser::MessageParser::default()
            .parse(bytes)
            .ok_or(ExtractError::Email)?;
        let before = self.out.reports.len() + self.out.errors.len();
        for part in &message.parts {
            if matches!(part.body, mail_parser::PartType::Multipart(_)) {
                continue;
            }
            let contents = match &part.body {
                mail_parser::PartType::Message(inner) => inner.raw_message(),
                _ => part.contents(),
            };
            let format = sniff(contents);
            let declared = part
                .content_type()
                .map(|t| {
                    let subtype = t.subtype().unwrap_or_default();
                    format!("{}/{subtype}", t.ctype()).to_ascii_lowercase()
                })
                .unwrap_or_default();
            // A part is read when its bytes are a report format, or when its MIME type names
            // one (an XML report sent as text/plain still starts with '<').
            let report_type = declared.contains("xml")
                || declared.contains("gzip")
                || declared.contains("zip")
                || declared.contains("tlsrpt");
            match format {
                Format::Gzip | Format::Zip | Format::Xml | Format::Json => {}
                Format::Email if part.is_message() => {}
                _ if report_type => {
                    self.out.errors.push(ExtractError::Unrecognized);
                    continue;
                }
                _ => continue,
            }
            if let Err(error) = self.read(contents, depth + 1) {
                self.out.errors.push(error);
            }
        }
        if self.out.reports.len() + self.out.errors.len() == before {
            return Err(ExtractError::NoReportInEmail);
        }
        Ok(())
    }

    /// The document's text: by its byte-order mark, else its declared encoding, else UTF-8
    /// with invalid bytes replaced (and a note that they were).
    fn decode_xml<'a>(&mut self, bytes: &'a [u8]) -> Cow<'a, str> {
        if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
            let (text, _) = encoding.decode_without_bom_handling(&bytes[bom..]);
            return text;
        }
        if let Some(encoding) = declared_encoding(bytes).filter(|e| *e != encoding_rs::UTF_8) {
            let (text, _, replaced) = encoding.decode(bytes);
            if replaced {
                self.out
                    .notes
                    .push(format!("bytes invalid in {} replaced", encoding.name()));
            }
            return text;
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => {
                self.out
                    .notes
                    .push("invalid UTF-8 replaced (U+FFFD)".to_owned());
                String::from_utf8_lossy(bytes)
            }
        }
    }
}

/// `encoding="…"` in the XML declaration, when it names one `encoding_rs` knows.
fn declared_encoding(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(256)];
    let end = head.windows(2).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    let at = declaration.find("encoding")?;
    let rest = declaration[at + "encoding".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest[1..].split(quote).next()?;
    encoding_rs::Encoding::for_label(value.trim().as_bytes())
}
