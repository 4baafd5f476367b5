//! How the adapter reaches a Jira Cloud site (and, optionally, the Atlassian
//! organization that manages its accounts) and what it does there.

use std::time::Duration;

use provision_core::adapter::SystemSpec;
use provision_core::config::ExternalOwnership;
use provision_core::secret::SecretString;
use url::Url;

pub use provision_core::adapter::ConfigError;

/// The system name configuration errors carry unless the builder is given another
/// ([`JiraConfigBuilder::system_name`]).
pub const DEFAULT_SYSTEM_NAME: &str = "jira";

/// The Atlassian user-management API's host.
pub const ORG_API_URL: &str = "https://api.atlassian.com/";

/// Jira's product keys, as `POST /user` and `GET /applicationrole` spell them.
pub const PRODUCTS: &[&str] = &[
    "jira-software",
    "jira-servicedesk",
    "jira-core",
    "jira-product-discovery",
];

/// The project role names policies may use unless configured (the sandbox preset's).
pub const DEFAULT_PROJECT_ROLES: &[&str] = &["Administrator", "Developer", "Reporter", "User"];

/// The organization's user-management access: the second host and credential.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    /// `https://api.atlassian.com/`; in tests the mock server's URL.
    pub api_url: Url,
    /// The org API key (`Authorization: Bearer`), created in admin.atlassian.com.
    pub api_key: SecretString,
}

/// The adapter's configuration. Build it with [`JiraConfig::builder`],
/// [`JiraConfig::from_env`] or [`JiraConfig::from_spec`].
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// The site, `https://<site>.atlassian.net`; the API is under `rest/api/3/`.
    pub site_url: Url,
    /// The email of the account whose API token is used.
    pub email: String,
    /// That account's API token (Basic `email:token`).
    pub api_token: SecretString,
    /// The org user-management API; `None`: accounts cannot be deactivated, a leaver
    /// loses product access, groups and project roles instead.
    pub org: Option<OrgAccess>,
    /// The projects whose roles the adapter reads in full (a person's roles there are
    /// part of what they hold); empty: only the projects policies name are read.
    pub projects: Vec<String>,
    /// The project role names policies may use.
    pub project_roles: Vec<String>,
    /// The product keys policies may give.
    pub products: Vec<String>,
    /// Title and department are kept on the Atlassian profile (needs the org key; the
    /// account read then reads each profile, one org request per account).
    pub profile_sync: bool,
    /// The message sent with a deactivation (shown in the org's audit log).
    pub deactivation_message: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The deployment's `external_owners` of this system: what another engine owns
    /// is never revoked, also not by the suspend of an account the organization does
    /// not manage (which takes the leaver's grants away itself).
    pub external_owners: Vec<ExternalOwnership>,
    /// The system's name in the deployment (default `jira`): configuration errors
    /// name it.
    pub(crate) system_name: String,
}

impl JiraConfig {
    /// A builder for the site at `site_url`, authenticating as `email` with `api_token`.
    pub fn builder(
        site_url: &str,
        email: impl Into<String>,
        api_token: impl Into<SecretString>,
    ) -> JiraConfigBuilder {
        JiraConfigBuilder {
            site_url: site_url.to_owned(),
            email: email.into(),
            api_token: api_token.into(),
            org: None,
            projects: Vec::new(),
            project_roles: DEFAULT_PROJECT_ROLES
                .iter()
                .map(|r| (*r).to_owned())
                .collect(),
            products: PRODUCTS.iter().map(|p| (*p).to_owned()).collect(),
            profile_sync: false,
            deactivation_message: "Deactivated by provision: the person left".to_owned(),
            timeout: Duration::from_secs(30),
            external_owners: Vec::new(),
            system_name: DEFAULT_SYSTEM_NAME.to_owned(),
        }
    }

    /// Reads `JIRA_URL`, `JIRA_EMAIL`, `JIRA_API_TOKEN` (required) and optionally
    /// `ATLASSIAN_ORG_API_KEY` (with `ATLASSIAN_API_URL` to override the host),
    /// `JIRA_PROJECTS` (comma separated) and `JIRA_PROFILE_SYNC` (`true`/`false`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`JiraConfig::from_env`] over any variable source (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let invalid = |variable: &str, expected: String| {
            ConfigError::invalid_setting(DEFAULT_SYSTEM_NAME, variable, expected)
        };
        let need = |name: &str| get(name).ok_or_else(|| invalid(name, "missing".to_owned()));
        let mut b = Self::builder(
            &need("JIRA_URL")?,
            need("JIRA_EMAIL")?.trim(),
            SecretString::from(need("JIRA_API_TOKEN")?.trim().to_owned()),
        );
        if let Some(key) = get("ATLASSIAN_ORG_API_KEY") {
            b = b.org_api_key(SecretString::from(key.trim().to_owned()));
        }
        if let Some(url) = get("ATLASSIAN_API_URL") {
            b = b.org_api_url(&url);
        }
        if let Some(projects) = get("JIRA_PROJECTS") {
            b = b.projects(split_list(&projects));
        }
        if let Some(v) = get("JIRA_PROFILE_SYNC") {
            b = b.profile_sync(parse_bool(&v).map_err(|e| invalid("JIRA_PROFILE_SYNC", e))?);
        }
        b.build()
    }

    /// From a deployment's system entry, as [`crate::factory()`] builds it.
    ///
    /// Settings: `site_url` (required), `email` (required), `org_api_url`,
    /// `projects`, `project_roles`, `products` (comma separated), `profile_sync`
    /// (`true`/`false`), `deactivation_message`, `timeout_seconds`.
    /// Credentials: `api_token` (required), `org_api_key` (optional).
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        let system = spec.name.as_str();
        let site =
            spec.required_setting("site_url", "the site URL, `https://<site>.atlassian.net`")?;
        let email = spec.required_setting("email", "the email of the API token's account")?;
        let token = spec.required_credential("api_token")?;
        let mut b = Self::builder(site, email, token).system_name(system);
        if let Some(key) = spec.credential("org_api_key")? {
            b = b.org_api_key(key);
        }
        if let Some(url) = spec.setting("org_api_url") {
            b = b.org_api_url(url);
        }
        b = b.external_owners(spec.config.external_owners.clone());
        if let Some(v) = spec.setting("projects") {
            b = b.projects(split_list(v));
        }
        if let Some(v) = spec.setting("project_roles") {
            b = b.project_roles(split_list(v));
        }
        if let Some(v) = spec.setting("products") {
            b = b.products(split_list(v));
        }
        if let Some(v) = spec.setting("profile_sync") {
            let on = parse_bool(v)
                .map_err(|e| ConfigError::invalid_setting(system, "profile_sync", e))?;
            b = b.profile_sync(on);
        }
        if let Some(v) = spec.setting("deactivation_message") {
            b = b.deactivation_message(v);
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
        b.build()
    }

    /// The site API's base, `<site>/rest/api/3/`.
    pub fn api_base(&self) -> Result<Url, ConfigError> {
        self.site_url
            .join("rest/api/3/")
            .map_err(|e| ConfigError::invalid_setting(&self.system_name, "site_url", e.to_string()))
    }

    /// The system's name in the deployment that configuration errors name.
    pub fn system_name(&self) -> &str {
        &self.system_name
    }
}

/// Builds a [`JiraConfig`].
#[derive(Debug)]
#[must_use]
pub struct JiraConfigBuilder {
    site_url: String,
    email: String,
    api_token: SecretString,
    org: Option<(Option<String>, Option<SecretString>)>,
    projects: Vec<String>,
    project_roles: Vec<String>,
    products: Vec<String>,
    profile_sync: bool,
    deactivation_message: String,
    timeout: Duration,
    external_owners: Vec<ExternalOwnership>,
    system_name: String,
}

impl JiraConfigBuilder {
    /// The system's name in the deployment (default `jira`): configuration errors
    /// name it.
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = name.into();
        self
    }

    /// The org API key: accounts can be deactivated and reactivated (managed accounts).
    pub fn org_api_key(mut self, key: impl Into<SecretString>) -> Self {
        let url = self.org.take().and_then(|(url, _)| url);
        self.org = Some((url, Some(key.into())));
        self
    }

    /// The user-management API's host (default [`ORG_API_URL`]; tests: the mock).
    pub fn org_api_url(mut self, url: &str) -> Self {
        let key = self.org.take().and_then(|(_, key)| key);
        self.org = Some((Some(url.to_owned()), key));
        self
    }

    /// The deployment's `external_owners` of this system (what another engine owns).
    pub fn external_owners(mut self, owners: Vec<ExternalOwnership>) -> Self {
        self.external_owners = owners;
        self
    }

    /// The projects whose roles are read in full.
    pub fn projects(mut self, projects: Vec<String>) -> Self {
        self.projects = projects;
        self
    }

    /// The project role names policies may use.
    pub fn project_roles(mut self, roles: Vec<String>) -> Self {
        self.project_roles = roles;
        self
    }

    /// The product keys policies may give.
    pub fn products(mut self, products: Vec<String>) -> Self {
        self.products = products;
        self
    }

    /// Keep title and department on the Atlassian profile (needs the org key).
    pub fn profile_sync(mut self, on: bool) -> Self {
        self.profile_sync = on;
        self
    }

    /// The message sent with a deactivation.
    pub fn deactivation_message(mut self, message: impl Into<String>) -> Self {
        self.deactivation_message = message.into();
        self
    }

    /// Per-request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks and builds.
    pub fn build(self) -> Result<JiraConfig, ConfigError> {
        let system = self.system_name.as_str();
        let url = |setting: &str, text: &str| {
            parse_url(text).map_err(|e| ConfigError::invalid_setting(system, setting, e))
        };
        let site_url = url("site_url", &self.site_url)?;
        if self.email.trim().is_empty() {
            return Err(ConfigError::invalid_setting(system, "email", "missing"));
        }
        let org = match self.org {
            None | Some((_, None)) => None,
            Some((api_url, Some(api_key))) => Some(OrgAccess {
                api_url: url("org_api_url", api_url.as_deref().unwrap_or(ORG_API_URL))?,
                api_key,
            }),
        };
        if self.profile_sync && org.is_none() {
            return Err(ConfigError::invalid_setting(
                system,
                "profile_sync",
                "title and department live on the Atlassian profile, which only the org API \
                 key can change: set the org_api_key credential or leave profile_sync off",
            ));
        }
        if let Some(unknown) = self.products.iter().find(|p| p.trim().is_empty()) {
            return Err(ConfigError::invalid_setting(
                system,
                "products",
                format!("empty product key {unknown:?}"),
            ));
        }
        Ok(JiraConfig {
            site_url,
            email: self.email.trim().to_owned(),
            api_token: self.api_token,
            org,
            projects: self.projects,
            project_roles: self.project_roles,
            products: self.products,
            profile_sync: self.profile_sync,
            deactivation_message: self.deactivation_message,
            timeout: self.timeout,
            external_owners: self.external_owners,
            system_name: self.system_name,
        })
    }
}

/// A comma- or space-separated list.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("`true` or `false`, not `{other}`")),
    }
}

/// An http(s) base URL with a host; plain `http` only on loopback (a mock server):
/// every request carries a credential. User-info in the URL is refused and not echoed.
/// The error says what is wrong, for the setting's own error.
fn parse_url(text: &str) -> Result<Url, String> {
    let shown = if text.contains('@') {
        "the URL given (not shown: it has a user-info part)".to_owned()
    } else {
        format!("`{text}`")
    };
    let url = provision_http::client::parse_base_url(text).map_err(|e| {
        let reason = match e {
            provision_http::client::ClientConfigError::BaseUrl { reason, .. } => reason,
            other => other.to_string(),
        };
        format!("{shown}: {reason}")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("no user name or password in the URL".to_owned());
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() == "http" && !loopback {
        return Err(format!(
            "{shown} is plain http: the credential would cross the network in the clear"
        ));
    }
    Ok(url)
}
