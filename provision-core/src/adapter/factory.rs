//! Adapters built from `provision.yaml`: each adapter crate exports an
//! [`AdapterFactory`]; `adapter: okta` (or `google`, `aws`, `sandbox`, or a name of
//! your own) with that system's `settings` and `credentials` picks the factory that
//! builds it.
//!
//! A factory gives the system's [descriptor](AdapterFactory::descriptor) from its
//! settings alone, without credentials, so `validate` in CI needs no secrets; it
//! builds the adapter itself with [`AdapterFactory::build`], resolving the
//! credential references (`env:` / `file:`) then. Every failure is a
//! [`ConfigError`] that names the system, the setting or credential, and what was
//! expected, and never echoes a secret.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Adapter, SystemDescriptor};
use crate::config::SystemConfig;
use crate::config::resolve_credential;
use crate::model::SystemName;
use crate::secret::SecretString;

/// Why an adapter could not be configured: names the system, the setting or
/// credential, and what was expected. Never carries a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting is missing or malformed (a bad URL, an ARN of the wrong shape, a
    /// region that does not exist).
    #[error("system {system}: setting `{setting}`: {expected}")]
    InvalidSetting {
        /// The system (its name in `provision.yaml`).
        system: String,
        /// The setting's name.
        setting: String,
        /// What was expected (and, for non-secret settings, what was found).
        expected: String,
    },
    /// A credential is missing or cannot be read: names the variable or file expected.
    #[error("system {system}: credential `{credential}`: {expected}")]
    MissingCredential {
        /// The system.
        system: String,
        /// The credential's name (`api_token`, `private_key`).
        credential: String,
        /// What was expected: the variable or file, and what was wrong with it.
        expected: String,
    },
    /// No factory is registered for the system's `adapter:`.
    #[error("system {system}: unknown adapter `{adapter}` (known: {})", known.join(", "))]
    UnknownAdapter {
        /// The system.
        system: String,
        /// The adapter named in the deployment.
        adapter: String,
        /// The adapters that are registered.
        known: Vec<String>,
    },
    /// Anything else the adapter refuses in its configuration.
    #[error("system {system}: {message}")]
    Other {
        /// The system.
        system: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// A malformed or missing setting.
    pub fn invalid_setting(
        system: impl Into<String>,
        setting: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ConfigError::InvalidSetting {
            system: system.into(),
            setting: setting.into(),
            expected: expected.into(),
        }
    }

    /// A missing or unreadable credential.
    pub fn missing_credential(
        system: impl Into<String>,
        credential: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ConfigError::MissingCredential {
            system: system.into(),
            credential: credential.into(),
            expected: expected.into(),
        }
    }
}

/// One system's entry of the deployment, as a factory sees it.
#[derive(Debug, Clone, Copy)]
pub struct SystemSpec<'a> {
    /// The system's name in `provision.yaml` (`okta`, `okta-contractors`).
    pub name: &'a SystemName,
    /// Its configuration: `settings`, `credentials`, `delete_leavers`, ...
    pub config: &'a SystemConfig,
}

impl SystemSpec<'_> {
    /// A setting's value, when present.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.config.settings.get(key).map(String::as_str)
    }

    /// A setting that must be present.
    pub fn required_setting(&self, key: &str, expected: &str) -> Result<&str, ConfigError> {
        self.setting(key)
            .ok_or_else(|| ConfigError::invalid_setting(self.name.as_str(), key, expected))
    }

    /// Resolves a credential reference (`env:` / `file:`), when the deployment has it.
    pub fn credential(&self, key: &str) -> Result<Option<SecretString>, ConfigError> {
        match self.config.credentials.get(key) {
            None => Ok(None),
            Some(reference) => resolve_credential(reference).map(Some).map_err(|e| {
                ConfigError::missing_credential(self.name.as_str(), key, e.to_string())
            }),
        }
    }

    /// A credential that must be present.
    pub fn required_credential(&self, key: &str) -> Result<SecretString, ConfigError> {
        self.credential(key)?.ok_or_else(|| {
            ConfigError::missing_credential(
                self.name.as_str(),
                key,
                format!("`credentials: {{ {key}: env:VARIABLE | file:PATH }}` in provision.yaml"),
            )
        })
    }
}

/// Builds one kind of adapter from a deployment entry. Each adapter crate exports one
/// (`provision_okta::factory()`); register your own for an internal system.
#[async_trait]
pub trait AdapterFactory: Send + Sync {
    /// The `adapter:` name it builds (`okta`, `google`, `aws`, `sandbox`, `wiki`).
    fn adapter_type(&self) -> &str;

    /// The system's descriptor from its settings alone: no credential is read, so
    /// policies validate in CI without secrets.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError>;

    /// The adapter, with its credentials resolved. Fails with a [`ConfigError`] naming
    /// the setting or credential; never echoes a secret.
    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError>;
}

/// A factory as the engine builder takes it: an `Arc` of your own factory type
/// (`Arc::new(WikiFactory)`) or an `Arc<dyn AdapterFactory>` (what the adapter
/// crates' `factory()` functions return), so both go in one list:
///
/// ```no_run
/// # use std::sync::Arc;
/// # use provision_core::adapter::{AdapterFactory, IntoAdapterFactory};
/// # fn demo(wiki: impl AdapterFactory + 'static, okta: Arc<dyn AdapterFactory>) {
/// let builder = provision_core::engine::Engine::builder()
///     .factories([Arc::new(wiki)])   // your own type, no cast
///     .factories([okta]);            // a crate's `factory()`
/// # }
/// ```
pub trait IntoAdapterFactory {
    /// The factory, shared.
    fn into_factory(self) -> Arc<dyn AdapterFactory>;
}

impl IntoAdapterFactory for Arc<dyn AdapterFactory> {
    fn into_factory(self) -> Arc<dyn AdapterFactory> {
        self
    }
}

impl<F: AdapterFactory + 'static> IntoAdapterFactory for Arc<F> {
    fn into_factory(self) -> Arc<dyn AdapterFactory> {
        self
    }
}

/// The factories a program knows, by adapter type.
#[derive(Clone, Default)]
pub struct FactoryRegistry {
    factories: BTreeMap<String, Arc<dyn AdapterFactory>>,
}

impl std::fmt::Debug for FactoryRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.factories.keys()).finish()
    }
}

impl FactoryRegistry {
    /// No factories.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a factory (a later one for the same adapter type replaces it).
    pub fn register(&mut self, factory: Arc<dyn AdapterFactory>) -> &mut Self {
        self.factories
            .insert(factory.adapter_type().to_owned(), factory);
        self
    }

    /// Builder-style [`Self::register`].
    pub fn with(mut self, factory: Arc<dyn AdapterFactory>) -> Self {
        self.register(factory);
        self
    }

    /// The adapter types known.
    pub fn known(&self) -> Vec<String> {
        self.factories.keys().cloned().collect()
    }

    /// The factory for a system's `adapter:`, or [`ConfigError::UnknownAdapter`]
    /// naming the known ones.
    pub fn factory_for(
        &self,
        spec: SystemSpec<'_>,
    ) -> Result<&Arc<dyn AdapterFactory>, ConfigError> {
        self.factories
            .get(&spec.config.adapter)
            .ok_or_else(|| ConfigError::UnknownAdapter {
                system: spec.name.as_str().to_owned(),
                adapter: spec.config.adapter.clone(),
                known: self.known(),
            })
    }

    /// The descriptor of one system, without credentials.
    pub fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        self.factory_for(spec)?.descriptor(spec)
    }

    /// The adapter of one system.
    pub async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        self.factory_for(spec)?.build(spec).await
    }
}
