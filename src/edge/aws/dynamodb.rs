//! The state table in DynamoDB ([`ReportLedger`], [`ProbeBook`]): one table, on demand, items keyed by
//! `pk` and `sk`, each with an `expires` attribute the table's TTL deletes it by.
//!
//! | item | `pk` | `sk` | kept |
//! |---|---|---|---|
//! | a counted report | `report#<policy domain>` | `<reporter>#<report id>` | 60 days |
//! | a source seen sending as a domain | `source#<domain>` | `<IP address>` | 400 days after it was last reported |
//! | a canary probe | `probe#<identity>` | `<SES message id>` | [`PROBE_KEPT`] after it was sent |
//!
//! A claim is a conditional put: of two invocations counting the same report at once,
//! exactly one succeeds. It is `done` once the report's findings were delivered; a claim
//! left undone for [`CLAIM_HOLDS`] (its invocation died) can be taken again.

use crate::ports::probes::{PROBE_KEPT, ProbeBook};
use crate::ports::state::{CLAIM_HOLDS, Claim, ReportKey, ReportLedger, StateError};
use crate::read::probe::Probe;
use crate::say::findings::Kind;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeSet;
use std::collections::HashMap;

/// How long a counted report is remembered: receivers re-send within days, not months.
const REPORT_KEPT: u64 = 60 * 86_400;
/// How long a source stays known after its last report.
const SOURCE_KEPT: u64 = 400 * 86_400;

#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

fn failed(error: impl std::error::Error + Send + Sync + 'static) -> StateError {
    StateError {
        source: Box::new(error),
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

impl ReportLedger for DynamoLedger {
    async fn claim(&self, key: &ReportKey, now: u64) -> Result<Claim, StateError> {
        let (pk, sk) = report_keys(key);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk)
            .item("sk", sk)
            .item("claimed", n(now))
            .item("done", AttributeValue::Bool(false))
            .item("expires", n(now + REPORT_KEPT))
            .condition_expression("attribute_not_exists(pk) OR (done = :no AND claimed <= :stale)")
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":stale", n(now.saturating_sub(CLAIM_HOLDS)))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::New),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Claim::Seen)
            }
            Err(error) => Err(failed(error)),
        }
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

    async fn known_sources(&self, domain: &str) -> Result<BTreeSet<String>, StateError> {
        let mut known = BTreeSet::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("source#{domain}")))
            .projection_expression("sk")
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(failed)?;
            if let Some(AttributeValue::S(ip)) = item.get("sk") {
                known.insert(ip.clone());
            }
        }
        Ok(known)
    }

    async fn remember_sources(
        &self,
        domain: &str,
        sources: &[String],
        now: u64,
    ) -> Result<(), StateError> {
        for ip in sources {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(format!("source#{domain}")))
                .key("sk", s(ip.clone()))
                .update_expression(
                    "SET first_seen = if_not_exists(first_seen, :now), last_seen = :now, expires = :expires",
                )
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":expires", n(now + SOURCE_KEPT))
                .send()
                .await
                .map_err(failed)?;
        }
        Ok(())
    }
}

fn probe_keys(identity: &str, message_id: &str) -> (AttributeValue, AttributeValue) {
    (s(format!("probe#{identity}")), s(message_id))
}

/// A probe item as the table holds it; `None` for an item missing what every probe has.
fn probe_of(item: &HashMap<String, AttributeValue>) -> Option<Probe> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse::<u64>().ok(),
        _ => None,
    };
    Some(Probe {
        identity: text("pk")?.strip_prefix("probe#")?.to_owned(),
        message_id: text("sk")?,
        sent: number("sent")?,
        received: number("received"),
        reported_missing: matches!(
            item.get("reported_missing"),
            Some(AttributeValue::Bool(true))
        ),
    })
}

impl ProbeBook for DynamoLedger {
    async fn find(&self, identity: &str, message_id: &str) -> Result<Option<Probe>, StateError> {
        let (pk, sk) = probe_keys(identity, message_id);
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
        Ok(output.item().and_then(probe_of))
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
        match update {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(failed(error)),
        }
    }
}
