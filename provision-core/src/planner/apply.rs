//! A pure, in-memory application of a plan to an actual state: what the systems
//! would look like if every operation succeeded. Used to check convergence and
//! idempotence, and to preview a plan's effect.

use crate::adapter::{ResourceKindDescriptor, RoleModel};
use crate::model::{
    AccountRecord, AccountState, ActualAccount, ActualState, Entitlement, Operation, OperationKind,
    Plan,
};

use super::Descriptors;

/// Applies every operation of `plan`, in order, to a copy of `actual`, as the
/// simplest system would (one role per resource); see [`apply_with`].
pub fn apply(plan: &Plan, actual: &ActualState) -> ActualState {
    apply_with(plan, actual, &Descriptors::new())
}

/// Applies every operation of `plan`, in order, to a copy of `actual`, as systems
/// with these descriptors behave.
///
/// * `CreateAccount` adds an active account (external id `planned:<system>:<login>`)
///   with the profile's attributes and display name, and the grants it carries
///   ([`crate::model::AccountProfile::required_grants`]); `ReactivateAccount` makes
///   it active; `SuspendAccount` suspends it (grants stay); `DeleteAccount` removes
///   it and every grant in that system; `RevokeSessions` changes no state;
///   `UpdateAccount` sets the attributes given (others stay).
/// * `Grant` adds the entitlement. It replaces any other role on the same resource
///   unless the kind's roles are [`RoleModel::Multiple`], and any other grant of the
///   same kind where the kind is one per account. `Revoke` removes it.
pub fn apply_with(plan: &Plan, actual: &ActualState, descriptors: &Descriptors) -> ActualState {
    let mut state = actual.clone();
    for op in &plan.operations {
        apply_one(op, descriptors, &mut state);
    }
    state
}

/// Adds `e` to `grants` as a system of this kind does: what it replaces goes.
pub(crate) fn grant_into(
    grants: &mut std::collections::BTreeSet<Entitlement>,
    e: &Entitlement,
    kind: Option<&ResourceKindDescriptor>,
) {
    let multiple = kind.is_some_and(|k| k.role_model == RoleModel::Multiple);
    let one_per_account = kind.is_some_and(|k| k.one_per_account);
    grants.retain(|g| {
        if g.system != e.system || g.kind != e.kind {
            return true;
        }
        if one_per_account {
            return false;
        }
        let same_resource = g.resource == e.resource && g.scope == e.scope;
        !same_resource || multiple
    });
    grants.insert(e.clone());
}

fn apply_one(op: &Operation, descriptors: &Descriptors, state: &mut ActualState) {
    let kind_of = |e: &Entitlement| descriptors.get(&e.system)?.kind(&e.kind);
    let who = state.identities.entry(op.identity.clone()).or_default();
    match &op.kind {
        OperationKind::CreateAccount { profile } => {
            let external_id = format!("planned:{}:{}", op.system, profile.login);
            let mut attributes = profile.attributes.clone();
            attributes.insert("display_name".to_owned(), profile.display_name.clone());
            let mut record = AccountRecord::new(&external_id, &profile.login, AccountState::Active);
            record.attributes = attributes;
            for e in &profile.required_grants {
                grant_into(&mut who.grants, e, kind_of(e));
            }
            who.accounts.insert(
                op.system.clone(),
                ActualAccount {
                    external_id,
                    state: AccountState::Active,
                    record,
                },
            );
        }
        OperationKind::UpdateAccount { attributes } => {
            if let Some(a) = who.accounts.get_mut(&op.system) {
                a.record.attributes.extend(attributes.clone());
            }
        }
        OperationKind::ReactivateAccount => set_state(who, op, AccountState::Active),
        OperationKind::SuspendAccount => set_state(who, op, AccountState::Suspended),
        OperationKind::RevokeSessions => {}
        OperationKind::DeleteAccount => {
            who.accounts.remove(&op.system);
            who.grants.retain(|e| e.system != op.system);
        }
        OperationKind::Grant { entitlement } => {
            grant_into(&mut who.grants, entitlement, kind_of(entitlement));
        }
        OperationKind::Revoke { entitlement } => {
            who.grants.remove(entitlement);
        }
    }
}

fn set_state(who: &mut crate::model::ActualIdentity, op: &Operation, to: AccountState) {
    if let Some(a) = who.accounts.get_mut(&op.system) {
        a.state = to;
        a.record.state = to;
    }
}
