//! The GitHub [`AdapterFactory`]: `adapter: github` in `provision.yaml`.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

use crate::adapter::GithubAdapter;
use crate::config::{GithubConfig, parse_custom_roles};
use crate::descriptor::github_descriptor;

/// Builds GitHub adapters from deployment entries (see [`GithubConfig::from_spec`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct GithubFactory;

#[async_trait]
impl AdapterFactory for GithubFactory {
    fn adapter_type(&self) -> &str {
        "github"
    }

    /// From the settings alone (no credential): EMU when `enterprise` is set,
    /// deletion only with `delete_leavers`, custom repository roles from
    /// `custom_repo_roles`.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        provision_http::client::check_url_settings(
            spec.name.as_str(),
            &spec.config.settings,
            &["api_url", "scim_url"],
        )?;
        let custom = match spec.setting("custom_repo_roles") {
            Some(v) => parse_custom_roles(v).map_err(|e| {
                ConfigError::invalid_setting(spec.name.as_str(), "custom_repo_roles", e)
            })?,
            None => Vec::new(),
        };
        Ok(github_descriptor(
            spec.setting("enterprise").is_some(),
            spec.config.delete_leavers,
            &custom,
        ))
    }

    /// Builds the adapter and checks the credential against the organization
    /// ([`GithubAdapter::verify_token`]).
    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let system = spec.name.as_str();
        let config = GithubConfig::from_spec(spec)?;
        let adapter = GithubAdapter::new(config)?.with_system_name(system);
        adapter
            .verify_token()
            .await
            .map_err(|e| ConfigError::Other {
                system: system.to_owned(),
                message: format!(
                    "the GitHub credential was checked at build time and refused: {e}"
                ),
            })?;
        Ok(Arc::new(adapter))
    }
}
