//! What the topic modules share: a real DNS server on loopback (hickory-server, authoritative
//! for the root zone given as zone-file text, on an ephemeral UDP and TCP port), and the shared
//! vectors.

use hickory_server::Server;
use hickory_server::proto::rr::{LowerName, Name};
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Serves `zone` (with `$ORIGIN .`) until the returned server is dropped.
#[allow(dead_code)]
pub(crate) async fn start_dns(zone: &str) -> (SocketAddr, Server<Catalog>) {
    let (origin, records) = Parser::new(zone, None, Some(Name::root()))
        .parse()
        .unwrap_or_else(|e| panic!("zone: {e}"));
    let handler = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
    )
    .unwrap_or_else(|e| panic!("zone handler: {e}"));
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![Arc::new(handler)]);
    let (udp, tcp, addr) = bind_loopback().await;
    let mut server = Server::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 4096);
    (addr, server)
}

/// A name server that reads every query and never answers, on UDP and TCP (loopback): what a
/// sender's slow or dead name servers look like from here. Runs until the test ends.
#[allow(dead_code)]
pub(crate) async fn start_silent_dns() -> SocketAddr {
    let (udp, tcp, addr) = bind_loopback().await;
    tokio::spawn(async move {
        let mut buffer = [0u8; 4096];
        while udp.recv_from(&mut buffer).await.is_ok() {}
    });
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = tcp.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A UDP socket and a TCP listener on one ephemeral loopback port, as a name server listens.
async fn bind_loopback() -> (tokio::net::UdpSocket, tokio::net::TcpListener, SocketAddr) {
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind udp: {e}"));
    let addr = udp.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("bind tcp: {e}"));
    (udp, tcp, addr)
}

/// One input through the analysis flow with these DNS facts, no identity directory and the
/// default settings.
#[allow(dead_code)]
pub(crate) async fn run_with_dns(
    input: &[u8],
    dns: &ses_dmarc_monitor::edge::dns::DnsFacts,
) -> Vec<ses_dmarc_monitor::flow::analysis::RecordOutcome> {
    use ses_dmarc_monitor::flow::analysis::{self, Ports, Settings};
    let ports = Ports {
        facts: dns,
        directory: &ses_dmarc_monitor::ports::directory::NoDirectory,
    };
    analysis::run(input, ports, &Settings::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Every file below `dir`, sorted; a folder that cannot be read fails the test.
#[allow(dead_code)]
pub(crate) fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// `../shared/vectors`; `None` (the vector tests skipped) only outside CI, which always has
/// the folder: its absence there is a failure, not a skip.
#[allow(dead_code)]
pub(crate) fn vectors() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing",
        dir.display()
    );
    // Written past the test harness's capture, once: a skip must be seen in the run's output.
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {} not found: the tests on the shared vectors did not run",
            dir.display()
        );
    });
    None
}

/// A directory that is always throttled, as SESv2 is under load.
#[allow(dead_code)]
pub(crate) struct Throttled;

impl ses_dmarc_monitor::ports::directory::IdentityDirectory for Throttled {
    async fn lookup(
        &self,
        identity: &str,
    ) -> Result<
        Option<Arc<ses_dmarc_monitor::read::identity_state::IdentityState>>,
        ses_dmarc_monitor::ports::directory::DirectoryError,
    > {
        Err(
            ses_dmarc_monitor::ports::directory::DirectoryError::Transient {
                identity: identity.to_owned(),
                source: "TooManyRequestsException".into(),
            },
        )
    }
}
