//! Account ids per identity and system: what a plan was made from, handed to the
//! adapters when it is applied.

use std::collections::BTreeMap;

use super::{ActualState, IdentityId, SystemName};

/// Account ids per identity and system, handed to the adapters in
/// [`super::AccountRef::external_id`].
///
/// Seed it from what was read ([`ExternalIds::from_actual`]); the executor adds the ids
/// that account creations return, so later operations of the same identity get them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalIds {
    ids: BTreeMap<(IdentityId, SystemName), String>,
}

impl ExternalIds {
    /// No ids known.
    pub fn new() -> Self {
        Self::default()
    }

    /// The ids of every account in an actual state.
    pub fn from_actual(actual: &ActualState) -> Self {
        let mut ids = Self::new();
        for (identity, actual_identity) in &actual.identities {
            for (system, account) in &actual_identity.accounts {
                ids.insert(
                    identity.clone(),
                    system.clone(),
                    account.external_id.clone(),
                );
            }
        }
        ids
    }

    /// Records one id.
    pub fn insert(&mut self, identity: IdentityId, system: SystemName, external_id: String) {
        self.ids.insert((identity, system), external_id);
    }

    /// The id of an identity's account in a system.
    pub fn get(&self, identity: &IdentityId, system: &SystemName) -> Option<&String> {
        self.ids.get(&(identity.clone(), system.clone()))
    }
}
