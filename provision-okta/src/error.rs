//! Configuration errors. Errors from the API itself are
//! [`provision_core::adapter::AdapterError`]s (see [`crate::client`]).

/// A configuration that cannot work, naming the variable, setting or field at fault.
///
/// Never carries a credential's value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable or setting is absent.
    #[error("missing {what}")]
    Missing {
        /// The environment variable, setting or credential name.
        what: String,
    },
    /// A value is present but wrong.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The environment variable, setting or field.
        what: String,
        /// Why it is wrong.
        reason: String,
    },
    /// A file a credential points at cannot be read.
    #[error("cannot read {what} from {path}: {source}")]
    File {
        /// The credential's name.
        what: String,
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ConfigError {
    pub(crate) fn missing(what: impl Into<String>) -> Self {
        ConfigError::Missing { what: what.into() }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
