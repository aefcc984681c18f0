//! The one loop the receipt, feedback, reports and canary functions share: read the configuration
//! and build the clients once per cold start, then hand each event to the function's
//! handler, print its metrics, and answer the runtime (a failure as a [`Diagnostic`] that
//! keeps its causes).

use crate::diagnostic::diagnostic;
use crate::wiring::{Wiring, now_seconds};
use aws_lambda_events::event::ses::SimpleEmailDisposition;
use aws_lambda_events::event::sqs::SqsBatchResponse;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::value::RawValue;
use ses_dmarc_monitor::edge::config::init_tracing;
use ses_dmarc_monitor::flow::analysis::Inbound;
use ses_dmarc_monitor::flow::canary::{self, CanaryPorts, CanarySettings};
use ses_dmarc_monitor::flow::feedback::{self, FeedbackAnswer};
use ses_dmarc_monitor::flow::receipt;
use ses_dmarc_monitor::flow::reports::{self, ReportPorts, ReportSettings};
use ses_dmarc_monitor::flow::rollups;

/// Which function a binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// SES receipt rule (Lambda action) or SNS `Received` notifications.
    Receipt,
    /// SES feedback notifications, through SNS.
    Feedback,
    /// Receivers' reports, stored in S3 by a receipt rule.
    Reports,
    /// The canary, on a schedule: probes sent, missing ones reported.
    Canary,
}

impl Function {
    /// The name metrics carry in their `Function` dimension.
    pub fn name(self) -> &'static str {
        match self {
            Self::Receipt => "receipt",
            Self::Feedback => "feedback",
            Self::Reports => "reports",
            Self::Canary => "canary",
        }
    }
}

/// What a function answers: the receipt rule's disposition, an SQS partial batch response,
/// or nothing.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Answer {
    Disposition(SimpleEmailDisposition),
    Batch(SqsBatchResponse),
    Acknowledged,
}

/// Serves `function` until the runtime stops.
pub async fn serve(function: Function) -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let wiring = Wiring::from_env(function.name()).await?;
    let canary_to = wiring.config.settings.canary_addresses.first().cloned();
    if function == Function::Canary && (canary_to.is_none() || wiring.ledger.is_none()) {
        return Err("CANARY_ADDRESS and STATE_TABLE: the canary function needs the address its probes go to and the table it records them in".into());
    }
    let canary_settings = CanarySettings {
        monitored: wiring.config.monitored_domains.as_deref(),
        to: canary_to.as_deref().unwrap_or_default(),
        from_local_part: &wiring.config.canary.from_local_part,
        deadline: wiring.config.canary.deadline.as_secs(),
        configuration_set: wiring.config.canary.configuration_set.as_deref(),
        region: &wiring.region,
    };
    let report_settings = ReportSettings {
        analysis: wiring.config.settings.clone(),
        unknown_source_threshold: wiring.config.unknown_source_threshold,
        trusted_reporters: wiring.config.trusted_reporters.clone(),
        findings_per_reporter_day: wiring.config.report_findings_per_day,
        services: std::sync::Arc::clone(&wiring.config.services),
        // SES adds its Authentication-Results to every message it stores.
        require_authentication: true,
        ..ReportSettings::default()
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let (wiring, report_settings, canary_settings) =
            (&wiring, &report_settings, &canary_settings);
        async move {
            let bytes = event.payload.get().as_bytes();
            let (ports, scope, sink, settings) = (
                wiring.ports(),
                &wiring.scope,
                &wiring.sink,
                &wiring.config.settings,
            );
            // Boxed: the analysis future is deep, and the runtime's own nesting would exceed
            // the compiler's layout depth otherwise.
            match function {
                Function::Receipt => {
                    let inbound = Inbound {
                        raw: &wiring.raw,
                        probes: &wiring.ledger,
                        scope,
                    };
                    let mut invocation = Box::pin(receipt::receipt(
                        bytes,
                        ports,
                        inbound,
                        sink,
                        settings,
                        now_seconds(),
                    ))
                    .await;
                    invocation.processed.canary.state_errors += Box::pin(rollups::processed(
                        &invocation.processed,
                        &wiring.ledger,
                        now_seconds(),
                    ))
                    .await;
                    wiring.emit_metrics(&invocation.processed);
                    invocation
                        .result
                        .map(Answer::Disposition)
                        .map_err(|error| diagnostic(&error))
                }
                Function::Feedback => {
                    let mut invocation =
                        Box::pin(feedback::feedback(bytes, ports, scope, sink, settings)).await;
                    invocation.processed.canary.state_errors += Box::pin(rollups::processed(
                        &invocation.processed,
                        &wiring.ledger,
                        now_seconds(),
                    ))
                    .await;
                    wiring.emit_metrics(&invocation.processed);
                    invocation
                        .result
                        .map(|answer| match answer {
                            FeedbackAnswer::Acknowledged => Answer::Acknowledged,
                            FeedbackAnswer::Batch(batch) => Answer::Batch(batch),
                        })
                        .map_err(|error| diagnostic(&error))
                }
                Function::Reports => {
                    let ports = ReportPorts {
                        objects: &wiring.objects,
                        ledger: &wiring.ledger,
                        directory: &wiring.directory,
                        scope,
                        sink,
                        rollups: &wiring.ledger,
                        rows: &wiring.rows,
                    };
                    let clock = reports::Clockwork {
                        now: now_seconds(),
                        deadline: event.context.deadline / 1000,
                    };
                    let invocation =
                        Box::pin(reports::reports(bytes, ports, report_settings, clock)).await;
                    wiring.emit_report_metrics(&invocation.counts);
                    invocation
                        .result
                        .map(|()| Answer::Acknowledged)
                        .map_err(|error| diagnostic(&error))
                }
                Function::Canary => {
                    let ports = CanaryPorts {
                        lister: &wiring.sesv2,
                        directory: &wiring.directory,
                        probes: &wiring.ledger,
                        sender: &wiring.sesv2,
                        sink,
                    };
                    let (mut run, result) =
                        Box::pin(canary::canary(ports, canary_settings, now_seconds())).await;
                    run.counts.state_errors +=
                        Box::pin(rollups::canary(&run.counts, &wiring.ledger, now_seconds())).await;
                    wiring.emit_canary_metrics(&run.counts);
                    result
                        .map(|()| Answer::Acknowledged)
                        .map_err(|error| diagnostic(&error))
                }
            }
        }
    }))
    .await
}
