//! The [`AdapterFactory`] for `adapter: google` in `provision.yaml`.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

use crate::adapter::{GoogleAdapter, descriptor};
use crate::config::GoogleConfig;

/// The adapter type this crate builds.
pub const ADAPTER_TYPE: &str = "google";

/// Builds [`GoogleAdapter`]s from deployment entries.
#[derive(Debug, Clone, Copy, Default)]
pub struct GoogleFactory;

/// The factory to register: `FactoryRegistry::new().with(provision_google::factory())`.
pub fn factory() -> Arc<dyn AdapterFactory> {
    Arc::new(GoogleFactory)
}

#[async_trait]
impl AdapterFactory for GoogleFactory {
    fn adapter_type(&self) -> &str {
        ADAPTER_TYPE
    }

    /// The same for every Workspace tenant; the settings that need no credential are
    /// checked ([`crate::config::check_settings`]), so `provision validate` catches them.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        crate::config::check_settings(spec.name.as_str(), &spec.config.settings)?;
        Ok(descriptor())
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = GoogleConfig::from_spec(spec)?;
        Ok(Arc::new(GoogleAdapter::new(config)?))
    }
}
