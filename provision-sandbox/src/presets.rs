//! Sandbox systems named and shaped like the real ones, with their vendors'
//! published rate limits (which [`Preset::rate_limit`] compresses in time for tests
//! and benchmarks).
//!
//! Limits used (per minute; see `shared/apis/`): Okta 600 (org-wide write budget of
//! its SCIM/user endpoints), Google Directory 2,400 (per user per project), AWS
//! Identity Center 1,200 (assumed 20 requests/s; AWS does not publish the figure per
//! API), GitLab.com 2,000 (authenticated API), Slack 600 (SCIM writes, org-wide),
//! Jira 600 (assumed 10/s of its burst-based limit), Salesforce 70 (its 100,000
//! requests per 24 h spread evenly).
//!
//! Where a real adapter exists (Okta, Google Workspace, AWS IAM Identity Center,
//! Salesforce) the preset's descriptor is the real adapter's credential-free
//! descriptor, so a policy that validates against the sandbox validates against the
//! real system;
//! `examples/tests/presets_match_adapters.rs` keeps them equal.

use std::time::Duration;

use super::{SandboxConfig, SandboxRateLimit, SandboxSystem};
use provision_core::adapter::{
    PendingDeadline, RateBudget, ResourceKindDescriptor, SystemDescriptor,
};
use provision_core::config::{RateLimitConfig, SystemConfig};

/// A preset: a descriptor and a published rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    /// What the system understands.
    pub descriptor: SystemDescriptor,
    /// Its published limit, in requests per minute.
    pub requests_per_minute: u32,
}

impl Preset {
    /// A sandbox system of this shape (the rate limit is whatever `config` says).
    pub fn sandbox(&self, name: &str, config: SandboxConfig) -> SandboxSystem {
        SandboxSystem::new(name, self.descriptor.clone(), config)
    }

    /// The published limit with time running `speedup` times faster, as one-second
    /// windows: Okta's 600/min at speedup 6 is 60 requests per second.
    pub fn rate_limit(&self, speedup: u32) -> SandboxRateLimit {
        let per_second =
            (u64::from(self.requests_per_minute) * u64::from(speedup.max(1)) / 60).max(1);
        SandboxRateLimit {
            requests: u32::try_from(per_second).unwrap_or(u32::MAX),
            window: Duration::from_secs(1),
        }
    }

    /// The executor's configuration for the same (compressed) limit.
    pub fn system_config(&self, speedup: u32) -> SystemConfig {
        let limit = self.rate_limit(speedup);
        let mut config = SystemConfig::new("sandbox");
        config.rate_limit = Some(RateLimitConfig {
            requests: limit.requests,
            per_seconds: 1,
            burst: None,
        });
        config
    }
}

fn descriptor(
    adapter_type: &str,
    kinds: Vec<ResourceKindDescriptor>,
    suspend: bool,
    sessions: bool,
) -> SystemDescriptor {
    let mut d = SystemDescriptor::new(adapter_type);
    d.kinds = kinds;
    d.has_accounts = true;
    d.can_suspend = suspend;
    d.can_revoke_sessions = sessions;
    d.can_delete = true;
    d.suspension_keeps_grants = suspend;
    d
}

/// Okta: groups and app assignments (both enumerable); suspend, sessions, delete; one
/// rate budget per endpoint family (users, groups, apps, sessions), as the adapter
/// declares them (no documented per-minute numbers).
pub fn okta() -> Preset {
    let mut descriptor = descriptor(
        "okta",
        vec![
            ResourceKindDescriptor::new("group", &["add_to_group"]).enumerable(),
            ResourceKindDescriptor::new("app", &["assign_app"]).enumerable(),
        ],
        true,
        true,
    );
    for family in ["users", "groups", "apps", "sessions"] {
        descriptor = descriptor.with_rate_budget(RateBudget::new(family, None));
    }
    Preset {
        descriptor,
        requests_per_minute: 600,
    }
}

/// The policy action that places a user in a Google organisational unit (kind
/// `org_unit`), as the Google adapter names it.
pub const PLACE_IN_ORG_UNIT: &str = "place_in_org_unit";

/// Google Workspace: groups (member/manager/owner, a role changed in place) and
/// organisational units.
pub fn google() -> Preset {
    Preset {
        descriptor: descriptor(
            "google",
            vec![
                ResourceKindDescriptor::new("group", &["add_to_group"])
                    .with_roles(&["member", "manager", "owner"], Some("member"))
                    .with_role_change_in_place()
                    .enumerable(),
                ResourceKindDescriptor::new("org_unit", &[PLACE_IN_ORG_UNIT]).one_per_account(),
            ],
            true,
            true,
        ),
        requests_per_minute: 2400,
    }
}

/// AWS IAM Identity Center: groups and permission sets on an account; no suspension,
/// no sessions.
pub fn aws() -> Preset {
    Preset {
        // Assignments complete asynchronously within seconds: pending for 2 minutes at most.
        descriptor: descriptor(
            "aws",
            vec![
                ResourceKindDescriptor::new("group", &["add_to_group"]).enumerable(),
                ResourceKindDescriptor::new("permission_set", &["assign_permission_set"])
                    .with_scope("account")
                    .enumerable(),
            ],
            false,
            false,
        )
        .with_pending_deadline(PendingDeadline::After {
            wait: Duration::from_secs(120),
        }),
        requests_per_minute: 1200,
    }
}

/// GitLab: groups and projects with access levels; accounts appear on first SSO login.
pub fn gitlab() -> Preset {
    let roles = ["guest", "reporter", "developer", "maintainer", "owner"];
    let mut d = descriptor(
        "gitlab",
        vec![
            ResourceKindDescriptor::new("group", &["add_to_group"])
                .with_roles(&roles, Some("developer"))
                .enumerable(),
            ResourceKindDescriptor::new("project", &["add_to_project"])
                .with_roles(&roles, Some("developer"))
                .enumerable(),
        ],
        true,
        false,
    );
    d.accounts_created_on_first_login = true;
    Preset {
        descriptor: d,
        requests_per_minute: 2000,
    }
}

/// Slack: channels (`invite_to_channel`, as policies say, or `add_to_channel`);
/// deactivation and session reset.
pub fn slack() -> Preset {
    Preset {
        descriptor: descriptor(
            "slack",
            vec![
                ResourceKindDescriptor::new("channel", &["invite_to_channel", "add_to_channel"])
                    .enumerable(),
            ],
            true,
            true,
        ),
        requests_per_minute: 600,
    }
}

/// Jira: project roles and groups.
pub fn jira() -> Preset {
    Preset {
        descriptor: descriptor(
            "jira",
            vec![
                ResourceKindDescriptor::new("project_role", &["assign_project_role"]).with_roles(
                    &["Administrator", "Developer", "Reporter", "User"],
                    Some("User"),
                ),
                ResourceKindDescriptor::new("group", &["add_to_group"]),
            ],
            true,
            false,
        ),
        requests_per_minute: 600,
    }
}

/// Salesforce, as `provision-salesforce` declares it: the profile (one per user,
/// required at create), permission sets and permission set groups (each after the
/// permission set licence it needs), licences and public groups (enumerable);
/// deactivation or freezing that keeps assignments, session removal, no deletion
/// (Salesforce deactivates, it never deletes users, so neither does its sandbox); the
/// daily allocation and the concurrent long-running cap as named budgets.
pub fn salesforce() -> Preset {
    let licence = "permission_set_license";
    let descriptor = SystemDescriptor::new("salesforce")
        .with_kind(
            ResourceKindDescriptor::new("profile", &["assign_profile"])
                .one_per_account()
                .required_at_create(),
        )
        .with_kind(
            ResourceKindDescriptor::new("permission_set", &["assign_permission_set"])
                .with_prerequisites(&[licence])
                .enumerable(),
        )
        .with_kind(
            ResourceKindDescriptor::new("permission_set_group", &["assign_permission_set_group"])
                .with_prerequisites(&[licence])
                .enumerable(),
        )
        .with_kind(
            ResourceKindDescriptor::new(licence, &["assign_permission_set_license"]).enumerable(),
        )
        .with_kind(ResourceKindDescriptor::new("group", &["add_to_group"]).enumerable())
        .with_accounts()
        .can_suspend(true)
        .can_revoke_sessions()
        .with_rate_budget(RateBudget::new("daily", None))
        .with_rate_budget(RateBudget::new("long_running", None))
        .with_correlation_keys(&["email", "employee_id", "federation_id"]);
    Preset {
        descriptor,
        requests_per_minute: 70,
    }
}

/// A generic SCIM 2.0 application (`adapter: scim`): groups, deactivation (`active:
/// false`, memberships kept), no sessions, no deletion unless `delete_leavers`; the
/// enterprise profile fields. SCIM publishes no rate limit: 600/min is assumed (what
/// Slack's SCIM allows for writes). The descriptor is the SCIM adapter's default one
/// (`examples/tests/presets_match_adapters.rs` keeps them equal).
pub fn scim() -> Preset {
    let descriptor = SystemDescriptor::new("scim")
        .with_accounts()
        .can_suspend(true)
        .with_correlation_keys(&["email", "username", "user_id", "employee_id"])
        .with_kind(ResourceKindDescriptor::new("group", &["add_to_group"]).enumerable())
        .with_profile_fields(&[
            "department",
            "display_name",
            "employee_id",
            "manager",
            "title",
        ]);
    Preset {
        descriptor,
        requests_per_minute: 600,
    }
}

/// GitHub (a plain organization): teams (member < maintainer) and repository
/// permissions (pull < … < admin) as ordered roles; a join is an invitation, pending
/// for up to 7 days, counted against the `invitations` budget (50 a day); a leaver is
/// removed from the organization (what GitHub keeps for a reinstating rehire makes it
/// a suspension that keeps grants); no session revocation, no deletion. The
/// descriptor is `provision-github`'s for a plain organization. 5,000 requests an hour.
pub fn github() -> Preset {
    let team = ResourceKindDescriptor::new("team", &["add_to_team"])
        .with_roles(&["member", "maintainer"], Some("member"))
        .with_role_model(provision_core::adapter::RoleModel::Ordered);
    let repository = ResourceKindDescriptor::new("repository", &["grant_repository"])
        .with_roles(
            &["pull", "triage", "push", "maintain", "admin"],
            Some("pull"),
        )
        .with_role_model(provision_core::adapter::RoleModel::Ordered);
    let d = SystemDescriptor::new("github")
        .with_kind(team)
        .with_kind(repository)
        .with_accounts()
        .can_suspend(true)
        .with_pending_deadline(PendingDeadline::After {
            wait: Duration::from_secs(7 * 24 * 3600),
        })
        .with_correlation_keys(&["username", "user_id"])
        .with_rate_budget(RateBudget::new(
            "invitations",
            Some(RateLimitConfig {
                requests: 50,
                per_seconds: 86_400,
                burst: Some(50),
            }),
        ));
    Preset {
        descriptor: d,
        requests_per_minute: 83,
    }
}

/// The preset a real system's name stands for (`okta`, `google`, …), if any.
pub fn by_name(name: &str) -> Option<Preset> {
    all().into_iter().find(|(n, _)| *n == name).map(|(_, p)| p)
}

/// The presets' names.
pub fn names() -> Vec<&'static str> {
    all().into_iter().map(|(n, _)| n).collect()
}

/// Every preset, by the name the real system goes by.
pub fn all() -> Vec<(&'static str, Preset)> {
    vec![
        ("okta", okta()),
        ("google", google()),
        ("aws", aws()),
        ("gitlab", gitlab()),
        ("slack", slack()),
        ("jira", jira()),
        ("salesforce", salesforce()),
        ("scim", scim()),
        ("github", github()),
    ]
}
