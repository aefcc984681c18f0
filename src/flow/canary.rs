//! The canary's story, on a schedule: for each monitored identity, the probes
//! sent earlier that never arrived are reported (`canary_missing`, once each), then a new
//! probe is sent through SES to the canary address and recorded in the state table. The
//! receipt function judges it when it arrives (`flow::analysis`, `judge::canary`).
//!
//! A send SES refuses because the identity's custom MAIL FROM domain is not verified is a
//! finding (`mail_from_status`), not a failure. Any other failure (a throttled send, the
//! table unreachable) is counted and fails the run after every identity was tried; the
//! next scheduled run is the retry.

use crate::flow::Failure;
use crate::judge::canary;
use crate::judge::findings::Finding;
use crate::ports::chain;
use crate::ports::directory::{self, IdentityDirectory, IdentityLister, ListError};
use crate::ports::probes::ProbeBook;
use crate::ports::sender::{Outgoing, ProbeSender, SendError};
use crate::ports::sink::{FindingSink, SinkError};
use crate::ports::state::StateError;
use crate::read::observation::Source;
use crate::read::probe::Probe;
use crate::say::explain;
use crate::say::metrics::canary::CanaryCounts;

/// Why a canary run failed (after every identity was tried).
#[derive(Debug, thiserror::Error)]
pub enum CanaryError {
    /// The monitored identities could not be listed: nothing was probed.
    #[error(transparent)]
    Listing(#[from] ListError),
    /// Probes SES would not send, for a reason other than the MAIL FROM domain.
    #[error("{failed} probe(s) not sent; {identity}: {source}")]
    Send {
        failed: usize,
        identity: String,
        #[source]
        source: SendError,
    },
    /// The state table could not be read or written.
    #[error("{identity}: {source}")]
    State {
        identity: String,
        #[source]
        source: StateError,
    },
    /// Findings could not be delivered.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl Failure for CanaryError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Listing(error) => !error.denied,
            Self::Send { .. } | Self::State { .. } | Self::Sink(_) => true,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Listing(_) => "IdentityListingFailed",
            Self::Send { .. } => "ProbeSendFailed",
            Self::State { .. } => "StateUnavailable",
            Self::Sink(_) => "AlertDeliveryFailed",
        }
    }
}

/// What the canary reads and writes through.
#[derive(Debug)]
pub struct CanaryPorts<'a, L, D, P, M, S> {
    /// Lists the verified domain identities, when `MONITORED_DOMAINS` does not name them.
    pub lister: &'a L,
    /// The identities' state, for a refused send.
    pub directory: &'a D,
    pub probes: &'a P,
    pub sender: &'a M,
    pub sink: &'a S,
}

/// How the canary sends.
#[derive(Debug, Clone)]
pub struct CanarySettings<'a> {
    /// `MONITORED_DOMAINS`; `None`: the account's verified domain identities.
    pub monitored: Option<&'a [String]>,
    /// The canary address probes go to.
    pub to: &'a str,
    pub from_local_part: &'a str,
    /// Seconds after which a probe not received is missing.
    pub deadline: u64,
    pub configuration_set: Option<&'a str>,
    /// The region the identities send from (for the fix's MX host).
    pub region: &'a str,
}

/// What one run did.
#[derive(Debug, Default)]
pub struct CanaryRun {
    pub counts: CanaryCounts,
    pub findings: Vec<Finding>,
}

/// The probe for `identity`: who sends it, to whom, and what it says.
pub fn probe_message(settings: &CanarySettings<'_>, identity: &str, now: u64) -> Outgoing {
    Outgoing {
        from: format!("{}@{identity}", settings.from_local_part),
        to: settings.to.to_owned(),
        subject: explain::probe_subject(identity),
        body: explain::probe_body(identity, now),
        configuration_set: settings.configuration_set.map(str::to_owned),
    }
}

/// One canary run at `now` (Unix seconds).
pub async fn canary<L, D, P, M, S>(
    ports: CanaryPorts<'_, L, D, P, M, S>,
    settings: &CanarySettings<'_>,
    now: u64,
) -> (CanaryRun, Result<(), CanaryError>)
where
    L: IdentityLister,
    D: IdentityDirectory,
    P: ProbeBook,
    M: ProbeSender,
    S: FindingSink,
{
    let mut run = CanaryRun::default();
    let identities = match settings.monitored {
        Some(domains) => domains.to_vec(),
        None => match ports.lister.verified_domains().await {
            Ok(domains) => domains,
            Err(error) => return (run, Err(error.into())),
        },
    };
    // The run's failure, after every identity was tried: the first table error, and the
    // first send that failed with how many did.
    let mut state_error: Option<CanaryError> = None;
    let mut send_error: Option<(String, SendError)> = None;
    let mut send_failures = 0;
    for identity in &identities {
        if let Err(source) = report_missing(&ports, settings, identity, now, &mut run).await {
            run.counts.state_errors += 1;
            tracing::warn!(identity = %identity, error = %source, "probes could not be read; missing ones are reported next run");
            state_error.get_or_insert(CanaryError::State {
                identity: identity.clone(),
                source,
            });
        }
        let outgoing = probe_message(settings, identity, now);
        match ports.sender.send(&outgoing).await {
            Ok(message_id) => {
                run.counts.identity(identity).sent += 1;
                let probe = Probe {
                    message_id,
                    identity: identity.clone(),
                    sent: now,
                    received: None,
                    reported_missing: false,
                };
                tracing::info!(identity = %identity, message_id = %probe.message_id, to = %settings.to, "probe sent");
                if let Err(source) = ports.probes.record(&probe).await {
                    // Sent but unrecorded: it will arrive as a stranger's mail, and the
                    // missing-canary alarm may fire. Said loudly, and the run fails.
                    run.counts.state_errors += 1;
                    tracing::error!(identity = %identity, message_id = %probe.message_id, error = %source, "probe sent but not recorded");
                    state_error.get_or_insert(CanaryError::State {
                        identity: identity.clone(),
                        source,
                    });
                }
            }
            Err(SendError::MailFromNotVerified(cause)) => {
                tracing::warn!(identity = %identity, error = %chain(cause.as_ref()), "SES refused the probe: MAIL FROM domain not verified");
                let state = directory::governing_state(ports.directory, identity)
                    .await
                    .ok()
                    .flatten()
                    .map(|(_, state)| state);
                let facts = canary::refused(identity, state.as_deref(), settings.region);
                run.counts.identity(identity).findings += 1;
                run.findings
                    .push(Finding::new(facts, Some(identity), Source::Canary));
            }
            Err(error) => {
                send_failures += 1;
                tracing::error!(identity = %identity, error = %error, "probe not sent");
                send_error.get_or_insert((identity.clone(), error));
            }
        }
    }
    run.counts.send_failures = send_failures as u64;
    let first_error = send_error
        .map(|(identity, source)| CanaryError::Send {
            failed: send_failures,
            identity,
            source,
        })
        .or(state_error);
    tracing::info!(
        identities = identities.len(),
        findings = run.findings.len(),
        send_failures,
        "canary run"
    );
    if let Err(error) = ports.sink.publish(&run.findings).await {
        return (run, Err(error.into()));
    }
    (run, first_error.map_or(Ok(()), Err))
}

/// Reports each of `identity`'s probes that is overdue, once across runs.
async fn report_missing<L, D, P: ProbeBook, M, S>(
    ports: &CanaryPorts<'_, L, D, P, M, S>,
    settings: &CanarySettings<'_>,
    identity: &str,
    now: u64,
    run: &mut CanaryRun,
) -> Result<(), StateError> {
    let probes = ports.probes.probes(identity).await?;
    for (probe, facts) in canary::missing(&probes, now, settings.deadline) {
        // Another run (or a retry) may have reported it first.
        if ports
            .probes
            .report_missing(identity, &probe.message_id)
            .await?
        {
            tracing::warn!(identity = %identity, message_id = %probe.message_id, sent = probe.sent, "probe never arrived");
            run.counts.identity(identity).findings += 1;
            run.findings.push(
                Finding::new(facts, Some(identity), Source::Canary).about(Some(&probe.message_id)),
            );
        }
    }
    Ok(())
}
