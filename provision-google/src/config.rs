//! Configuration: the service-account key, the admin to impersonate, the customer or
//! domain, and the endpoints (overridable so tests can point at a mock).

use std::path::{Path, PathBuf};
use std::time::Duration;

use provision_core::adapter::SystemSpec;
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
/// Scope for groups.list (every group, and a user's groups), read only.
pub const SCOPE_GROUP_READONLY: &str =
    "https://www.googleapis.com/auth/admin.directory.group.readonly";
/// Every scope the adapter asks for, and the exact list to authorise for the service
/// account's client id under domain-wide delegation.
pub const SCOPES: [&str; 4] = [
    SCOPE_USER,
    SCOPE_USER_SECURITY,
    SCOPE_GROUP_MEMBER,
    SCOPE_GROUP_READONLY,
];

/// The scopes of the token every call but sign-out uses. Tokens are requested per
/// scope set: Google refuses the whole token request when the delegation lacks one
/// scope of it, so a missing sign-out scope must not cost every other operation.
pub const DIRECTORY_SCOPES: [&str; 3] = [SCOPE_USER, SCOPE_GROUP_MEMBER, SCOPE_GROUP_READONLY];
/// The scopes of the token users.signOut uses (its own token; see [`DIRECTORY_SCOPES`]).
pub const SIGN_OUT_SCOPES: [&str; 1] = [SCOPE_USER_SECURITY];

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

pub use provision_core::adapter::ConfigError;

/// The system name errors use when none is given (`GoogleConfig::from_env`, the builder).
pub const DEFAULT_SYSTEM_NAME: &str = "google";

/// The credential name of the service-account key in a deployment file.
pub const KEY_CREDENTIAL: &str = "service_account_key";

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
    pub(crate) delete_leavers: bool,
    pub(crate) system_name: String,
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
            .field("delete_leavers", &self.delete_leavers)
            .field("system_name", &self.system_name)
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
        let key = match system.credentials.get(KEY_CREDENTIAL) {
            Some(CredentialRef::Env { env }) => match lookup(env) {
                Some(json) => Some(KeySource::Json {
                    json: SecretString::from(json),
                    origin: env.clone(),
                }),
                None => {
                    return Err(ConfigError::missing_credential(
                        DEFAULT_SYSTEM_NAME,
                        KEY_CREDENTIAL,
                        format!("the environment variable {env} (it is not set)"),
                    ));
                }
            },
            Some(CredentialRef::File { file }) => Some(KeySource::File(file.clone())),
            None => None,
        };
        Self::from_parts(DEFAULT_SYSTEM_NAME, system, key, &lookup)
    }

    /// From a deployment entry as a factory sees it: settings as
    /// [`GoogleConfig::from_system_config`] reads them, the `service_account_key`
    /// credential resolved by the core (`env:` / `file:`), errors naming `spec.name`.
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        let key = spec
            .credential(KEY_CREDENTIAL)?
            .map(|json| KeySource::Json {
                json,
                origin: format!("credential `{KEY_CREDENTIAL}`"),
            });
        Self::from_parts(spec.name.as_str(), spec.config, key, &|name: &str| {
            std::env::var(name).ok()
        })
    }

    fn from_parts(
        name: &str,
        system: &SystemConfig,
        key: Option<KeySource>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        if system.adapter != "google" {
            return Err(ConfigError::invalid_setting(
                name,
                "adapter",
                format!("`google`, not `{}`", system.adapter),
            ));
        }
        let mut builder = Self::builder().system_name(name);
        builder = match key {
            Some(key) => {
                builder.key = Some(key);
                builder
            }
            None => builder_key_from_lookup(builder, &lookup),
        };
        let setting = |key: &str| system.settings.get(key).cloned();
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
        builder.delete_leavers(system.delete_leavers).build()
    }

    /// The system name errors and the grants read carry (`google` unless the
    /// deployment names the system otherwise).
    pub fn system_name(&self) -> &str {
        &self.system_name
    }

    /// The admin user the service account impersonates.
    pub fn admin_subject(&self) -> &str {
        &self.subject
    }

    /// The org unit users are created in and moved back to when an org-unit grant is revoked.
    pub fn default_org_unit(&self) -> &str {
        &self.default_org_unit
    }

    /// Every scope requested (see [`SCOPES`]), over two tokens ([`DIRECTORY_SCOPES`]
    /// and [`SIGN_OUT_SCOPES`]).
    pub fn scopes(&self) -> &'static [&'static str] {
        &SCOPES
    }
}

fn builder_key_from_lookup(
    builder: GoogleConfigBuilder,
    lookup: &dyn Fn(&str) -> Option<String>,
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
    delete_leavers: bool,
    system_name: Option<String>,
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

    /// Allow `DeleteAccount` for leavers (default off: leavers are suspended, not
    /// deleted); a deployment's `delete_leavers`.
    pub fn delete_leavers(mut self, allow: bool) -> Self {
        self.delete_leavers = allow;
        self
    }

    /// The system's name in the deployment (default `google`): errors name it, and
    /// the grants the adapter reads carry it.
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = Some(name.into());
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
        let system = self
            .system_name
            .clone()
            .unwrap_or_else(|| DEFAULT_SYSTEM_NAME.to_owned());
        let sys = system.as_str();
        let key = match self.key.ok_or_else(|| {
            ConfigError::missing_credential(
                sys,
                KEY_CREDENTIAL,
                format!(
                    "a service-account key: `credentials: {{ {KEY_CREDENTIAL}: env:VARIABLE | file:PATH }}`, or {ENV_CREDENTIALS_PATH} (a path) or {ENV_KEY_JSON} (the JSON)"
                ),
            )
        })? {
            KeySource::Key(key) => key,
            KeySource::Json { json, origin } => ServiceAccountKey::from_json(&json, &origin)
                .map_err(|reason| invalid_key(sys, reason))?,
            KeySource::File(path) => {
                let text = read_secret_file(&path).map_err(|e| {
                    ConfigError::missing_credential(
                        sys,
                        KEY_CREDENTIAL,
                        format!("a readable key file {}: {}", path.display(), e.source),
                    )
                })?;
                ServiceAccountKey::from_json(&text, &path.display().to_string())
                    .map_err(|reason| invalid_key(sys, reason))?
            }
        };
        // fail at configuration time on a key that cannot sign
        key.signer().map_err(|reason| invalid_key(sys, reason))?;
        let subject = self
            .subject
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::invalid_setting(
                    sys,
                    "admin_subject",
                    format!(
                        "the Workspace admin to impersonate (domain-wide delegation needs a `sub`): settings.admin_subject or {ENV_ADMIN_SUBJECT}"
                    ),
                )
            })?;
        if !subject.contains('@') {
            return Err(ConfigError::invalid_setting(
                sys,
                "admin_subject",
                format!("an admin's email address, not `{subject}`"),
            ));
        }
        let domain = self.domain.filter(|d| !d.trim().is_empty());
        if let Some(d) = &domain
            && (d.contains('@') || d.contains('/') || !d.contains('.'))
        {
            return Err(ConfigError::invalid_setting(
                sys,
                "domain",
                format!("a domain name such as example.com, not `{d}`"),
            ));
        }
        let customer = match (self.customer.filter(|c| !c.trim().is_empty()), &domain) {
            (Some(c), _) => Some(c),
            (None, Some(_)) => None,
            (None, None) => Some(MY_CUSTOMER.to_owned()),
        };
        if let Some(c) = &customer
            && !is_customer_id(c)
        {
            return Err(ConfigError::invalid_setting(
                sys,
                "customer_id",
                format!(
                    "`{MY_CUSTOMER}` or a customer id such as C01234abc (Admin console → Account settings), not `{c}`"
                ),
            ));
        }
        let base_url = parse_url(
            sys,
            "base_url",
            self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL),
        )?;
        let token_url = parse_url(
            sys,
            "token_url",
            self.token_url
                .as_deref()
                .or(key.token_uri.as_deref())
                .unwrap_or(DEFAULT_TOKEN_URL),
        )?;
        let default_org_unit = self.default_org_unit.unwrap_or_else(|| "/".to_owned());
        if !default_org_unit.starts_with('/') {
            return Err(ConfigError::invalid_setting(
                sys,
                "default_org_unit",
                format!("an org unit path starting with `/`, not `{default_org_unit}`"),
            ));
        }
        Ok(GoogleConfig {
            key,
            subject,
            customer,
            domain,
            base_url,
            token_url,
            default_org_unit,
            delete_leavers: self.delete_leavers,
            system_name: system.clone(),
            timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
            token_refresh_margin: self
                .token_refresh_margin
                .unwrap_or(Duration::from_secs(240)),
        })
    }
}

/// `my_customer`, or a customer id as Google issues them (`C` and letters/digits).
pub fn is_customer_id(id: &str) -> bool {
    id == MY_CUSTOMER
        || (id.len() >= 5 && id.starts_with('C') && id.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn invalid_key(system: &str, reason: String) -> ConfigError {
    ConfigError::missing_credential(
        system,
        KEY_CREDENTIAL,
        format!("a service-account key JSON with client_email and an RSA private_key: {reason}"),
    )
}

/// Checks the settings that need no credential: `base_url` and `token_url` (http(s),
/// plain http only on loopback), `customer_id`'s shape and `default_org_unit`'s. Run
/// when the descriptor is made (`provision validate`); building the adapter checks
/// them again with the rest.
pub fn check_settings(
    system: &str,
    settings: &std::collections::BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for key in ["base_url", "token_url"] {
        if let Some(url) = settings.get(key) {
            parse_url(system, key, url)?;
        }
    }
    if let Some(c) = settings.get("customer_id").filter(|c| !c.trim().is_empty())
        && !is_customer_id(c)
    {
        return Err(ConfigError::invalid_setting(
            system,
            "customer_id",
            format!(
                "`{MY_CUSTOMER}` or a customer id such as C01234abc (Admin console → Account settings), not `{c}`"
            ),
        ));
    }
    if let Some(ou) = settings.get("default_org_unit")
        && !ou.starts_with('/')
    {
        return Err(ConfigError::invalid_setting(
            system,
            "default_org_unit",
            format!("an org unit path starting with `/`, not `{ou}`"),
        ));
    }
    Ok(())
}

fn parse_url(system: &str, name: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| {
        ConfigError::invalid_setting(
            system,
            name,
            format!("an http(s) URL such as https://admin.googleapis.com/, not `{text}` ({e})"),
        )
    })?;
    if (url.scheme() != "https" && url.scheme() != "http") || !url.has_host() {
        return Err(ConfigError::invalid_setting(
            system,
            name,
            format!("an http(s) URL with a host, not `{text}`"),
        ));
    }
    provision_http::client::check_tls_off_loopback(&url)
        .map_err(|why| ConfigError::invalid_setting(system, name, format!("`{text}`: {why}")))?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// What `provision validate` catches without a key: a plain-http URL off
    /// loopback, a customer id of the wrong shape, an org unit that is not a path.
    #[test]
    fn validate_checks_urls_customer_and_org_unit_without_a_key() {
        check_settings("google", &settings(&[("base_url", "http://127.0.0.1:9")])).unwrap();
        check_settings(
            "google",
            &settings(&[("customer_id", "C01234abc"), ("default_org_unit", "/Staff")]),
        )
        .unwrap();
        for (pairs, field) in [
            (
                &[("base_url", "http://admin.googleapis.com/")][..],
                "base_url",
            ),
            (
                &[("token_url", "http://oauth2.googleapis.com/token")][..],
                "token_url",
            ),
            (&[("customer_id", "acme.com")][..], "customer_id"),
            (&[("default_org_unit", "Staff")][..], "default_org_unit"),
        ] {
            let e = check_settings("google", &settings(pairs))
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }
}
