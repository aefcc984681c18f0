//! What every Lambda function builds once per cold start from its configuration: the DNS
//! resolver, the SESv2 identity directory (cached and paced), the monitored-domain scope, the
//! sinks (logs, and the alerting flow over SNS when a topic is configured), and the EMF
//! metrics it prints.
//!
//! Kept out of the binaries so each stays a few lines of wiring, and out of the core because
//! it builds AWS clients.

use crate::aws::dynamodb::DynamoLedger;
use crate::aws::rows::{FirehoseRows, Rows, S3Rows};
use crate::aws::s3::{S3Objects, S3RawMessages};
use crate::aws::sesv2::SesV2Directory;
use crate::aws::sns::SnsPublisher;
use ses_dmarc_monitor::edge::clock::{SystemClock, now_ms};
use ses_dmarc_monitor::edge::config::RowsTarget;
use ses_dmarc_monitor::edge::config::{Config, DnsResolver};
use ses_dmarc_monitor::edge::dns::{DnsBudget, DnsFacts};
use ses_dmarc_monitor::edge::identity_cache::{CachedDirectory, Paced, Scope, VerifiedDomains};
use ses_dmarc_monitor::edge::log::LogSink;
use ses_dmarc_monitor::flow::alerting::Alerting;
use ses_dmarc_monitor::flow::analysis::Ports;
use ses_dmarc_monitor::flow::audit::AuditRun;
use ses_dmarc_monitor::flow::incidents::Incidents;
use ses_dmarc_monitor::flow::receipt::Processed;
use ses_dmarc_monitor::judge::dedup::Deduper;
use ses_dmarc_monitor::judge::received::{DomainFacts, OrgSource};
use ses_dmarc_monitor::judge::reverify::Reverified;
use ses_dmarc_monitor::ports::clock::Clock as _;
use ses_dmarc_monitor::ports::directory::{
    DirectoryError, Expecting, IdentityDirectory, NoDirectory,
};
use ses_dmarc_monitor::ports::facts::{FactSource, OfflineFacts};
use ses_dmarc_monitor::ports::rows::NoRows;
use ses_dmarc_monitor::ports::scope::DomainList;
use ses_dmarc_monitor::read::identity_state::IdentityState;
use ses_dmarc_monitor::read::observation::Observation;
use ses_dmarc_monitor::say::metrics;
use ses_dmarc_monitor::say::metrics::canary::CanaryCounts;
use ses_dmarc_monitor::say::metrics::reports::ReportCounts;
use std::sync::Arc;
use std::time::Duration;

/// The alerting flow as the functions run it: SNS, the state table's incidents, the system's
/// clock.
pub type SnsAlerting = Alerting<SnsPublisher, DynamoLedger, SystemClock>;

/// SESv2 when lookups are on, else only the expected MAIL FROM domains of `MAIL_FROM_DOMAINS`.
#[derive(Debug)]
pub enum Directory {
    Sesv2(CachedDirectory<Paced<SesV2Directory>>),
    Expected(Expecting<NoDirectory>),
}

impl IdentityDirectory for Directory {
    async fn lookup(&self, identity: &str) -> Result<Option<Arc<IdentityState>>, DirectoryError> {
        match self {
            Self::Sesv2(directory) => directory.lookup(identity).await,
            Self::Expected(directory) => directory.lookup(identity).await,
        }
    }
}

/// DNS-backed facts, or offline ones when `DNS_RESOLVER=off`.
#[derive(Debug)]
pub enum Lookups {
    Dns(Box<DnsFacts>),
    Offline(OfflineFacts),
}

impl FactSource for Lookups {
    fn org_source(&self) -> OrgSource {
        match self {
            Self::Dns(dns) => dns.org_source(),
            Self::Offline(offline) => offline.org_source(),
        }
    }

    async fn facts(&self, observation: &mut Observation) -> DomainFacts {
        match self {
            Self::Dns(dns) => dns.facts(observation).await,
            Self::Offline(offline) => offline.facts(observation).await,
        }
    }

    async fn reverify(&self, raw: &[u8], observation: &Observation) -> Reverified {
        match self {
            Self::Dns(dns) => dns.reverify(raw, observation).await,
            Self::Offline(offline) => offline.reverify(raw, observation).await,
        }
    }
}

/// A function's long-lived parts.
#[derive(Debug)]
pub struct Wiring {
    pub config: Config,
    /// The name metrics carry in their `Function` dimension.
    pub function: &'static str,
    pub facts: Lookups,
    pub directory: Directory,
    pub scope: Scope<SesV2Directory>,
    pub sink: (LogSink, Option<SnsAlerting>),
    /// Lists the account's identities (the audit, and the default scope).
    pub sesv2: SesV2Directory,
    /// The region the functions run in (`AWS_REGION`): the audit's expected MAIL FROM MX.
    pub region: String,
    /// Where the receipt rule's S3 action stores raw messages (`RAW_MESSAGE_BUCKET`).
    pub raw: Option<S3RawMessages>,
    /// Stored objects by bucket and key (the reports function).
    pub objects: S3Objects,
    /// The state table (`STATE_TABLE`).
    pub ledger: Option<DynamoLedger>,
    /// Where the reports function writes report rows (`REPORT_ROWS`).
    pub rows: Rows,
}

/// The largest stored report message read: SES stores up to 40 MB. The reports function
/// has the memory for it (template.yaml, bench/RESULTS.md).
const MAX_REPORT_OBJECT: u64 = 48 * 1024 * 1024;

/// Why a function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] ses_dmarc_monitor::edge::config::ConfigError),
    #[error(transparent)]
    Dns(#[from] ses_dmarc_monitor::edge::dns::DnsSetupError),
}

impl Wiring {
    /// Reads the environment and builds the clients. AWS endpoints, region and credentials
    /// come from the standard SDK environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, …).
    pub async fn from_env(function: &'static str) -> Result<Self, WiringError> {
        let config = ses_dmarc_monitor::edge::config::from_env(|k| std::env::var(k).ok())?;
        let budget = DnsBudget {
            per_record: config.dns_budget,
            ..DnsBudget::default()
        };
        let facts = match config.dns {
            DnsResolver::System => Lookups::Dns(Box::new(DnsFacts::system()?.with_budget(budget))),
            DnsResolver::Nameserver(addr) => {
                Lookups::Dns(Box::new(DnsFacts::nameserver(addr)?.with_budget(budget)))
            }
            DnsResolver::Off => Lookups::Offline(OfflineFacts::default()),
        };
        // Retries end well inside the functions' timeout (template.yaml: 30 s).
        let sdk = crate::aws::sdk_config(Duration::from_secs(10)).await;
        // Several instances share SESv2's one request per second: each paces itself (below),
        // caches answers, and in adaptive retry mode slows down when SESv2 throttles any of
        // them, so together they settle under the limit without reserved concurrency.
        let sesv2_config = aws_sdk_sesv2::config::Builder::from(&sdk)
            .retry_config(
                aws_sdk_sesv2::config::retry::RetryConfig::adaptive()
                    .with_max_attempts(4)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .build();
        let sesv2 = SesV2Directory::new(aws_sdk_sesv2::Client::from_conf(sesv2_config));
        let directory = if config.identity_lookup {
            // SESv2 allows one request per second per account.
            let paced = Paced::new(sesv2.clone(), Duration::from_secs(1));
            Directory::Sesv2(CachedDirectory::new(paced, config.identity_cache))
        } else {
            Directory::Expected(Expecting::new(
                NoDirectory,
                Arc::clone(&config.settings.expected),
            ))
        };
        let scope = match (&config.monitored_domains, config.identity_lookup) {
            (Some(domains), _) => Scope::List(DomainList::new(domains.iter().cloned())),
            (None, true) => {
                Scope::Verified(VerifiedDomains::new(sesv2.clone(), config.identity_cache))
            }
            (None, false) => Scope::Everything,
        };
        let ledger = config.state_table.clone().map(|table| {
            // Throttling and 5xx retried with jittered exponential backoff, a few more times
            // than the default: a flood of findings counts on one item.
            let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
                .retry_config(
                    aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(6),
                )
                .build();
            DynamoLedger::new(aws_sdk_dynamodb::Client::from_conf(config), table)
        });
        let alerts = config.alert_topic_arn.clone().map(|topic| {
            Alerting::new(
                SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), topic),
                Deduper::new(config.alert_min_severity, config.alert_suppress),
                ledger.clone().map(|book| Incidents {
                    book,
                    timing: config.incidents,
                }),
                SystemClock,
            )
        });
        let region = sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.as_ref().to_owned());
        let raw = config.raw_messages.clone().map(|(bucket, prefix)| {
            S3RawMessages::new(aws_sdk_s3::Client::new(&sdk), bucket, prefix)
        });
        let objects = S3Objects::new(aws_sdk_s3::Client::new(&sdk), MAX_REPORT_OBJECT);
        let rows = match &config.rows {
            RowsTarget::Off => Rows::Off(NoRows),
            RowsTarget::Direct { bucket } => {
                Rows::Direct(S3Rows::new(aws_sdk_s3::Client::new(&sdk), bucket.clone()))
            }
            RowsTarget::Firehose { stream } => Rows::Firehose(FirehoseRows::new(
                aws_sdk_firehose::Client::new(&sdk),
                stream.clone(),
            )),
        };
        Ok(Self {
            rows,
            objects,
            ledger,
            config,
            function,
            facts,
            directory,
            scope,
            sink: (LogSink, alerts),
            sesv2,
            region,
            raw,
        })
    }

    pub fn ports(&self) -> Ports<'_, Lookups, Directory> {
        Ports {
            facts: &self.facts,
            directory: &self.directory,
        }
    }

    /// Prints the invocation's EMF documents to stdout, where CloudWatch Logs picks them up.
    pub fn emit_metrics(&self, processed: &Processed) {
        let namespace = &self.config.metrics_namespace;
        let now = now_ms();
        for line in processed
            .metrics
            .emf(namespace, self.function, now)
            .into_iter()
            .chain(processed.canary.emf(namespace, self.function, now))
        {
            println!("{line}");
        }
        self.emit_sink_metrics();
    }

    /// Prints how many findings were alerted without their incident, when any were.
    pub fn emit_sink_metrics(&self) {
        let count = self
            .sink
            .1
            .as_ref()
            .map_or(0, SnsAlerting::take_incident_errors);
        if let Some(line) = metrics::incident_errors(
            &self.config.metrics_namespace,
            self.function,
            count,
            now_ms(),
        ) {
            println!("{line}");
        }
    }

    /// Prints a canary run's EMF documents.
    pub fn emit_canary_metrics(&self, counts: &CanaryCounts) {
        for line in counts.emf(&self.config.metrics_namespace, self.function, now_ms()) {
            println!("{line}");
        }
        self.emit_sink_metrics();
    }

    /// Prints a reports invocation's EMF documents.
    pub fn emit_report_metrics(&self, counts: &ReportCounts) {
        for line in counts.emf(&self.config.metrics_namespace, self.function, now_ms()) {
            println!("{line}");
        }
        self.emit_sink_metrics();
    }

    /// Prints an audit run's EMF documents, honest about what it could not judge.
    pub fn emit_audit_metrics(&self, run: &AuditRun) {
        for line in metrics::audit_emf(
            &self.config.metrics_namespace,
            self.function,
            &run.counts(),
            now_ms(),
        ) {
            println!("{line}");
        }
        self.emit_sink_metrics();
    }
}

/// The time now, in whole seconds since the Unix epoch (what the state table stores).
pub fn now_seconds() -> u64 {
    SystemClock.now()
}
