//! The reports Lambda: receivers' DMARC aggregate and TLS reports, stored in S3 by a receipt
//! rule's S3 action, one invocation per stored message. Wiring only (see
//! the package's `serve`, and the core's `edge::config` for the environment it reads).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ses_dmarc_monitor_lambda::serve::serve(ses_dmarc_monitor_lambda::serve::Function::Reports).await
}
