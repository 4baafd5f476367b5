//! A roster file at a path, or the newest of the files a glob matches: for SFTP
//! drops that something else copies in (`/srv/sftp/hr/workers-*.csv`).
//!
//! The glob is in the file name only (`*` any run of characters, `?` one): drops
//! land in one folder. Of several matches the last by name is read, so drops are
//! expected to carry a sortable date (`workers-2026-12-07.csv`); the modification
//! time is not used, because a copy tool can reset it. A half-copied file is not
//! matched as long as the copy tool writes under another name (`.part`, `.tmp`) and
//! renames at the end, as SFTP clients do.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{HrSource, SourceError};
use crate::{RosterLoad, RosterReader};

/// A roster file, or a glob of dropped files of which the newest is read.
#[derive(Debug, Clone)]
pub struct FileDrop {
    name: String,
    pattern: PathBuf,
    reader: RosterReader,
}

impl FileDrop {
    /// A source named `name` reading `pattern` (a path, or a glob in the file name)
    /// with `reader` (mapping, and format unless the extension gives it).
    pub fn new(name: impl Into<String>, pattern: impl Into<PathBuf>, reader: RosterReader) -> Self {
        Self {
            name: name.into(),
            pattern: pattern.into(),
            reader,
        }
    }

    /// The file a pull would read now: the path itself, or the last match by name.
    pub fn current_file(&self) -> Result<PathBuf, SourceError> {
        let no_file = || SourceError::NoFile {
            source_name: self.name.clone(),
            pattern: self.pattern.display().to_string(),
        };
        let file_pattern = self
            .pattern
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(no_file)?;
        if !file_pattern.contains(['*', '?']) {
            return if self.pattern.is_file() {
                Ok(self.pattern.clone())
            } else {
                Err(no_file())
            };
        }
        let dir = match self.pattern.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let entries = std::fs::read_dir(dir).map_err(|_| no_file())?;
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                glob_match(file_pattern, &name).then(|| dir.join(name))
            })
            .max()
            .ok_or_else(no_file)
    }
}

#[async_trait]
impl HrSource for FileDrop {
    fn name(&self) -> &str {
        &self.name
    }

    async fn pull(&self) -> Result<RosterLoad, SourceError> {
        let file = self.current_file()?;
        tracing::debug!(source = %self.name, file = %file.display(), "reading dropped roster");
        self.reader
            .read_path(&file)
            .map_err(|error| SourceError::Roster {
                source_name: self.name.clone(),
                error,
            })
    }
}

/// `*` matches any run of characters, `?` exactly one; everything else itself.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn the_glob_matches_names_as_a_shell_would() {
        assert!(glob_match("workers-*.csv", "workers-2026-12-07.csv"));
        assert!(!glob_match("workers-*.csv", "workers-2026-12-07.csv.part"));
        assert!(glob_match("w?.json", "w1.json"));
        assert!(!glob_match("w?.json", "w12.json"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }
}
