//! The digest Lambda, on a weekly schedule: the last full week's figures from the daily
//! rollups, the incidents still open and every monitored identity's SES state, mailed as one
//! digest (HTML and text) through SESv2 `SendEmail` (`flow::digest`). It always sends: a
//! quiet week says so. The scheduled event carries nothing; `{"week_of": "YYYY-MM-DD"}`
//! sends the digest of the ISO week holding that day instead (a week to send again).
//! Wiring only (see `wiring` and the core's `edge::config`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use ses_dmarc_monitor::flow::digest::{self, DigestPorts, DigestSettings};
use ses_dmarc_monitor::judge::digest::{DAY, WEEK};
use ses_dmarc_monitor::ports::directory::IdentityLister;
use ses_dmarc_monitor::say::calendar::parse_utc_date;
use ses_dmarc_monitor_lambda::diagnostic::diagnostic;
use ses_dmarc_monitor_lambda::wiring::{Wiring, now_seconds};

/// Weeks before the digest's week read as history: a source not seen in them is new.
const HISTORY_WEEKS: u64 = 4;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ses_dmarc_monitor::edge::config::init_tracing();
    let wiring = Wiring::from_env("digest").await?;
    let Some(sender) = wiring.config.digest_sender.clone() else {
        return Err("DIGEST_SENDER: the digest function needs the address it mails from".into());
    };
    if wiring.config.digest_recipients.is_empty() {
        return Err(
            "DIGEST_RECIPIENTS: the digest function needs the addresses it mails to".into(),
        );
    }
    let Some(ledger) = &wiring.ledger else {
        return Err("STATE_TABLE: the digest reads the daily rollups kept there".into());
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (wiring, sender) = (&wiring, &sender);
        async move {
            let now = match event.payload.get("week_of") {
                None => now_seconds(),
                Some(day) => week_after(day).ok_or_else(|| lambda_runtime::Diagnostic {
                    error_type: "PoisonEvent".into(),
                    error_message: format!("week_of {day} is not a date (YYYY-MM-DD)"),
                })?,
            };
            // The domains listed even in a quiet week: those the user monitors, else the
            // account's verified domain identities (none when they cannot be listed: the
            // digest then lists the domains its figures name).
            let monitored = match &wiring.config.monitored_domains {
                Some(domains) => domains.clone(),
                None => wiring
                    .sesv2
                    .verified_domains()
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(error = %error, "the account's domains could not be listed");
                        Vec::new()
                    }),
            };
            let settings = DigestSettings {
                sender: sender.clone(),
                recipients: wiring.config.digest_recipients.clone(),
                monitored,
                history_weeks: HISTORY_WEEKS,
                configuration_set: None,
            };
            // Tenants are listed by the identity's ARN: this function's own names the account.
            let lister = wiring
                .sesv2
                .with_account_of(&event.context.invoked_function_arn);
            let ports = DigestPorts {
                rollups: ledger,
                incidents: ledger,
                directory: &wiring.directory,
                lister: &lister,
                mailer: &wiring.sesv2,
            };
            let sent = digest::run(now, ports, &settings)
                .await
                .map_err(|error| diagnostic(&error))?;
            Ok::<_, lambda_runtime::Diagnostic>(serde_json::json!({
                "subject": sent.subject,
                "message_id": sent.message_id,
                "domains": sent.domains,
                "action_items": sent.action_items,
            }))
        }
    }))
    .await
}

/// A moment in the week after the one holding `day`: the digest made then is that week's.
fn week_after(day: &serde_json::Value) -> Option<u64> {
    let start = parse_utc_date(day.as_str()?)?;
    // Monday of that ISO week (1970-01-01 was a Thursday), then a week on.
    let days = start / DAY;
    let monday = days.saturating_sub((days + 3) % 7) * DAY;
    Some(monday + WEEK)
}
