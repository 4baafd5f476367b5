//! How the adapter reaches a Salesforce org and what it does there.

use std::path::Path;
use std::time::Duration;

use provision_core::adapter::SystemSpec;
use provision_core::secret::{ExposeSecret, SecretString};
use provision_http::auth::read_secret_file;
use url::Url;

pub use provision_core::adapter::ConfigError;

/// The system name configuration errors carry unless the builder is given another
/// ([`SalesforceConfigBuilder::system_name`]).
pub const DEFAULT_SYSTEM_NAME: &str = "salesforce";

/// The production login host, where the JWT bearer flow gets its tokens by default.
pub const PRODUCTION_LOGIN_URL: &str = "https://login.salesforce.com";

/// The sandbox login host.
pub const SANDBOX_LOGIN_URL: &str = "https://test.salesforce.com";

/// The REST API version used unless configured (Winter '25).
pub const DEFAULT_API_VERSION: &str = "62.0";

/// How the adapter gets its access token. Either way the token comes with the
/// org's `instance_url`, and every API call goes there.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SalesforceAuth {
    /// The OAuth 2.0 JWT bearer flow: an assertion signed with the private key whose
    /// certificate is uploaded to the connected (or external client) app, for a user the
    /// app is pre-authorised for.
    JwtBearer {
        /// The app's consumer key (the assertion's `iss`).
        consumer_key: String,
        /// The Salesforce username the adapter acts as (the assertion's `sub`).
        username: String,
        /// The RSA private key, PEM (PKCS#1 or PKCS#8).
        private_key: SecretString,
    },
    /// The OAuth 2.0 client credentials flow (the app's "run as" user); only at the
    /// org's My Domain host, never at `login.salesforce.com`.
    ClientCredentials {
        /// The app's consumer key.
        client_id: String,
        /// The app's consumer secret.
        client_secret: SecretString,
    },
}

/// What a leaver's [`provision_core::model::OperationKind::SuspendAccount`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeaverAction {
    /// `IsActive=false`, which frees the licence; where Salesforce refuses it (the
    /// user is a default workflow user, a default lead or case owner, named in a
    /// hierarchy field...), the user is frozen instead and the report says so.
    #[default]
    Deactivate,
    /// Always freeze (`UserLogin.IsFrozen=true`): sign-in blocked, licence kept.
    Freeze,
}

/// The locale keys every new user needs (`TimeZoneSidKey`, `LocaleSidKey`,
/// `EmailEncodingKey`, `LanguageLocaleKey`), unless the person's HR attributes give
/// them (`time_zone`, `locale`, `language`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDefaults {
    /// `TimeZoneSidKey`, e.g. `Europe/Paris`.
    pub time_zone: String,
    /// `LocaleSidKey`, e.g. `en_US`.
    pub locale: String,
    /// `EmailEncodingKey`, e.g. `UTF-8`.
    pub email_encoding: String,
    /// `LanguageLocaleKey`, e.g. `en_US`.
    pub language: String,
}

impl Default for UserDefaults {
    fn default() -> Self {
        Self {
            time_zone: "America/Los_Angeles".to_owned(),
            locale: "en_US".to_owned(),
            email_encoding: "UTF-8".to_owned(),
            language: "en_US".to_owned(),
        }
    }
}

/// The adapter's configuration. Build it with [`SalesforceConfig::builder`],
/// [`SalesforceConfig::from_env`] or [`SalesforceConfig::from_spec`].
#[derive(Debug, Clone)]
pub struct SalesforceConfig {
    /// Where tokens come from: `https://login.salesforce.com`,
    /// `https://test.salesforce.com` or the org's My Domain URL; in tests a mock
    /// server. API calls go to the `instance_url` the token reply names, not here.
    pub login_url: Url,
    /// How to authenticate.
    pub auth: SalesforceAuth,
    /// The JWT assertion's audience (`aud`): `https://login.salesforce.com`, or
    /// `https://test.salesforce.com` for a sandbox (derived from the login URL unless
    /// set).
    pub audience: String,
    /// The REST API version (`62.0`).
    pub api_version: String,
    /// The locale keys of new users.
    pub defaults: UserDefaults,
    /// The profile a user is created with when the person's policies give none.
    /// Without it such a create is refused (a Salesforce user cannot exist without a
    /// profile).
    pub default_profile: Option<String>,
    /// The profile a user is moved to when their profile is revoked with no other
    /// given (Salesforce's `Minimum Access - Salesforce`). Without it a profile revoke
    /// is refused: a user always holds exactly one profile.
    pub fallback_profile: Option<String>,
    /// What a leaver's suspension does.
    pub leaver_action: LeaverAction,
    /// Per-request timeout.
    pub timeout: Duration,
    /// A token is renewed when it has less than this left of its assumed lifetime
    /// (Salesforce's token reply carries no `expires_in`; a rejected token is fetched
    /// again at once).
    pub token_refresh_margin: Duration,
    /// The system's name in the deployment: configuration errors name it.
    pub(crate) system_name: String,
}

impl SalesforceConfig {
    /// A builder for tokens from `login_url`.
    pub fn builder(login_url: &str) -> SalesforceConfigBuilder {
        SalesforceConfigBuilder {
            login_url: login_url.to_owned(),
            auth: None,
            audience: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            defaults: UserDefaults::default(),
            default_profile: None,
            fallback_profile: None,
            leaver_action: LeaverAction::Deactivate,
            timeout: Duration::from_secs(60),
            token_refresh_margin: Duration::from_secs(60),
            system_name: DEFAULT_SYSTEM_NAME.to_owned(),
        }
    }

    /// Reads `SALESFORCE_LOGIN_URL` (default `https://login.salesforce.com`),
    /// `SALESFORCE_CLIENT_ID`, and either `SALESFORCE_USERNAME` with
    /// `SALESFORCE_PRIVATE_KEY` (PEM) or `SALESFORCE_PRIVATE_KEY_FILE` (JWT bearer),
    /// or `SALESFORCE_CLIENT_SECRET` (client credentials, My Domain login URL);
    /// optionally `SALESFORCE_API_VERSION`, `SALESFORCE_DEFAULT_PROFILE` and
    /// `SALESFORCE_FALLBACK_PROFILE`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`SalesforceConfig::from_env`] over any variable source (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let system = DEFAULT_SYSTEM_NAME;
        let login = get("SALESFORCE_LOGIN_URL").unwrap_or_else(|| PRODUCTION_LOGIN_URL.to_owned());
        let client_id = get("SALESFORCE_CLIENT_ID").ok_or_else(|| {
            ConfigError::invalid_setting(
                system,
                "SALESFORCE_CLIENT_ID",
                "missing: the connected app's consumer key",
            )
        })?;
        let mut b = SalesforceConfig::builder(&login);
        if let Some(secret) = get("SALESFORCE_CLIENT_SECRET") {
            b = b.client_credentials(client_id, secret);
        } else {
            let username = get("SALESFORCE_USERNAME").ok_or_else(|| {
                ConfigError::invalid_setting(
                    system,
                    "SALESFORCE_USERNAME",
                    "missing: the user the JWT bearer flow acts as (or set \
                     SALESFORCE_CLIENT_SECRET for the client credentials flow)",
                )
            })?;
            let key = match (
                get("SALESFORCE_PRIVATE_KEY"),
                get("SALESFORCE_PRIVATE_KEY_FILE"),
            ) {
                (Some(pem), _) => SecretString::from(pem),
                (None, Some(path)) => {
                    read_file(system, "SALESFORCE_PRIVATE_KEY_FILE", Path::new(&path))?
                }
                (None, None) => {
                    return Err(ConfigError::missing_credential(
                        system,
                        "SALESFORCE_PRIVATE_KEY",
                        "missing: SALESFORCE_PRIVATE_KEY or SALESFORCE_PRIVATE_KEY_FILE \
                         (SALESFORCE_USERNAME is set), or SALESFORCE_CLIENT_SECRET",
                    ));
                }
            };
            b = b.jwt_bearer(client_id, username, key);
        }
        if let Some(v) = get("SALESFORCE_API_VERSION") {
            b = b.api_version(v);
        }
        if let Some(v) = get("SALESFORCE_DEFAULT_PROFILE") {
            b = b.default_profile(v);
        }
        if let Some(v) = get("SALESFORCE_FALLBACK_PROFILE") {
            b = b.fallback_profile(v);
        }
        b.build()
    }

    /// From a deployment's system entry, as [`crate::factory()`] builds it.
    ///
    /// Settings: `login_url` (default `https://login.salesforce.com`), `client_id`
    /// (required), `username` (the JWT bearer flow's user), `audience`, `api_version`,
    /// `default_profile`, `fallback_profile`, `leaver_action` (`deactivate`/`freeze`),
    /// `time_zone`, `locale`, `email_encoding`, `language`, `timeout_seconds`.
    /// Credentials: `private_key` (JWT bearer, with `username`) or `client_secret`
    /// (client credentials). Every error names the system and the setting, never a
    /// secret.
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        let system = spec.name.as_str();
        let invalid = |setting: &str, expected: String| {
            ConfigError::invalid_setting(system, setting, expected)
        };
        let login = spec.setting("login_url").unwrap_or(PRODUCTION_LOGIN_URL);
        let mut b = Self::builder(login).system_name(system);
        let client_id = spec
            .required_setting("client_id", "the connected app's consumer key")?
            .to_owned();
        if let Some(secret) = spec.credential("client_secret")? {
            b = b.client_credentials(client_id, secret);
        } else if let Some(key) = spec.credential("private_key")? {
            let username = spec.required_setting(
                "username",
                "the Salesforce user the JWT bearer flow acts as (credentials.private_key is set)",
            )?;
            b = b.jwt_bearer(client_id, username, key);
        } else {
            return Err(ConfigError::missing_credential(
                system,
                "private_key",
                "`credentials: { private_key: env:VARIABLE | file:PATH }` with the `username` \
                 setting (JWT bearer flow), or `client_secret` (client credentials flow)",
            ));
        }
        if let Some(v) = spec.setting("audience") {
            b = b.audience(v);
        }
        if let Some(v) = spec.setting("api_version") {
            b = b.api_version(v);
        }
        if let Some(v) = spec.setting("default_profile") {
            b = b.default_profile(v);
        }
        if let Some(v) = spec.setting("fallback_profile") {
            b = b.fallback_profile(v);
        }
        if let Some(v) = spec.setting("leaver_action") {
            b = b.leaver_action(parse_leaver_action(v).map_err(|e| invalid("leaver_action", e))?);
        }
        let mut defaults = UserDefaults::default();
        for (key, field) in [
            ("time_zone", &mut defaults.time_zone),
            ("locale", &mut defaults.locale),
            ("email_encoding", &mut defaults.email_encoding),
            ("language", &mut defaults.language),
        ] {
            if let Some(v) = spec.setting(key) {
                *field = v.to_owned();
            }
        }
        b = b.user_defaults(defaults);
        if let Some(v) = spec.setting("timeout_seconds") {
            let secs: u64 = v.parse().map_err(|_| {
                invalid("timeout_seconds", format!("a number of seconds, not `{v}`"))
            })?;
            b = b.timeout(Duration::from_secs(secs));
        }
        b.build()
    }

    /// The token endpoint (`{login_url}/services/oauth2/token`).
    pub fn token_url(&self) -> Result<Url, ConfigError> {
        self.login_url.join("services/oauth2/token").map_err(|e| {
            ConfigError::invalid_setting(&self.system_name, "login_url", e.to_string())
        })
    }

    /// The system's name in the deployment that configuration errors name.
    pub fn system_name(&self) -> &str {
        &self.system_name
    }
}

/// `deactivate` or `freeze`.
pub fn parse_leaver_action(v: &str) -> Result<LeaverAction, String> {
    match v {
        "deactivate" => Ok(LeaverAction::Deactivate),
        "freeze" => Ok(LeaverAction::Freeze),
        other => Err(format!("`deactivate` or `freeze`, not `{other}`")),
    }
}

/// A credential file, its trailing newline stripped.
fn read_file(system: &str, credential: &str, path: &Path) -> Result<SecretString, ConfigError> {
    read_secret_file(path).map_err(|e| {
        ConfigError::missing_credential(
            system,
            credential,
            format!("cannot read {}: {}", e.path.display(), e.source),
        )
    })
}

/// Checks a URL the adapter sends a credential to: http(s) with a host, no user-info,
/// and plain `http` only on loopback (a mock server in tests). The URL is echoed only
/// when it holds no user-info.
pub fn parse_secure_url(what: &str, text: &str) -> Result<Url, String> {
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
        format!("the {what} {shown}: {reason}")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("a {what} has no user name or password in it"));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(format!(
            "{shown} is plain http: the token or assertion would cross the network \
             unencrypted; use https (plain http is allowed only on loopback, for tests)"
        ));
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

/// The audience Salesforce expects for a login host: the sandbox audience for
/// `test.salesforce.com` and `*.sandbox.my.salesforce.com`, the production one
/// otherwise.
fn default_audience(login: &Url) -> String {
    let host = login.host_str().unwrap_or_default().to_ascii_lowercase();
    if host == "test.salesforce.com" || host.ends_with(".sandbox.my.salesforce.com") {
        SANDBOX_LOGIN_URL.to_owned()
    } else {
        PRODUCTION_LOGIN_URL.to_owned()
    }
}

/// Builds a [`SalesforceConfig`].
#[derive(Debug)]
pub struct SalesforceConfigBuilder {
    login_url: String,
    auth: Option<SalesforceAuth>,
    audience: Option<String>,
    api_version: String,
    defaults: UserDefaults,
    default_profile: Option<String>,
    fallback_profile: Option<String>,
    leaver_action: LeaverAction,
    timeout: Duration,
    token_refresh_margin: Duration,
    system_name: String,
}

impl SalesforceConfigBuilder {
    /// The system's name in the deployment (default `salesforce`).
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = name.into();
        self
    }

    /// The JWT bearer flow: the app's consumer key, the user to act as, and the
    /// private key of the certificate uploaded to the app.
    pub fn jwt_bearer(
        mut self,
        consumer_key: impl Into<String>,
        username: impl Into<String>,
        private_key_pem: impl Into<SecretString>,
    ) -> Self {
        self.auth = Some(SalesforceAuth::JwtBearer {
            consumer_key: consumer_key.into(),
            username: username.into(),
            private_key: private_key_pem.into(),
        });
        self
    }

    /// The client credentials flow (the login URL must be the org's My Domain).
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> Self {
        self.auth = Some(SalesforceAuth::ClientCredentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        });
        self
    }

    /// The JWT assertion's audience, when the login host's default is not right.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The REST API version (`62.0`; a leading `v` is dropped).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into().trim_start_matches('v').to_owned();
        self
    }

    /// The locale keys of new users.
    pub fn user_defaults(mut self, defaults: UserDefaults) -> Self {
        self.defaults = defaults;
        self
    }

    /// The profile new users get when their policies give none.
    pub fn default_profile(mut self, profile: impl Into<String>) -> Self {
        self.default_profile = Some(profile.into());
        self
    }

    /// The profile a user moves to when their profile is revoked.
    pub fn fallback_profile(mut self, profile: impl Into<String>) -> Self {
        self.fallback_profile = Some(profile.into());
        self
    }

    /// What a leaver's suspension does (default [`LeaverAction::Deactivate`]).
    pub fn leaver_action(mut self, action: LeaverAction) -> Self {
        self.leaver_action = action;
        self
    }

    /// Per-request timeout (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Renew tokens this long before their assumed expiry (default 60 s).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.token_refresh_margin = margin;
        self
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<SalesforceConfig, ConfigError> {
        let system = self.system_name.as_str();
        let login_url = parse_secure_url("login URL", &self.login_url)
            .map_err(|e| ConfigError::invalid_setting(system, "login_url", e))?;
        let auth = match self.auth {
            None => {
                return Err(ConfigError::missing_credential(
                    system,
                    "private_key",
                    "a private key (JWT bearer flow) or a client secret (client credentials)",
                ));
            }
            Some(auth) => auth,
        };
        match &auth {
            SalesforceAuth::JwtBearer {
                consumer_key,
                username,
                private_key,
            } => {
                if consumer_key.trim().is_empty() {
                    return Err(ConfigError::invalid_setting(
                        system,
                        "client_id",
                        "it is empty",
                    ));
                }
                if username.trim().is_empty() {
                    return Err(ConfigError::invalid_setting(
                        system,
                        "username",
                        "it is empty",
                    ));
                }
                if private_key.expose_secret().trim().is_empty() {
                    return Err(ConfigError::missing_credential(
                        system,
                        "private_key",
                        "it is empty",
                    ));
                }
            }
            SalesforceAuth::ClientCredentials { client_id, .. } => {
                if client_id.trim().is_empty() {
                    return Err(ConfigError::invalid_setting(
                        system,
                        "client_id",
                        "it is empty",
                    ));
                }
                let host = login_url
                    .host_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if host == "login.salesforce.com" || host == "test.salesforce.com" {
                    return Err(ConfigError::invalid_setting(
                        system,
                        "login_url",
                        format!(
                            "the client credentials flow works only at the org's My Domain \
                             (https://<domain>.my.salesforce.com), not at {host}"
                        ),
                    ));
                }
            }
        }
        if self.api_version.is_empty()
            || !self
                .api_version
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(ConfigError::invalid_setting(
                system,
                "api_version",
                format!("a version such as `62.0`, not `{}`", self.api_version),
            ));
        }
        let audience = self
            .audience
            .unwrap_or_else(|| default_audience(&login_url));
        Ok(SalesforceConfig {
            login_url,
            auth,
            audience,
            api_version: self.api_version,
            defaults: self.defaults,
            default_profile: self.default_profile,
            fallback_profile: self.fallback_profile,
            leaver_action: self.leaver_action,
            timeout: self.timeout,
            token_refresh_margin: self.token_refresh_margin,
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
    fn env_with_jwt_bearer_defaults_to_production_login() {
        let c = SalesforceConfig::from_lookup(lookup(&[
            ("SALESFORCE_CLIENT_ID", "3MVG9-key"),
            ("SALESFORCE_USERNAME", "integration@acme.com"),
            (
                "SALESFORCE_PRIVATE_KEY",
                "-----BEGIN PRIVATE KEY-----\nsecretbits",
            ),
        ]))
        .unwrap();
        assert_eq!(c.login_url.as_str(), "https://login.salesforce.com/");
        assert_eq!(c.audience, PRODUCTION_LOGIN_URL);
        assert!(matches!(c.auth, SalesforceAuth::JwtBearer { .. }));
        assert_eq!(
            c.token_url().unwrap().as_str(),
            "https://login.salesforce.com/services/oauth2/token"
        );
        assert!(!format!("{c:?}").contains("secretbits"));
    }

    #[test]
    fn a_sandbox_login_host_has_the_sandbox_audience() {
        let c = SalesforceConfig::builder("https://acme--uat.sandbox.my.salesforce.com")
            .jwt_bearer("k", "u@acme.com", "pem")
            .build()
            .unwrap();
        assert_eq!(c.audience, SANDBOX_LOGIN_URL);
    }

    #[test]
    fn env_errors_name_the_variable() {
        let e = SalesforceConfig::from_lookup(lookup(&[])).unwrap_err();
        assert!(e.to_string().contains("SALESFORCE_CLIENT_ID"), "{e}");
        let e =
            SalesforceConfig::from_lookup(lookup(&[("SALESFORCE_CLIENT_ID", "k")])).unwrap_err();
        assert!(e.to_string().contains("SALESFORCE_USERNAME"), "{e}");
        let e = SalesforceConfig::from_lookup(lookup(&[
            ("SALESFORCE_CLIENT_ID", "k"),
            ("SALESFORCE_USERNAME", "u@acme.com"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("SALESFORCE_PRIVATE_KEY"), "{e}");
    }

    #[test]
    fn client_credentials_need_my_domain() {
        let e = SalesforceConfig::builder(PRODUCTION_LOGIN_URL)
            .client_credentials("k", "very-secret")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("login_url") && e.contains("My Domain"), "{e}");
        assert!(!e.contains("very-secret"), "{e}");
        SalesforceConfig::builder("https://acme.my.salesforce.com")
            .client_credentials("k", "very-secret")
            .build()
            .unwrap();
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        let e = SalesforceConfig::builder("http://login.salesforce.com")
            .jwt_bearer("k", "u", "pem")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain http"), "{e}");
        SalesforceConfig::builder("http://127.0.0.1:9")
            .jwt_bearer("k", "u", "pem")
            .build()
            .unwrap();
    }

    #[test]
    fn a_bad_api_version_names_the_setting() {
        let e = SalesforceConfig::builder(PRODUCTION_LOGIN_URL)
            .jwt_bearer("k", "u", "pem")
            .api_version("latest")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("api_version"), "{e}");
        let c = SalesforceConfig::builder(PRODUCTION_LOGIN_URL)
            .jwt_bearer("k", "u", "pem")
            .api_version("v61.0")
            .build()
            .unwrap();
        assert_eq!(c.api_version, "61.0");
    }

    #[test]
    fn deployment_settings() {
        let mut s = provision_core::config::SystemConfig::new("salesforce");
        for (k, v) in [
            ("client_id", "3MVG9"),
            ("username", "integration@acme.com"),
            ("login_url", "https://test.salesforce.com"),
            ("default_profile", "Standard User"),
            ("leaver_action", "freeze"),
            ("time_zone", "Europe/Paris"),
        ] {
            s.settings.insert(k.into(), v.into());
        }
        s.credentials.insert(
            "private_key".into(),
            provision_core::config::CredentialRef::Env {
                env: "PROVISION_SF_TEST_KEY_THAT_IS_NOT_SET".into(),
            },
        );
        let name = provision_core::model::SystemName::new("salesforce-eu");
        let spec = SystemSpec {
            name: &name,
            config: &s,
        };
        // The variable is not set: the error names the credential, not a value.
        let e = SalesforceConfig::from_spec(spec).unwrap_err().to_string();
        assert!(
            e.contains("salesforce-eu") && e.contains("private_key"),
            "{e}"
        );

        s.settings.insert("leaver_action".into(), "nuke".into());
        s.credentials.clear();
        s.credentials.insert(
            "client_secret".into(),
            provision_core::config::CredentialRef::Env { env: "PATH".into() },
        );
        let spec = SystemSpec {
            name: &name,
            config: &s,
        };
        let e = SalesforceConfig::from_spec(spec).unwrap_err().to_string();
        assert!(e.contains("leaver_action"), "{e}");
    }
}
