//! The documented exit codes and the command's error type.

use std::process::ExitCode;

/// How a command ended, as its exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: nothing to do, or done.
    Success,
    /// 2: changes pending (a plan with operations, a simulation with gains or losses,
    /// drift findings, `why` with no policy giving it).
    Pending,
    /// 3: the deployment, the policies or the roster are invalid.
    Invalid,
    /// 4: the plan was refused: over the blast radius, stale, or not confirmed.
    Refused,
    /// 5: applied in part: some operations failed or were skipped.
    PartialFailure,
    /// 6: the audit chain is broken.
    AuditBroken,
}

impl Outcome {
    /// The exit code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Pending => 2,
            Outcome::Invalid => 3,
            Outcome::Refused => 4,
            Outcome::PartialFailure => 5,
            Outcome::AuditBroken => 6,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

/// Exit code 1: an error that is not one of the documented outcomes.
pub const ERROR: u8 = 1;

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The deployment, policies or roster are wrong (exit 3).
    #[error("{0}")]
    Invalid(String),
    /// The plan was refused (exit 4).
    #[error("{0}")]
    Refused(String),
    /// The engine stopped (reading a system, the journal, ...).
    #[error("{0}")]
    Engine(#[from] provision_core::engine::EngineError),
    /// The store (journal and audit log) failed.
    #[error("store: {0}")]
    Store(#[from] provision_store::StoreError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Something else, with its message.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        CliError::Io {
            path: path.to_string(),
            source,
        }
    }

    /// The exit code for this error.
    pub fn code(&self) -> u8 {
        use provision_core::engine::EngineError as E;
        match self {
            CliError::Invalid(_) => Outcome::Invalid.code(),
            CliError::Refused(_) => Outcome::Refused.code(),
            CliError::Engine(E::Deployment(_) | E::Policy(_) | E::Cycle(_) | E::System(_)) => {
                Outcome::Invalid.code()
            }
            CliError::Engine(E::BlastRadius(_) | E::Refused { .. }) => Outcome::Refused.code(),
            _ => ERROR,
        }
    }
}

/// What a command returns.
pub type CliResult = Result<Outcome, CliError>;
