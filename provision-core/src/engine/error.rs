//! Why the engine could not be built, or could not plan, read or apply.

use crate::adapter::ConfigError as SystemConfigError;
use crate::adapter::ReadError;
use crate::config::ConfigError as DeploymentError;
use crate::executor::ExecutorError;
use crate::journal::JournalError;
use crate::orderer::CycleError;
use crate::planner::BlastRadiusExceeded;
use crate::policy::PolicyError;

/// Why the [`Engine`](super::Engine) stopped. Each variant keeps the underlying
/// error (with its file:line, system, variable or the system's own message); none
/// carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The builder was not given something it needs (`deployment`, `policies`).
    #[error("engine: no {what} given to the builder (call `.{what}(..)`)")]
    Incomplete {
        /// The missing part.
        what: &'static str,
    },
    /// `provision.yaml` is unreadable or wrong (file:line:column and field), or a
    /// dependency names a resource kind its system does not have.
    #[error("deployment: {0}")]
    Deployment(#[from] DeploymentError),
    /// A system cannot be configured: an unknown `adapter:` (naming the known ones), a
    /// bad setting, a missing credential (naming the variable or file expected).
    #[error("{0}")]
    System(#[from] SystemConfigError),
    /// A policy file is unreadable or wrong against what the systems understand.
    #[error("policies: {0}")]
    Policy(#[from] PolicyError),
    /// Reading a system failed.
    #[error("reading {0}")]
    Read(#[from] ReadError),
    /// The configured dependencies form a cycle.
    #[error("{0}")]
    Cycle(#[from] CycleError),
    /// The plan removes more access than the blast radius allows (nothing applied).
    #[error("{0}")]
    BlastRadius(#[from] BlastRadiusExceeded),
    /// The executor could not be built or could not run the plan.
    #[error("executor: {0}")]
    Executor(#[from] ExecutorError),
    /// The journal could not be read.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// A plan was refused for a person by a hook (see [`crate::gate`]): `by` names
    /// it, `source` is the refusal with the person and the hook's reason. Plans
    /// themselves never fail this way (a refusal holds back only the person it
    /// names, [`crate::planner::GuardedPlan::refusals`]); a caller that must have
    /// everyone's changes turns the first refusal into this error.
    #[error("refused by {by}: {source}")]
    Refused {
        /// The hook (or the rule family it enforces, `sod`).
        by: String,
        /// The refusal.
        #[source]
        source: crate::gate::Refusal,
    },
    /// A hook failed (its store could not be read): no plan was made.
    #[error("{0}")]
    Hook(#[from] crate::gate::HookError),
    /// The audit log could not record a refusal.
    #[error("audit log: {0}")]
    Audit(#[from] crate::audit::AuditError),
}

impl From<crate::gate::Refusal> for EngineError {
    fn from(refusal: crate::gate::Refusal) -> Self {
        EngineError::Refused {
            by: refusal.by.clone(),
            source: refusal,
        }
    }
}
