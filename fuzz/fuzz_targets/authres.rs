//! The Authentication-Results parser on arbitrary text.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ses_dmarc_monitor::read::authres::parse(text);
    }
});
