//! # provision-scim
//!
//! One generic SCIM 2.0 adapter (RFC 7643 schema, RFC 7644 protocol) for every
//! application that exposes a SCIM service provider, behind
//! [`provision_core::adapter::Adapter`]. Each application is its own system in
//! `provision.yaml` (`adapter: scim` under any name), with its own base URL,
//! credential and dialect:
//!
//! ```yaml
//! expenses:
//!   adapter: scim
//!   credentials: {token: {env: EXPENSES_SCIM_TOKEN}}
//!   settings: {base_url: "https://expenses.example.com/scim/v2/", dialect: azure}
//! wiki:
//!   adapter: scim
//!   credentials: {client_secret: {env: WIKI_CLIENT_SECRET}}
//!   settings:
//!     base_url: https://wiki.example.com/scim/v2/
//!     client_id: provision
//!     token_url: https://wiki.example.com/oauth/token
//!     group_writes: put
//! ```
//!
//! Every setting is in [`ScimConfig::from_spec`].
//!
//! ```
//! use provision_core::adapter::Adapter;
//! use provision_scim::{ScimAdapter, ScimConfig};
//! let config = ScimConfig::builder()
//!     .base_url("https://app.example.com/scim/v2/")
//!     .bearer("token")
//!     .build()
//!     .unwrap();
//! // Without discovery (`ScimAdapter::connect` reads it): the settings' defaults.
//! let adapter = ScimAdapter::new(config).unwrap();
//! assert!(adapter.descriptor().kind_for_action("add_to_group").is_some());
//! assert!(adapter.descriptor().can_suspend && !adapter.descriptor().can_delete);
//! ```
//!
//! ## Behaviour
//!
//! * **Discovery first** ([`discovery`]): `ServiceProviderConfig` decides PATCH or
//!   PUT for groups, filters or a scan to find users, `If-Match` on PUTs, and the
//!   page size (`filter.maxResults`); `ResourceTypes` whether the enterprise extension
//!   and groups exist; `Schemas` which profile attributes are sent. What a discovery
//!   endpoint does not say (missing, 404, 401, unreadable) comes from the settings, with
//!   a warning and a line in [`ScimAdapter::capabilities`]`.notes`. An application
//!   that announces PATCH or filters and then answers 501 (or 405, or
//!   `invalidFilter`) to them is taken at its word from then on: groups are written
//!   by PUT, users found by reading the list.
//! * **Users**: create `POST /Users` with the HR id as `externalId`; a 409
//!   (`uniqueness`; its `status` is the string `"409"`) adopts the user of that
//!   `userName` — reactivated when it was deactivated — unless it carries another
//!   person's `externalId`. Found by `userName eq "…"` (the value escaped as a JSON
//!   string, so it can never close the literal), compared case-insensitively.
//!   Deactivated and reactivated by `active` (one read, then one PATCH only when the
//!   state differs); deleted (`DELETE /Users/{id}`) only with `delete_leavers`. The
//!   enterprise extension's `department`, `manager`, `employeeNumber` (and
//!   `costCenter`, `organization`, `division`) are profile fields: a mover's changes go
//!   out in one PATCH. A manager is written as their SCIM id, found by the HR id the
//!   adapter put in their `externalId`, and read back as that HR id.
//! * **Groups** (`group`, by `displayName`; `group.<name>: <id>` settings for others):
//!   members read with one `GET /Groups/{id}`; membership written by PATCH in the
//!   application's [`dialect`] (RFC/Okta: a filter in the remove path; Azure: a value
//!   array, capitalised ops), or, for PUT-only applications, as the contract's
//!   [whole-list](provision_core::adapter::ResourceKindDescriptor::whole_list_membership)
//!   kind: one read and one PUT per batch, `If-Match` where ETags are offered, again
//!   on 412.
//! * **Errors and paging**: `scimType` and `detail` kept as the system's code and
//!   message; a 404 that is not a SCIM error is a wrong `base_url`
//!   (`Configuration`), never "absent"; 429 with `Retry-After` is the exact wait;
//!   `startIndex` is 1-based, the list key is `Resources`; without `totalResults` the
//!   read goes on to an empty page; `application/json` replies are read like
//!   `application/scim+json` ones.
//! * **Auth**: bearer, basic, or OAuth client credentials with a client secret
//!   (token cached, renewed before expiry, dropped on a 401); every credential a
//!   `SecretString`, never in a log, an error or `Debug`.
//!
//! ## The `scim_v2` crate
//!
//! Used for what the adapter *writes*: the create body is `scim_v2`'s `User` with its
//! `EnterpriseUser` extension, the schema URNs are its constants, and the tests check
//! every PATCH body parses as its `PatchOp` and every user filter under its RFC 7644
//! filter grammar. Not used for what the adapter *reads*: its `ListResponse` requires
//! `totalResults`, `itemsPerPage` and `startIndex`, its resources require `schemas`,
//! and its `ServiceProviderConfig` requires every member — real applications leave
//! these out, and the issue asks the adapter to read them anyway. [`model`] has the
//! lenient read types.
//!
//! ## Not supported
//!
//! Bulk (announced capabilities are recorded; each change is its own request);
//! sessions (not in SCIM); nested groups as grants (a group in a group is kept as it
//! is, never counted as a person).

// `AdapterError` is the shared contract's error type (it carries the system's reply);
// boxing it only here would make this crate differ from the trait it implements.
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod client;
pub mod config;
pub mod descriptor;
pub mod dialect;
pub mod discovery;
pub mod factory;
pub mod model;

use std::sync::Arc;

pub use adapter::ScimAdapter;
pub use config::{ConfigError, ScimConfig};

/// The factory for `adapter: scim` systems, to register with
/// [`provision_core::adapter::FactoryRegistry`]. Its descriptor needs no credential.
pub fn factory() -> Arc<dyn provision_core::adapter::AdapterFactory> {
    Arc::new(factory::ScimFactory)
}
