//! The receipt Lambda: wiring only. Configuration is read once (see `config`), the DNS
//! resolver built once and shared across warm invocations.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use ses_dmarc_monitor::dns::DnsFacts;
use ses_dmarc_monitor::handler;
use ses_dmarc_monitor::pipeline::Ports;
use ses_dmarc_monitor::sink::LogSink;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ses_dmarc_monitor::config::init_tracing();
    let (settings, directory) = ses_dmarc_monitor::config::from_env(|k| std::env::var(k).ok())?;
    let facts = DnsFacts::system()?;
    let sink = LogSink;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let ports = Ports {
            facts: &facts,
            directory: &directory,
        };
        let (sink, settings) = (&sink, &settings);
        async move { Ok::<_, Error>(handler::receipt(event.payload, ports, sink, settings).await?) }
    }))
    .await
}
