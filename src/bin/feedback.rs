//! The feedback Lambda: SNS events carrying SES bounce, complaint, delivery and
//! event-publishing notifications. Wiring only; configuration is read once (see `config`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use ses_dmarc_monitor::dns::DnsFacts;
use ses_dmarc_monitor::handler;
use ses_dmarc_monitor::pipeline::Ports;
use ses_dmarc_monitor::sink::LogSink;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ses_dmarc_monitor::config::init_tracing();
    let (settings, directory) = ses_dmarc_monitor::config::from_env(|k| std::env::var(k).ok())?;
    // A topic may also carry `Received` notifications; they get the receipt analysis.
    let facts = DnsFacts::system()?;
    let sink = LogSink;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let ports = Ports {
            facts: &facts,
            directory: &directory,
        };
        let (sink, settings) = (&sink, &settings);
        async move {
            handler::feedback(event.payload, ports, sink, settings).await?;
            Ok::<_, Error>(())
        }
    }))
    .await
}
