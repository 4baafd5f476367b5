//! What the GitHub adapter declares, from the settings alone (no credential), so
//! policies validate without secrets.

use std::time::Duration;

use provision_core::adapter::{
    PendingDeadline, RateBudget, ResourceKindDescriptor, RoleModel, SystemDescriptor,
};
use provision_core::config::RateLimitConfig;

/// The kind of team memberships (`add_to_team`), roles member < maintainer.
pub const TEAM: &str = "team";
/// The kind of repository permissions (`grant_repository`), named `owner/repo`.
pub const REPOSITORY: &str = "repository";

/// Team roles, lowest first.
pub const TEAM_ROLES: &[&str] = &["member", "maintainer"];
/// GitHub's repository roles, lowest first.
pub const BASE_REPO_ROLES: &[&str] = &["pull", "triage", "push", "maintain", "admin"];

/// The named budget organization invitations count against: GitHub allows 50 a day
/// (500 for organizations older than a month or on a paid plan; set
/// `rate_budgets: {invitations: {requests: 500, per_seconds: 86400}}`).
pub const BUDGET_INVITATIONS: &str = "invitations";
/// Invitations a day on a new, free organization.
pub const INVITATIONS_PER_DAY: u32 = 50;

/// How long an invitation may stay unanswered: GitHub lets one expire after 7 days.
pub const INVITATION_DEADLINE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long to wait before looking at a pending invitation again.
pub const INVITATION_RECHECK: Duration = Duration::from_secs(6 * 3600);

/// The repository roles in order, custom roles ranked just above their base role.
pub fn repo_roles(custom: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for base in BASE_REPO_ROLES {
        out.push((*base).to_owned());
        out.extend(
            custom
                .iter()
                .filter(|(_, b)| b == base)
                .map(|(name, _)| name.clone()),
        );
    }
    out
}

/// The GitHub system's descriptor.
///
/// * `team` (`add_to_team`): member < maintainer, ordered (a change is one `PUT`).
/// * `repository` (`grant_repository`): pull < triage < push < maintain < admin, with
///   custom roles ranked above their base role; ordered, default `pull`.
/// * Accounts are organization memberships. Plain organization: a join is an
///   invitation, pending until accepted (at most [`INVITATION_DEADLINE`]); a leaver is
///   removed from the organization, which takes every team and repository with it
///   (GitHub keeps them three months for a reinstating rehire, so suspension "keeps"
///   them). EMU: a leaver is suspended with SCIM `active:false`; deletion (irreversible)
///   is declared only when `delete_leavers` is set.
/// * **No session revocation**: GitHub has no API that ends another user's sessions.
/// * Named budget [`BUDGET_INVITATIONS`] (50 a day by default) on a plain organization.
/// * Correlation keys: `username`, `user_id`, and in EMU `scim_user_name`,
///   `external_id`, `email` from the SCIM identity.
pub fn github_descriptor(
    emu: bool,
    delete_leavers: bool,
    custom: &[(String, String)],
) -> SystemDescriptor {
    let repo_roles = repo_roles(custom);
    let repo_roles: Vec<&str> = repo_roles.iter().map(String::as_str).collect();
    let team = ResourceKindDescriptor::new(TEAM, &["add_to_team"])
        .with_roles(TEAM_ROLES, Some("member"))
        .with_role_model(RoleModel::Ordered);
    let repository = ResourceKindDescriptor::new(REPOSITORY, &["grant_repository"])
        .with_roles(&repo_roles, Some("pull"))
        .with_role_model(RoleModel::Ordered);
    let mut d = SystemDescriptor::new("github")
        .with_kind(team)
        .with_kind(repository)
        .with_accounts()
        .can_suspend(true)
        .with_pending_deadline(PendingDeadline::After {
            wait: INVITATION_DEADLINE,
        });
    if emu {
        d = d.with_correlation_keys(&["username", "scim_user_name", "external_id", "email"]);
        if delete_leavers {
            d = d.can_delete();
        }
    } else {
        // EMU organizations have no invitations: managed users are added directly.
        d = d
            .with_correlation_keys(&["username", "user_id"])
            .with_rate_budget(RateBudget::new(
                BUDGET_INVITATIONS,
                Some(RateLimitConfig {
                    requests: INVITATIONS_PER_DAY,
                    per_seconds: 86_400,
                    burst: Some(INVITATIONS_PER_DAY),
                }),
            ));
    }
    d
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_deletion_needs_emu_and_delete_leavers() {
        let custom = vec![("security-reviewer".to_owned(), "triage".to_owned())];
        let d = github_descriptor(false, true, &custom);
        let repo = d.kind(REPOSITORY).unwrap();
        assert_eq!(repo.role_rank("pull"), Some(0));
        assert_eq!(repo.role_rank("security-reviewer"), Some(2));
        assert_eq!(repo.role_rank("admin"), Some(5));
        assert_eq!(d.kind(TEAM).unwrap().role_rank("maintainer"), Some(1));
        assert!(!d.can_delete, "no deletion on a plain organization");
        assert!(!d.can_revoke_sessions, "GitHub has no session revocation");
        assert!(github_descriptor(true, true, &[]).can_delete);
        assert!(!github_descriptor(true, false, &[]).can_delete);
        assert_eq!(d.rate_budgets[0].name, BUDGET_INVITATIONS);
        assert!(github_descriptor(true, false, &[]).rate_budgets.is_empty());
    }
}
