//! Why the engine could not be built, or could not plan, read or apply.

use crate::adapter::ReadError;
use crate::adapter::factory::ConfigError as SystemConfigError;
use crate::config::load::ConfigError as DeploymentError;
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
    /// The plan would create separation-of-duties conflicts no active exception
    /// covers: each names the person, the rule and the grants (nothing applied).
    #[error("{0}")]
    SodRefused(#[from] crate::governance::SodRefusal),
    /// The governance store or audit log failed while planning.
    #[error("governance: {0}")]
    Governance(Box<crate::governance::GovernanceError>),
}
