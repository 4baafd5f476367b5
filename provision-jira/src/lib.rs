//! # provision-jira
//!
//! The Jira Cloud adapter: accounts by `accountId`, product access, groups by
//! `groupId` and project roles over the Jira REST API v3, and the account lifecycle
//! and profile over the Atlassian organization's user-management API, behind
//! [`provision_core::adapter::Adapter`].
//!
//! ## Two hosts, two credentials
//!
//! | host | credential | used for | rate budget |
//! | --- | --- | --- | --- |
//! | `https://<site>.atlassian.net/rest/api/3` | Basic `email:api_token` | users, products, groups, project roles | `site` |
//! | `https://api.atlassian.com/users/{id}/manage/…` | Bearer org API key (optional) | deactivate, reactivate, title and department | `org` |
//!
//! Without the org API key the descriptor says accounts cannot be suspended: a
//! leaver loses product access, groups and project roles instead (the planner revokes
//! everything [`Adapter::read_account_grants`](provision_core::adapter::Adapter::read_account_grants) reads).
//!
//! ## Configuration from the environment
//!
//! ```text
//! JIRA_URL=https://acme.atlassian.net     # required
//! JIRA_EMAIL=provisioning@acme.com        # required: the API token's account
//! JIRA_API_TOKEN=...                      # required
//! ATLASSIAN_ORG_API_KEY=...               # optional: deactivation and profile
//! JIRA_PROJECTS=ENG,SALES                 # optional: projects whose roles are read in full
//! ```
//!
//! ```
//! use provision_jira::{JiraAdapter, JiraConfig};
//! let config = JiraConfig::builder("https://acme.atlassian.net", "ops@acme.com", "token")
//!     .org_api_key("org-key")
//!     .projects(vec!["ENG".into()])
//!     .build()
//!     .unwrap();
//! let adapter = JiraAdapter::new(config).unwrap();
//! ```
//!
//! From a deployment file: [`factory()`] (settings and credentials in
//! [`JiraConfig::from_spec`]).
//!
//! ## Behaviour
//!
//! * **Accounts** are addressed only by `accountId`. Reads carry the correlation keys
//!   `account_id` and, when the person's privacy settings show it, `email`; an account
//!   with a hidden email has an empty login and is matched only through a
//!   correlation rule on `account_id`. An operation on a person known only by login
//!   searches `/user/search` for that exact visible email: several matches, or
//!   matches whose email is hidden, are a `Conflict` naming the reason (a finding),
//!   never a guess; no match at all means no active account (a revoke is then done).
//! * **Create** is `POST /user` with `products` (the person's `product` grants,
//!   carried by the create). An active account with that visible email is adopted
//!   without a write. Jira answers 201 also for an existing account: the reply is
//!   adopted only when its email is the profile's, or, hidden, when the org API
//!   confirms it. A 400 says plainly whether the person exists without access or the
//!   licences are exhausted.
//! * **Product access** (`product` kind, `jira-software`, `jira-servicedesk`, …) is
//!   given at creation, and later through the product's default group
//!   (`GET /applicationrole`, read once per run); revoking it removes the account
//!   from every group that gives the product. A person's groups that give a product
//!   read as the product, not as groups.
//! * **Groups** by `groupId` (names resolved once per [`adapter::GROUP_ID_TTL`]):
//!   `POST /group/user` (201), `DELETE /group/user` (200). "Already a member" and
//!   "not a member" are done whatever status Jira uses, once a read confirms; a
//!   missing group or project is a configuration error.
//! * **Project roles** ([`provision_core::adapter::RoleModel::Multiple`]): role names
//!   resolved to ids once per run (`GET /role`); `POST` and `DELETE` on
//!   `/project/{key}/role/{id}`, never the whole-list `PUT`.
//! * **Leavers**: with the org key, `lifecycle/disable`. It works only on accounts the
//!   organization manages: for one it does not (a partner, a contractor on their own
//!   domain) the suspend takes away every product access, group and project role the
//!   account holds instead, and says so in the operation's note (the account stays
//!   active in Atlassian; each later run's suspend finds nothing left). Reactivation
//!   `lifecycle/enable` (an unmanaged account's is a `Permanent` finding, never
//!   retried). Without the org key, revocations.
//! * **Mover**: title and department go to the Atlassian profile
//!   (`PATCH /users/{id}/manage/profile`) when `profile_sync` is on (needs the org key).
//! * **Rate limits**: `Retry-After` on 429 and 503, `X-RateLimit-*` with the ISO 8601
//!   reset, each host's replies in its own budget, and the `RateLimit-Reason` kept as
//!   the error's code. Errors keep Jira's `errorMessages` and `errors`.
//! * **Pages**: page beans stop on `isLast`; the bare array of `/users/search` advances
//!   `startAt` by `maxResults` and stops only on an empty page (its pages are filtered
//!   after they are cut, so a short page is not the end: JRACLOUD-74454); group members
//!   come 50 at a time.
//!
//! ## Not supported yet
//!
//! Session revocation (no API); project roles held through groups (only user actors
//! are read and written); roles in projects that are neither configured
//! (`projects`) nor named by a policy are not read; OAuth 2.0 (3LO) credentials.

// `AdapterError` is the shared contract's error type (it carries the system's reply).
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod client;
pub mod config;
pub mod descriptor;
pub mod factory;
pub mod model;
pub mod tickets;

use std::sync::Arc;

pub use adapter::JiraAdapter;
pub use config::{ConfigError, JiraConfig};

/// The factory for `adapter: jira` systems, to register with
/// [`provision_core::adapter::FactoryRegistry`]. Its descriptor needs no credential.
pub fn factory() -> Arc<dyn provision_core::adapter::AdapterFactory> {
    Arc::new(factory::JiraFactory)
}

/// The factory for `adapter: jira-tickets` systems: a system without an API fulfilled
/// through Jira issues (see [`tickets`]). Its descriptor needs no credential.
pub fn tickets_factory() -> Arc<dyn provision_core::adapter::AdapterFactory> {
    Arc::new(tickets::factory::TicketFactory)
}
