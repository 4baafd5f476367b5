//! # provision-salesforce
//!
//! The Salesforce adapter: users (created with their profile, deactivated or frozen,
//! never deleted), their sessions, permission sets, permission set groups, permission
//! set licences and public groups over the Salesforce REST API, behind
//! [`provision_core::adapter::Adapter`].
//!
//! ## Configuration from the environment
//!
//! ```text
//! SALESFORCE_LOGIN_URL=https://login.salesforce.com  # default; test.salesforce.com or My Domain
//! SALESFORCE_CLIENT_ID=3MVG9...                      # the connected app's consumer key
//!
//! # either the JWT bearer flow ...
//! SALESFORCE_USERNAME=integration@acme.com
//! SALESFORCE_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----..."  # or SALESFORCE_PRIVATE_KEY_FILE
//!
//! # ... or client credentials (SALESFORCE_LOGIN_URL must be the My Domain URL)
//! SALESFORCE_CLIENT_SECRET=...
//!
//! SALESFORCE_DEFAULT_PROFILE="Standard User"         # optional
//! SALESFORCE_FALLBACK_PROFILE="Minimum Access - Salesforce"  # optional
//! ```
//!
//! ```
//! use provision_salesforce::{SalesforceAdapter, SalesforceConfig};
//! let config = SalesforceConfig::builder("https://acme.my.salesforce.com")
//!     .client_credentials("3MVG9-consumer-key", "consumer-secret")
//!     .default_profile("Standard User")
//!     .build()
//!     .unwrap();
//! let adapter = SalesforceAdapter::new(config).unwrap();
//! ```
//!
//! From a deployment file: [`factory()`] (settings and credentials in
//! [`SalesforceConfig::from_spec`]).
//!
//! ## Authentication
//!
//! The OAuth 2.0 JWT bearer flow (an RS256 assertion, signed by the toolkit's
//! [`provision_http::auth::JwtSigner`], with `iss` = consumer key, `sub` = username,
//! `aud` = the login host, `exp` three minutes ahead) or client credentials, at
//! `{login_url}/services/oauth2/token`. The token reply names the org's
//! `instance_url`: every API call goes there (`{instance_url}/services/data/vXX.X/`),
//! never to the login host; an instance URL that is not https (loopback aside) is
//! refused. Salesforce's reply has no `expires_in`: a token is kept for an hour and a
//! 401 (`INVALID_SESSION_ID`) drops it and sends the request once more with a new
//! one. The toolkit's cache fetches one token for all concurrent callers.
//!
//! ## Behaviour (calls per change)
//!
//! * **Create** (1 write): `POST /sobjects/User` with `Username`, `Email`,
//!   `LastName`, `FirstName`, `Alias` (initial + family name, 8 characters),
//!   `ProfileId` and the locale keys (`TimeZoneSidKey`, `LocaleSidKey`,
//!   `EmailEncodingKey`, `LanguageLocaleKey`: HR attributes `time_zone`, `locale`,
//!   `language`, else the configured defaults). The profile is the kind
//!   `required_at_create`: the planner puts the person's profile in the create, and
//!   the configured `default_profile` is used only when no policy gives one.
//!   `DUPLICATE_USERNAME` is adopted when the username is this org's user with the
//!   same email (reactivated if deactivated); a username taken in another org (they
//!   are unique across all orgs) is a permanent error saying so.
//! * **Profile** (1 write): `PATCH /sobjects/User/{id}` `{ProfileId}`, one
//!   replacement (the kind is one per account). A profile is never removed: a revoke
//!   moves the user to `fallback_profile`, or is refused without one.
//! * **Permission sets, permission set groups, licences** (1 write each):
//!   `POST /sobjects/PermissionSetAssignment` (`PermissionSetId` or
//!   `PermissionSetGroupId`) or `POST /sobjects/PermissionSetLicenseAssign`;
//!   `DUPLICATE_VALUE` is already done. A revoke looks the assignment id up by SOQL,
//!   then `DELETE`s it; nothing found is already done. A permission set (or group)
//!   waits for the same person's licence grant (the kind's prerequisite).
//! * **Public groups** (1 write): `POST /sobjects/GroupMember`; revoke by SOQL
//!   lookup then `DELETE`.
//! * **Leavers** (1 write): `PATCH /sobjects/User/{id}` `{IsActive: false}` after one
//!   read of the state (so a second suspension is "already done"). Where Salesforce
//!   refuses it (a default workflow user, a default lead or case owner, a user named
//!   in a hierarchy field), the user is **frozen** instead
//!   (`PATCH /sobjects/UserLogin/{id}` `{IsFrozen: true}`, 2 writes in all) and the
//!   operation's note says so: sign-in is blocked, the licence stays in use.
//!   `leaver_action: freeze` always freezes. Users are never deleted.
//! * **Sessions**: the user's `AuthSession` ids by one SOQL query, deleted with one
//!   `DELETE /composite/sobjects?ids=…&allOrNone=false` per 200 (1 write for anyone
//!   with fewer than 201 sessions). Needs "Manage Users".
//! * **Reads**: SOQL batches followed by `nextRecordsUrl` (always a path on the
//!   instance; anything else is refused). Accounts: standard users, with one
//!   `UserLogin` query per batch for frozen users (`Suspended`); deactivated users
//!   read `Deprovisioned`. A resource's holders: one query by the resource's id. A
//!   person's grants: their assignments, public groups, then licences (last, so
//!   revoking in the order read never pulls a licence from under a permission set).
//!   Names are resolved to ids once per [`adapter::RESOURCE_ID_TTL`]. Every value put
//!   into SOQL is quoted and escaped; ids are checked to be ids.
//!
//! ## Limits
//!
//! Every reply's `Sforce-Limit-Info: api-usage=<used>/<limit>` becomes the
//! [`descriptor::BUDGET_DAILY`] budget's headroom. `REQUEST_LIMIT_EXCEEDED` (HTTP 403,
//! not 429) is rate limiting: `TotalRequests` pauses the daily budget for
//! [`client::DAILY_LIMIT_RETRY`]; `ConcurrentPerOrgLongTxn` (the cap of 25 requests of
//! 20 s or more in flight) pauses only [`descriptor::BUDGET_LONG_RUNNING`] for
//! [`client::LONG_RUNNING_RETRY`]. `UNABLE_TO_LOCK_ROW` is transient. The adapter never
//! sleeps and never retries.
//!
//! ## Errors
//!
//! Salesforce's error body is a JSON array of `{message, errorCode, fields}`; the
//! code, the messages and the fields are kept. A 404 without that body (a wrong
//! instance or API version) is a configuration error, never "already absent".
//!
//! ## Not supported
//!
//! Profile field updates (`UpdateAccount`), roles in the role hierarchy, permission
//! set licence revokes ordered after the revokes of the permission sets that need
//! them (the orderer orders grants only; see the crate's tests), SCIM, DPoP.

// `AdapterError` is the shared contract's error type (it carries the system's reply);
// boxing it only here would make this crate differ from the trait it implements.
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod auth;
pub mod client;
pub mod config;
pub mod descriptor;
pub mod factory;
pub mod model;

use std::sync::Arc;

pub use adapter::SalesforceAdapter;
pub use config::{ConfigError, LeaverAction, SalesforceAuth, SalesforceConfig, UserDefaults};

/// The factory for `adapter: salesforce` systems, to register with
/// [`provision_core::adapter::FactoryRegistry`]. Its descriptor needs no credential.
pub fn factory() -> Arc<dyn provision_core::adapter::AdapterFactory> {
    Arc::new(factory::SalesforceFactory)
}
