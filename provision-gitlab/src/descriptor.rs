//! What the GitLab adapter declares, from the settings alone (no credential), so
//! policies validate without secrets.

use std::time::Duration;

use provision_core::adapter::{
    PendingDeadline, ResourceKindDescriptor, RoleModel, SystemDescriptor,
};

use crate::config::Deployment;

/// The kind of group memberships (`add_to_group`).
pub const GROUP: &str = "group";
/// The kind of project memberships (`add_to_project`).
pub const PROJECT: &str = "project";

/// The roles policies name, lowest first, with GitLab's access levels.
pub const ROLES: &[(&str, u32)] = &[
    // The top-level group's SSO default membership on gitlab.com: no access to any
    // subgroup or project, but a membership (and a seat) all the same.
    ("minimal_access", 5),
    ("guest", 10),
    ("planner", 15),
    ("reporter", 20),
    ("developer", 30),
    ("maintainer", 40),
    ("owner", 50),
];

/// The correlation key of the SAML identity (the identity provider's NameID).
pub const SAML_NAME_ID: &str = "saml_name_id";

/// The role a policy gets when it names none.
pub const DEFAULT_ROLE: &str = "developer";

/// How long to wait before looking again for an account that appears on the
/// person's first SSO login (gitlab.com).
pub const FIRST_LOGIN_RECHECK: Duration = Duration::from_secs(15 * 60);

/// How long to wait before looking again at a membership GitLab keeps `awaiting`
/// (a seat or an Owner's approval).
pub const AWAITING_RECHECK: Duration = Duration::from_secs(30 * 60);

/// The access level of a role policies name.
pub fn access_level(role: &str) -> Option<u32> {
    ROLES
        .iter()
        .find(|(r, _)| r.eq_ignore_ascii_case(role))
        .map(|(_, level)| *level)
}

/// The role of an access level; `None` for levels policies cannot name (0 no access,
/// a custom value).
pub fn role_of(level: u32) -> Option<&'static str> {
    ROLES.iter().find(|(_, l)| *l == level).map(|(r, _)| *r)
}

fn role_names() -> Vec<&'static str> {
    ROLES.iter().map(|(r, _)| *r).collect()
}

/// The GitLab system's descriptor.
///
/// * `group` (`add_to_group`) and `project` (`add_to_project`), roles ordered
///   minimal_access < guest < planner < reporter < developer < maintainer < owner (a change is one
///   `PUT`), default developer, both enumerable (the managed tree is listed and a
///   person's memberships in it read); groups nest, and projects sit in groups (a
///   group's membership is inherited by its subgroups and projects, so a grant there
///   covers theirs at the same or a lower role).
/// * Accounts of its own. On self-managed: suspension (deactivate or block), which
///   does not remove memberships (so a leaver's are revoked too), and deletion. On
///   gitlab.com: accounts appear on the first SSO login (SAML/SCIM), pending until
///   then; no suspension, no deletion.
/// * No session revocation: GitLab has no endpoint for it (blocking or deactivating
///   ends access on self-managed).
/// * Correlation keys: `username`, `email` (shown only for enterprise users on
///   gitlab.com), `saml_name_id` (the identity provider's NameID, on gitlab.com).
pub fn gitlab_descriptor(deployment: Deployment) -> SystemDescriptor {
    let roles = role_names();
    let group = ResourceKindDescriptor::new(GROUP, &["add_to_group"])
        .with_roles(&roles, Some(DEFAULT_ROLE))
        .with_role_model(RoleModel::Ordered)
        .enumerable()
        .nested();
    let project = ResourceKindDescriptor::new(PROJECT, &["add_to_project"])
        .with_roles(&roles, Some(DEFAULT_ROLE))
        .with_role_model(RoleModel::Ordered)
        .enumerable()
        .nested_in(GROUP);
    let descriptor = SystemDescriptor::new("gitlab")
        .with_kind(group)
        .with_kind(project)
        .with_accounts()
        .with_correlation_keys(&["username", "email", SAML_NAME_ID]);
    match deployment {
        Deployment::SelfManaged => descriptor.can_suspend(false).can_delete(),
        Deployment::GitlabCom => descriptor
            .accounts_created_on_first_login()
            .with_pending_deadline(PendingDeadline::FirstLogin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_onto_access_levels_in_order() {
        let levels: Vec<u32> = ROLES.iter().map(|(_, l)| *l).collect();
        assert_eq!(levels, vec![5, 10, 15, 20, 30, 40, 50]);
        assert_eq!(access_level("Developer"), Some(30));
        assert_eq!(role_of(40), Some("maintainer"));
        assert_eq!(role_of(5), Some("minimal_access"));
        assert_eq!(role_of(0), None);
        let d = gitlab_descriptor(Deployment::GitlabCom);
        let group = d
            .kind(GROUP)
            .map(|k| (k.role_rank("reporter"), k.role_rank("owner")));
        assert_eq!(group, Some((Some(3), Some(6))));
        assert!(d.accounts_created_on_first_login && !d.can_suspend && !d.can_delete);
        let d = gitlab_descriptor(Deployment::SelfManaged);
        assert!(d.can_suspend && d.can_delete && !d.suspension_keeps_grants);
        assert!(!d.can_revoke_sessions);
    }
}
