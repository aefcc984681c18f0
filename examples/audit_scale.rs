//! The audit at scale (issue 26): 500 identities listed and read through the SESv2 client
//! over the SDK's mocking layer, at the real pace (one `GetEmailIdentity` a second, as the
//! functions' directory is built), DNS taking a set time per identity, on tokio's paused
//! clock, so the figures are the schedule's own, in seconds of (virtual) time. For each DNS
//! latency and number of identities checked at once: the time one run without a deadline
//! takes, and how many runs of Lambda's 600 s (the audit's timeout) cover every identity when
//! each continues where the last stopped. One JSON line per case; `bench/audit.sh` writes them
//! into bench/RESULTS.md.
//!
//! usage: cargo run --release --example audit_scale [IDENTITIES]

use aws_sdk_sesv2::operation::get_email_identity::GetEmailIdentityOutput;
use aws_sdk_sesv2::operation::list_configuration_sets::ListConfigurationSetsOutput;
use aws_sdk_sesv2::operation::list_email_identities::ListEmailIdentitiesOutput;
use aws_sdk_sesv2::types::{IdentityInfo, IdentityType};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use ses_dmarc_monitor::edge::identity_cache::{CachedDirectory, Paced};
use ses_dmarc_monitor::flow::audit::{self, Bounds, Watching};
use ses_dmarc_monitor::judge::posture::{DnsView, Lookup, Target};
use ses_dmarc_monitor::ports::audit_cursor::MemoryCursor;
use ses_dmarc_monitor::ports::clock::Clock;
use ses_dmarc_monitor::ports::dns::AuditDns;
use ses_dmarc_monitor::ports::scope::Everything;
use ses_dmarc_monitor::ports::sink::MemorySink;
use ses_dmarc_monitor_lambda::aws::sesv2::SesV2Directory;
use std::collections::BTreeSet;
use std::time::Duration;

/// The Lambda timeout of the audit function (template.yaml).
const TIMEOUT: u64 = 600;
const PAGE: usize = 100;

/// Seconds of tokio's (paused) clock since the start.
struct Virtual(tokio::time::Instant);

impl Clock for Virtual {
    fn now(&self) -> u64 {
        self.0.elapsed().as_secs()
    }
}

/// DNS that takes `latency` per identity and cannot answer (nothing judged, nothing paged).
struct Slow(Duration);

impl AuditDns for Slow {
    async fn audit_view(&self, _target: &Target) -> DnsView {
        tokio::time::sleep(self.0).await;
        DnsView {
            mail_from_mx: None,
            mail_from_txt: None,
            dkim: Vec::new(),
            dmarc: Lookup::Failed("slow".into()),
            report_authorizations: Vec::new(),
        }
    }
}

fn sesv2(identities: usize) -> (SesV2Directory, aws_smithy_mocks::Rule) {
    let mut rules = Vec::new();
    for page in 0..identities.div_ceil(PAGE) {
        let token = (page > 0).then(|| page.to_string());
        let rule = mock!(aws_sdk_sesv2::Client::list_email_identities)
            .match_requests(move |r| r.next_token() == token.as_deref())
            .then_output(move || {
                let mut output = ListEmailIdentitiesOutput::builder();
                for i in page * PAGE..((page + 1) * PAGE).min(identities) {
                    output = output.email_identities(
                        IdentityInfo::builder()
                            .identity_name(format!("d{i:04}.example"))
                            .identity_type(IdentityType::Domain)
                            .sending_enabled(true)
                            .build(),
                    );
                }
                if (page + 1) * PAGE < identities {
                    output = output.next_token((page + 1).to_string());
                }
                output.build()
            });
        rules.push(rule);
    }
    let state = mock!(aws_sdk_sesv2::Client::get_email_identity)
        .then_output(|| GetEmailIdentityOutput::builder().build());
    rules.push(state.clone());
    rules.push(
        mock!(aws_sdk_sesv2::Client::list_configuration_sets)
            .then_output(|| ListConfigurationSetsOutput::builder().build()),
    );
    let refs: Vec<&aws_smithy_mocks::Rule> = rules.iter().collect();
    let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, refs);
    (SesV2Directory::new(client), state)
}

async fn case(identities: usize, latency: Duration, at_once: usize) -> serde_json::Value {
    let (sesv2, reads) = sesv2(identities);
    let dns = Slow(latency);
    let clock = Virtual(tokio::time::Instant::now());
    // One invocation: a fresh directory, as the functions build it (lambda/src/wiring.rs: one
    // request a second, cached), whose cache another invocation finds cold after the
    // schedule's 15 minutes.
    let invoke = async |deadline: Option<u64>, cursor: &Option<MemoryCursor>| {
        let directory = CachedDirectory::new(
            Paced::new(sesv2.clone(), Duration::from_secs(1)),
            Duration::from_secs(300),
        );
        let watching = Watching {
            scope: &Everything,
            canary: false,
            bulk_sender: true,
        };
        let bounds = Bounds {
            clock: &clock,
            deadline,
            cursor,
            at_once,
        };
        let sink = MemorySink::default();
        let (run, _) = audit::audit(
            &sesv2,
            &directory,
            &dns,
            watching,
            &sink,
            "us-east-1",
            bounds,
            // As deployed by default: readiness judged too.
            audit::Readiness::On {
                rollups: &ses_dmarc_monitor::ports::rollups::MemoryRollups::default(),
            },
        )
        .await;
        run
    };
    let run = invoke(None, &None).await;
    let whole_run = clock.now();
    let calls = reads.num_calls();
    // Runs of the Lambda timeout, each continuing where the last stopped, until every
    // identity was checked.
    let cursor = Some(MemoryCursor::default());
    let mut seen = BTreeSet::new();
    let mut runs = 0;
    while seen.len() < identities && runs < 50 {
        let run = invoke(Some(clock.now() + TIMEOUT), &cursor).await;
        seen.extend(run.reports.into_iter().map(|r| r.domain));
        runs += 1;
    }
    serde_json::json!({
        "identities": identities,
        "dns_seconds": latency.as_secs_f64(),
        "at_once": at_once,
        "whole_run_seconds": whole_run,
        "checked": run.reports.len(),
        "get_email_identity_calls": calls,
        "calls_per_second": (calls as f64 / whole_run.max(1) as f64 * 100.0).round() / 100.0,
        "runs_of_600s_to_cover_all": runs,
        "covered": seen.len(),
    })
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let identities: usize = std::env::args().nth(1).map_or(Ok(500), |a| a.parse())?;
    for latency in [Duration::from_millis(200), Duration::from_secs(5)] {
        for at_once in [1, audit::AT_ONCE] {
            println!("{}", case(identities, latency, at_once).await);
        }
    }
    Ok(())
}
