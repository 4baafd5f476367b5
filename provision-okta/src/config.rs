//! How the adapter reaches an Okta org and what it does there.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::secret::SecretString;
use provision_http::auth::read_secret_file;
use url::Url;

use crate::error::ConfigError;

/// The management scopes the OAuth service app needs (grant them to the app in the
/// Admin Console): reading and managing users and groups. App assignment is done
/// with `okta.apps.manage` / `okta.apps.read`, requested only when apps are
/// configured.
pub const DEFAULT_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.users.manage",
    "okta.groups.read",
    "okta.groups.manage",
];

/// The extra scopes requested when app assignments are configured.
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
        /// The scopes to request; [`DEFAULT_SCOPES`] (plus [`APP_SCOPES`] when apps
        /// are configured) unless set.
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

/// An Okta app users can be assigned to.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// The app's id (`0oa...`).
    pub id: String,
    /// The app user profile sent with each assignment, if any.
    pub profile: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The adapter's configuration. Build it with [`OktaConfig::builder`],
/// [`OktaConfig::from_env`] or [`OktaConfig::from_system_config`].
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
    /// Allow `DeleteAccount` (deactivation first, then deletion).
    pub delete_accounts: bool,
    /// Apps by the name policies use.
    pub apps: BTreeMap<String, AppConfig>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// An OAuth token is renewed when it has less than this left.
    pub token_refresh_margin: Duration,
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
            delete_accounts: false,
            apps: BTreeMap::new(),
            timeout: Duration::from_secs(30),
            token_refresh_margin: Duration::from_secs(60),
            key_id: None,
            scopes: None,
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
        let org = get("OKTA_ORG_URL").ok_or_else(|| ConfigError::missing("OKTA_ORG_URL"))?;
        let mut b = Self::builder(&org);
        if let Some(token) = get("OKTA_API_TOKEN") {
            b = b.api_token(token);
        } else if let Some(client_id) = get("OKTA_CLIENT_ID") {
            let key = match (get("OKTA_PRIVATE_KEY"), get("OKTA_PRIVATE_KEY_FILE")) {
                (Some(pem), _) => SecretString::from(pem),
                (None, Some(path)) => read_file("OKTA_PRIVATE_KEY_FILE", Path::new(&path))?,
                (None, None) => {
                    return Err(ConfigError::missing(
                        "OKTA_PRIVATE_KEY or OKTA_PRIVATE_KEY_FILE (OKTA_CLIENT_ID is set)",
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
            return Err(ConfigError::missing(
                "OKTA_API_TOKEN, or OKTA_CLIENT_ID with OKTA_PRIVATE_KEY/OKTA_PRIVATE_KEY_FILE",
            ));
        }
        b.build()
    }

    /// From a deployment's system entry.
    ///
    /// Settings: `org_url` (required), `activate` (`true`/`false`), `leaver_action`
    /// (`suspend`/`deactivate`), `client_id`, `key_id`, `scopes`, `timeout_seconds`,
    /// `profile.<oktaField>` = identity attribute, `app.<name>` = app id.
    /// Credentials: `api_token`, or `private_key` (with the `client_id` setting).
    /// `delete_leavers` enables deletion.
    pub fn from_system_config(system: &SystemConfig) -> Result<Self, ConfigError> {
        let setting = |k: &str| system.settings.get(k).map(String::as_str);
        let org = setting("org_url").ok_or_else(|| ConfigError::missing("settings.org_url"))?;
        let mut b = Self::builder(org);
        if let Some(token) = system.credentials.get("api_token") {
            b = b.api_token(read_credential("credentials.api_token", token)?);
        } else if let Some(key) = system.credentials.get("private_key") {
            let client_id = setting("client_id").ok_or_else(|| {
                ConfigError::missing("settings.client_id (credentials.private_key is set)")
            })?;
            b = b.private_key_jwt(client_id, read_credential("credentials.private_key", key)?);
            if let Some(kid) = setting("key_id") {
                b = b.key_id(kid);
            }
            if let Some(scopes) = setting("scopes") {
                b = b.scopes(scopes.split_whitespace().map(str::to_owned).collect());
            }
        } else {
            return Err(ConfigError::missing(
                "credentials.api_token or credentials.private_key",
            ));
        }
        if let Some(v) = setting("activate") {
            b = b.activate_on_create(parse_bool("settings.activate", v)?);
        }
        if let Some(v) = setting("leaver_action") {
            b = b.leaver_action(match v {
                "suspend" => LeaverAction::Suspend,
                "deactivate" => LeaverAction::Deactivate,
                other => {
                    return Err(ConfigError::invalid(
                        "settings.leaver_action",
                        format!("`{other}` is neither `suspend` nor `deactivate`"),
                    ));
                }
            });
        }
        if let Some(v) = setting("timeout_seconds") {
            let secs: u64 = v.parse().map_err(|_| {
                ConfigError::invalid("settings.timeout_seconds", format!("`{v}` is not a number"))
            })?;
            b = b.timeout(Duration::from_secs(secs));
        }
        for (k, v) in &system.settings {
            if let Some(field) = k.strip_prefix("profile.") {
                b = b.map_attribute(field, v);
            } else if let Some(name) = k.strip_prefix("app.") {
                b = b.app(name, v);
            }
        }
        b.delete_accounts(system.delete_leavers).build()
    }

    /// The org authorization server's token endpoint.
    pub fn token_url(&self) -> Result<Url, ConfigError> {
        self.org_url
            .join("oauth2/v1/token")
            .map_err(|e| ConfigError::invalid("org URL", e.to_string()))
    }
}

/// A credential file, its trailing newline stripped (`SSWS token\n` is no header).
fn read_file(what: &str, path: &Path) -> Result<SecretString, ConfigError> {
    read_secret_file(path).map_err(|e| ConfigError::File {
        what: what.to_owned(),
        path: e.path.display().to_string(),
        source: e.source,
    })
}

fn read_credential(what: &str, r: &CredentialRef) -> Result<SecretString, ConfigError> {
    match r {
        CredentialRef::Env { env } => std::env::var(env)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(SecretString::from)
            .ok_or_else(|| ConfigError::missing(format!("{what}: environment variable {env}"))),
        CredentialRef::File { file } => read_file(what, file),
    }
}

fn parse_bool(what: &str, v: &str) -> Result<bool, ConfigError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ConfigError::invalid(
            what,
            format!("`{other}` is neither `true` nor `false`"),
        )),
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
    delete_accounts: bool,
    apps: BTreeMap<String, AppConfig>,
    timeout: Duration,
    token_refresh_margin: Duration,
    key_id: Option<String>,
    scopes: Option<Vec<String>>,
}

impl OktaConfigBuilder {
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

    /// Allow deleting accounts (off by default).
    pub fn delete_accounts(mut self, allow: bool) -> Self {
        self.delete_accounts = allow;
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
        let mut org_url = Url::parse(&self.org_url)
            .map_err(|e| ConfigError::invalid("org URL", format!("`{}`: {e}", self.org_url)))?;
        if !matches!(org_url.scheme(), "https" | "http") || org_url.host().is_none() {
            return Err(ConfigError::invalid(
                "org URL",
                format!("`{}` is not an http(s) URL with a host", self.org_url),
            ));
        }
        if !org_url.path().ends_with('/') {
            let path = format!("{}/", org_url.path());
            org_url.set_path(&path);
        }
        let has_apps = !self.apps.is_empty();
        let auth = match self.auth {
            None => {
                return Err(ConfigError::missing(
                    "credential (an API token or a private key)",
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
                    return Err(ConfigError::invalid("client id", "it is empty"));
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
            delete_accounts: self.delete_accounts,
            apps: self.apps,
            timeout: self.timeout,
            token_refresh_margin: self.token_refresh_margin,
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
        assert_eq!(
            scopes,
            &DEFAULT_SCOPES
                .iter()
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

    #[test]
    fn system_config_settings() {
        let mut s = SystemConfig::new("okta");
        s.settings
            .insert("org_url".into(), "https://acme.okta.com".into());
        s.settings.insert("activate".into(), "false".into());
        s.settings
            .insert("leaver_action".into(), "deactivate".into());
        s.settings
            .insert("profile.department".into(), "department".into());
        s.settings.insert("app.github".into(), "0oa9".into());
        s.delete_leavers = true;
        let key = std::env::temp_dir().join(format!("okta-test-token-{}", std::process::id()));
        std::fs::write(&key, "tok").unwrap();
        s.credentials.insert(
            "api_token".into(),
            CredentialRef::File { file: key.clone() },
        );
        let c = OktaConfig::from_system_config(&s).unwrap();
        assert!(!c.activate_on_create);
        assert_eq!(c.leaver_action, LeaverAction::Deactivate);
        assert!(c.delete_accounts);
        assert_eq!(
            c.profile_mapping.get("department").map(String::as_str),
            Some("department")
        );
        assert_eq!(c.apps.get("github").map(|a| a.id.as_str()), Some("0oa9"));

        s.settings.insert("leaver_action".into(), "nuke".into());
        let e = OktaConfig::from_system_config(&s).unwrap_err();
        assert!(e.to_string().contains("settings.leaver_action"), "{e}");
        std::fs::remove_file(&key).unwrap();
    }
}
