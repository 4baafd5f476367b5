//! # provision-slack
//!
//! The Slack adapter: channel membership and user groups over the Web API, accounts
//! over SCIM 2.0 and the Enterprise `admin.*` methods, behind
//! [`provision_core::adapter::Adapter`].
//!
//! ## Tokens: each optional, each a capability
//!
//! ```text
//! SLACK_BOT_TOKEN=xoxb-...    # channels and user groups
//!                             #   scopes: channels:read groups:read channels:write groups:write
//!                             #           channels:join (the app joins public channels it manages)
//!                             #           users:read users:read.email usergroups:read usergroups:write
//! SLACK_ADMIN_TOKEN=xoxp-...  # optional, Enterprise org admin: admin.conversations.invite,
//!                             #   admin.users.session.reset, admin.users.deactivate
//!                             #   scopes: admin.conversations:write admin.users:write
//! SLACK_SCIM_TOKEN=xoxp-...   # optional, the `admin` scope (Business+ / Enterprise): accounts
//! ```
//!
//! The descriptor ([`descriptor::slack_descriptor`]) declares only what the
//! configured tokens allow, so a policy that needs a missing one fails when it is
//! loaded, naming the token: without a bot token `invite_to_channel` /
//! `add_to_usergroup` are declared unavailable, with the token and scopes they need; without a SCIM token Slack has no accounts of its own for the planner
//! (and a leaver's channels and groups are revoked one by one); without an admin
//! token sessions cannot be ended. [`descriptor::token_needed`] names the token and
//! scopes each action needs.
//!
//! ```
//! use provision_slack::{SlackAdapter, SlackConfig};
//! use provision_core::adapter::Adapter;
//! let config = SlackConfig::builder()
//!     .bot_token("xoxb-token")
//!     .channel("#engineering-general", "C0123456")
//!     .build()
//!     .unwrap();
//! let adapter = SlackAdapter::new(config).unwrap();
//! assert!(adapter.descriptor().kind_for_action("invite_to_channel").is_some());
//! assert!(!adapter.descriptor().can_revoke_sessions);
//! ```
//!
//! From a deployment file: [`factory()`] (settings and credentials in
//! [`SlackConfig::from_spec`]).
//!
//! ## Behaviour
//!
//! * **Channels** (`channel`, targets `#name` or an id). Joins are
//!   `conversations.invite`; when Slack answers `not_in_channel` (the *app* is not in
//!   the channel) the app joins a public channel (`conversations.join`) and invites
//!   again; for a private one, with an admin token, `admin.conversations.invite`, and
//!   that channel's later joins go there directly; without one it is a
//!   [`Configuration`](provision_core::adapter::AdapterError::Configuration) error
//!   naming the channel. Leaves are `conversations.kick`, whose `not_in_channel` may
//!   be about the app too (slackapi/bolt-js#474): it is confirmed with
//!   `conversations.info` (`is_member`) before it counts as done, and an app outside a
//!   public channel joins it and kicks again. `already_in_channel` is already done;
//!   `is_archived`, `cant_kick_from_general` and `restricted_action` are permanent,
//!   with Slack's code kept (`restricted_action` names the workspace setting to
//!   change). The joiners of one channel in one batch
//!   ([`Adapter::execute_batch`](provision_core::adapter::Adapter::execute_batch)) go
//!   in one invite of up to 1,000 users, and each person is settled from the answer
//!   (`errors` per user, read whether `ok` is true or false; `failed_for_some_users`).
//! * **One channel, many spellings**: a policy may name a channel `#eng`, `eng` or by
//!   its id, and a user group `@oncall`, `oncall` or by id. Reads spell channels
//!   `#name` and groups by handle (for display); the adapter's
//!   [`resource_id`](provision_core::adapter::Adapter::resource_id) gives the planner
//!   the Slack id behind each spelling, so what is read matches what the policy wrote,
//!   and a channel renamed in Slack is still the channel its id names.
//! * **User groups** (`usergroup`, targets a handle or an id).
//!   `usergroups.users.update` replaces the whole list: read, change, read again,
//!   write only when both reads agree (a member added by hand meanwhile is kept), as
//!   one write for every change queued for that group.
//! * **Accounts** (SCIM): create `POST /Users` (a 409 is adopted only when the
//!   existing user has the same email; a deactivated one is reactivated; a user name
//!   taken by someone else, as `j.smith@acme.com` holds `j.smith` when
//!   `j.smith@acme.co.uk` joins, is tried again as `j.smith2`, `j.smith3`, …). People
//!   are found by email only, never by a user-name match; deactivate
//!   `DELETE /Users/{id}` (it deactivates) or `admin.users.deactivate`; reactivate
//!   `PATCH active: true`. Slack accounts are never deleted.
//! * **Leavers**: `admin.users.session.reset` (Enterprise) and deactivation. Without
//!   SCIM or admin tokens the adapter cannot deactivate the account or end its
//!   sessions: the descriptor says so (`has_accounts`, `can_suspend`,
//!   `can_revoke_sessions` false), and the planner removes the leaver from every
//!   managed channel and user group instead.
//! * **Errors** arrive as HTTP 200 with `ok:false`: classified by code *per method*
//!   ([`client::classify_code`]), Slack's code kept. A 429's `Retry-After` is the exact
//!   wait, in the method's own budget.
//! * **Rate budgets**: one per Web API method at its tier's documented floor
//!   ([`descriptor::METHODS`]); for SCIM the per-endpoint budgets where they are
//!   stricter (user writes 180/min, burst 20; one user's read 300/min) and the
//!   org-wide read (1,000/min) and write (600/min, burst 180) budgets
//!   ([`client::scim_budget`]). Every SCIM answer names its budget, so the executor
//!   paces each from the first answer on.
//! * **Enterprise Grid**: an org-wide app's token needs the workspace on the listing
//!   methods ([`client::TEAM_SCOPED_METHODS`]): `settings.team_id` (`T…`) is sent with
//!   them; without it Slack's `missing_argument` is a configuration error naming the
//!   setting.
//! * **Pagination**: Web API `cursor` until `next_cursor` is empty (a short page is
//!   not the end); SCIM `startIndex` is 1-based.
//!
//! ## Not supported yet
//!
//! Profile updates; `admin.users.invite`/`assign` (workspace assignment on
//! Enterprise Grid); guests; `admin.users.session.resetBulk` (asynchronous); deleting
//! accounts (Slack has none). Without Enterprise: no session reset and, without a
//! SCIM token, no deactivation.

// `AdapterError` is the shared contract's error type (it carries the system's reply);
// boxing it only here would make this crate differ from the trait it implements.
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod client;
pub mod config;
pub mod descriptor;
pub mod factory;
pub mod model;

use std::sync::Arc;

pub use adapter::SlackAdapter;
pub use config::{ConfigError, SlackConfig};

/// The factory for `adapter: slack` systems, to register with
/// [`provision_core::adapter::FactoryRegistry`]. Its descriptor needs no credential.
pub fn factory() -> Arc<dyn provision_core::adapter::AdapterFactory> {
    Arc::new(factory::SlackFactory)
}
