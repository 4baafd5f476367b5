//! Configuration: region, credentials, endpoints, the Identity Center instance and
//! the account names policies may use.
//!
//! Built with [`AwsConfig::builder`], from the environment the way AWS tools read it
//! ([`AwsConfig::from_env`]), or from a deployment's [`SystemConfig`]
//! ([`AwsConfig::from_system_config`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::secret::{ExposeSecret, SecretString};
use url::Url;

use crate::credentials::{CredentialSource, StaticCredentials};

/// How long the executor waits before it re-checks an asynchronous account assignment.
pub const DEFAULT_RECHECK_AFTER: Duration = Duration::from_secs(2);

/// A configuration that cannot be used, naming the field (or variable, or file) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is absent.
    #[error("missing {field}: {hint}")]
    Missing {
        /// The field, setting or variable.
        field: String,
        /// Where it may come from.
        hint: String,
    },
    /// A value is present but wrong.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, setting or variable.
        field: String,
        /// What is wrong with it (never the value of a secret).
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Everything the adapter needs to talk to one IAM Identity Center instance.
///
/// `Debug` never shows a secret.
#[derive(Clone)]
pub struct AwsConfig {
    pub(crate) region: String,
    pub(crate) credentials: CredentialSource,
    pub(crate) identity_store_endpoint: Url,
    pub(crate) sso_admin_endpoint: Url,
    pub(crate) instance_arn: Option<String>,
    pub(crate) identity_store_id: Option<String>,
    pub(crate) accounts: BTreeMap<String, String>,
    pub(crate) delete_users: bool,
    pub(crate) recheck_after: Duration,
    pub(crate) timeout: Duration,
}

impl fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsConfig")
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .field(
                "identity_store_endpoint",
                &self.identity_store_endpoint.as_str(),
            )
            .field("sso_admin_endpoint", &self.sso_admin_endpoint.as_str())
            .field("instance_arn", &self.instance_arn)
            .field("identity_store_id", &self.identity_store_id)
            .field("accounts", &self.accounts)
            .field("delete_users", &self.delete_users)
            .finish()
    }
}

impl AwsConfig {
    /// A builder with nothing set.
    pub fn builder() -> AwsConfigBuilder {
        AwsConfigBuilder::default()
    }

    /// Reads the configuration the way the AWS CLI does, from the process environment:
    /// see [`AwsConfigBuilder::from_env_with`].
    pub fn from_env() -> Result<AwsConfig, ConfigError> {
        AwsConfigBuilder::from_env_with(&|k| std::env::var(k).ok())?.build()
    }

    /// Builds the configuration of one deployment system (`adapter: aws`).
    ///
    /// Settings (all optional unless said): `region`; `endpoint` (one URL for both
    /// services, e.g. moto); `identity_store_endpoint`, `sso_admin_endpoint`;
    /// `instance_arn` and `identity_store_id` (discovered with `ListInstances` when
    /// absent and there is exactly one instance); `accounts.<name> = <12-digit id>`;
    /// `profile`. Credentials (optional; otherwise the environment and the shared
    /// profile): `access_key_id`, `secret_access_key`, `session_token`, each an
    /// environment variable or a file. `delete_leavers: true` allows `DeleteUser`.
    pub fn from_system_config(system: &SystemConfig) -> Result<AwsConfig, ConfigError> {
        Self::from_system_config_with(system, &|k| std::env::var(k).ok())
    }

    /// [`AwsConfig::from_system_config`] with an explicit environment (for tests).
    pub fn from_system_config_with(
        system: &SystemConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AwsConfig, ConfigError> {
        let mut b = AwsConfigBuilder::default();
        let settings = &system.settings;
        if let Some(profile) = settings.get("profile") {
            b.profile = Some(profile.clone());
        }
        let mut env_builder = AwsConfigBuilder::from_env_with_profile(env, b.profile.clone())?;
        if let Some(region) = settings.get("region") {
            env_builder.region = Some(region.clone());
        }
        for (key, field) in [
            ("endpoint", "settings.endpoint"),
            (
                "identity_store_endpoint",
                "settings.identity_store_endpoint",
            ),
            ("sso_admin_endpoint", "settings.sso_admin_endpoint"),
        ] {
            if let Some(v) = settings.get(key) {
                let url = parse_url(field, v)?;
                match key {
                    "endpoint" => env_builder.endpoint = Some(url),
                    "identity_store_endpoint" => env_builder.identity_store_endpoint = Some(url),
                    _ => env_builder.sso_admin_endpoint = Some(url),
                }
            }
        }
        if let Some(arn) = settings.get("instance_arn") {
            env_builder.instance_arn = Some(arn.clone());
        }
        if let Some(id) = settings.get("identity_store_id") {
            env_builder.identity_store_id = Some(id.clone());
        }
        for (key, value) in settings {
            if let Some(name) = key.strip_prefix("accounts.") {
                env_builder = env_builder.account(name, value.clone());
            }
        }
        if let Some(recheck) = settings.get("recheck_after_seconds") {
            let secs: u64 = recheck.parse().map_err(|_| {
                invalid(
                    "settings.recheck_after_seconds",
                    format!("'{recheck}' is not a whole number of seconds"),
                )
            })?;
            env_builder.recheck_after = Some(Duration::from_secs(secs));
        }
        env_builder.delete_users = system.delete_leavers;

        let creds = &system.credentials;
        if let Some(id_ref) = creds.get("access_key_id") {
            let id = read_credential("credentials.access_key_id", id_ref, env)?;
            let secret_ref =
                creds
                    .get("secret_access_key")
                    .ok_or_else(|| ConfigError::Missing {
                        field: "credentials.secret_access_key".into(),
                        hint:
                            "credentials.access_key_id is set, so the secret access key must be too"
                                .into(),
                    })?;
            let secret = read_credential("credentials.secret_access_key", secret_ref, env)?;
            let token = creds
                .get("session_token")
                .map(|r| read_credential("credentials.session_token", r, env))
                .transpose()?;
            env_builder.credentials = Some(CredentialSource::Static(StaticCredentials::new(
                id.expose_secret(),
                secret,
                token,
            )));
        }
        env_builder.build()
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The Identity Store endpoint.
    pub fn identity_store_endpoint(&self) -> &Url {
        &self.identity_store_endpoint
    }

    /// The SSO Admin endpoint.
    pub fn sso_admin_endpoint(&self) -> &Url {
        &self.sso_admin_endpoint
    }

    /// The configured instance ARN, if any (otherwise it is discovered).
    pub fn instance_arn(&self) -> Option<&str> {
        self.instance_arn.as_deref()
    }

    /// The configured identity store id, if any (otherwise it is discovered).
    pub fn identity_store_id(&self) -> Option<&str> {
        self.identity_store_id.as_deref()
    }

    /// The 12-digit id of an account named in policies (by name or by id).
    pub fn account_id(&self, name_or_id: &str) -> Option<String> {
        if is_account_id(name_or_id) {
            return Some(name_or_id.to_owned());
        }
        self.accounts.get(name_or_id).cloned()
    }

    /// Whether `DeleteUser` is allowed.
    pub fn delete_users(&self) -> bool {
        self.delete_users
    }
}

/// True for a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_url(field: &str, value: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(value).map_err(|e| invalid(field, format!("'{value}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(field, format!("'{value}' is not an http(s) URL")));
    }
    Ok(url)
}

fn read_credential(
    field: &str,
    r: &CredentialRef,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SecretString, ConfigError> {
    match r {
        CredentialRef::Env { env: var } => env(var)
            .filter(|v| !v.trim().is_empty())
            .map(|v| SecretString::from(v.trim().to_owned()))
            .ok_or_else(|| ConfigError::Missing {
                field: field.to_owned(),
                hint: format!("environment variable {var} is not set"),
            }),
        CredentialRef::File { file } => std::fs::read_to_string(file)
            .map(|v| SecretString::from(v.trim().to_owned()))
            .map_err(|e| ConfigError::File {
                path: file.clone(),
                reason: format!("{field}: {e}"),
            }),
    }
}

/// Builds an [`AwsConfig`].
///
/// ```
/// use provision_aws::{AwsConfig, StaticCredentials};
///
/// let config = AwsConfig::builder()
///     .region("eu-west-1")
///     .credentials(StaticCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", None))
///     .instance("arn:aws:sso:::instance/ssoins-0123456789abcdef", "d-0123456789")
///     .account("production", "111122223333")
///     .build()
///     .unwrap();
/// assert_eq!(config.account_id("production").as_deref(), Some("111122223333"));
/// assert_eq!(config.sso_admin_endpoint().as_str(), "https://sso.eu-west-1.amazonaws.com/");
/// ```
#[derive(Default, Clone)]
pub struct AwsConfigBuilder {
    region: Option<String>,
    credentials: Option<CredentialSource>,
    profile: Option<String>,
    endpoint: Option<Url>,
    identity_store_endpoint: Option<Url>,
    sso_admin_endpoint: Option<Url>,
    instance_arn: Option<String>,
    identity_store_id: Option<String>,
    accounts: BTreeMap<String, String>,
    delete_users: bool,
    recheck_after: Option<Duration>,
    timeout: Option<Duration>,
}

impl fmt::Debug for AwsConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsConfigBuilder")
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .field("endpoint", &self.endpoint.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

impl AwsConfigBuilder {
    /// Reads what AWS tools read, through `env` (a lookup of environment variables):
    ///
    /// * credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
    ///   otherwise the profile `AWS_PROFILE` (or `default`) of the shared credentials file
    ///   (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`), keys
    ///   `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`;
    /// * region: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `region` of the profile in
    ///   the config file (`AWS_CONFIG_FILE`, default `~/.aws/config`);
    /// * endpoint: `AWS_ENDPOINT_URL` (both services), `AWS_ENDPOINT_URL_IDENTITYSTORE`,
    ///   `AWS_ENDPOINT_URL_SSO_ADMIN`;
    /// * instance: `PROVISION_AWS_INSTANCE_ARN`, `PROVISION_AWS_IDENTITY_STORE_ID`.
    ///
    /// Credentials that are absent are not an error here; [`AwsConfigBuilder::build`]
    /// says so.
    pub fn from_env_with(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_env_with_profile(env, None)
    }

    fn from_env_with_profile(
        env: &dyn Fn(&str) -> Option<String>,
        profile: Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let mut b = AwsConfigBuilder::default();
        let profile = profile
            .or_else(|| get("AWS_PROFILE"))
            .unwrap_or_else(|| "default".to_owned());
        let home = get("HOME").map(PathBuf::from);

        if let Some(id) = get("AWS_ACCESS_KEY_ID") {
            let secret = get("AWS_SECRET_ACCESS_KEY").ok_or_else(|| ConfigError::Missing {
                field: "AWS_SECRET_ACCESS_KEY".into(),
                hint: "AWS_ACCESS_KEY_ID is set, so AWS_SECRET_ACCESS_KEY must be too".into(),
            })?;
            b.credentials = Some(CredentialSource::Static(StaticCredentials::new(
                id,
                SecretString::from(secret),
                get("AWS_SESSION_TOKEN").map(SecretString::from),
            )));
        } else {
            let path = get("AWS_SHARED_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join("credentials")));
            if let Some(path) = path.filter(|p| p.exists()) {
                b.credentials = credentials_from_profile(&path, &profile)?;
            }
        }

        b.region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
        if b.region.is_none() {
            let path = get("AWS_CONFIG_FILE")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join("config")));
            if let Some(path) = path.filter(|p| p.exists()) {
                let ini = read_ini(&path)?;
                let section = if profile == "default" {
                    "default".to_owned()
                } else {
                    format!("profile {profile}")
                };
                b.region = ini.get(&section).and_then(|s| s.get("region")).cloned();
            }
        }
        if let Some(v) = get("AWS_ENDPOINT_URL") {
            b.endpoint = Some(parse_url("AWS_ENDPOINT_URL", &v)?);
        }
        if let Some(v) = get("AWS_ENDPOINT_URL_IDENTITYSTORE") {
            b.identity_store_endpoint = Some(parse_url("AWS_ENDPOINT_URL_IDENTITYSTORE", &v)?);
        }
        if let Some(v) = get("AWS_ENDPOINT_URL_SSO_ADMIN") {
            b.sso_admin_endpoint = Some(parse_url("AWS_ENDPOINT_URL_SSO_ADMIN", &v)?);
        }
        b.instance_arn = get("PROVISION_AWS_INSTANCE_ARN");
        b.identity_store_id = get("PROVISION_AWS_IDENTITY_STORE_ID");
        b.profile = Some(profile);
        Ok(b)
    }

    /// The region (`us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Fixed credentials.
    pub fn credentials(mut self, credentials: StaticCredentials) -> Self {
        self.credentials = Some(CredentialSource::Static(credentials));
        self
    }

    /// The full AWS credential chain of `aws-config` (SSO, web identity, container and
    /// instance metadata, ...), resolved on each request and cached by `aws-config`.
    #[cfg(feature = "aws-config")]
    pub fn credentials_chain(
        mut self,
        provider: aws_credential_types::provider::SharedCredentialsProvider,
    ) -> Self {
        self.credentials = Some(CredentialSource::Provider(provider));
        self
    }

    /// The default AWS credential chain of `aws-config` (environment, profile, SSO,
    /// web identity, container and instance metadata), for the builder's region.
    #[cfg(feature = "aws-config")]
    pub async fn default_credentials_chain(self) -> Self {
        let mut chain =
            aws_config::default_provider::credentials::DefaultCredentialsChain::builder();
        if let Some(region) = &self.region {
            chain = chain.region(aws_config::Region::new(region.clone()));
        }
        let provider =
            aws_credential_types::provider::SharedCredentialsProvider::new(chain.build().await);
        self.credentials_chain(provider)
    }

    /// One endpoint for both services (a local implementation such as moto).
    pub fn endpoint(mut self, url: Url) -> Self {
        self.endpoint = Some(url);
        self
    }

    /// The Identity Store endpoint only.
    pub fn identity_store_endpoint(mut self, url: Url) -> Self {
        self.identity_store_endpoint = Some(url);
        self
    }

    /// The SSO Admin endpoint only.
    pub fn sso_admin_endpoint(mut self, url: Url) -> Self {
        self.sso_admin_endpoint = Some(url);
        self
    }

    /// The Identity Center instance (`arn:aws:sso:::instance/ssoins-…`) and its identity
    /// store (`d-…`). Without it the adapter calls `ListInstances` and uses the only one.
    pub fn instance(
        mut self,
        instance_arn: impl Into<String>,
        identity_store_id: impl Into<String>,
    ) -> Self {
        self.instance_arn = Some(instance_arn.into());
        self.identity_store_id = Some(identity_store_id.into());
        self
    }

    /// Maps an account name used in policies (`account:production`) to its 12-digit id.
    pub fn account(mut self, name: impl Into<String>, id: impl Into<String>) -> Self {
        self.accounts.insert(name.into(), id.into());
        self
    }

    /// Allows `DeleteUser` (off by default).
    pub fn delete_users(mut self, allow: bool) -> Self {
        self.delete_users = allow;
        self
    }

    /// How long the executor waits before re-checking an asynchronous assignment.
    pub fn recheck_after(mut self, after: Duration) -> Self {
        self.recheck_after = Some(after);
        self
    }

    /// The per-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<AwsConfig, ConfigError> {
        let region = self.region.ok_or_else(|| ConfigError::Missing {
            field: "region".into(),
            hint: "set AWS_REGION (or AWS_DEFAULT_REGION, a profile's region, settings.region)"
                .into(),
        })?;
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                "region",
                format!("'{region}' is not an AWS region name"),
            ));
        }
        let credentials = self.credentials.ok_or_else(|| ConfigError::Missing {
            field: "credentials".into(),
            hint: format!(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a [{}] profile in ~/.aws/credentials{}",
                self.profile.as_deref().unwrap_or("default"),
                if cfg!(feature = "aws-config") {
                    ", or use the aws-config credential chain"
                } else {
                    ""
                }
            ),
        })?;
        let default_endpoint = |host: &str| {
            Url::parse(&format!("https://{host}.{region}.amazonaws.com"))
                .map_err(|e| invalid("region", format!("gives no valid endpoint: {e}")))
        };
        let identity_store_endpoint = match self.identity_store_endpoint.or(self.endpoint.clone()) {
            Some(u) => u,
            None => default_endpoint("identitystore")?,
        };
        let sso_admin_endpoint = match self.sso_admin_endpoint.or(self.endpoint) {
            Some(u) => u,
            None => default_endpoint("sso")?,
        };
        for (name, id) in &self.accounts {
            if !is_account_id(id) {
                return Err(invalid(
                    format!("accounts.{name}"),
                    format!("'{id}' is not a 12-digit AWS account id"),
                ));
            }
        }
        if self.instance_arn.is_some() != self.identity_store_id.is_some() {
            return Err(ConfigError::Missing {
                field: if self.instance_arn.is_some() {
                    "identity_store_id".into()
                } else {
                    "instance_arn".into()
                },
                hint: "give both the instance ARN and the identity store id, or neither (discovered with ListInstances)".into(),
            });
        }
        if let Some(arn) = &self.instance_arn
            && !arn.starts_with("arn:")
        {
            return Err(invalid("instance_arn", format!("'{arn}' is not an ARN")));
        }
        Ok(AwsConfig {
            region,
            credentials,
            identity_store_endpoint,
            sso_admin_endpoint,
            instance_arn: self.instance_arn,
            identity_store_id: self.identity_store_id,
            accounts: self.accounts,
            delete_users: self.delete_users,
            recheck_after: self.recheck_after.unwrap_or(DEFAULT_RECHECK_AFTER),
            timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
        })
    }
}

type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// Reads an AWS shared config/credentials file: `[section]` headers and `key = value`
/// lines; `#` and `;` start comments. Nested (indented) values are ignored.
fn read_ini(path: &Path) -> Result<Ini, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(parse_ini(&text))
}

pub(crate) fn parse_ini(text: &str) -> Ini {
    let mut out = Ini::new();
    let mut section: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue; // a nested sub-property (s3 = ...) that we do not use
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            out.entry(name.clone()).or_default();
            section = Some(name);
            continue;
        }
        if let (Some(s), Some((k, v))) = (&section, line.split_once('=')) {
            out.entry(s.clone())
                .or_default()
                .insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    out
}

fn credentials_from_profile(
    path: &Path,
    profile: &str,
) -> Result<Option<CredentialSource>, ConfigError> {
    let ini = read_ini(path)?;
    let Some(section) = ini.get(profile) else {
        return Ok(None);
    };
    let field = |k: &str| format!("{}: [{profile}] {k}", path.display());
    let Some(id) = section.get("aws_access_key_id") else {
        return Ok(None);
    };
    let secret = section
        .get("aws_secret_access_key")
        .ok_or_else(|| ConfigError::Missing {
            field: field("aws_secret_access_key"),
            hint: "the profile has aws_access_key_id but no aws_secret_access_key".into(),
        })?;
    Ok(Some(CredentialSource::Static(StaticCredentials::new(
        id.clone(),
        SecretString::from(secret.clone()),
        section
            .get("aws_session_token")
            .map(|t| SecretString::from(t.clone())),
    ))))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("provision-aws-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn environment_variables_give_credentials_region_and_endpoint() {
        let e = env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret-value"),
            ("AWS_SESSION_TOKEN", "env-session-token"),
            ("AWS_DEFAULT_REGION", "eu-central-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5050"),
        ]);
        let c = AwsConfigBuilder::from_env_with(&e)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(c.region(), "eu-central-1");
        assert_eq!(
            c.identity_store_endpoint().as_str(),
            "http://127.0.0.1:5050/"
        );
        assert_eq!(c.sso_admin_endpoint().as_str(), "http://127.0.0.1:5050/");
        let debug = format!("{c:?}");
        assert!(debug.contains("AKIDENV"));
        assert!(!debug.contains("env-secret-value"), "{debug}");
        assert!(!debug.contains("env-session-token"), "{debug}");
    }

    #[test]
    fn aws_region_wins_over_default_region_and_endpoints_default_to_aws() {
        let e = env(&[
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-central-1"),
        ]);
        let c = AwsConfigBuilder::from_env_with(&e)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(c.region(), "us-west-2");
        assert_eq!(
            c.identity_store_endpoint().as_str(),
            "https://identitystore.us-west-2.amazonaws.com/"
        );
        assert_eq!(
            c.sso_admin_endpoint().as_str(),
            "https://sso.us-west-2.amazonaws.com/"
        );
    }

    #[test]
    fn shared_profile_files_give_credentials_and_region() {
        let dir = temp_dir("profile");
        let creds = dir.join("credentials");
        let conf = dir.join("config");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n\n# comment\n[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = profile-secret\naws_session_token = profile-token\n",
        )
        .unwrap();
        std::fs::write(&conf, "[default]\nregion = us-east-1\n[profile work]\nregion = ap-southeast-2\ns3 =\n  max_concurrent_requests = 2\n").unwrap();
        let e = env(&[
            ("AWS_PROFILE", "work"),
            ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
            ("AWS_CONFIG_FILE", conf.to_str().unwrap()),
        ]);
        let c = AwsConfigBuilder::from_env_with(&e)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(c.region(), "ap-southeast-2");
        let debug = format!("{:?}", c);
        assert!(debug.contains("AKIDWORK"), "{debug}");
        assert!(!debug.contains("profile-secret") && !debug.contains("profile-token"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_pieces_are_named() {
        let e = env(&[("AWS_ACCESS_KEY_ID", "A"), ("HOME", "/nonexistent")]);
        let err = AwsConfigBuilder::from_env_with(&e).unwrap_err();
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{err}");

        let e = env(&[("HOME", "/nonexistent"), ("AWS_REGION", "us-east-1")]);
        let err = AwsConfigBuilder::from_env_with(&e)
            .unwrap()
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("credentials"), "{err}");

        let err = AwsConfig::builder()
            .credentials(StaticCredentials::new("A", "S", None))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("region"), "{err}");

        let err = AwsConfig::builder()
            .region("us-east-1")
            .credentials(StaticCredentials::new("A", "S", None))
            .account("production", "12345")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("accounts.production"), "{err}");
    }

    #[test]
    fn system_config_reads_settings_and_credential_refs() {
        let mut sys = SystemConfig::new("aws");
        sys.settings.insert("region".into(), "eu-west-1".into());
        sys.settings
            .insert("endpoint".into(), "http://127.0.0.1:9999".into());
        sys.settings.insert(
            "instance_arn".into(),
            "arn:aws:sso:::instance/ssoins-1".into(),
        );
        sys.settings
            .insert("identity_store_id".into(), "d-1234567890".into());
        sys.settings
            .insert("accounts.production".into(), "111122223333".into());
        sys.delete_leavers = true;
        sys.credentials.insert(
            "access_key_id".into(),
            CredentialRef::Env {
                env: "MY_KEY_ID".into(),
            },
        );
        sys.credentials.insert(
            "secret_access_key".into(),
            CredentialRef::Env {
                env: "MY_SECRET".into(),
            },
        );
        let e = env(&[
            ("MY_KEY_ID", "AKIDSYS"),
            ("MY_SECRET", "sys-secret"),
            ("HOME", "/nonexistent"),
        ]);
        let c = AwsConfig::from_system_config_with(&sys, &e).unwrap();
        assert_eq!(c.region(), "eu-west-1");
        assert_eq!(c.sso_admin_endpoint().as_str(), "http://127.0.0.1:9999/");
        assert_eq!(c.instance_arn(), Some("arn:aws:sso:::instance/ssoins-1"));
        assert_eq!(c.account_id("production").as_deref(), Some("111122223333"));
        assert_eq!(
            c.account_id("444455556666").as_deref(),
            Some("444455556666")
        );
        assert_eq!(c.account_id("staging"), None);
        assert!(c.delete_users());
        assert!(!format!("{c:?}").contains("sys-secret"));

        sys.settings
            .insert("accounts.staging".into(), "not-an-id".into());
        let err = AwsConfig::from_system_config_with(&sys, &e).unwrap_err();
        assert!(err.to_string().contains("accounts.staging"), "{err}");

        sys.settings.remove("accounts.staging");
        sys.credentials.remove("secret_access_key");
        let err = AwsConfig::from_system_config_with(&sys, &e).unwrap_err();
        assert!(
            err.to_string().contains("credentials.secret_access_key"),
            "{err}"
        );
    }
}
