//! What a report arrives in, recognized by its content and unpacked: gzip, zip, an e-mail
//! with the report attached or inline, or the XML or JSON itself.
//!
//! Streaming, so that memory does not grow with what an input expands to. [`open`] finds the
//! documents an input holds by reading only the first bytes of each (through gzip and zip),
//! and a [`Document`] is read as a stream as often as it is asked ([`Document::read`]: its
//! head first, then its rows), each time from the input's bytes. Only three things are
//! held in memory whole: the input, an e-mail's decoded attachments, and a container inside a
//! compressed stream (a zip in a gzip), which is held up to [`Limits::held`].
//!
//! Bounded: what one document expands to is capped ([`Limits::expanded`], a bound on work,
//! not on memory), containers nest only so deep, and a TLS report (JSON, read whole) is
//! capped at [`Limits::tls`].

use super::{Report, aggregate, tls};
use crate::read::input::{looks_like_message, raw_headers};
use mail_parser::MimeHeaders as _;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::sync::Arc;

/// How much one input may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one document may expand to through gzip and zip: a bound on work (the
    /// reading streams). The largest daily reports are hundreds of megabytes of XML.
    pub expanded: u64,
    /// Containers within containers (an e-mail with a zip of a gzip is 3).
    pub depth: u8,
    /// A container that must be held in memory to be opened (a zip or an e-mail inside a
    /// compressed stream).
    pub held: u64,
    /// A TLS report, which is read whole (real ones are kilobytes).
    pub tls: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            expanded: 1024 * 1024 * 1024,
            depth: 4,
            held: 48 * 1024 * 1024,
            tls: 4 * 1024 * 1024,
        }
    }
}

/// Why (part of) an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{what} expands beyond {limit} bytes (the limit for one document)")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("containers nested deeper than {0}")]
    TooDeep(u8),
    #[error("corrupt gzip: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("corrupt zip: {0}")]
    Zip(#[source] zip::result::ZipError),
    #[error("{place}: {source}")]
    Read {
        place: String,
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

/// How many first bytes recognize a document: an XML report's `<feedback>` comes after
/// its declaration and, at most, a comment or a stylesheet.
const HEAD: usize = 64 * 1024;
/// A document one layer deep that says it expands to at most this much is expanded into
/// memory to be read (a bounded buffer: faster than the stream, the same memory as the
/// stream's buffers for the large ones).
const SMALL: u64 = 4 * 1024 * 1024;
/// How many first bytes are read to recognize an input at first.
const SNIFF: usize = 8 * 1024;

/// Recognizes a report or its container by content (its first bytes are enough).
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
            let head = &markup[..markup.len().min(HEAD)];
            if markup.starts_with(b"<?xml") || memchr::memmem::find(head, b"<feedback").is_some() {
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

/// Whether XML that starts with `head` says it is an aggregate report: it names `feedback`
/// (in any case, any namespace), or is UTF-16.
fn claims_aggregate(head: &[u8]) -> bool {
    if encoding_rs::Encoding::for_bom(head).is_some_and(|(e, _)| e != encoding_rs::UTF_8) {
        return true;
    }
    // Receivers write it in lower case: the copy in lower case is made only when it is not.
    memchr::memmem::find(head, b"feedback").is_some()
        || memchr::memmem::find(&head.to_ascii_lowercase(), b"feedback").is_some()
}

/// Whether JSON that starts with `head` says it is a TLS report (RFC 8460 §4.4's names).
fn claims_tls(head: &[u8]) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
    has(b"\"organization-name\"") || has(b"\"policies\"") || has(b"\"report-id\"")
}

/// Which report a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Aggregate,
    Tls,
}

/// Bytes a document is read from: the input's, or bytes held for it (an e-mail's decoded
/// attachment, a container taken out of a compressed stream).
#[derive(Debug, Clone)]
enum Bytes<'a> {
    Borrowed(&'a [u8]),
    Held(Arc<Vec<u8>>),
}

impl AsRef<[u8]> for Bytes<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::Borrowed(bytes) => bytes,
            Self::Held(bytes) => bytes,
        }
    }
}

/// Where a document's stream starts: bytes, or a zip read once (its directory is shared by
/// every entry's document: a zip of thousands of reports is not read thousands of times).
#[derive(Clone)]
enum Base<'a> {
    Bytes(Bytes<'a>),
    Zip(zip::ZipArchive<Cursor<Bytes<'a>>>),
}

impl std::fmt::Debug for Base<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(bytes) => write!(f, "{} bytes", bytes.as_ref().len()),
            Self::Zip(archive) => write!(f, "a zip of {} entries", archive.len()),
        }
    }
}

impl<'a> Base<'a> {
    fn borrowed(bytes: &'a [u8]) -> Self {
        Self::Bytes(Bytes::Borrowed(bytes))
    }

    fn held(bytes: Vec<u8>) -> Self {
        Self::Bytes(Bytes::Held(Arc::new(bytes)))
    }
}

/// One layer between a document's base and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The entry of this index in the zip the base holds (always the first step).
    ZipEntry(usize),
    Gzip,
}

/// One report document an input holds, read as a stream each time it is asked.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    base: Base<'a>,
    steps: Vec<Step>,
    pub kind: DocumentKind,
    /// Where it is in its input (`zip entry "report.xml"`), for errors; empty at the top.
    pub place: String,
    limits: Limits,
}

/// What one input held.
#[derive(Debug, Default)]
pub struct Opened<'a> {
    pub documents: Vec<Document<'a>>,
    /// Parts that look like reports or their containers and could not be opened.
    pub errors: Vec<ExtractError>,
    /// Recoveries the reader made (bytes after a gzip stream ignored, …).
    pub notes: Vec<String>,
    /// The header fields of the e-mail the reports came in, topmost first: whose
    /// `Authentication-Results` say whether the report itself is authentic.
    pub carrier: Option<Vec<(String, String)>>,
}

impl Opened<'_> {
    /// Whether the input says it is a report, so that failing to read it is an error and not
    /// mail to ignore: any input that is not an e-mail, and an e-mail whose subject or
    /// headers say so (RFC 9990 §2.4's `Report Domain:` subject, RFC 8460's
    /// `TLS-Report-Domain`, a `multipart/report` of report type `tlsrpt`).
    pub fn claims_report(&self) -> bool {
        let Some(headers) = &self.carrier else {
            return true;
        };
        headers.iter().any(|(name, value)| {
            let value = value.to_ascii_lowercase();
            (name.eq_ignore_ascii_case("subject") && value.contains("report domain"))
                || name.eq_ignore_ascii_case("tls-report-domain")
                || (name.eq_ignore_ascii_case("content-type") && value.contains("tlsrpt"))
        })
    }
}

/// Finds every report document in `bytes`.
pub fn open(bytes: &[u8], limits: Limits) -> Opened<'_> {
    let mut finder = Finder {
        limits,
        out: Opened::default(),
    };
    if sniff(bytes) == Format::Email {
        finder.out.carrier = raw_headers(bytes);
    }
    if let Err(error) = finder.find(Base::borrowed(bytes), Vec::new(), String::new(), 0) {
        finder.out.errors.push(error);
    }
    finder.out
}

/// Reads every report in `bytes` whole, rows and all: for tests and small inputs. The
/// functions and the CLI read [`open`]'s documents as streams.
pub fn extract(bytes: &[u8], limits: Limits) -> Extracted {
    let opened = open(bytes, limits);
    let mut out = Extracted {
        reports: Vec::new(),
        errors: opened.errors,
        notes: opened.notes,
        carrier: opened.carrier,
    };
    for document in &opened.documents {
        match document.read_whole() {
            Ok(report) => {
                if matches!(&report, Report::Aggregate(a) if a.lossy) {
                    out.notes.push("invalid UTF-8 replaced (U+FFFD)".to_owned());
                }
                out.reports.push(report);
            }
            Err(error) => out.errors.push(error),
        }
    }
    out
}

/// Every report of an input, read whole ([`extract`]).
#[derive(Debug, Default)]
pub struct Extracted {
    pub reports: Vec<Report>,
    pub errors: Vec<ExtractError>,
    pub notes: Vec<String>,
    pub carrier: Option<Vec<(String, String)>>,
}

struct Finder<'a> {
    limits: Limits,
    out: Opened<'a>,
}

impl<'a> Finder<'a> {
    /// Finds the documents below `base` through `steps` (its first bytes say what it is).
    fn find(
        &mut self,
        base: Base<'a>,
        steps: Vec<Step>,
        place: String,
        depth: u8,
    ) -> Result<(), ExtractError> {
        if depth > self.limits.depth {
            return Err(ExtractError::TooDeep(self.limits.depth));
        }
        // The first kilobytes say what nearly every input is; an XML document with a long
        // prologue before `<feedback>` is looked at further.
        let mut head = read_prefix(&base, &steps, &place, self.limits, SNIFF)?;
        if head.iter().all(u8::is_ascii_whitespace) {
            return Err(ExtractError::Empty);
        }
        let gzip = sniff(&head) == Format::Gzip;
        let mut claims = !gzip && claims_aggregate(&head);
        if head.len() == SNIFF && !gzip && !claims {
            head = read_prefix(&base, &steps, &place, self.limits, HEAD)?;
            claims = claims_aggregate(&head);
        }
        let format = sniff(&head);
        let streamed = !steps.is_empty();
        let document = |kind| Document {
            base: base.clone(),
            steps: steps.clone(),
            kind,
            place: place.clone(),
            limits: self.limits,
        };
        match format {
            Format::Xml if claims => {
                let document = document(DocumentKind::Aggregate);
                self.out.documents.push(document);
                Ok(())
            }
            Format::Json if claims_tls(&head) => {
                let document = document(DocumentKind::Tls);
                self.out.documents.push(document);
                Ok(())
            }
            Format::Xml => Err(aggregate::AggregateError::NoFeedback.into()),
            Format::Json => Err(tls::TlsError::NoPolicies.into()),
            Format::Gzip => {
                let mut steps = steps;
                steps.push(Step::Gzip);
                self.find(base, steps, place, depth + 1)
            }
            // A zip or an e-mail needs its bytes at hand: taken out of a stream first.
            Format::Zip | Format::Email if streamed => {
                let held = read_prefix(&base, &steps, &place, self.limits, usize::MAX)?;
                self.find(Base::held(held), Vec::new(), place, depth)
            }
            Format::Zip => self.unzip(&base, &place, depth),
            Format::Email => self.email(&base, &place, depth),
            Format::Unrecognized => Err(ExtractError::Unrecognized),
        }
    }

    fn unzip(&mut self, base: &Base<'a>, place: &str, depth: u8) -> Result<(), ExtractError> {
        let Base::Bytes(bytes) = base else {
            return Err(ExtractError::TooDeep(self.limits.depth));
        };
        let archive =
            zip::ZipArchive::new(Cursor::new(bytes.clone())).map_err(ExtractError::Zip)?;
        let base = Base::Zip(archive.clone());
        let entries: Vec<(usize, String)> = (0..archive.len())
            .filter_map(|index| {
                let name = archive.name_for_index(index)?.ok()?;
                (!name.ends_with('/')).then(|| (index, name.into_owned()))
            })
            .collect();
        for (index, name) in entries {
            let place = format!(
                "{place}zip entry {:?}: ",
                crate::read::text::bounded(&name, 80)
            );
            if let Err(error) =
                self.find(base.clone(), vec![Step::ZipEntry(index)], place, depth + 1)
            {
                self.out.errors.push(error);
            }
        }
        Ok(())
    }

    /// Every leaf part that is a report or holds one; the rest (a text body, Yahoo's
    /// literal `unused`, a stranger's attachment) is the mail around the report.
    fn email(&mut self, base: &Base<'_>, place: &str, depth: u8) -> Result<(), ExtractError> {
        let Base::Bytes(bytes) = base else {
            return Err(ExtractError::Email);
        };
        let mut message = mail_parser::MessageParser::default()
            .parse(bytes.as_ref())
            .ok_or(ExtractError::Email)?;
        let before = self.out.documents.len() + self.out.errors.len();
        for part in std::mem::take(&mut message.parts) {
            if matches!(part.body, mail_parser::PartType::Multipart(_)) {
                continue;
            }
            let declared = part
                .content_type()
                .map(|t| {
                    let subtype = t.subtype().unwrap_or_default();
                    format!("{}/{subtype}", t.ctype()).to_ascii_lowercase()
                })
                .unwrap_or_default();
            let contents: Vec<u8> = match part.body {
                mail_parser::PartType::Message(inner) => inner.raw_message.into_owned(),
                mail_parser::PartType::Binary(bytes)
                | mail_parser::PartType::InlineBinary(bytes) => bytes.into_owned(),
                mail_parser::PartType::Text(text) | mail_parser::PartType::Html(text) => {
                    text.into_owned().into_bytes()
                }
                mail_parser::PartType::Multipart(_) => continue,
            };
            let format = sniff(&contents[..contents.len().min(HEAD)]);
            // A part is read when its bytes are a report format, or when its MIME type names
            // one (an XML report sent as text/plain still starts with '<').
            let report_type = declared.contains("xml")
                || declared.contains("gzip")
                || declared.contains("zip")
                || declared.contains("tlsrpt");
            match format {
                Format::Gzip | Format::Zip | Format::Xml | Format::Json => {}
                Format::Email if declared == "message/rfc822" => {}
                _ if report_type => {
                    self.out.errors.push(ExtractError::Unrecognized);
                    continue;
                }
                _ => continue,
            }
            if let Err(error) = self.find(
                Base::held(contents),
                Vec::new(),
                place.to_owned(),
                depth + 1,
            ) {
                self.out.errors.push(error);
            }
        }
        if self.out.documents.len() + self.out.errors.len() == before {
            return Err(ExtractError::NoReportInEmail);
        }
        Ok(())
    }
}

/// The first `most` bytes below `base` through `steps` (all of them, up to
/// [`Limits::held`], for `usize::MAX`).
fn read_prefix(
    base: &Base<'_>,
    steps: &[Step],
    place: &str,
    limits: Limits,
    most: usize,
) -> Result<Vec<u8>, ExtractError> {
    if let (Base::Bytes(bytes), true) = (base, steps.is_empty() && most != usize::MAX) {
        let bytes = bytes.as_ref();
        return Ok(bytes[..bytes.len().min(most)].to_vec());
    }
    let whole = most == usize::MAX;
    let cap = if whole { limits.held } else { most as u64 };
    with_reader(base, steps, place, limits, |reader| {
        // A prefix's size is known: read into one buffer of it, never grown (a stream's first
        // kilobytes are read for every input, and growing a buffer from nothing took as long
        // as inflating the document).
        let mut out = Vec::with_capacity(if whole { 0 } else { most });
        reader
            .take(cap + u64::from(whole))
            .read_to_end(&mut out)
            .map_err(|source| read_error(place, source))?;
        if whole && out.len() as u64 > cap {
            return Err(ExtractError::TooLarge {
                what: "a container inside a compressed stream",
                limit: cap,
            });
        }
        Ok(out)
    })
}

/// Runs `f` over a stream of what `steps` make of `base`, bounded by [`Limits::expanded`].
fn with_reader<T>(
    base: &Base<'_>,
    steps: &[Step],
    place: &str,
    limits: Limits,
    f: impl FnOnce(&mut dyn Read) -> Result<T, ExtractError>,
) -> Result<T, ExtractError> {
    match (base, steps.split_first()) {
        (Base::Zip(archive), Some((Step::ZipEntry(index), rest))) => {
            let mut archive = archive.clone();
            let entry = archive.by_index(*index).map_err(ExtractError::Zip)?;
            layered(BufReader::new(entry), rest, place, limits, f)
        }
        (Base::Bytes(bytes), _) => layered(bytes.as_ref(), steps, place, limits, f),
        (Base::Zip(_), _) => Err(read_error(
            place,
            std::io::Error::other("a zip without the entry to read"),
        )),
    }
}

fn layered<'r, T>(
    reader: impl BufRead + 'r,
    steps: &[Step],
    place: &str,
    limits: Limits,
    f: impl FnOnce(&mut dyn Read) -> Result<T, ExtractError>,
) -> Result<T, ExtractError> {
    let Some((last, inner)) = steps.split_last() else {
        let mut bounded = Bounded::new(reader, limits.expanded);
        return f(&mut bounded);
    };
    let mut reader: Box<dyn BufRead + 'r> = Box::new(reader);
    for step in inner {
        match step {
            Step::Gzip => reader = Box::new(BufReader::new(GzipMembers::new(reader))),
            Step::ZipEntry(_) => return Err(zip_below(place)),
        }
    }
    // The last layer is read unbuffered: the XML reader buffers what it reads.
    match last {
        Step::Gzip => f(&mut Bounded::new(GzipMembers::new(reader), limits.expanded)),
        Step::ZipEntry(_) => Err(zip_below(place)),
    }
}

fn zip_below(place: &str) -> ExtractError {
    read_error(place, std::io::Error::other("a zip entry below a stream"))
}

/// The error of a read below `place`: the limit and corrupt gzip by their own names.
pub(super) fn read_error(place: &str, source: std::io::Error) -> ExtractError {
    if let Some(limit) = source
        .get_ref()
        .and_then(|e| e.downcast_ref::<ExpandedTooFar>())
    {
        return ExtractError::TooLarge {
            what: "a document",
            limit: limit.0,
        };
    }
    ExtractError::Read {
        place: if place.is_empty() {
            "reading".to_owned()
        } else {
            place.trim_end_matches([':', ' ']).to_owned()
        },
        source,
    }
}

/// A read error shared by the XML reader, as the cause of one of ours.
#[derive(Debug)]
struct IoCause(Arc<std::io::Error>);

impl std::fmt::Display for IoCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The error [`Bounded`] ends a read with.
#[derive(Debug, thiserror::Error)]
#[error("expands beyond {0} bytes")]
struct ExpandedTooFar(u64);

/// A reader that fails once more than `limit` bytes came through it.
struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R> Bounded<R> {
    fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or_else(|| std::io::Error::other(ExpandedTooFar(self.limit)))?;
        Ok(n)
    }
}

/// Gzip's members one after another, as `gunzip` reads them; bytes after the last member
/// that do not start another (Mimecast ends its gzip with a line break) are ignored.
struct GzipMembers<R: BufRead> {
    current: Option<flate2::bufread::GzDecoder<R>>,
}

impl<R: BufRead> GzipMembers<R> {
    fn new(reader: R) -> Self {
        Self {
            current: Some(flate2::bufread::GzDecoder::new(reader)),
        }
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(decoder) = &mut self.current else {
                return Ok(0);
            };
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(decoder) = self.current.take() else {
                return Ok(0);
            };
            let mut rest = decoder.into_inner();
            if rest.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
                self.current = Some(flate2::bufread::GzDecoder::new(rest));
            }
        }
    }
}

impl Document<'_> {
    /// Runs `f` over the document's text, streamed from its input.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Read) -> Result<T, ExtractError>,
    ) -> Result<T, ExtractError> {
        with_reader(&self.base, &self.steps, &self.place, self.limits, f)
    }

    /// A TLS report, read whole (up to [`Limits::tls`]).
    pub fn tls(&self) -> Result<tls::TlsReport, ExtractError> {
        let cap = self.limits.tls;
        let json = self.read(|reader| {
            let mut json = Vec::new();
            reader
                .take(cap + 1)
                .read_to_end(&mut json)
                .map_err(|source| read_error(&self.place, source))?;
            Ok(json)
        })?;
        if json.len() as u64 > cap {
            return Err(ExtractError::TooLarge {
                what: "a TLS report",
                limit: cap,
            });
        }
        Ok(tls::parse(&json)?)
    }

    /// The document's text when it is in memory as it is (no layer to undo).
    fn in_memory(&self) -> Option<&[u8]> {
        match (&self.base, self.steps.is_empty()) {
            (Base::Bytes(bytes), true) => Some(bytes.as_ref()),
            _ => None,
        }
    }

    /// An aggregate report's metadata and published policy, read up to its first record.
    pub fn aggregate_head(&self) -> Result<aggregate::AggregateReport, ExtractError> {
        if let Some(xml) = self.in_memory() {
            return Ok(aggregate::read_slice(
                xml,
                aggregate::Until::FirstRecord,
                |_, _| {},
            )?);
        }
        self.read(|reader| {
            Ok(aggregate::read(
                reader,
                aggregate::Until::FirstRecord,
                |_, _| {},
            )?)
        })
        .map_err(|error| self.placed(error))
    }

    /// An aggregate report read to its end, each row handed to `row` as it is read, with
    /// the report read so far.
    pub fn aggregate_rows(
        &self,
        row: impl FnMut(&aggregate::AggregateReport, aggregate::Row),
    ) -> Result<aggregate::AggregateReport, ExtractError> {
        if let Some(xml) = self.in_memory() {
            return Ok(aggregate::read_slice(xml, aggregate::Until::End, row)?);
        }
        if let Some(xml) = self.small_expanded()? {
            return Ok(aggregate::read_slice(&xml, aggregate::Until::End, row)?);
        }
        self.read(|reader| Ok(aggregate::read(reader, aggregate::Until::End, row)?))
            .map_err(|error| self.placed(error))
    }

    /// The text of a document one layer deep (a gzip, a zip entry) that says it expands to at
    /// most [`SMALL`] (gzip's trailer, the zip's directory), expanded into memory, where it
    /// is read without copying; `None` for any other, read as a stream. What it says is
    /// checked: a document that expands further is streamed after all. One document at a
    /// time is held: the buffer is bounded, not by the document, by [`SMALL`].
    fn small_expanded(&self) -> Result<Option<Vec<u8>>, ExtractError> {
        let said = match (&self.base, self.steps.as_slice()) {
            (Base::Bytes(bytes), [Step::Gzip]) => {
                let bytes = bytes.as_ref();
                bytes
                    .len()
                    .checked_sub(4)
                    .and_then(|at| bytes.get(at..))
                    .and_then(|size| size.try_into().ok())
                    .map(|size| u64::from(u32::from_le_bytes(size)))
            }
            (Base::Zip(archive), [Step::ZipEntry(index)]) => archive
                .clone()
                .by_index_raw(*index)
                .ok()
                .map(|entry| entry.size()),
            _ => None,
        };
        let Some(said) = said.filter(|size| *size <= SMALL) else {
            return Ok(None);
        };
        let expanded = self.read(|reader| {
            let mut out = Vec::with_capacity(usize::try_from(said).unwrap_or(0));
            reader
                .take(SMALL + 1)
                .read_to_end(&mut out)
                .map_err(|source| read_error(&self.place, source))?;
            Ok(out)
        })?;
        Ok((expanded.len() as u64 <= SMALL).then_some(expanded))
    }

    /// The report, rows and all.
    pub fn read_whole(&self) -> Result<Report, ExtractError> {
        match self.kind {
            DocumentKind::Tls => self.tls().map(Report::TlsRpt),
            DocumentKind::Aggregate => {
                let mut rows = Vec::new();
                let mut report = self.aggregate_rows(|_, row| rows.push(row))?;
                report.rows = rows;
                Ok(Report::Aggregate(report))
            }
        }
    }

    /// A read error of the document's stream, as what it is.
    fn placed(&self, error: ExtractError) -> ExtractError {
        match error {
            ExtractError::Aggregate(aggregate::AggregateError::Io(source)) => {
                match source
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<ExpandedTooFar>())
                {
                    Some(limit) => ExtractError::TooLarge {
                        what: "a document",
                        limit: limit.0,
                    },
                    None => read_error(
                        &self.place,
                        std::io::Error::new(source.kind(), IoCause(source)),
                    ),
                }
            }
            other => other,
        }
    }
}
