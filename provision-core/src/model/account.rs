//! Accounts: an identity's presence in one system.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::entitlement::{Entitlement, SystemName};

/// The lifecycle state of an account in its system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
