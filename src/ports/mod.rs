//! The ports: the small traits the core reaches DNS, SES and the outside world through, each
//! with its offline or in-memory implementation. The real implementations live in `edge`
//! and in the `lambda/` package. Ports speak `read`'s and `judge`'s types, never `flow`'s.

pub mod audit_cursor;
pub mod clock;
pub mod directory;
pub mod dns;
pub mod facts;
pub mod incidents;
pub mod objects;
pub mod probes;
pub mod publisher;
pub mod raw;
pub mod rollups;
pub mod rows;
pub mod scope;
pub mod sender;
pub mod sink;
pub mod state;

use std::error::Error;

/// What an adapter reports as the cause of a failure: kept whole, for the log and for the
/// Lambda failure destination.
pub type Cause = Box<dyn Error + Send + Sync + 'static>;

/// An error and its causes on one line, `outer: inner: innermost`. A cause whose text the
/// line already holds (an error that prints its source itself) is not repeated.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner said {0}")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn chains_name_every_cause_once() {
        let io = std::io::Error::other("reset");
        let error = Outer(Inner(io));
        // Inner prints its cause already; it is not repeated.
        assert_eq!(chain(&error), "outer: inner said reset");
    }
}
