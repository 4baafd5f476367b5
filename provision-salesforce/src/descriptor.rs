//! What the Salesforce adapter declares: its kinds, capabilities and rate budgets,
//! from the settings alone (no credential), so policies validate without secrets.

use provision_core::adapter::{RateBudget, ResourceKindDescriptor, SystemDescriptor};

/// The profile: exactly one per user, required when the user is created; a change is
/// one `ProfileId` update.
pub const KIND_PROFILE: &str = "profile";
/// A permission set (by API name), assigned with `PermissionSetAssignment`.
pub const KIND_PERMISSION_SET: &str = "permission_set";
/// A permission set group (by developer name), assigned with
/// `PermissionSetAssignment.PermissionSetGroupId`.
pub const KIND_PERMISSION_SET_GROUP: &str = "permission_set_group";
/// A permission set licence (by developer name), assigned with
/// `PermissionSetLicenseAssign`; a prerequisite of the permission sets that need it.
pub const KIND_PERMISSION_SET_LICENSE: &str = "permission_set_license";
/// A public group (`Group` of type `Regular`, by developer name), joined with
/// `GroupMember`.
pub const KIND_GROUP: &str = "group";

/// The policy action of each kind.
pub const ACTION_ASSIGN_PROFILE: &str = "assign_profile";
/// Grants a permission set.
pub const ACTION_ASSIGN_PERMISSION_SET: &str = "assign_permission_set";
/// Grants a permission set group.
pub const ACTION_ASSIGN_PERMISSION_SET_GROUP: &str = "assign_permission_set_group";
/// Grants a permission set licence.
pub const ACTION_ASSIGN_PERMISSION_SET_LICENSE: &str = "assign_permission_set_license";
/// Adds to a public group.
pub const ACTION_ADD_TO_GROUP: &str = "add_to_group";

/// Every request counts against the org's rolling 24-hour allocation: every reply is
/// reported in this budget, with the headroom its `Sforce-Limit-Info:
/// api-usage=<used>/<limit>` header gives, and a `REQUEST_LIMIT_EXCEEDED`
/// ("TotalRequests Limit exceeded") pauses it for [`crate::client::DAILY_LIMIT_RETRY`].
/// No figure is declared: the allocation depends on the edition and the licences (the
/// header says it); a deployment can set `rate_budgets.daily` to spread it.
pub const BUDGET_DAILY: &str = "daily";

/// The concurrent long-running request cap: Salesforce lets at most 25 requests that
/// run 20 seconds or longer be in flight per org (5 in Developer and Trial orgs). A
/// `REQUEST_LIMIT_EXCEEDED` naming `ConcurrentPerOrgLongTxn` is reported in this
/// budget with a short wait ([`crate::client::LONG_RUNNING_RETRY`]), so only the kind
/// of request that met it (a large SOQL read) pauses, not the whole org's work. No
/// per-second figure is declared: the cap is on requests in flight, not on a rate; a
/// deployment sets `rate_budgets.long_running` to hold such requests back.
pub const BUDGET_LONG_RUNNING: &str = "long_running";

/// The Salesforce system's descriptor: users with deactivation (or freezing) and
/// session removal, never deletion; the profile as the one-per-account kind required
/// at create; permission sets (after their licence), permission set groups,
/// permission set licences and public groups, each enumerable; the daily and the
/// long-running budgets.
pub fn salesforce_descriptor() -> SystemDescriptor {
    SystemDescriptor::new("salesforce")
        .with_kind(
            ResourceKindDescriptor::new(KIND_PROFILE, &[ACTION_ASSIGN_PROFILE])
                .one_per_account()
                .required_at_create(),
        )
        .with_kind(
            ResourceKindDescriptor::new(KIND_PERMISSION_SET, &[ACTION_ASSIGN_PERMISSION_SET])
                .with_prerequisites(&[KIND_PERMISSION_SET_LICENSE])
                .enumerable(),
        )
        .with_kind(
            ResourceKindDescriptor::new(
                KIND_PERMISSION_SET_GROUP,
                &[ACTION_ASSIGN_PERMISSION_SET_GROUP],
            )
            .with_prerequisites(&[KIND_PERMISSION_SET_LICENSE])
            .enumerable(),
        )
        .with_kind(
            ResourceKindDescriptor::new(
                KIND_PERMISSION_SET_LICENSE,
                &[ACTION_ASSIGN_PERMISSION_SET_LICENSE],
            )
            .enumerable(),
        )
        .with_kind(ResourceKindDescriptor::new(KIND_GROUP, &[ACTION_ADD_TO_GROUP]).enumerable())
        .with_accounts()
        // A deactivated or frozen user keeps their assignments, harmless while they
        // cannot sign in: a leaver is suspended, not stripped grant by grant.
        .can_suspend(true)
        .can_revoke_sessions()
        .with_rate_budget(RateBudget::new(BUDGET_DAILY, None))
        .with_rate_budget(RateBudget::new(BUDGET_LONG_RUNNING, None))
        .with_correlation_keys(&["email", "employee_id", "federation_id"])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_is_one_per_account_and_required_at_create() {
        let d = salesforce_descriptor();
        let profile = d.kind(KIND_PROFILE).unwrap();
        assert!(profile.one_per_account && profile.required_at_create);
        assert!(
            !profile.enumerable,
            "a profile cannot be revoked like a grant"
        );
        assert_eq!(
            d.kind(KIND_PERMISSION_SET).unwrap().prerequisites,
            [KIND_PERMISSION_SET_LICENSE]
        );
        assert!(!d.can_delete, "Salesforce users are never deleted");
        assert!(d.can_suspend && d.can_revoke_sessions);
    }
}
