//! Report rows at scale (issue 28): REPORTS generated report messages (a realistic size mix,
//! 300 domains, 40 reporters, 30 days), each through the reports flow as one Lambda
//! invocation (an EventBridge "Object Created" event), with in-memory objects, ledger, scope,
//! sink and rollups, and the real row destination of MODE (`direct`: the S3 adapter;
//! `firehose`: the Firehose adapter) over the SDK's mocking layer, which counts the calls and
//! the bytes they carry. Prints one JSON line: reports per second (the messages' generation
//! excluded), peak memory, DynamoDB, S3 and Firehose calls per report, bytes written per report.
//! `bench/rows.sh` runs both modes and writes bench/RESULTS.md's section.
//!
//! usage: cargo run --release --example rows_scale MODE [REPORTS]

use aws_sdk_firehose::operation::put_record_batch::PutRecordBatchOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use base64::Engine as _;
use ses_dmarc_monitor::flow::reports::{Clockwork, ReportPorts, ReportSettings, reports};
use ses_dmarc_monitor::judge::findings::{Finding, Kind};
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::ports::objects::{ObjectError, ObjectStore};
use ses_dmarc_monitor::ports::rollups::{Addition, DayRollups, MemoryRollups, Rollups};
use ses_dmarc_monitor::ports::scope::DomainList;
use ses_dmarc_monitor::ports::sink::{FindingSink, SinkError};
use ses_dmarc_monitor::ports::state::{
    Claim, FindingsQuota, LastSeen, MemoryLedger, ReportKey, ReportLedger, StateError,
};
use ses_dmarc_monitor_lambda::aws::rows::{FirehoseRows, Rows, S3Rows};
use std::collections::HashMap;
use std::io::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

const BUCKET: &str = "mail";
const DOMAINS: u64 = 300;
const REPORTERS: u64 = 40;
const DAY: u64 = 86_400;
/// 2026-11-01 00:00 UTC.
const FIRST_DAY: u64 = 1_793_491_200;
/// DynamoDB's batch sizes, as `lambda::aws::dynamodb` uses them.
const GET_BATCH: u64 = 100;
const WRITE_BATCH: u64 = 25;

/// A small, fixed pseudo-random sequence (splitmix64): the same reports every run.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// How many records report `i` holds: most receivers report a handful of sources a day, a
/// quarter a few dozen, one in twenty hundreds, one in a thousand (a large mailbox provider
/// for a large sender) thousands.
fn records_of(i: u64) -> u64 {
    let r = mix(i);
    match r % 1000 {
        0 => 5_000,
        1..=49 => 41 + r / 1000 % 360,
        50..=299 => 5 + r / 1000 % 36,
        _ => 1 + r / 1000 % 4,
    }
}

/// Report `i`'s XML: SES's aligned mail from a few addresses, one source in ten failing.
fn report_xml(i: u64) -> (String, u64) {
    let domain = format!("d{}.example", i / REPORTERS % DOMAINS);
    let reporter = i % REPORTERS;
    let begin = FIRST_DAY + i % 30 * DAY;
    let records = records_of(i);
    let mut xml = format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>reporter{reporter}.example</org_name>\
         <email>dmarc@reporter{reporter}.example</email><report_id>{i}</report_id>\
         <date_range><begin>{begin}</begin><end>{}</end></date_range></report_metadata>\
         <policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>quarantine</p>\
         </policy_published>",
        begin + DAY - 1
    );
    for n in 0..records {
        let r = mix(i ^ (n << 32));
        let ip = format!(
            "{}.{}.{}.{}",
            54 + r % 3,
            (r >> 8) & 255,
            (r >> 16) & 255,
            (r >> 24) & 255
        );
        let count = 1 + ((r >> 40) & 511);
        let record = if r.is_multiple_of(10) {
            format!(
                "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
                 <disposition>quarantine</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>\
                 <identifiers><header_from>{domain}</header_from></identifiers><auth_results>\
                 <spf><domain>spoof{}.example</domain><result>fail</result></spf></auth_results></record>",
                r % 97
            )
        } else {
            format!(
                "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
                 <disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>\
                 <identifiers><header_from>{domain}</header_from><envelope_from>mail.{domain}</envelope_from>\
                 </identifiers><auth_results><dkim><domain>{domain}</domain><selector>s1</selector>\
                 <result>pass</result></dkim><dkim><domain>amazonses.com</domain><result>pass</result></dkim>\
                 <spf><domain>mail.{domain}</domain><scope>mfrom</scope><result>pass</result></spf>\
                 </auth_results></record>"
            )
        };
        xml.push_str(&record);
    }
    xml.push_str("</feedback>");
    (xml, records)
}

/// Report `i` as the report rule's S3 action stores it: SES's `Authentication-Results` (DMARC
/// passed for the reporter's domain) and the report gzipped and attached.
fn report_mail(i: u64) -> Vec<u8> {
    let reporter = i % REPORTERS;
    let (xml, _) = report_xml(i);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gzip.write_all(xml.as_bytes());
    let gz = gzip.finish().unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(gz);
    let mut body = String::with_capacity(encoded.len() * 78 / 76 + 1_024);
    for chunk in encoded.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        body.push_str("\r\n");
    }
    format!(
        "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=reporter{reporter}.example;\r\n \
         dkim=pass header.i=@reporter{reporter}.example; dmarc=pass header.from=reporter{reporter}.example;\r\n\
         From: <dmarc@reporter{reporter}.example>\r\nTo: <rua@reports.example>\r\nSubject: Report {i}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: application/gzip; name=\"r.xml.gz\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {body}--b--\r\n"
    )
    .into_bytes()
}

/// The stored messages, made when read; the time that takes is kept apart.
#[derive(Default)]
struct Generated {
    gets: AtomicU64,
    bytes: AtomicU64,
    making: AtomicU64,
}

impl ObjectStore for Generated {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
        let started = Instant::now();
        let i = key
            .strip_prefix("reports/")
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| ObjectError::Missing {
                bucket: bucket.into(),
                key: key.into(),
            })?;
        let mail = report_mail(i);
        self.gets.fetch_add(1, Relaxed);
        self.bytes.fetch_add(mail.len() as u64, Relaxed);
        self.making
            .fetch_add(started.elapsed().as_nanos() as u64, Relaxed);
        Ok(mail)
    }
}

/// The ledger and the rollups in memory, counting the DynamoDB calls the table's adapter
/// makes for each (batches of 100 reads, 25 writes).
#[derive(Default)]
struct Counted {
    ledger: MemoryLedger,
    rollups: MemoryRollups,
    calls: AtomicU64,
}

impl Counted {
    fn count(&self, n: u64) {
        self.calls.fetch_add(n, Relaxed);
    }
}

impl ReportLedger for Counted {
    async fn claim(&self, key: &ReportKey, now: u64, until: u64) -> Result<Claim, StateError> {
        self.count(1);
        self.ledger.claim(key, now, until).await
    }
    async fn complete(&self, key: &ReportKey) -> Result<(), StateError> {
        self.count(1);
        self.ledger.complete(key).await
    }
    async fn release(&self, key: &ReportKey) -> Result<(), StateError> {
        self.count(1);
        self.ledger.release(key).await
    }
    async fn known_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
    ) -> Result<Option<HashMap<IpAddr, LastSeen>>, StateError> {
        self.count((sources.len() as u64).div_ceil(GET_BATCH));
        self.ledger.known_sources(domain, sources).await
    }
    async fn remember_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
        now: u64,
    ) -> Result<(), StateError> {
        self.count((sources.len() as u64).div_ceil(WRITE_BATCH));
        self.ledger.remember_sources(domain, sources, now).await
    }
    async fn admit(&self, quota: &FindingsQuota, most: u64, now: u64) -> Result<bool, StateError> {
        self.count(1);
        self.ledger.admit(quota, most, now).await
    }
}

impl Rollups for Counted {
    async fn add(&self, day: u64, subject: &str, addition: &Addition) -> Result<(), StateError> {
        self.count(1);
        self.rollups.add(day, subject, addition).await
    }
    async fn day(&self, day: u64) -> Result<DayRollups, StateError> {
        self.rollups.day(day).await
    }
}

/// Findings counted, not kept.
#[derive(Default)]
struct Counting(AtomicU64);

impl FindingSink for Counting {
    async fn publish(&self, findings: &[Finding]) -> Result<(), SinkError> {
        self.0.fetch_add(findings.len() as u64, Relaxed);
        Ok(())
    }
    async fn cleared_by_reporter(
        &self,
        _: Kind,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A figure of /proc/self/status, in KiB: `VmHWM` (the peak) or `VmRSS` (now).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn event(key: &str) -> Vec<u8> {
    format!(
        "{{\"version\":\"0\",\"id\":\"e\",\"detail-type\":\"Object Created\",\"source\":\"aws.s3\",\
         \"account\":\"123456789012\",\"time\":\"2026-12-01T10:00:00Z\",\"region\":\"us-east-1\",\
         \"resources\":[],\"detail\":{{\"version\":\"0\",\"bucket\":{{\"name\":\"{BUCKET}\"}},\
         \"object\":{{\"key\":\"{key}\",\"size\":1}},\"reason\":\"PutObject\"}}}}"
    )
    .into_bytes()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("direct");
    let count: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let calls = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let records = Arc::new(AtomicU64::new(0));
    // Firehose bills each record in steps of 5 KB.
    let billed = Arc::new(AtomicU64::new(0));
    let destination = match mode {
        "direct" => {
            let (calls, bytes) = (Arc::clone(&calls), Arc::clone(&bytes));
            let put = mock!(aws_sdk_s3::Client::put_object)
                .match_requests(move |request| {
                    calls.fetch_add(1, Relaxed);
                    let length = request.body().bytes().map_or(0, <[u8]>::len);
                    bytes.fetch_add(length as u64, Relaxed);
                    true
                })
                .then_output(|| PutObjectOutput::builder().build());
            let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put]);
            Rows::Direct(S3Rows::new(client, BUCKET.into()))
        }
        "firehose" => {
            let (calls, bytes, records, billed) = (
                Arc::clone(&calls),
                Arc::clone(&bytes),
                Arc::clone(&records),
                Arc::clone(&billed),
            );
            let put = mock!(aws_sdk_firehose::Client::put_record_batch)
                .match_requests(move |request| {
                    calls.fetch_add(1, Relaxed);
                    records.fetch_add(request.records().len() as u64, Relaxed);
                    for record in request.records() {
                        let length = record.data().as_ref().len() as u64;
                        bytes.fetch_add(length, Relaxed);
                        billed.fetch_add(length.div_ceil(5_120) * 5_120, Relaxed);
                    }
                    true
                })
                .then_output(|| {
                    PutRecordBatchOutput::builder()
                        .failed_put_count(0)
                        .set_request_responses(Some(Vec::new()))
                        .build()
                        .unwrap_or_else(|e| panic!("{e}"))
                });
            let client = mock_client!(aws_sdk_firehose, RuleMode::MatchAny, [&put]);
            Rows::Firehose(FirehoseRows::new(client, "rows".into()))
        }
        other => panic!("MODE is direct or firehose, not {other:?}"),
    };
    let objects = Generated::default();
    let table = Counted::default();
    let scope = DomainList::new((0..DOMAINS).map(|d| format!("d{d}.example")));
    let sink = Counting::default();
    let ports = ReportPorts {
        objects: &objects,
        ledger: &table,
        directory: &NoDirectory,
        scope: &scope,
        sink: &sink,
        rollups: &table,
        rows: &destination,
    };
    let settings = ReportSettings {
        require_authentication: true,
        ..ReportSettings::default()
    };
    let (mut rows, mut failed) = (0u64, 0u64);
    let started = Instant::now();
    for i in 0..count {
        let now = FIRST_DAY + 31 * DAY + i;
        let clock = Clockwork {
            now,
            deadline: now + 120,
        };
        let invocation = reports(&event(&format!("reports/{i}")), ports, &settings, clock).await;
        rows += invocation.counts.rows_written;
        failed += u64::from(invocation.result.is_err() || invocation.counts.reports != 1);
    }
    let making = Duration::from_nanos(objects.making.load(Relaxed));
    let seconds = (started.elapsed() - making).as_secs_f64();
    let peak = status_kib("VmHWM");
    let per = |n: u64| n as f64 / count as f64;
    let dynamodb = per(table.calls.load(Relaxed));
    let gets = per(objects.gets.load(Relaxed));
    let mail_bytes = per(objects.bytes.load(Relaxed));
    let (row_calls, row_records, row_bytes, row_billed) = (
        per(calls.load(Relaxed)),
        per(records.load(Relaxed)),
        per(bytes.load(Relaxed)),
        per(billed.load(Relaxed)),
    );
    // What one invocation adds, as Lambda would see it: the largest report alone, against
    // fresh ports, the process's peak reset first (Linux: clear_refs 5).
    let largest = (0..count).max_by_key(|i| records_of(*i)).unwrap_or(0);
    let fresh = Counted::default();
    let ports = ReportPorts {
        ledger: &fresh,
        rollups: &fresh,
        ..ports
    };
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let resting = status_kib("VmRSS");
    let clock = Clockwork {
        now: FIRST_DAY + 40 * DAY,
        deadline: FIRST_DAY + 40 * DAY + 120,
    };
    let alone = reports(
        &event(&format!("reports/{largest}")),
        ports,
        &settings,
        clock,
    )
    .await;
    failed += u64::from(alone.result.is_err());
    let largest_peak = status_kib("VmHWM").saturating_sub(resting);
    println!(
        "{}",
        serde_json::json!({
            "mode": mode,
            "reports": count,
            "rows": rows,
            "failed": failed,
            "seconds": (seconds * 100.0).round() / 100.0,
            "reports_per_second": (count as f64 / seconds).round(),
            "peak_rss_kib": peak,
            "largest_report_records": records_of(largest),
            "largest_report_peak_kib": largest_peak,
            "dynamodb_calls_per_report": (dynamodb * 100.0).round() / 100.0,
            "s3_gets_per_report": gets,
            "mail_bytes_per_report": mail_bytes.round(),
            "row_calls_per_report": (row_calls * 1000.0).round() / 1000.0,
            "firehose_records_per_report": (row_records * 1000.0).round() / 1000.0,
            "row_bytes_per_report": row_bytes.round(),
            "firehose_billed_bytes_per_report": row_billed.round(),
            "findings": sink.0.load(Relaxed),
        })
    );
}
