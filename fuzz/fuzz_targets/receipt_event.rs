//! Event recognition and the offline receipt analysis on arbitrary bytes.
#![no_main]
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::flow::analysis::{self, Ports, Settings};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() {
        let _ = runtime.block_on(analysis::run(
            data,
            Ports {
                facts: &OfflineFacts::default(),
                directory: &NoDirectory,
            },
            &Settings::default(),
        ));
    }
});
