//! Configuration: the service-account key, the admin to impersonate, the customer or
//! domain, and the endpoints (overridable so tests can point at a mock).

use std::path::{Path, PathBuf};
use std::time::Duration;

use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::secret::SecretString;
use provision_http::auth::read_secret_file;
use url::Url;

use crate::credential::ServiceAccountKey;

/// The Directory API's root (the discovery document's `rootUrl`).
pub const DEFAULT_BASE_URL: &str = "https://admin.googleapis.com/";
/// Google's OAuth 2.0 token endpoint (used when the key names none).
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The customer alias that covers every domain of the tenant the admin belongs to.
pub const MY_CUSTOMER: &str = "my_customer";

/// Scope for users.insert/get/list/update/delete.
pub const SCOPE_USER: &str = "https://www.googleapis.com/auth/admin.directory.user";
/// Scope for users.signOut, which `admin.directory.user` does not cover.
pub const SCOPE_USER_SECURITY: &str =
    "https://www.googleapis.com/auth/admin.directory.user.security";
/// Scope for members.insert/get/list/patch/delete.
pub const SCOPE_GROUP_MEMBER: &str = "https://www.googleapis.com/auth/admin.directory.group.member";
/// Every scope the adapter asks for, and the exact list to authorise for the service
/// account's client id under domain-wide delegation.
pub const SCOPES: [&str; 3] = [SCOPE_USER, SCOPE_USER_SECURITY, SCOPE_GROUP_MEMBER];

/// Environment variable holding the path of a service-account key file.
pub const ENV_CREDENTIALS_PATH: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// Environment variable holding the service-account key JSON itself.
pub const ENV_KEY_JSON: &str = "GOOGLE_SERVICE_ACCOUNT_KEY";
/// Environment variable holding the admin user to impersonate.
pub const ENV_ADMIN_SUBJECT: &str = "GOOGLE_ADMIN_SUBJECT";
/// Environment variable holding the customer id (default `my_customer`).
pub const ENV_CUSTOMER_ID: &str = "GOOGLE_CUSTOMER_ID";
/// Environment variable holding a domain to restrict user listing to.
pub const ENV_DOMAIN: &str = "GOOGLE_DOMAIN";

/// A configuration that cannot work, naming the variable, setting or file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No service-account key was given.
    #[error(
        "no Google service-account key: set {ENV_CREDENTIALS_PATH} (a path) or {ENV_KEY_JSON} (the JSON), or the `service_account_key` credential"
    )]
    MissingKey,
    /// The key file could not be read.
    #[error("cannot read the service-account key file {path}: {source}")]
    ReadKey {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key JSON is malformed (the key's text itself is never repeated here).
    #[error("invalid service-account key from {origin}: {reason}")]
    InvalidKey {
        /// Where the key came from (a variable's name or a path).
        origin: String,
        /// What is wrong, without the key's content.
        reason: String,
    },
    /// A required setting is missing.
    #[error("missing setting `{name}`: {hint}")]
    Missing {
        /// The setting (or environment variable).
        name: String,
        /// How to give it.
        hint: String,
    },
    /// A setting has a value that cannot work.
    #[error("invalid setting `{name}`: {reason}")]
    Invalid {
        /// The setting.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Everything the Google adapter needs. Build it with [`GoogleConfig::builder`],
/// [`GoogleConfig::from_env`] or [`GoogleConfig::from_system_config`].
#[derive(Clone)]
pub struct GoogleConfig {
    pub(crate) key: ServiceAccountKey,
    pub(crate) subject: String,
    pub(crate) customer: Option<String>,
    pub(crate) domain: Option<String>,
    pub(crate) base_url: Url,
    pub(crate) token_url: Url,
    pub(crate) default_org_unit: String,
    pub(crate) allow_delete: bool,
    pub(crate) timeout: Duration,
    pub(crate) token_refresh_margin: Duration,
}

impl std::fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleConfig")
            .field("key", &self.key)
            .field("subject", &self.subject)
            .field("customer", &self.customer)
            .field("domain", &self.domain)
            .field("base_url", &self.base_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("default_org_unit", &self.default_org_unit)
            .field("allow_delete", &self.allow_delete)
            .finish_non_exhaustive()
    }
}

impl GoogleConfig {
    /// A builder with the defaults: customer `my_customer`, default org unit `/`,
    /// Google's endpoints, deletion off, 30 s timeout, tokens refreshed 4 min before expiry.
    pub fn builder() -> GoogleConfigBuilder {
        GoogleConfigBuilder::default()
    }

    /// From the environment: `GOOGLE_APPLICATION_CREDENTIALS` (key file path) or
    /// `GOOGLE_SERVICE_ACCOUNT_KEY` (key JSON), `GOOGLE_ADMIN_SUBJECT`, and optionally
    /// `GOOGLE_CUSTOMER_ID` and `GOOGLE_DOMAIN`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`GoogleConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut builder = Self::builder();
        builder = builder_key_from_lookup(builder, &lookup);
        if let Some(subject) = lookup(ENV_ADMIN_SUBJECT) {
            builder = builder.admin_subject(subject);
        }
        if let Some(customer) = lookup(ENV_CUSTOMER_ID) {
            builder = builder.customer_id(customer);
        }
        if let Some(domain) = lookup(ENV_DOMAIN) {
            builder = builder.domain(domain);
        }
        builder.build()
    }

    /// From a deployment's system entry. Credentials: `service_account_key` (an
    /// environment variable holding the JSON, or a key file); when absent, the
    /// environment variables of [`GoogleConfig::from_env`]. Settings: `admin_subject`
    /// (else `GOOGLE_ADMIN_SUBJECT`), `customer_id`, `domain`, `default_org_unit`,
    /// `base_url`, `token_url`. `delete_leavers: true` allows account deletion.
    pub fn from_system_config(system: &SystemConfig) -> Result<Self, ConfigError> {
        Self::from_system_config_with(system, |name| std::env::var(name).ok())
    }

    /// As [`GoogleConfig::from_system_config`], reading variables through `lookup`.
    pub fn from_system_config_with(
        system: &SystemConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        if system.adapter != "google" {
            return Err(ConfigError::Invalid {
                name: "adapter".into(),
                reason: format!("expected `google`, got `{}`", system.adapter),
            });
        }
        let mut builder = Self::builder();
        builder = match system.credentials.get("service_account_key") {
            Some(CredentialRef::Env { env }) => match lookup(env) {
                Some(json) => builder.service_account_key_json_from(json, env.clone()),
                None => {
                    return Err(ConfigError::Missing {
                        name: env.clone(),
                        hint: "the environment variable named by credential `service_account_key` is not set".into(),
                    });
                }
            },
            Some(CredentialRef::File { file }) => builder.service_account_key_file(file),
            None => builder_key_from_lookup(builder, &lookup),
        };
        let setting = |name: &str| system.settings.get(name).cloned();
        if let Some(subject) = setting("admin_subject").or_else(|| lookup(ENV_ADMIN_SUBJECT)) {
            builder = builder.admin_subject(subject);
        }
        if let Some(customer) = setting("customer_id").or_else(|| lookup(ENV_CUSTOMER_ID)) {
            builder = builder.customer_id(customer);
        }
        if let Some(domain) = setting("domain").or_else(|| lookup(ENV_DOMAIN)) {
            builder = builder.domain(domain);
        }
        if let Some(ou) = setting("default_org_unit") {
            builder = builder.default_org_unit(ou);
        }
        if let Some(url) = setting("base_url") {
            builder = builder.base_url(url);
        }
        if let Some(url) = setting("token_url") {
            builder = builder.token_url(url);
        }
        builder.allow_delete(system.delete_leavers).build()
    }

    /// The admin user the service account impersonates.
    pub fn admin_subject(&self) -> &str {
        &self.subject
    }

    /// The org unit users are created in and moved back to when an org-unit grant is revoked.
    pub fn default_org_unit(&self) -> &str {
        &self.default_org_unit
    }

    /// The scopes requested (see [`SCOPES`]).
    pub fn scopes(&self) -> &'static [&'static str] {
        &SCOPES
    }
}

fn builder_key_from_lookup(
    builder: GoogleConfigBuilder,
    lookup: &impl Fn(&str) -> Option<String>,
) -> GoogleConfigBuilder {
    if let Some(json) = lookup(ENV_KEY_JSON) {
        builder.service_account_key_json_from(json, ENV_KEY_JSON.to_owned())
    } else if let Some(path) = lookup(ENV_CREDENTIALS_PATH) {
        builder.service_account_key_file(path)
    } else {
        builder
    }
}

#[derive(Clone)]
enum KeySource {
    Key(ServiceAccountKey),
    Json { json: SecretString, origin: String },
    File(PathBuf),
}

/// Builds a [`GoogleConfig`]; secrets go in as [`SecretString`].
#[derive(Clone, Default)]
pub struct GoogleConfigBuilder {
    key: Option<KeySource>,
    subject: Option<String>,
    customer: Option<String>,
    domain: Option<String>,
    base_url: Option<String>,
    token_url: Option<String>,
    default_org_unit: Option<String>,
    allow_delete: bool,
    timeout: Option<Duration>,
    token_refresh_margin: Option<Duration>,
}

impl std::fmt::Debug for GoogleConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleConfigBuilder")
            .field("subject", &self.subject)
            .field("customer", &self.customer)
            .finish_non_exhaustive()
    }
}

impl GoogleConfigBuilder {
    /// A parsed service-account key.
    pub fn service_account_key(mut self, key: ServiceAccountKey) -> Self {
        self.key = Some(KeySource::Key(key));
        self
    }

    /// The service-account key JSON (as downloaded from the Cloud console).
    pub fn service_account_key_json(self, json: impl Into<SecretString>) -> Self {
        self.service_account_key_json_from(json, "the given key JSON".into())
    }

    fn service_account_key_json_from(
        mut self,
        json: impl Into<SecretString>,
        origin: String,
    ) -> Self {
        self.key = Some(KeySource::Json {
            json: json.into(),
            origin,
        });
        self
    }

    /// A service-account key file.
    pub fn service_account_key_file(mut self, path: impl AsRef<Path>) -> Self {
        self.key = Some(KeySource::File(path.as_ref().to_owned()));
        self
    }

    /// The Workspace admin to impersonate (the JWT's `sub`).
    pub fn admin_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The customer id (`my_customer` by default, or `C0xxxxxxx`).
    pub fn customer_id(mut self, customer: impl Into<String>) -> Self {
        self.customer = Some(customer.into());
        self
    }

    /// A domain: user listing is then restricted to it (instead of the whole customer).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The API root (tests: the mock server's URL).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The token endpoint (tests: the mock's); default the key's `token_uri`.
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The org unit users are created in and returned to (default `/`).
    pub fn default_org_unit(mut self, ou: impl Into<String>) -> Self {
        self.default_org_unit = Some(ou.into());
        self
    }

    /// Allow `DeleteAccount` (default off: leavers are suspended, not deleted).
    pub fn allow_delete(mut self, allow: bool) -> Self {
        self.allow_delete = allow;
        self
    }

    /// Timeout of one HTTP request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long before its expiry a cached access token is replaced (default 4 min).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.token_refresh_margin = Some(margin);
        self
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<GoogleConfig, ConfigError> {
        let key = match self.key.ok_or(ConfigError::MissingKey)? {
            KeySource::Key(key) => key,
            KeySource::Json { json, origin } => ServiceAccountKey::from_json(&json, &origin)?,
            KeySource::File(path) => {
                let text = read_secret_file(&path).map_err(|e| ConfigError::ReadKey {
                    path: e.path,
                    source: e.source,
                })?;
                ServiceAccountKey::from_json(&text, &path.display().to_string())?
            }
        };
        key.signer()?; // fail at configuration time on a key that cannot sign
        let subject = self
            .subject
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ConfigError::Missing {
                name: ENV_ADMIN_SUBJECT.into(),
                hint: "the Workspace admin to impersonate (domain-wide delegation needs a `sub`)"
                    .into(),
            })?;
        if !subject.contains('@') {
            return Err(ConfigError::Invalid {
                name: "admin_subject".into(),
                reason: format!("`{subject}` is not an email address"),
            });
        }
        let domain = self.domain.filter(|d| !d.trim().is_empty());
        let customer = match (self.customer.filter(|c| !c.trim().is_empty()), &domain) {
            (Some(c), _) => Some(c),
            (None, Some(_)) => None,
            (None, None) => Some(MY_CUSTOMER.to_owned()),
        };
        let base_url = parse_url(
            "base_url",
            self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL),
        )?;
        let token_url = parse_url(
            "token_url",
            self.token_url
                .as_deref()
                .or(key.token_uri.as_deref())
                .unwrap_or(DEFAULT_TOKEN_URL),
        )?;
        let default_org_unit = self.default_org_unit.unwrap_or_else(|| "/".to_owned());
        if !default_org_unit.starts_with('/') {
            return Err(ConfigError::Invalid {
                name: "default_org_unit".into(),
                reason: format!("`{default_org_unit}` must be a path starting with `/`"),
            });
        }
        Ok(GoogleConfig {
            key,
            subject,
            customer,
            domain,
            base_url,
            token_url,
            default_org_unit,
            allow_delete: self.allow_delete,
            timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
            token_refresh_margin: self
                .token_refresh_margin
                .unwrap_or(Duration::from_secs(240)),
        })
    }
}

fn parse_url(name: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| ConfigError::Invalid {
        name: name.into(),
        reason: format!("`{text}` is not a URL: {e}"),
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(ConfigError::Invalid {
            name: name.into(),
            reason: format!("`{text}` is not an http(s) URL"),
        });
    }
    Ok(url)
}
