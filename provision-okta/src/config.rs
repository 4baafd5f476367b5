//! How the adapter reaches an Okta org and what it does there.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use provision_core::adapter::SystemSpec;
use provision_core::secret::{ExposeSecret, SecretString};
use provision_http::auth::read_secret_file;
use url::Url;

pub use provision_core::adapter::ConfigError;

/// The system name configuration errors carry unless the builder is given another
/// ([`OktaConfigBuilder::system_name`]).
pub const DEFAULT_SYSTEM_NAME: &str = "okta";

/// The management scopes the OAuth service app needs (grant them to the app in the
/// Admin Console): reading and managing users and groups. App assignment and the app
/// listing need [`APP_SCOPES`] as well, requested whenever the `app` kind is in use
/// ([`OktaConfigBuilder::manage_apps`], on by default).
pub const DEFAULT_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.users.manage",
    "okta.groups.read",
    "okta.groups.manage",
];

/// The extra scopes requested while the `app` kind is in use.
pub const APP_SCOPES: &[&str] = &["okta.apps.read", "okta.apps.manage"];

/// How the adapter authenticates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum OktaAuth {
    /// An API token: `Authorization: SSWS <token>`. It carries the privileges of the
    /// admin who minted it.
    ApiToken(SecretString),
    /// An OAuth 2.0 service app: client credentials with a `private_key_jwt` client
    /// assertion (RS256) at the org authorization server, then `Bearer` tokens.
    PrivateKeyJwt {
        /// The service app's client id.
        client_id: String,
        /// The app's RSA private key, PEM (PKCS#1 or PKCS#8).
        private_key: SecretString,
        /// The key's id (`kid`) registered with the app, when known.
        key_id: Option<String>,
        /// The scopes to request; [`DEFAULT_SCOPES`] (plus [`APP_SCOPES`] while the
        /// `app` kind is in use) unless set.
        scopes: Vec<String>,
    },
}

/// What a leaver's [`provision_core::model::OperationKind::SuspendAccount`] does in Okta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeaverAction {
    /// `lifecycle/suspend`: sign-in blocked, group and app assignments kept (reversible
    /// with `unsuspend`).
    #[default]
    Suspend,
    /// `lifecycle/deactivate`: the user becomes `DEPROVISIONED` and is deprovisioned
    /// from every assigned app (reversible with `activate`).
    Deactivate,
}

/// What reactivating a user whose activation is unfinished leads to.
///
/// Okta's `lifecycle/activate` (a rehire of a `DEPROVISIONED` user, or a `STAGED` or
/// `DEPROVISIONED` account a joiner adopts) leaves a user without a password
/// `PROVISIONED` until the person follows the activation link; only then is the
/// account `ACTIVE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActivationDelivery {
    /// `sendEmail=true` (the default): Okta mails the activation link to the address on
    /// the profile and the operation is done on the SDK's side. The default because
    /// nothing else would ever deliver the link: the SDK never reads, logs or stores it
    /// (it is a credential).
    #[default]
    SendEmail,
    /// `sendEmail=false`: the org delivers activation another way (an onboarding
    /// portal, a help-desk step, federation). The operation is reported
    /// [pending](provision_core::adapter::AdapterError::Pending) until the person has
    /// activated (the user is `ACTIVE`), and re-checked then.
    Pending,
}

/// An Okta app users can be assigned to.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// The app's id (`0oa...`).
    pub id: String,
    /// The app user profile sent with each assignment, if any.
    pub profile: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The adapter's configuration. Build it with [`OktaConfig::builder`],
/// [`OktaConfig::from_env`] or [`OktaConfig::from_spec`].
#[derive(Debug, Clone)]
pub struct OktaConfig {
    /// The org URL (`https://example.okta.com`); in tests the mock server's URL.
    pub org_url: Url,
    /// How to authenticate.
    pub auth: OktaAuth,
    /// Create users activated (`activate=true`) or `STAGED`.
    pub activate_on_create: bool,
    /// Okta profile field ← identity attribute (`department` ← `department`,
    /// `title` ← `job_title`). `login`, `email`, `firstName` and `lastName` are always
    /// set from the identity (first and last name split from the display name unless
    /// mapped).
    pub profile_mapping: BTreeMap<String, String>,
    /// What suspension of a leaver means in Okta.
    pub leaver_action: LeaverAction,
    /// How an activation (rehire, adopted inactive account) reaches the person.
    pub activation: ActivationDelivery,
    /// The `app` kind is in use: app assignments can be granted and are read, apps
    /// listed, and [`APP_SCOPES`] requested (default true).
    pub manage_apps: bool,
    /// Apps by the name policies use.
    pub apps: BTreeMap<String, AppConfig>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// An OAuth token is renewed when it has less than this left.
    pub token_refresh_margin: Duration,
    /// The system's name in the deployment (default `okta`): configuration errors
    /// name it.
    pub(crate) system_name: String,
}

impl OktaConfig {
    /// A builder for the org at `org_url`.
    pub fn builder(org_url: &str) -> OktaConfigBuilder {
        OktaConfigBuilder {
            org_url: org_url.to_owned(),
            auth: None,
            activate_on_create: true,
            profile_mapping: BTreeMap::new(),
            leaver_action: LeaverAction::Suspend,
            activation: ActivationDelivery::SendEmail,
            manage_apps: true,
            apps: BTreeMap::new(),
            timeout: Duration::from_secs(30),
            token_refresh_margin: Duration::from_secs(60),
            key_id: None,
            scopes: None,
            system_name: DEFAULT_SYSTEM_NAME.to_owned(),
        }
    }

    /// Reads `OKTA_ORG_URL` and either `OKTA_API_TOKEN`, or `OKTA_CLIENT_ID` with
    /// `OKTA_PRIVATE_KEY` (PEM text) or `OKTA_PRIVATE_KEY_FILE` (a path), and
    /// optionally `OKTA_KEY_ID` and `OKTA_SCOPES` (space separated).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`OktaConfig::from_env`] over any variable source (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let system = DEFAULT_SYSTEM_NAME;
        let org = get("OKTA_ORG_URL")
            .ok_or_else(|| ConfigError::invalid_setting(system, "OKTA_ORG_URL", "missing"))?;
        let mut b = Self::builder(&org);
        if let Some(token) = get("OKTA_API_TOKEN") {
            b = b.api_token(token);
        } else if let Some(client_id) = get("OKTA_CLIENT_ID") {
            let key = match (get("OKTA_PRIVATE_KEY"), get("OKTA_PRIVATE_KEY_FILE")) {
                (Some(pem), _) => SecretString::from(pem),
                (None, Some(path)) => read_file(system, "OKTA_PRIVATE_KEY_FILE", Path::new(&path))?,
                (None, None) => {
                    return Err(ConfigError::missing_credential(
                        system,
                        "OKTA_PRIVATE_KEY",
                        "missing: OKTA_PRIVATE_KEY or OKTA_PRIVATE_KEY_FILE (OKTA_CLIENT_ID is set)",
                    ));
                }
            };
            b = b.private_key_jwt(client_id, key);
            if let Some(kid) = get("OKTA_KEY_ID") {
                b = b.key_id(kid);
            }
            if let Some(scopes) = get("OKTA_SCOPES") {
                b = b.scopes(scopes.split_whitespace().map(str::to_owned).collect());
            }
        } else {
            return Err(ConfigError::missing_credential(
                system,
                "OKTA_API_TOKEN",
                "missing: OKTA_API_TOKEN, or OKTA_CLIENT_ID with \
                 OKTA_PRIVATE_KEY/OKTA_PRIVATE_KEY_FILE",
            ));
        }
        b.build()
    }

    /// From a deployment's system entry, as [`crate::factory()`] builds it.
    ///
    /// Settings: `org_url` (required), `activate` (`true`/`false`), `leaver_action`
    /// (`suspend`/`deactivate`), `activation` (`send_email`/`pending`), `manage_apps`
    /// (`true`/`false`), `client_id`, `key_id`, `scopes`, `timeout_seconds`,
    /// `profile.<oktaField>` = identity attribute, `app.<name>` = app id.
    /// Credentials: `api_token`, or `private_key` with `client_id` (a setting, or a
    /// credential reference).
    /// Whether leavers are deleted is the deployment's `delete_leavers`: the planner
    /// plans a deletion only then.
    ///
    /// Every error names the system and the setting or credential, never a secret.
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        let system = spec.name.as_str();
        let invalid = |setting: &str, expected: String| {
            ConfigError::invalid_setting(system, setting, expected)
        };
        let org = spec.required_setting("org_url", "the org URL, `https://<org>.okta.com`")?;
        let mut b = Self::builder(org).system_name(system);
        if let Some(token) = spec.credential("api_token")? {
            b = b.api_token(token);
        } else if let Some(key) = spec.credential("private_key")? {
            // The client id is no secret, but deployments keep it beside the key too.
            let client_id = match spec.setting("client_id") {
                Some(id) => id.to_owned(),
                None => match spec.credential("client_id")? {
                    Some(id) => id.expose_secret().trim().to_owned(),
                    None => {
                        return Err(ConfigError::invalid_setting(
                            system,
                            "client_id",
                            "the service app's client id (credentials.private_key is set)",
                        ));
                    }
                },
            };
            b = b.private_key_jwt(client_id, key);
            if let Some(kid) = spec.setting("key_id") {
                b = b.key_id(kid);
            }
            if let Some(scopes) = spec.setting("scopes") {
                b = b.scopes(scopes.split_whitespace().map(str::to_owned).collect());
            }
        } else {
            return Err(ConfigError::missing_credential(
                system,
                "api_token",
                "`credentials: { api_token: env:VARIABLE | file:PATH }`, or `private_key` \
                 with the `client_id` setting",
            ));
        }
        if let Some(v) = spec.setting("activate") {
            b = b.activate_on_create(parse_bool(v).map_err(|e| invalid("activate", e))?);
        }
        if let Some(v) = spec.setting("manage_apps") {
            b = b.manage_apps(parse_bool(v).map_err(|e| invalid("manage_apps", e))?);
        }
        if let Some(v) = spec.setting("leaver_action") {
            b = b.leaver_action(match v {
                "suspend" => LeaverAction::Suspend,
                "deactivate" => LeaverAction::Deactivate,
                other => {
                    return Err(invalid(
                        "leaver_action",
                        format!("`suspend` or `deactivate`, not `{other}`"),
                    ));
                }
            });
        }
        if let Some(v) = spec.setting("activation") {
            b = b.activation(match v {
                "send_email" => ActivationDelivery::SendEmail,
                "pending" => ActivationDelivery::Pending,
                other => {
                    return Err(invalid(
                        "activation",
                        format!("`send_email` or `pending`, not `{other}`"),
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
        for (k, v) in &spec.config.settings {
            if let Some(field) = k.strip_prefix("profile.") {
                b = b.map_attribute(field, v);
            } else if let Some(name) = k.strip_prefix("app.") {
                b = b.app(name, v);
            }
        }
        b.build()
    }

    /// The org authorization server's token endpoint.
    pub fn token_url(&self) -> Result<Url, ConfigError> {
        self.org_url
            .join("oauth2/v1/token")
            .map_err(|e| ConfigError::invalid_setting(&self.system_name, "org_url", e.to_string()))
    }

    /// The system's name in the deployment that configuration errors name.
    pub fn system_name(&self) -> &str {
        &self.system_name
    }
}

/// A credential file, its trailing newline stripped (`SSWS token\n` is no header).
fn read_file(system: &str, credential: &str, path: &Path) -> Result<SecretString, ConfigError> {
    read_secret_file(path).map_err(|e| {
        ConfigError::missing_credential(
            system,
            credential,
            format!("cannot read {}: {}", e.path.display(), e.source),
        )
    })
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("`true` or `false`, not `{other}`")),
    }
}

/// Checks the org URL: an http(s) URL with a host and nothing after the path. Plain
/// `http://` is refused unless the host is loopback (a mock server in tests): the
/// adapter always sends a credential, and a credential never crosses a network in the
/// clear. The URL is echoed only when it holds no user-info (which could be a secret).
/// The error says what is wrong, for the setting `org_url`.
pub fn parse_org_url(text: &str) -> Result<Url, String> {
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
        format!("the org URL {shown}: {reason}")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("an org URL has no user name or password in it".to_owned());
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(format!(
            "{shown} is plain http: the API token or OAuth assertion would cross the \
             network unencrypted; use https (plain http is allowed only on loopback, for tests)"
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

/// Builds an [`OktaConfig`].
#[derive(Debug)]
pub struct OktaConfigBuilder {
    org_url: String,
    auth: Option<OktaAuth>,
    activate_on_create: bool,
    profile_mapping: BTreeMap<String, String>,
    leaver_action: LeaverAction,
    activation: ActivationDelivery,
    manage_apps: bool,
    apps: BTreeMap<String, AppConfig>,
    timeout: Duration,
    token_refresh_margin: Duration,
    key_id: Option<String>,
    scopes: Option<Vec<String>>,
    system_name: String,
}

impl OktaConfigBuilder {
    /// The system's name in the deployment (default `okta`): configuration errors
    /// name it.
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = name.into();
        self
    }

    /// Authenticate with an API token (`SSWS`).
    pub fn api_token(mut self, token: impl Into<SecretString>) -> Self {
        self.auth = Some(OktaAuth::ApiToken(token.into()));
        self
    }

    /// Authenticate as an OAuth service app with a private-key JWT assertion.
    pub fn private_key_jwt(
        mut self,
        client_id: impl Into<String>,
        private_key_pem: impl Into<SecretString>,
    ) -> Self {
        self.auth = Some(OktaAuth::PrivateKeyJwt {
            client_id: client_id.into(),
            private_key: private_key_pem.into(),
            key_id: None,
            scopes: Vec::new(),
        });
        self
    }

    /// The private key's `kid`.
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key_id = Some(kid.into());
        self
    }

    /// The OAuth scopes to request instead of the defaults.
    pub fn scopes(mut self, scopes: Vec<String>) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Create users activated (default) or staged.
    pub fn activate_on_create(mut self, activate: bool) -> Self {
        self.activate_on_create = activate;
        self
    }

    /// Map an identity attribute onto an Okta profile field.
    pub fn map_attribute(
        mut self,
        okta_field: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.profile_mapping
            .insert(okta_field.into(), attribute.into());
        self
    }

    /// What suspension of a leaver does.
    pub fn leaver_action(mut self, action: LeaverAction) -> Self {
        self.leaver_action = action;
        self
    }

    /// How an activation reaches the person (default [`ActivationDelivery::SendEmail`]).
    pub fn activation(mut self, delivery: ActivationDelivery) -> Self {
        self.activation = delivery;
        self
    }

    /// Whether the `app` kind is in use (default true): app grants, app reads and the
    /// `okta.apps.*` scopes. Turn it off for a service app granted no app scopes.
    pub fn manage_apps(mut self, manage: bool) -> Self {
        self.manage_apps = manage;
        self
    }

    /// An app policies name `name`, with its Okta id.
    pub fn app(mut self, name: impl Into<String>, id: impl Into<String>) -> Self {
        self.apps.insert(
            name.into(),
            AppConfig {
                id: id.into(),
                profile: None,
            },
        );
        self
    }

    /// An app with an app-user profile sent on every assignment.
    pub fn app_with_profile(
        mut self,
        name: impl Into<String>,
        id: impl Into<String>,
        profile: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        self.apps.insert(
            name.into(),
            AppConfig {
                id: id.into(),
                profile: Some(profile),
            },
        );
        self
    }

    /// Per-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Renew OAuth tokens this long before they expire (default 60 s).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.token_refresh_margin = margin;
        self
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<OktaConfig, ConfigError> {
        let system = self.system_name.as_str();
        let org_url = parse_org_url(&self.org_url)
            .map_err(|e| ConfigError::invalid_setting(system, "org_url", e))?;
        let has_apps = self.manage_apps;
        let auth = match self.auth {
            None => {
                return Err(ConfigError::missing_credential(
                    system,
                    "api_token",
                    "an API token or a private key",
                ));
            }
            Some(OktaAuth::PrivateKeyJwt {
                client_id,
                private_key,
                ..
            }) => {
                let scopes = self.scopes.unwrap_or_else(|| {
                    let mut s: Vec<String> =
                        DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
                    if has_apps {
                        s.extend(APP_SCOPES.iter().map(|s| (*s).to_owned()));
                    }
                    s
                });
                if client_id.trim().is_empty() {
                    return Err(ConfigError::invalid_setting(
                        system,
                        "client_id",
                        "it is empty",
                    ));
                }
                OktaAuth::PrivateKeyJwt {
                    client_id,
                    private_key,
                    key_id: self.key_id,
                    scopes,
                }
            }
            Some(other) => other,
        };
        Ok(OktaConfig {
            org_url,
            auth,
            activate_on_create: self.activate_on_create,
            profile_mapping: self.profile_mapping,
            leaver_action: self.leaver_action,
            activation: self.activation,
            manage_apps: self.manage_apps,
            apps: self.apps,
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
    fn env_with_api_token() {
        let c = OktaConfig::from_lookup(lookup(&[
            ("OKTA_ORG_URL", "https://acme.okta.com"),
            ("OKTA_API_TOKEN", "00abc-secret"),
        ]))
        .unwrap();
        assert_eq!(c.org_url.as_str(), "https://acme.okta.com/");
        assert!(matches!(c.auth, OktaAuth::ApiToken(_)));
        assert!(!format!("{c:?}").contains("00abc-secret"));
    }

    #[test]
    fn env_with_private_key_and_defaults_scopes() {
        let c = OktaConfig::from_lookup(lookup(&[
            ("OKTA_ORG_URL", "https://acme.okta.com"),
            ("OKTA_CLIENT_ID", "0oa123"),
            (
                "OKTA_PRIVATE_KEY",
                "-----BEGIN RSA PRIVATE KEY-----\nsecretbits",
            ),
            ("OKTA_KEY_ID", "kid1"),
        ]))
        .unwrap();
        let OktaAuth::PrivateKeyJwt {
            client_id,
            key_id,
            scopes,
            ..
        } = &c.auth
        else {
            panic!("wrong auth")
        };
        assert_eq!(client_id, "0oa123");
        assert_eq!(key_id.as_deref(), Some("kid1"));
        // The `app` kind is in use by default: its scopes are asked for too.
        assert_eq!(
            scopes,
            &DEFAULT_SCOPES
                .iter()
                .chain(APP_SCOPES)
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        );
        assert!(!format!("{c:?}").contains("secretbits"));
        assert_eq!(
            c.token_url().unwrap().as_str(),
            "https://acme.okta.com/oauth2/v1/token"
        );
    }

    #[test]
    fn env_errors_name_the_variable() {
        let e = OktaConfig::from_lookup(lookup(&[])).unwrap_err();
        assert!(e.to_string().contains("OKTA_ORG_URL"), "{e}");
        let e =
            OktaConfig::from_lookup(lookup(&[("OKTA_ORG_URL", "https://a.okta.com")])).unwrap_err();
        assert!(e.to_string().contains("OKTA_API_TOKEN"), "{e}");
        let e = OktaConfig::from_lookup(lookup(&[
            ("OKTA_ORG_URL", "https://a.okta.com"),
            ("OKTA_CLIENT_ID", "0oa1"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("OKTA_PRIVATE_KEY"), "{e}");
        let e = OktaConfig::from_lookup(lookup(&[
            ("OKTA_ORG_URL", "https://a.okta.com"),
            ("OKTA_CLIENT_ID", "0oa1"),
            ("OKTA_PRIVATE_KEY_FILE", "/nonexistent/key.pem"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/key.pem"), "{e}");
        let e =
            OktaConfig::from_lookup(lookup(&[("OKTA_ORG_URL", "acme"), ("OKTA_API_TOKEN", "t")]))
                .unwrap_err();
        assert!(e.to_string().contains("org URL"), "{e}");
    }

    fn spec_config(settings: &[(&str, &str)]) -> provision_core::config::SystemConfig {
        let mut s = provision_core::config::SystemConfig::new("okta");
        for (k, v) in settings {
            s.settings.insert((*k).into(), (*v).into());
        }
        s
    }

    #[test]
    fn deployment_settings() {
        let key = std::env::temp_dir().join(format!("okta-test-token-{}", std::process::id()));
        std::fs::write(&key, "tok-secret-value\n").unwrap();
        let mut s = spec_config(&[
            ("org_url", "https://acme.okta.com"),
            ("activate", "false"),
            ("leaver_action", "deactivate"),
            ("activation", "pending"),
            ("profile.department", "department"),
            ("app.github", "0oa9"),
        ]);
        s.credentials.insert(
            "api_token".into(),
            provision_core::config::CredentialRef::File { file: key.clone() },
        );
        let name = provision_core::model::SystemName::new("okta-main");
        let spec = SystemSpec {
            name: &name,
            config: &s,
        };
        let c = OktaConfig::from_spec(spec).unwrap();
        assert!(!c.activate_on_create);
        assert_eq!(c.leaver_action, LeaverAction::Deactivate);
        assert_eq!(c.activation, ActivationDelivery::Pending);
        assert!(c.manage_apps);
        assert_eq!(
            c.profile_mapping.get("department").map(String::as_str),
            Some("department")
        );
        assert_eq!(c.apps.get("github").map(|a| a.id.as_str()), Some("0oa9"));

        s.settings.insert("leaver_action".into(), "nuke".into());
        let spec = SystemSpec {
            name: &name,
            config: &s,
        };
        let e = OktaConfig::from_spec(spec).unwrap_err().to_string();
        assert!(
            e.contains("okta-main") && e.contains("leaver_action"),
            "{e}"
        );
        assert!(!e.contains("tok-secret-value"), "{e}");
        std::fs::remove_file(&key).unwrap();
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        for url in ["http://acme.okta.com", "http://10.0.0.5:8080"] {
            let e = OktaConfig::builder(url)
                .api_token("t")
                .build()
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("plain http") && e.contains("https"),
                "{url}: {e}"
            );
        }
        for url in [
            "http://127.0.0.1:1234",
            "http://localhost:99",
            "http://[::1]:5",
        ] {
            OktaConfig::builder(url).api_token("t").build().unwrap();
        }
        let e = OktaConfig::builder("https://admin:hunter2@acme.okta.com")
            .api_token("t")
            .build()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
