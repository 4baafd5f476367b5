//! The [`AdapterFactory`] for `adapter: jira-tickets` in `provision.yaml`.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

use super::config::{ManualKind, TicketConfig, parse_accounts, parse_kinds};
use super::{ADAPTER_TYPE, TicketAdapter};

/// Builds ticket adapters from deployment entries (settings and credentials in
/// [`TicketConfig::from_spec`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketFactory;

#[async_trait]
impl AdapterFactory for TicketFactory {
    fn adapter_type(&self) -> &str {
        ADAPTER_TYPE
    }

    /// From the `kinds` and `accounts` settings alone (no credential needed).
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        let kinds = match spec.setting("kinds") {
            Some(v) => parse_kinds(spec.name.as_str(), v)?,
            None => vec![ManualKind {
                kind: "role".to_owned(),
                action: "grant_role".to_owned(),
            }],
        };
        Ok(super::ticket_descriptor_of_kinds(
            &kinds,
            parse_accounts(spec)?,
        ))
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = TicketConfig::from_spec(spec)?;
        let adapter = TicketAdapter::new(config)?.with_system_name(spec.name.as_str());
        Ok(Arc::new(adapter))
    }
}
