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
//! `okta.groups.manage` (membership), and, while the `app` kind is in use (the default;
//! `manage_apps: false` turns it off), `okta.apps.read` and `okta.apps.manage`. Tokens
//! come from the org authorization server (`/oauth2/v1/token`), are cached and renewed
//! a minute before expiry; a token the API rejects (401) is dropped and the request
//! sent once more with a new one. The HTTP plumbing (client, credentials, token cache,
//! `Link` pagination, rate-limit headers, error classes) is [`provision_http`]'s.
//! DPoP-bound tokens are not supported: a token request answered `invalid_dpop_proof`
//! (or `use_dpop_nonce`) is a [`provision_core::adapter::AdapterError::Configuration`]
//! naming the app setting to clear ("Require Demonstrating Proof of Possession (DPoP)
//! header in token requests").
//!
//! ## Behaviour
//!
//! * Create: `POST /api/v1/users?activate=<configured>`; a login that exists (400
//!   `E0000001`) is adopted when the email matches, otherwise a conflict. An adopted
//!   `SUSPENDED` user is unsuspended and a `DEPROVISIONED` one activated, since neither
//!   is a working account for a joiner.
//! * Suspend (a leaver): the status is read first, because Okta suspends only `ACTIVE`
//!   users. `ACTIVE` → `lifecycle/suspend` (or `deactivate`, by configuration); any
//!   other live status (`STAGED`, `PROVISIONED` with an open activation link,
//!   `LOCKED_OUT`, `RECOVERY`, `PASSWORD_EXPIRED`) → `lifecycle/deactivate`;
//!   `SUSPENDED`/`DEPROVISIONED` are already done. A lifecycle call refused with 400,
//!   403 or 404 reads the status again before failing (a deactivation of a user
//!   already `DEPROVISIONED` answers 404 `E0000007`: done).
//! * Reactivate: `unsuspend` from `SUSPENDED`, `activate` from `DEPROVISIONED` or
//!   `STAGED` (never `reactivate`). A user without a password then stays `PROVISIONED`
//!   until the person uses the activation link: [`ActivationDelivery`] says whether
//!   Okta emails the link (`sendEmail=true`, the default) or the operation is reported
//!   pending until the person has activated (`sendEmail=false`; the link in the reply
//!   is never read, logged or kept).
//! * Delete: `DELETE` twice, since the first only deactivates a user that is not
//!   `DEPROVISIONED`. The planner plans it only where the deployment says
//!   `delete_leavers`.
//! * Sessions: `DELETE /api/v1/users/{id}/sessions?oauthTokens=true`.
//! * Groups by name (resolved once and cached for [`adapter::GROUP_ID_TTL`]),
//!   `PUT`/`DELETE` membership; apps by configured name or id, assigned with an
//!   optional app-user profile. An app the user holds through a group (`scope: GROUP`)
//!   cannot be revoked per user: that is an error saying so. An app user whose
//!   provisioning to the target app failed (`syncState` `ERROR` or `OUT_OF_SYNC`) is
//!   not a held grant: reads leave it out (drift reports the app missing, and the
//!   finding reaches the SIEM stream like any other), and an assignment Okta answers
//!   in that state is a permanent failure carrying Okta's `status` and `syncState`.
//! * A person's grants ([`provision_core::adapter::Adapter::read_account_grants`]):
//!   their `OKTA_GROUP` memberships (`GET /api/v1/users/{id}/groups`, `Link` paged),
//!   then their own app assignments (`GET /api/v1/users/{id}/appLinks`, each app's
//!   assignment read for its scope). Resources: every `OKTA_GROUP`, every app
//!   ([`provision_core::adapter::Adapter::list_resources`]).
//! * Reads page by the `Link` header with the largest page sizes; the account read
//!   adds the `DEPROVISIONED` users the plain listing hides.
//! * Rate limits: each reply's `X-Rate-Limit-*` headers become a
//!   [`provision_core::adapter::RateLimitInfo`] in its endpoint family's budget
//!   ([`descriptor::RATE_BUDGETS`]: users, groups, apps, sessions), the minimum
//!   of a repeated header, the reset moved onto the local clock by the `Date` header.
//!   A 429 is [`provision_core::adapter::AdapterError::RateLimited`]; one from the
//!   concurrency limit (limit = remaining = 0) asks for a short retry
//!   ([`client::CONCURRENCY_RETRY`]), not a wait for the reset. The adapter never
//!   sleeps and never retries.
//! * Errors keep Okta's `errorCode`, `errorSummary`, causes, `errorId` and the
//!   `WWW-Authenticate` challenge. A 404 without Okta's own code is a wrong org URL
//!   ([`provision_core::adapter::AdapterError::Configuration`]), never "already absent".
//!
//! ## Evidence reads
//!
//! [`OktaAdapter`] is an [`provision_core::adapter::EvidenceSource`]: MFA factor
//! enrollment of every active user, the password and sign-on policies, and 30 days
//! of deprovisioning events from the System Log, read with the read-only scopes
//! [`evidence::EVIDENCE_SCOPES`] (see [`evidence`]).
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
pub mod evidence;
pub mod factory;
pub mod model;

use std::sync::Arc;

pub use adapter::OktaAdapter;
pub use config::{ActivationDelivery, ConfigError, LeaverAction, OktaAuth, OktaConfig};

/// The factory for `adapter: okta` systems, to register with
/// [`provision_core::adapter::FactoryRegistry`]. Its descriptor needs no credential.
pub fn factory() -> Arc<dyn provision_core::adapter::AdapterFactory> {
    Arc::new(factory::OktaFactory)
}
