//! Hot paths: parsing one `Authentication-Results` header, and one receipt event end to end
//! (offline), against the floor of merely deserializing the same event.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ses_dmarc_monitor::authres;
use ses_dmarc_monitor::facts::OfflineFacts;
use ses_dmarc_monitor::identity::NoDirectory;
use ses_dmarc_monitor::pipeline::{self, Ports, Settings};
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

fn event(c: &mut Criterion) {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/receipt-fallback-dkim-broken.json"
    ))
    .unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    let Ok(runtime) = runtime else { return };
    let facts = OfflineFacts::default();
    let settings = Settings::default();
    let mut group = c.benchmark_group("receipt_event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("deserialize_only", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)));
    });
    group.bench_function("analyze_offline", |b| {
        b.iter(|| {
            runtime.block_on(pipeline::run(
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

criterion_group!(benches, parse, event);
criterion_main!(benches);
