//! What a system understands, declared by its adapter and checked at policy load.

use serde::{Deserialize, Serialize};

/// One kind of resource a system has (`group`, `app`, `permission_set`, `channel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// role change is a revoke then a grant).
    #[serde(default)]
    pub role_change_in_place: bool,
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
}

/// What a system can do, declared by its adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        }
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
