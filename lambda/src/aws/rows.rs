//! Where report rows go ([`RowStore`]): one gzip NDJSON object per report in the report
//! bucket (`direct`), or every row to a Firehose stream that converts them to Parquet
//! (`firehose`). Each writes what it is handed; it decides nothing.

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use aws_sdk_s3::primitives::ByteStream;
use ses_dmarc_monitor::ports::rows::{NoRows, RowBatch, RowStore, RowsError};

/// Writes each report's rows as one object, `rows/dt=YYYY-MM-DD/<name>.json.gz`: a retry
/// writes the same key, replacing the object with the same rows.
#[derive(Debug, Clone)]
pub struct S3Rows {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Rows {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { client, bucket }
    }
}

impl RowStore for S3Rows {
    async fn put(&self, batch: &RowBatch) -> Result<(), RowsError> {
        let key = batch.object_key();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/gzip")
            .body(ByteStream::from(batch.ndjson_gzip.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| RowsError {
                key: format!("s3://{}/{key}", self.bucket),
                source: Box::new(error),
            })
    }
}

/// Firehose's limits on one `PutRecordBatch`: records, bytes, and bytes of one record.
const RECORDS_PER_CALL: usize = 500;
const BYTES_PER_CALL: usize = 4 * 1024 * 1024;
const BYTES_PER_RECORD: usize = 1_000 * 1024;
/// Calls for the records Firehose refused (throttled, or failed inside the service).
const ATTEMPTS: usize = 3;

/// Sends a report's rows packed into records of up to [`BYTES_PER_RECORD`], each row one
/// line: Firehose bills every record as at least 5 KB, and a row is a few hundred bytes. The
/// stream splits the records into rows again (`RecordDeAggregation`, JSON), takes each row's
/// `dt` for its partition, converts them to Parquet against the Glue table and buffers them
/// into large files under `rows/`.
#[derive(Debug, Clone)]
pub struct FirehoseRows {
    client: aws_sdk_firehose::Client,
    stream: String,
}

impl FirehoseRows {
    pub fn new(client: aws_sdk_firehose::Client, stream: String) -> Self {
        Self { client, stream }
    }

    async fn send(&self, mut records: Vec<Record>, key: &str) -> Result<(), RowsError> {
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| RowsError {
            key: format!("{key} (Firehose stream {})", self.stream),
            source,
        };
        for _ in 0..ATTEMPTS {
            let output = self
                .client
                .put_record_batch()
                .delivery_stream_name(&self.stream)
                .set_records(Some(records.clone()))
                .send()
                .await
                .map_err(|error| failed(Box::new(error)))?;
            if output.failed_put_count() == 0 {
                return Ok(());
            }
            // The answers are in the order of the records: resend those that carry an error.
            records = records
                .into_iter()
                .zip(output.request_responses())
                .filter(|(_, answer)| answer.error_code().is_some())
                .map(|(record, _)| record)
                .collect();
        }
        Err(failed(
            format!(
                "{} record(s) still refused after {ATTEMPTS} attempts",
                records.len()
            )
            .into(),
        ))
    }
}

impl RowStore for FirehoseRows {
    async fn put(&self, batch: &RowBatch) -> Result<(), RowsError> {
        let key = batch.object_key();
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| RowsError {
            key: key.clone(),
            source,
        };
        let record = |data: Vec<u8>| {
            Record::builder()
                .data(Blob::new(data))
                .build()
                .map_err(|error| failed(Box::new(error)))
        };
        let mut records = Vec::new();
        let mut call_bytes = 0;
        let mut packed: Vec<u8> = Vec::new();
        for line in batch.lines() {
            let line = line.map_err(|error| failed(Box::new(error)))?;
            if line.len() > BYTES_PER_RECORD {
                tracing::warn!(report = %key, bytes = line.len(), "a row larger than a Firehose record: left out");
                continue;
            }
            if packed.len() + line.len() <= BYTES_PER_RECORD {
                packed.extend_from_slice(&line);
                continue;
            }
            // The record is full: into the call, which goes when it is full in turn.
            if records.len() == RECORDS_PER_CALL || call_bytes + packed.len() > BYTES_PER_CALL {
                self.send(std::mem::take(&mut records), &key).await?;
                call_bytes = 0;
            }
            call_bytes += packed.len();
            records.push(record(std::mem::replace(&mut packed, line))?);
        }
        if !packed.is_empty() {
            if records.len() == RECORDS_PER_CALL || call_bytes + packed.len() > BYTES_PER_CALL {
                self.send(std::mem::take(&mut records), &key).await?;
            }
            records.push(record(packed)?);
        }
        if !records.is_empty() {
            self.send(records, &key).await?;
        }
        Ok(())
    }
}

/// The rows' destination `REPORT_ROWS` names.
#[derive(Debug, Clone)]
pub enum Rows {
    Off(NoRows),
    Direct(S3Rows),
    Firehose(FirehoseRows),
}

impl RowStore for Rows {
    async fn put(&self, batch: &RowBatch) -> Result<(), RowsError> {
        match self {
            Self::Off(none) => none.put(batch).await,
            Self::Direct(s3) => s3.put(batch).await,
            Self::Firehose(firehose) => firehose.put(batch).await,
        }
    }
}
