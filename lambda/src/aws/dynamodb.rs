//! The state table in DynamoDB ([`ReportLedger`], [`ProbeBook`]): one table, on demand, items keyed by
//! `pk` and `sk`, each with an `expires` attribute the table's TTL deletes it by.
//!
//! | item | `pk` | `sk` | kept |
//! |---|---|---|---|
//! | a counted report | `report#<policy domain>` | `<reporter>#<report id>` | 60 days |
//! | a source seen sending as a domain | `source#<domain>` | `<IP address>` | 400 days after it was last written (written again when 30 days old) |
//! | a reporter's reports with findings in a day | `quota#<policy domain>#<day>` | `<reporter>` | 2 days |
//! | a canary probe | `probe#<identity>` | `<SES message id>` | [`PROBE_KEPT`] after it was sent |
//! | an incident | `incident` | `<kind>#<domain>#<subject>` | while open, and [`INCIDENT_KEPT`] after it was resolved |
//!
//! An incident is written with a conditional put on its version: of two containers stepping
//! it at once, one write succeeds and the other reads again ([`IncidentBook`]).
//!
//! A claim is a conditional put: of two invocations counting the same report at once,
//! exactly one succeeds. It is `done` once the report's findings were delivered; one left
//! undone holds until its invocation's deadline (`holds_until`), after which its holder is
//! dead and the report can be taken again. Sources are read and written in batches
//! (`BatchGetItem`, `BatchWriteItem`), several at once.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use ses_dmarc_monitor::judge::findings::{Kind, Severity};
use ses_dmarc_monitor::judge::incident::{Incident, IncidentKey};
use ses_dmarc_monitor::ports::incidents::{IncidentBook, Stored};
use ses_dmarc_monitor::ports::probes::{PROBE_KEPT, ProbeBook};
use ses_dmarc_monitor::ports::state::{
    Claim, FindingsQuota, LastSeen, ReportKey, ReportLedger, StateError,
};
use ses_dmarc_monitor::read::probe::Probe;
use std::collections::HashMap;
use std::net::IpAddr;

/// How long a counted report is remembered: receivers re-send within days, not months.
const REPORT_KEPT: u64 = 60 * 86_400;
/// How long a source stays known after it was last written (re-written when 30 days old).
const SOURCE_KEPT: u64 = 400 * 86_400;
/// How long a reporter's daily count of reports with findings is kept.
const QUOTA_KEPT: u64 = 2 * 86_400;
/// How long a resolved incident is kept: long enough to read what happened.
pub const INCIDENT_KEPT: u64 = 90 * 86_400;

#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// One item as it is now (a consistent read): what a conditional write just lost to.
    async fn read_item(
        &self,
        pk: AttributeValue,
        sk: AttributeValue,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StateError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(failed)?;
        Ok(output.item)
    }
}

fn failed(error: impl std::error::Error + Send + Sync + 'static) -> StateError {
    StateError {
        source: Box::new(error),
    }
}

/// Whether a conditional write was made: `false` when its condition did not hold (another
/// writer came first), an error for any other failure.
fn written<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StateError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(error) => Err(failed(error)),
    }
}

/// A string attribute of an item.
fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

/// A whole-number attribute of an item.
fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn report_keys(key: &ReportKey) -> (AttributeValue, AttributeValue) {
    (
        s(format!("report#{}", key.domain)),
        s(format!("{}#{}", key.reporter, key.report_id)),
    )
}

/// Keys one `BatchGetItem` takes, and items one `BatchWriteItem` takes (DynamoDB's limits).
const GET_BATCH: usize = 100;
const WRITE_BATCH: usize = 25;
/// Batches in flight at once: a report of 50,000 addresses is 500 reads, read 8 at a time.
const BATCHES_AT_ONCE: usize = 8;
/// Rounds of retrying what DynamoDB left unprocessed (throttled) before giving up.
const UNPROCESSED_ROUNDS: u32 = 6;

fn source_pk(domain: &str) -> AttributeValue {
    s(format!("source#{domain}"))
}

impl DynamoLedger {
    /// Runs `batch` over `items` in chunks of `size`, [`BATCHES_AT_ONCE`] at a time, and
    /// gathers what each returned.
    async fn in_batches<T, R, F>(
        &self,
        items: Vec<T>,
        size: usize,
        batch: impl Fn(Client, String, Vec<T>) -> F,
    ) -> Result<Vec<R>, StateError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: std::future::Future<Output = Result<R, StateError>> + Send + 'static,
    {
        let mut chunks = Vec::new();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            chunks.push(items.by_ref().take(size).collect::<Vec<T>>());
        }
        let mut results = Vec::with_capacity(chunks.len());
        let mut chunks = chunks.into_iter().peekable();
        while chunks.peek().is_some() {
            let mut running = tokio::task::JoinSet::new();
            for chunk in chunks.by_ref().take(BATCHES_AT_ONCE) {
                running.spawn(batch(self.client.clone(), self.table.clone(), chunk));
            }
            while let Some(done) = running.join_next().await {
                results.push(done.map_err(failed)??);
            }
        }
        Ok(results)
    }
}

/// The pause before retrying what DynamoDB left unprocessed, growing each round.
async fn back_off(round: u32) {
    tokio::time::sleep(std::time::Duration::from_millis(50 << round.min(5))).await;
}

/// Reads one batch of source items: each address's `last_seen`.
async fn get_sources(
    client: Client,
    table: String,
    keys: Vec<HashMap<String, AttributeValue>>,
) -> Result<Vec<(String, u64)>, StateError> {
    let mut found = Vec::new();
    let mut pending = keys;
    for round in 0..=UNPROCESSED_ROUNDS {
        if pending.is_empty() {
            return Ok(found);
        }
        if round > 0 {
            back_off(round).await;
        }
        let wanted = KeysAndAttributes::builder()
            .set_keys(Some(std::mem::take(&mut pending)))
            .projection_expression("sk, last_seen")
            .build()
            .map_err(failed)?;
        let output = client
            .batch_get_item()
            .request_items(&table, wanted)
            .send()
            .await
            .map_err(failed)?;
        for item in output
            .responses()
            .and_then(|r| r.get(&table))
            .into_iter()
            .flatten()
        {
            if let Some(ip) = text(item, "sk") {
                found.push((ip, number(item, "last_seen").unwrap_or(0)));
            }
        }
        if let Some(left) = output.unprocessed_keys().and_then(|u| u.get(&table)) {
            pending = left.keys().to_vec();
        }
    }
    Err(failed(std::io::Error::other(
        "DynamoDB left source reads unprocessed (throttled)",
    )))
}

/// Writes one batch of items.
async fn put_batch(
    client: Client,
    table: String,
    requests: Vec<WriteRequest>,
) -> Result<(), StateError> {
    let mut pending = requests;
    for round in 0..=UNPROCESSED_ROUNDS {
        if pending.is_empty() {
            return Ok(());
        }
        if round > 0 {
            back_off(round).await;
        }
        let output = client
            .batch_write_item()
            .request_items(&table, std::mem::take(&mut pending))
            .send()
            .await
            .map_err(failed)?;
        if let Some(left) = output.unprocessed_items().and_then(|u| u.get(&table)) {
            pending = left.clone();
        }
    }
    Err(failed(std::io::Error::other(
        "DynamoDB left source writes unprocessed (throttled)",
    )))
}

impl ReportLedger for DynamoLedger {
    async fn claim(
        &self,
        key: &ReportKey,
        now: u64,
        holds_until: u64,
    ) -> Result<Claim, StateError> {
        let (pk, sk) = report_keys(key);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk.clone())
            .item("sk", sk.clone())
            .item("claimed", n(now))
            .item("holds_until", n(holds_until))
            .item("done", AttributeValue::Bool(false))
            .item("expires", n(now + REPORT_KEPT))
            // A claim of the version before this one holds 15 minutes from when it was made.
            .condition_expression(
                "attribute_not_exists(pk) OR (done = :no AND (holds_until < :now OR \
                 (attribute_not_exists(holds_until) AND claimed < :legacy)))",
            )
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":legacy", n(now.saturating_sub(15 * 60)))
            .send()
            .await;
        if written(put)? {
            return Ok(Claim::New);
        }
        // Held: done, or still within its holder's deadline.
        let done = self
            .read_item(pk, sk)
            .await?
            .is_some_and(|item| matches!(item.get("done"), Some(AttributeValue::Bool(true))));
        Ok(if done { Claim::Seen } else { Claim::InFlight })
    }

    async fn complete(&self, key: &ReportKey) -> Result<(), StateError> {
        let (pk, sk) = report_keys(key);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("SET done = :yes")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn release(&self, key: &ReportKey) -> Result<(), StateError> {
        let (pk, sk) = report_keys(key);
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn known_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
    ) -> Result<Option<HashMap<IpAddr, LastSeen>>, StateError> {
        let keys: Vec<HashMap<String, AttributeValue>> = sources
            .iter()
            .map(|ip| {
                HashMap::from([
                    ("pk".to_owned(), source_pk(domain)),
                    ("sk".to_owned(), s(ip.to_string())),
                ])
            })
            .collect();
        let batches = self.in_batches(keys, GET_BATCH, get_sources).await?;
        Ok(Some(
            batches
                .into_iter()
                .flatten()
                .filter_map(|(ip, seen)| Some((ip.parse().ok()?, seen)))
                .collect(),
        ))
    }

    async fn remember_sources(
        &self,
        domain: &str,
        sources: &[IpAddr],
        now: u64,
    ) -> Result<(), StateError> {
        let requests = sources
            .iter()
            .map(|ip| {
                let put = PutRequest::builder()
                    .item("pk", source_pk(domain))
                    .item("sk", s(ip.to_string()))
                    .item("last_seen", n(now))
                    .item("expires", n(now + SOURCE_KEPT))
                    .build()
                    .map_err(failed)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StateError>>()?;
        self.in_batches(requests, WRITE_BATCH, put_batch).await?;
        Ok(())
    }

    async fn admit(&self, quota: &FindingsQuota, most: u64, now: u64) -> Result<bool, StateError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("quota#{}#{}", quota.domain, quota.day)))
            .key("sk", s(quota.reporter.clone()))
            .update_expression("ADD used :one SET expires = :expires")
            .condition_expression("attribute_not_exists(used) OR used < :most")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":most", n(most))
            .expression_attribute_values(":expires", n(now + QUOTA_KEPT))
            .send()
            .await;
        written(update)
    }
}

fn probe_keys(identity: &str, message_id: &str) -> (AttributeValue, AttributeValue) {
    (s(format!("probe#{identity}")), s(message_id))
}

/// A probe item as the table holds it; `None` for an item missing what every probe has.
fn probe_of(item: &HashMap<String, AttributeValue>) -> Option<Probe> {
    Some(Probe {
        identity: text(item, "pk")?.strip_prefix("probe#")?.to_owned(),
        message_id: text(item, "sk")?,
        sent: number(item, "sent")?,
        received: number(item, "received"),
        reported_missing: matches!(
            item.get("reported_missing"),
            Some(AttributeValue::Bool(true))
        ),
    })
}

impl ProbeBook for DynamoLedger {
    async fn find(&self, identity: &str, message_id: &str) -> Result<Option<Probe>, StateError> {
        let (pk, sk) = probe_keys(identity, message_id);
        Ok(self.read_item(pk, sk).await?.as_ref().and_then(probe_of))
    }

    async fn record(&self, probe: &Probe) -> Result<(), StateError> {
        let (pk, sk) = probe_keys(&probe.identity, &probe.message_id);
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk)
            .item("sk", sk)
            .item("sent", n(probe.sent))
            .item("expires", n(probe.sent + PROBE_KEPT))
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn arrived(
        &self,
        identity: &str,
        message_id: &str,
        at: u64,
        findings: &[Kind],
    ) -> Result<(), StateError> {
        let (pk, sk) = probe_keys(identity, message_id);
        let kinds: Vec<AttributeValue> = findings.iter().map(|k| s(k.as_str())).collect();
        // The first arrival's time stands; a retried or re-delivered copy updates only the
        // findings. The item must exist: an expired probe is not re-created.
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("SET received = if_not_exists(received, :at), findings = :kinds")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":kinds", AttributeValue::L(kinds))
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn probes(&self, identity: &str) -> Result<Vec<Probe>, StateError> {
        let mut probes = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("probe#{identity}")))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            probes.extend(probe_of(&item.map_err(failed)?));
        }
        Ok(probes)
    }

    async fn report_missing(&self, identity: &str, message_id: &str) -> Result<bool, StateError> {
        let (pk, sk) = probe_keys(identity, message_id);
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("SET reported_missing = :yes")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(received) AND attribute_not_exists(reported_missing)",
            )
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        written(update)
    }
}

fn incident_sk(key: &IncidentKey) -> AttributeValue {
    s(key.id())
}

/// An incident item as the table holds it; `None` for an item missing what every incident has.
fn incident_of(item: &HashMap<String, AttributeValue>) -> Option<(IncidentKey, Stored)> {
    let key = IncidentKey {
        kind: text(item, "kind")?.parse().ok()?,
        domain: text(item, "domain")?,
        subject: text(item, "subject").filter(|s| !s.is_empty()),
    };
    let incident = Incident {
        opened: number(item, "opened")?,
        last_seen: number(item, "last_seen")?,
        last_sent: number(item, "last_sent")?,
        count: number(item, "occurrences")?,
        unsent: number(item, "unsent").unwrap_or(0),
        detail: text(item, "detail").unwrap_or_default(),
        severity: text(item, "severity")
            .and_then(|s| s.parse().ok())
            .unwrap_or(Severity::Warning),
        resolved: number(item, "resolved"),
    };
    Some((
        key,
        Stored {
            incident,
            version: number(item, "version")?,
        },
    ))
}

impl IncidentBook for DynamoLedger {
    async fn load(&self, key: &IncidentKey) -> Result<Option<Stored>, StateError> {
        let item = self.read_item(s("incident"), incident_sk(key)).await?;
        Ok(item
            .as_ref()
            .and_then(incident_of)
            .map(|(_, stored)| stored))
    }

    async fn store(
        &self,
        key: &IncidentKey,
        next: &Incident,
        read: Option<u64>,
    ) -> Result<bool, StateError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("incident"))
            .item("sk", incident_sk(key))
            .item("kind", s(key.kind.as_str()))
            .item("domain", s(key.domain.clone()))
            .item("subject", s(key.subject.clone().unwrap_or_default()))
            .item("opened", n(next.opened))
            .item("last_seen", n(next.last_seen))
            .item("last_sent", n(next.last_sent))
            .item("occurrences", n(next.count))
            .item("unsent", n(next.unsent))
            .item("detail", s(next.detail.clone()))
            .item("severity", s(next.severity.as_str()))
            .item("version", n(read.map_or(1, |v| v + 1)));
        if let Some(resolved) = next.resolved {
            put = put
                .item("resolved", n(resolved))
                .item("expires", n(resolved + INCIDENT_KEPT));
        }
        put = match read {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(version) => put
                .condition_expression("version = :read")
                .expression_attribute_values(":read", n(version)),
        };
        written(put.send().await)
    }

    async fn open_incidents(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError> {
        let mut open = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .filter_expression("attribute_not_exists(resolved)")
            .expression_attribute_values(":pk", s("incident"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            open.extend(incident_of(&item.map_err(failed)?));
        }
        Ok(open)
    }
}
