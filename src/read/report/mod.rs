//! Reports receivers send about a domain's mail: DMARC aggregate reports (RFC 9990) and
//! SMTP TLS reports (RFC 8460), read from whatever they arrive in.
//!
//! Owns the reading only: [`extract`] recognizes each input by its content (magic bytes,
//! MIME types; never a file name), unpacks gzip, zip and e-mail, and hands each document to
//! its parser (`aggregate`, `tls`). What the reports mean is `judge::report`'s.

pub mod aggregate;
pub mod container;
pub mod tls;

pub use container::{
    Document, DocumentKind, ExtractError, Extracted, Format, Limits, Opened, extract, open, sniff,
};

/// One report read from an input. Few per input, so the size difference between the two
/// does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Aggregate(aggregate::AggregateReport),
    TlsRpt(tls::TlsReport),
}
