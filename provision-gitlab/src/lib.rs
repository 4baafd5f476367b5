//! # provision-gitlab
//!
//! The GitLab adapter: group and project membership with ordered access levels,
//! nested groups, and (on self-managed GitLab) the account lifecycle, over the GitLab
//! REST API v4, behind [`provision_core::adapter::Adapter`]. One base URL serves
//! gitlab.com and self-managed instances alike.
//!
//! ## Configuration from the environment
//!
//! ```text
//! GITLAB_URL=https://gitlab.com        # or https://gitlab.example.com (a trailing /api/v4 is fine)
//! GITLAB_TOKEN=glpat-...               # personal, group or service-account token, `api` scope
//! GITLAB_GROUP=acme                    # the managed top-level group
//! GITLAB_DEPLOYMENT=self_managed       # optional: gitlab_com | self_managed (default: from the host)
//! GITLAB_AUTH=bearer                   # optional: private_token (default) | bearer
//! ```
//!
//! ```
//! use provision_gitlab::{Deployment, GitlabAdapter, GitlabConfig};
//! let config = GitlabConfig::builder("https://gitlab.example.com", "acme")
//!     .private_token("glpat-token")
//!     .deployment(Deployment::SelfManaged)
//!     .build()
//!     .unwrap();
//! let adapter = GitlabAdapter::new(config).unwrap();
//! ```
//!
//! From a deployment file: [`factory()`] (settings and credential in
//! [`GitlabConfig::from_spec`]); its `build` checks the token at once
//! ([`GitlabAdapter::verify_token`]).
//!
//! ## Behaviour
//!
//! * **Auth**: `PRIVATE-TOKEN` (default) or `Authorization: Bearer`.
//! * **Entitlements**: kinds `group` (`add_to_group`) and `project`
//!   (`add_to_project`), named by full path (`acme/engineering/backend`), roles
//!   `minimal_access`, `guest`, `planner`, `reporter`, `developer`, `maintainer`,
//!   `owner` → access levels 5, 10, 15, 20, 30, 40, 50 ([`descriptor::ROLES`]); ordered
//!   ([`provision_core::adapter::RoleModel::Ordered`]).
//!   * Grant: `POST …/members` (one write). 409 `Member already exists` reads the
//!     membership: the same level is already in place, another is changed by one `PUT`.
//!   * A membership GitLab keeps `awaiting` (the group's user cap is reached, or new
//!     members need an Owner's approval) gives no access: a grant that ends awaiting
//!     is [`provision_core::adapter::AdapterError::Pending`] (its check too) until it
//!     is approved, and reads never count it as held.
//!   * A role change (the planner's `Replacement` reason) is one `PUT …/members/:id`,
//!     never a revoke and a grant.
//!   * The end date follows the grant: a membership in place at the same level with
//!     another `expires_at` is changed by one `PUT`, an open-ended grant clears an end
//!     date GitLab kept (a second `PUT` after a role change, only then), and a check
//!     compares the date. The planner does not yet see a held end date (the shared
//!     grant record has no field for it), so a date changed by hand is not drift yet.
//!   * A time-bound grant (a policy's validity window ends: the operation's
//!     `reason.valid_until`) sends `expires_at` as that date in UTC, so GitLab ends the
//!     membership too, never later than the window; the planner still revokes it when
//!     the window ends.
//!   * Revoke: `DELETE …/members/:id`, with `skip_subresources=true` for anyone but a
//!     leaver (GitLab would also drop the person's direct memberships of the
//!     subgroups and projects below: other grants). A 404 for a non-member is
//!     done; a 404 `Group Not Found` / `Project Not Found` is a configuration error.
//! * **Nested groups, projects in groups**: the `group` kind is nested and the
//!   `project` kind sits in groups
//!   ([`provision_core::adapter::ResourceKindDescriptor::nested_in`]);
//!   [`Adapter::list_resources`] names each subgroup's and project's parent group, so
//!   the planner never grants at a subgroup or a project what an ancestor group's
//!   grant already gives at the same or a higher level (GitLab refuses a direct
//!   membership below the inherited one; such a refusal, and its check, count as in
//!   place when the person inherits at least the level asked). Drift reads the direct
//!   members (`/members`, [`Adapter::read_grants`]) for what is managed;
//!   [`GitlabAdapter::read_reachable`] reads `/members/all` for what a person can
//!   reach through ancestors. A person's grants ([`Adapter::read_account_grants`]) are
//!   their direct memberships anywhere in the managed tree, so a leaver loses them all
//!   (see [Reads](#reads)).
//! * **Accounts**, by [`Deployment`] (a setting, checked at build time):
//!   * self-managed, admin token: `POST /users` with the identity's email, name and a
//!     username from the login's local part (or the `username` attribute),
//!     `reset_password=true` (GitLab mails the person a link to set a password) and
//!     `skip_confirmation=true`; a taken email or username adopts the same person's
//!     user; a leaver is **blocked** by default ([`LeaverAction`]): GitLab
//!     reactivates a *deactivated* user who signs in again, old personal access tokens
//!     included. With `leaver_action: deactivate` the adapter also revokes the user's
//!     personal access tokens, and password sign-in must be off on the instance (only
//!     SSO, where the leaver is disabled); a user GitLab refuses to deactivate because
//!     of recent activity is blocked instead, and the run's report says so; reactivate
//!     by `activate`/`unblock`/`unban` from the state read; `DELETE /users/:id` where
//!     `delete_leavers`.
//!   * gitlab.com: accounts come from SAML/SCIM on the first SSO login; the
//!     descriptor says so, a create (and a membership) for a person without an account
//!     is **pending until the first login**, and account lifecycle is
//!     [`provision_core::adapter::AdapterError::Unsupported`], saying it is impossible
//!     there. A leaver loses every membership in the managed groups.
//! * **Sessions**: GitLab has no endpoint to end a user's sessions; the descriptor
//!   says so. Blocking or deactivating ends access on self-managed.
//! * **Errors** ([`client::GitlabErrors`]): 429 with `RateLimit-*`/`Retry-After` is
//!   rate limited; a 429 without them (gitlab.com's edge) is transient, so the
//!   executor backs off exponentially; 403 is unauthorized, naming the scope or role.
//! * **Pagination**: `per_page=100`, following `Link rel="next"` or `X-Next-Page` to
//!   the end, never counting pages (`X-Total` disappears above 10,000 rows); keyset
//!   pagination for `/users`.
//!
//! ## Reads
//!
//! A reconcile reads the managed tree once ([`adapter::tree`]): the groups, the
//! projects, each one's direct members (every member list once) and, on gitlab.com,
//! the top-level group's SAML identities. A person's grants are those member lists
//! inverted, so N accounts cost no request each. Bots (group and project access
//! tokens' users, `group_<id>_bot_…`, service accounts) are never read as people or
//! as holders of grants.
//!
//! ## Groups with SAML group links
//!
//! GitLab rewrites the memberships of a group with SAML group links at every
//! sign-in: the identity provider owns them. The links are read with the tree; a
//! grant in such a group, or a revoke for anyone but a leaver, is refused with a
//! configuration error that names the links (declare the group externally owned in
//! the system's `external_owners:`, so policies may not target it, or change the link
//! in the identity provider). A leaver's membership
//! there is still removed.
//!
//! ## People on gitlab.com
//!
//! gitlab.com shows a member's `email` only for enterprise users, and the members
//! `?query=` filter never matches a private email. People are found by their SAML
//! identity (the identity provider's NameID: an account's login where it is an email,
//! and the `saml_name_id` correlation key), by enterprise-user email
//! (`/enterprise_users?search=`, Owner), or by username.
//!
//! ## What a gitlab.com leaver keeps
//!
//! On gitlab.com the adapter can only take memberships away. A leaver loses every
//! direct membership in the managed tree: the top-level group's SSO default
//! membership (minimal access, read as the role `minimal_access`) and the
//! memberships of subgroups and projects of people who were never in the top-level
//! group. **What survives is the account itself, its personal access tokens and its
//! SSH keys**: they still reach whatever is public or shared with the person outside
//! the managed group. Disable the person in the identity provider (SCIM
//! deprovisioning), and for an enterprise user have an Owner disable or delete the
//! account in GitLab. Under `authoritative` group enforcement give the SSO default
//! membership with a policy for everyone (`add_to_group` on the top-level group,
//! `role: minimal_access`): otherwise it is revoked from active people too, and
//! SAML adds it back at their next sign-in.
//!
//! ## Not supported yet
//!
//! * Custom roles (`member_role_id`), invitations by email, LDAP group links.
//! * The `/users` endpoints are not in GitLab's OpenAPI description: they are tested
//!   against the documented shapes only.

// `AdapterError` is the shared contract's error type (it carries the system's reply);
// boxing it only here would make this crate differ from the trait it implements.
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod client;
pub mod config;
pub mod descriptor;
pub mod factory;
pub mod model;
pub mod tokens;

use std::sync::Arc;

pub use adapter::GitlabAdapter;
pub use config::{ConfigError, Deployment, GitlabAuth, GitlabConfig, LeaverAction};

#[cfg(doc)]
use provision_core::adapter::Adapter;

/// The factory for `adapter: gitlab` systems, to register with
/// [`provision_core::adapter::FactoryRegistry`]. Its descriptor needs no credential.
pub fn factory() -> Arc<dyn provision_core::adapter::AdapterFactory> {
    Arc::new(factory::GitlabFactory)
}
