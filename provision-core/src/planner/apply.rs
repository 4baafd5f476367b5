//! A pure, in-memory application of a plan to an actual state: what the systems
//! would look like if every operation succeeded. Used to check convergence and
//! idempotence, and to preview a plan's effect.

use std::collections::BTreeMap;

use crate::model::{
    AccountRecord, AccountState, ActualAccount, ActualState, Operation, OperationKind, Plan,
};

/// Applies every operation of `plan`, in order, to a copy of `actual`.
///
/// * `CreateAccount` adds an active account (external id `planned:<system>:<login>`);
///   `ReactivateAccount` makes it active; `SuspendAccount` suspends it (grants
///   stay); `DeleteAccount` removes it and every grant in that system;
///   `RevokeSessions` changes no state; `UpdateAccount` sets the attributes.
/// * `Grant` adds the entitlement, replacing any other role on the same resource
///   (a person holds at most one role on a resource); `Revoke` removes it.
pub fn apply(plan: &Plan, actual: &ActualState) -> ActualState {
    let mut state = actual.clone();
    for op in &plan.operations {
        apply_one(op, &mut state);
    }
    state
}

fn apply_one(op: &Operation, state: &mut ActualState) {
    let who = state.identities.entry(op.identity.clone()).or_default();
    match &op.kind {
        OperationKind::CreateAccount { profile } => {
            let external_id = format!("planned:{}:{}", op.system, profile.login);
            let record = AccountRecord {
                external_id: external_id.clone(),
                login: profile.login.clone(),
                state: AccountState::Active,
                last_login: None,
                attributes: BTreeMap::new(),
                correlation: Default::default(),
            };
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
            who.grants.retain(|e| {
                !(e.system == entitlement.system
                    && e.kind == entitlement.kind
                    && e.resource == entitlement.resource
                    && e.scope == entitlement.scope)
            });
            who.grants.insert(entitlement.clone());
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
