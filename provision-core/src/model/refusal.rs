//! A refusal of a plan for one person (by a hook of the gate, `crate::gate`): the
//! person, who refused, why, and the operations held back.

use std::sync::Arc;

use super::{IdentityId, OperationId};

/// A plan refused for one person by a hook: that person's operations are held back
/// (listed in `held_back`, with whatever depended on them); everyone else's go
/// ahead.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{identity}: refused by {by}: {reason}")]
pub struct Refusal {
    /// The person refused.
    pub identity: IdentityId,
    /// Who refused: the hook, or the rule family it enforces (`sod`).
    pub by: String,
    /// Why, as the hook words it (the rule and both grants of a conflict).
    #[source]
    pub reason: Arc<dyn std::error::Error + Send + Sync>,
    /// The operations held back (filled in by the Engine).
    pub held_back: Vec<OperationId>,
}

impl Refusal {
    /// A refusal of `identity`'s changes by `by`, for `reason`.
    pub fn new(
        identity: IdentityId,
        by: impl Into<String>,
        reason: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            identity,
            by: by.into(),
            reason: Arc::new(reason),
            held_back: Vec::new(),
        }
    }

    /// The reason, as its own type (`provision_governance::SodConflict`), when it is
    /// one.
    pub fn reason_as<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let reason: &(dyn std::error::Error + 'static) = &*self.reason;
        reason.downcast_ref::<E>()
    }
}
