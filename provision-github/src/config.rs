//! How the adapter reaches GitHub and what it manages there.

use std::time::Duration;

use provision_core::adapter::SystemSpec;
use provision_core::secret::SecretString;
use url::Url;

pub use provision_core::adapter::ConfigError;

/// The system name configuration errors carry unless the builder is given another.
pub const DEFAULT_SYSTEM_NAME: &str = "github";

/// GitHub's REST API on github.com (and GitHub Enterprise Cloud).
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The roster attribute holding a person's GitHub username, unless configured
/// otherwise ([`GithubConfigBuilder::username_attribute`]).
pub const DEFAULT_USERNAME_ATTRIBUTE: &str = "github_username";

/// The roster attribute that says a joiner is a rehire (`true`), unless configured
/// otherwise: their invitation asks GitHub to reinstate what they had.
pub const DEFAULT_REHIRE_ATTRIBUTE: &str = "rehire";

/// How the adapter authenticates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum GithubAuth {
    /// A personal access token (classic or fine-grained), sent as `Bearer`.
    Token(SecretString),
    /// A GitHub App installation: an RS256 app JWT exchanged for a one-hour
    /// installation token ([`crate::app`]).
    App {
        /// The app's id (or client id): the JWT's `iss`.
        app_id: String,
        /// The installation on the managed organization.
        installation_id: u64,
        /// The app's private key (PEM).
        private_key: SecretString,
    },
}

/// An Enterprise Managed Users enterprise: accounts live in the enterprise's SCIM
/// directory, suspended with `active:false` and deleted (irreversibly) with `DELETE`.
#[derive(Debug, Clone)]
pub struct Emu {
    /// The enterprise's slug (`/scim/v2/enterprises/{enterprise}`).
    pub enterprise: String,
    /// The enterprise's short code: GitHub names a managed user `{handle}_{shortcode}`.
    pub shortcode: String,
    /// The setup user's token with `scim:enterprise` (SCIM calls); when absent the main
    /// token is used.
    pub scim_token: Option<SecretString>,
    /// The SCIM root, when not `{api_url}/scim/v2/enterprises/{enterprise}/` (tests
    /// point it at a SCIM peer).
    pub scim_url: Option<Url>,
}

impl Emu {
    /// The SCIM root (ends in `/`; `Users` is below it).
    pub fn scim_root(&self, api_url: &Url) -> Url {
        match &self.scim_url {
            Some(u) => u.clone(),
            None => {
                let mut u = api_url.clone();
                u.path_segments_mut()
                    .map(|mut p| {
                        p.pop_if_empty().extend([
                            "scim",
                            "v2",
                            "enterprises",
                            &self.enterprise,
                            "",
                        ]);
                    })
                    .ok();
                u
            }
        }
    }
}

/// The adapter's configuration. Build it with [`GithubConfig::builder`],
/// [`GithubConfig::from_env`] or [`GithubConfig::from_spec`].
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// The REST API root (`https://api.github.com/`); in tests the mock server's URL.
    pub api_url: Url,
    /// The managed organization's login.
    pub org: String,
    /// How to authenticate.
    pub auth: GithubAuth,
    /// Set for an Enterprise Managed Users enterprise.
    pub emu: Option<Emu>,
    /// The roster attribute holding the GitHub username (plain organizations).
    pub username_attribute: String,
    /// The roster attribute that marks a rehire.
    pub rehire_attribute: String,
    /// Custom repository roles, each with the base role it builds on
    /// (`("security-reviewer", "triage")`): it ranks just above that base role.
    pub custom_repo_roles: Vec<(String, String)>,
    /// The deployment's `delete_leavers`: only then may an EMU account be deleted.
    pub delete_leavers: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    pub(crate) system_name: String,
}

impl GithubConfig {
    /// A builder for the organization `org` on github.com.
    pub fn builder(org: &str) -> GithubConfigBuilder {
        GithubConfigBuilder {
            api_url: DEFAULT_API_URL.to_owned(),
            org: org.to_owned(),
            auth: None,
            emu: None,
            username_attribute: DEFAULT_USERNAME_ATTRIBUTE.to_owned(),
            rehire_attribute: DEFAULT_REHIRE_ATTRIBUTE.to_owned(),
            custom_repo_roles: Vec::new(),
            delete_leavers: false,
            timeout: Duration::from_secs(30),
            system_name: DEFAULT_SYSTEM_NAME.to_owned(),
            scim_url: None,
        }
    }

    /// Reads `GITHUB_ORG` and either `GITHUB_TOKEN` or the app variables
    /// `GITHUB_APP_ID`, `GITHUB_APP_INSTALLATION_ID` and `GITHUB_APP_PRIVATE_KEY` (the
    /// PEM) or `GITHUB_APP_PRIVATE_KEY_FILE`; optionally `GITHUB_API_URL`, and for an
    /// EMU enterprise `GITHUB_ENTERPRISE`, `GITHUB_EMU_SHORTCODE` and
    /// `GITHUB_SCIM_TOKEN`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// True when the environment names a GitHub organization and a credential (the
    /// quickstart's switch to real GitHub).
    pub fn env_is_set() -> bool {
        let set = |n: &str| std::env::var(n).is_ok_and(|v| !v.trim().is_empty());
        set("GITHUB_ORG") && (set("GITHUB_TOKEN") || set("GITHUB_APP_ID"))
    }

    /// [`GithubConfig::from_env`] over any variable source (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let invalid = |variable: &str, expected: String| {
            ConfigError::invalid_setting(DEFAULT_SYSTEM_NAME, variable, expected)
        };
        let org = get("GITHUB_ORG").ok_or_else(|| invalid("GITHUB_ORG", "missing".into()))?;
        let mut b = Self::builder(&org);
        if let Some(url) = get("GITHUB_API_URL") {
            b = b.api_url(&url);
        }
        b = match (get("GITHUB_TOKEN"), get("GITHUB_APP_ID")) {
            (Some(token), _) => b.token(token),
            (None, Some(app_id)) => {
                let installation = get("GITHUB_APP_INSTALLATION_ID").ok_or_else(|| {
                    invalid(
                        "GITHUB_APP_INSTALLATION_ID",
                        "missing (GITHUB_APP_ID is set)".into(),
                    )
                })?;
                let installation = parse_installation(&installation)
                    .map_err(|e| invalid("GITHUB_APP_INSTALLATION_ID", e))?;
                let key = match (
                    get("GITHUB_APP_PRIVATE_KEY"),
                    get("GITHUB_APP_PRIVATE_KEY_FILE"),
                ) {
                    (Some(pem), _) => SecretString::from(pem),
                    (None, Some(path)) => {
                        provision_http::auth::read_secret_file(std::path::Path::new(&path))
                            .map_err(|e| invalid("GITHUB_APP_PRIVATE_KEY_FILE", e.to_string()))?
                    }
                    (None, None) => {
                        return Err(ConfigError::missing_credential(
                            DEFAULT_SYSTEM_NAME,
                            "GITHUB_APP_PRIVATE_KEY",
                            "the app's private key (PEM), or GITHUB_APP_PRIVATE_KEY_FILE",
                        ));
                    }
                };
                b.app(app_id, installation, key)
            }
            (None, None) => {
                return Err(ConfigError::missing_credential(
                    DEFAULT_SYSTEM_NAME,
                    "GITHUB_TOKEN",
                    "a token, or GITHUB_APP_ID with GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY",
                ));
            }
        };
        if let Some(enterprise) = get("GITHUB_ENTERPRISE") {
            let shortcode = get("GITHUB_EMU_SHORTCODE").ok_or_else(|| {
                invalid(
                    "GITHUB_EMU_SHORTCODE",
                    "missing (GITHUB_ENTERPRISE is set)".into(),
                )
            })?;
            b = b.emu(
                enterprise,
                shortcode,
                get("GITHUB_SCIM_TOKEN").map(SecretString::from),
            );
        }
        b.build()
    }

    /// From a deployment's system entry, as [`crate::factory()`] builds it.
    ///
    /// Settings: `org` (required), `api_url` (default `https://api.github.com`),
    /// `app_id` and `installation_id` (a GitHub App; otherwise a token),
    /// `enterprise` and `emu_shortcode` (an EMU enterprise), `username_attribute`
    /// (default `github_username`), `rehire_attribute` (default `rehire`),
    /// `custom_repo_roles` (`name:base,name:base`), `timeout_seconds`. Credentials:
    /// `token`, or `private_key` for an app; `scim_token` for EMU (optional). Deletion
    /// is the deployment's `delete_leavers`.
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        let system = spec.name.as_str();
        let invalid = |setting: &str, expected: String| {
            ConfigError::invalid_setting(system, setting, expected)
        };
        let org = spec.required_setting("org", "the managed organization's login (`acme`)")?;
        let mut b = Self::builder(org).system_name(system);
        if let Some(url) = spec.setting("api_url") {
            b = b.api_url(url);
        }
        b = match spec.setting("app_id") {
            Some(app_id) => {
                let installation = spec.required_setting(
                    "installation_id",
                    "the app's installation id on the organization (a number)",
                )?;
                let installation =
                    parse_installation(installation).map_err(|e| invalid("installation_id", e))?;
                b.app(
                    app_id,
                    installation,
                    spec.required_credential("private_key")?,
                )
            }
            None => b.token(spec.required_credential("token")?),
        };
        if let Some(enterprise) = spec.setting("enterprise") {
            let shortcode = spec.required_setting(
                "emu_shortcode",
                "the enterprise's short code (managed users are named `handle_shortcode`)",
            )?;
            b = b.emu(enterprise, shortcode, spec.credential("scim_token")?);
            if let Some(url) = spec.setting("scim_url") {
                b = b.scim_url(url);
            }
        }
        if let Some(v) = spec.setting("username_attribute") {
            b = b.username_attribute(v);
        }
        if let Some(v) = spec.setting("rehire_attribute") {
            b = b.rehire_attribute(v);
        }
        if let Some(v) = spec.setting("custom_repo_roles") {
            b = b.custom_repo_roles(
                parse_custom_roles(v).map_err(|e| invalid("custom_repo_roles", e))?,
            );
        }
        if let Some(v) = spec.setting("timeout_seconds") {
            let secs: u64 = v.parse().map_err(|_| {
                invalid("timeout_seconds", format!("a number of seconds, not `{v}`"))
            })?;
            b = b.timeout(Duration::from_secs(secs));
        }
        b.delete_leavers(spec.config.delete_leavers).build()
    }

    /// The system's name in the deployment that configuration errors name.
    pub fn system_name(&self) -> &str {
        &self.system_name
    }
}

fn parse_installation(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("a number (the installation id), not `{text}`"))
}

/// `name:base,name:base` → custom repository roles with their base roles.
pub fn parse_custom_roles(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, base)) = item.split_once(':') else {
            return Err(format!("`name:base_role`, not `{item}`"));
        };
        let base = base.trim();
        if !crate::descriptor::BASE_REPO_ROLES.contains(&base) {
            return Err(format!(
                "the base role of `{name}` must be one of pull, triage, push, maintain, admin, not `{base}`"
            ));
        }
        out.push((name.trim().to_owned(), base.to_owned()));
    }
    Ok(out)
}

/// Builds a [`GithubConfig`].
#[derive(Debug)]
pub struct GithubConfigBuilder {
    api_url: String,
    org: String,
    auth: Option<GithubAuth>,
    emu: Option<Emu>,
    username_attribute: String,
    rehire_attribute: String,
    custom_repo_roles: Vec<(String, String)>,
    delete_leavers: bool,
    timeout: Duration,
    system_name: String,
    scim_url: Option<String>,
}

impl GithubConfigBuilder {
    /// The system's name in the deployment (default `github`).
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = name.into();
        self
    }

    /// The REST API root (default `https://api.github.com`).
    pub fn api_url(mut self, url: &str) -> Self {
        url.clone_into(&mut self.api_url);
        self
    }

    /// Authenticate with a personal access token.
    pub fn token(mut self, token: impl Into<SecretString>) -> Self {
        self.auth = Some(GithubAuth::Token(token.into()));
        self
    }

    /// Authenticate as a GitHub App installation.
    pub fn app(
        mut self,
        app_id: impl Into<String>,
        installation_id: u64,
        private_key: impl Into<SecretString>,
    ) -> Self {
        self.auth = Some(GithubAuth::App {
            app_id: app_id.into(),
            installation_id,
            private_key: private_key.into(),
        });
        self
    }

    /// An EMU enterprise (slug, short code, optional SCIM token).
    pub fn emu(
        mut self,
        enterprise: impl Into<String>,
        shortcode: impl Into<String>,
        scim_token: Option<SecretString>,
    ) -> Self {
        self.emu = Some(Emu {
            enterprise: enterprise.into(),
            shortcode: shortcode.into(),
            scim_token,
            scim_url: None,
        });
        self
    }

    /// The EMU SCIM root, when not under the API URL (a SCIM peer in tests). Call after
    /// [`GithubConfigBuilder::emu`]; checked like the API URL.
    pub fn scim_url(mut self, url: &str) -> Self {
        self.scim_url = Some(url.to_owned());
        self
    }

    /// The roster attribute holding the GitHub username.
    pub fn username_attribute(mut self, name: impl Into<String>) -> Self {
        self.username_attribute = name.into();
        self
    }

    /// The roster attribute that marks a rehire.
    pub fn rehire_attribute(mut self, name: impl Into<String>) -> Self {
        self.rehire_attribute = name.into();
        self
    }

    /// Custom repository roles with their base roles.
    pub fn custom_repo_roles(mut self, roles: Vec<(String, String)>) -> Self {
        self.custom_repo_roles = roles;
        self
    }

    /// Whether leavers may be deleted (EMU only; default false).
    pub fn delete_leavers(mut self, delete: bool) -> Self {
        self.delete_leavers = delete;
        self
    }

    /// Per-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<GithubConfig, ConfigError> {
        let system = self.system_name.as_str();
        let api_url = parse_api_url(&self.api_url)
            .map_err(|e| ConfigError::invalid_setting(system, "api_url", e))?;
        let org = self.org.trim().to_owned();
        if org.is_empty() || org.contains('/') {
            return Err(ConfigError::invalid_setting(
                system,
                "org",
                "the organization's login, without slashes",
            ));
        }
        let auth = self.auth.ok_or_else(|| {
            ConfigError::missing_credential(system, "token", "a GitHub token or a GitHub App key")
        })?;
        let mut emu = self.emu;
        if let (Some(e), Some(url)) = (emu.as_mut(), &self.scim_url) {
            let mut url = parse_api_url(url)
                .map_err(|e| ConfigError::invalid_setting(system, "scim_url", e))?;
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            e.scim_url = Some(url);
        }
        if let Some(emu) = &emu
            && (emu.enterprise.trim().is_empty() || emu.shortcode.trim().is_empty())
        {
            return Err(ConfigError::invalid_setting(
                system,
                "enterprise",
                "an EMU enterprise needs its slug and its short code (emu_shortcode)",
            ));
        }
        Ok(GithubConfig {
            api_url,
            org,
            auth,
            emu,
            username_attribute: self.username_attribute,
            rehire_attribute: self.rehire_attribute,
            custom_repo_roles: self.custom_repo_roles,
            delete_leavers: self.delete_leavers,
            timeout: self.timeout,
            system_name: self.system_name,
        })
    }
}

/// Checks the API URL ([`provision_http::client::parse_credential_url`]): http(s)
/// with a host, no user-info, plain http only on loopback.
pub fn parse_api_url(text: &str) -> Result<Url, String> {
    provision_http::client::parse_credential_url(text)
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
    fn env_takes_a_token_or_the_app_variables_and_names_what_is_missing() {
        let c = GithubConfig::from_lookup(lookup(&[
            ("GITHUB_ORG", "acme"),
            ("GITHUB_TOKEN", "ghp_secretvalue"),
        ]))
        .unwrap();
        assert_eq!(c.api_url.as_str(), "https://api.github.com/");
        assert!(matches!(c.auth, GithubAuth::Token(_)));
        assert!(!format!("{c:?}").contains("ghp_secretvalue"));

        let c = GithubConfig::from_lookup(lookup(&[
            ("GITHUB_ORG", "acme"),
            ("GITHUB_APP_ID", "123"),
            ("GITHUB_APP_INSTALLATION_ID", "456"),
            ("GITHUB_APP_PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----"),
        ]))
        .unwrap();
        assert!(matches!(
            c.auth,
            GithubAuth::App {
                installation_id: 456,
                ..
            }
        ));

        let e =
            GithubConfig::from_lookup(lookup(&[("GITHUB_ORG", "acme"), ("GITHUB_APP_ID", "1")]))
                .unwrap_err()
                .to_string();
        assert!(e.contains("GITHUB_APP_INSTALLATION_ID"), "{e}");
        let e = GithubConfig::from_lookup(lookup(&[("GITHUB_TOKEN", "t")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("GITHUB_ORG"), "{e}");
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback_and_custom_roles_need_a_base() {
        let e = GithubConfig::builder("acme")
            .api_url("http://github.example.com")
            .token("t")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain http"), "{e}");
        GithubConfig::builder("acme")
            .api_url("http://127.0.0.1:9")
            .token("t")
            .build()
            .unwrap();
        assert_eq!(
            parse_custom_roles("security-reviewer:triage, release:maintain").unwrap(),
            vec![
                ("security-reviewer".to_owned(), "triage".to_owned()),
                ("release".to_owned(), "maintain".to_owned())
            ]
        );
        assert!(parse_custom_roles("x:owner").is_err());
    }
}
