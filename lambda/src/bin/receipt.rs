//! The receipt Lambda: SES receipt-rule events (Lambda action, or SNS action). Wiring only
//! (see the package's `serve`, and the core's `edge::config` for the environment it reads).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ses_dmarc_monitor_lambda::serve::serve(ses_dmarc_monitor_lambda::serve::Function::Receipt).await
}
