//! How to reach one Slack organisation: the Web API and SCIM base URLs, the three
//! optional tokens, the Enterprise workspace, and channel / user-group names.

use std::collections::BTreeMap;
use std::time::Duration;

use provision_core::adapter::SystemSpec;
use provision_core::secret::{ExposeSecret, SecretString};
use url::Url;

use crate::descriptor::Tokens;

pub use provision_core::adapter::ConfigError;

/// The system name configuration errors carry unless the builder is given another
/// ([`SlackConfigBuilder::system_name`]).
pub const DEFAULT_SYSTEM_NAME: &str = "slack";

/// The Web API's base URL.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";
/// The SCIM 2.0 base URL.
pub const DEFAULT_SCIM_URL: &str = "https://api.slack.com/scim/v2/";

/// How SCIM deactivates an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScimDeactivation {
    /// `DELETE /Users/{id}`: Slack's documented way; it deactivates, it does not
    /// delete (the default).
    #[default]
    Delete,
    /// `PATCH /Users/{id}` with `active: false`: the generic SCIM way (a plain SCIM
    /// server's `DELETE` really deletes).
    PatchInactive,
}

/// A Slack organisation as the adapter reaches it.
///
/// Every token is optional; what is configured decides what the adapter can do
/// ([`SlackConfig::tokens`], [`crate::descriptor::slack_descriptor`]):
///
/// | token | allows |
/// | --- | --- |
/// | `bot_token` (`xoxb-`) | channels (`conversations.*`) and user groups (`usergroups.*`) |
/// | `admin_token` (`xoxp-`, an Enterprise org admin) | `admin.conversations.invite`, `admin.users.session.reset`, `admin.users.deactivate` |
/// | `scim_token` (the `admin` scope) | accounts: SCIM create, deactivate, reactivate, read |
#[derive(Clone)]
pub struct SlackConfig {
    /// The Web API base (`https://slack.com/api/`); tests point it at a mock.
    pub api_url: Url,
    /// The SCIM base (`https://api.slack.com/scim/v2/`).
    pub scim_url: Url,
    /// The bot token.
    pub bot_token: Option<SecretString>,
    /// The Enterprise org-admin user token.
    pub admin_token: Option<SecretString>,
    /// The SCIM token.
    pub scim_token: Option<SecretString>,
    /// Channel names (`#engineering-general`, or without `#`) → channel ids, for
    /// channels the bot cannot list; other names are looked up with
    /// `conversations.list`. A target that is an id (`C…`, `G…`) is used as it is.
    pub channels: BTreeMap<String, String>,
    /// User-group handles → ids; other handles are looked up with `usergroups.list`.
    pub usergroups: BTreeMap<String, String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Items per Web API page (`limit`; default 1,000, Slack's maximum for
    /// `conversations.members`/`conversations.list`). Slack may return fewer before
    /// the end: only an empty `next_cursor` ends a read.
    pub page_size: u32,
    /// Items per SCIM page (`count`; default 1,000).
    pub scim_page_size: u32,
    /// How SCIM deactivates.
    pub scim_deactivation: ScimDeactivation,
    /// The workspace (`T…`) the bot works in, for an org-wide app's token on
    /// Enterprise Grid: Slack's listing methods (`conversations.list`, `users.list`,
    /// `users.conversations`, `usergroups.*`) need it with such a token and answer
    /// `missing_argument` without it. `None` for a workspace app's token.
    pub team_id: Option<String>,
    /// The system's name in the deployment (default `slack`): configuration errors
    /// name it.
    pub(crate) system_name: String,
}

impl std::fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConfig")
            .field("api_url", &self.api_url.as_str())
            .field("scim_url", &self.scim_url.as_str())
            .field("tokens", &self.tokens())
            .field("channels", &self.channels)
            .field("usergroups", &self.usergroups)
            .field("team_id", &self.team_id)
            .finish_non_exhaustive()
    }
}

impl SlackConfig {
    /// A builder with Slack's own URLs and no token.
    pub fn builder() -> SlackConfigBuilder {
        SlackConfigBuilder::default()
    }

    /// Which tokens are configured.
    pub fn tokens(&self) -> Tokens {
        Tokens {
            bot: self.bot_token.is_some(),
            admin: self.admin_token.is_some(),
            scim: self.scim_token.is_some(),
        }
    }

    /// From the environment: `SLACK_BOT_TOKEN`, `SLACK_ADMIN_TOKEN`,
    /// `SLACK_SCIM_TOKEN` (at least one), and optionally `SLACK_API_URL`,
    /// `SLACK_SCIM_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// As [`SlackConfig::from_env`], reading variables through `env` (a test's map,
    /// a program's own lookup).
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut b = Self::builder();
        if let Some(t) = var("SLACK_BOT_TOKEN") {
            b = b.bot_token(t.trim().to_owned());
        }
        if let Some(t) = var("SLACK_ADMIN_TOKEN") {
            b = b.admin_token(t.trim().to_owned());
        }
        if let Some(t) = var("SLACK_SCIM_TOKEN") {
            b = b.scim_token(t.trim().to_owned());
        }
        if let Some(u) = var("SLACK_API_URL") {
            b = b.api_url(u);
        }
        if let Some(u) = var("SLACK_SCIM_URL") {
            b = b.scim_url(u);
        }
        if let Some(t) = var("SLACK_TEAM_ID") {
            b = b.team_id(t.trim());
        }
        b.build()
    }

    /// From a deployment entry (`adapter: slack`):
    ///
    /// ```yaml
    /// slack:
    ///   adapter: slack
    ///   credentials:
    ///     bot_token: {env: SLACK_BOT_TOKEN}       # channels, user groups
    ///     admin_token: {env: SLACK_ADMIN_TOKEN}   # optional: Enterprise admin.*
    ///     scim_token: {env: SLACK_SCIM_TOKEN}     # optional: accounts
    ///   settings:
    ///     channel.engineering-general: C0123456   # optional: names the bot cannot list
    ///     usergroup.oncall: S0123456              # optional
    ///     api_url: https://slack.com/api/         # optional
    ///     scim_url: https://api.slack.com/scim/v2/  # optional
    ///     scim_deactivation: delete               # or `patch` (active: false)
    ///     team_id: T0123456                       # Enterprise Grid, an org-wide app's token
    /// ```
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        let system = spec.name.as_str();
        let mut b = Self::builder().system_name(system);
        if let Some(t) = spec.credential("bot_token")? {
            b = b.bot_token(t);
        }
        if let Some(t) = spec.credential("admin_token")? {
            b = b.admin_token(t);
        }
        if let Some(t) = spec.credential("scim_token")? {
            b = b.scim_token(t);
        }
        if let Some(u) = spec.setting("api_url") {
            b = b.api_url(u);
        }
        if let Some(u) = spec.setting("scim_url") {
            b = b.scim_url(u);
        }
        if let Some(t) = spec.setting("team_id") {
            b = b.team_id(t);
        }
        if let Some(v) = spec.setting("timeout_seconds") {
            let secs: u64 = v.parse().map_err(|_| {
                ConfigError::invalid_setting(
                    system,
                    "timeout_seconds",
                    format!("a number of seconds, not `{v}`"),
                )
            })?;
            b = b.timeout(Duration::from_secs(secs));
        }
        match spec.setting("scim_deactivation") {
            None | Some("delete") => {}
            Some("patch") => b = b.scim_deactivation(ScimDeactivation::PatchInactive),
            Some(other) => {
                return Err(ConfigError::invalid_setting(
                    system,
                    "scim_deactivation",
                    format!("`delete` (Slack's) or `patch` (active: false), not `{other}`"),
                ));
            }
        }
        for (k, v) in &spec.config.settings {
            if let Some(name) = k.strip_prefix("channel.") {
                b = b.channel(name, v);
            } else if let Some(handle) = k.strip_prefix("usergroup.") {
                b = b.usergroup(handle, v);
            }
        }
        b.build()
    }

    /// The system's name in the deployment that configuration errors name.
    pub fn system_name(&self) -> &str {
        &self.system_name
    }
}

/// A workspace id: `T`, then upper-case letters and digits.
fn is_team_id(text: &str) -> bool {
    text.len() >= 3
        && text.starts_with('T')
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The error for a deployment or environment with no Slack token at all: the
/// adapter could do nothing.
pub fn no_token(system: &str) -> ConfigError {
    ConfigError::missing_credential(
        system,
        "bot_token",
        "at least one of `credentials: { bot_token | admin_token | scim_token: \
         env:VARIABLE | file:PATH }` (from the environment: SLACK_BOT_TOKEN (xoxb-), \
         SLACK_ADMIN_TOKEN (xoxp-, Enterprise org admin) or SLACK_SCIM_TOKEN (admin scope))",
    )
}

/// Builds a [`SlackConfig`].
#[derive(Default)]
pub struct SlackConfigBuilder {
    api_url: Option<String>,
    scim_url: Option<String>,
    bot_token: Option<SecretString>,
    admin_token: Option<SecretString>,
    scim_token: Option<SecretString>,
    channels: BTreeMap<String, String>,
    usergroups: BTreeMap<String, String>,
    timeout: Option<Duration>,
    page_size: Option<u32>,
    scim_page_size: Option<u32>,
    scim_deactivation: ScimDeactivation,
    team_id: Option<String>,
    system_name: Option<String>,
}

impl std::fmt::Debug for SlackConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConfigBuilder").finish_non_exhaustive()
    }
}

impl SlackConfigBuilder {
    /// The system's name in the deployment (default `slack`): configuration errors
    /// name it.
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = Some(name.into());
        self
    }

    /// The Web API base URL (a mock's in tests).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// The SCIM base URL.
    pub fn scim_url(mut self, url: impl Into<String>) -> Self {
        self.scim_url = Some(url.into());
        self
    }

    /// The bot token (`xoxb-`).
    pub fn bot_token(mut self, token: impl Into<SecretString>) -> Self {
        self.bot_token = Some(token.into());
        self
    }

    /// The Enterprise org-admin user token (`xoxp-`).
    pub fn admin_token(mut self, token: impl Into<SecretString>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// The SCIM token.
    pub fn scim_token(mut self, token: impl Into<SecretString>) -> Self {
        self.scim_token = Some(token.into());
        self
    }

    /// A channel's id by name (with or without `#`).
    pub fn channel(mut self, name: &str, id: impl Into<String>) -> Self {
        self.channels.insert(channel_key(name), id.into());
        self
    }

    /// A user group's id by handle (with or without `@`).
    pub fn usergroup(mut self, handle: &str, id: impl Into<String>) -> Self {
        self.usergroups
            .insert(handle.trim_start_matches('@').to_owned(), id.into());
        self
    }

    /// The whole-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Items per Web API page (tests page small).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// Items per SCIM page.
    pub fn scim_page_size(mut self, size: u32) -> Self {
        self.scim_page_size = Some(size.max(1));
        self
    }

    /// How SCIM deactivates (default [`ScimDeactivation::Delete`], Slack's way).
    pub fn scim_deactivation(mut self, how: ScimDeactivation) -> Self {
        self.scim_deactivation = how;
        self
    }

    /// The workspace (`T…`) an org-wide app's token works in (Enterprise Grid).
    pub fn team_id(mut self, team: impl Into<String>) -> Self {
        self.team_id = Some(team.into().trim().to_owned());
        self
    }

    /// Checks the URLs and tokens. A token of the wrong type for its slot (a user
    /// token as the bot token) is refused here, naming the slot, never the value.
    pub fn build(self) -> Result<SlackConfig, ConfigError> {
        let system = self
            .system_name
            .unwrap_or_else(|| DEFAULT_SYSTEM_NAME.to_owned());
        let url = |setting: &str, text: Option<String>, default: &str| {
            provision_http::client::parse_base_url(text.as_deref().unwrap_or(default))
                .map_err(|e| ConfigError::invalid_setting(&system, setting, e.to_string()))
        };
        check_prefix(&system, "bot_token", self.bot_token.as_ref(), "xoxb-")?;
        check_prefix(&system, "admin_token", self.admin_token.as_ref(), "xoxp-")?;
        if self.bot_token.is_none() && self.admin_token.is_none() && self.scim_token.is_none() {
            return Err(no_token(&system));
        }
        if let Some(team) = &self.team_id
            && !is_team_id(team)
        {
            return Err(ConfigError::invalid_setting(
                &system,
                "team_id",
                format!(
                    "a Slack workspace id (`T` then letters and digits, as in T0123456), not \
                     `{team}`"
                ),
            ));
        }
        Ok(SlackConfig {
            api_url: url("api_url", self.api_url, DEFAULT_API_URL)?,
            scim_url: url("scim_url", self.scim_url, DEFAULT_SCIM_URL)?,
            bot_token: self.bot_token,
            admin_token: self.admin_token,
            scim_token: self.scim_token,
            channels: self.channels,
            usergroups: self.usergroups,
            timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
            page_size: self.page_size.unwrap_or(1000),
            scim_page_size: self.scim_page_size.unwrap_or(1000),
            scim_deactivation: self.scim_deactivation,
            team_id: self.team_id,
            system_name: system,
        })
    }
}

/// A token that is plainly of another type (Slack's prefixes: `xoxb-` bot, `xoxp-`
/// user, `xoxe.`/`xoxa-` others) is refused; the value is never echoed.
fn check_prefix(
    system: &str,
    credential: &str,
    token: Option<&SecretString>,
    prefix: &str,
) -> Result<(), ConfigError> {
    let Some(token) = token else { return Ok(()) };
    let value = token.expose_secret().trim();
    if value.is_empty() {
        return Err(ConfigError::missing_credential(
            system,
            credential,
            "the token is empty",
        ));
    }
    let typed = value.starts_with("xox");
    if typed && !value.starts_with(prefix) {
        return Err(ConfigError::missing_credential(
            system,
            credential,
            format!("expected a `{prefix}` token; the one given is of another type"),
        ));
    }
    Ok(())
}

/// A channel name as the map keys it: without a leading `#`.
pub fn channel_key(name: &str) -> String {
    name.trim().trim_start_matches('#').to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_token_of_the_wrong_type_is_refused_without_echoing_it() {
        let e = SlackConfig::builder()
            .bot_token("xoxp-user-secret")
            .build()
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("bot_token") && text.contains("xoxb-"),
            "{text}"
        );
        assert!(!text.contains("user-secret"), "{text}");
    }

    #[test]
    fn no_token_at_all_names_the_variables() {
        let e = SlackConfig::builder().build().unwrap_err();
        assert!(e.to_string().contains("SLACK_BOT_TOKEN"), "{e}");
    }

    #[test]
    fn debug_shows_which_tokens_but_not_their_values() {
        let c = SlackConfig::builder()
            .bot_token("xoxb-very-secret")
            .channel("#eng", "C1")
            .build()
            .unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("bot: true") && shown.contains("eng"),
            "{shown}"
        );
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
