//! The feedback Lambda: SNS events carrying SES bounce, complaint, delivery and
//! event-publishing notifications. Wiring only (see `lambda::Wiring` and `config`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;
use ses_dmarc_monitor::edge::lambda::handler;
use ses_dmarc_monitor::edge::lambda::wiring::Wiring;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ses_dmarc_monitor::edge::config::init_tracing();
    let wiring = Wiring::from_env("feedback").await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let wiring = &wiring;
        async move {
            // Boxed: the analysis future is deep, and the runtime's own nesting would exceed
            // the compiler's layout depth otherwise.
            let invocation = Box::pin(handler::feedback(
                event.payload.get().as_bytes(),
                wiring.ports(),
                &wiring.scope,
                &wiring.sink,
                &wiring.config.settings,
            ))
            .await;
            wiring.emit_metrics(&invocation.processed);
            Ok::<_, Error>(invocation.result?)
        }
    }))
    .await
}
