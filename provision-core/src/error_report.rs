//! An error as a person should read it: its message and every cause under it.
//!
//! Error types that wrap another often repeat its message in their own (`"okta: {0}"`)
//! and return it as their `source()` as well; printing `source()` after `Display`
//! would say it twice, and printing only `Display` loses a cause that is not repeated
//! ("error sending request" without "connection refused"). [`error_chain`] prints
//! each cause once.
//!
//! A program's `main` that returns `Result<(), Report>` prints a failure as that text
//! (a policy error with its `file:line:column` message), not as `Debug` output:
//!
//! ```no_run
//! use provision_core::error_report::Report;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Report> {
//!     let engine = provision_core::engine::Engine::builder()
//!         .deployment("provision.yaml")
//!         .policies("policies")
//!         .build()
//!         .await?; // a wrong policy prints "error: policies: ...: file:line:column ..."
//!     # let _ = engine;
//!     Ok(())
//! }
//! ```

use std::error::Error;
use std::fmt;

/// Any error, kept to be printed as a person reads it: its `Debug` output (which a
/// `main` returning `Result<(), Report>` prints) is [`error_chain`], not the error's
/// structure. Every error type converts into it with `?`.
pub struct Report(Box<dyn Error + Send + Sync + 'static>);

impl Report {
    /// The error inside.
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.0.as_ref()
    }
}

impl<E: Error + Send + Sync + 'static> From<E> for Report {
    fn from(error: E) -> Self {
        Report(Box::new(error))
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&error_chain(self.0.as_ref()))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&error_chain(self.0.as_ref()))
    }
}

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
    use super::{Report, error_chain};

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

    #[test]
    fn a_report_debugs_as_the_text_a_person_reads() {
        let report = Report::from(Okta(Sending(Refused)));
        assert_eq!(
            format!("{report:?}"),
            "okta: error sending request: connection refused (os error 111)"
        );
        assert!(!format!("{report:?}").contains("Okta("));
    }
}
