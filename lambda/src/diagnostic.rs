//! A flow's failure as Lambda reports it to the failure destination: the error type says
//! whether a retry helps and what failed, the message keeps the whole chain of causes.

use lambda_runtime::Diagnostic;
use ses_dmarc_monitor::flow::Failure;
use ses_dmarc_monitor::ports::chain;

/// The diagnostic for any flow's failure.
pub fn diagnostic<E: Failure>(error: &E) -> Diagnostic {
    Diagnostic {
        error_type: error.error_type().to_owned(),
        error_message: chain(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ses_dmarc_monitor::flow::receipt::HandlerError;
    use ses_dmarc_monitor::read::input::InputError;

    #[test]
    fn a_poison_event_says_so_with_its_cause() {
        let error = HandlerError::Input(InputError::NoHeaderSection);
        let diagnostic = diagnostic(&error);
        assert_eq!(diagnostic.error_type, "PoisonEvent");
        assert!(
            diagnostic
                .error_message
                .starts_with("the event is not understood: "),
            "{}",
            diagnostic.error_message
        );
    }
}
