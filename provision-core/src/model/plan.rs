//! Plans: operations plus the dependency edges between them.

use serde::{Deserialize, Serialize};

use super::operation::{Operation, OperationId};

/// `before` must succeed before `after` may start.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dependency {
    /// Runs first.
    pub before: OperationId,
    /// Runs only after `before` succeeded.
    pub after: OperationId,
}

/// The operations that move actual to desired, with their dependency edges.
///
/// Operation ids are unique within a plan. Edges are added by the orderer
/// (`crate::orderer`); a plan straight from the planner may have none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    /// Operations, in the orderer's order once ordered.
    pub operations: Vec<Operation>,
    /// Dependency edges.
    pub dependencies: Vec<Dependency>,
}

impl Plan {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// The operation with this id.
    pub fn get(&self, id: &OperationId) -> Option<&Operation> {
        self.operations.iter().find(|o| &o.id == id)
    }
}
