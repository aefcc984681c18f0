//! Where the reports function writes a believed, newly claimed report's rows
//! (the NDJSON of `say::rows`): one batch per report, named so that a retry of the same report
//! writes the same batch again, never a second one. The implementations are
//! `lambda::aws::rows` (an S3 object per report, or a Firehose stream); tests keep batches in
//! memory.

use crate::ports::{Cause, chain};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Mutex;

/// One report's rows: NDJSON, gzip-compressed (a large report's rows are held compressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowBatch {
    /// The partition, `YYYY-MM-DD`.
    pub day: String,
    /// The report's name in its partition: the same for every retry and re-sent copy.
    pub name: String,
    pub rows: u64,
    pub ndjson_gzip: Vec<u8>,
}

impl RowBatch {
    /// Where the batch is stored in the report bucket: `rows/dt=YYYY-MM-DD/NAME.json.gz`.
    pub fn object_key(&self) -> String {
        format!("rows/dt={}/{}.json.gz", self.day, self.name)
    }

    /// The rows as NDJSON lines (each with its line end), uncompressed one at a time.
    pub fn lines(&self) -> impl Iterator<Item = std::io::Result<Vec<u8>>> + '_ {
        let mut reader =
            std::io::BufReader::new(flate2::read::GzDecoder::new(self.ndjson_gzip.as_slice()));
        std::iter::from_fn(move || {
            let mut line = Vec::new();
            match std::io::BufRead::read_until(&mut reader, b'\n', &mut line) {
                Ok(0) => None,
                Ok(_) => Some(Ok(line)),
                Err(error) => Some(Err(error)),
            }
        })
    }

    /// The rows as one NDJSON text.
    pub fn ndjson(&self) -> std::io::Result<String> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(self.ndjson_gzip.as_slice()).read_to_string(&mut text)?;
        Ok(text)
    }
}

/// Why rows could not be written. Every such failure is worth a retry: the report's claim is
/// given back and the invocation fails.
#[derive(Debug, thiserror::Error)]
#[error("the rows of {key} could not be written: {}", chain(source.as_ref()))]
pub struct RowsError {
    pub key: String,
    #[source]
    pub source: Cause,
}

/// Writes a report's rows.
#[allow(async_fn_in_trait)]
pub trait RowStore {
    async fn put(&self, batch: &RowBatch) -> Result<(), RowsError>;
}

/// Rows are not kept (the CLI; an installation without a report bucket).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRows;

impl RowStore for NoRows {
    async fn put(&self, _: &RowBatch) -> Result<(), RowsError> {
        Ok(())
    }
}

/// Batches in memory by object key, as S3 keeps them (a second write replaces the first),
/// with how many writes there were: for tests and the benchmark.
#[derive(Debug, Default)]
pub struct MemoryRows {
    pub objects: Mutex<BTreeMap<String, RowBatch>>,
    pub writes: Mutex<u64>,
    /// Fail this many writes before succeeding.
    pub failing: Mutex<u64>,
}

impl RowStore for MemoryRows {
    async fn put(&self, batch: &RowBatch) -> Result<(), RowsError> {
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        if *failing > 0 {
            *failing -= 1;
            return Err(RowsError {
                key: batch.object_key(),
                source: "the store is unavailable".into(),
            });
        }
        *self.writes.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(batch.object_key(), batch.clone());
        Ok(())
    }
}

/// A batch's name in its partition: readable where it can be (the reporter and the report
/// id, reduced to characters safe in any S3 tool), and a hash of the whole identity so that
/// names that read alike never collide.
pub fn batch_name(reporter: &str, report_id: &str, domain: &str) -> String {
    let readable = |text: &str, most: usize| -> String {
        text.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .take(most)
            .collect()
    };
    let identity = format!("{reporter}\n{report_id}\n{domain}");
    format!(
        "{}_{}_{:016x}",
        readable(reporter, 64),
        readable(report_id, 64),
        fnv1a(identity.as_bytes())
    )
}

/// FNV-1a, 64 bits: stable across Rust versions and machines (the standard library's hasher
/// is not promised to be), which an object name needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_stable_and_distinct() {
        let name = batch_name("dmarc@google.com", "1234 5678/../x", "example.com");
        assert!(name.starts_with("dmarcgoogle.com_12345678..x_"), "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        );
        // The same identity, the same name; another that reads alike, another name.
        assert_eq!(
            name,
            batch_name("dmarc@google.com", "1234 5678/../x", "example.com")
        );
        assert_ne!(
            name,
            batch_name("dmarc@google.com", "12345678/../x", "example.com")
        );
        // FNV-1a's published test value for "a".
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
