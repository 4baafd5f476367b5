//! A hook's refusal of a plan for one person, and a hook's own failure.

use std::sync::Arc;

use crate::model::{IdentityId, OperationId};

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

/// A hook could not do its part (its store failed): the plan is not made.
#[derive(Debug, thiserror::Error)]
#[error("{hook}: {source}")]
pub struct HookError {
    /// The hook.
    pub hook: String,
    /// What failed, with the hook's own error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl HookError {
    /// A failure of `hook`.
    pub fn new(
        hook: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            hook: hook.into(),
            source: source.into(),
        }
    }
}
