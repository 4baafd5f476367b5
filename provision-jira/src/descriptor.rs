//! What the Jira adapter declares: its kinds, capabilities and rate budgets, from the
//! settings alone (no credential is read), so policies validate without secrets.

use provision_core::adapter::{RateBudget, ResourceKindDescriptor, RoleModel, SystemDescriptor};

use crate::config::JiraConfig;

/// The site API's budget (`<site>.atlassian.net`, Basic `email:token`).
pub const BUDGET_SITE: &str = "site";
/// The organization's user-management API's budget (`api.atlassian.com`, Bearer key).
pub const BUDGET_ORG: &str = "org";

/// Product access (`jira-software`, `jira-servicedesk`, ...): given at creation by
/// `POST /user`'s `products`, later through the product's default groups.
pub const KIND_PRODUCT: &str = "product";
/// Group membership, addressed by `groupId`.
pub const KIND_GROUP: &str = "group";
/// A role in a project (resource: the project key; role: the role name).
pub const KIND_PROJECT_ROLE: &str = "project_role";

/// The correlation key carrying the Atlassian `accountId`.
pub const KEY_ACCOUNT_ID: &str = "account_id";
/// The correlation key carrying the email, when the person's privacy settings show it.
pub const KEY_EMAIL: &str = "email";

/// What the descriptor depends on, without the credentials.
#[derive(Debug, Clone)]
pub struct DescriptorInputs<'a> {
    /// The org API key is configured.
    pub org: bool,
    /// Title and department are synced to the Atlassian profile.
    pub profile_sync: bool,
    /// Projects whose roles are read in full (`project_role` is then enumerable).
    pub projects: bool,
    /// Role names policies may use.
    pub project_roles: &'a [String],
}

impl<'a> DescriptorInputs<'a> {
    /// The inputs of a built configuration.
    pub fn of(config: &'a JiraConfig) -> Self {
        Self {
            org: config.org.is_some(),
            profile_sync: config.profile_sync,
            projects: !config.projects.is_empty(),
            project_roles: &config.project_roles,
        }
    }
}

/// The Jira system's descriptor.
///
/// * Accounts, correlated by `account_id` (and `email` where visible).
/// * `product` (required at creation, enumerable), `group` (enumerable),
///   `project_role` (several roles per project: [`RoleModel::Multiple`]; enumerable
///   when the managed projects are configured).
/// * With the org API key: accounts can be suspended (deactivated; grants kept) and
///   reactivated, and a `org` rate budget beside the `site` one. Without it, the
///   system cannot suspend: a leaver loses product access, groups and project roles.
/// * Deletion removes the user from Jira (the Atlassian account survives).
pub fn jira_descriptor(inputs: &DescriptorInputs<'_>) -> SystemDescriptor {
    let roles: Vec<&str> = inputs.project_roles.iter().map(String::as_str).collect();
    let default_role = roles.iter().copied().find(|r| *r == "User");
    let mut project_role = ResourceKindDescriptor::new(KIND_PROJECT_ROLE, &["assign_project_role"])
        .with_roles(&roles, default_role)
        .with_role_model(RoleModel::Multiple);
    if inputs.projects {
        project_role = project_role.enumerable();
    }
    let mut descriptor = SystemDescriptor::new("jira")
        .with_kind(
            ResourceKindDescriptor::new(KIND_PRODUCT, &["grant_product_access"])
                .enumerable()
                .required_at_create(),
        )
        .with_kind(ResourceKindDescriptor::new(KIND_GROUP, &["add_to_group"]).enumerable())
        .with_kind(project_role)
        .with_accounts()
        .can_delete()
        .with_correlation_keys(&[KEY_ACCOUNT_ID, KEY_EMAIL])
        .with_rate_budget(RateBudget::new(BUDGET_SITE, None));
    if inputs.org {
        descriptor = descriptor
            .can_suspend(true)
            .with_rate_budget(RateBudget::new(BUDGET_ORG, None));
    }
    if inputs.org && inputs.profile_sync {
        descriptor = descriptor.with_profile_fields(&["department", "title"]);
    }
    descriptor
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn roles() -> Vec<String> {
        vec!["Developer".into(), "User".into()]
    }

    #[test]
    fn without_the_org_key_accounts_cannot_be_suspended() {
        let roles = roles();
        let d = jira_descriptor(&DescriptorInputs {
            org: false,
            profile_sync: false,
            projects: false,
            project_roles: &roles,
        });
        assert!(!d.can_suspend);
        assert_eq!(d.rate_budgets.len(), 1);
        assert!(d.profile_fields.is_empty());
        let pr = d.kind(KIND_PROJECT_ROLE).unwrap();
        assert_eq!(pr.role_model, RoleModel::Multiple);
        assert!(!pr.enumerable);
    }

    #[test]
    fn with_the_org_key_two_budgets_and_suspension() {
        let roles = roles();
        let d = jira_descriptor(&DescriptorInputs {
            org: true,
            profile_sync: true,
            projects: true,
            project_roles: &roles,
        });
        assert!(d.can_suspend && d.suspension_keeps_grants);
        let names: Vec<&str> = d.rate_budgets.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["site", "org"]);
        assert_eq!(d.profile_fields, ["department", "title"]);
        assert!(d.kind(KIND_PROJECT_ROLE).unwrap().enumerable);
        assert!(d.kind(KIND_PRODUCT).unwrap().required_at_create);
    }
}
