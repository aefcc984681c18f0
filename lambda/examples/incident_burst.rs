//! The incident burst of issue 26, against a real DynamoDB API (moto's, in `bench/incidents.sh`):
//! `FINDINGS` findings of one incident from `WRITERS` writers at once, each with its own client
//! as separate containers have, through the incident flow and the DynamoDB adapter. Every
//! message a writer is given is "sent" (settled); the run prints one JSON line: how many "new"
//! went out, how many findings the incident counted, how many fell back to per-container
//! de-duplication (an error from the table), and the wall time.
//!
//! usage: AWS_ENDPOINT_URL=http://127.0.0.1:5055 cargo run --release -p ses-dmarc-monitor-lambda
//!        --example incident_burst -- [FINDINGS] [WRITERS]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use ses_dmarc_monitor::flow::incidents::Incidents;
use ses_dmarc_monitor::judge::findings::{Facts, Finding};
use ses_dmarc_monitor::judge::incident::{IncidentKey, Timing};
use ses_dmarc_monitor::ports::incidents::IncidentBook as _;
use ses_dmarc_monitor::read::identity_state::CustomMailFrom;
use ses_dmarc_monitor::read::observation::{EnvelopeOrigin, EnvelopeSender, Source};
use ses_dmarc_monitor_lambda::aws::dynamodb::{ATTENTION_INDEX, DynamoLedger};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, Box<dyn std::error::Error>> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()?)
}

fn attribute(name: &str) -> Result<AttributeDefinition, Box<dyn std::error::Error>> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()?)
}

/// A table shaped as template.yaml's StateTable.
async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .attribute_definitions(attribute("attention")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(ATTENTION_INDEX)
                .key_schema(key("attention", KeyType::Hash)?)
                .key_schema(key("pk", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

fn fallback() -> Finding {
    Finding::new(
        Facts::MailFromFallback {
            envelope: EnvelopeSender {
                domain: "us-east-1.amazonses.com".into(),
                origin: EnvelopeOrigin::SesSource,
            },
            custom: CustomMailFrom {
                identity: "burst.example".into(),
                mail_from: "mail.burst.example".into(),
            },
        },
        Some("burst.example"),
        Source::ReceiptLambda,
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let findings: u64 = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let writers: u64 = args.next().map_or(Ok(8), |a| a.parse())?;
    let sdk = aws_config::load_from_env().await;
    let table = format!(
        "incident-burst-{}",
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos()
    );
    create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let new = Arc::new(AtomicU64::new(0));
    let other = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for writer in 0..writers {
        // Each writer its own client and connections, as a container has.
        let incidents = Incidents {
            book: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone()),
            timing: Timing::default(),
        };
        let (new, other, errors) = (Arc::clone(&new), Arc::clone(&other), Arc::clone(&errors));
        let share = findings / writers + u64::from(writer < findings % writers);
        running.spawn(async move {
            let finding = fallback();
            for _ in 0..share {
                match incidents.seen(&finding, finding.severity(), now).await {
                    Ok(Some(step)) => {
                        let counter = if step.notice.state() == "new" {
                            &new
                        } else {
                            &other
                        };
                        counter.fetch_add(1, Ordering::SeqCst);
                        if incidents.settle(&step, true).await.is_err() {
                            errors.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(None) => {}
                    Err(error) => {
                        eprintln!("writer {writer}: {error}");
                        errors.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
    }
    while let Some(done) = running.join_next().await {
        done?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let book = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
    let stored = book.load(&IncidentKey::of(&fallback())).await?;
    let attention = book.needing_attention().await?;
    println!(
        "{}",
        serde_json::json!({
            "findings": findings,
            "writers": writers,
            "new": new.load(Ordering::SeqCst),
            "other_messages": other.load(Ordering::SeqCst),
            "counted": stored.as_ref().map(|s| s.incident.count),
            "version": stored.as_ref().map(|s| s.version),
            "owed_after": stored.as_ref().map(|s| s.incident.owed.is_some()),
            "needing_attention": attention.len(),
            "fell_back": errors.load(Ordering::SeqCst),
            "seconds": (seconds * 100.0).round() / 100.0,
            "findings_per_second": (findings as f64 / seconds).round(),
        })
    );
    Ok(())
}
