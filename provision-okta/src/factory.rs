//! The Okta [`AdapterFactory`]: `adapter: okta` in `provision.yaml`.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

use crate::adapter::OktaAdapter;
use crate::config::{LeaverAction, OktaConfig};
use crate::descriptor::okta_descriptor;

/// Builds Okta adapters from deployment entries (see [`OktaConfig::from_spec`] for the
/// settings and credentials).
#[derive(Debug, Clone, Copy, Default)]
pub struct OktaFactory;

impl OktaFactory {
    fn bool_setting(spec: SystemSpec<'_>, key: &str, default: bool) -> Result<bool, ConfigError> {
        match spec.setting(key) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ConfigError::invalid_setting(
                spec.name.as_str(),
                key,
                format!("`true` or `false`, not `{other}`"),
            )),
        }
    }
}

#[async_trait]
impl AdapterFactory for OktaFactory {
    fn adapter_type(&self) -> &str {
        "okta"
    }

    /// From `leaver_action`, `manage_apps` and the `profile.<field>` mapping alone: no
    /// credential is read. The `org_url`, when set, is checked here too (plain http to
    /// another host is refused), so `provision validate` refuses what building would.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        if let Some(org) = spec.setting("org_url") {
            crate::config::parse_org_url(org)
                .map_err(|e| ConfigError::invalid_setting(spec.name.as_str(), "org_url", e))?;
        }
        let leaver_action = match spec.setting("leaver_action") {
            None | Some("suspend") => LeaverAction::Suspend,
            Some("deactivate") => LeaverAction::Deactivate,
            Some(other) => {
                return Err(ConfigError::invalid_setting(
                    spec.name.as_str(),
                    "leaver_action",
                    format!("`suspend` or `deactivate`, not `{other}`"),
                ));
            }
        };
        let manage_apps = Self::bool_setting(spec, "manage_apps", true)?;
        let profile_attributes = spec
            .config
            .settings
            .iter()
            .filter(|(k, _)| k.starts_with("profile."))
            .map(|(_, attribute)| attribute.as_str());
        Ok(okta_descriptor(
            leaver_action,
            manage_apps,
            profile_attributes,
        ))
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = OktaConfig::from_spec(spec)?;
        let adapter = OktaAdapter::new(config)?.with_system_name(spec.name.as_str());
        Ok(Arc::new(adapter))
    }
}
