//! The daily rollups in the state table: one item per UTC day, kind and subject
//! (`pk = rollup#<day's first second>`, `sk = <kind>#<subject>`), whose counters each
//! arrival adds to with one `UpdateItem ADD` (no read), kept [`ROLLUP_KEPT`]. The digest reads
//! a day with one query. A domain's bulk-sender readiness is `SET` (`q|<requirement>`), the
//! day's latest audit replacing the earlier.
//!
//! A report's senders are flat attributes named `<figure>|<class>|<name>` (bounded: four
//! classes, the listed services, the identity); their addresses a string set bounded at
//! [`ADDRESSES_KEPT_PER_DAY`] per sender and day, the rest counted (`ipx|…`). When an address
//! set is full the write is made again without addresses: one write, two at worst.

use super::{DynamoLedger, failed, n, s};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use ses_dmarc_monitor::judge::bulk::{Requirement, Status};
use ses_dmarc_monitor::judge::digest::{DayFigures, TlsFigures};
use ses_dmarc_monitor::judge::report::SourceTally;
use ses_dmarc_monitor::judge::source::{Classified, SourceClass};
use ses_dmarc_monitor::ports::rollups::{
    Addition, CanaryDay, DayRollups, FeedbackDay, ROLLUP_KEPT, Rollups, TlsDay,
};
use ses_dmarc_monitor::ports::state::StateError;
use std::collections::{BTreeMap, HashMap};

/// Addresses kept per sender and day: the digest shows how many, not which.
const ADDRESSES_KEPT_PER_DAY: usize = 200;
/// Senders written by name per report: the rest are added to their class unnamed (an
/// update expression is at most 4 KB).
const SENDERS_PER_WRITE: usize = 12;

/// One update being built: `ADD` terms and their names and values.
#[derive(Default)]
struct Adds {
    terms: Vec<String>,
    /// `SET` terms: values the latest write decides (a report's policy).
    sets: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    conditions: Vec<String>,
}

impl Adds {
    fn placeholder(&mut self, attribute: String) -> String {
        let name = format!("#a{}", self.names.len());
        self.names.insert(name.clone(), attribute);
        name
    }

    fn add(&mut self, attribute: String, value: u64) {
        if value == 0 {
            return;
        }
        let name = self.placeholder(attribute);
        let placeholder = format!(":v{}", self.values.len());
        self.terms.push(format!("{name} {placeholder}"));
        self.values.insert(placeholder, n(value));
    }

    fn set(&mut self, attribute: &str, value: String) {
        let name = self.placeholder(attribute.to_owned());
        let placeholder = format!(":v{}", self.values.len());
        self.sets.push(format!("{name} = {placeholder}"));
        self.values.insert(placeholder, s(value));
    }

    /// Adds to a string set, on condition that it is not full yet.
    fn add_set(&mut self, attribute: String, members: Vec<String>) {
        if members.is_empty() {
            return;
        }
        let name = self.placeholder(attribute);
        let placeholder = format!(":v{}", self.values.len());
        self.terms.push(format!("{name} {placeholder}"));
        self.values.insert(placeholder, AttributeValue::Ss(members));
        self.conditions.push(format!(
            "(attribute_not_exists({name}) OR size({name}) < :cap)"
        ));
    }
}

fn sender_key(sender: &Classified) -> String {
    format!(
        "{}|{}",
        sender.class.as_str(),
        sender.name.as_deref().unwrap_or("")
    )
}

fn sender_of(key: &str) -> Option<Classified> {
    let (class, name) = key.split_once('|')?;
    Some(Classified {
        class: SourceClass::parse(class)?,
        name: (!name.is_empty()).then(|| name.to_owned()),
    })
}

/// The figures of a sender, by attribute prefix.
const FIGURES: [&str; 11] = [
    "m", "p", "f", "u", "da", "sa", "dn", "dq", "dr", "dx", "ipx",
];

fn figures_of(tally: &SourceTally, with_addresses: bool) -> [u64; 11] {
    let d = &tally.disposition;
    let addresses = tally.addresses.len() as u64;
    [
        tally.messages,
        tally.dmarc_pass,
        tally.dmarc_fail,
        tally.dmarc_unknown,
        tally.dkim_aligned,
        tally.spf_aligned,
        d.none.saturating_add(d.pass),
        d.quarantine,
        d.reject,
        d.unknown,
        tally
            .addresses_not_kept
            .saturating_add(if with_addresses { 0 } else { addresses }),
    ]
}

/// A report's senders, at most [`SENDERS_PER_WRITE`] by name.
fn bounded_senders(figures: &DayFigures) -> BTreeMap<Classified, SourceTally> {
    let mut senders: BTreeMap<Classified, SourceTally> = BTreeMap::new();
    for (n, (sender, tally)) in figures.by_sender.iter().enumerate() {
        let sender = if n < SENDERS_PER_WRITE {
            sender.clone()
        } else {
            Classified {
                class: sender.class,
                name: None,
            }
        };
        senders.entry(sender).or_default().absorb(tally);
    }
    senders
}

fn dmarc_adds(figures: &DayFigures, with_addresses: bool) -> Adds {
    let mut adds = Adds::default();
    adds.add("reports".into(), figures.reports);
    adds.add("fallback".into(), figures.fallback_messages);
    if let Some(policy) = &figures.policy {
        adds.set("policy", policy.clone());
    }
    for (reporter, count) in &figures.reporters {
        adds.add(format!("r|{reporter}"), *count);
    }
    for (sender, tally) in bounded_senders(figures) {
        let key = sender_key(&sender);
        for (prefix, value) in FIGURES.iter().zip(figures_of(&tally, with_addresses)) {
            adds.add(format!("{prefix}|{key}"), value);
        }
        if with_addresses {
            let members = tally
                .addresses
                .iter()
                .take(ADDRESSES_KEPT_PER_DAY)
                .map(ToString::to_string)
                .collect();
            adds.add_set(format!("ips|{key}"), members);
            let past = tally.addresses.len().saturating_sub(ADDRESSES_KEPT_PER_DAY) as u64;
            adds.add(format!("ipx|{key}"), past);
        }
    }
    adds
}

fn other_adds(addition: &Addition) -> Adds {
    let mut adds = Adds::default();
    match addition {
        Addition::Dmarc(figures) => return dmarc_adds(figures, true),
        Addition::Tls(tls) => {
            adds.add("successful".into(), tls.sessions.successful);
            adds.add("failed".into(), tls.sessions.failed);
            for (reporter, count) in &tls.reporters {
                adds.add(format!("r|{reporter}"), *count);
            }
        }
        Addition::Canary(probes) => {
            adds.add("sent".into(), probes.sent);
            adds.add("received".into(), probes.received);
            adds.add("healthy".into(), probes.healthy);
        }
        Addition::Feedback(feedback) => {
            adds.add("deliveries".into(), feedback.deliveries);
            adds.add("auth_bounces".into(), feedback.auth_bounces);
            adds.add("complaints".into(), feedback.complaints);
        }
        // The latest judgement replaces the day's earlier one: `SET`, not `ADD`.
        Addition::Readiness(judged) => {
            for (requirement, status) in judged {
                adds.set(
                    &format!("q|{}", requirement.as_str()),
                    status.as_str().to_owned(),
                );
            }
        }
    }
    adds
}

fn kind_of(addition: &Addition) -> &'static str {
    match addition {
        Addition::Dmarc(_) => "dmarc",
        Addition::Tls(_) => "tls",
        Addition::Canary(_) => "canary",
        Addition::Feedback(_) => "feedback",
        Addition::Readiness(_) => "readiness",
    }
}

impl DynamoLedger {
    async fn write_adds(&self, day: u64, sk: String, adds: Adds) -> Result<bool, StateError> {
        if adds.terms.is_empty() && adds.sets.is_empty() {
            return Ok(true);
        }
        let additions = if adds.terms.is_empty() {
            String::new()
        } else {
            format!("ADD {} ", adds.terms.join(", "))
        };
        let mut update = self
            .update_item(s(format!("rollup#{day}")), s(sk))
            .update_expression(format!(
                "{additions}SET {}",
                adds.sets
                    .iter()
                    .map(String::as_str)
                    .chain(["expires = :expires"])
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .set_expression_attribute_names(Some(adds.names))
            .set_expression_attribute_values(Some(adds.values))
            .expression_attribute_values(":expires", n(day.saturating_add(ROLLUP_KEPT)));
        if !adds.conditions.is_empty() {
            update = update
                .condition_expression(adds.conditions.join(" AND "))
                .expression_attribute_values(":cap", n(ADDRESSES_KEPT_PER_DAY as u64));
        }
        match update.send().await {
            Ok(_) => Ok(true),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(error) => Err(failed(error)),
        }
    }
}

impl Rollups for DynamoLedger {
    async fn add(&self, day: u64, subject: &str, addition: &Addition) -> Result<(), StateError> {
        let sk = format!("{}#{subject}", kind_of(addition));
        if self
            .write_adds(day, sk.clone(), other_adds(addition))
            .await?
        {
            return Ok(());
        }
        // An address set was full: the same figures, the addresses counted instead.
        if let Addition::Dmarc(figures) = addition {
            self.write_adds(day, sk, dmarc_adds(figures, false)).await?;
        }
        Ok(())
    }

    async fn day(&self, day: u64) -> Result<DayRollups, StateError> {
        let mut rollups = DayRollups::default();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("rollup#{day}")))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(failed)?;
            if let Some((subject, addition)) = addition_of(&item) {
                rollups.absorb(&subject, &addition);
            }
        }
        Ok(rollups)
    }
}

/// One rollup item, read back as the addition it sums; `None` for an item not understood.
fn addition_of(item: &HashMap<String, AttributeValue>) -> Option<(String, Addition)> {
    let Some(AttributeValue::S(sk)) = item.get("sk") else {
        return None;
    };
    let (kind, subject) = sk.split_once('#')?;
    let count = |name: &str| match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse::<u64>().unwrap_or(0),
        _ => 0,
    };
    let reporters = || -> BTreeMap<String, u64> {
        item.iter()
            .filter_map(|(name, value)| {
                let reporter = name.strip_prefix("r|")?;
                match value {
                    AttributeValue::N(n) => Some((reporter.to_owned(), n.parse().unwrap_or(0))),
                    _ => None,
                }
            })
            .collect()
    };
    let addition = match kind {
        "dmarc" => {
            let mut figures = DayFigures {
                reports: count("reports"),
                fallback_messages: count("fallback"),
                reporters: reporters(),
                policy: match item.get("policy") {
                    Some(AttributeValue::S(policy)) => Some(policy.clone()),
                    _ => None,
                },
                ..DayFigures::default()
            };
            for (name, value) in item {
                let Some((prefix, key)) = name.split_once('|') else {
                    continue;
                };
                let Some(sender) = sender_of(key) else {
                    continue;
                };
                let tally = figures.by_sender.entry(sender).or_default();
                if prefix == "ips" {
                    if let AttributeValue::Ss(members) = value {
                        tally.addresses.extend(
                            members
                                .iter()
                                .filter_map(|m| m.parse::<std::net::IpAddr>().ok()),
                        );
                    }
                    continue;
                }
                let value = match value {
                    AttributeValue::N(v) => v.parse::<u64>().unwrap_or(0),
                    _ => continue,
                };
                let d = &mut tally.disposition;
                match prefix {
                    "m" => tally.messages = value,
                    "p" => tally.dmarc_pass = value,
                    "f" => tally.dmarc_fail = value,
                    "u" => tally.dmarc_unknown = value,
                    "da" => tally.dkim_aligned = value,
                    "sa" => tally.spf_aligned = value,
                    "dn" => d.none = value,
                    "dq" => d.quarantine = value,
                    "dr" => d.reject = value,
                    "dx" => d.unknown = value,
                    "ipx" => tally.addresses_not_kept = value,
                    _ => {}
                }
            }
            // A reporter's name with a `|` in it reads as no sender: dropped above.
            Addition::Dmarc(figures)
        }
        "tls" => Addition::Tls(TlsDay {
            sessions: TlsFigures {
                successful: count("successful"),
                failed: count("failed"),
            },
            reporters: reporters(),
        }),
        "canary" => Addition::Canary(CanaryDay {
            sent: count("sent"),
            received: count("received"),
            healthy: count("healthy"),
        }),
        "feedback" => Addition::Feedback(FeedbackDay {
            deliveries: count("deliveries"),
            auth_bounces: count("auth_bounces"),
            complaints: count("complaints"),
        }),
        "readiness" => Addition::Readiness(
            item.iter()
                .filter_map(|(name, value)| {
                    let requirement = Requirement::from_text(name.strip_prefix("q|")?)?;
                    match value {
                        AttributeValue::S(status) => {
                            Some((requirement, Status::from_text(status)?))
                        }
                        _ => None,
                    }
                })
                .collect(),
        ),
        _ => return None,
    };
    Some((subject.to_owned(), addition))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ses_dmarc_monitor::judge::report::Dispositions;

    /// What is written reads back as what was added.
    #[test]
    fn an_item_reads_back_as_its_addition() {
        let mut tally = SourceTally {
            messages: 10,
            dmarc_pass: 7,
            dmarc_fail: 3,
            dkim_aligned: 7,
            spf_aligned: 2,
            disposition: Dispositions {
                none: 7,
                quarantine: 3,
                ..Dispositions::default()
            },
            ..SourceTally::default()
        };
        tally.addresses.insert(
            "192.0.2.1"
                .parse()
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
        );
        let figures = DayFigures {
            by_sender: BTreeMap::from([(
                Classified {
                    class: SourceClass::Known,
                    name: Some("SendGrid".into()),
                },
                tally,
            )]),
            fallback_messages: 0,
            reports: 1,
            reporters: BTreeMap::from([("google.com".to_owned(), 1)]),
            policy: Some("reject".into()),
        };
        let item = item_after(&dmarc_adds(&figures, true), "dmarc#example.com");
        let (subject, addition) = addition_of(&item).unwrap_or_else(|| panic!("{item:?}"));
        assert_eq!(subject, "example.com");
        assert_eq!(addition, Addition::Dmarc(figures));
    }

    /// The item as DynamoDB would hold it after this one write of `adds` to `sk`.
    fn item_after(adds: &Adds, sk: &str) -> HashMap<String, AttributeValue> {
        let mut item: HashMap<String, AttributeValue> = adds
            .terms
            .iter()
            .chain(&adds.sets)
            .filter_map(|term| {
                let (name, value) = term.split_once(" = ").or_else(|| term.split_once(' '))?;
                Some((
                    adds.names.get(name)?.clone(),
                    adds.values.get(value)?.clone(),
                ))
            })
            .collect();
        item.insert("sk".into(), s(sk.to_owned()));
        item
    }

    /// A domain's readiness is set, not added, and reads back requirement by requirement.
    #[test]
    fn readiness_reads_back_as_set() {
        let judged = BTreeMap::from([
            (Requirement::Spf, Status::Pass),
            (Requirement::ComplaintRate, Status::Fail),
            (Requirement::Ptr, Status::Unknown),
        ]);
        let addition = Addition::Readiness(judged);
        let adds = other_adds(&addition);
        assert!(adds.terms.is_empty() && adds.sets.len() == 3);
        let item = item_after(&adds, "readiness#example.com");
        assert_eq!(
            addition_of(&item),
            Some(("example.com".to_owned(), addition))
        );
    }
}
