//! # provision-okta
//!
//! The Okta adapter: users and their lifecycle, sessions, group membership and app
//! assignment over the Okta Management API, behind
//! [`provision_core::adapter::Adapter`].
//!
//! ## Configuration from the environment
//!
//! ```text
//! OKTA_ORG_URL=https://acme.okta.com        # required
//!
//! # either an API token (SSWS) ...
//! OKTA_API_TOKEN=00a...
//!
//! # ... or an OAuth 2.0 service app (client credentials, private_key_jwt)
//! OKTA_CLIENT_ID=0oa...
//! OKTA_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----..."   # or OKTA_PRIVATE_KEY_FILE=/path/key.pem
//! OKTA_KEY_ID=...                                      # optional: the key's kid
//! OKTA_SCOPES="okta.users.read okta.users.manage ..."  # optional: overrides the defaults
//! ```
//!
//! ```no_run
//! use provision_okta::{OktaAdapter, OktaConfig};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let adapter = OktaAdapter::new(OktaConfig::from_env()?)?;
//! # Ok(()) }
//! ```
//!
//! Or with the builder (tests point `org_url` at a mock server):
//!
//! ```
//! use provision_okta::{LeaverAction, OktaAdapter, OktaConfig};
//! let config = OktaConfig::builder("https://acme.okta.com")
//!     .api_token("00a-token")
//!     .activate_on_create(false)
//!     .map_attribute("department", "department")
//!     .leaver_action(LeaverAction::Suspend)
//!     .app("github", "0oa1github")
//!     .build()
//!     .unwrap();
//! let adapter = OktaAdapter::new(config).unwrap();
//! ```
//!
//! From a deployment file: [`factory()`] (settings and credentials in
//! [`OktaConfig::from_spec`]).
//!
//! ## OAuth scopes
//!
//! The service app requests only what the adapter uses: `okta.users.read`,
//! `okta.users.manage` (create, update, lifecycle, sessions), `okta.groups.read`,
//! `okta.groups.manage` (membership), and, when apps are configured,
//! `okta.apps.read` and `okta.apps.manage`. Tokens come from the org authorization
//! server (`/oauth2/v1/token`), are cached and renewed a minute before expiry; a
//! token the API rejects (401) is dropped and the request sent once more with a new
//! one. The HTTP plumbing (client, credentials, token cache, `Link` pagination,
//! rate-limit headers, error classes) is [`provision_http`]'s.
//! DPoP-bound tokens are not supported: turn "Require DPoP" off for the app.
//!
//! ## Behaviour
//!
//! * Create: `POST /api/v1/users?activate=<configured>`; a login that exists (400
//!   `E0000001`) is adopted when the email matches, otherwise a conflict.
//! * Suspend: `lifecycle/suspend` (or `lifecycle/deactivate`, by configuration);
//!   already there is a success. Reactivate: `unsuspend` from `SUSPENDED`,
//!   `activate` from `DEPROVISIONED` (never `reactivate`).
//! * Delete (only when enabled): `DELETE` twice, since the first only deactivates
//!   a user that is not `DEPROVISIONED`.
//! * Sessions: `DELETE /api/v1/users/{id}/sessions?oauthTokens=true`.
//! * Groups by name (resolved once and cached for [`adapter::GROUP_ID_TTL`]),
//!   `PUT`/`DELETE` membership; apps by
//!   configured name or id, assigned with an optional app-user profile.
//! * Reads page by the `Link` header with the largest page sizes; the account read
//!   adds the `DEPROVISIONED` users the plain listing hides.
//! * Rate-limit headers on every response become a
//!   [`provision_core::adapter::RateLimitInfo`]; a 429 is
//!   [`provision_core::adapter::AdapterError::RateLimited`]. The adapter never sleeps
//!   and never retries.
//!
//! ## Not supported yet
//!
//! DPoP; admin roles; `APP_GROUP` memberships (refused); app lookup by label (apps
//! are configured by id); waiting for asynchronous activation
//! (`transitioningToStatus`).

// `AdapterError` is the shared contract's error type (it carries the system's reply);
// boxing it only here would make this crate differ from the trait it implements.
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod client;
pub mod config;
pub mod descriptor;
pub mod error;
pub mod factory;
pub mod model;

use std::sync::Arc;

pub use adapter::OktaAdapter;
pub use config::{ActivationDelivery, LeaverAction, OktaAuth, OktaConfig};
pub use error::ConfigError;

/// The factory for `adapter: okta` systems, to register with
/// [`provision_core::adapter::FactoryRegistry`]. Its descriptor needs no credential.
pub fn factory() -> Arc<dyn provision_core::adapter::AdapterFactory> {
    Arc::new(factory::OktaFactory)
}
