//! Load errors: every problem names the file, line, column and field.

use std::path::PathBuf;

pub use crate::yaml::{Diagnostic, Diagnostics};

/// Why policies could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A directory held no `*.yaml` / `*.yml` file.
    #[error("no policy files (*.yaml, *.yml) in {}", path.display())]
    NoPolicyFiles {
        /// The directory.
        path: PathBuf,
    },
    /// The files were read but are wrong: every problem found, each with file:line:column.
    #[error("invalid policies: {0}")]
    Invalid(Diagnostics),
}

impl PolicyError {
    /// The problems, when the error is [`PolicyError::Invalid`].
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PolicyError::Invalid(d) => &d.0,
            _ => &[],
        }
    }
}
