//! The canary Lambda, on a schedule: a probe sent through SES from every monitored identity
//! to the canary address, and the probes that never arrived reported. Wiring only (see
//! the package's `serve`, and the core's `edge::config` for the environment it reads).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ses_dmarc_monitor_lambda::serve::serve(ses_dmarc_monitor_lambda::serve::Function::Canary).await
}
