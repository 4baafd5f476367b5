//! Accounts: an identity's presence in one system.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::entitlement::{Entitlement, SystemName};

/// The lifecycle state of an account in its system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccountState {
    /// Can sign in and use its grants.
    Active,
    /// Exists but is created/invited and not yet usable (Okta STAGED/PROVISIONED, pending invitation).
    Staged,
    /// Temporarily blocked; grants are kept.
    Suspended,
    /// Deactivated; the system may have removed its grants.
    Deprovisioned,
}

impl AccountState {
    /// True for states in which the account can (or will soon) sign in.
    pub fn is_enabled(self) -> bool {
        matches!(self, AccountState::Active | AccountState::Staged)
    }
}

/// How the SDK refers to an account when it asks a system to change it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountRef {
    /// The login the account is correlated by (the identity's login).
    pub login: String,
    /// The system's own id for the account, when known (from a read or from the
    /// create that made it). Adapters that need it and do not have it look it up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl AccountRef {
    /// A reference by login only.
    pub fn by_login(login: impl Into<String>) -> Self {
        Self {
            login: login.into(),
            external_id: None,
        }
    }
}

/// An account as an adapter reads it from its system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The system's own id.
    pub external_id: String,
    /// The login (or primary email) the SDK correlates with an identity's login.
    pub login: String,
    /// Lifecycle state.
    pub state: AccountState,
    /// Last sign-in, where the system reports it (for stale-access findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<DateTime<Utc>>,
    /// Profile attributes the system holds that the SDK may own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Correlation keys beyond the login, as the system's descriptor declares them
    /// ([`crate::adapter::SystemDescriptor::correlation_keys`]): `employee_id`,
    /// `account_id` (Jira), `user_id` (Slack), `username` (GitHub).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub correlation: BTreeMap<String, String>,
}

impl AccountRecord {
    /// An account with an id, a login and a state, and nothing else known.
    pub fn new(
        external_id: impl Into<String>,
        login: impl Into<String>,
        state: AccountState,
    ) -> Self {
        Self {
            external_id: external_id.into(),
            login: login.into(),
            state,
            last_login: None,
            attributes: BTreeMap::new(),
            correlation: BTreeMap::new(),
        }
    }

    /// Builder-style: a correlation key's value.
    pub fn with_correlation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.correlation.insert(key.into(), value.into());
        self
    }
}

/// A grant as an adapter reads it: which account holds which entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// The entitlement held (role included where the system has roles).
    pub entitlement: Entitlement,
    /// The system's id of the account that holds it.
    pub account_external_id: String,
    /// The holder's login, when the listing gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}

/// One resource of an enumerable kind, as [`crate::adapter::Adapter::list_resources`]
/// reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceRecord {
    /// The kind (`group`, `app`).
    pub kind: String,
    /// The resource's name as policies write it.
    pub resource: String,
    /// Where it applies, for scoped kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The system's own id for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The parent resource's name, for nested kinds (a GitLab subgroup's group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

impl ResourceRecord {
    /// A resource of `kind` named `resource`.
    pub fn new(kind: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            resource: resource.into(),
            scope: None,
            external_id: None,
            parent: None,
        }
    }

    /// Builder-style: the scope.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Builder-style: the system's id.
    pub fn with_external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Builder-style: the parent resource.
    pub fn with_parent(mut self, parent: impl Into<String>) -> Self {
        self.parent = Some(parent.into());
        self
    }
}

/// One system's accounts and grants as read in one pass.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SystemSnapshot {
    /// The system read.
    pub system: Option<SystemName>,
    /// Every account read.
    pub accounts: Vec<AccountRecord>,
    /// Every grant read on the resources policies mention.
    pub grants: Vec<GrantRecord>,
    /// When the read finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
}
