//! The sandbox as an adapter factory, so `adapter: sandbox` works from
//! `provision.yaml`:
//!
//! ```yaml
//! systems:
//!   okta:
//!     adapter: sandbox
//!     settings:
//!       preset: okta          # okta | google | aws | gitlab | slack | jira | salesforce | scim
//!   okta-contractors:
//!     adapter: sandbox
//!     settings: {preset: okta, state_file: /tmp/okta-contractors.json}
//! ```
//!
//! Without `preset` a system named like a preset (`okta`) is that preset. Other
//! settings (a real system's `org_url`, ...) are ignored, so a deployment can switch a
//! system to the sandbox by changing `adapter:` alone. No credential is read.
//!
//! [`SandboxFactory::standing_in_for`] goes one step further: a factory for the real
//! adapter type (`okta`) that builds the sandbox preset instead, so an unchanged
//! production `provision.yaml` runs against sandboxes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};
use provision_core::model::SystemName;

use crate::presets::{self, Preset};
use crate::{SandboxConfig, SandboxSystem};

/// The adapter type of [`factory`]: `adapter: sandbox`.
pub const ADAPTER_TYPE: &str = "sandbox";

/// The factory for `adapter: sandbox`, with default sandbox behaviour (no latency, no
/// rate limit, no faults).
pub fn factory() -> Arc<dyn AdapterFactory> {
    Arc::new(SandboxFactory::new())
}

/// Builds sandbox systems from deployment entries, and keeps each one it built so a
/// test or demo can seed it, sign someone in or change it by hand
/// ([`SandboxFactory::system`]).
#[derive(Debug)]
pub struct SandboxFactory {
    adapter_type: String,
    config: SandboxConfig,
    rate_limit_speedup: Option<u32>,
    built: Mutex<BTreeMap<SystemName, Arc<SandboxSystem>>>,
}

impl Default for SandboxFactory {
    fn default() -> Self {
        Self::new()
    }
}

impl SandboxFactory {
    /// The factory for `adapter: sandbox`.
    pub fn new() -> Self {
        Self {
            adapter_type: ADAPTER_TYPE.to_owned(),
            config: SandboxConfig::default(),
            rate_limit_speedup: None,
            built: Mutex::new(BTreeMap::new()),
        }
    }

    /// A factory for the real adapter type `adapter_type` (`okta`, `google`, ...) that
    /// builds that type's sandbox preset instead: the same `provision.yaml` runs
    /// against sandboxes.
    pub fn standing_in_for(adapter_type: impl Into<String>) -> Self {
        Self {
            adapter_type: adapter_type.into(),
            ..Self::new()
        }
    }

    /// How the systems it builds behave (latency, faults, page size, ...).
    pub fn with_config(mut self, config: SandboxConfig) -> Self {
        self.config = config;
        self
    }

    /// Gives each system its preset's published rate limit, with time running
    /// `speedup` times faster ([`Preset::rate_limit`]); without it, the
    /// [`SandboxConfig`]'s limit applies.
    pub fn with_rate_limit_speedup(mut self, speedup: u32) -> Self {
        self.rate_limit_speedup = Some(speedup);
        self
    }

    /// The sandbox built for the system `name`, once the engine has built it.
    pub fn system(&self, name: &str) -> Option<Arc<SandboxSystem>> {
        self.built().get(&SystemName::new(name)).cloned()
    }

    /// Every sandbox built so far, by system name.
    pub fn systems(&self) -> BTreeMap<SystemName, Arc<SandboxSystem>> {
        self.built().clone()
    }

    fn built(&self) -> MutexGuard<'_, BTreeMap<SystemName, Arc<SandboxSystem>>> {
        // A map of handles: a panic elsewhere cannot leave it half-written.
        self.built
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The preset a system uses: `settings.preset`, else the adapter type this factory
    /// stands in for, else the system's name.
    pub fn preset(&self, spec: SystemSpec<'_>) -> Result<Preset, ConfigError> {
        let (wanted, setting) = match spec.setting("preset") {
            Some(p) => (p.to_owned(), true),
            None if self.adapter_type != ADAPTER_TYPE => (self.adapter_type.clone(), false),
            None => (spec.name.as_str().to_owned(), false),
        };
        presets::by_name(&wanted).ok_or_else(|| {
            let known = presets::names().join(", ");
            let expected = if setting {
                format!("unknown preset `{wanted}`; expected one of: {known}")
            } else {
                format!("no preset named `{wanted}`; write `preset:` with one of: {known}")
            };
            ConfigError::invalid_setting(spec.name.as_str(), "preset", expected)
        })
    }

    /// The sandbox for a system, registered so [`SandboxFactory::system`] finds it.
    /// (What [`AdapterFactory::build`] returns; a wrapping factory calls this to keep
    /// the concrete sandbox.)
    pub fn build_sandbox(&self, spec: SystemSpec<'_>) -> Result<Arc<SandboxSystem>, ConfigError> {
        let preset = self.preset(spec)?;
        let mut config = self.config.clone();
        if let Some(speedup) = self.rate_limit_speedup {
            config.rate_limit = Some(preset.rate_limit(speedup));
        }
        let mut system = preset.sandbox(spec.name.as_str(), config);
        if let Some(path) = spec.setting("state_file") {
            system = system.with_state_file(path).map_err(|e| {
                ConfigError::invalid_setting(
                    spec.name.as_str(),
                    "state_file",
                    format!("a sandbox state file that can be opened: {e}"),
                )
            })?;
        }
        let system = Arc::new(system);
        self.built().insert(spec.name.clone(), Arc::clone(&system));
        Ok(system)
    }
}

#[async_trait]
impl AdapterFactory for SandboxFactory {
    fn adapter_type(&self) -> &str {
        &self.adapter_type
    }

    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        Ok(self.preset(spec)?.descriptor)
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        Ok(self.build_sandbox(spec)? as Arc<dyn Adapter>)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_core::config::SystemConfig;

    fn spec_of<'a>(name: &'a SystemName, config: &'a SystemConfig) -> SystemSpec<'a> {
        SystemSpec { name, config }
    }

    #[tokio::test]
    async fn a_system_named_like_a_preset_needs_no_preset_setting() {
        let name = SystemName::new("salesforce");
        let config = SystemConfig::new(ADAPTER_TYPE);
        let factory = SandboxFactory::new();
        let descriptor = factory.descriptor(spec_of(&name, &config)).unwrap();
        assert_eq!(descriptor, presets::salesforce().descriptor);
        let adapter = factory.build(spec_of(&name, &config)).await.unwrap();
        assert_eq!(adapter.descriptor(), &descriptor);
        assert!(factory.system("salesforce").is_some());
        assert!(factory.system("okta").is_none());
    }

    #[test]
    fn a_system_with_another_name_must_say_its_preset() {
        let name = SystemName::new("okta-contractors");
        let mut config = SystemConfig::new(ADAPTER_TYPE);
        let err = SandboxFactory::new()
            .descriptor(spec_of(&name, &config))
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "system okta-contractors: setting `preset`: no preset named `okta-contractors`"
            ),
            "{err}"
        );
        config.settings.insert("preset".into(), "okta".into());
        let descriptor = SandboxFactory::new()
            .descriptor(spec_of(&name, &config))
            .unwrap();
        assert_eq!(descriptor, presets::okta().descriptor);
    }

    #[test]
    fn a_stand_in_builds_the_preset_of_the_adapter_type_it_replaces() {
        let name = SystemName::new("identity-center");
        let config = SystemConfig::new("aws");
        let stand_in = SandboxFactory::standing_in_for("aws");
        assert_eq!(stand_in.adapter_type(), "aws");
        assert_eq!(
            stand_in.descriptor(spec_of(&name, &config)).unwrap(),
            presets::aws().descriptor
        );
    }
}
