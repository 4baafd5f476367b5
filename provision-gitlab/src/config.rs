//! How the adapter reaches a GitLab instance and what it does there.

use std::time::Duration;

use provision_core::adapter::SystemSpec;
use provision_core::secret::SecretString;
use url::Url;

pub use provision_core::adapter::ConfigError;

/// The system name configuration errors carry unless the builder is given another
/// ([`GitlabConfigBuilder::system_name`]).
pub const DEFAULT_SYSTEM_NAME: &str = "gitlab";

/// How the adapter authenticates. Both schemes take a personal, group, project or
/// service-account access token (with the `api` scope); `Bearer` also takes an OAuth
/// access token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum GitlabAuth {
    /// `PRIVATE-TOKEN: <token>` (the default).
    PrivateToken(SecretString),
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
}

/// Which GitLab the adapter talks to: it decides what can happen to accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// gitlab.com: accounts come from SAML/SCIM on the person's first SSO login; the
    /// adapter cannot create, block, deactivate or delete users (no instance admin
    /// exists for customers). A membership for a person without an account yet is
    /// pending until the first login; a leaver loses every membership in the managed
    /// groups.
    GitlabCom,
    /// Self-managed (or Dedicated) with an instance administrator's token: users are
    /// created, blocked or deactivated, reactivated and (where `delete_leavers`)
    /// deleted by the adapter.
    SelfManaged,
}

impl Deployment {
    /// The setting's spelling (`gitlab_com`, `self_managed`).
    pub fn as_setting(self) -> &'static str {
        match self {
            Deployment::GitlabCom => "gitlab_com",
            Deployment::SelfManaged => "self_managed",
        }
    }

    /// From the setting's spelling.
    pub fn from_setting(text: &str) -> Result<Self, String> {
        match text {
            "gitlab_com" | "gitlab.com" | "saas" => Ok(Deployment::GitlabCom),
            "self_managed" | "self-managed" | "dedicated" => Ok(Deployment::SelfManaged),
            other => Err(format!("`gitlab_com` or `self_managed`, not `{other}`")),
        }
    }

    /// gitlab.com when the URL's host is `gitlab.com`, self-managed otherwise.
    pub fn of_url(url: &Url) -> Self {
        if url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("gitlab.com"))
        {
            Deployment::GitlabCom
        } else {
            Deployment::SelfManaged
        }
    }
}

/// What a leaver's suspension does on self-managed GitLab.
///
/// `block` is the default: a deactivated user who signs in again is reactivated by
/// GitLab, personal access tokens included, so deactivation alone can be undone by
/// the leaver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeaverAction {
    /// `POST /users/:id/block` (the default): the user cannot sign in or use tokens
    /// until an administrator unblocks them.
    #[default]
    Block,
    /// `POST /users/:id/deactivate`: the user holds no seat. GitLab reactivates a
    /// deactivated user on their next sign-in, so the adapter also revokes the user's
    /// personal access tokens (`DELETE /personal_access_tokens/:id`), and **password
    /// sign-in must be off** on the instance (sign-in only through the identity
    /// provider, where the leaver is disabled). GitLab refuses to deactivate a user
    /// active in the last days (the window is an instance setting); the adapter then
    /// blocks instead and logs that it did.
    Deactivate,
}

/// The adapter's configuration. Build it with [`GitlabConfig::builder`],
/// [`GitlabConfig::from_env`] or [`GitlabConfig::from_spec`].
#[derive(Debug, Clone)]
pub struct GitlabConfig {
    /// The instance's URL (`https://gitlab.com/`, `https://gitlab.example.com/`),
    /// without `/api/v4`; in tests the mock server's URL.
    pub base_url: Url,
    /// How to authenticate.
    pub auth: GitlabAuth,
    /// gitlab.com or self-managed.
    pub deployment: Deployment,
    /// The full path of the managed top-level group (`acme`): its subgroups and
    /// projects are the managed tree (listed, read per person), and on gitlab.com its
    /// members are the accounts.
    pub group: String,
    /// What suspension does on self-managed GitLab.
    pub leaver_action: LeaverAction,
    /// Delete with `hard_delete=true` (contributions deleted too) instead of moving
    /// them to the ghost user. Off by default.
    pub hard_delete: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The system's name in the deployment (default `gitlab`): configuration errors
    /// name it.
    pub(crate) system_name: String,
}

impl GitlabConfig {
    /// A builder for the instance at `base_url` managing the top-level group `group`.
    pub fn builder(base_url: &str, group: &str) -> GitlabConfigBuilder {
        GitlabConfigBuilder {
            base_url: base_url.to_owned(),
            group: group.to_owned(),
            auth: None,
            deployment: None,
            leaver_action: LeaverAction::default(),
            hard_delete: false,
            timeout: Duration::from_secs(30),
            system_name: DEFAULT_SYSTEM_NAME.to_owned(),
        }
    }

    /// Reads `GITLAB_URL`, `GITLAB_TOKEN` and `GITLAB_GROUP` (the managed top-level
    /// group), and optionally `GITLAB_DEPLOYMENT` (`gitlab_com` / `self_managed`;
    /// by default gitlab.com exactly when the URL's host is `gitlab.com`) and
    /// `GITLAB_AUTH` (`private_token`, the default, or `bearer`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`GitlabConfig::from_env`] over any variable source (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let invalid = |variable: &str, expected: String| {
            ConfigError::invalid_setting(DEFAULT_SYSTEM_NAME, variable, expected)
        };
        let need = |name: &str| get(name).ok_or_else(|| invalid(name, "missing".to_owned()));
        let url = need("GITLAB_URL")?;
        let group = need("GITLAB_GROUP")?;
        let token = need("GITLAB_TOKEN")?;
        let mut b = Self::builder(&url, &group);
        b = match get("GITLAB_AUTH").as_deref() {
            None | Some("private_token") => b.private_token(token),
            Some("bearer") => b.bearer(token),
            Some(other) => {
                return Err(invalid(
                    "GITLAB_AUTH",
                    format!("`private_token` or `bearer`, not `{other}`"),
                ));
            }
        };
        if let Some(d) = get("GITLAB_DEPLOYMENT") {
            b = b.deployment(
                Deployment::from_setting(&d).map_err(|e| invalid("GITLAB_DEPLOYMENT", e))?,
            );
        }
        b.build()
    }

    /// From a deployment's system entry, as [`crate::factory()`] builds it.
    ///
    /// Settings: `base_url` (required; `https://gitlab.com` or the instance's URL),
    /// `group` (required: the managed top-level group's full path), `deployment`
    /// (`gitlab_com` / `self_managed`; by default from the URL), `auth`
    /// (`private_token` / `bearer`), `leaver_action` (`block`, the default, / `deactivate`),
    /// `hard_delete` (`true` / `false`), `timeout_seconds`. Credential: `token`.
    /// Whether leavers are deleted is the deployment's `delete_leavers`.
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        let system = spec.name.as_str();
        let invalid = |setting: &str, expected: String| {
            ConfigError::invalid_setting(system, setting, expected)
        };
        let url = spec.required_setting(
            "base_url",
            "the GitLab URL, `https://gitlab.com` or `https://gitlab.example.com`",
        )?;
        let group = spec.required_setting(
            "group",
            "the full path of the managed top-level group (`acme`)",
        )?;
        let token = spec.required_credential("token")?;
        let mut b = Self::builder(url, group).system_name(system);
        b = match spec.setting("auth") {
            None | Some("private_token") => b.private_token(token),
            Some("bearer") => b.bearer(token),
            Some(other) => {
                return Err(invalid(
                    "auth",
                    format!("`private_token` or `bearer`, not `{other}`"),
                ));
            }
        };
        if let Some(d) = spec.setting("deployment") {
            b = b.deployment(Deployment::from_setting(d).map_err(|e| invalid("deployment", e))?);
        }
        if let Some(v) = spec.setting("leaver_action") {
            b = b.leaver_action(parse_leaver_action(v).map_err(|e| invalid("leaver_action", e))?);
        }
        if let Some(v) = spec.setting("hard_delete") {
            b = b.hard_delete(match v {
                "true" => true,
                "false" => false,
                other => {
                    return Err(invalid(
                        "hard_delete",
                        format!("`true` or `false`, not `{other}`"),
                    ));
                }
            });
        }
        if let Some(v) = spec.setting("timeout_seconds") {
            let secs: u64 = v.parse().map_err(|_| {
                invalid("timeout_seconds", format!("a number of seconds, not `{v}`"))
            })?;
            b = b.timeout(Duration::from_secs(secs));
        }
        b.build()
    }

    /// The system's name in the deployment that configuration errors name.
    pub fn system_name(&self) -> &str {
        &self.system_name
    }

    /// The REST API's root (`…/api/v4/`).
    pub fn api_url(&self) -> Url {
        // The base URL always ends in `/`, so the join cannot fail.
        self.base_url
            .join("api/v4/")
            .unwrap_or_else(|_| self.base_url.clone())
    }
}

/// `deactivate` or `block`.
pub fn parse_leaver_action(text: &str) -> Result<LeaverAction, String> {
    match text {
        "deactivate" => Ok(LeaverAction::Deactivate),
        "block" => Ok(LeaverAction::Block),
        other => Err(format!("`deactivate` or `block`, not `{other}`")),
    }
}

/// Checks the instance URL: an http(s) URL with a host, no user-info, plain http only
/// on loopback (a credential never crosses a network in the clear). A trailing
/// `/api/v4` is removed, so either form works. The error says what is wrong (never
/// the user-info), for the setting `base_url`.
pub fn parse_base_url(text: &str) -> Result<Url, String> {
    let shown = if text.contains('@') {
        "the URL given (not shown: it has a user-info part)".to_owned()
    } else {
        format!("`{text}`")
    };
    let mut url = provision_http::client::parse_base_url(text).map_err(|e| {
        let reason = match e {
            provision_http::client::ClientConfigError::BaseUrl { reason, .. } => reason,
            other => other.to_string(),
        };
        format!("{shown}: {reason}")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a GitLab URL has no user name or password in it".to_owned());
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(format!(
            "{shown} is plain http: the access token would cross the network unencrypted; \
             use https (plain http is allowed only on loopback, for tests)"
        ));
    }
    if let Some(root) = url.path().strip_suffix("api/v4/").map(str::to_owned) {
        url.set_path(&root);
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Builds a [`GitlabConfig`].
#[derive(Debug)]
pub struct GitlabConfigBuilder {
    base_url: String,
    group: String,
    auth: Option<GitlabAuth>,
    deployment: Option<Deployment>,
    leaver_action: LeaverAction,
    hard_delete: bool,
    timeout: Duration,
    system_name: String,
}

impl GitlabConfigBuilder {
    /// The system's name in the deployment (default `gitlab`): configuration errors
    /// name it.
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = name.into();
        self
    }

    /// Authenticate with `PRIVATE-TOKEN`.
    pub fn private_token(mut self, token: impl Into<SecretString>) -> Self {
        self.auth = Some(GitlabAuth::PrivateToken(token.into()));
        self
    }

    /// Authenticate with `Authorization: Bearer`.
    pub fn bearer(mut self, token: impl Into<SecretString>) -> Self {
        self.auth = Some(GitlabAuth::Bearer(token.into()));
        self
    }

    /// gitlab.com or self-managed (default: from the URL's host).
    pub fn deployment(mut self, deployment: Deployment) -> Self {
        self.deployment = Some(deployment);
        self
    }

    /// What suspension does on self-managed GitLab (default block; see
    /// [`LeaverAction::Deactivate`] for what deactivation needs).
    pub fn leaver_action(mut self, action: LeaverAction) -> Self {
        self.leaver_action = action;
        self
    }

    /// Delete users with their contributions (default false).
    pub fn hard_delete(mut self, hard: bool) -> Self {
        self.hard_delete = hard;
        self
    }

    /// Per-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<GitlabConfig, ConfigError> {
        let system = self.system_name.as_str();
        let base_url = parse_base_url(&self.base_url)
            .map_err(|e| ConfigError::invalid_setting(system, "base_url", e))?;
        let group = self.group.trim().trim_matches('/').to_owned();
        if group.is_empty() {
            return Err(ConfigError::invalid_setting(system, "group", "missing"));
        }
        let auth = self.auth.ok_or_else(|| {
            ConfigError::missing_credential(system, "token", "a GitLab access token")
        })?;
        let deployment = self
            .deployment
            .unwrap_or_else(|| Deployment::of_url(&base_url));
        Ok(GitlabConfig {
            base_url,
            auth,
            deployment,
            group,
            leaver_action: self.leaver_action,
            hard_delete: self.hard_delete,
            timeout: self.timeout,
            system_name: self.system_name,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn env_reads_url_group_and_token_and_picks_the_deployment_from_the_host() {
        let c = GitlabConfig::from_lookup(lookup(&[
            ("GITLAB_URL", "https://gitlab.com/api/v4"),
            ("GITLAB_GROUP", "acme"),
            ("GITLAB_TOKEN", "glpat-secret-value"),
        ]))
        .unwrap();
        assert_eq!(c.base_url.as_str(), "https://gitlab.com/");
        assert_eq!(c.api_url().as_str(), "https://gitlab.com/api/v4/");
        assert_eq!(c.deployment, Deployment::GitlabCom);
        assert!(matches!(c.auth, GitlabAuth::PrivateToken(_)));
        assert!(!format!("{c:?}").contains("glpat-secret-value"));
        let c = GitlabConfig::from_lookup(lookup(&[
            ("GITLAB_URL", "https://git.example.com"),
            ("GITLAB_GROUP", "acme"),
            ("GITLAB_TOKEN", "t"),
            ("GITLAB_AUTH", "bearer"),
        ]))
        .unwrap();
        assert_eq!(c.deployment, Deployment::SelfManaged);
        assert!(matches!(c.auth, GitlabAuth::Bearer(_)));
    }

    #[test]
    fn env_errors_name_the_variable() {
        let e = GitlabConfig::from_lookup(lookup(&[])).unwrap_err();
        assert!(e.to_string().contains("GITLAB_URL"), "{e}");
        let e = GitlabConfig::from_lookup(lookup(&[
            ("GITLAB_URL", "https://gitlab.com"),
            ("GITLAB_GROUP", "acme"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("GITLAB_TOKEN"), "{e}");
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        let e = GitlabConfig::builder("http://git.example.com", "acme")
            .private_token("t")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain http"), "{e}");
        GitlabConfig::builder("http://127.0.0.1:9", "acme")
            .private_token("t")
            .build()
            .unwrap();
        let e = GitlabConfig::builder("https://root:hunter2@git.example.com", "acme")
            .private_token("t")
            .build()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
