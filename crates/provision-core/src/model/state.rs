//! Desired and actual state, keyed by identity.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::account::{AccountRecord, AccountState};
use super::entitlement::{Entitlement, ResourceRef, SystemName, Validity};
use super::identity::{Identity, IdentityId};

/// Why an identity should hold an entitlement: the answer to "why does Sarah have this?".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Provenance {
    /// The policy that grants it.
    pub policy: String,
    /// The identity's attribute values that made the policy match.
    pub matched: BTreeMap<String, String>,
}

/// An entitlement an identity should hold, with every policy that gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredGrant {
    /// The entitlement.
    pub entitlement: Entitlement,
    /// Every policy that gives it, with the matching attribute values.
    pub provenance: Vec<Provenance>,
    /// The union of the policies' validity windows that apply (when several
    /// policies give it, the widest window).
    pub validity: Validity,
}

/// What one identity should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredIdentity {
    /// The identity as the HR source gave it.
    pub identity: Identity,
    /// Systems in which the identity needs an account (those with accounts of their
    /// own in which some grant applies).
    pub accounts: BTreeSet<SystemName>,
    /// Grants keyed by entitlement.
    pub grants: BTreeMap<Entitlement, DesiredGrant>,
    /// Grants a matching policy gave whose validity window has ended: not desired,
    /// kept so the planner can revoke them with reason `Expired` and name the policy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expired: BTreeMap<Entitlement, DesiredGrant>,
}

/// What every identity should have.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DesiredState {
    /// Per identity.
    pub identities: BTreeMap<IdentityId, DesiredIdentity>,
    /// Every resource some policy mentions (whether or not anyone matches it now):
    /// the resources whose membership the SDK manages. A grant on one of them that
    /// no policy gives is revoked even under `additive` enforcement (the policy no
    /// longer gives it); a grant elsewhere is manual and revoked only under
    /// `authoritative`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub managed_resources: BTreeSet<ResourceRef>,
}

impl DesiredState {
    /// "Why does this identity have this entitlement?": the policies and attribute values, if any.
    pub fn why(&self, identity: &IdentityId, entitlement: &Entitlement) -> Option<&[Provenance]> {
        self.identities
            .get(identity)?
            .grants
            .get(entitlement)
            .map(|g| g.provenance.as_slice())
    }
}

/// An identity's account in one system, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualAccount {
    /// The system's id.
    pub external_id: String,
    /// Lifecycle state.
    pub state: AccountState,
    /// The full record as read.
    pub record: AccountRecord,
}

/// What one identity has, as read from the systems.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActualIdentity {
    /// Accounts per system.
    pub accounts: BTreeMap<SystemName, ActualAccount>,
    /// Grants held (across systems).
    pub grants: BTreeSet<Entitlement>,
}

/// What the systems say, correlated to identities.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActualState {
    /// Per known identity.
    pub identities: BTreeMap<IdentityId, ActualIdentity>,
    /// Accounts that match no identity (orphans), per system.
    pub unmatched_accounts: BTreeMap<SystemName, Vec<AccountRecord>>,
}
