//! What a system understands, declared by its adapter and checked at policy load.
//!
//! Every capability is declared per system or per resource kind, has a default that
//! describes the simplest system (one role per resource, grants written one at a
//! time, nothing enumerable), and every type here is `#[non_exhaustive]`: build them
//! with [`SystemDescriptor::new`] / [`ResourceKindDescriptor::new`] and the builder
//! methods, so adding a capability later breaks no adapter.
//!
//! Which system needs which capability:
//!
//! | capability | field | systems |
//! | --- | --- | --- |
//! | resources can be listed, a person's grants read | [`ResourceKindDescriptor::enumerable`] | Okta groups and apps, Google groups, AWS assignments, GitLab, Slack |
//! | several roles on one resource at once | [`RoleModel::Multiple`] | Jira project roles |
//! | ordered roles, a higher one includes the lower | [`RoleModel::Ordered`] | GitLab access levels |
//! | a grant on a parent covers its children | [`ResourceKindDescriptor::nested`] | GitLab groups and subgroups |
//! | exactly one per account (a change replaces) | [`ResourceKindDescriptor::one_per_account`] | Google org unit, Salesforce profile |
//! | membership written as a whole list | [`ResourceKindDescriptor::whole_list_membership`] | Slack user groups, PUT-only SCIM groups |
//! | kinds granted before others in one system | [`ResourceKindDescriptor::prerequisites`] | Salesforce licence before permission set |
//! | grants needed to create the account | [`ResourceKindDescriptor::required_at_create`] | Salesforce `ProfileId` |
//! | how long pending work may stay pending | [`SystemDescriptor::pending_deadline`] | AWS assignments (seconds), GitHub invitations (days), GitLab (first SSO login) |
//! | named rate budgets | [`SystemDescriptor::rate_budgets`] | Okta endpoint families, Slack tiers and SCIM, Jira site and org API |
//! | correlation keys accounts carry | [`SystemDescriptor::correlation_keys`] | Jira `account_id`, Slack `user_id`, GitHub `username`, `employee_id` |
//! | profile fields kept on accounts | [`SystemDescriptor::profile_fields`] | Okta, Google, Jira (title, department, manager) |

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::RateLimitConfig;

/// How roles relate on one resource of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RoleModel {
    /// A person holds one role on a resource; a different role replaces it.
    #[default]
    Single,
    /// A person may hold several roles on one resource at once, each granted and
    /// revoked on its own (Jira: Developers *and* Administrators in one project).
    Multiple,
    /// Roles are ordered lowest first in [`ResourceKindDescriptor::roles`]; a higher
    /// role includes the lower ones, so a person holds exactly one and a change is one
    /// in-place edit (GitLab: guest < planner < reporter < developer < maintainer < owner).
    Ordered,
}

/// How long an operation may stay pending before the executor gives up on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "until")]
#[non_exhaustive]
pub enum PendingDeadline {
    /// The executor's own default.
    #[default]
    Default,
    /// A fixed time after the operation first went pending (seconds for AWS
    /// assignments, days for GitHub invitations).
    After {
        /// How long.
        #[serde(with = "crate::serde_util::duration_ms")]
        wait: Duration,
    },
    /// Until the person's first SSO login, however long that takes (GitLab accounts
    /// created on first login); the run ends with the operation pending and a later
    /// run (or a resume) checks it again.
    FirstLogin,
}

/// A rate budget a system's requests are counted against, declared up front so each
/// gets its own limiter (Okta's endpoint families, Slack's method tiers and org-wide
/// SCIM budget, Jira's site API and its org-admin API on another host).
///
/// Adapters tag every response's [`crate::adapter::RateLimitInfo::bucket`] and every
/// error with the budget name, so one family's headroom never overwrites another's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RateBudget {
    /// The budget's name (`users`, `groups`, `tier2`, `scim`, `site`, `org`).
    pub name: String,
    /// The vendor's documented limit, when there is one; the deployment's
    /// `rate_budgets` setting overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<RateLimitConfig>,
}

impl RateBudget {
    /// A budget with the vendor's documented limit.
    pub fn new(name: impl Into<String>, limit: Option<RateLimitConfig>) -> Self {
        Self {
            name: name.into(),
            limit,
        }
    }
}

/// One kind of resource a system has (`group`, `app`, `permission_set`, `channel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceKindDescriptor {
    /// The kind's name, as it appears in entitlements.
    pub kind: String,
    /// Policy actions that grant this kind (`add_to_group`, `assign_permission_set`).
    pub actions: Vec<String>,
    /// Valid roles; empty when the kind has no roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The role used when a policy names none, for kinds with roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_role: Option<String>,
    /// The name of the scope field the kind requires (`account` for AWS permission
    /// sets); `None` when it takes no scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Whether a person's role on one resource can be changed in place (otherwise a
    /// role change is a revoke then a grant). Always true for [`RoleModel::Ordered`].
    #[serde(default)]
    pub role_change_in_place: bool,
    /// How roles relate on one resource.
    #[serde(default)]
    pub role_model: RoleModel,
    /// Resources of this kind can be listed ([`crate::adapter::Adapter::list_resources`])
    /// and a person's grants of this kind read
    /// ([`crate::adapter::Adapter::read_account_grants`]), so grants on resources no
    /// policy names are seen too.
    #[serde(default)]
    pub enumerable: bool,
    /// Resources nest (GitLab groups): a grant on a parent covers its descendants at
    /// the same or a lower role. [`crate::model::ResourceRecord::parent`] names the
    /// parent.
    #[serde(default)]
    pub nested: bool,
    /// Resources of this kind sit inside resources of another kind of the same system
    /// (GitLab projects in groups): a grant on the parent, or on one of its ancestors,
    /// covers them at the same or a lower role, as [`Self::nested`] does within one
    /// kind. [`crate::model::ResourceRecord::parent`] (or the path's parent) names the
    /// parent, a resource of that kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nested_in: Option<String>,
    /// An account holds exactly one resource of this kind (Google org unit,
    /// Salesforce profile): a change is a replace, never two holders.
    #[serde(default)]
    pub one_per_account: bool,
    /// Membership is written as the whole list (Slack user groups, PUT-only SCIM
    /// groups): the executor never runs two operations on one such resource at once.
    #[serde(default)]
    pub whole_list_membership: bool,
    /// Most changes of one resource of this kind that the executor hands to one
    /// [`execute_batch`](crate::adapter::Adapter::execute_batch) call (Slack's
    /// `conversations.invite` takes 1,000 users). A [whole-list](Self::whole_list_membership)
    /// kind is always batched (100 when this is `None`) and its changes to one resource
    /// never run two at a time; a kind that is not whole-list is batched only when this
    /// is set, and its batches may run side by side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<usize>,
    /// Kinds of the same system whose grants to the same person must be in place
    /// before a grant of this kind (Salesforce: a licence before a permission set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<String>,
    /// The account cannot be created without a grant of this kind (Salesforce
    /// `ProfileId`): the create carries it, taken from the person's policies.
    #[serde(default)]
    pub required_at_create: bool,
}

impl ResourceKindDescriptor {
    /// A kind without roles or scope, granted by the given actions.
    pub fn new(kind: impl Into<String>, actions: &[&str]) -> Self {
        Self {
            kind: kind.into(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            roles: Vec::new(),
            default_role: None,
            scope: None,
            role_change_in_place: false,
            role_model: RoleModel::Single,
            enumerable: false,
            nested: false,
            nested_in: None,
            one_per_account: false,
            whole_list_membership: false,
            max_batch: None,
            prerequisites: Vec::new(),
            required_at_create: false,
        }
    }

    /// Builder-style: the valid roles and the default one.
    pub fn with_roles(mut self, roles: &[&str], default_role: Option<&str>) -> Self {
        self.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self.default_role = default_role.map(str::to_owned);
        self
    }

    /// Builder-style: the scope field the kind requires.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Builder-style: a role change is one in-place edit.
    pub fn with_role_change_in_place(mut self) -> Self {
        self.role_change_in_place = true;
        self
    }

    /// Builder-style: how roles relate ([`RoleModel::Ordered`] also sets
    /// [`Self::role_change_in_place`]).
    pub fn with_role_model(mut self, model: RoleModel) -> Self {
        self.role_model = model;
        if model == RoleModel::Ordered {
            self.role_change_in_place = true;
        }
        self
    }

    /// Builder-style: resources can be listed and a person's grants read.
    pub fn enumerable(mut self) -> Self {
        self.enumerable = true;
        self
    }

    /// Builder-style: resources nest; a parent's grant covers its descendants.
    pub fn nested(mut self) -> Self {
        self.nested = true;
        self
    }

    /// Builder-style: resources of this kind sit inside resources of `kind`, whose
    /// grants cover them ([`Self::nested_in`]).
    pub fn nested_in(mut self, kind: impl Into<String>) -> Self {
        self.nested_in = Some(kind.into());
        self
    }

    /// Builder-style: exactly one per account.
    pub fn one_per_account(mut self) -> Self {
        self.one_per_account = true;
        self
    }

    /// Builder-style: membership is written as a whole list.
    pub fn whole_list_membership(mut self) -> Self {
        self.whole_list_membership = true;
        self
    }

    /// Builder-style: at most `n` changes of one resource per `execute_batch` call
    /// (at least 1).
    pub fn with_max_batch(mut self, n: usize) -> Self {
        self.max_batch = Some(n.max(1));
        self
    }

    /// Builder-style: kinds whose grants come first.
    pub fn with_prerequisites(mut self, kinds: &[&str]) -> Self {
        self.prerequisites = kinds.iter().map(|k| (*k).to_owned()).collect();
        self
    }

    /// Builder-style: the account's create needs a grant of this kind.
    pub fn required_at_create(mut self) -> Self {
        self.required_at_create = true;
        self
    }

    /// The rank of `role` among ordered roles (0 is the lowest); `None` when the kind's
    /// roles are not ordered or the role is unknown.
    pub fn role_rank(&self, role: &str) -> Option<usize> {
        if self.role_model != RoleModel::Ordered {
            return None;
        }
        self.roles.iter().position(|r| r == role)
    }
}

/// What a system can do, declared by its adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SystemDescriptor {
    /// The adapter type (`okta`, `google`, `aws`, `sandbox`, or a custom name).
    pub adapter_type: String,
    /// Resource kinds and how policies grant them.
    pub kinds: Vec<ResourceKindDescriptor>,
    /// The system has accounts of its own (grants depend on the account).
    pub has_accounts: bool,
    /// Accounts appear by themselves on first SSO login (grants may be pending until then).
    pub accounts_created_on_first_login: bool,
    /// The system can suspend an account (otherwise a leaver's grants are revoked).
    pub can_suspend: bool,
    /// The system can end an account's sessions.
    pub can_revoke_sessions: bool,
    /// The system can delete accounts.
    pub can_delete: bool,
    /// A grant survives suspension (so a leaver's grants need not be revoked one by one).
    pub suspension_keeps_grants: bool,
    /// How long pending work may stay pending.
    #[serde(default)]
    pub pending_deadline: PendingDeadline,
    /// The named rate budgets requests are counted against; empty for one budget per
    /// system (the deployment's `rate_limit`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_budgets: Vec<RateBudget>,
    /// The correlation keys this system's accounts carry in
    /// [`crate::model::AccountRecord::correlation`] (`email`, `employee_id`,
    /// `account_id`, `user_id`, `username`). The deployment maps roster attributes
    /// onto them; `login` is always available.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlation_keys: Vec<String>,
    /// The HR attributes the system keeps on accounts (`display_name`, `title`,
    /// `department`, `manager`, `cost_center`): when one changes in HR, the planner
    /// sends exactly the changed ones in one update.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profile_fields: Vec<String>,
    /// Actions the system could grant with other credentials or settings, each with
    /// what it needs (Slack's `invite_to_channel` without a bot token): a policy
    /// naming one fails validation with that reason instead of "unknown action".
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub unavailable_actions: std::collections::BTreeMap<String, String>,
}

impl SystemDescriptor {
    /// A descriptor with no kinds and no capabilities.
    pub fn new(adapter_type: impl Into<String>) -> Self {
        Self {
            adapter_type: adapter_type.into(),
            kinds: Vec::new(),
            has_accounts: false,
            accounts_created_on_first_login: false,
            can_suspend: false,
            can_revoke_sessions: false,
            can_delete: false,
            suspension_keeps_grants: true,
            pending_deadline: PendingDeadline::Default,
            rate_budgets: Vec::new(),
            correlation_keys: Vec::new(),
            profile_fields: Vec::new(),
            unavailable_actions: std::collections::BTreeMap::new(),
        }
    }

    /// Builder-style: a resource kind.
    pub fn with_kind(mut self, kind: ResourceKindDescriptor) -> Self {
        self.kinds.push(kind);
        self
    }

    /// Builder-style: the system has accounts of its own.
    pub fn with_accounts(mut self) -> Self {
        self.has_accounts = true;
        self
    }

    /// Builder-style: accounts appear on first SSO login.
    pub fn accounts_created_on_first_login(mut self) -> Self {
        self.accounts_created_on_first_login = true;
        self
    }

    /// Builder-style: the system can suspend accounts.
    pub fn can_suspend(mut self, keeps_grants: bool) -> Self {
        self.can_suspend = true;
        self.suspension_keeps_grants = keeps_grants;
        self
    }

    /// Builder-style: the system can end sessions.
    pub fn can_revoke_sessions(mut self) -> Self {
        self.can_revoke_sessions = true;
        self
    }

    /// Builder-style: the system can delete accounts.
    pub fn can_delete(mut self) -> Self {
        self.can_delete = true;
        self
    }

    /// Builder-style: the pending deadline.
    pub fn with_pending_deadline(mut self, deadline: PendingDeadline) -> Self {
        self.pending_deadline = deadline;
        self
    }

    /// Builder-style: a named rate budget.
    pub fn with_rate_budget(mut self, budget: RateBudget) -> Self {
        self.rate_budgets.push(budget);
        self
    }

    /// Builder-style: the correlation keys accounts carry.
    pub fn with_correlation_keys(mut self, keys: &[&str]) -> Self {
        self.correlation_keys = keys.iter().map(|k| (*k).to_owned()).collect();
        self
    }

    /// Builder-style: the profile fields the system keeps.
    pub fn with_profile_fields(mut self, fields: &[&str]) -> Self {
        self.profile_fields = fields.iter().map(|f| (*f).to_owned()).collect();
        self
    }

    /// Builder-style: an action the system cannot grant as configured, and what it
    /// needs (`credentials.bot_token (xoxb-, channels:write)`).
    pub fn with_unavailable_action(
        mut self,
        action: impl Into<String>,
        needs: impl Into<String>,
    ) -> Self {
        self.unavailable_actions.insert(action.into(), needs.into());
        self
    }

    /// The kind a policy action grants, if the system declares it.
    pub fn kind_for_action(&self, action: &str) -> Option<&ResourceKindDescriptor> {
        self.kinds
            .iter()
            .find(|k| k.actions.iter().any(|a| a == action))
    }

    /// The descriptor of one kind.
    pub fn kind(&self, kind: &str) -> Option<&ResourceKindDescriptor> {
        self.kinds.iter().find(|k| k.kind == kind)
    }
}

/// Each configured system's descriptor, by canonical name.
pub type Descriptors = std::collections::BTreeMap<crate::model::SystemName, SystemDescriptor>;
