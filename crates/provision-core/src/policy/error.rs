//! Load errors: every problem names the file, line, column and field.

use std::fmt;
use std::path::PathBuf;

use crate::model::SourceLocation;

/// One problem found while loading a YAML file: where, which field, what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is (`file:line:column`).
    pub location: SourceLocation,
    /// The field, as a path from the document root (`policy.provisions[1].action`);
    /// empty when the problem concerns the whole document.
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.location, self.message)
        } else {
            write!(f, "{}: {}: {}", self.location, self.field, self.message)
        }
    }
}

/// Every problem of one load, in file then line order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// How many problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} problem{}", if n == 1 { "" } else { "s" })?;
        for d in &self.0 {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

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
