//! The Salesforce [`AdapterFactory`]: `adapter: salesforce` in `provision.yaml`.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

use crate::adapter::SalesforceAdapter;
use crate::config::{SalesforceConfig, parse_leaver_action};
use crate::descriptor::salesforce_descriptor;

/// Builds Salesforce adapters from deployment entries (see
/// [`SalesforceConfig::from_spec`] for the settings and credentials).
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesforceFactory;

#[async_trait]
impl AdapterFactory for SalesforceFactory {
    fn adapter_type(&self) -> &str {
        "salesforce"
    }

    /// The same descriptor whatever the settings: no credential is read. A
    /// `leaver_action` that is neither `deactivate` nor `freeze` is refused here
    /// already, so `validate` catches it.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        provision_http::client::check_url_settings(
            spec.name.as_str(),
            &spec.config.settings,
            &["login_url"],
        )?;
        if let Some(v) = spec.setting("leaver_action") {
            parse_leaver_action(v).map_err(|e| {
                ConfigError::invalid_setting(spec.name.as_str(), "leaver_action", e)
            })?;
        }
        Ok(salesforce_descriptor())
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = SalesforceConfig::from_spec(spec)?;
        let adapter = SalesforceAdapter::new(config)?.with_system_name(spec.name.as_str());
        Ok(Arc::new(adapter))
    }
}
