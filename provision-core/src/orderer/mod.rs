//! The orderer: a plan's operations as a DAG, in a stable topological order.
//!
//! Edges (see [`dependencies`]): within an identity and system, the account is
//! created or reactivated before its grants, sessions are revoked before
//! suspension, suspension before deletion, a kind's prerequisite grants first
//! (with descriptors, [`order_with`]); across systems, the dependencies
//! declared in configuration. The order is Kahn's algorithm with a priority
//! queue: among the operations that are ready, a leaver's session revocations,
//! then suspensions, then the rest of leaver work, then everything else; ties by
//! smallest id. A cycle is an error naming the operations and systems in it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use serde::{Deserialize, Serialize};

use crate::adapter::Descriptors;
use crate::config::DeploymentConfig;
use crate::model::{Dependency, Operation, OperationId, OperationKind, Plan, Priority, SystemName};

mod edges;

/// Operations that wait on each other in a circle: no order can satisfy them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error(
    "dependency cycle between operations {} (systems: {}); check the cross-system dependencies in the configuration",
    cycle_text(.operations),
    list_text(.systems)
)]
pub struct CycleError {
    /// The operations in the cycle, each depending on the one before it; the first
    /// depends on the last.
    pub operations: Vec<OperationId>,
    /// The systems those operations are in.
    pub systems: Vec<SystemName>,
}

/// Cross-system dependencies in the configuration that form a cycle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error(
    "cross-system dependencies form a cycle: {}; no order of work can satisfy them",
    cycle_text(.systems)
)]
pub struct DependencyCycle {
    /// The systems in the cycle, each depending on the one before it; the first
    /// depends on the last.
    pub systems: Vec<SystemName>,
}

fn cycle_text<T: std::fmt::Display>(items: &[T]) -> String {
    let mut parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    if let Some(first) = items.first() {
        parts.push(first.to_string());
    }
    parts.join(" -> ")
}

fn list_text<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The dependency edges of `plan` under `config`, sorted; see the module docs.
/// Without descriptors: no prerequisite edges (see [`dependencies_with`]).
pub fn dependencies(plan: &Plan, config: &DeploymentConfig) -> Vec<Dependency> {
    dependencies_with(plan, config, &Descriptors::new())
}

/// The dependency edges of `plan` under `config` and the systems' descriptors
/// (which add the edges between kinds with prerequisites), sorted.
pub fn dependencies_with(
    plan: &Plan,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
) -> Vec<Dependency> {
    let mut deps: Vec<Dependency> = edges::edge_indices(&plan.operations, config, descriptors)
        .into_iter()
        .map(|(b, a)| Dependency {
            before: plan.operations[b].id.clone(),
            after: plan.operations[a].id.clone(),
        })
        .collect();
    deps.sort();
    deps
}

/// Orders `plan` without descriptors (no prerequisite edges inside a system); see
/// [`order_with`].
pub fn order(plan: Plan, config: &DeploymentConfig) -> Result<Plan, CycleError> {
    order_with(plan, config, &Descriptors::new())
}

/// Orders `plan`: computes its edges (keeping any it already had between its
/// operations; with `descriptors`, also a kind's prerequisites inside a system) and
/// returns it with the operations in topological order and the edges in
/// [`Plan::dependencies`].
pub fn order_with(
    plan: Plan,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
) -> Result<Plan, CycleError> {
    let _span = tracing::debug_span!("order", operations = plan.operations.len()).entered();
    let Plan {
        operations,
        dependencies: given,
    } = plan;
    let mut index: HashMap<&OperationId, usize> = HashMap::with_capacity(operations.len());
    for (i, op) in operations.iter().enumerate() {
        index.entry(&op.id).or_insert(i);
    }
    let mut edges = edges::edge_indices(&operations, config, descriptors);
    edges.extend(
        given
            .iter()
            .filter_map(|d| Some((*index.get(&d.before)?, *index.get(&d.after)?))),
    );
    edges.sort_unstable();
    edges.dedup();
    drop(index);

    let order = topological(&operations, &edges)?;
    let mut dependencies: Vec<Dependency> = edges
        .iter()
        .map(|&(b, a)| Dependency {
            before: operations[b].id.clone(),
            after: operations[a].id.clone(),
        })
        .collect();
    dependencies.sort();
    let mut slots: Vec<Option<Operation>> = operations.into_iter().map(Some).collect();
    let operations = order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect();
    Ok(Plan {
        operations,
        dependencies,
    })
}

/// Scheduling class among ready operations: a leaver's session revocations, then
/// suspensions, then the rest of leaver work, then everything else.
fn class(op: &Operation) -> u8 {
    match (op.priority, &op.kind) {
        (Priority::Leaver, OperationKind::RevokeSessions) => 0,
        (Priority::Leaver, OperationKind::SuspendAccount) => 1,
        (Priority::Leaver, _) => 2,
        (Priority::Normal, _) => 3,
    }
}

/// Kahn's algorithm; among ready operations the lowest [`class`] goes first, then
/// the smallest id.
pub(crate) fn topological(
    operations: &[Operation],
    edges: &[(usize, usize)],
) -> Result<Vec<usize>, CycleError> {
    let n = operations.len();
    // Rank of each operation in id order, for the tie-break.
    let mut by_id: Vec<usize> = (0..n).collect();
    by_id.sort_by(|&a, &b| operations[a].id.cmp(&operations[b].id));
    let mut rank = vec![0usize; n];
    for (r, &i) in by_id.iter().enumerate() {
        rank[i] = r;
    }
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(b, a) in edges {
        out_edges[b].push(a);
        indegree[a] += 1;
    }
    let key = |i: usize| Reverse((class(&operations[i]), rank[i], i));
    let mut ready: BinaryHeap<Reverse<(u8, usize, usize)>> =
        (0..n).filter(|&i| indegree[i] == 0).map(key).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse((_, _, i))) = ready.pop() {
        order.push(i);
        for &next in &out_edges[i] {
            indegree[next] -= 1;
            if indegree[next] == 0 {
                ready.push(key(next));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    Err(name_cycle(operations, edges, &indegree))
}

/// Finds one cycle among the operations Kahn's algorithm could not place.
fn name_cycle(
    operations: &[Operation],
    edges: &[(usize, usize)],
    indegree: &[usize],
) -> CycleError {
    // Every unplaced node has an unplaced predecessor: walk predecessors until one repeats.
    let mut pred: BTreeMap<usize, usize> = BTreeMap::new();
    for &(b, a) in edges {
        if indegree[a] > 0 && indegree[b] > 0 {
            pred.entry(a).or_insert(b);
        }
    }
    let start = (0..operations.len())
        .find(|&i| indegree[i] > 0)
        .unwrap_or(0);
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut walk = Vec::new();
    let mut at = start;
    while let Some(&p) = pred.get(&at) {
        if let Some(&pos) = seen.get(&at) {
            let mut cycle: Vec<usize> = walk[pos..].to_vec();
            cycle.reverse();
            return cycle_error(operations, &cycle);
        }
        seen.insert(at, walk.len());
        walk.push(at);
        at = p;
    }
    cycle_error(operations, &walk)
}

fn cycle_error(operations: &[Operation], cycle: &[usize]) -> CycleError {
    // Start the cycle at its smallest id, for a stable message.
    let start = cycle
        .iter()
        .enumerate()
        .min_by(|a, b| operations[*a.1].id.cmp(&operations[*b.1].id))
        .map_or(0, |(pos, _)| pos);
    let rotated: Vec<usize> = cycle[start..]
        .iter()
        .chain(&cycle[..start])
        .copied()
        .collect();
    let systems: BTreeSet<SystemName> = rotated
        .iter()
        .map(|&i| operations[i].system.clone())
        .collect();
    CycleError {
        operations: rotated.iter().map(|&i| operations[i].id.clone()).collect(),
        systems: systems.into_iter().collect(),
    }
}

/// Checks the configuration's cross-system dependencies for a cycle (at load
/// time, before any plan exists). A system depending on itself is a cycle.
pub fn check_dependency_cycles(config: &DeploymentConfig) -> Result<(), DependencyCycle> {
    // Edges depends_on -> system ("must come before").
    let mut next: BTreeMap<&SystemName, BTreeSet<&SystemName>> = BTreeMap::new();
    for dep in &config.dependencies {
        next.entry(&dep.depends_on).or_default().insert(&dep.system);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let nodes: BTreeSet<&SystemName> = next
        .iter()
        .flat_map(|(k, v)| std::iter::once(*k).chain(v.iter().copied()))
        .collect();
    let mut mark: BTreeMap<&SystemName, Mark> = nodes.iter().map(|n| (*n, Mark::New)).collect();
    for &root in &nodes {
        if mark.get(root) != Some(&Mark::New) {
            continue;
        }
        // Iterative DFS keeping the current path.
        let mut path: Vec<&SystemName> = vec![root];
        let mut stack: Vec<Vec<&SystemName>> = vec![
            next.get(root)
                .map(|s| s.iter().rev().copied().collect())
                .unwrap_or_default(),
        ];
        mark.insert(root, Mark::OnPath);
        while let Some(children) = stack.last_mut() {
            match children.pop() {
                Some(child) => match mark.get(child).copied().unwrap_or(Mark::New) {
                    Mark::OnPath => {
                        let pos = path.iter().position(|s| *s == child).unwrap_or(0);
                        return Err(DependencyCycle {
                            systems: path[pos..].iter().map(|s| (*s).clone()).collect(),
                        });
                    }
                    Mark::Done => {}
                    Mark::New => {
                        mark.insert(child, Mark::OnPath);
                        path.push(child);
                        stack.push(
                            next.get(child)
                                .map(|s| s.iter().rev().copied().collect())
                                .unwrap_or_default(),
                        );
                    }
                },
                None => {
                    stack.pop();
                    if let Some(done) = path.pop() {
                        mark.insert(done, Mark::Done);
                    }
                }
            }
        }
    }
    Ok(())
}
