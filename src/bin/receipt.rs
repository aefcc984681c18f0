//! The receipt Lambda: SES receipt-rule events (Lambda action, or SNS action). Wiring only
//! (see `edge::lambda::serve`, and `edge::config` for the environment it reads).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ses_dmarc_monitor::edge::lambda::serve::serve(
        ses_dmarc_monitor::edge::lambda::serve::Function::Receipt,
    )
    .await
}
