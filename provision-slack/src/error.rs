//! Configuration errors. Errors from Slack itself are
//! [`provision_core::adapter::AdapterError`]s (see [`crate::client`]).

/// A configuration that cannot work, naming the variable, setting or token at fault.
///
/// Never carries a credential's value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No token at all: the adapter could do nothing.
    #[error(
        "no Slack token configured: set at least one of SLACK_BOT_TOKEN (xoxb-), \
         SLACK_ADMIN_TOKEN (xoxp-, Enterprise org admin) or SLACK_SCIM_TOKEN (admin scope)"
    )]
    NoToken,
    /// A value is present but wrong.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The environment variable, setting or token.
        what: String,
        /// Why it is wrong.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// The same error as the core's [`provision_core::adapter::ConfigError`] for the
    /// system named `system` in the deployment; never a secret's value.
    pub fn for_system(self, system: &str) -> provision_core::adapter::ConfigError {
        use provision_core::adapter::ConfigError as Core;
        match self {
            ConfigError::NoToken => Core::missing_credential(
                system,
                "bot_token",
                "at least one of `credentials: { bot_token | admin_token | scim_token: \
                 env:VARIABLE | file:PATH }`",
            ),
            ConfigError::Invalid { what, reason } if what.ends_with("_token") => {
                Core::missing_credential(system, what, reason)
            }
            ConfigError::Invalid { what, reason } => Core::invalid_setting(system, what, reason),
        }
    }
}
