//! The state table in DynamoDB ([`ReportLedger`], [`ProbeBook`]): one table, on demand, items keyed by
//! `pk` and `sk`, each with an `expires` attribute the table's TTL deletes it by.
//!
//! | item | `pk` | `sk` | kept |
//! |---|---|---|---|
//! | a counted report | `report#<policy domain>` | `<reporter>#<report id>` | 60 days |
//! | a source seen sending as a domain | `source#<domain>` | `<IP address>` | 400 days after it was last written (written again when 30 days old) |
//! | a reporter's reports with findings in a day | `quota#<policy domain>#<day>` | `<reporter>` | 2 days |
//! | a canary probe | `probe#<identity>` | `<SES message id>` | [`PROBE_KEPT`] after it was sent |
//! | where the audit stopped | `audit#cursor` | `audit` | until a run goes through to the end |
//! | an incident | `incident#<kind>#<domain>#<subject>` | `incident` | [`OPEN_KEPT`] after its last write while open, [`INCIDENT_KEPT`] after it was resolved |
//! | a day's rollup (`rollups`) | `rollup#<day's first second>` | `<dmarc, tls, canary or feedback>#<domain or identity>` | 400 days after the day |
//!
//! Each incident has its own partition. An occurrence is counted with one `UpdateItem ADD`
//! that reads nothing; a change of state (open, remind, resolve) is a write conditional on
//! the incident's version, carrying the message it owes ([`IncidentBook`]). Incidents open or
//! owing a message carry `attention`, the key of a sparse keys-only index
//! ([`ATTENTION_INDEX`]) the sweep reads. The sweep first carries incidents left open under
//! the previous layout (all under `pk` `incident`) into their own items.
//!
//! A claim is a conditional put: of two invocations counting the same report at once,
//! exactly one succeeds. It is `done` once the report's findings were delivered; one left
//! undone holds until its invocation's deadline (`holds_until`), after which its holder is
//! dead and the report can be taken again. Sources are read and written in batches
//! (`BatchGetItem`, `BatchWriteItem`), several at once.

mod rollups;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, ReturnValue, WriteRequest};
use ses_dmarc_monitor::judge::findings::{Kind, Severity};
use ses_dmarc_monitor::judge::incident::{
    Incident, IncidentKey, Notice, Owed, Resolution, Unmonitored,
};
use ses_dmarc_monitor::ports::audit_cursor::AuditCursor;
use ses_dmarc_monitor::ports::incidents::{IncidentBook, Occurrence, Settled, Stored, Transition};
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
/// How long an open incident is kept after its last write: far beyond the reminder interval
/// (the sweep writes each open incident at least that often), so only an incident nothing
/// looks at any more expires.
pub const OPEN_KEPT: u64 = 30 * 86_400;

#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// An update of the item under `pk` and `sk`, to be given its expressions.
    fn update_item(
        &self,
        pk: AttributeValue,
        sk: AttributeValue,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
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

/// Reads one batch of items by key, whole or only `projection`, retrying what DynamoDB
/// left unprocessed.
async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<HashMap<String, AttributeValue>>,
    projection: Option<&str>,
    consistent: bool,
) -> Result<Vec<HashMap<String, AttributeValue>>, StateError> {
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
            .set_projection_expression(projection.map(str::to_owned))
            .consistent_read(consistent)
            .build()
            .map_err(failed)?;
        let output = client
            .batch_get_item()
            .request_items(table, wanted)
            .send()
            .await
            .map_err(failed)?;
        found.extend(
            output
                .responses()
                .and_then(|r| r.get(table))
                .into_iter()
                .flatten()
                .cloned(),
        );
        if let Some(left) = output.unprocessed_keys().and_then(|u| u.get(table)) {
            pending = left.keys().to_vec();
        }
    }
    Err(failed(std::io::Error::other(
        "DynamoDB left reads unprocessed (throttled)",
    )))
}

/// Reads one batch of source items: each address's `last_seen`.
async fn get_sources(
    client: Client,
    table: String,
    keys: Vec<HashMap<String, AttributeValue>>,
) -> Result<Vec<(String, u64)>, StateError> {
    let items = batch_get(&client, &table, keys, Some("sk, last_seen"), false).await?;
    Ok(items
        .iter()
        .filter_map(|item| Some((text(item, "sk")?, number(item, "last_seen").unwrap_or(0))))
        .collect())
}

/// Reads one batch of items whole, consistently.
async fn get_items(
    client: Client,
    table: String,
    keys: Vec<HashMap<String, AttributeValue>>,
) -> Result<Vec<HashMap<String, AttributeValue>>, StateError> {
    batch_get(&client, &table, keys, None, true).await
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
        self.update_item(pk, sk)
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
            .update_item(
                s(format!("quota#{}#{}", quota.domain, quota.day)),
                s(quota.reporter.clone()),
            )
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
        self.update_item(pk, sk)
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
        let update = self.update_item(pk, sk)
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

/// An incident's own partition: a flood of one incident's findings never queues behind
/// another's.
fn incident_keys(key: &IncidentKey) -> (AttributeValue, AttributeValue) {
    (s(format!("incident#{}", key.id())), s("incident"))
}

/// The value of [`ATTENTION`] on an incident that is open or owes a message; absent otherwise.
const ATTENTION_VALUE: &str = "incident";
/// The sparse index of incidents open or owing a message (keys only): what the sweep reads.
/// Counting an occurrence does not touch it.
pub const ATTENTION_INDEX: &str = "attention";
const ATTENTION: &str = "attention";

fn notice_map(owed: &Owed) -> AttributeValue {
    let mut map = HashMap::from([
        ("state".to_owned(), s(owed.notice.state())),
        ("leased_until".to_owned(), n(owed.leased_until)),
    ]);
    match &owed.notice {
        Notice::New => {}
        Notice::StillOpen { count, since } => {
            map.insert("count".into(), n(*count));
            map.insert("since".into(), n(*since));
        }
        Notice::Resolved {
            duration,
            count,
            by,
        } => {
            map.insert("count".into(), n(*count));
            map.insert("duration".into(), n(*duration));
            let by = match by {
                Resolution::Evidence(evidence) => {
                    map.insert("evidence".into(), s(evidence.clone()));
                    "evidence"
                }
                Resolution::Quiet { period } => {
                    map.insert("period".into(), n(*period));
                    "quiet"
                }
                Resolution::Unmonitored(Unmonitored::DomainRemoved) => "domain_removed",
                Resolution::Unmonitored(Unmonitored::IdentityGone) => "identity_gone",
                Resolution::Unmonitored(Unmonitored::CanaryOff) => "canary_off",
                Resolution::Unmonitored(Unmonitored::ConfigurationSetGone) => {
                    "configuration_set_gone"
                }
                Resolution::Unmonitored(Unmonitored::BulkSenderOff) => "bulk_sender_off",
            };
            map.insert("by".into(), s(by));
        }
    }
    AttributeValue::M(map)
}

fn owed_of(item: &HashMap<String, AttributeValue>) -> Option<Owed> {
    let Some(AttributeValue::M(map)) = item.get("owed") else {
        return None;
    };
    let notice = match text(map, "state")?.as_str() {
        "new" => Notice::New,
        "open" => Notice::StillOpen {
            count: number(map, "count")?,
            since: number(map, "since")?,
        },
        "resolved" => Notice::Resolved {
            duration: number(map, "duration")?,
            count: number(map, "count")?,
            by: match text(map, "by")?.as_str() {
                "evidence" => Resolution::Evidence(text(map, "evidence").unwrap_or_default()),
                "quiet" => Resolution::Quiet {
                    period: number(map, "period")?,
                },
                "domain_removed" => Resolution::Unmonitored(Unmonitored::DomainRemoved),
                "identity_gone" => Resolution::Unmonitored(Unmonitored::IdentityGone),
                "canary_off" => Resolution::Unmonitored(Unmonitored::CanaryOff),
                "configuration_set_gone" => {
                    Resolution::Unmonitored(Unmonitored::ConfigurationSetGone)
                }
                "bulk_sender_off" => Resolution::Unmonitored(Unmonitored::BulkSenderOff),
                _ => return None,
            },
        },
        _ => return None,
    };
    Some(Owed {
        notice,
        leased_until: number(map, "leased_until").unwrap_or(0),
    })
}

/// The most severe of the severities an incident's findings had (a string set, added to by
/// each occurrence).
fn severity_of(item: &HashMap<String, AttributeValue>) -> Severity {
    match item.get("severities") {
        Some(AttributeValue::Ss(all)) => all.iter().filter_map(|s| s.parse().ok()).max(),
        _ => None,
    }
    .unwrap_or(Severity::Warning)
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
        counted_at_notice: number(item, "counted_at_notice").unwrap_or(0),
        detail: text(item, "detail").unwrap_or_default(),
        severity: severity_of(item),
        resolved: number(item, "resolved"),
        owed: owed_of(item),
        reporters: match item.get("reporters") {
            Some(AttributeValue::Ss(all)) => all.iter().cloned().collect(),
            _ => Default::default(),
        },
    };
    Some((
        key,
        Stored {
            incident,
            version: number(item, "version")?,
        },
    ))
}

/// An open incident as the version before one item per incident kept it (`pk` `incident`,
/// `sk` its id, `unsent` findings since its last message); `None` for a resolved one or an
/// item missing what every incident had. Its "new" was sent then: it owes nothing.
fn legacy_open_incident(item: &HashMap<String, AttributeValue>) -> Option<(IncidentKey, Incident)> {
    if item.contains_key("resolved") {
        return None;
    }
    let key = IncidentKey {
        kind: text(item, "kind")?.parse().ok()?,
        domain: text(item, "domain")?,
        subject: text(item, "subject").filter(|s| !s.is_empty()),
    };
    let count = number(item, "occurrences")?;
    let incident = Incident {
        opened: number(item, "opened")?,
        last_seen: number(item, "last_seen")?,
        last_sent: number(item, "last_sent")?,
        count,
        counted_at_notice: count.saturating_sub(number(item, "unsent").unwrap_or(0)),
        detail: text(item, "detail").unwrap_or_default(),
        severity: text(item, "severity")
            .and_then(|s| s.parse().ok())
            .unwrap_or(Severity::Warning),
        resolved: None,
        owed: None,
        reporters: Default::default(),
    };
    Some((key, incident))
}

/// When an incident item expires: [`INCIDENT_KEPT`] after it was resolved; while open,
/// [`OPEN_KEPT`] after its last message, as a backstop should the sweep stop running (each
/// count pushes it on too).
fn incident_expires(incident: &Incident) -> u64 {
    match incident.resolved {
        Some(resolved) => resolved.saturating_add(INCIDENT_KEPT),
        None => incident.last_sent.saturating_add(OPEN_KEPT),
    }
}

impl DynamoLedger {
    async fn put_incident(
        &self,
        key: &IncidentKey,
        next: &Incident,
        read: Option<u64>,
    ) -> Result<bool, StateError> {
        let (pk, sk) = incident_keys(key);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk)
            .item("sk", sk)
            .item("kind", s(key.kind.as_str()))
            .item("domain", s(key.domain.clone()))
            .item("subject", s(key.subject.clone().unwrap_or_default()))
            .item("opened", n(next.opened))
            .item("last_seen", n(next.last_seen))
            .item("last_sent", n(next.last_sent))
            .item("occurrences", n(next.count))
            .item("counted_at_notice", n(next.counted_at_notice))
            .item("detail", s(next.detail.clone()))
            .item(
                "severities",
                AttributeValue::Ss(vec![next.severity.as_str().to_owned()]),
            )
            .item("version", n(read.map_or(1, |v| v + 1)))
            .item("expires", n(incident_expires(next)));
        if next.needs_attention() {
            put = put.item(ATTENTION, s(ATTENTION_VALUE));
        }
        if let Some(owed) = &next.owed {
            put = put.item("owed", notice_map(owed));
        }
        // A string set cannot be empty: absent until a report finds the incident.
        if !next.reporters.is_empty() {
            put = put.item(
                "reporters",
                AttributeValue::Ss(next.reporters.iter().cloned().collect()),
            );
        }
        if let Some(resolved) = next.resolved {
            put = put.item("resolved", n(resolved));
        }
        put = match read {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(version) => put
                .condition_expression("version = :read")
                .expression_attribute_values(":read", n(version)),
        };
        written(put.send().await)
    }

    async fn change_incident(
        &self,
        key: &IncidentKey,
        next: &Incident,
        read: u64,
    ) -> Result<bool, StateError> {
        let (pk, sk) = incident_keys(key);
        let mut set = vec![
            "version = :next",
            "last_sent = :last_sent",
            "counted_at_notice = :counted",
            "expires = :expires",
        ];
        let mut remove = Vec::new();
        let mut update = self
            .update_item(pk, sk)
            .condition_expression("version = :read")
            .expression_attribute_values(":read", n(read))
            .expression_attribute_values(":next", n(read + 1))
            .expression_attribute_values(":last_sent", n(next.last_sent))
            .expression_attribute_values(":counted", n(next.counted_at_notice))
            .expression_attribute_values(":expires", n(incident_expires(next)));
        match &next.owed {
            Some(owed) => {
                set.push("owed = :owed");
                update = update.expression_attribute_values(":owed", notice_map(owed));
            }
            None => remove.push("owed"),
        }
        match next.resolved {
            Some(resolved) => {
                set.push("resolved = :resolved");
                update = update.expression_attribute_values(":resolved", n(resolved));
            }
            None => remove.push("resolved"),
        }
        if next.needs_attention() {
            set.push("attention = :attention");
            update = update.expression_attribute_values(":attention", s(ATTENTION_VALUE));
        } else {
            remove.push(ATTENTION);
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        written(update.update_expression(expression).send().await)
    }
}

impl DynamoLedger {
    /// Carries the open incidents of the version before one item per incident (all under
    /// `pk` `incident`) into their own items, so that an upgrade neither pages "new" again for
    /// a problem that lasts nor leaves them open forever; each is deleted once carried (or
    /// found carried already). Resolved ones are left to expire as they were written to.
    async fn carry_legacy_incidents(&self) -> Result<(), StateError> {
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
            let item = item.map_err(failed)?;
            let Some(sk) = item.get("sk").cloned() else {
                continue;
            };
            if let Some((key, incident)) = legacy_open_incident(&item) {
                // `false`: carried already (or opened anew since): the legacy item only goes.
                self.put_incident(&key, &incident, None).await?;
                tracing::info!(incident = %key.id(), "an incident of the previous layout carried over");
            }
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s("incident"))
                .key("sk", sk)
                .send()
                .await
                .map_err(failed)?;
        }
        Ok(())
    }
}

impl IncidentBook for DynamoLedger {
    async fn count(
        &self,
        key: &IncidentKey,
        occurrence: &Occurrence,
    ) -> Result<Option<Stored>, StateError> {
        let (pk, sk) = incident_keys(key);
        let mut add = "ADD occurrences :one, severities :severity".to_owned();
        let mut update = self.update_item(pk, sk);
        if let Some(reporter) = &occurrence.reporter {
            add.push_str(", reporters :reporter");
            update = update.expression_attribute_values(
                ":reporter",
                AttributeValue::Ss(vec![reporter.clone()]),
            );
        }
        let result = update
            .update_expression(format!(
                "{add} SET last_seen = :now, detail = :detail, expires = :expires"
            ))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(resolved)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(
                ":severity",
                AttributeValue::Ss(vec![occurrence.severity.as_str().to_owned()]),
            )
            .expression_attribute_values(":now", n(occurrence.now))
            .expression_attribute_values(":detail", s(occurrence.detail.clone()))
            .expression_attribute_values(":expires", n(occurrence.now.saturating_add(OPEN_KEPT)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .attributes
                .as_ref()
                .and_then(incident_of)
                .map(|(_, stored)| stored)),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(error) => Err(failed(error)),
        }
    }

    async fn load(&self, key: &IncidentKey) -> Result<Option<Stored>, StateError> {
        let (pk, sk) = incident_keys(key);
        let item = self.read_item(pk, sk).await?;
        Ok(item
            .as_ref()
            .and_then(incident_of)
            .map(|(_, stored)| stored))
    }

    async fn store(
        &self,
        key: &IncidentKey,
        next: &Incident,
        how: Transition,
        read: Option<u64>,
    ) -> Result<bool, StateError> {
        match (how, read) {
            (Transition::Change, Some(read)) => self.change_incident(key, next, read).await,
            // A change of nothing stored: written whole, as an opening.
            (Transition::Open, _) | (Transition::Change, None) => {
                self.put_incident(key, next, read).await
            }
        }
    }

    async fn lease(
        &self,
        key: &IncidentKey,
        version: u64,
        now: u64,
        until: u64,
    ) -> Result<bool, StateError> {
        let (pk, sk) = incident_keys(key);
        let update = self
            .update_item(pk, sk)
            .update_expression("SET owed.leased_until = :until")
            .condition_expression(
                "version = :version AND attribute_exists(owed) AND owed.leased_until <= :now",
            )
            .expression_attribute_values(":version", n(version))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":until", n(until))
            .send()
            .await;
        written(update)
    }

    async fn settle(
        &self,
        key: &IncidentKey,
        version: u64,
        outcome: Settled,
    ) -> Result<bool, StateError> {
        let (pk, sk) = incident_keys(key);
        let update = self
            .update_item(pk, sk)
            .expression_attribute_values(":version", n(version));
        let update = match outcome {
            Settled::Sent { closed: false } => update
                .update_expression("REMOVE owed")
                .condition_expression("version = :version"),
            Settled::Sent { closed: true } => update
                .update_expression(format!("REMOVE owed, {ATTENTION}"))
                .condition_expression("version = :version"),
            Settled::Failed => update
                .update_expression("SET owed.leased_until = :free")
                .condition_expression("version = :version AND attribute_exists(owed)")
                .expression_attribute_values(":free", n(0)),
        };
        written(update.send().await)
    }

    async fn needing_attention(&self) -> Result<Vec<(IncidentKey, Stored)>, StateError> {
        if let Err(error) = self.carry_legacy_incidents().await {
            // The sweep goes on with what the index holds; the next one carries them.
            tracing::warn!(error = %error, "incidents of the previous layout not carried over yet");
        }
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(ATTENTION_INDEX)
            .key_condition_expression("attention = :attention")
            .expression_attribute_values(":attention", s(ATTENTION_VALUE))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(failed)?;
            if let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) {
                keys.push(HashMap::from([
                    ("pk".to_owned(), pk.clone()),
                    ("sk".to_owned(), sk.clone()),
                ]));
            }
        }
        // The index is eventually consistent and holds keys only: the items are read whole,
        // consistently, and those that no longer need attention are left out.
        let batches = self.in_batches(keys, GET_BATCH, get_items).await?;
        let mut due: Vec<(IncidentKey, Stored)> = batches
            .iter()
            .flatten()
            .filter_map(incident_of)
            .filter(|(_, stored)| stored.incident.needs_attention())
            .collect();
        due.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(due)
    }
}

/// The audit's place: one item, `audit#cursor`.
fn cursor_keys() -> (AttributeValue, AttributeValue) {
    (s("audit#cursor"), s("audit"))
}

impl AuditCursor for DynamoLedger {
    async fn stopped_after(&self) -> Result<Option<String>, StateError> {
        let (pk, sk) = cursor_keys();
        Ok(self
            .read_item(pk, sk)
            .await?
            .and_then(|item| text(&item, "after")))
    }

    async fn stop_after(&self, domain: Option<&str>) -> Result<(), StateError> {
        let (pk, sk) = cursor_keys();
        match domain {
            Some(domain) => self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", pk)
                .item("sk", sk)
                .item("after", s(domain))
                .send()
                .await
                .map(|_| ())
                .map_err(failed),
            None => self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", pk)
                .key("sk", sk)
                .send()
                .await
                .map(|_| ())
                .map_err(failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message an incident can owe is read back as it was written.
    #[test]
    fn an_owed_message_is_read_back_as_written() {
        let notices = [
            Notice::New,
            Notice::StillOpen {
                count: 4,
                since: 1_796_000_000,
            },
            Notice::Resolved {
                duration: 60,
                count: 2,
                by: Resolution::Evidence("a probe arrived without it".into()),
            },
            Notice::Resolved {
                duration: 60,
                count: 2,
                by: Resolution::Quiet { period: 259_200 },
            },
            Notice::Resolved {
                duration: 60,
                count: 2,
                by: Resolution::Unmonitored(Unmonitored::DomainRemoved),
            },
            Notice::Resolved {
                duration: 60,
                count: 2,
                by: Resolution::Unmonitored(Unmonitored::IdentityGone),
            },
            Notice::Resolved {
                duration: 60,
                count: 2,
                by: Resolution::Unmonitored(Unmonitored::CanaryOff),
            },
            Notice::Resolved {
                duration: 60,
                count: 2,
                by: Resolution::Unmonitored(Unmonitored::ConfigurationSetGone),
            },
            Notice::Resolved {
                duration: 60,
                count: 2,
                by: Resolution::Unmonitored(Unmonitored::BulkSenderOff),
            },
        ];
        for notice in notices {
            let owed = Owed {
                notice,
                leased_until: 1_796_000_120,
            };
            let item = HashMap::from([("owed".to_owned(), notice_map(&owed))]);
            assert_eq!(owed_of(&item), Some(owed));
        }
        assert_eq!(owed_of(&HashMap::new()), None);
    }

    /// An open incident of the previous layout is carried with its count and what was unsent;
    /// a resolved one is not carried.
    #[test]
    fn an_open_incident_of_the_previous_layout_is_carried() {
        let mut item = HashMap::from([
            ("kind".to_owned(), s("dmarc_fail")),
            ("domain".to_owned(), s("example.net")),
            ("subject".to_owned(), s("")),
            ("opened".to_owned(), n(100)),
            ("last_seen".to_owned(), n(200)),
            ("last_sent".to_owned(), n(150)),
            ("occurrences".to_owned(), n(5)),
            ("unsent".to_owned(), n(2)),
            ("severity".to_owned(), s("critical")),
        ]);
        let carried = legacy_open_incident(&item).map(|(key, incident)| {
            (
                key.id(),
                incident.count,
                incident.counted_at_notice,
                incident.severity,
                incident.owed,
            )
        });
        assert_eq!(
            carried,
            Some((
                "dmarc_fail#example.net#".to_owned(),
                5,
                3,
                Severity::Critical,
                None
            ))
        );
        item.insert("resolved".to_owned(), n(300));
        assert!(legacy_open_incident(&item).is_none());
    }

    /// The highest severity any finding had, whatever order the set holds them in.
    #[test]
    fn an_incident_pages_at_its_highest_severity() {
        let item = HashMap::from([(
            "severities".to_owned(),
            AttributeValue::Ss(vec!["warning".into(), "critical".into(), "info".into()]),
        )]);
        assert_eq!(severity_of(&item), Severity::Critical);
        assert_eq!(severity_of(&HashMap::new()), Severity::Warning);
    }
}
