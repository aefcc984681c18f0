//! The audit Lambda, on two EventBridge schedules: the audit's (every SES identity's MAIL
//! FROM, DKIM and DMARC set-up checked against DNS, and its domain's bulk-sender readiness
//! unless `BULK_SENDER=off`, after the incident sweep:
//! `flow::audit::audit`) and the sweep's own, more frequent one (input `{"sweep": true}`:
//! `flow::audit::sweep`). A run that reaches its deadline records where it stopped in the
//! state table, and the next continues there. Wiring only (see `wiring` and the core's `edge::config`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use ses_dmarc_monitor::edge::clock::SystemClock;
use ses_dmarc_monitor::flow::audit::{self, Bounds, Watching};
use ses_dmarc_monitor_lambda::diagnostic::diagnostic;
use ses_dmarc_monitor_lambda::wiring::{Lookups, Wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ses_dmarc_monitor::edge::config::init_tracing();
    let wiring = Wiring::from_env("audit").await?;
    let Lookups::Dns(dns) = &wiring.facts else {
        return Err("DNS_RESOLVER=off: the audit checks DNS and needs a resolver".into());
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let wiring = &wiring;
        async move {
            let watching = Watching {
                scope: &wiring.scope,
                canary: !wiring.config.settings.canary_addresses.is_empty(),
                bulk_sender: wiring.config.bulk_sender,
            };
            if event.payload.get("sweep") == Some(&serde_json::Value::Bool(true)) {
                let result = Box::pin(audit::sweep(&wiring.sesv2, watching, &wiring.sink)).await;
                wiring.emit_sink_metrics();
                return result.map_err(|error| diagnostic(&error));
            }
            let bounds = Bounds {
                clock: &SystemClock,
                deadline: Some(event.context.deadline / 1000),
                cursor: &wiring.ledger,
                at_once: audit::AT_ONCE,
            };
            // Boxed: the audit future is deep (see the receipt function).
            let (run, result) = Box::pin(audit::audit(
                &wiring.sesv2,
                &wiring.directory,
                dns.as_ref(),
                watching,
                &wiring.sink,
                &wiring.region,
                bounds,
                if wiring.config.bulk_sender {
                    audit::Readiness::On {
                        rollups: &wiring.ledger,
                    }
                } else {
                    audit::Readiness::Off
                },
            ))
            .await;
            wiring.emit_audit_metrics(&run);
            result.map_err(|error| diagnostic(&error))
        }
    }))
    .await
}
