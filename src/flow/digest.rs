//! The digest function's story: the last full week (Monday to Monday, UTC) from the daily
//! rollups, with the weeks before as history; the incidents still open; each monitored
//! identity's MAIL FROM and DKIM state and its SES tenants; made into one e-mail (HTML and
//! text) and sent to the recipients the user named. It always sends: a quiet week says so, and a day whose figures
//! could not be read is an action item, not a missing digest.

use crate::judge::digest::{Action, Digest, OpenIncident, Period};
use crate::ports::chain;
use crate::ports::directory::{IdentityDirectory, IdentityLister};
use crate::ports::incidents::IncidentBook;
use crate::ports::rollups::Rollups;
use crate::ports::sender::{Mail, Mailer, SendError};
use crate::say::digest;

/// What the digest is made of and sent as.
#[derive(Debug, Clone, Default)]
pub struct DigestSettings {
    /// The From address: an address at a verified SES identity.
    pub sender: String,
    pub recipients: Vec<String>,
    /// The domains the digest lists even without reports (`MONITORED_DOMAINS`).
    pub monitored: Vec<String>,
    /// Weeks before the period read as history (new sources, the change).
    pub history_weeks: u64,
    pub configuration_set: Option<String>,
}

/// What the digest function reaches the world through.
#[derive(Debug)]
pub struct DigestPorts<'a, R, I, D, L, M> {
    pub rollups: &'a R,
    pub incidents: &'a I,
    pub directory: &'a D,
    /// The SES tenants of each monitored identity, to group the digest by.
    pub lister: &'a L,
    pub mailer: &'a M,
}

/// The digest sent: its subject and SES's message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSent {
    pub subject: String,
    pub message_id: String,
    pub domains: usize,
    pub action_items: usize,
}

/// Why no digest went out. Lambda retries the invocation; the failure destination keeps it.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("the digest has no sender or no recipient: set DIGEST_SENDER and DIGEST_RECIPIENTS")]
    NotConfigured,
    #[error("the digest was not sent: {}", chain(.0))]
    Send(#[source] SendError),
}

/// Builds the digest of the week before `now` from what the ports hold.
pub async fn build<R, I, D, L, M>(
    now: u64,
    ports: &DigestPorts<'_, R, I, D, L, M>,
    settings: &DigestSettings,
) -> Digest
where
    R: Rollups,
    I: IncidentBook,
    D: IdentityDirectory,
    L: IdentityLister,
{
    let DigestPorts {
        rollups,
        incidents,
        directory,
        lister,
        ..
    } = ports;
    let period = Period::last_full_week(now);
    let mut digest = Digest::new(period);
    for domain in &settings.monitored {
        digest.expect_domain(domain);
    }
    let (from, to) = (period.from.unwrap_or(0), period.to.unwrap_or(0));
    let first = from.saturating_sub(settings.history_weeks * crate::judge::digest::WEEK);
    let mut day = first;
    while day < to {
        match rollups.day(day).await {
            Ok(rollups) => {
                for (domain, figures) in &rollups.dmarc {
                    digest.add_day(domain, day, figures);
                }
                if day >= from {
                    for (domain, tls) in &rollups.tls {
                        digest.add_tls_day(domain, day, tls.sessions, &tls.reporters);
                    }
                    for (identity, probes) in &rollups.canary {
                        if let Some(ses) = digest.ses_of(identity) {
                            ses.probes_sent = ses.probes_sent.saturating_add(probes.sent);
                            ses.probes_received =
                                ses.probes_received.saturating_add(probes.received);
                            ses.probes_healthy = ses.probes_healthy.saturating_add(probes.healthy);
                        }
                    }
                    for (domain, judged) in &rollups.readiness {
                        digest.add_readiness(domain, day, judged);
                    }
                    for (domain, feedback) in &rollups.feedback {
                        if let Some(ses) = digest.ses_of(domain) {
                            ses.deliveries = ses.deliveries.saturating_add(feedback.deliveries);
                            ses.auth_bounces =
                                ses.auth_bounces.saturating_add(feedback.auth_bounces);
                            ses.complaints = ses.complaints.saturating_add(feedback.complaints);
                        }
                    }
                }
            }
            Err(error) => {
                tracing::error!(day, error = %chain(&error), "a day's rollups could not be read");
                digest.unreadable_days += 1;
            }
        }
        day += crate::judge::digest::DAY;
    }
    match incidents.needing_attention().await {
        Ok(open) => {
            for (key, stored) in open {
                let incident = stored.incident;
                if incident.resolved.is_none() {
                    digest.incidents.push(OpenIncident {
                        kind: key.kind.as_str().to_owned(),
                        domain: key.domain.clone(),
                        severity: incident.severity,
                        opened: incident.opened,
                        occurrences: incident.count,
                        detail: incident.detail,
                    });
                }
            }
        }
        Err(error) => {
            tracing::error!(error = %chain(&error), "the open incidents could not be read");
        }
    }
    digest
        .incidents
        .sort_by(|a, b| (&a.domain, &a.kind).cmp(&(&b.domain, &b.kind)));
    for domain in &settings.monitored {
        match directory.lookup(domain).await {
            Ok(Some(state)) => {
                if let Some(ses) = digest.ses_of(domain) {
                    ses.mail_from = state.mail_from_attributes.as_ref().and_then(|m| {
                        let domain = m.mail_from_domain.as_deref().filter(|d| !d.is_empty())?;
                        let status = m
                            .mail_from_domain_status
                            .as_ref()
                            .map_or("status unknown", |s| s.as_str());
                        Some((status.to_owned(), domain.to_owned()))
                    });
                    ses.dkim = state
                        .dkim_attributes
                        .as_ref()
                        .and_then(|d| d.status.as_ref())
                        .map(|s| s.as_str().to_owned());
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(domain = %domain, error = %chain(&error), "identity state unknown");
            }
        }
        match lister.tenants(domain).await {
            Ok(tenants) => digest.set_tenants(domain, &tenants),
            Err(error) => {
                tracing::warn!(domain = %domain, error = %chain(&error), "the identity's tenants unknown");
            }
        }
    }
    digest
}

/// The mail a digest is sent as.
pub fn mail(digest: &Digest, actions: &[Action], settings: &DigestSettings) -> Mail {
    Mail {
        from: settings.sender.clone(),
        to: settings.recipients.clone(),
        subject: digest::subject(digest, actions),
        text: digest::text(digest, actions),
        html: digest::html(digest, actions),
        configuration_set: settings.configuration_set.clone(),
    }
}

/// One invocation: the digest of the week before `now`, built and sent.
pub async fn run<R, I, D, L, M>(
    now: u64,
    ports: DigestPorts<'_, R, I, D, L, M>,
    settings: &DigestSettings,
) -> Result<DigestSent, DigestError>
where
    R: Rollups,
    I: IncidentBook,
    D: IdentityDirectory,
    L: IdentityLister,
    M: Mailer,
{
    if settings.sender.is_empty() || settings.recipients.is_empty() {
        return Err(DigestError::NotConfigured);
    }
    let digest = build(now, &ports, settings).await;
    let actions = digest.actions();
    let mail = mail(&digest, &actions, settings);
    let message_id = ports.mailer.mail(&mail).await.map_err(DigestError::Send)?;
    tracing::info!(subject = %mail.subject, message_id = %message_id, "digest sent");
    Ok(DigestSent {
        subject: mail.subject,
        message_id,
        domains: digest.domains.len(),
        action_items: actions.len(),
    })
}

impl crate::flow::Failure for DigestError {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Send(_))
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::NotConfigured => "NotConfigured",
            Self::Send(_) => "DigestNotSent",
        }
    }
}
