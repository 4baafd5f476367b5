//! The SCIM [`AdapterFactory`]: `adapter: scim` in `provision.yaml`, under any system
//! name — ten SCIM applications are ten entries, each with its own settings.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

use crate::adapter::ScimAdapter;
use crate::config::ScimConfig;
use crate::descriptor::scim_descriptor;
use crate::discovery::Capabilities;

/// Builds SCIM adapters from deployment entries (see [`ScimConfig::from_spec`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScimFactory;

#[async_trait]
impl AdapterFactory for ScimFactory {
    fn adapter_type(&self) -> &str {
        crate::descriptor::ADAPTER_TYPE
    }

    /// From the settings alone (no credential is read, no request sent): what the
    /// settings say the application can do. The built adapter's descriptor follows
    /// discovery instead, where the application says otherwise.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        let config = ScimConfig::descriptor_config(spec)?;
        let caps = Capabilities::from_settings(&config.fallback, "settings only");
        Ok(scim_descriptor(&config, &caps))
    }

    /// Reads the credentials, then the application's discovery endpoints (unless
    /// `discovery: false`); what they do not say comes from the settings, and the
    /// adapter's [`ScimAdapter::capabilities`] notes say which.
    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = ScimConfig::from_spec(spec)?;
        Ok(Arc::new(ScimAdapter::connect(config).await?))
    }
}
