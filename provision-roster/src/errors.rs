//! What can go wrong reading a roster: a problem with one row (reported, the other
//! rows still load) or with the whole file (nothing can be read).

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use provision_core::model::{IdentityId, SourceLocation};
use provision_core::yaml::{Diagnostic, Diagnostics};

/// Where a person was read: the file and the 1-based line their row starts on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceRow {
    /// The file, as given to the loader.
    pub file: String,
    /// 1-based line of the row (CSV: the record's first line; YAML and JSON: where the
    /// person's entry starts).
    pub line: u64,
}

impl SourceRow {
    /// A row of `file` at `line`.
    pub fn new(file: impl Into<String>, line: u64) -> Self {
        Self {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for SourceRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A problem with one row. The row is not loaded; every other row still is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowProblem {
    /// The file and line of the row.
    pub row: SourceRow,
    /// The 1-based character column, where the format gives one (YAML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// The column or field at fault: the header name (CSV), the key (JSON), the path
    /// (YAML, `people[3].status`); empty when the whole row is at fault.
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// The person's id, when the row has a readable one: a diff treats that person
    /// as unknown rather than gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<IdentityId>,
}

impl RowProblem {
    /// A problem at `row` about `field`.
    pub fn new(row: SourceRow, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            row,
            column: None,
            field: field.into(),
            message: message.into(),
            id: None,
        }
    }

    /// The problem as a located [`Diagnostic`] (column 1 where the format has none).
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic {
            location: SourceLocation {
                file: self.row.file.clone(),
                line: usize::try_from(self.row.line).unwrap_or(usize::MAX),
                column: self
                    .column
                    .and_then(|c| usize::try_from(c).ok())
                    .unwrap_or(1),
            },
            field: self.field.clone(),
            message: self.message.clone(),
        }
    }
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.row)?;
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.field, self.message)
        }
    }
}

/// Why a roster could not be read at all (row problems are not errors: they come
/// back beside the people that could be read).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RosterError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file cannot be read as a roster (syntax, shape, a mapped column missing
    /// from the header), or, from the strict loaders, some rows are wrong: every
    /// problem, each with file:line:column and field.
    #[error("invalid roster: {0}")]
    Invalid(Diagnostics),
    /// The format could not be told from the file name.
    #[error(
        "cannot tell the roster format of {}: expected a name ending in .csv, .json, .yaml or .yml, or an explicit format",
        path.display()
    )]
    UnknownFormat {
        /// The path.
        path: PathBuf,
    },
}

impl RosterError {
    /// The problems, when the error is [`RosterError::Invalid`].
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            RosterError::Invalid(d) => &d.0,
            RosterError::Io { .. } | RosterError::UnknownFormat { .. } => &[],
        }
    }

    /// A whole-file problem at `file:line:column`.
    pub(crate) fn at(
        file: &str,
        line: u64,
        column: u64,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        RosterError::Invalid(Diagnostics(vec![Diagnostic {
            location: SourceLocation {
                file: file.to_owned(),
                line: usize::try_from(line).unwrap_or(usize::MAX).max(1),
                column: usize::try_from(column).unwrap_or(usize::MAX).max(1),
            },
            field: field.to_owned(),
            message: message.into(),
        }]))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_row_problem_names_file_line_and_column() {
        let p = RowProblem::new(
            SourceRow::new("hr/workers.csv", 7),
            "Worker Status",
            "unknown status `Fired`",
        );
        assert_eq!(
            p.to_string(),
            "hr/workers.csv:7: Worker Status: unknown status `Fired`"
        );
        assert_eq!(
            p.to_diagnostic().to_string(),
            "hr/workers.csv:7:1: Worker Status: unknown status `Fired`"
        );
    }
}
