//! Holding back the operations of refused people, and whatever depends on them.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{IdentityId, OperationId, Plan};

use super::Refusal;

/// Removes from `plan` every operation of a refused person, and every operation
/// that depends (transitively) on one removed; fills in each refusal's
/// `held_back`. Refusals of one person are merged into the first (the later ones
/// keep their reasons, with no operations). A refusal whose person has no
/// operation in the plan is kept: it is still reported.
pub fn hold_back(plan: &mut Plan, refusals: &mut [Refusal]) {
    if refusals.is_empty() {
        return;
    }
    let refused: BTreeSet<&IdentityId> = refusals.iter().map(|r| &r.identity).collect();
    let mut removed: BTreeMap<OperationId, IdentityId> = plan
        .operations
        .iter()
        .filter(|op| refused.contains(&op.identity))
        .map(|op| (op.id.clone(), op.identity.clone()))
        .collect();
    // Dependents of what is held back cannot run either: they are held back with
    // the refusal that held back what they wait for.
    loop {
        let before = removed.len();
        for dep in &plan.dependencies {
            if let Some(owner) = removed.get(&dep.before).cloned() {
                removed.entry(dep.after.clone()).or_insert(owner);
            }
        }
        if removed.len() == before {
            break;
        }
    }
    let mut first: BTreeMap<IdentityId, usize> = BTreeMap::new();
    for (i, r) in refusals.iter().enumerate() {
        first.entry(r.identity.clone()).or_insert(i);
    }
    for op in &plan.operations {
        if let Some(owner) = removed.get(&op.id)
            && let Some(&i) = first.get(owner)
        {
            refusals[i].held_back.push(op.id.clone());
        }
    }
    plan.operations.retain(|op| !removed.contains_key(&op.id));
    plan.dependencies
        .retain(|d| !removed.contains_key(&d.before) && !removed.contains_key(&d.after));
}
