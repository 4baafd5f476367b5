//! The dependency edges between a plan's operations.

use std::collections::HashMap;

use crate::adapter::Descriptors;
use crate::adapter::SystemDescriptor;
use crate::config::{CrossSystemDependency, DependencyTarget, DeploymentConfig};
use crate::model::{IdentityId, Operation, OperationKind, SystemName};

/// Edges as index pairs `(before, after)` into `operations`, sorted and without
/// duplicates.
///
/// Within one identity and system:
/// * account create/reactivate before every grant and profile update;
/// * a revocation of a role before the grant of another role on the same resource;
/// * sessions revoked before suspension, deletion and revocations;
/// * suspension and revocations before deletion;
/// * a grant of a kind with [prerequisites](crate::adapter::ResourceKindDescriptor::prerequisites)
///   after the grants of those kinds (Salesforce: the licence before the
///   permission set), where `descriptors` has the system's descriptor.
///
/// Across systems, for each `config.dependencies` entry and each identity: the
/// dependent system's create/reactivate/update/grant operations (only grants of
/// `kind` when set) wait for the other system's account create/reactivate
/// (`on: account`) or its grants (`on: grants`). Removals never wait on other
/// systems: leaver work is not held behind unrelated work.
pub(crate) fn edge_indices(
    operations: &[Operation],
    config: &DeploymentConfig,
    descriptors: &Descriptors,
) -> Vec<(usize, usize)> {
    let mut groups: HashMap<(&IdentityId, &SystemName), Vec<usize>> = HashMap::new();
    for (i, op) in operations.iter().enumerate() {
        groups
            .entry((&op.identity, &op.system))
            .or_default()
            .push(i);
    }
    let mut edges = Vec::new();
    for ((_, system), members) in &groups {
        within_account(operations, members, &mut edges);
        if let Some(descriptor) = descriptors.get(*system) {
            prerequisites(operations, descriptor, members, &mut edges);
        }
    }
    for dep in &config.dependencies {
        for ((identity, system), members) in &groups {
            if *system != &dep.system {
                continue;
            }
            let Some(prereq) = groups.get(&(*identity, &dep.depends_on)) else {
                continue;
            };
            cross_system(operations, dep, prereq, members, &mut edges);
        }
    }
    edges.sort_unstable();
    edges.dedup();
    edges
}

fn is_account_up(kind: &OperationKind) -> bool {
    matches!(
        kind,
        OperationKind::CreateAccount { .. } | OperationKind::ReactivateAccount
    )
}

fn is_build_up(kind: &OperationKind) -> bool {
    matches!(
        kind,
        OperationKind::CreateAccount { .. }
            | OperationKind::ReactivateAccount
            | OperationKind::UpdateAccount { .. }
            | OperationKind::Grant { .. }
    )
}

fn within_account(ops: &[Operation], members: &[usize], edges: &mut Vec<(usize, usize)>) {
    let find = |pred: fn(&OperationKind) -> bool| {
        members.iter().copied().filter(move |&i| pred(&ops[i].kind))
    };
    let account_up: Vec<usize> = find(is_account_up).collect();
    let sessions: Vec<usize> = find(|k| matches!(k, OperationKind::RevokeSessions)).collect();
    let deletes: Vec<usize> = find(|k| matches!(k, OperationKind::DeleteAccount)).collect();
    for &m in members {
        match &ops[m].kind {
            OperationKind::Grant { entitlement } => {
                edges.extend(account_up.iter().map(|&a| (a, m)));
                // Old role out before the new role goes in.
                for &r in members {
                    let same_resource = match &ops[r].kind {
                        OperationKind::Revoke { entitlement: old } => {
                            old.kind == entitlement.kind
                                && old.resource == entitlement.resource
                                && old.scope == entitlement.scope
                        }
                        _ => false,
                    };
                    if same_resource {
                        edges.push((r, m));
                    }
                }
            }
            OperationKind::UpdateAccount { .. } => {
                edges.extend(account_up.iter().map(|&a| (a, m)));
            }
            OperationKind::Revoke { .. } => {
                edges.extend(sessions.iter().map(|&s| (s, m)));
                edges.extend(deletes.iter().map(|&d| (m, d)));
            }
            OperationKind::SuspendAccount => {
                edges.extend(sessions.iter().map(|&s| (s, m)));
                edges.extend(deletes.iter().map(|&d| (m, d)));
            }
            OperationKind::DeleteAccount => {
                edges.extend(sessions.iter().map(|&s| (s, m)));
            }
            OperationKind::CreateAccount { .. }
            | OperationKind::ReactivateAccount
            | OperationKind::RevokeSessions => {}
        }
    }
}

/// Grants of a kind wait for the same person's grants of its prerequisite kinds
/// in the same system.
fn prerequisites(
    ops: &[Operation],
    descriptor: &SystemDescriptor,
    members: &[usize],
    edges: &mut Vec<(usize, usize)>,
) {
    if descriptor.kinds.iter().all(|k| k.prerequisites.is_empty()) {
        return;
    }
    for &m in members {
        let OperationKind::Grant { entitlement } = &ops[m].kind else {
            continue;
        };
        let Some(kind) = descriptor.kind(&entitlement.kind) else {
            continue;
        };
        if kind.prerequisites.is_empty() {
            continue;
        }
        for &p in members {
            if let OperationKind::Grant {
                entitlement: before,
            } = &ops[p].kind
                && p != m
                && kind.prerequisites.contains(&before.kind)
            {
                edges.push((p, m));
            }
        }
    }
}

fn cross_system(
    ops: &[Operation],
    dep: &CrossSystemDependency,
    prereq: &[usize],
    dependents: &[usize],
    edges: &mut Vec<(usize, usize)>,
) {
    let before: Vec<usize> = prereq
        .iter()
        .copied()
        .filter(|&i| match dep.on {
            DependencyTarget::Account => is_account_up(&ops[i].kind),
            DependencyTarget::Grants => matches!(ops[i].kind, OperationKind::Grant { .. }),
        })
        .collect();
    if before.is_empty() {
        return;
    }
    for &d in dependents {
        let kind = &ops[d].kind;
        let applies = match &dep.kind {
            None => is_build_up(kind),
            Some(k) => {
                matches!(kind, OperationKind::Grant { entitlement } if &entitlement.kind == k)
            }
        };
        if applies {
            edges.extend(before.iter().map(|&b| (b, d)));
        }
    }
}
