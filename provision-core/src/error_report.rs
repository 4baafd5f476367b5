//! An error as a person should read it: its message and every cause under it.
//!
//! Error types that wrap another often repeat its message in their own (`"okta: {0}"`)
//! and return it as their `source()` as well; printing `source()` after `Display`
//! would say it twice, and printing only `Display` loses a cause that is not repeated
//! ("error sending request" without "connection refused"). [`error_chain`] prints
//! each cause once.

use std::error::Error;

/// `error`'s message followed by each cause in its `source()` chain, separated by
/// `": "`, leaving out a cause whose message the text already contains.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !message.is_empty() && !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused (os error 111)")]
    struct Refused;

    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Sending(#[source] Refused);

    /// Repeats its cause's message and returns it as the source too.
    #[derive(Debug, thiserror::Error)]
    #[error("okta: {0}")]
    struct Okta(#[from] Sending);

    #[test]
    fn every_cause_is_printed_once() {
        let e = Okta(Sending(Refused));
        assert_eq!(e.to_string(), "okta: error sending request");
        assert_eq!(
            error_chain(&e),
            "okta: error sending request: connection refused (os error 111)"
        );
    }
}
