//! SES feedback notifications: the typed model, the summary and the classifier on arbitrary JSON.
#![no_main]
use ses_dmarc_monitor::judge::feedback;
use ses_dmarc_monitor::read::notification;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = notification::parse(data) {
        let summary = feedback::summarize(&parsed);
        let _ = feedback::findings(&parsed, &summary, None);
    }
});
