//! Configuration errors. Errors from the APIs themselves are
//! [`provision_core::adapter::AdapterError`]s (see [`crate::client`]).

/// A configuration that cannot work, naming the variable, setting or credential at
/// fault. Never carries a credential's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable, setting or credential is absent.
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

    /// The same error as the core's [`provision_core::adapter::ConfigError`] for the
    /// system named `system` in the deployment (names the setting, never a secret).
    pub fn for_system(self, system: &str) -> provision_core::adapter::ConfigError {
        use provision_core::adapter::ConfigError as Core;
        match self {
            ConfigError::Missing { what } => Core::invalid_setting(system, what, "missing"),
            ConfigError::Invalid { what, reason } => Core::invalid_setting(system, what, reason),
        }
    }
}
