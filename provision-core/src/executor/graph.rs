//! The plan's dependency graph as the executor walks it: per operation, its system, what
//! it waits for, what waits for it, and the whole-list resource it changes (if any).
//!
//! The acyclicity check is the orderer's own topological sort
//! ([`crate::orderer::topological`]), so a cycle is named the same way at plan time and at
//! apply time.

use std::collections::HashMap;

use super::{Executor, ExecutorError};
use crate::model::{OperationId, OperationKind, Plan};

/// The plan's dependency graph, checked.
pub(crate) struct Graph {
    /// Per operation: its system (position in the executor's system map).
    pub(crate) system_of: Vec<usize>,
    /// Per operation: the operations it depends on.
    pub(crate) depends_on: Vec<Vec<usize>>,
    /// Per operation: the operations that depend on it.
    pub(crate) dependents: Vec<Vec<usize>>,
    /// Per operation: the resource whose membership is written as a whole list
    /// ([`crate::adapter::ResourceKindDescriptor::whole_list_membership`]) that it
    /// changes, as a number shared by every operation on that resource.
    pub(crate) list_resource: Vec<Option<usize>>,
    /// Per batched resource (by its number): most changes per `execute_batch`.
    pub(crate) batch_limit: Vec<usize>,
    /// Per batched resource: its membership is a whole list, so one request at a time.
    pub(crate) serial: Vec<bool>,
}

/// Most changes of one whole-list resource per `execute_batch` when the kind does not
/// say ([`crate::adapter::ResourceKindDescriptor::max_batch`]).
const DEFAULT_MAX_BATCH: usize = 100;

impl Graph {
    pub(crate) fn new(executor: &Executor, plan: &Plan) -> Result<Self, ExecutorError> {
        let names: Vec<_> = executor.systems.keys().collect();
        let entries: Vec<_> = executor.systems.values().collect();
        let mut list_resource = Vec::with_capacity(plan.operations.len());
        let mut batch_limit: Vec<usize> = Vec::new();
        let mut serial: Vec<bool> = Vec::new();
        let mut resources: HashMap<(usize, &str, &str, Option<&str>), usize> = HashMap::new();
        let mut index = HashMap::with_capacity(plan.operations.len());
        let mut system_of = Vec::with_capacity(plan.operations.len());
        for (i, op) in plan.operations.iter().enumerate() {
            if index.insert(&op.id, i).is_some() {
                return Err(ExecutorError::DuplicateOperation(op.id.clone()));
            }
            let sys = names.iter().position(|n| **n == op.system).ok_or_else(|| {
                ExecutorError::UnknownSystem {
                    operation: op.id.clone(),
                    system: op.system.clone(),
                }
            })?;
            system_of.push(sys);
            // Batched kinds: (most per batch, one request at a time).
            let batched = |kind: &str| {
                let k = entries[sys].adapter.descriptor().kind(kind)?;
                if k.whole_list_membership {
                    Some((k.max_batch.unwrap_or(DEFAULT_MAX_BATCH).max(1), true))
                } else {
                    k.max_batch.map(|n| (n.max(1), false))
                }
            };
            let list = match &op.kind {
                OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement } => {
                    batched(&entitlement.kind).map(|(limit, one_at_a_time)| {
                        let key = (
                            sys,
                            entitlement.kind.as_str(),
                            entitlement.resource.as_str(),
                            entitlement.scope.as_deref(),
                        );
                        let next = resources.len();
                        let n = *resources.entry(key).or_insert(next);
                        if n == batch_limit.len() {
                            batch_limit.push(limit);
                            serial.push(one_at_a_time);
                        }
                        n
                    })
                }
                _ => None,
            };
            list_resource.push(list);
        }
        let n = plan.operations.len();
        let mut depends_on = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        let mut edges = Vec::with_capacity(plan.dependencies.len());
        for dep in &plan.dependencies {
            let find = |id: &OperationId| {
                index
                    .get(id)
                    .copied()
                    .ok_or_else(|| ExecutorError::UnknownDependency {
                        before: dep.before.clone(),
                        after: dep.after.clone(),
                        missing: id.clone(),
                    })
            };
            let before = find(&dep.before)?;
            let after = find(&dep.after)?;
            if !depends_on[after].contains(&before) {
                depends_on[after].push(before);
                dependents[before].push(after);
                edges.push((before, after));
            }
        }
        crate::orderer::topological(&plan.operations, &edges).map_err(ExecutorError::Cycle)?;
        Ok(Self {
            system_of,
            depends_on,
            dependents,
            list_resource,
            batch_limit,
            serial,
        })
    }
}
