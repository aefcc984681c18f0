//! Configuration the Lambda functions read from their environment, once per cold start,
//! validated so that a bad value stops the cold start with a message naming the variable; and
//! the JSON log setup they share.
//!
//! Every variable is declared once, in [`VARIABLES`] (name, default, meaning, and which
//! functions the stack sets it for); the docs' table is rendered from it and tests hold the
//! docs, the template and what [`from_env`] reads against it.

use crate::flow::analysis::Settings;
use crate::judge::findings::Severity;
use crate::judge::incident::Timing;
use crate::judge::source::Services;
use crate::read::domain::normalize;
use crate::read::identity_state::MailFromExpectations;
use crate::read::keyword::UnknownKeyword;
use std::sync::Arc;
use std::time::Duration;

/// One environment variable the functions read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    /// The value when it is unset or empty, in words.
    pub default: &'static str,
    pub meaning: &'static str,
    /// Whether the stack (template.yaml) sets it; the others are for local runs and tuning.
    pub set_by_stack: bool,
}

const fn variable(
    name: &'static str,
    default: &'static str,
    meaning: &'static str,
    set_by_stack: bool,
) -> Variable {
    Variable {
        name,
        default,
        meaning,
        set_by_stack,
    }
}

/// Every variable the functions read: the one list. `from_env` reads only these
/// (`every_variable_read_is_declared`), and the docs' table is rendered from it.
pub const VARIABLES: [Variable; 34] = [
    variable(
        "ALERT_TOPIC_ARN",
        "none: findings are only logged",
        "SNS topic the alerts go to",
        true,
    ),
    variable(
        "ALERT_MIN_SEVERITY",
        "`warning`",
        "`info`, `warning` or `critical`: the least severe finding that alerts",
        true,
    ),
    variable(
        "ALERT_SUPPRESS_SECONDS",
        "`3600`",
        "without the state table: one alert per `(kind, domain)` per window, per warm container (VDM advice also per recommendation type, a pause per paused resource)",
        true,
    ),
    variable(
        "INCIDENT_REMIND_HOURS",
        "`6`",
        "with the state table: how often an open incident is reminded of (1 to 720)",
        true,
    ),
    variable(
        "INCIDENT_QUIET_HOURS",
        "`24`",
        "with the state table: how long an incident no check can confirm over must be quiet to be resolved (1 to 720)",
        true,
    ),
    variable(
        "INCIDENT_REPORT_QUIET_HOURS",
        "`72`",
        "with the state table: the same for incidents found in receivers' reports, which come once a day or less often: longer than the reporting interval (25 to 720)",
        true,
    ),
    variable(
        "MONITORED_DOMAINS",
        "the account's verified SES domain identities",
        "comma-separated From domains to alert on (and their subdomains)",
        true,
    ),
    variable(
        "MAIL_FROM_DOMAINS",
        "none",
        "`example.com=mail.example.com,…`: expected custom MAIL FROM domains, beside what SESv2 says",
        true,
    ),
    variable(
        "IDENTITY_LOOKUP",
        "`sesv2`",
        "`off`: no SESv2 calls, `MAIL_FROM_DOMAINS` only",
        false,
    ),
    variable(
        "BULK_SENDER",
        "`on`",
        "`off`: the audit does not judge bulk-sender readiness ([bulk senders](bulk-senders.md)) (audit function)",
        true,
    ),
    variable(
        "IDENTITY_CACHE_SECONDS",
        "`300`",
        "how long identity state and the identity list are kept",
        true,
    ),
    variable(
        "TRUSTED_AUTHSERV_IDS",
        "`amazonses.com`",
        "whose `Authentication-Results` count",
        true,
    ),
    variable(
        "DNS_RESOLVER",
        "`system`",
        "`system` (`/etc/resolv.conf`), `IP:PORT`, or `off` (no lookups: the public suffix list, DMARC policies unknown)",
        false,
    ),
    variable(
        "DNS_BUDGET_SECONDS",
        "`10`",
        "the DNS work one record may cause: half for the DMARC policies, half for re-verification; at most 8 domains looked up",
        false,
    ),
    variable(
        "EXPECTED_TOPIC_ARNS",
        "any",
        "comma-separated SNS topics records may come through; a record from another topic is refused (logged, counted)",
        true,
    ),
    variable(
        "RAW_MESSAGE_BUCKET",
        "none",
        "where the receipt rule's S3 action stores each message: the receipt function reads it to re-verify DKIM and SPF",
        true,
    ),
    variable(
        "RAW_MESSAGE_PREFIX",
        "empty",
        "the key prefix of those messages (object `<prefix><message id>`)",
        true,
    ),
    variable(
        "STATE_TABLE",
        "none: alerts are de-duplicated per container, reports are not de-duplicated, every failing source is unknown, no canary",
        "the DynamoDB state table: incidents, reports counted, sources seen, probes",
        true,
    ),
    variable(
        "UNKNOWN_SOURCE_THRESHOLD",
        "`10`",
        "messages a source not seen before must fail DMARC with before `report_unknown_source` (reports function)",
        true,
    ),
    variable(
        "TRUSTED_REPORTERS",
        "none",
        "comma-separated domains whose DMARC-passing mail is believed to carry reports whatever reporter they name (a receiver that mails reports from another domain than the one it names); otherwise the From must be in the reporter's organization (reports function)",
        true,
    ),
    variable(
        "REPORT_FINDINGS_PER_DAY",
        "`5`",
        "reports one reporter may add findings from, per monitored domain and UTC day; the rest are counted as `ReportFindingsDropped` (reports function)",
        true,
    ),
    variable(
        "KNOWN_SERVICES",
        "the bundled list",
        "`domain=Service name,…`: sending services to recognize besides the bundled list, by a domain they sign or send from (reports and digest functions)",
        true,
    ),
    variable(
        "DIGEST_SENDER",
        "none: the digest function refuses to run",
        "the weekly digest's From address, at a verified SES identity (digest function)",
        true,
    ),
    variable(
        "DIGEST_RECIPIENTS",
        "none: the digest function refuses to run",
        "comma-separated addresses the weekly digest goes to (digest function)",
        true,
    ),
    variable(
        "CANARY_ADDRESS",
        "none: no canary",
        "the canary address(es): the canary sends its probes to the first; the receipt function judges mail to them only when it is a probe the canary recorded (needs `STATE_TABLE`)",
        true,
    ),
    variable(
        "CANARY_FROM_LOCAL_PART",
        "`dmarc-canary`",
        "the probes' sender, `<local part>@<identity>` (canary function)",
        true,
    ),
    variable(
        "CANARY_INTERVAL_MINUTES",
        "`10`",
        "how often the canary runs (its schedule; this sets the default deadline), 1 to 1440",
        true,
    ),
    variable(
        "CANARY_DEADLINE_MINUTES",
        "two intervals",
        "how long a probe may take before `canary_missing` (1 to 1440)",
        true,
    ),
    variable(
        "CANARY_CONFIGURATION_SET",
        "none",
        "the configuration set probes are sent with, so that their feedback flows as for real mail",
        true,
    ),
    variable(
        "REPORT_ROWS",
        "`off`",
        "`off`, `direct` (one gzip NDJSON object per report under `rows/` in `REPORT_ROWS_BUCKET`) or `firehose` (every row to `REPORT_ROWS_STREAM`): where the reports function writes each believed, newly counted report's rows",
        true,
    ),
    variable(
        "REPORT_ROWS_BUCKET",
        "none",
        "the bucket the rows go to in `direct` mode (the report bucket)",
        true,
    ),
    variable(
        "REPORT_ROWS_STREAM",
        "none",
        "the Firehose stream the rows go to in `firehose` mode",
        true,
    ),
    variable(
        "METRICS_NAMESPACE",
        "`SesDmarcMonitor`",
        "CloudWatch namespace of the EMF metrics",
        true,
    ),
    variable("RUST_LOG", "`info`", "log filter", true),
];

/// The docs' table of [`VARIABLES`], as Markdown.
pub fn variables_table() -> String {
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for v in &VARIABLES {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            v.name, v.default, v.meaning
        ));
    }
    table
}

/// Why the environment is not usable; the function refuses to start rather than guess.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

/// Everything a Lambda function reads from its environment.
#[derive(Debug)]
pub struct Config {
    /// The analysis settings, `MAIL_FROM_DOMAINS` among them.
    pub settings: Settings,
    pub alert_topic_arn: Option<String>,
    pub alert_min_severity: Severity,
    pub alert_suppress: Duration,
    pub identity_cache: Duration,
    /// The DNS work one record may cause, in time (`DNS_BUDGET_SECONDS`, default 10).
    pub dns_budget: Duration,
    /// The bucket and key prefix where the receipt rule's S3 action stores raw messages
    /// (`RAW_MESSAGE_BUCKET`, `RAW_MESSAGE_PREFIX`); `None` without a bucket.
    pub raw_messages: Option<(String, String)>,
    pub identity_lookup: bool,
    /// `BULK_SENDER`: whether the audit judges bulk-sender readiness (default on).
    pub bulk_sender: bool,
    /// `None`: the account's verified domain identities.
    pub monitored_domains: Option<Vec<String>>,
    pub metrics_namespace: String,
    pub dns: DnsResolver,
    /// The DynamoDB state table (`STATE_TABLE`).
    pub state_table: Option<String>,
    /// `UNKNOWN_SOURCE_THRESHOLD`.
    pub unknown_source_threshold: u64,
    /// `TRUSTED_REPORTERS`: normalized domains.
    pub trusted_reporters: Vec<String>,
    /// `REPORT_FINDINGS_PER_DAY`.
    pub report_findings_per_day: u64,
    /// The canary function's (`CANARY_*`); its addresses are in `settings.canary_addresses`.
    pub canary: CanaryConfig,
    /// `INCIDENT_REMIND_HOURS`, `INCIDENT_QUIET_HOURS` and `INCIDENT_REPORT_QUIET_HOURS`.
    pub incidents: Timing,
    /// The bundled services and `KNOWN_SERVICES`.
    pub services: Arc<Services>,
    /// `DIGEST_SENDER`.
    pub digest_sender: Option<String>,
    /// `DIGEST_RECIPIENTS`, lower case.
    pub digest_recipients: Vec<String>,
    /// `REPORT_ROWS` and where it says.
    pub rows: RowsTarget,
}

/// Where the reports function writes report rows (`REPORT_ROWS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowsTarget {
    Off,
    /// One object per report in this bucket (`REPORT_ROWS_BUCKET`).
    Direct {
        bucket: String,
    },
    /// Every row to this Firehose stream (`REPORT_ROWS_STREAM`).
    Firehose {
        stream: String,
    },
}

fn rows_target(var: &impl Fn(&str) -> Option<String>) -> Result<RowsTarget, ConfigError> {
    let named = |variable: &'static str, mode: &str| {
        var(variable)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| error(variable, format!("REPORT_ROWS={mode} needs it")))
    };
    let mode = var("REPORT_ROWS").unwrap_or_default();
    match mode.trim().to_ascii_lowercase().as_str() {
        "" | "off" => Ok(RowsTarget::Off),
        "direct" => Ok(RowsTarget::Direct {
            bucket: named("REPORT_ROWS_BUCKET", "direct")?,
        }),
        "firehose" => Ok(RowsTarget::Firehose {
            stream: named("REPORT_ROWS_STREAM", "firehose")?,
        }),
        other => Err(error(
            "REPORT_ROWS",
            format!("{other:?} is not off, direct or firehose"),
        )),
    }
}

/// How the canary sends its probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryConfig {
    /// `CANARY_FROM_LOCAL_PART`.
    pub from_local_part: String,
    /// `CANARY_DEADLINE_MINUTES`, by default twice `CANARY_INTERVAL_MINUTES`.
    pub deadline: Duration,
    /// `CANARY_CONFIGURATION_SET`.
    pub configuration_set: Option<String>,
}

/// An address as the functions send to or from: `local@domain`, the local part as
/// [`is_local_part`] takes it.
fn is_address(text: &str) -> bool {
    text.rsplit_once('@')
        .is_some_and(|(local, domain)| is_local_part(local) && normalize(domain).is_some())
}

/// An address's local part as the canary writes it: RFC 5322 dot-atom text, no quoting.
fn is_local_part(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && !text.starts_with('.')
        && !text.ends_with('.')
        && !text.contains("..")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
}

fn canary(
    var: &impl Fn(&str) -> Option<String>,
    settings: &mut Settings,
    state_table: Option<&str>,
) -> Result<CanaryConfig, ConfigError> {
    let text = |name: &str| {
        var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    if let Some(list) = text("CANARY_ADDRESS") {
        for address in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            if !is_address(address) {
                return Err(error(
                    "CANARY_ADDRESS",
                    format!("{address:?} is not an e-mail address"),
                ));
            }
            settings.canary_addresses.push(address.to_ascii_lowercase());
        }
        if state_table.is_none() {
            return Err(error(
                "CANARY_ADDRESS",
                "needs STATE_TABLE: probes are recognized by what the canary recorded there",
            ));
        }
    }
    let from_local_part = text("CANARY_FROM_LOCAL_PART").unwrap_or_else(|| "dmarc-canary".into());
    if !is_local_part(&from_local_part) {
        return Err(error(
            "CANARY_FROM_LOCAL_PART",
            format!("{from_local_part:?} is not the local part of an address"),
        ));
    }
    let minutes = |name: &'static str| -> Result<Option<u64>, ConfigError> {
        match text(name) {
            // 0 is the template's "the default".
            None => Ok(None),
            Some(value) => match value.parse::<u64>() {
                Ok(0) => Ok(None),
                Ok(n) if n <= 1440 => Ok(Some(n)),
                _ => Err(error(
                    name,
                    format!("{value:?} is not a whole number of minutes from 1 to 1440"),
                )),
            },
        }
    };
    let interval = minutes("CANARY_INTERVAL_MINUTES")?.unwrap_or(10);
    let deadline = minutes("CANARY_DEADLINE_MINUTES")?.unwrap_or(2 * interval);
    Ok(CanaryConfig {
        from_local_part,
        deadline: Duration::from_secs(deadline * 60),
        configuration_set: text("CANARY_CONFIGURATION_SET"),
    })
}

/// Where DNS answers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsResolver {
    System,
    Nameserver(std::net::SocketAddr),
    Off,
}

/// A setting on by default: `on` (its word for on, or unset) or `off`, in any case.
fn switch(
    var: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    on: &str,
) -> Result<bool, ConfigError> {
    match var(variable)
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
    {
        None => Ok(true),
        Some(text) if text == on => Ok(true),
        Some(text) if text == "off" => Ok(false),
        Some(other) => Err(error(variable, format!("{other:?} is not {on} or off"))),
    }
}

fn error(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
}

/// An SNS topic ARN, checked: `arn:<partition>:sns:<region>:<account>:<topic>`.
fn topic_arn(variable: &'static str, arn: &str) -> Result<String, ConfigError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty();
    if valid {
        Ok(arn.to_owned())
    } else {
        Err(error(
            variable,
            format!("{arn:?} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"),
        ))
    }
}

fn seconds(
    var: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    match var(variable).filter(|v| !v.trim().is_empty()) {
        None => Ok(Duration::from_secs(default)),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| {
                error(
                    variable,
                    format!("{text:?} is not a whole number of seconds"),
                )
            }),
    }
}

/// A whole number above zero (`what` names its unit in the error), or `default` when unset.
fn above_zero(
    var: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    what: &str,
    default: u64,
) -> Result<u64, ConfigError> {
    match var(variable)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
    {
        None => Ok(default),
        Some(text) => text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            error(
                variable,
                format!("{text:?} is not a whole number of {what} above zero"),
            )
        }),
    }
}

/// Comma-separated domains, each normalized; `None` when unset or empty.
fn domain_list(
    var: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(list) = var(variable).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            normalize(item).ok_or_else(|| error(variable, format!("{item:?} is not a domain")))
        })
        .collect::<Result<Vec<String>, ConfigError>>()
        .map(Some)
}

/// Reads the configuration from an environment lookup (`std::env::var` in the functions; a
/// map in tests).
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let mut settings = Settings::default();
    if let Some(ids) = var("TRUSTED_AUTHSERV_IDS") {
        settings.set_trusted_ids(ids.split(','));
    }
    if let Some(pairs) = var("MAIL_FROM_DOMAINS") {
        let mut expected = MailFromExpectations::default();
        for pair in pairs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            expected
                .add(pair)
                .map_err(|e| error("MAIL_FROM_DOMAINS", e.to_string()))?;
        }
        settings.expected = Arc::new(expected);
    }
    let alert_topic_arn = match var("ALERT_TOPIC_ARN").map(|a| a.trim().to_owned()) {
        None => None,
        Some(arn) if arn.is_empty() => None,
        Some(arn) => Some(topic_arn("ALERT_TOPIC_ARN", &arn)?),
    };
    if let Some(list) = var("EXPECTED_TOPIC_ARNS") {
        for arn in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            settings
                .expected_topics
                .push(topic_arn("EXPECTED_TOPIC_ARNS", arn)?);
        }
    }
    let alert_min_severity = match var("ALERT_MIN_SEVERITY").filter(|s| !s.trim().is_empty()) {
        None => Severity::Warning,
        Some(text) => text
            .parse()
            .map_err(|e: UnknownKeyword| error("ALERT_MIN_SEVERITY", e.to_string()))?,
    };
    let identity_lookup = switch(&var, "IDENTITY_LOOKUP", "sesv2")?;
    let bulk_sender = switch(&var, "BULK_SENDER", "on")?;
    let monitored_domains = domain_list(&var, "MONITORED_DOMAINS")?;
    let metrics_namespace = var("METRICS_NAMESPACE")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "SesDmarcMonitor".to_owned());
    let dns = match var("DNS_RESOLVER")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
    {
        None => DnsResolver::System,
        Some(text) if text.eq_ignore_ascii_case("system") => DnsResolver::System,
        Some(text) if text.eq_ignore_ascii_case("off") => DnsResolver::Off,
        Some(text) => DnsResolver::Nameserver(text.parse().map_err(|_| {
            error(
                "DNS_RESOLVER",
                format!("{text:?} is not system, off, or IP:PORT"),
            )
        })?),
    };
    let unknown_source_threshold = above_zero(&var, "UNKNOWN_SOURCE_THRESHOLD", "messages", 10)?;
    let trusted_reporters = domain_list(&var, "TRUSTED_REPORTERS")?.unwrap_or_default();
    let report_findings_per_day = above_zero(&var, "REPORT_FINDINGS_PER_DAY", "reports", 5)?;
    let state_table = var("STATE_TABLE")
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let canary = canary(&var, &mut settings, state_table.as_deref())?;
    let hours = |name: &'static str, default: u64, least: u64| -> Result<u64, ConfigError> {
        match var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
        {
            None => Ok(default * 3600),
            Some(text) => match text.parse::<u64>() {
                Ok(n) if (least..=720).contains(&n) => Ok(n * 3600),
                _ => Err(error(
                    name,
                    format!("{text:?} is not a whole number of hours from {least} to 720"),
                )),
            },
        }
    };
    let incidents = Timing {
        remind_every: hours("INCIDENT_REMIND_HOURS", 6, 1)?,
        quiet: hours("INCIDENT_QUIET_HOURS", 24, 1)?,
        // Reports cover a day: a quieter gap than that is the time between two of them.
        report_quiet: hours("INCIDENT_REPORT_QUIET_HOURS", 72, 25)?,
        ..Timing::default()
    };
    let services = match var("KNOWN_SERVICES").filter(|v| !v.trim().is_empty()) {
        None => Services::bundled(),
        Some(list) => {
            let mut services = (*Services::bundled()).clone();
            services
                .add_list(&list)
                .map_err(|e| error("KNOWN_SERVICES", e.to_string()))?;
            Arc::new(services)
        }
    };
    let address = |variable: &'static str, text: &str| -> Result<String, ConfigError> {
        let text = text.trim();
        if is_address(text) {
            Ok(text.to_owned())
        } else {
            Err(error(
                variable,
                format!("{text:?} is not an e-mail address"),
            ))
        }
    };
    let digest_sender = var("DIGEST_SENDER")
        .filter(|v| !v.trim().is_empty())
        .map(|v| address("DIGEST_SENDER", &v))
        .transpose()?;
    let digest_recipients = var("DIGEST_RECIPIENTS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| address("DIGEST_RECIPIENTS", a).map(|a| a.to_ascii_lowercase()))
        .collect::<Result<Vec<String>, ConfigError>>()?;
    let rows = rows_target(&var)?;
    Ok(Config {
        rows,
        services,
        digest_sender,
        digest_recipients,
        incidents,
        dns,
        state_table,
        canary,
        unknown_source_threshold,
        trusted_reporters,
        report_findings_per_day,
        settings,
        alert_topic_arn,
        alert_min_severity,
        alert_suppress: seconds(&var, "ALERT_SUPPRESS_SECONDS", 3600)?,
        identity_cache: seconds(&var, "IDENTITY_CACHE_SECONDS", 300)?,
        dns_budget: seconds(&var, "DNS_BUDGET_SECONDS", 10)?,
        raw_messages: var("RAW_MESSAGE_BUCKET")
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty())
            .map(|bucket| {
                let prefix = var("RAW_MESSAGE_PREFIX").unwrap_or_default();
                (bucket, prefix.trim().to_owned())
            }),
        identity_lookup,
        bulk_sender,
        monitored_domains,
        metrics_namespace,
    })
}

/// JSON logs, one object per line, as CloudWatch Logs ingests them, each with its time (UTC,
/// RFC 3339). The EMF metric lines are printed apart from this (`println!`), so no log filter
/// can drop them.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// What `from_env` asks for, given `set` (to reach the variables read only beside others).
    fn asked(set: &'static [(&'static str, &'static str)]) -> std::collections::BTreeSet<String> {
        let asked = std::sync::Mutex::new(std::collections::BTreeSet::new());
        let _ = from_env(|name: &str| {
            if let Ok(mut asked) = asked.lock() {
                asked.insert(name.to_owned());
            }
            env(set)(name)
        });
        asked.into_inner().unwrap_or_default()
    }

    #[test]
    fn every_variable_read_is_declared_and_every_declared_one_is_read() {
        let mut read = asked(&[]);
        read.extend(asked(&[
            ("RAW_MESSAGE_BUCKET", "raw"),
            ("STATE_TABLE", "t"),
        ]));
        read.extend(asked(&[("REPORT_ROWS", "direct")]));
        read.extend(asked(&[("REPORT_ROWS", "firehose")]));
        // RUST_LOG is read by the log filter (init_tracing), not by from_env.
        let declared: std::collections::BTreeSet<String> = VARIABLES
            .iter()
            .map(|v| v.name.to_owned())
            .filter(|name| name != "RUST_LOG")
            .collect();
        assert_eq!(read, declared);
    }

    #[test]
    fn defaults() {
        let config = from_env(env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.settings.trusted_ids(), ["amazonses.com"]);
        assert_eq!(config.alert_topic_arn, None);
        assert_eq!(config.alert_min_severity, Severity::Warning);
        assert_eq!(config.alert_suppress, Duration::from_secs(3600));
        assert_eq!(config.identity_cache, Duration::from_secs(300));
        assert_eq!(config.dns_budget, Duration::from_secs(10));
        assert_eq!(config.raw_messages, None);
        assert!(config.identity_lookup);
        assert!(config.bulk_sender);
        assert_eq!(config.monitored_domains, None);
        assert_eq!(config.metrics_namespace, "SesDmarcMonitor");
        assert_eq!(config.dns, DnsResolver::System);
        assert_eq!(config.state_table, None);
        assert_eq!(config.unknown_source_threshold, 10);
        assert!(config.settings.canary_addresses.is_empty());
        assert_eq!(config.canary.from_local_part, "dmarc-canary");
        assert_eq!(config.canary.deadline, Duration::from_secs(1200));
        assert_eq!(config.canary.configuration_set, None);
        assert_eq!(config.incidents, Timing::default());
        assert_eq!(config.rows, RowsTarget::Off);
    }

    #[test]
    fn report_rows_modes_and_what_each_needs() {
        let target = |set| from_env(env(set)).map(|c| c.rows);
        // Each mode with what it names; the mode's case does not matter.
        assert_eq!(
            target(&[
                ("REPORT_ROWS", "Direct"),
                ("REPORT_ROWS_BUCKET", " reports ")
            ])
            .ok(),
            Some(RowsTarget::Direct {
                bucket: "reports".into()
            })
        );
        assert_eq!(
            target(&[("REPORT_ROWS", "firehose"), ("REPORT_ROWS_STREAM", "rows")]).ok(),
            Some(RowsTarget::Firehose {
                stream: "rows".into()
            })
        );
        assert_eq!(
            target(&[("REPORT_ROWS", "off")]).ok(),
            Some(RowsTarget::Off)
        );
        // A mode without its bucket or stream, or an unknown mode: an error naming it.
        let failed = |set| target(set).err().map(|e| (e.variable, e.reason));
        assert_eq!(
            failed(&[("REPORT_ROWS", "direct")]),
            Some(("REPORT_ROWS_BUCKET", "REPORT_ROWS=direct needs it".into()))
        );
        assert_eq!(
            failed(&[("REPORT_ROWS", "firehose"), ("REPORT_ROWS_BUCKET", "b")]),
            Some(("REPORT_ROWS_STREAM", "REPORT_ROWS=firehose needs it".into()))
        );
        assert_eq!(
            failed(&[("REPORT_ROWS", "s3")]),
            Some((
                "REPORT_ROWS",
                "\"s3\" is not off, direct or firehose".into()
            ))
        );
    }

    #[test]
    fn reads_everything() {
        let config = from_env(env(&[
            ("TRUSTED_AUTHSERV_IDS", "mx.example.net, amazonses.com"),
            ("MAIL_FROM_DOMAINS", "example.com=mail.example.com, "),
            (
                "ALERT_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:111122223333:alerts",
            ),
            ("ALERT_MIN_SEVERITY", "Critical"),
            ("ALERT_SUPPRESS_SECONDS", "60"),
            ("IDENTITY_CACHE_SECONDS", "0"),
            ("IDENTITY_LOOKUP", "off"),
            ("BULK_SENDER", "Off"),
            ("MONITORED_DOMAINS", "Example.com., example.org"),
            ("METRICS_NAMESPACE", "Mail"),
            ("DNS_RESOLVER", "127.0.0.1:5353"),
            ("STATE_TABLE", " monitor-state "),
            ("UNKNOWN_SOURCE_THRESHOLD", "25"),
            ("CANARY_ADDRESS", "Canary@Inbound.Example.com, "),
            ("CANARY_FROM_LOCAL_PART", "probe"),
            ("CANARY_INTERVAL_MINUTES", "5"),
            ("INCIDENT_REMIND_HOURS", "2"),
            ("INCIDENT_QUIET_HOURS", "48"),
            ("INCIDENT_REPORT_QUIET_HOURS", "96"),
            ("CANARY_CONFIGURATION_SET", "monitored"),
            (
                "EXPECTED_TOPIC_ARNS",
                "arn:aws:sns:eu-west-1:111122223333:feedback, ",
            ),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.settings.trusted_ids(),
            ["mx.example.net", "amazonses.com"]
        );
        assert_eq!(
            config
                .settings
                .expected
                .covering("news.example.com")
                .map(|c| (c.identity, c.mail_from)),
            Some(("example.com".into(), "mail.example.com".into()))
        );
        assert_eq!(
            config.alert_topic_arn.as_deref(),
            Some("arn:aws:sns:eu-west-1:111122223333:alerts")
        );
        assert_eq!(config.alert_min_severity, Severity::Critical);
        assert_eq!(config.alert_suppress, Duration::from_secs(60));
        assert_eq!(config.identity_cache, Duration::ZERO);
        assert!(!config.identity_lookup);
        assert!(!config.bulk_sender);
        assert_eq!(
            config.monitored_domains,
            Some(vec!["example.com".to_owned(), "example.org".to_owned()])
        );
        assert_eq!(config.metrics_namespace, "Mail");
        assert_eq!(config.state_table.as_deref(), Some("monitor-state"));
        assert_eq!(config.unknown_source_threshold, 25);
        assert_eq!(
            config.settings.canary_addresses,
            ["canary@inbound.example.com"]
        );
        assert_eq!(
            config.canary,
            CanaryConfig {
                from_local_part: "probe".into(),
                deadline: Duration::from_secs(600),
                configuration_set: Some("monitored".into()),
            }
        );
        assert_eq!(
            config.incidents,
            Timing {
                remind_every: 2 * 3600,
                quiet: 48 * 3600,
                report_quiet: 96 * 3600,
                ..Timing::default()
            }
        );
        assert_eq!(
            config.settings.expected_topics,
            ["arn:aws:sns:eu-west-1:111122223333:feedback"]
        );
        assert_eq!(
            config.dns,
            DnsResolver::Nameserver("127.0.0.1:5353".parse().unwrap_or_else(|e| panic!("{e}")))
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&'static [(&'static str, &'static str)], &str)] = &[
            (
                &[("MAIL_FROM_DOMAINS", "example.com")],
                "MAIL_FROM_DOMAINS: \"example.com\" is not DOMAIN=MAIL_FROM_DOMAIN",
            ),
            (
                &[("ALERT_TOPIC_ARN", "arn:aws:sqs:us-east-1:111122223333:q")],
                "ALERT_TOPIC_ARN: \"arn:aws:sqs:us-east-1:111122223333:q\" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
            ),
            (
                &[("ALERT_TOPIC_ARN", "alerts")],
                "ALERT_TOPIC_ARN: \"alerts\" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
            ),
            (
                &[(
                    "EXPECTED_TOPIC_ARNS",
                    "arn:aws:sns:eu-west-1:111122223333:a,b",
                )],
                "EXPECTED_TOPIC_ARNS: \"b\" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
            ),
            (
                &[("ALERT_MIN_SEVERITY", "loud")],
                "ALERT_MIN_SEVERITY: \"loud\" is not one of info, warning, critical",
            ),
            (
                &[("ALERT_SUPPRESS_SECONDS", "1h")],
                "ALERT_SUPPRESS_SECONDS: \"1h\" is not a whole number of seconds",
            ),
            (
                &[("IDENTITY_CACHE_SECONDS", "-5")],
                "IDENTITY_CACHE_SECONDS: \"-5\" is not a whole number of seconds",
            ),
            (
                &[("IDENTITY_LOOKUP", "maybe")],
                "IDENTITY_LOOKUP: \"maybe\" is not sesv2 or off",
            ),
            (
                &[("MONITORED_DOMAINS", "example.com, not a domain")],
                "MONITORED_DOMAINS: \"not a domain\" is not a domain",
            ),
            (
                &[("UNKNOWN_SOURCE_THRESHOLD", "0")],
                "UNKNOWN_SOURCE_THRESHOLD: \"0\" is not a whole number of messages above zero",
            ),
            (
                &[("STATE_TABLE", "t"), ("CANARY_ADDRESS", "canary")],
                "CANARY_ADDRESS: \"canary\" is not an e-mail address",
            ),
            (
                &[("CANARY_ADDRESS", "canary@inbound.example.com")],
                "CANARY_ADDRESS: needs STATE_TABLE: probes are recognized by what the canary recorded there",
            ),
            (
                &[("CANARY_FROM_LOCAL_PART", "a b")],
                "CANARY_FROM_LOCAL_PART: \"a b\" is not the local part of an address",
            ),
            (
                &[("CANARY_DEADLINE_MINUTES", "2000")],
                "CANARY_DEADLINE_MINUTES: \"2000\" is not a whole number of minutes from 1 to 1440",
            ),
            (
                &[("INCIDENT_REMIND_HOURS", "0")],
                "INCIDENT_REMIND_HOURS: \"0\" is not a whole number of hours from 1 to 720",
            ),
            (
                // As short as a day: the next day's report would read as the end.
                &[("INCIDENT_REPORT_QUIET_HOURS", "24")],
                "INCIDENT_REPORT_QUIET_HOURS: \"24\" is not a whole number of hours from 25 to 720",
            ),
            (
                &[("CANARY_INTERVAL_MINUTES", "ten")],
                "CANARY_INTERVAL_MINUTES: \"ten\" is not a whole number of minutes from 1 to 1440",
            ),
        ];
        for (vars, expected) in cases {
            let message = from_env(env(vars)).err().map(|e| e.to_string());
            assert_eq!(message.as_deref(), Some(*expected));
        }
    }
}
