//! The feedback Lambda: SNS events carrying SES bounce, complaint, delivery and
//! event-publishing notifications. Wiring only (see the package's `serve`, and the core's `edge::config`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ses_dmarc_monitor_lambda::serve::serve(ses_dmarc_monitor_lambda::serve::Function::Feedback)
        .await
}
