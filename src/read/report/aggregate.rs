//! DMARC aggregate reports (RFC 9990, and RFC 7489 §7.2 before it) read from their XML into
//! [`AggregateReport`].
//!
//! Written here rather than taken from `mail-auth`'s `report` module, which reads `Pass` and
//! SPF `hardfail` as `none`, folds `forwarded` and `sampled_out` into `other`, drops `pct`
//! and refuses a stray `xs:schema` element and invalid UTF-8. Here, every value is read
//! case-insensitively, a value this version does not know is kept as read and listed in
//! [`AggregateReport::unknown_values`] (never turned into a verdict), and elements are
//! found by their path below `<feedback>` whatever surrounds it or whichever namespace
//! (RFC 9990's `urn:ietf:params:xml:ns:dmarc-2.0`, or none) it is in.
//!
//! `quick-xml` expands only the five predefined entities and character references: a
//! document type's entities (external ones included) are never read.

use crate::read::domain::normalize;
use crate::read::keyword::keyword_enum;
use quick_xml::events::Event;

keyword_enum! {
    /// What the receiver did with the messages (`policy_evaluated/disposition`).
    pub enum Disposition {
        None = "none",
        Quarantine = "quarantine",
        Reject = "reject",
        /// RFC 9990: the messages passed DMARC.
        Pass = "pass",
    } else Unknown(str::to_ascii_lowercase)
}

keyword_enum! {
    /// DMARC's view of DKIM or SPF for the row (`policy_evaluated/dkim|spf`).
    pub enum Evaluated {
        Pass = "pass",
        Fail = "fail",
    } else Unknown(str::to_ascii_lowercase)
}

keyword_enum! {
    /// A raw DKIM or SPF result (`auth_results/*/result`); SPF's `hardfail` is `fail`.
    pub enum AuthResult {
        None = "none",
        Pass = "pass",
        Fail = "fail" | "hardfail",
        SoftFail = "softfail",
        Neutral = "neutral",
        Policy = "policy",
        TempError = "temperror",
        PermError = "permerror",
    } else Unknown(str::to_ascii_lowercase)
}

keyword_enum! {
    /// Why the receiver applied another disposition than the policy's.
    pub enum OverrideType {
        Forwarded = "forwarded",
        SampledOut = "sampled_out",
        TrustedForwarder = "trusted_forwarder",
        MailingList = "mailing_list",
        LocalPolicy = "local_policy",
        Other = "other",
        /// RFC 9990: `t=y`, the policy was only being tested.
        PolicyTestMode = "policy_test_mode",
    } else Unknown(str::to_ascii_lowercase)
}

/// The open keywords of a report, read the one way.
trait Keyword: Sized {
    fn read(text: &str) -> Self;
    fn known(&self) -> bool;
}

macro_rules! keyword {
    ($($name:ident),+) => {$(
        impl Keyword for $name {
            fn read(text: &str) -> Self {
                Self::from_text(text)
            }
            fn known(&self) -> bool {
                self.is_known()
            }
        }
    )+};
}

keyword!(Disposition, Evaluated, AuthResult, OverrideType);

/// Which schema the report follows: RFC 9990's by its namespace or by a field only it has
/// (many reporters send those without the namespace), else RFC 7489's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    #[default]
    Rfc7489,
    Rfc9990,
}

/// The policy the receiver found published (`policy_published`), as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyPublished {
    /// Lower case.
    pub domain: Option<String>,
    pub adkim: Option<String>,
    pub aspf: Option<String>,
    pub p: Option<String>,
    pub sp: Option<String>,
    pub np: Option<String>,
    pub pct: Option<u8>,
    /// RFC 9990 `t=y`.
    pub testing: bool,
    pub discovery_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub kind: Option<OverrideType>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DkimAuth {
    pub domain: Option<String>,
    pub selector: Option<String>,
    pub result: Option<AuthResult>,
    pub human_result: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpfAuth {
    pub domain: Option<String>,
    /// `mfrom` or `helo`; many reporters leave it out.
    pub scope: Option<String>,
    pub result: Option<AuthResult>,
}

/// One `<record>`: messages from one source with the same results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub source_ip: Option<String>,
    /// `None` when the count is missing or not a number (listed as an unknown value).
    pub count: Option<u64>,
    pub disposition: Option<Disposition>,
    pub dkim: Option<Evaluated>,
    pub spf: Option<Evaluated>,
    pub reasons: Vec<Reason>,
    pub header_from: Option<String>,
    pub envelope_from: Option<String>,
    pub envelope_to: Option<String>,
    pub dkim_results: Vec<DkimAuth>,
    pub spf_results: Vec<SpfAuth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AggregateReport {
    pub schema: Schema,
    pub org_name: Option<String>,
    pub email: Option<String>,
    pub report_id: Option<String>,
    /// Unix seconds.
    pub begin: Option<u64>,
    pub end: Option<u64>,
    pub generator: Option<String>,
    pub policy: PolicyPublished,
    /// Filled by [`parse`]; a streamed read ([`read`]) hands the rows over instead.
    pub rows: Vec<Row>,
    /// Values this version does not know, as `what "value"`: kept, counted, never judged.
    pub unknown_values: Vec<String>,
    /// Bytes that were not UTF-8 were replaced (U+FFFD).
    pub lossy: bool,
}

/// Why a document is not a DMARC aggregate report, or not a whole one.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    #[error("XML does not parse at byte {position}: {reason}")]
    Xml { position: u64, reason: String },
    #[error("no <feedback> element: not a DMARC aggregate report")]
    NoFeedback,
    #[error("no policy_published/domain: the report does not say which domain it is about")]
    NoPolicyDomain,
    /// The document ends inside `<feedback>`: cut short in transit or in storage. Its rows
    /// are not all there, so none of it is counted.
    #[error("the report ends before </feedback> (after {rows} record(s)): it was cut short")]
    Truncated { rows: u64 },
    #[error("elements nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// A bound on work: a report is made of its own elements, and a few extensions.
    #[error("more than {MAX_OTHER_ELEMENTS} elements a DMARC report does not have")]
    TooManyOtherElements,
    #[error("a value or tag longer than {} KiB", MAX_VALUE / 1024)]
    ValueTooLong,
    #[error("{0}")]
    Io(std::sync::Arc<std::io::Error>),
}

/// How far [`read`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Up to the first `<record>`: the metadata and the published policy.
    FirstRecord,
    /// To the end, every row handed over as it is read.
    End,
}

/// How deep elements may nest: a report is 7 deep, a wrapper or two around it.
const MAX_DEPTH: usize = 256;
/// Elements a report does not have (extensions, wrappers) read before giving up.
const MAX_OTHER_ELEMENTS: u64 = 100_000;
/// How long one value or tag may be (bytes between two `<`): a bound on the buffers.
const MAX_VALUE: u64 = 1024 * 1024;
/// How long a stranger's text value is kept (a name, an id, a comment).
const TEXT_LIMIT: usize = 256;
/// Raw results and override reasons kept per row: receivers write one or two.
const RESULTS_PER_ROW: usize = 16;
/// A source IP as written (an address is at most 45 characters).
const SOURCE_IP_LIMIT: usize = 64;
/// Unknown values listed per report; past it, one line says that more were left out.
const UNKNOWN_LISTED: usize = 32;

/// Reads one aggregate report from its XML text, rows and all.
pub fn parse(xml: &str) -> Result<AggregateReport, AggregateError> {
    let mut rows = Vec::new();
    let mut report = read_slice(xml.as_bytes(), Until::End, |_, row| rows.push(row))?;
    report.rows = rows;
    Ok(report)
}

/// Reads one aggregate report from a stream, handing each row to `on_row` as it is read
/// with the report as read so far (its metadata and policy come before its records; the
/// returned report's `rows` stay empty): memory does not grow with the report. The
/// text's encoding is its byte-order mark's, else its declaration's, else UTF-8 (invalid
/// bytes replaced, and [`AggregateReport::lossy`] set).
pub fn read(
    reader: &mut dyn std::io::Read,
    until: Until,
    on_row: impl FnMut(&AggregateReport, Row),
) -> Result<AggregateReport, AggregateError> {
    let io = |e: std::io::Error| AggregateError::Io(std::sync::Arc::new(e));
    let mut buffered = std::io::BufReader::with_capacity(
        64 * 1024,
        MarkupGap {
            inner: reader,
            since_markup: 0,
        },
    );
    let head = std::io::BufRead::fill_buf(&mut buffered).map_err(io)?;
    let encoding = encoding_rs::Encoding::for_bom(head)
        .map(|(encoding, _)| encoding)
        .or_else(|| declared_encoding(head))
        .filter(|e| *e != encoding_rs::UTF_8);
    match encoding {
        Some(encoding) => {
            let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .build(buffered);
            let mut buffered = std::io::BufReader::with_capacity(64 * 1024, decoded);
            read_utf8(&mut buffered, until, on_row)
        }
        None => read_utf8(&mut buffered, until, on_row),
    }
}

/// Reads one aggregate report from UTF-8 text in memory, each row handed to `on_row` as
/// [`read`] does: without copying, as its events borrow the text.
pub fn read_slice(
    xml: &[u8],
    until: Until,
    on_row: impl FnMut(&AggregateReport, Row),
) -> Result<AggregateReport, AggregateError> {
    let encoded = encoding_rs::Encoding::for_bom(xml)
        .map(|(encoding, _)| encoding)
        .or_else(|| declared_encoding(xml))
        .is_some_and(|e| e != encoding_rs::UTF_8);
    if encoded {
        return read(&mut &xml[..], until, on_row);
    }
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = false;
    // Checked as UTF-8 once, whole (much faster than value by value); invalid, each value is.
    let whole = std::str::from_utf8(xml).ok();
    events(&mut InMemory(reader), whole, until, on_row)
}

/// `piece` as text when it lies within `document`, text already checked: not checked again.
/// (A piece whose bytes lie within the document's is a part of it: no two things share
/// memory.)
fn within<'d>(document: Option<&'d str>, piece: &[u8]) -> Option<&'d str> {
    let document = document?;
    let start = (piece.as_ptr() as usize).checked_sub(document.as_ptr() as usize)?;
    document.get(start..start.checked_add(piece.len())?)
}

/// Where the XML events come from: a stream read through a buffer, or text in memory.
trait Events {
    fn next_event(&mut self) -> Result<Event<'_>, quick_xml::Error>;
    fn error_position(&self) -> u64;
}

struct Streamed<'r> {
    reader: quick_xml::Reader<&'r mut dyn std::io::BufRead>,
    buf: Vec<u8>,
}

impl Events for Streamed<'_> {
    fn next_event(&mut self) -> Result<Event<'_>, quick_xml::Error> {
        self.buf.clear();
        self.reader.read_event_into(&mut self.buf)
    }
    fn error_position(&self) -> u64 {
        self.reader.error_position()
    }
}

struct InMemory<'a>(quick_xml::Reader<&'a [u8]>);

impl Events for InMemory<'_> {
    fn next_event(&mut self) -> Result<Event<'_>, quick_xml::Error> {
        self.0.read_event()
    }
    fn error_position(&self) -> u64 {
        self.0.error_position()
    }
}

fn read_utf8(
    reader: &mut dyn std::io::BufRead,
    until: Until,
    on_row: impl FnMut(&AggregateReport, Row),
) -> Result<AggregateReport, AggregateError> {
    let mut reader = quick_xml::Reader::from_reader(reader);
    // A stray unclosed wrapper (`<xs:schema>` around `<feedback>`) must not end the read.
    reader.config_mut().check_end_names = false;
    events(
        &mut Streamed {
            reader,
            buf: Vec::new(),
        },
        None,
        until,
        on_row,
    )
}

/// The one reading of a report's events; `whole` is the document's text when it is in memory
/// and valid UTF-8.
fn events(
    source: &mut impl Events,
    whole: Option<&str>,
    until: Until,
    mut on_row: impl FnMut(&AggregateReport, Row),
) -> Result<AggregateReport, AggregateError> {
    let mut builder = Builder::default();
    let mut others = 0u64;
    let mut other = |name: El| {
        others += u64::from(name == El::Other);
        if others > MAX_OTHER_ELEMENTS {
            Err(AggregateError::TooManyOtherElements)
        } else {
            Ok(())
        }
    };
    let mut path: Vec<El> = Vec::new();
    let mut text = String::new();
    loop {
        let event = match source.next_event() {
            Ok(event) => event,
            Err(quick_xml::Error::Io(io)) if MarkupGap::is_ours(&io) => {
                return Err(AggregateError::ValueTooLong);
            }
            Err(quick_xml::Error::Io(io)) => return Err(AggregateError::Io(io)),
            Err(other) => {
                return Err(AggregateError::Xml {
                    position: source.error_position(),
                    reason: other.to_string(),
                });
            }
        };
        match event {
            Event::Start(start) => {
                let name = local_name(start.name().as_ref());
                other(name)?;
                if name == El::Feedback && builder.feedback_at.is_none() {
                    builder.feedback_at = Some(path.len());
                    builder.feedback_seen = true;
                    builder.namespaced |= start
                        .attributes()
                        .flatten()
                        .any(|a| a.value.as_ref() == b"urn:ietf:params:xml:ns:dmarc-2.0");
                }
                if path.len() >= MAX_DEPTH {
                    return Err(AggregateError::TooDeep);
                }
                path.push(name);
                text.clear();
                if until == Until::FirstRecord
                    && below_feedback(&path, builder.feedback_at) == Some(&[El::Record])
                {
                    return builder.finish();
                }
                builder.open(&path);
            }
            Event::Empty(empty) => {
                // `<feedback/>`: a report with nothing in it (refused below: no domain).
                let name = local_name(empty.name().as_ref());
                other(name)?;
                builder.feedback_seen |= name == El::Feedback;
                path.push(name);
                builder.open(&path);
                builder.close(&path, "", &mut on_row);
                path.pop();
            }
            // The indentation between elements is most of a report's text: skipped unread
            // (values are trimmed anyway), and values taken as they are, without the line-end
            // normalization that would copy each one.
            Event::Text(t) if text.is_empty() && t.iter().all(u8::is_ascii_whitespace) => {}
            Event::Text(t) => match within(whole, &t).map_or_else(|| std::str::from_utf8(&t), Ok) {
                Ok(content) => text.push_str(content),
                Err(_) => {
                    builder.lossy = true;
                    text.push_str(&String::from_utf8_lossy(&t));
                }
            },
            Event::GeneralRef(r) => {
                // `&amp;` and friends, and character references, inside a value.
                match r.resolve_char_ref() {
                    Ok(Some(c)) => text.push(c),
                    _ => match r.decode().ok().as_deref() {
                        Some("amp") => text.push('&'),
                        Some("lt") => text.push('<'),
                        Some("gt") => text.push('>'),
                        Some("quot") => text.push('"'),
                        Some("apos") => text.push('\''),
                        _ => {}
                    },
                }
            }
            Event::CData(c) => text.push_str(&String::from_utf8_lossy(&c)),
            Event::End(end) => {
                // Recovery as browsers do it: an end tag closes the innermost open element
                // of its name, and any left open inside it (`<email><a@b.example></email>`);
                // one matching nothing open is ignored.
                // Nearly always the innermost open element, as written: no lookup then. The
                // name as written is compared before its prefix is looked for (nearly every end
                // tag has none, and looking costs more than the comparison).
                let written = end.name();
                let written = written.as_ref();
                let name = match path.last() {
                    Some(open)
                        if open.name().as_bytes() == written
                            || open.name().as_bytes() == local_part(written) =>
                    {
                        *open
                    }
                    _ => local_name(written),
                };
                // Looked for among the innermost few only: recovery is for a value's stray
                // tag, and a deep search per end tag would make deep documents quadratic.
                let open = path
                    .iter()
                    .rev()
                    .take(RECOVERY_DEPTH)
                    .position(|open| *open == name);
                if let Some(from_top) = open {
                    path.truncate(path.len() - from_top);
                    // Trimmed of XML's white space, which is ASCII (XML 1.0 §2.3).
                    builder.close(&path, text.trim_ascii(), &mut on_row);
                    path.pop();
                    if builder.feedback_at == Some(path.len()) {
                        builder.feedback_at = None;
                        builder.feedback_closed = true;
                    }
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        // A value is gathered from its pieces (text, references, CDATA): bounded as a whole.
        if text.len() as u64 > MAX_VALUE {
            return Err(AggregateError::ValueTooLong);
        }
    }
    if builder.feedback_at.is_some() {
        return Err(AggregateError::Truncated {
            rows: builder.rows_read,
        });
    }
    builder.finish()
}

/// A reader that fails when more than [`MAX_VALUE`] bytes pass without a `<`: the XML
/// reader buffers one event (a value, a tag) at a time, and this bounds that buffer. It looks
/// at each chunk once, as the chunk is read (a `<` is one byte in UTF-16 too).
struct MarkupGap<R> {
    inner: R,
    since_markup: u64,
}

/// The error [`MarkupGap`] ends a read with.
#[derive(Debug, thiserror::Error)]
#[error("a value or tag longer than the limit")]
struct ValueTooLong;

impl MarkupGap<()> {
    fn is_ours(error: &std::io::Error) -> bool {
        error
            .get_ref()
            .is_some_and(|e| e.downcast_ref::<ValueTooLong>().is_some())
    }
}

impl<R: std::io::Read> std::io::Read for MarkupGap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        self.since_markup = match memchr::memrchr(b'<', chunk) {
            Some(at) => (n - at) as u64,
            None => self.since_markup + n as u64,
        };
        if self.since_markup > MAX_VALUE {
            return Err(std::io::Error::other(ValueTooLong));
        }
        Ok(n)
    }
}

macro_rules! elements {
    ($($variant:ident = $name:literal,)*) => {
        /// The elements a report has: the path is kept as these, so reading an element
        /// allocates nothing and matching a path compares numbers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum El {
            $($variant,)*
            /// Any element the report does not have.
            Other,
        }

        /// Each element by its name.
        const ELEMENTS: &[(&str, El)] = &[$(($name, El::$variant),)*];
    };
}

/// Where a name's search in [`BY_NAME`] starts: its length and first and last bytes, which
/// set the report's names nearly all apart.
const fn slot(name: &[u8]) -> usize {
    let (first, last) = match name {
        [first, .., last] => (*first as usize, *last as usize),
        [only] => (*only as usize, *only as usize),
        [] => (0, 0),
    };
    (name.len().wrapping_mul(31) ^ first.wrapping_mul(7) ^ last.wrapping_mul(131)) % SLOTS
}

const SLOTS: usize = 128;
const EMPTY: u8 = u8::MAX;

/// [`ELEMENTS`]' indexes in a small open-addressed table, made at compile time: a start tag's
/// name is found with one hash and, nearly always, one comparison. It runs for every start
/// tag of every report, where matching the names one after another was a tenth of the reading.
const BY_NAME: [u8; SLOTS] = {
    // Room left empty (the search ends), and every index fits below EMPTY.
    assert!(ELEMENTS.len() < SLOTS / 2 && ELEMENTS.len() < EMPTY as usize);
    let mut table = [EMPTY; SLOTS];
    let mut index = 0;
    while index < ELEMENTS.len() {
        let mut at = slot(ELEMENTS[index].0.as_bytes());
        while table[at] != EMPTY {
            at = (at + 1) % SLOTS;
        }
        table[at] = index as u8;
        index += 1;
    }
    table
};

/// The element of a name as written (lower case).
fn exact(local: &[u8]) -> Option<El> {
    let mut at = slot(local);
    // The table has empty slots, and EMPTY is past every index of ELEMENTS: the search ends.
    loop {
        let (name, element) = ELEMENTS.get(usize::from(BY_NAME[at]))?;
        if name.as_bytes() == local {
            return Some(*element);
        }
        at = (at + 1) % SLOTS;
    }
}

elements! {
    Feedback = "feedback",
    Version = "version",
    ReportMetadata = "report_metadata",
    OrgName = "org_name",
    Email = "email",
    ExtraContactInfo = "extra_contact_info",
    ReportId = "report_id",
    DateRange = "date_range",
    Begin = "begin",
    End = "end",
    Error = "error",
    Generator = "generator",
    PolicyPublished = "policy_published",
    Domain = "domain",
    Adkim = "adkim",
    Aspf = "aspf",
    P = "p",
    Sp = "sp",
    Np = "np",
    Pct = "pct",
    Fo = "fo",
    Testing = "testing",
    DiscoveryMethod = "discovery_method",
    Record = "record",
    Row = "row",
    SourceIp = "source_ip",
    Count = "count",
    PolicyEvaluated = "policy_evaluated",
    Disposition = "disposition",
    Dkim = "dkim",
    Spf = "spf",
    Reason = "reason",
    Type = "type",
    Comment = "comment",
    Identifiers = "identifiers",
    EnvelopeTo = "envelope_to",
    EnvelopeFrom = "envelope_from",
    HeaderFrom = "header_from",
    AuthResults = "auth_results",
    Selector = "selector",
    Result = "result",
    HumanResult = "human_result",
    Scope = "scope",
    Extension = "extension",
}

/// An element's name without its namespace prefix.
fn local_part(name: &[u8]) -> &[u8] {
    name.iter()
        .rposition(|b| *b == b':')
        .map_or(name, |colon| &name[colon + 1..])
}

/// An element's name without its namespace prefix, as one of [`ELEMENTS`] (any case).
fn local_name(name: &[u8]) -> El {
    // This runs for every start tag: the name as written first (the usual case: no prefix,
    // lower case), then without its prefix, and only then among the names of its length in
    // any case.
    if let Some(element) = exact(name) {
        return element;
    }
    let local = local_part(name);
    if local.len() < name.len()
        && let Some(element) = exact(local)
    {
        return element;
    }
    BY_LENGTH
        .get(local.len())
        .and_then(|names| {
            names
                .iter()
                .find(|(known, _)| known.as_bytes().eq_ignore_ascii_case(local))
        })
        .map_or(El::Other, |(_, element)| *element)
}

/// [`ELEMENTS`] by the length of their names.
static BY_LENGTH: std::sync::LazyLock<Vec<Vec<(&'static str, El)>>> =
    std::sync::LazyLock::new(|| {
        let longest = ELEMENTS
            .iter()
            .map(|(name, _)| name.len())
            .max()
            .unwrap_or(0);
        let mut by_length = vec![Vec::new(); longest + 1];
        for (name, element) in ELEMENTS {
            by_length[name.len()].push((*name, *element));
        }
        by_length
    });

/// How many open elements an end tag may close at once (see `parse`).
const RECOVERY_DEPTH: usize = 8;

impl El {
    /// Its name: [`ELEMENTS`] lists the elements in their declared order.
    fn name(self) -> &'static str {
        ELEMENTS.get(self as usize).map_or("?", |(name, _)| name)
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

/// The deepest path below `<feedback>` the report has (`record/row/policy_evaluated/reason/type`).
const DEEPEST: usize = 5;

#[derive(Default)]
struct Builder {
    feedback_seen: bool,
    feedback_closed: bool,
    rows_read: u64,
    lossy: bool,
    /// Where `<feedback>` is in the path, while it is open.
    feedback_at: Option<usize>,
    namespaced: bool,
    rfc9990_fields: bool,
    /// The report as read so far (its rows are handed over, not kept).
    head: AggregateReport,
    row: Row,
    reason: Option<Reason>,
    dkim: DkimAuth,
    spf: SpfAuth,
}

/// The path below `<feedback>` (open at `at`); `None` outside it, or deeper than any element
/// the report has.
fn below_feedback(path: &[El], at: Option<usize>) -> Option<&[El]> {
    let below = path.get(at? + 1..)?;
    (below.len() <= DEEPEST).then_some(below)
}

/// A stranger's text value, bounded and cleaned ([`crate::read::text::bounded`]).
fn text(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| crate::read::text::bounded(value, TEXT_LIMIT))
}

impl Builder {
    fn open(&mut self, path: &[El]) {
        match below_feedback(path, self.feedback_at) {
            Some([El::Record]) => self.row = Row::default(),
            Some([El::Record, El::Row, El::PolicyEvaluated, El::Reason]) => {
                self.reason = Some(Reason {
                    kind: None,
                    comment: None,
                });
            }
            Some([El::Record, El::AuthResults, El::Dkim]) => self.dkim = DkimAuth::default(),
            Some([El::Record, El::AuthResults, El::Spf]) => self.spf = SpfAuth::default(),
            _ => {}
        }
    }

    fn close(&mut self, path: &[El], value: &str, on_row: &mut impl FnMut(&AggregateReport, Row)) {
        let Some(below) = below_feedback(path, self.feedback_at) else {
            return;
        };
        match below {
            [El::ReportMetadata, El::OrgName] => self.head.org_name = text(value),
            [El::ReportMetadata, El::Email] => self.head.email = text(value),
            [El::ReportMetadata, El::ReportId] => self.head.report_id = text(value),
            [El::ReportMetadata, El::DateRange, El::Begin] => {
                self.head.begin = self.seconds("begin", value);
            }
            [El::ReportMetadata, El::DateRange, El::End] => {
                self.head.end = self.seconds("end", value);
            }
            [El::ReportMetadata, El::Generator] => {
                self.rfc9990_fields |= !value.is_empty();
                self.head.generator = text(value);
            }
            [El::PolicyPublished, field] => self.policy_field(*field, value),
            [El::Record] => {
                self.rows_read += 1;
                on_row(&self.head, std::mem::take(&mut self.row));
            }
            [El::Record, El::Row, El::SourceIp] => {
                self.row.source_ip =
                    (!value.is_empty()).then(|| crate::read::text::bounded(value, SOURCE_IP_LIMIT));
            }
            [El::Record, El::Row, El::Count] => {
                self.row.count = value.parse().ok();
                if self.row.count.is_none() {
                    self.note_unknown(&format!("row count {value:?}"));
                }
            }
            [El::Record, El::Row, El::PolicyEvaluated, El::Disposition] => {
                self.row.disposition = self.keyword("disposition", value);
            }
            [El::Record, El::Row, El::PolicyEvaluated, El::Dkim] => {
                self.row.dkim = self.keyword("policy_evaluated dkim", value);
            }
            [El::Record, El::Row, El::PolicyEvaluated, El::Spf] => {
                self.row.spf = self.keyword("policy_evaluated spf", value);
            }
            [
                El::Record,
                El::Row,
                El::PolicyEvaluated,
                El::Reason,
                El::Type,
            ] => {
                let kind = self.keyword("override type", value);
                if let Some(reason) = &mut self.reason {
                    reason.kind = kind;
                }
            }
            [
                El::Record,
                El::Row,
                El::PolicyEvaluated,
                El::Reason,
                El::Comment,
            ] => {
                if let Some(reason) = &mut self.reason {
                    reason.comment = text(value);
                }
            }
            [El::Record, El::Row, El::PolicyEvaluated, El::Reason] => {
                // An empty reason (no type, no comment) says nothing.
                if let Some(reason) = self.reason.take()
                    && (reason.kind.is_some() || reason.comment.is_some())
                    && self.row.reasons.len() < RESULTS_PER_ROW
                {
                    self.row.reasons.push(reason);
                }
            }
            [El::Record, El::Identifiers, El::HeaderFrom] => {
                self.row.header_from = normalize(value);
            }
            [El::Record, El::Identifiers, El::EnvelopeFrom] => {
                self.row.envelope_from = normalize(value);
            }
            [El::Record, El::Identifiers, El::EnvelopeTo] => {
                self.row.envelope_to = normalize(value);
            }
            [El::Record, El::AuthResults, El::Dkim, El::Domain] => {
                self.dkim.domain = normalize(value);
            }
            [El::Record, El::AuthResults, El::Dkim, El::Selector] => {
                self.dkim.selector = text(value);
            }
            [El::Record, El::AuthResults, El::Dkim, El::Result] => {
                self.dkim.result = self.keyword("dkim result", value);
            }
            [El::Record, El::AuthResults, El::Dkim, El::HumanResult] => {
                // An empty element says nothing of the schema (older drafts wrote one).
                self.rfc9990_fields |= !value.is_empty();
                self.dkim.human_result = text(value);
            }
            [El::Record, El::AuthResults, El::Dkim] => {
                let dkim = std::mem::take(&mut self.dkim);
                if self.row.dkim_results.len() < RESULTS_PER_ROW {
                    self.row.dkim_results.push(dkim);
                }
            }
            [El::Record, El::AuthResults, El::Spf, El::Domain] => {
                self.spf.domain = normalize(value);
            }
            [El::Record, El::AuthResults, El::Spf, El::Scope] => self.spf.scope = text(value),
            [El::Record, El::AuthResults, El::Spf, El::Result] => {
                self.spf.result = self.keyword("spf result", value);
            }
            [El::Record, El::AuthResults, El::Spf] => {
                let spf = std::mem::take(&mut self.spf);
                if self.row.spf_results.len() < RESULTS_PER_ROW {
                    self.row.spf_results.push(spf);
                }
            }
            _ => {}
        }
    }

    /// Lists a value this version does not know, up to [`UNKNOWN_LISTED`] of them.
    fn note_unknown(&mut self, what: &str) {
        match self.head.unknown_values.len() {
            n if n < UNKNOWN_LISTED => {
                self.head
                    .unknown_values
                    .push(crate::read::text::bounded(what, TEXT_LIMIT));
            }
            n if n == UNKNOWN_LISTED => {
                self.head
                    .unknown_values
                    .push("(more not listed)".to_owned());
            }
            _ => {}
        }
    }

    fn policy_field(&mut self, field: El, value: &str) {
        let policy = &mut self.head.policy;
        match field {
            El::Domain => policy.domain = normalize(value),
            El::Adkim => policy.adkim = text(value),
            El::Aspf => policy.aspf = text(value),
            El::P => policy.p = text(value),
            El::Sp => policy.sp = text(value),
            El::Np => {
                self.rfc9990_fields |= !value.is_empty();
                policy.np = text(value);
            }
            El::Pct => {
                policy.pct = value.parse().ok().filter(|pct| *pct <= 100);
                if policy.pct.is_none() && !value.is_empty() {
                    self.note_unknown(&format!("pct {value:?}"));
                }
            }
            El::Testing => {
                self.rfc9990_fields |= !value.is_empty();
                policy.testing = value.eq_ignore_ascii_case("y");
            }
            El::DiscoveryMethod => {
                self.rfc9990_fields |= !value.is_empty();
                policy.discovery_method = text(value);
            }
            _ => {}
        }
    }

    /// A Unix time; some reporters write it as a decimal (`1538204542.0`).
    fn seconds(&mut self, what: &str, value: &str) -> Option<u64> {
        let parsed = value.parse::<u64>().ok().or_else(|| {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v as u64)
        });
        if parsed.is_none() {
            self.note_unknown(&format!("date_range {what} {value:?}"));
        }
        parsed
    }

    /// An open keyword: an empty value is absent; an unknown one is kept and listed.
    fn keyword<K: Keyword>(&mut self, what: &str, value: &str) -> Option<K> {
        if value.is_empty() {
            return None;
        }
        let keyword = K::read(value);
        if !keyword.known() {
            self.note_unknown(&format!("{what} {value:?}"));
        }
        Some(keyword)
    }

    fn finish(self) -> Result<AggregateReport, AggregateError> {
        if !self.feedback_seen {
            return Err(AggregateError::NoFeedback);
        }
        if self.head.policy.domain.is_none() {
            return Err(AggregateError::NoPolicyDomain);
        }
        Ok(AggregateReport {
            schema: if self.namespaced || self.rfc9990_fields {
                Schema::Rfc9990
            } else {
                Schema::Rfc7489
            },
            lossy: self.lossy,
            ..self.head
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_is_known_by_its_name_in_any_case_and_namespace() {
        for (name, element) in ELEMENTS {
            let upper = name.to_ascii_uppercase();
            let spellings = [
                name.to_string(),
                format!("dmarc:{name}"),
                upper.clone(),
                format!("x:y:{upper}"),
            ];
            for spelling in spellings {
                assert_eq!(local_name(spelling.as_bytes()), *element, "{spelling}");
            }
        }
        for stranger in ["", ":", "feedbacks", "recor", "dmarc:", "xs:schema", "é"] {
            assert_eq!(local_name(stranger.as_bytes()), El::Other, "{stranger:?}");
        }
    }

    /// One record's row and results, inside a report for example.com.
    fn record(row: &str, results: &str) -> String {
        format!(
            "<feedback><report_metadata><org_name>rx</org_name><report_id>1</report_id>\
             </report_metadata><policy_published><domain>Example.COM</domain><p>reject</p>\
             </policy_published><record><row><source_ip>192.0.2.1</source_ip>{row}</row>\
             <identifiers><header_from>example.com</header_from></identifiers>\
             <auth_results>{results}</auth_results></record></feedback>"
        )
    }

    #[test]
    fn values_are_read_as_receivers_write_them() {
        // (case, row, auth results, what is read: count, DKIM evaluated, SPF result, unknown values)
        type Case = (
            &'static str,
            &'static str,
            &'static str,
            Option<u64>,
            Option<Evaluated>,
            Option<AuthResult>,
            usize,
        );
        let cases: [Case; 7] = [
            (
                "plain",
                "<count>3</count><policy_evaluated><dkim>pass</dkim></policy_evaluated>",
                "<spf><domain>example.com</domain><result>pass</result></spf>",
                Some(3),
                Some(Evaluated::Pass),
                Some(AuthResult::Pass),
                0,
            ),
            (
                "capitalized Pass is a pass",
                "<count>3</count><policy_evaluated><dkim>Pass</dkim></policy_evaluated>",
                "<spf><domain>example.com</domain><result>Pass</result></spf>",
                Some(3),
                Some(Evaluated::Pass),
                Some(AuthResult::Pass),
                0,
            ),
            (
                "SPF hardfail is a fail",
                "<count>1</count>",
                "<spf><domain>example.com</domain><result>hardfail</result></spf>",
                Some(1),
                None,
                Some(AuthResult::Fail),
                0,
            ),
            (
                "a count that is not a number is unknown, never zero, and listed",
                "<count>many</count>",
                "",
                None,
                None,
                None,
                1,
            ),
            (
                "XML's white space around a value is trimmed",
                "<count>\n\t 3 \r\n</count>",
                "",
                Some(3),
                None,
                None,
                0,
            ),
            (
                "a no-break space is not XML's white space: the count is unknown",
                "<count>\u{a0}3</count>",
                "",
                None,
                None,
                None,
                1,
            ),
            (
                "an unknown result is kept and listed",
                "<count>2</count>",
                "<spf><domain>example.com</domain><result>maybe</result></spf>",
                Some(2),
                None,
                Some(AuthResult::Unknown("maybe".into())),
                1,
            ),
        ];
        for (case, row, results, count, dkim, spf, unknown) in cases {
            let report = parse(&record(row, results)).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(
                report.policy.domain.as_deref(),
                Some("example.com"),
                "{case}"
            );
            let row = &report.rows[0];
            assert_eq!(row.count, count, "{case}");
            assert_eq!(row.dkim, dkim, "{case}");
            assert_eq!(
                row.spf_results.first().and_then(|r| r.result.clone()),
                spf,
                "{case}"
            );
            assert_eq!(
                report.unknown_values.len(),
                unknown,
                "{case}: {:?}",
                report.unknown_values
            );
        }
    }

    #[test]
    fn a_piece_is_taken_from_the_checked_document_only_when_it_lies_within_it() {
        let document = "<org_name>Bücher AG</org_name>";
        let bytes = document.as_bytes();
        let elsewhere = b"B\xc3\xbccher AG".to_vec();
        // (case, document, piece, what is taken)
        type Case<'a> = (&'a str, Option<&'a str>, &'a [u8], Option<&'a str>);
        let cases: [Case<'_>; 5] = [
            (
                "a value within",
                Some(document),
                &bytes[10..20],
                Some("Bücher AG"),
            ),
            ("the same bytes elsewhere", Some(document), &elsewhere, None),
            ("no checked document", None, &bytes[10..20], None),
            (
                "cut inside a character",
                Some(document),
                &bytes[10..12],
                None,
            ),
            ("the whole", Some(document), bytes, Some(document)),
        ];
        for (case, document, piece, expected) in cases {
            assert_eq!(within(document, piece), expected, "{case}");
        }
    }

    #[test]
    fn what_is_not_a_report_says_why() {
        assert!(matches!(
            parse("<html></html>"),
            Err(AggregateError::NoFeedback)
        ));
        let no_domain =
            "<feedback><report_metadata><org_name>rx</org_name></report_metadata></feedback>";
        assert!(matches!(
            parse(no_domain),
            Err(AggregateError::NoPolicyDomain)
        ));
    }
}
