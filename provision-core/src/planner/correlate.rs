//! Correlation: what the systems returned, attached to the identities it belongs to.

use std::collections::{BTreeMap, HashMap};

use crate::model::{
    AccountRecord, ActualAccount, ActualIdentity, ActualState, Identity, IdentityId, SystemName,
    SystemSnapshot,
};

/// Builds the actual state from one snapshot per system and the HR identities.
///
/// * An account belongs to the identity whose login, or else whose email, equals
///   the account's login, compared case-insensitively (`Sarah@Company.com` is
///   `sarah@company.com`). When several accounts of one system match one
///   identity, the first in the snapshot is kept and the others are orphans.
/// * A grant belongs to the identity that owns the account with the grant's
///   `account_external_id` in the same system; failing that, to the identity
///   whose login or email equals the grant's `login` (or its account id, for
///   systems whose members are addressed by email), case-insensitively.
/// * Accounts that match no identity are kept in
///   [`ActualState::unmatched_accounts`] (orphans, for drift and access reviews).
///   Grants that match no identity are dropped.
///
/// Every identity given gets an entry, even with nothing in any system.
pub fn correlate(
    identities: &[Identity],
    snapshots: &BTreeMap<SystemName, SystemSnapshot>,
) -> ActualState {
    let index = LoginIndex::new(identities);
    let mut state = ActualState {
        identities: identities
            .iter()
            .map(|i| (i.id.clone(), ActualIdentity::default()))
            .collect(),
        unmatched_accounts: BTreeMap::new(),
    };
    for (system, snapshot) in snapshots {
        let mut owner_by_account: HashMap<&str, &IdentityId> = HashMap::new();
        for record in &snapshot.accounts {
            let matched = index.find(&record.login).and_then(|id| {
                let entry = state.identities.get_mut(id)?;
                if entry.accounts.contains_key(system) {
                    return None;
                }
                entry
                    .accounts
                    .insert(system.clone(), actual_account(record));
                Some(id)
            });
            match matched {
                Some(id) => {
                    owner_by_account.insert(record.external_id.as_str(), id);
                }
                None => state
                    .unmatched_accounts
                    .entry(system.clone())
                    .or_default()
                    .push(record.clone()),
            }
        }
        for grant in &snapshot.grants {
            let owner = owner_by_account
                .get(grant.account_external_id.as_str())
                .copied()
                .or_else(|| grant.login.as_deref().and_then(|l| index.find(l)))
                .or_else(|| index.find(&grant.account_external_id));
            if let Some(entry) = owner.and_then(|id| state.identities.get_mut(id)) {
                entry.grants.insert(grant.entitlement.clone());
            }
        }
    }
    state
}

fn actual_account(record: &AccountRecord) -> ActualAccount {
    ActualAccount {
        external_id: record.external_id.clone(),
        state: record.state,
        record: record.clone(),
    }
}

/// Lower-cased login and email to identity; logins win over emails.
struct LoginIndex<'a> {
    by_login: HashMap<String, &'a IdentityId>,
    by_email: HashMap<String, &'a IdentityId>,
}

impl<'a> LoginIndex<'a> {
    fn new(identities: &'a [Identity]) -> Self {
        let mut by_login = HashMap::with_capacity(identities.len());
        let mut by_email = HashMap::with_capacity(identities.len());
        for identity in identities {
            by_login
                .entry(identity.login.to_lowercase())
                .or_insert(&identity.id);
            by_email
                .entry(identity.email.to_lowercase())
                .or_insert(&identity.id);
        }
        Self { by_login, by_email }
    }

    fn find(&self, login: &str) -> Option<&'a IdentityId> {
        let key = login.to_lowercase();
        self.by_login
            .get(&key)
            .or_else(|| self.by_email.get(&key))
            .copied()
    }
}
