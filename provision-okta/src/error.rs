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

impl ConfigError {
    /// The same error as the core's [`provision_core::adapter::ConfigError`] for the
    /// system named `system` in the deployment: names the setting or credential
    /// (`org_url`, `client_id`, `private_key`) and never a secret's value.
    pub fn for_system(self, system: &str) -> provision_core::adapter::ConfigError {
        use provision_core::adapter::ConfigError as Core;
        let setting = |what: &str| match what {
            "org URL" | "OKTA_ORG_URL" => "org_url".to_owned(),
            "client id" => "client_id".to_owned(),
            other => other.to_owned(),
        };
        match self {
            ConfigError::Missing { what } if what.starts_with("credential") => {
                Core::missing_credential(system, "api_token", what)
            }
            ConfigError::Missing { what } => {
                Core::invalid_setting(system, setting(&what), "missing")
            }
            ConfigError::Invalid { what, reason } if what == "private key" => {
                Core::missing_credential(system, "private_key", reason)
            }
            ConfigError::Invalid { what, reason } => {
                Core::invalid_setting(system, setting(&what), reason)
            }
            ConfigError::File { what, path, source } => {
                Core::missing_credential(system, what, format!("cannot read {path}: {source}"))
            }
        }
    }
}
