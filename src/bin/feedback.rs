//! The feedback Lambda: SNS events carrying SES bounce, complaint, delivery and
//! event-publishing notifications. Wiring only (see `edge::lambda::serve` and `edge::config`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ses_dmarc_monitor::edge::lambda::serve::serve(
        ses_dmarc_monitor::edge::lambda::serve::Function::Feedback,
    )
    .await
}
