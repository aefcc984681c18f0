//! The digest Lambda, on a weekly schedule: the last full week's figures from the daily
//! rollups, the incidents still open and every monitored identity's SES state, mailed as one
//! digest (HTML and text) through SESv2 `SendEmail` (`flow::digest`). It always sends: a
//! quiet week says so. Wiring only (see `wiring` and the core's `edge::config`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use ses_dmarc_monitor::flow::digest::{self, DigestPorts, DigestSettings};
use ses_dmarc_monitor::ports::directory::IdentityLister;
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
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let (wiring, sender) = (&wiring, &sender);
        async move {
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
            let ports = DigestPorts {
                rollups: ledger,
                incidents: ledger,
                directory: &wiring.directory,
                mailer: &wiring.sesv2,
            };
            let sent = digest::run(now_seconds(), ports, &settings)
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
