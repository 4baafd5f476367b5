//! The [`AdapterFactory`] for `adapter: aws` in `provision.yaml`.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

use crate::adapter::AwsAdapter;
use crate::config::AwsConfig;

/// The adapter type this crate builds.
pub const ADAPTER_TYPE: &str = "aws";

/// Builds [`AwsAdapter`]s from deployment entries.
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsFactory;

/// The factory to register: `FactoryRegistry::new().with(provision_aws::factory())`.
pub fn factory() -> Arc<dyn AdapterFactory> {
    Arc::new(AwsFactory)
}

#[async_trait]
impl AdapterFactory for AwsFactory {
    fn adapter_type(&self) -> &str {
        ADAPTER_TYPE
    }

    /// The descriptor is the same for every Identity Center instance; no credential
    /// is read. The settings that need no credential and no environment (endpoint URLs,
    /// `instance_arn`, `accounts.<name>`, `recheck_after_seconds`) are checked here, so
    /// `provision validate` refuses what building would.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        crate::config::check_settings(spec.name.as_str(), &spec.config.settings)?;
        Ok(AwsAdapter::system_descriptor())
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = AwsConfig::from_spec(spec)?;
        Ok(Arc::new(AwsAdapter::new(config)?))
    }
}
