//! The Slack [`AdapterFactory`]: `adapter: slack` in `provision.yaml`.

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterFactory, ConfigError, SystemDescriptor, SystemSpec};

use crate::adapter::SlackAdapter;
use crate::config::{SlackConfig, no_token};
use crate::descriptor::{Tokens, slack_descriptor};

/// Builds Slack adapters from deployment entries (see [`SlackConfig::from_spec`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SlackFactory;

/// Which tokens a deployment entry references (`credentials.bot_token`,
/// `admin_token`, `scim_token`), without reading any of them.
pub fn configured_tokens(spec: SystemSpec<'_>) -> Tokens {
    let has = |k: &str| spec.config.credentials.contains_key(k);
    Tokens {
        bot: has("bot_token"),
        admin: has("admin_token"),
        scim: has("scim_token"),
    }
}

#[async_trait]
impl AdapterFactory for SlackFactory {
    fn adapter_type(&self) -> &str {
        "slack"
    }

    /// From which tokens are referenced alone: a policy granting a channel fails
    /// validation when no `bot_token` is configured, one needing accounts when no
    /// `scim_token` is. No credential is read. A deployment with no token at all is
    /// refused here, naming the three credentials.
    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        provision_http::client::check_url_settings(
            spec.name.as_str(),
            &spec.config.settings,
            &["api_url", "scim_url"],
        )?;
        let tokens = configured_tokens(spec);
        if tokens == Tokens::default() {
            return Err(no_token(spec.name.as_str()));
        }
        Ok(slack_descriptor(tokens))
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = SlackConfig::from_spec(spec)?;
        let adapter = SlackAdapter::new(config)?.with_system_name(spec.name.as_str());
        Ok(Arc::new(adapter))
    }
}
