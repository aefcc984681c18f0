//! The audit Lambda, on an EventBridge schedule: every SES identity's MAIL FROM, DKIM and
//! DMARC set-up checked against DNS. Wiring only (see `edge::lambda::wiring` and
//! `edge::config`).

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use ses_dmarc_monitor::edge::lambda::handler;
use ses_dmarc_monitor::edge::lambda::wiring::{Facts, Wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ses_dmarc_monitor::edge::config::init_tracing();
    let wiring = Wiring::from_env("audit").await?;
    let Facts::Dns(dns) = &wiring.facts else {
        return Err("DNS_RESOLVER=off: the audit checks DNS and needs a resolver".into());
    };
    lambda_runtime::run(service_fn(|_event: LambdaEvent<serde_json::Value>| {
        let wiring = &wiring;
        async move {
            // Boxed: the audit future is deep (see the receipt function).
            let (run, result) = Box::pin(handler::audit(
                &wiring.sesv2,
                &wiring.directory,
                dns,
                &wiring.scope,
                &wiring.sink,
                &wiring.region,
            ))
            .await;
            wiring.emit_audit_metrics(&run);
            result.map_err(Diagnostic::from)
        }
    }))
    .await
}
