//! What the Okta adapter declares: its kinds, capabilities and rate budgets, from the
//! settings alone (no credential), so policies validate without secrets.

use provision_core::adapter::{RateBudget, ResourceKindDescriptor, SystemDescriptor};

use crate::config::LeaverAction;

/// Okta's rate-limit families, as the adapter's requests fall into them. Okta counts
/// each endpoint family in its own per-minute bucket (the per-minute numbers depend
/// on the org's plan and add-ons and are not documented in a form the adapter can
/// rely on, so none is declared: the executor follows the `X-Rate-Limit-*` headers,
/// and a deployment sets `rate_budgets` when it knows its numbers). The token
/// endpoint has a bucket of its own at Okta, but its replies reach the adapter only
/// inside the toolkit's token cache: a throttled token request is reported in the
/// budget of the call that needed the token.
pub const RATE_BUDGETS: &[&str] = &[BUDGET_USERS, BUDGET_GROUPS, BUDGET_APPS, BUDGET_SESSIONS];

/// `/api/v1/users` and everything under a user but its sessions.
pub const BUDGET_USERS: &str = "users";
/// `/api/v1/groups...`.
pub const BUDGET_GROUPS: &str = "groups";
/// `/api/v1/apps...`.
pub const BUDGET_APPS: &str = "apps";
/// `/api/v1/users/{id}/sessions` and `/api/v1/sessions...`.
pub const BUDGET_SESSIONS: &str = "sessions";

/// The budget a request path counts against (the org URL's path prefix removed).
pub fn budget_of(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "v1", "sessions", ..] | ["api", "v1", "users", _, "sessions", ..] => {
            BUDGET_SESSIONS
        }
        ["api", "v1", "groups", ..] => BUDGET_GROUPS,
        ["api", "v1", "apps", ..] => BUDGET_APPS,
        _ => BUDGET_USERS,
    }
}

/// The Okta system's descriptor: accounts with lifecycle and sessions, `group`
/// memberships and (when `manage_apps`) `app` assignments, both enumerable, one rate
/// budget per endpoint family, and as profile fields the HR attributes the
/// deployment maps onto Okta profile fields (`profile.<field>: <attribute>`), so a
/// mover's changed title or department reaches Okta in one partial update.
pub fn okta_descriptor<'a>(
    leaver_action: LeaverAction,
    manage_apps: bool,
    profile_attributes: impl IntoIterator<Item = &'a str>,
) -> SystemDescriptor {
    let mut descriptor = SystemDescriptor::new("okta")
        .with_kind(ResourceKindDescriptor::new("group", &["add_to_group"]).enumerable())
        .with_accounts()
        .can_suspend(leaver_action == LeaverAction::Suspend)
        .can_revoke_sessions()
        .can_delete();
    if manage_apps {
        descriptor =
            descriptor.with_kind(ResourceKindDescriptor::new("app", &["assign_app"]).enumerable());
    }
    for name in RATE_BUDGETS {
        descriptor = descriptor.with_rate_budget(RateBudget::new(*name, None));
    }
    let mut fields: Vec<&str> = profile_attributes.into_iter().collect();
    fields.sort_unstable();
    fields.dedup();
    if !fields.is_empty() {
        descriptor = descriptor.with_profile_fields(&fields);
    }
    descriptor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_their_family() {
        assert_eq!(budget_of("/api/v1/users"), "users");
        assert_eq!(budget_of("/api/v1/users/00u1/lifecycle/suspend"), "users");
        assert_eq!(budget_of("/api/v1/users/00u1/groups"), "users");
        assert_eq!(budget_of("/api/v1/users/00u1/sessions"), "sessions");
        assert_eq!(budget_of("/api/v1/groups/00g1/users/00u1"), "groups");
        assert_eq!(budget_of("/api/v1/apps/0oa1/users"), "apps");
    }
}
