//! The Jira [`AdapterFactory`]: `adapter: jira` in `provision.yaml`.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

use crate::adapter::JiraAdapter;
use crate::config::{DEFAULT_PROJECT_ROLES, JiraConfig, split_list};
use crate::descriptor::{DescriptorInputs, jira_descriptor};

/// Builds Jira adapters from deployment entries (see [`JiraConfig::from_spec`] for the
/// settings and credentials).
#[derive(Debug, Clone, Copy, Default)]
pub struct JiraFactory;

#[async_trait]
impl AdapterFactory for JiraFactory {
    fn adapter_type(&self) -> &str {
        "jira"
    }

    /// From the settings and which credentials are named (never their values): the
    /// org API key's presence decides whether accounts can be suspended.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        provision_http::client::check_url_settings(
            spec.name.as_str(),
            &spec.config.settings,
            &["site_url", "org_api_url"],
        )?;
        let roles = spec.setting("project_roles").map_or_else(
            || {
                DEFAULT_PROJECT_ROLES
                    .iter()
                    .map(|r| (*r).to_owned())
                    .collect()
            },
            split_list,
        );
        let org = spec.config.credentials.contains_key("org_api_key");
        let profile_sync = match spec.setting("profile_sync") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::invalid_setting(
                    spec.name.as_str(),
                    "profile_sync",
                    format!("`true` or `false`, not `{other}`"),
                ));
            }
        };
        Ok(jira_descriptor(&DescriptorInputs {
            org,
            profile_sync,
            projects: spec
                .setting("projects")
                .is_some_and(|p| !split_list(p).is_empty()),
            project_roles: &roles,
        }))
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = JiraConfig::from_spec(spec)?;
        let adapter = JiraAdapter::new(config)?.with_system_name(spec.name.as_str());
        Ok(Arc::new(adapter))
    }
}
