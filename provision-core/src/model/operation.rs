//! Operations: the single changes a plan is made of.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::entitlement::{Entitlement, SystemName};
use super::identity::IdentityId;

/// A stable, deterministic id for an operation within a plan, e.g.
/// `e1001/okta/grant/group/engineering-team`. Planning the same change twice
/// gives the same id, which is what makes journals and resumes work.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OperationId(pub String);

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The profile a new account is created with, taken from the identity.
///
/// Build it with [`AccountProfile::new`] and the builder methods (or `..Default::default()`),
/// so that a field added later breaks no caller.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountProfile {
    /// Login (correlation key).
    pub login: String,
    /// Work email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// HR attributes an adapter may map onto profile fields (by its configuration).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Grants the account cannot be created without, taken from the person's policies
    /// (kinds marked [`required_at_create`](crate::adapter::ResourceKindDescriptor::required_at_create):
    /// the Salesforce profile). The create carries them; the planner plans no separate
    /// grant for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_grants: Vec<Entitlement>,
}

impl AccountProfile {
    /// A profile with a login, an email and a display name, and nothing else.
    pub fn new(
        login: impl Into<String>,
        email: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        Self {
            login: login.into(),
            email: email.into(),
            display_name: display_name.into(),
            attributes: BTreeMap::new(),
            required_grants: Vec::new(),
        }
    }

    /// Builder-style: the HR attributes.
    pub fn with_attributes(mut self, attributes: BTreeMap<String, String>) -> Self {
        self.attributes = attributes;
        self
    }

    /// Builder-style: a grant the create must carry.
    pub fn with_required_grant(mut self, entitlement: Entitlement) -> Self {
        self.required_grants.push(entitlement);
        self
    }
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum OperationKind {
    /// Create the identity's account.
    CreateAccount {
        /// The profile to create it with.
        profile: AccountProfile,
    },
    /// Update profile attributes the SDK owns.
    UpdateAccount {
        /// Attributes to set.
        attributes: BTreeMap<String, String>,
    },
    /// Re-enable a suspended or deprovisioned account (rehire, return from leave).
    ReactivateAccount,
    /// End every session (and token) of the account. Leavers: before suspension.
    RevokeSessions,
    /// Block sign-in, keeping the account (and in most systems its grants).
    SuspendAccount,
    /// Delete the account (only where configured).
    DeleteAccount,
    /// Give an entitlement.
    Grant {
        /// What.
        entitlement: Entitlement,
    },
    /// Take an entitlement away.
    Revoke {
        /// What.
        entitlement: Entitlement,
    },
}

impl OperationKind {
    /// A short verb for ids, logs and reports.
    pub fn verb(&self) -> &'static str {
        match self {
            OperationKind::CreateAccount { .. } => "create_account",
            OperationKind::UpdateAccount { .. } => "update_account",
            OperationKind::ReactivateAccount => "reactivate_account",
            OperationKind::RevokeSessions => "revoke_sessions",
            OperationKind::SuspendAccount => "suspend_account",
            OperationKind::DeleteAccount => "delete_account",
            OperationKind::Grant { .. } => "grant",
            OperationKind::Revoke { .. } => "revoke",
        }
    }

    /// True for operations that take access away (counted by the blast-radius guard).
    pub fn is_removal(&self) -> bool {
        matches!(
            self,
            OperationKind::RevokeSessions
                | OperationKind::SuspendAccount
                | OperationKind::DeleteAccount
                | OperationKind::Revoke { .. }
        )
    }

    /// The entitlement, for grants and revocations.
    pub fn entitlement(&self) -> Option<&Entitlement> {
        match self {
            OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement } => {
                Some(entitlement)
            }
            _ => None,
        }
    }
}

/// Why an operation is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonKind {
    /// A policy gives it and the system lacks it.
    PolicyGrant,
    /// No policy gives it any more (attribute change, policy removed).
    PolicyRemoved,
    /// The identity is terminated.
    Termination,
    /// The identity came back (rehire, return from leave).
    Reactivation,
    /// A grant's validity window ended.
    Expired,
    /// Present in the system, given by no policy, and the system is authoritative.
    UnmanagedGrant,
    /// Fixing drift found by a drift run.
    DriftRemediation,
    /// Profile attributes differ from the HR source.
    ProfileSync,
    /// A policy gives it, and granting it replaces, in one change, what the person
    /// holds on the same resource (another role of an
    /// [ordered](crate::adapter::RoleModel::Ordered) kind, or of a kind changed in
    /// place) or of the same [one-per-account](crate::adapter::ResourceKindDescriptor::one_per_account)
    /// kind (another org unit, another profile). The system drops the old one by
    /// itself; no revoke of it is planned. The reason's detail names what it replaces
    /// ("replaces developer on gitlab/group/eng").
    Replacement,
}

/// The reason for an operation: kind, the policies involved and the triggering event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// What kind of reason.
    pub kind: ReasonKind,
    /// Policies that give (or gave) the entitlement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// The event that triggered the run (an HR event id, "nightly reconcile").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// A sentence for people: "policy 'Senior Engineer Access' matched department=Engineering".
    pub detail: String,
    /// For a grant: when the policies' validity window ends, so that a system that can
    /// enforce an end date itself (GitLab's `expires_at`) is told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<chrono::DateTime<chrono::Utc>>,
}

/// Scheduling priority. Leaver work goes first everywhere.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Ordinary joiner/mover work.
    #[default]
    Normal,
    /// Leaver work: session revocation, suspension, revocations of a terminated identity.
    Leaver,
}

/// One change in one system for one identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Deterministic id.
    pub id: OperationId,
    /// Whose access changes.
    pub identity: IdentityId,
    /// The identity's login (for adapters that address accounts by login).
    pub login: String,
    /// Where.
    pub system: SystemName,
    /// What.
    pub kind: OperationKind,
    /// Why.
    pub reason: Reason,
    /// Scheduling priority.
    #[serde(default)]
    pub priority: Priority,
}

impl Operation {
    /// The conventional deterministic id for an operation: identity/system/verb[/entitlement].
    pub fn make_id(
        identity: &IdentityId,
        system: &SystemName,
        kind: &OperationKind,
    ) -> OperationId {
        let mut id = format!("{identity}/{system}/{}", kind.verb());
        if let Some(e) = kind.entitlement() {
            id.push('/');
            id.push_str(&e.kind);
            id.push('/');
            id.push_str(&e.resource);
            if let Some(scope) = &e.scope {
                id.push('@');
                id.push_str(scope);
            }
            if let Some(role) = &e.role {
                id.push('#');
                id.push_str(role);
            }
        }
        OperationId(id)
    }
}
