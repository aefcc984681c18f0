//! Property tests: no input makes the parsers panic, and parsing is total.

use proptest::prelude::*;
use ses_dmarc_monitor::flow::analysis::{self, Ports, Settings};
use ses_dmarc_monitor::judge::auth_rejection;
use ses_dmarc_monitor::ports::directory::NoDirectory;
use ses_dmarc_monitor::ports::facts::OfflineFacts;
use ses_dmarc_monitor::read::authres;
use ses_dmarc_monitor::read::domain;
use ses_dmarc_monitor::read::input;

/// Strings built from the pieces real headers are made of, so the parser's branches are hit.
fn header_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("amazonses.com".to_owned()),
        Just("; ".to_owned()),
        Just("spf=pass".to_owned()),
        Just("dkim".to_owned()),
        Just("=".to_owned()),
        Just(" header.d=".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("/1".to_owned()),
        Just(".".to_owned()),
        Just("\r\n ".to_owned()),
        Just("reason=".to_owned()),
        Just("é日".to_owned()),
        "[a-z0-9@.-]{0,12}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn authres_never_panics_on_any_string(s in any::<String>()) {
        let _ = authres::parse(&s);
    }

    #[test]
    fn authres_never_panics_on_header_like_strings(s in header_like()) {
        if let Ok(parsed) = authres::parse(&s) {
            // Whatever was recognized serializes (the auth-results command prints it).
            prop_assert!(serde_json::to_string(&parsed).is_ok());
        }
    }

    #[test]
    fn address_and_domain_parsing_never_panic(s in any::<String>()) {
        let _ = domain::normalize(&s);
        let _ = domain::domain_of_address(&s);
        let _ = domain::domains_of_address_list(&s);
    }

    #[test]
    fn input_detection_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = input::detect(&bytes);
    }

    #[test]
    fn event_analysis_never_panics(
        from in "[ -~]{0,40}",
        ar in header_like(),
        verdict in prop_oneof![Just("PASS"), Just("FAIL"), Just("GRAY"), Just("PROCESSING_FAILED"), Just("NEW")],
        content in prop::option::of("[ -~]{0,60}"),
        truncated in any::<bool>(),
    ) {
        let event = serde_json::json!({"Records": [{"ses": {
            "mail": {"headersTruncated": truncated, "headers": [
                {"name": "Authentication-Results", "value": ar},
                {"name": "From", "value": from},
            ]},
            "receipt": {"dmarcVerdict": {"status": verdict}, "action": {"type": "SNS", "encoding": "BASE64"}},
            "content": content,
        }}]});
        let bytes = event.to_string().into_bytes();
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        prop_assert!(runtime.is_ok());
        if let Ok(runtime) = runtime {
            let outcome = runtime.block_on(analysis::run(&bytes, Ports { facts: &OfflineFacts::default(), directory: &NoDirectory }, &Settings::default()));
            prop_assert!(outcome.is_ok());
        }
    }

    #[test]
    fn classifier_never_panics(status in prop::option::of("[0-9.a-z]{0,8}"), text in prop::option::of(any::<String>())) {
        let _ = auth_rejection::diagnose(status.as_deref(), text.as_deref());
    }

    #[test]
    fn feedback_notifications_never_fail_the_input(
        kind in prop_oneof![Just("Bounce"), Just("Complaint"), Just("DeliveryDelay"), Just("Delivery"), Just("Rendering Failure"), Just("Reject"), Just("New")],
        form in prop_oneof![Just("notificationType"), Just("eventType")],
        code in "[245]\\.[0-9]{1,3}\\.[0-9]{1,3}",
        diagnostic in "[ -~]{0,80}",
        recipient in "[ -~]{0,30}",
        subtype in "[A-Za-z]{0,12}",
        arn in "[ -~]{0,50}",
    ) {
        let recipients = serde_json::json!([{"emailAddress": recipient, "status": code, "diagnosticCode": diagnostic}]);
        let event = serde_json::json!({
            form: kind,
            "mail": {"sourceArn": arn, "source": recipient, "tags": {"ses:from-domain": [recipient]}},
            "bounce": {"bounceType": subtype, "bounceSubType": subtype, "bouncedRecipients": recipients},
            "deliveryDelay": {"delayType": subtype, "delayedRecipients": recipients},
            "complaint": {"complaintFeedbackType": subtype, "complainedRecipients": recipients},
            "delivery": {"recipients": [recipient]},
            "failure": {}, "reject": {},
        });
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        prop_assert!(runtime.is_ok());
        if let Ok(runtime) = runtime {
            let outcomes = runtime.block_on(analysis::run(event.to_string().as_bytes(), Ports { facts: &OfflineFacts::default(), directory: &NoDirectory }, &Settings::default()));
            prop_assert!(matches!(outcomes.as_deref(), Ok([analysis::RecordOutcome::Feedback { .. }])), "{outcomes:?}");
        }
    }
}
