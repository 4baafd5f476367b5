//! The GitLab [`AdapterFactory`]: `adapter: gitlab` in `provision.yaml`.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};
use url::Url;

use crate::adapter::GitlabAdapter;
use crate::config::{Deployment, GitlabConfig};
use crate::descriptor::gitlab_descriptor;

/// Builds GitLab adapters from deployment entries (see [`GitlabConfig::from_spec`] for
/// the settings and the credential).
#[derive(Debug, Clone, Copy, Default)]
pub struct GitlabFactory;

#[async_trait]
impl AdapterFactory for GitlabFactory {
    fn adapter_type(&self) -> &str {
        "gitlab"
    }

    /// From `deployment` (or the host of `base_url`) alone: no credential is read.
    /// Without either, self-managed.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        provision_http::client::check_url_settings(
            spec.name.as_str(),
            &spec.config.settings,
            &["base_url"],
        )?;
        let deployment = match (spec.setting("deployment"), spec.setting("base_url")) {
            (Some(d), _) => Deployment::from_setting(d)
                .map_err(|e| ConfigError::invalid_setting(spec.name.as_str(), "deployment", e))?,
            (None, Some(url)) => Url::parse(url)
                .map(|u| Deployment::of_url(&u))
                .unwrap_or(Deployment::SelfManaged),
            (None, None) => Deployment::SelfManaged,
        };
        Ok(gitlab_descriptor(deployment))
    }

    /// Builds the adapter and checks the token against the deployment
    /// ([`GitlabAdapter::verify_token`]): an instance administrator's on
    /// self-managed, and the managed group visible everywhere.
    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let system = spec.name.as_str();
        let config = GitlabConfig::from_spec(spec)?;
        let adapter = GitlabAdapter::new(config)?.with_system_name(system);
        adapter
            .verify_token()
            .await
            .map_err(|e| ConfigError::Other {
                system: system.to_owned(),
                message: format!("the GitLab token was checked at build time and refused: {e}"),
            })?;
        Ok(Arc::new(adapter))
    }
}
