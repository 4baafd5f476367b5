//! Extension sections of `provision.yaml`: top-level sections the kernel does not
//! read itself (`roster:`, `evidence:`, `governance:`), kept as positioned YAML so
//! that the crate they belong to reads them with the same reader and the same
//! file:line:column diagnostics as the core sections.
//!
//! The kernel knows their names only, so that a misspelt section is still refused
//! when the file is loaded; what is inside one is checked by the crate that reads it
//! ([`ExtensionSection::read`]).

use crate::yaml::{Diagnostics, Node, Reader};

use super::load::ConfigError;

/// The top-level sections of `provision.yaml` that extension crates read:
/// `roster` (`provision-roster`), `evidence` (`provision-evidence`) and
/// `governance` (`provision-governance`).
pub const EXTENSION_SECTIONS: &[&str] = &["roster", "evidence", "governance"];

/// One extension section as written: the file it came from and its YAML, with
/// positions.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionSection {
    file: String,
    node: Node,
}

impl ExtensionSection {
    /// A section read from `file`.
    pub fn new(file: impl Into<String>, node: Node) -> Self {
        Self {
            file: file.into(),
            node,
        }
    }

    /// The file it was written in, as diagnostics name it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Its YAML, with positions.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Reads the section with `read` on the core's YAML reader. Every problem
    /// `read` reports comes back as [`ConfigError::Invalid`], each with
    /// file:line:column and field; `read`'s value is kept only when there is none.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&mut Reader, &Node) -> Option<T>,
    ) -> Result<T, ConfigError> {
        let mut r = Reader::new(self.file.clone());
        let value = read(&mut r, &self.node);
        let mut diagnostics = r.into_diagnostics();
        match value {
            Some(value) if diagnostics.is_empty() => Ok(value),
            _ => {
                diagnostics.sort_by_key(|d| (d.location.line, d.location.column));
                Err(ConfigError::Invalid(Diagnostics(diagnostics)))
            }
        }
    }
}
