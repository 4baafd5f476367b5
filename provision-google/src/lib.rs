//! # provision-google
//!
//! The Google Workspace adapter for `provision`, on the Admin SDK Directory API
//! (`admin/directory/v1`): user accounts, group memberships with a role, and
//! org-unit placement.
//!
//! ## Configuration
//!
//! Auth is a service account with **domain-wide delegation** impersonating a
//! Workspace admin. The adapter signs the JWT-bearer assertion itself (RS256, with
//! [`provision_http::auth::JwtBearerGrant`]; `iss` = the service account, `sub` = the
//! admin, `aud` = the token endpoint, one hour at most) and caches the access token
//! until four minutes before it expires; a token the API rejects (401) is dropped and
//! the request sent once more with a new one.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `GOOGLE_APPLICATION_CREDENTIALS` | path of the service-account key file, or |
//! | `GOOGLE_SERVICE_ACCOUNT_KEY` | the key file's JSON itself |
//! | `GOOGLE_ADMIN_SUBJECT` | the admin user to impersonate (required) |
//! | `GOOGLE_CUSTOMER_ID` | customer id; default `my_customer` (every domain of the tenant) |
//! | `GOOGLE_DOMAIN` | optional: list users of this domain only |
//!
//! In a deployment file:
//!
//! ```yaml
//! systems:
//!   google:
//!     adapter: google
//!     enforcement: additive
//!     delete_leavers: false          # true lets DeleteAccount call users.delete (the only switch)
//!     credentials:
//!       service_account_key: { env: GOOGLE_SERVICE_ACCOUNT_KEY }   # or { file: /etc/provision/google.json }
//!     settings:
//!       admin_subject: admin@example.com
//!       customer_id: my_customer
//!       default_org_unit: /          # where new users start and where a revoked org unit returns them
//! ```
//!
//! In code:
//!
//! ```no_run
//! use provision_google::{GoogleAdapter, GoogleConfig};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = GoogleConfig::builder()
//!     .service_account_key_file("/etc/provision/google.json")
//!     .admin_subject("admin@example.com")
//!     .build()?;
//! let adapter = GoogleAdapter::new(config)?;
//! # let _ = adapter; Ok(()) }
//! ```
//!
//! ## OAuth scopes
//!
//! Authorise exactly these for the service account's client id (Admin console →
//! Security → API controls → Domain-wide delegation):
//!
//! * `https://www.googleapis.com/auth/admin.directory.user` — users.insert/get/list/update/delete;
//! * `https://www.googleapis.com/auth/admin.directory.user.security` — users.signOut
//!   (not covered by the user scope);
//! * `https://www.googleapis.com/auth/admin.directory.group.member` — members.insert/get/list/patch/delete;
//! * `https://www.googleapis.com/auth/admin.directory.group.readonly` — groups.list (every
//!   group, and a user's groups: what lets a leaver be left with nothing).
//!
//! Evidence reads ([`evidence`]: 2-step verification enrolment) have their own
//! token with the read-only `https://www.googleapis.com/auth/admin.directory.user.readonly`;
//! authorise it too where evidence is collected.
//!
//! Sign-out has its own token (scope `admin.directory.user.security` alone), the rest
//! share one: Google refuses a token request whole when the delegation lacks any of
//! its scopes. A delegation without the security scope leaves every other operation
//! working, and sign-out reports `Unsupported`, naming the scope.
//!
//! From a deployment file, register [`factory()`]: its `descriptor()` reads no
//! credential, and `build()` resolves the key and checks every setting (URLs, the
//! admin's address, the customer id and domain shapes), naming the system and the
//! setting on error, never the key. Errors are `provision_core`'s [`ConfigError`].
//!
//! A wrong `customer_id` or `domain` answers `users.list` / `groups.list` with 400,
//! 403 or 404: that is
//! [`AdapterError::Configuration`](provision_core::adapter::AdapterError::Configuration),
//! never an empty tenant.
//!
//! ## Entitlements
//!
//! * `group` (policy action `add_to_group`, target the group's email): roles `member`
//!   (default), `manager`, `owner`. A role change is one grant with the new role.
//! * `org_unit` (policy action `place_in_org_unit`, target a path like
//!   `/Engineering`): a user sits in exactly one org unit; granting moves the user,
//!   revoking moves the user back to `default_org_unit` unless the user has already
//!   moved elsewhere (a department change grants the new unit and revokes the old).
//!
//! ## Password handling
//!
//! Google requires a password on `users.insert`, but users of an SSO-only tenant sign
//! in through the identity provider and never use it. The adapter sends a random
//! 40-character password drawn from an OS-seeded CSPRNG, held in a `SecretString`,
//! never stored, logged or returned, and sets `changePasswordAtNextLogin: false`:
//! forcing a change would send the user to a password-reset flow for a password
//! nobody knows (Google asks for the current one) wherever Google rather than the
//! IdP handles the sign-in (e.g. admins exempt from SSO), while the password itself
//! is unguessable and unused.
//!
//! ## Behaviour on Google's quirks
//!
//! * Rate limits arrive as **403** with reason `userRateLimitExceeded`,
//!   `rateLimitExceeded` or `quotaExceeded`, or as 429: all become
//!   [`AdapterError::RateLimited`](provision_core::adapter::AdapterError::RateLimited).
//! * 5xx and `backendError` are transient; so is "User creation is not complete" (a
//!   user created a moment ago is not usable everywhere yet).
//!   They carry no timing: the executor backs off exponentially.
//! * 409 `duplicate` ("Entity already exists." / "Member already exists.") on insert
//!   is "already done" (an existing member's role is corrected if it differs);
//!   404 on delete / member removal is "already done" — but a 404 about the
//!   `groupKey` (the group does not exist) is a configuration error naming the group.
//! * `users.get` also resolves **aliases**: a user read for a person by email counts
//!   only when its `primaryEmail` is that email (create, check, suspend, update,
//!   sign-out and delete alike), so another person's account is never adopted or
//!   changed; writes go to the resolved user id.
//! * A login must be an email (the primary email and every member key); a login
//!   without `@` is refused, naming the field.
//! * `users.list` always carries `customer` (or `domain`); pages use `pageToken` with
//!   the largest `maxResults` allowed (users 500, members 200).
//! * Suspension and profile changes use `users.update` (PUT), which Google documents
//!   with patch semantics and recommends over `users.patch`. A repeated field
//!   (`organizations`) is replaced whole, so a department or title change reads the
//!   user and writes back every other entry and field. A 409 on an update that took
//!   effect is confirmed by the check, which compares the attributes asked for.
//! * The adapter never sleeps and never retries: the executor does.

// `AdapterError` is the core's shared contract (144 bytes); every adapter returns it.
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod client;
pub mod config;
pub mod credential;
pub mod evidence;
pub mod factory;
pub mod model;

pub use adapter::GoogleAdapter;
pub use config::{ConfigError, GoogleConfig, GoogleConfigBuilder};
pub use credential::ServiceAccountKey;
pub use factory::{GoogleFactory, factory};
