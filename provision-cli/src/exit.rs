//! The documented exit codes and the command's error type.

use std::process::ExitCode;

/// How a command ended, as its exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: nothing to do, or done.
    Success,
    /// 1: an error, already reported on standard error (an unreadable file among the
    /// problems `validate` lists).
    Error,
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
            Outcome::Error => ERROR,
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
            // A file that cannot be read is an error (1), not an invalid one (3).
            CliError::Engine(e) if unreadable(e) => ERROR,
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

/// Whether the engine stopped because the deployment or a policy file could not be
/// read (exit 1), rather than because one is wrong (exit 3).
pub fn unreadable(e: &provision_core::engine::EngineError) -> bool {
    use provision_core::engine::EngineError as E;
    matches!(
        e,
        E::Deployment(provision_core::config::ConfigError::Io { .. })
            | E::Policy(provision_core::policy::PolicyError::Io { .. })
    )
}

/// Whether `e` is, or was caused by, writing to a pipe whose reader has gone
/// (`provision audit export | head`): the command then ends quietly.
pub fn is_broken_pipe(e: &CliError) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            // A JSON or CSV writer's error wrapped in an io::Error hides the pipe's
            // error from `source()`: look inside.
            let inner = io.get_ref();
            let json_kind = inner
                .and_then(|e| e.downcast_ref::<serde_json::Error>())
                .and_then(serde_json::Error::io_error_kind);
            let csv_kind = inner
                .and_then(|e| e.downcast_ref::<csv::Error>())
                .and_then(|e| match e.kind() {
                    csv::ErrorKind::Io(io) => Some(io.kind()),
                    _ => None,
                });
            if [Some(io.kind()), json_kind, csv_kind].contains(&Some(BrokenPipe)) {
                return true;
            }
        }
        source = err.source();
    }
    false
}

/// What a command returns.
pub type CliResult = Result<Outcome, CliError>;
