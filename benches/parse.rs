//! Hot paths: parsing one `Authentication-Results` header, one receipt event and one feedback
//! notification end to end (offline), each against the floor of merely deserializing the same
//! event, and classifying one bounce diagnostic.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ses_dmarc_monitor::flow::analysis::{self, Ports, Settings};
use ses_dmarc_monitor::judge::auth_rejection;
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::read::authres;
use std::hint::black_box;

const SES_HEADER: &str = "amazonses.com; spf=pass (spfCheck: domain of us-east-1.amazonses.com designates 198.51.100.21 as permitted sender) client-ip=198.51.100.21; envelope-from=010001939a1b2c3d-4e5f6a7b@us-east-1.amazonses.com; helo=a8-21.smtp-out.amazonses.com; dkim=pass header.i=@example.com; dkim=pass header.i=@amazonses.com; dmarc=pass header.from=example.com;";
const COMMENT_HEAVY: &str = "foo.example.net (foobar) 1 (baz); dkim (Because I like it) / 1 (One yay) = (wait for it) fail policy (A dot can go here) . (like that) expired (this surprised me) = (as I wasn't expecting it) 1362471462";

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("authres");
    group.throughput(Throughput::Bytes(SES_HEADER.len() as u64));
    group.bench_function("ses_header", |b| {
        b.iter(|| authres::parse(black_box(SES_HEADER)));
    });
    group.throughput(Throughput::Bytes(COMMENT_HEAVY.len() as u64));
    group.bench_function("comment_heavy", |b| {
        b.iter(|| authres::parse(black_box(COMMENT_HEAVY)));
    });
    group.finish();
}

const GMAIL_DMARC: &str = "smtp; 550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy. Please contact the administrator of example.com domain if this was a legitimate mail. 550 5.7.26 DMARC policy gsmtp";
const USER_UNKNOWN: &str =
    "smtp; 550 5.1.1 The email account that you tried to reach does not exist.";

fn classify(c: &mut Criterion) {
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("gmail_dmarc", |b| {
        b.iter(|| {
            auth_rejection::diagnose(black_box(Some("5.7.26")), black_box(Some(GMAIL_DMARC)))
        });
    });
    group.bench_function("user_unknown", |b| {
        b.iter(|| {
            auth_rejection::diagnose(black_box(Some("5.1.1")), black_box(Some(USER_UNKNOWN)))
        });
    });
    group.finish();
}

fn event(c: &mut Criterion) {
    bench_event(c, "receipt_event", "receipt-fallback-dkim-broken.json");
    bench_event(c, "feedback_event", "feedback-microsoft-dmarc-reject.json");
}

fn bench_event(c: &mut Criterion, name: &str, file: &str) {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(path).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    let Ok(runtime) = runtime else { return };
    let facts = OfflineFacts::default();
    let settings = Settings::default();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    group.bench_function("deserialize_only", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)));
    });
    group.bench_function("analyze_offline", |b| {
        b.iter(|| {
            runtime.block_on(analysis::run(
                black_box(&bytes),
                Ports {
                    facts: &facts,
                    directory: &NoDirectory,
                },
                &settings,
            ))
        });
    });
    group.finish();
}

criterion_group!(benches, parse, classify, event);
criterion_main!(benches);
