//! # provision-github
//!
//! The GitHub adapter: organization membership (an invitation on github.com), teams,
//! repository permissions as ordered roles, and for Enterprise Managed Users the
//! account lifecycle over SCIM, over the GitHub REST API, behind
//! [`provision_core::adapter::Adapter`].
//!
//! ## Configuration from the environment
//!
//! ```text
//! GITHUB_ORG=acme                          # the managed organization
//! GITHUB_TOKEN=github_pat_...              # a PAT (admin:org, repo) — or a GitHub App:
//! GITHUB_APP_ID=123456                     #   the app id (or client id)
//! GITHUB_APP_INSTALLATION_ID=7890123       #   its installation on the organization
//! GITHUB_APP_PRIVATE_KEY_FILE=app.pem      #   or GITHUB_APP_PRIVATE_KEY with the PEM
//! GITHUB_ENTERPRISE=acme-emu               # optional: an EMU enterprise (SCIM)
//! GITHUB_EMU_SHORTCODE=acme                #   its short code (handles are `name_acme`)
//! GITHUB_SCIM_TOKEN=ghp_...                #   the setup user's `scim:enterprise` token
//! ```
//!
//! ```
//! use provision_github::{GithubAdapter, GithubConfig};
//! let config = GithubConfig::builder("acme").token("github_pat_x").build().unwrap();
//! let adapter = GithubAdapter::new(config).unwrap();
//! ```
//!
//! From a deployment file: [`factory()`] (settings in [`GithubConfig::from_spec`]).
//!
//! ## Behaviour
//!
//! * **Auth**: a PAT as `Bearer`, or a GitHub App ([`app`]): an RS256 JWT signed by
//!   the toolkit's `JwtSigner` (`iat` 60 s in the past, `exp` 9 minutes ahead, never
//!   over GitHub's 10), exchanged at `POST /app/installations/{id}/access_tokens` for
//!   a one-hour installation token, renewed 5 minutes before it expires and dropped
//!   (then fetched once more) on a 401. The clock is a parameter
//!   ([`GithubAdapter::with_clock`]).
//! * **Accounts are organization memberships.** A person's GitHub username is not
//!   their email: it comes from a roster attribute (`github_username`, the setting
//!   `username_attribute`), and the deployment's correlation maps `username` to it.
//!   A person without one is **pending, with that reason**; nothing is sent.
//!   * Join (plain organization): `GET /orgs/{org}/memberships/{username}` first — an
//!     open invitation is re-checked, never sent again — then one write, `PUT
//!     /orgs/{org}/memberships/{username}`; GitHub emails an invitation and the
//!     membership is **pending until accepted** (the descriptor's pending deadline is
//!     7 days, when GitHub lets an invitation expire).
//!   * Invitations count against the named budget `invitations` (50 a day; 500 for
//!     organizations older than a month or paid: override in `rate_budgets`).
//!   * A rehire (roster attribute `rehire` = `true`) is invited with `POST
//!     /orgs/{org}/invitations` and role `reinstate`, which gives back the teams and
//!     repositories GitHub kept for three months; GitHub refusing it (not a former
//!     member) falls back to a plain invitation.
//!   * Leaver: `DELETE /orgs/{org}/memberships/{username}` (one write), which also
//!     removes every team and repository and cancels an open invitation.
//! * **EMU** (`enterprise` set): accounts are the enterprise's SCIM users; a joiner is
//!   `POST …/Users`, a leaver is suspended with `PATCH active:false` (reactivated with
//!   `active:true` on a rehire, metadata kept), and **deleted only where the
//!   deployment sets `delete_leavers`** — GitHub's delete is irreversible, so the
//!   descriptor does not even declare deletion otherwise.
//! * **Sessions**: GitHub has no API that ends another user's sessions; the descriptor
//!   says so (no `can_revoke_sessions`) and `revoke_sessions` is unsupported.
//! * **Teams** (`team`, `add_to_team`): member < maintainer, one `PUT
//!   …/teams/{slug}/memberships/{username}` for a grant or a role change. A team
//!   synced with the identity provider answers 403 to every write: that is
//!   [`provision_core::adapter::AdapterError::Configuration`] naming the team, never
//!   retried. Reads: the team's members with their roles, 100 a page, once per team.
//! * **Repositories** (`repository`, `grant_repository`, `owner/repo`): pull < triage
//!   < push < maintain < admin, custom roles ranked above their base role
//!   (`custom_repo_roles: name:base`). One `PUT …/collaborators/{username}`: 204 is
//!   done both for "no change" and "role changed" and is not read back; 201 is an
//!   invitation, **pending**. Only `check` reads back (`GET …/collaborators/{username}`).
//! * **Rate limits** ([`client::GithubErrors`]): 403 or 429 with
//!   `x-ratelimit-remaining: 0` waits for `x-ratelimit-reset`; 403/429 with
//!   `retry-after` waits as told; a secondary limit without it (a message saying so,
//!   or a bare 429) waits at least 60 s, doubled for each one in a row (up to 16 min);
//!   any other 403 is a permission error and never retried.
//!
//! ## What cannot be done on plain github.com
//!
//! * Create, suspend, reactivate or delete a user account: users own their accounts;
//!   the organization can only invite and remove (EMU enterprises can, over SCIM).
//! * Add anyone without their consent: every join is an invitation they must accept.
//! * End a user's sessions (no API anywhere on GitHub).
//! * Find a person by their work email: usernames are chosen by the person; the
//!   roster must carry the username (or the org's SAML identity, not read here).
//! * More than 50 (or 500) invitations a day per organization, 50 per repository.
//!
//! ## Not supported yet
//!
//! * Reading a repository's collaborators: the listing endpoint is not in the trimmed
//!   description the adapter is held to, so `read_grants(repository)` reads empty
//!   (with a warning): each run re-sends the idempotent `PUT` (one write per person
//!   and repository) and hand-made collaborators are not seen.
//! * Organization SCIM for SAML-SSO organizations (`/scim/v2/organizations/{org}`),
//!   and correlation through the org's SAML identities (GraphQL only).
//! * Invitations by email (for people with no known username).
//!
//! ## Dependencies
//!
//! Only the workspace's: `provision-http` for the client, the JWT signer and the token
//! cache; no GitHub SDK (octocrab would bring its own HTTP stack and retry policy).

// `AdapterError` is the shared contract's error type (it carries the system's reply);
// boxing it only here would make this crate differ from the trait it implements.
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod app;
pub mod client;
pub mod config;
pub mod descriptor;
pub mod factory;
pub mod model;

use std::sync::Arc;

pub use adapter::GithubAdapter;
pub use config::{ConfigError, Emu, GithubAuth, GithubConfig};

/// The factory for `adapter: github` systems, to register with
/// [`provision_core::adapter::FactoryRegistry`]. Its descriptor needs no credential.
pub fn factory() -> Arc<dyn provision_core::adapter::AdapterFactory> {
    Arc::new(factory::GithubFactory)
}
