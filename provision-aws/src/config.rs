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

use provision_core::adapter::SystemSpec;
use provision_core::config::{CredentialRef, SystemConfig};
use provision_core::secret::{ExposeSecret, SecretString};
use url::Url;

use crate::credentials::{CredentialSource, StaticCredentials};

/// How long the executor waits before it re-checks an asynchronous account assignment.
pub const DEFAULT_RECHECK_AFTER: Duration = Duration::from_secs(2);

pub use provision_core::adapter::ConfigError;

/// The system name errors use when none is given (`AwsConfig::from_env`, the builder).
pub const DEFAULT_SYSTEM_NAME: &str = "aws";

fn invalid(system: &str, setting: impl Into<String>, expected: impl Into<String>) -> ConfigError {
    ConfigError::invalid_setting(system, setting, expected)
}

fn missing_credential(
    system: &str,
    credential: impl Into<String>,
    expected: impl Into<String>,
) -> ConfigError {
    ConfigError::missing_credential(system, credential, expected)
}

/// The regions of every AWS partition (commercial, China, GovCloud, European
/// Sovereign Cloud) as of the end of 2026. A region outside this list is refused at
/// build time unless an explicit endpoint is configured (a local implementation, or a
/// region newer than this list: set `endpoint` to its URL).
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// True when `arn` has the shape of an Identity Center instance ARN
/// (`arn:<partition>:sso:::instance/ssoins-<16 characters>`, as the SSO Admin model's
/// `InstanceArn` pattern says).
pub fn is_instance_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    let partition_ok = partition == "aws"
        || partition.strip_prefix("aws-").is_some_and(|p| {
            p.split('-').all(|part| {
                (1..=5).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_lowercase())
            })
        });
    let Some(id) = rest.strip_prefix("sso:::instance/") else {
        return false;
    };
    let id = id
        .strip_prefix("ssoins-")
        .or_else(|| id.strip_prefix("ins-"));
    partition_ok
        && id.is_some_and(|id| {
            id.len() == 16
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
}

/// True when `id` has the shape of an identity store id: `d-` and ten hexadecimal
/// digits, or a UUID.
pub fn is_identity_store_id(id: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(rest) = id.strip_prefix("d-") {
        return rest.len() == 10 && hex(rest);
    }
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| hex(p))
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
    pub(crate) delete_leavers: bool,
    pub(crate) system_name: String,
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
            .field("delete_leavers", &self.delete_leavers)
            .field("system_name", &self.system_name)
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

    /// Builds the configuration of one deployment system from its [`SystemSpec`]:
    /// settings as [`AwsConfig::from_system_config`] reads them, credentials resolved
    /// by the core (`env:` / `file:`), errors naming `spec.name`.
    pub fn from_spec(spec: SystemSpec<'_>) -> Result<AwsConfig, ConfigError> {
        Self::from_parts(
            spec.name.as_str(),
            spec.config,
            &|k| std::env::var(k).ok(),
            &|key| spec.credential(key),
        )
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
        let name = DEFAULT_SYSTEM_NAME;
        Self::from_parts(name, system, env, &|key| {
            system
                .credentials
                .get(key)
                .map(|r| read_credential(name, key, r, env))
                .transpose()
        })
    }

    fn from_parts(
        name: &str,
        system: &SystemConfig,
        env: &dyn Fn(&str) -> Option<String>,
        credential: &dyn Fn(&str) -> Result<Option<SecretString>, ConfigError>,
    ) -> Result<AwsConfig, ConfigError> {
        let settings = &system.settings;
        let mut b =
            AwsConfigBuilder::from_env_with_profile(env, settings.get("profile").cloned(), name)?;
        b.system_name = Some(name.to_owned());
        if let Some(region) = settings.get("region") {
            b.region = Some(region.clone());
        }
        for key in ["endpoint", "identity_store_endpoint", "sso_admin_endpoint"] {
            if let Some(v) = settings.get(key) {
                let url = parse_url(name, key, v)?;
                match key {
                    "endpoint" => b.endpoint = Some(url),
                    "identity_store_endpoint" => b.identity_store_endpoint = Some(url),
                    _ => b.sso_admin_endpoint = Some(url),
                }
            }
        }
        if let Some(arn) = settings.get("instance_arn") {
            b.instance_arn = Some(arn.clone());
        }
        if let Some(id) = settings.get("identity_store_id") {
            b.identity_store_id = Some(id.clone());
        }
        for (key, value) in settings {
            if let Some(account) = key.strip_prefix("accounts.") {
                b = b.account(account, value.clone());
            }
        }
        if let Some(recheck) = settings.get("recheck_after_seconds") {
            let secs: u64 = recheck.parse().map_err(|_| {
                invalid(
                    name,
                    "recheck_after_seconds",
                    format!("a whole number of seconds, not '{recheck}'"),
                )
            })?;
            b.recheck_after = Some(Duration::from_secs(secs));
        }
        b.delete_leavers = system.delete_leavers;

        let id = credential("access_key_id")?;
        let secret = credential("secret_access_key")?;
        match (id, secret) {
            (Some(id), Some(secret)) => {
                let token = credential("session_token")?;
                b.credentials = Some(CredentialSource::Static(StaticCredentials::new(
                    id.expose_secret(),
                    secret,
                    token,
                )));
            }
            (Some(_), None) => {
                return Err(missing_credential(
                    name,
                    "secret_access_key",
                    "credentials.access_key_id is set, so `secret_access_key: { env: VARIABLE | file: PATH }` must be too",
                ));
            }
            (None, Some(_)) => {
                return Err(missing_credential(
                    name,
                    "access_key_id",
                    "credentials.secret_access_key is set, so `access_key_id: { env: VARIABLE | file: PATH }` must be too",
                ));
            }
            // the environment and the shared profile, as AWS tools read them
            (None, None) => {}
        }
        b.build()
    }

    /// The system name errors and grants read use (`aws` unless the deployment names
    /// the system otherwise).
    pub fn system_name(&self) -> &str {
        &self.system_name
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

    /// The configured name of an account id (`production` for `111122223333`), the
    /// first in name order when several names map to it.
    pub fn account_name(&self, account_id: &str) -> Option<String> {
        self.accounts
            .iter()
            .find(|(_, id)| id.as_str() == account_id)
            .map(|(name, _)| name.clone())
    }

    /// Whether `DeleteUser` is allowed (the deployment's `delete_leavers`).
    pub fn delete_leavers(&self) -> bool {
        self.delete_leavers
    }
}

/// True for a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks the settings that need neither a credential nor the environment: endpoint
/// URLs, the `instance_arn`'s shape, `accounts.<name>` ids and
/// `recheck_after_seconds`. Run when the descriptor is made (`provision validate`);
/// building the adapter checks them again with the rest.
pub fn check_settings(
    system: &str,
    settings: &std::collections::BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for key in ["endpoint", "identity_store_endpoint", "sso_admin_endpoint"] {
        if let Some(v) = settings.get(key) {
            parse_url(system, key, v)?;
        }
    }
    if let Some(arn) = settings.get("instance_arn") {
        check_instance_arn(system, arn)?;
    }
    for (key, value) in settings {
        if let Some(name) = key.strip_prefix("accounts.")
            && !is_account_id(value)
        {
            return Err(invalid(
                system,
                format!("accounts.{name}"),
                format!("a 12-digit AWS account id, not '{value}'"),
            ));
        }
    }
    if let Some(recheck) = settings.get("recheck_after_seconds")
        && recheck.parse::<u64>().is_err()
    {
        return Err(invalid(
            system,
            "recheck_after_seconds",
            format!("a whole number of seconds, not '{recheck}'"),
        ));
    }
    Ok(())
}

/// The `instance_arn` setting has an Identity Center instance ARN's shape.
fn check_instance_arn(system: &str, arn: &str) -> Result<(), ConfigError> {
    if is_instance_arn(arn) {
        return Ok(());
    }
    Err(invalid(
        system,
        "instance_arn",
        format!(
            "an Identity Center instance ARN arn:aws:sso:::instance/ssoins-<16 characters>, not '{arn}'"
        ),
    ))
}

fn parse_url(system: &str, field: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| {
        invalid(
            system,
            field,
            format!("an http(s) URL such as http://127.0.0.1:5000, not '{value}' ({e})"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(invalid(
            system,
            field,
            format!("an http(s) URL with a host, not '{value}'"),
        ));
    }
    provision_http::client::check_tls_off_loopback(&url)
        .map_err(|why| invalid(system, field, format!("'{value}': {why}")))?;
    Ok(url)
}

fn read_credential(
    system: &str,
    key: &str,
    r: &CredentialRef,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SecretString, ConfigError> {
    match r {
        CredentialRef::Env { env: var } => env(var)
            .filter(|v| !v.trim().is_empty())
            .map(|v| SecretString::from(v.trim().to_owned()))
            .ok_or_else(|| {
                missing_credential(
                    system,
                    key,
                    format!("environment variable {var} is not set"),
                )
            }),
        CredentialRef::File { file } => std::fs::read_to_string(file)
            .map(|v| SecretString::from(v.trim().to_owned()))
            .map_err(|e| {
                missing_credential(
                    system,
                    key,
                    format!("a readable file {}: {e}", file.display()),
                )
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
    delete_leavers: bool,
    system_name: Option<String>,
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
        Self::from_env_with_profile(env, None, DEFAULT_SYSTEM_NAME)
    }

    fn from_env_with_profile(
        env: &dyn Fn(&str) -> Option<String>,
        profile: Option<String>,
        system: &str,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let mut b = AwsConfigBuilder::default();
        let profile = profile
            .or_else(|| get("AWS_PROFILE"))
            .unwrap_or_else(|| "default".to_owned());
        let home = get("HOME").map(PathBuf::from);

        if let Some(id) = get("AWS_ACCESS_KEY_ID") {
            let secret = get("AWS_SECRET_ACCESS_KEY").ok_or_else(|| {
                missing_credential(
                    system,
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_ACCESS_KEY_ID is set, so AWS_SECRET_ACCESS_KEY must be too",
                )
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
                b.credentials = credentials_from_profile(system, &path, &profile)?;
            }
        }

        b.region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
        if b.region.is_none() {
            let path = get("AWS_CONFIG_FILE")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join("config")));
            if let Some(path) = path.filter(|p| p.exists()) {
                let ini = read_ini(system, &path)?;
                let section = if profile == "default" {
                    "default".to_owned()
                } else {
                    format!("profile {profile}")
                };
                b.region = ini.get(&section).and_then(|s| s.get("region")).cloned();
            }
        }
        if let Some(v) = get("AWS_ENDPOINT_URL") {
            b.endpoint = Some(parse_url(system, "AWS_ENDPOINT_URL", &v)?);
        }
        if let Some(v) = get("AWS_ENDPOINT_URL_IDENTITYSTORE") {
            b.identity_store_endpoint =
                Some(parse_url(system, "AWS_ENDPOINT_URL_IDENTITYSTORE", &v)?);
        }
        if let Some(v) = get("AWS_ENDPOINT_URL_SSO_ADMIN") {
            b.sso_admin_endpoint = Some(parse_url(system, "AWS_ENDPOINT_URL_SSO_ADMIN", &v)?);
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

    /// Allows `DeleteUser` for leavers (off by default; a deployment's
    /// `delete_leavers`).
    pub fn delete_leavers(mut self, allow: bool) -> Self {
        self.delete_leavers = allow;
        self
    }

    /// The system's name in the deployment (default `aws`): errors name it, and the
    /// grants [`provision_core::adapter::Adapter::read_account_grants`] reads carry it.
    pub fn system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = Some(name.into());
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
        let system = self
            .system_name
            .clone()
            .unwrap_or_else(|| DEFAULT_SYSTEM_NAME.to_owned());
        let system = system.as_str();
        let region = self.region.ok_or_else(|| {
            invalid(
                system,
                "region",
                "the region of the Identity Center instance: settings.region, AWS_REGION, AWS_DEFAULT_REGION or a profile's region",
            )
        })?;
        let explicit_endpoint = self.endpoint.is_some()
            || (self.identity_store_endpoint.is_some() && self.sso_admin_endpoint.is_some());
        let shaped = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !shaped || (!explicit_endpoint && !KNOWN_REGIONS.contains(&region.as_str())) {
            return Err(invalid(
                system,
                "region",
                format!(
                    "an AWS region such as us-east-1 or eu-west-1, not '{region}' (a region not yet in this list needs an explicit `endpoint`)"
                ),
            ));
        }
        let credentials = self.credentials.ok_or_else(|| {
            missing_credential(
                system,
                "access_key_id",
                format!(
                    "credentials.access_key_id and secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a [{}] profile in ~/.aws/credentials{}",
                    self.profile.as_deref().unwrap_or("default"),
                    if cfg!(feature = "aws-config") {
                        ", or the aws-config credential chain"
                    } else {
                        ""
                    }
                ),
            )
        })?;
        let default_endpoint = |host: &str| {
            let domain = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            Url::parse(&format!("https://{host}.{region}.{domain}")).map_err(|e| {
                invalid(
                    system,
                    "region",
                    format!("a region that gives a valid endpoint ({e})"),
                )
            })
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
                    system,
                    format!("accounts.{name}"),
                    format!("a 12-digit AWS account id, not '{id}'"),
                ));
            }
        }
        if self.instance_arn.is_some() != self.identity_store_id.is_some() {
            let missing = if self.instance_arn.is_some() {
                "identity_store_id"
            } else {
                "instance_arn"
            };
            return Err(invalid(
                system,
                missing,
                "both instance_arn and identity_store_id, or neither (then discovered with ListInstances)",
            ));
        }
        if let Some(arn) = &self.instance_arn {
            check_instance_arn(system, arn)?;
        }
        if let Some(id) = &self.identity_store_id
            && !is_identity_store_id(id)
        {
            return Err(invalid(
                system,
                "identity_store_id",
                format!("an identity store id d-<10 hex digits> (or a UUID), not '{id}'"),
            ));
        }
        Ok(AwsConfig {
            region,
            credentials,
            identity_store_endpoint,
            sso_admin_endpoint,
            instance_arn: self.instance_arn,
            identity_store_id: self.identity_store_id,
            accounts: self.accounts,
            delete_leavers: self.delete_leavers,
            system_name: system.to_owned(),
            recheck_after: self.recheck_after.unwrap_or(DEFAULT_RECHECK_AFTER),
            timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
        })
    }
}

type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// Reads an AWS shared config/credentials file: `[section]` headers and `key = value`
/// lines; `#` and `;` start comments. Nested (indented) values are ignored.
fn read_ini(system: &str, path: &Path) -> Result<Ini, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Other {
        system: system.to_owned(),
        message: format!("cannot read the AWS file {}: {e}", path.display()),
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
    system: &str,
    path: &Path,
    profile: &str,
) -> Result<Option<CredentialSource>, ConfigError> {
    let ini = read_ini(system, path)?;
    let Some(section) = ini.get(profile) else {
        return Ok(None);
    };
    let field = |k: &str| format!("{}: [{profile}] {k}", path.display());
    let Some(id) = section.get("aws_access_key_id") else {
        return Ok(None);
    };
    let secret = section.get("aws_secret_access_key").ok_or_else(|| {
        missing_credential(
            system,
            field("aws_secret_access_key"),
            "the profile has aws_access_key_id but no aws_secret_access_key",
        )
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

    /// `provision validate` refuses an endpoint that would carry the signed requests in
    /// the clear off loopback (moto on loopback is fine).
    #[test]
    fn validate_refuses_plain_http_endpoints_off_loopback() {
        let settings = |url: &str| {
            std::collections::BTreeMap::from([("sso_admin_endpoint".to_owned(), url.to_owned())])
        };
        check_settings("aws", &settings("http://127.0.0.1:5000")).unwrap();
        check_settings("aws", &settings("https://sso.us-east-1.amazonaws.com")).unwrap();
        let e = check_settings("aws", &settings("http://sso.us-east-1.amazonaws.com"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sso_admin_endpoint") && e.contains("plain http"),
            "{e}"
        );
    }

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
            "arn:aws:sso:::instance/ssoins-1111222233334444".into(),
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
        assert_eq!(
            c.instance_arn(),
            Some("arn:aws:sso:::instance/ssoins-1111222233334444")
        );
        assert_eq!(c.account_id("production").as_deref(), Some("111122223333"));
        assert_eq!(
            c.account_id("444455556666").as_deref(),
            Some("444455556666")
        );
        assert_eq!(c.account_id("staging"), None);
        assert!(c.delete_leavers());
        assert!(!format!("{c:?}").contains("sys-secret"));

        sys.settings
            .insert("accounts.staging".into(), "not-an-id".into());
        let err = AwsConfig::from_system_config_with(&sys, &e).unwrap_err();
        assert!(err.to_string().contains("accounts.staging"), "{err}");

        sys.settings.remove("accounts.staging");
        sys.credentials.remove("secret_access_key");
        let err = AwsConfig::from_system_config_with(&sys, &e).unwrap_err();
        assert!(err.to_string().contains("secret_access_key"), "{err}");
    }
}
