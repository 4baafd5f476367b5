//! How to reach one SCIM application: its base URL, its credential (bearer, basic
//! or OAuth client credentials), the dialect it speaks, and the settings that stand
//! in for discovery when its discovery endpoints are missing or wrong.
//!
//! Every SCIM application in `provision.yaml` is its own system with its own
//! configuration (`adapter: scim` under any system name).

use std::collections::BTreeMap;
use std::time::Duration;

use provision_core::adapter::SystemSpec;
use provision_core::secret::{ExposeSecret, SecretString};
use url::Url;

use crate::dialect::{ActivePatch, Dialect, MemberRemove, OpCase};

pub use provision_core::adapter::ConfigError;

/// The system name configuration errors carry unless the builder is given another.
pub const DEFAULT_SYSTEM_NAME: &str = "scim";

/// Items per list page when neither the settings nor discovery say otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// The HR attribute → SCIM attribute mapping used when the deployment gives none
/// (`profile.<hr attribute>: <scim attribute>` settings replace it as a whole).
pub const DEFAULT_PROFILE: &[(&str, &str)] = &[
    ("display_name", "displayName"),
    ("title", "title"),
    ("department", "department"),
    ("manager", "manager"),
    ("employee_id", "employeeNumber"),
];

/// How the adapter authenticates to the application.
#[derive(Clone)]
#[non_exhaustive]
pub enum ScimAuth {
    /// `Authorization: Bearer <token>` (most applications).
    Bearer(SecretString),
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: SecretString,
    },
    /// OAuth 2.0 client credentials (`client_secret_post`) at `token_url`; the access
    /// token is cached until shortly before it expires and dropped on a 401.
    OAuthClientCredentials {
        /// The token endpoint.
        token_url: Url,
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: SecretString,
        /// Scopes to ask for (space-separated on the wire); empty for none.
        scopes: Vec<String>,
    },
}

impl ScimAuth {
    /// The scheme's name, as the `auth` setting spells it.
    pub fn scheme(&self) -> &'static str {
        match self {
            ScimAuth::Bearer(_) => "bearer",
            ScimAuth::Basic { .. } => "basic",
            ScimAuth::OAuthClientCredentials { .. } => "oauth",
        }
    }
}

impl std::fmt::Debug for ScimAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScimAuth::Bearer(_) => f.write_str("Bearer(<secret>)"),
            ScimAuth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .finish_non_exhaustive(),
            ScimAuth::OAuthClientCredentials {
                token_url,
                client_id,
                scopes,
                ..
            } => f
                .debug_struct("OAuthClientCredentials")
                .field("token_url", &token_url.as_str())
                .field("client_id", client_id)
                .field("scopes", scopes)
                .finish_non_exhaustive(),
        }
    }
}

/// How group membership is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupWrites {
    /// PATCH when discovery (or, without it, the `patch` setting) says PATCH is
    /// supported; otherwise PUT of the whole member list.
    #[default]
    Auto,
    /// Always PATCH `members`.
    Patch,
    /// Always PUT the whole group (the application has no PATCH for groups).
    Put,
}

/// What the settings say about the application, used where discovery is off, fails,
/// or is contradicted by the application itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// PATCH is supported.
    pub patch: bool,
    /// Filters (`userName eq "…"`) are supported.
    pub filter: bool,
    /// ETags (`meta.version`, `If-Match`) are supported.
    pub etag: bool,
    /// The enterprise extension (`department`, `manager`, `employeeNumber`) is accepted.
    pub enterprise: bool,
    /// The most results one list page returns (`filter.maxResults`).
    pub max_results: Option<u32>,
}

impl Default for Fallback {
    fn default() -> Self {
        Self {
            patch: true,
            filter: true,
            etag: false,
            enterprise: true,
            max_results: None,
        }
    }
}

/// One SCIM application as the adapter reaches it.
#[derive(Clone)]
pub struct ScimConfig {
    /// The SCIM base URL (`https://app.example.com/scim/v2/`); resources are under it.
    pub base_url: Url,
    /// The credential.
    pub auth: ScimAuth,
    /// The dialect of its PATCH requests.
    pub dialect: Dialect,
    /// How group membership is written.
    pub group_writes: GroupWrites,
    /// Read `ServiceProviderConfig`, `ResourceTypes` and `Schemas` when the adapter is
    /// built (default on).
    pub discovery: bool,
    /// What to assume without discovery.
    pub fallback: Fallback,
    /// Items asked for per list page (`count`), capped by `filter.maxResults`.
    pub page_size: u32,
    /// Leavers' accounts are deleted (`DELETE /Users/{id}`) after deactivation;
    /// without it the adapter never deletes.
    pub delete_leavers: bool,
    /// HR attribute → SCIM attribute (`displayName`, `title`, `department`,
    /// `manager`, `employeeNumber`, `costCenter`, `organization`, `division`).
    pub profile: BTreeMap<String, String>,
    /// Group names (as policies name them) → SCIM ids, for groups that cannot be
    /// found by `displayName`; others are looked up with a filter.
    pub groups: BTreeMap<String, String>,
    /// Send `Content-Type: application/json` instead of `application/scim+json`
    /// (applications that refuse the SCIM media type).
    pub plain_json: bool,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// The system's name in the deployment: configuration errors and the entitlements
    /// read back carry it.
    pub system_name: String,
}

impl std::fmt::Debug for ScimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimConfig")
            .field("system", &self.system_name)
            .field("base_url", &self.base_url.as_str())
            .field("auth", &self.auth)
            .field("dialect", &self.dialect)
            .field("group_writes", &self.group_writes)
            .field("discovery", &self.discovery)
            .field("fallback", &self.fallback)
            .field("delete_leavers", &self.delete_leavers)
            .finish_non_exhaustive()
    }
}

impl ScimConfig {
    /// A builder.
    pub fn builder() -> ScimConfigBuilder {
        ScimConfigBuilder::default()
    }

    /// From a deployment entry (`adapter: scim`):
    ///
    /// ```yaml
    /// expenses:                          # any system name; one entry per application
    ///   adapter: scim
    ///   delete_leavers: false            # true: DELETE /Users/{id} after deactivation
    ///   credentials:
    ///     token: {env: EXPENSES_SCIM_TOKEN}        # bearer
    ///     # password: {env: APP_PASSWORD}          # basic, with settings.username
    ///     # client_secret: {env: APP_SECRET}       # oauth, with settings.client_id, token_url
    ///   settings:
    ///     base_url: https://expenses.example.com/scim/v2/
    ///     auth: bearer                   # bearer | basic | oauth (inferred from the credentials)
    ///     dialect: rfc                   # rfc | okta | azure: the PATCH shapes the app expects
    ///     member_remove: filter          # filter (members[value eq "…"]) | value (a value array)
    ///     active_patch: path             # path (path: active) | value (a value object, no path)
    ///     op_case: lower                 # lower (add) | capitalized (Add)
    ///     group_writes: auto             # auto | patch | put (PUT-only groups)
    ///     discovery: true                # read ServiceProviderConfig, ResourceTypes, Schemas
    ///     patch: true                    # without discovery: PATCH supported
    ///     filter: true                   # without discovery: filters supported
    ///     etag: false                    # without discovery: ETags supported
    ///     enterprise: true               # without discovery: the enterprise extension accepted
    ///     max_results: 200               # without discovery: filter.maxResults
    ///     page_size: 100                 # items asked per page
    ///     media_type: scim+json          # or json
    ///     profile.title: title           # HR attribute → SCIM attribute (replaces the defaults)
    ///     group.Engineering: 7f3c…       # a group's id when it cannot be found by displayName
    /// ```
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        Self::from_spec_with(spec, auth_from_spec(spec)?)
    }

    /// The configuration as far as the settings say, without reading any credential
    /// (for the credential-free descriptor): the credential is a placeholder.
    pub fn descriptor_config(spec: SystemSpec<'_>) -> Result<Self, ConfigError> {
        Self::from_spec_with(spec, ScimAuth::Bearer(SecretString::from("unread")))
    }

    fn from_spec_with(spec: SystemSpec<'_>, auth: ScimAuth) -> Result<Self, ConfigError> {
        let system = spec.name.as_str();
        let mut b = Self::builder()
            .system_name(system)
            .delete_leavers(spec.config.delete_leavers);
        if let Some(url) = spec.setting("base_url") {
            b = b.base_url(url);
        }
        b = b.auth(auth);
        if let Some(d) = spec.setting("dialect") {
            b = b.dialect(Dialect::preset(d).ok_or_else(|| {
                ConfigError::invalid_setting(
                    system,
                    "dialect",
                    format!("`rfc`, `okta` or `azure`, not `{d}`"),
                )
            })?);
        }
        let mut dialect = b.dialect;
        if let Some(v) = spec.setting("member_remove") {
            dialect.member_remove = match v {
                "filter" => MemberRemove::FilterInPath,
                "value" => MemberRemove::ValueArray,
                other => {
                    return Err(one_of(
                        system,
                        "member_remove",
                        "`filter` or `value`",
                        other,
                    ));
                }
            };
        }
        if let Some(v) = spec.setting("active_patch") {
            dialect.active_patch = match v {
                "path" => ActivePatch::Path,
                "value" => ActivePatch::ValueObject,
                other => return Err(one_of(system, "active_patch", "`path` or `value`", other)),
            };
        }
        if let Some(v) = spec.setting("op_case") {
            dialect.op_case = match v {
                "lower" => OpCase::Lower,
                "capitalized" => OpCase::Capitalized,
                other => {
                    return Err(one_of(system, "op_case", "`lower` or `capitalized`", other));
                }
            };
        }
        b = b.dialect(dialect);
        if let Some(v) = spec.setting("group_writes") {
            b = b.group_writes(match v {
                "auto" => GroupWrites::Auto,
                "patch" => GroupWrites::Patch,
                "put" => GroupWrites::Put,
                other => {
                    return Err(one_of(
                        system,
                        "group_writes",
                        "`auto`, `patch` or `put`",
                        other,
                    ));
                }
            });
        }
        let flag = |key: &str, default: bool| -> Result<bool, ConfigError> {
            match spec.setting(key) {
                None => Ok(default),
                Some("true" | "yes" | "on") => Ok(true),
                Some("false" | "no" | "off") => Ok(false),
                Some(other) => Err(one_of(system, key, "`true` or `false`", other)),
            }
        };
        let number = |key: &str| -> Result<Option<u32>, ConfigError> {
            spec.setting(key)
                .map(|v| {
                    v.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| one_of(system, key, "a positive whole number", v))
                })
                .transpose()
        };
        b = b.discovery(flag("discovery", true)?);
        let defaults = Fallback::default();
        b = b.fallback(Fallback {
            patch: flag("patch", defaults.patch)?,
            filter: flag("filter", defaults.filter)?,
            etag: flag("etag", defaults.etag)?,
            enterprise: flag("enterprise", defaults.enterprise)?,
            max_results: number("max_results")?,
        });
        if let Some(n) = number("page_size")? {
            b = b.page_size(n);
        }
        if let Some(n) = number("timeout_seconds")? {
            b = b.timeout(Duration::from_secs(u64::from(n)));
        }
        match spec.setting("media_type") {
            None | Some("scim+json" | "application/scim+json") => {}
            Some("json" | "application/json") => b = b.plain_json(true),
            Some(other) => {
                return Err(one_of(system, "media_type", "`scim+json` or `json`", other));
            }
        }
        let mut profile = BTreeMap::new();
        for (k, v) in &spec.config.settings {
            if let Some(name) = k.strip_prefix("group.") {
                b = b.group(name, v);
            } else if let Some(hr) = k.strip_prefix("profile.") {
                profile.insert(hr.to_owned(), v.clone());
            }
        }
        if !profile.is_empty() {
            b = b.profile(profile);
        }
        b.build()
    }
}

fn one_of(system: &str, setting: &str, expected: &str, found: &str) -> ConfigError {
    ConfigError::invalid_setting(system, setting, format!("{expected}, not `{found}`"))
}

/// The credential of a deployment entry: `auth` names the scheme, or the credentials
/// given decide it (`token` → bearer, `password` → basic, `client_secret` → OAuth).
fn auth_from_spec(spec: SystemSpec<'_>) -> Result<ScimAuth, ConfigError> {
    let system = spec.name.as_str();
    let has = |k: &str| spec.config.credentials.contains_key(k);
    let scheme = match spec.setting("auth") {
        Some(s) => s.to_owned(),
        None if has("client_secret") => "oauth".to_owned(),
        None if has("password") => "basic".to_owned(),
        None => "bearer".to_owned(),
    };
    match scheme.as_str() {
        "bearer" => Ok(ScimAuth::Bearer(spec.required_credential("token")?)),
        "basic" => Ok(ScimAuth::Basic {
            user: spec
                .required_setting("username", "the user name for basic authentication")?
                .to_owned(),
            password: spec.required_credential("password")?,
        }),
        "oauth" => {
            let token_url = spec.required_setting(
                "token_url",
                "the OAuth token endpoint (https://…/oauth2/token) for client credentials",
            )?;
            let token_url = provision_http::client::parse_base_url(token_url)
                .map(|mut u| {
                    // A token endpoint is a resource, not a base: no trailing slash added.
                    let path = u.path().trim_end_matches('/').to_owned();
                    u.set_path(&path);
                    u
                })
                .map_err(|e| ConfigError::invalid_setting(system, "token_url", e.to_string()))?;
            Ok(ScimAuth::OAuthClientCredentials {
                token_url,
                client_id: spec
                    .required_setting("client_id", "the OAuth client id")?
                    .to_owned(),
                client_secret: spec.required_credential("client_secret")?,
                scopes: spec
                    .setting("scope")
                    .map(|s| s.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
            })
        }
        other => Err(one_of(
            system,
            "auth",
            "`bearer`, `basic` or `oauth`",
            other,
        )),
    }
}

/// Builds a [`ScimConfig`].
#[derive(Default)]
pub struct ScimConfigBuilder {
    base_url: Option<String>,
    auth: Option<ScimAuth>,
    dialect: Dialect,
    group_writes: GroupWrites,
    discovery: Option<bool>,
    fallback: Fallback,
    page_size: Option<u32>,
    delete_leavers: bool,
    profile: Option<BTreeMap<String, String>>,
    groups: BTreeMap<String, String>,
    plain_json: bool,
    timeout: Option<Duration>,
    system_name: Option<String>,
}

impl std::fmt::Debug for ScimConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimConfigBuilder")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl ScimConfigBuilder {
    /// The system's name in the deployment (default `scim`).
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = Some(name.into());
        self
    }

    /// The SCIM base URL (required).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The credential (required).
    pub fn auth(mut self, auth: ScimAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Shorthand: a bearer token.
    pub fn bearer(self, token: impl Into<SecretString>) -> Self {
        self.auth(ScimAuth::Bearer(token.into()))
    }

    /// The PATCH dialect (default [`Dialect::rfc`]).
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// How group membership is written (default [`GroupWrites::Auto`]).
    pub fn group_writes(mut self, how: GroupWrites) -> Self {
        self.group_writes = how;
        self
    }

    /// Whether to read the discovery endpoints when the adapter is built (default on).
    pub fn discovery(mut self, on: bool) -> Self {
        self.discovery = Some(on);
        self
    }

    /// What to assume without discovery.
    pub fn fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = fallback;
        self
    }

    /// Items asked for per list page (default 100; tests page small).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = Some(n.max(1));
        self
    }

    /// Delete leavers' accounts (default off).
    pub fn delete_leavers(mut self, on: bool) -> Self {
        self.delete_leavers = on;
        self
    }

    /// HR attribute → SCIM attribute, replacing [`DEFAULT_PROFILE`].
    pub fn profile(mut self, profile: BTreeMap<String, String>) -> Self {
        self.profile = Some(profile);
        self
    }

    /// A group's SCIM id by the name policies use.
    pub fn group(mut self, name: &str, id: impl Into<String>) -> Self {
        self.groups.insert(name.to_owned(), id.into());
        self
    }

    /// Send `application/json` instead of `application/scim+json`.
    pub fn plain_json(mut self, on: bool) -> Self {
        self.plain_json = on;
        self
    }

    /// The whole-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks the URL, the credential and the profile mapping.
    pub fn build(self) -> Result<ScimConfig, ConfigError> {
        let system = self
            .system_name
            .unwrap_or_else(|| DEFAULT_SYSTEM_NAME.to_owned());
        let base = self.base_url.ok_or_else(|| {
            ConfigError::invalid_setting(
                &system,
                "base_url",
                "the application's SCIM base URL (https://app.example.com/scim/v2/)",
            )
        })?;
        let base_url = provision_http::client::parse_base_url(&base)
            .map_err(|e| ConfigError::invalid_setting(&system, "base_url", e.to_string()))?;
        let auth = self.auth.ok_or_else(|| {
            ConfigError::missing_credential(
                &system,
                "token",
                "`credentials: { token: env:VARIABLE | file:PATH }` (bearer), or `password` with \
                 settings.username (basic), or `client_secret` with settings.client_id and \
                 token_url (oauth)",
            )
        })?;
        let empty = match &auth {
            ScimAuth::Bearer(t) => t.expose_secret().trim().is_empty().then_some("token"),
            ScimAuth::Basic { password, .. } => {
                password.expose_secret().is_empty().then_some("password")
            }
            ScimAuth::OAuthClientCredentials { client_secret, .. } => client_secret
                .expose_secret()
                .trim()
                .is_empty()
                .then_some("client_secret"),
        };
        if let Some(credential) = empty {
            return Err(ConfigError::missing_credential(
                &system,
                credential,
                "the credential is empty",
            ));
        }
        let profile = self.profile.unwrap_or_else(|| {
            DEFAULT_PROFILE
                .iter()
                .map(|(hr, scim)| ((*hr).to_owned(), (*scim).to_owned()))
                .collect()
        });
        for (hr, scim) in &profile {
            if crate::model::ProfileAttribute::parse(scim).is_none() {
                return Err(ConfigError::invalid_setting(
                    &system,
                    format!("profile.{hr}"),
                    format!(
                        "one of {}, not `{scim}`",
                        crate::model::ProfileAttribute::NAMES.join(", ")
                    ),
                ));
            }
        }
        Ok(ScimConfig {
            base_url,
            auth,
            dialect: self.dialect,
            group_writes: self.group_writes,
            discovery: self.discovery.unwrap_or(true),
            fallback: self.fallback,
            page_size: self.page_size.unwrap_or(DEFAULT_PAGE_SIZE),
            delete_leavers: self.delete_leavers,
            profile,
            groups: self.groups,
            plain_json: self.plain_json,
            timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
            system_name: system,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_core::config::SystemConfig;
    use provision_core::model::SystemName;

    fn spec_with(
        settings: &[(&str, &str)],
        credentials: &[(&str, &str)],
    ) -> Result<ScimConfig, ConfigError> {
        let name = SystemName::new("expenses");
        let mut config = SystemConfig::new("scim");
        for (k, v) in settings {
            config.settings.insert((*k).to_owned(), (*v).to_owned());
        }
        // One folder per call: tests run in parallel and write the same names.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "provision-scim-config-{}-{call}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (k, v) in credentials {
            let file = dir.join(k);
            std::fs::write(&file, v).unwrap();
            config.credentials.insert(
                (*k).to_owned(),
                provision_core::config::CredentialRef::File { file },
            );
        }
        ScimConfig::from_spec(SystemSpec {
            name: &name,
            config: &config,
        })
    }

    #[test]
    fn a_missing_base_url_names_the_setting() {
        let e = ScimConfig::builder()
            .bearer("t")
            .system_name("expenses")
            .build()
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("expenses") && text.contains("base_url"),
            "{text}"
        );
    }

    #[test]
    fn a_bad_dialect_names_the_setting_and_the_choices() {
        let e = spec_with(
            &[
                ("base_url", "https://a.example.com/scim/v2"),
                ("dialect", "ldap"),
            ],
            &[("token", "t")],
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("dialect") && text.contains("azure"), "{text}");
    }

    #[test]
    fn the_credentials_given_decide_the_scheme() {
        let base = ("base_url", "https://a.example.com/scim/v2");
        let bearer = spec_with(&[base], &[("token", "tok")]).unwrap();
        assert_eq!(bearer.auth.scheme(), "bearer");
        let basic = spec_with(&[base, ("username", "svc")], &[("password", "pw")]).unwrap();
        assert_eq!(basic.auth.scheme(), "basic");
        let oauth = spec_with(
            &[
                base,
                ("client_id", "cid"),
                ("token_url", "https://idp.example.com/oauth2/token"),
            ],
            &[("client_secret", "s")],
        )
        .unwrap();
        let ScimAuth::OAuthClientCredentials { token_url, .. } = &oauth.auth else {
            panic!("{oauth:?}")
        };
        assert_eq!(token_url.as_str(), "https://idp.example.com/oauth2/token");
        let e = spec_with(&[base, ("auth", "basic")], &[("password", "pw")]).unwrap_err();
        assert!(e.to_string().contains("username"), "{e}");
        let e = spec_with(&[base], &[]).unwrap_err();
        assert!(e.to_string().contains("token"), "{e}");
    }

    #[test]
    fn dialect_presets_and_overrides() {
        let base = ("base_url", "https://a.example.com/scim/v2");
        let azure = spec_with(&[base, ("dialect", "azure")], &[("token", "t")]).unwrap();
        assert_eq!(azure.dialect, Dialect::azure());
        let mixed = spec_with(
            &[base, ("dialect", "azure"), ("member_remove", "filter")],
            &[("token", "t")],
        )
        .unwrap();
        assert_eq!(mixed.dialect.member_remove, MemberRemove::FilterInPath);
        assert_eq!(mixed.dialect.op_case, OpCase::Capitalized);
    }

    #[test]
    fn an_unknown_profile_attribute_is_refused() {
        let e = ScimConfig::builder()
            .base_url("https://a.example.com/scim/v2")
            .bearer("t")
            .profile([("title".to_owned(), "jobTitle".to_owned())].into())
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("profile.title"), "{e}");
    }

    #[test]
    fn debug_never_shows_a_secret() {
        for auth in [
            ScimAuth::Bearer("SECRET-bearer".into()),
            ScimAuth::Basic {
                user: "svc".into(),
                password: "SECRET-password".into(),
            },
            ScimAuth::OAuthClientCredentials {
                token_url: Url::parse("https://idp.example.com/oauth2/token").unwrap(),
                client_id: "cid".into(),
                client_secret: "SECRET-client".into(),
                scopes: vec![],
            },
        ] {
            let c = ScimConfig::builder()
                .base_url("https://a.example.com/scim/v2")
                .auth(auth)
                .build()
                .unwrap();
            let shown = format!("{c:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains("a.example.com"), "{shown}");
        }
    }
}
