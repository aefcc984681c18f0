//! The receipt Lambda: wiring only. Configuration is read once, the DNS resolver built once and
//! shared across warm invocations.
//!
//! Environment: `TRUSTED_AUTHSERV_IDS` (comma-separated, default `amazonses.com`),
//! `MAIL_FROM_DOMAINS` (`example.com=mail.example.com,…`: identities with a custom MAIL FROM).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use ses_dmarc_monitor::dns::DnsFacts;
use ses_dmarc_monitor::pipeline::Settings;
use ses_dmarc_monitor::receipt::handle;
use ses_dmarc_monitor::sink::LogSink;

fn settings_from_env() -> Result<Settings, Error> {
    let mut settings = Settings::default();
    if let Ok(ids) = std::env::var("TRUSTED_AUTHSERV_IDS") {
        settings.set_trusted_ids(ids.split(','));
    }
    if let Ok(pairs) = std::env::var("MAIL_FROM_DOMAINS") {
        for pair in pairs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            settings.hints.add(pair).ok_or_else(|| {
                format!("MAIL_FROM_DOMAINS: {pair:?} is not DOMAIN=MAIL_FROM_DOMAIN")
            })?;
        }
    }
    Ok(settings)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();

    let settings = settings_from_env()?;
    let facts = DnsFacts::system()?;
    let sink = LogSink;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (facts, sink, settings) = (&facts, &sink, &settings);
        async move { Ok::<_, Error>(handle(event.payload, facts, sink, settings).await?) }
    }))
    .await
}
