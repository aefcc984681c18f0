//! A raw RFC 5322 message through the offline analysis (header extraction, observation, alignment).
#![no_main]
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::flow::analysis::{self, Ports, Settings};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Always read as a message: prefix a header so shape detection never routes elsewhere.
    let mut raw = b"X-Fuzz: 1\r\n".to_vec();
    raw.extend_from_slice(data);
    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() {
        let ports = Ports {
            facts: &OfflineFacts::default(),
            directory: &NoDirectory,
        };
        let _ = runtime.block_on(analysis::run(&raw, ports, &Settings::default()));
    }
});
