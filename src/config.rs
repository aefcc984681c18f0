//! Configuration the Lambda functions read from their environment, once per cold start, and
//! the JSON log setup they share.
//!
//! - `TRUSTED_AUTHSERV_IDS`: comma-separated authserv-ids (default `amazonses.com`).
//! - `MAIL_FROM_DOMAINS`: `example.com=mail.example.com,…`, identities with a custom MAIL FROM.
//! - `RUST_LOG`: log filter (default `info`).

use crate::identity::OfflineDirectory;
use crate::pipeline::Settings;

/// Why the environment is not usable; the function refuses to start rather than guess.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

/// Settings and the identities' expected MAIL FROM domains, from an environment lookup
/// (`std::env::var` in the functions; a map in tests).
pub fn from_env(
    var: impl Fn(&str) -> Option<String>,
) -> Result<(Settings, OfflineDirectory), ConfigError> {
    let mut settings = Settings::default();
    if let Some(ids) = var("TRUSTED_AUTHSERV_IDS") {
        settings.set_trusted_ids(ids.split(','));
    }
    let mut directory = OfflineDirectory::default();
    if let Some(pairs) = var("MAIL_FROM_DOMAINS") {
        for pair in pairs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            settings.hints.add(pair).ok_or_else(|| ConfigError {
                variable: "MAIL_FROM_DOMAINS",
                reason: format!("{pair:?} is not DOMAIN=MAIL_FROM_DOMAIN"),
            })?;
        }
        for (identity, mail_from) in &settings.hints.mail_from {
            directory.expect_mail_from(identity, mail_from);
        }
    }
    Ok((settings, directory))
}

/// JSON logs, one object per line, as CloudWatch Logs ingests them.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_rejects() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let (settings, _) = from_env(env(&[
            ("TRUSTED_AUTHSERV_IDS", "mx.example.net, amazonses.com"),
            ("MAIL_FROM_DOMAINS", "example.com=mail.example.com, "),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.trusted_ids(), ["mx.example.net", "amazonses.com"]);
        assert_eq!(
            settings.hints.custom_mail_from("news.example.com"),
            Some(("example.com", "mail.example.com"))
        );
        let error = from_env(env(&[("MAIL_FROM_DOMAINS", "example.com")])).err();
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some("MAIL_FROM_DOMAINS: \"example.com\" is not DOMAIN=MAIL_FROM_DOMAIN")
        );
    }
}
