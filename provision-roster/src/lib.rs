//! # provision-roster
//!
//! The HR roster: the people the policies apply to, read from the files HR systems
//! export, and the HR events between two rosters. The kernel (`provision-core`)
//! knows nothing of rosters: it takes people as [`Identity`] values, and keeps the
//! `roster:` section of `provision.yaml` as a raw extension section that
//! [`RosterConfig::from_deployment`] reads.
//!
//! * formats: [`csv`] (a header row, columns named by a [`RosterMapping`]),
//!   [`json`] (an array of objects, or `{"people": [...]}`, keys named by the same
//!   mapping) and [`yaml`] (this SDK's own shape); chosen by the file's extension
//!   or explicitly ([`RosterFormat`]);
//! * [`mapping`]: which column holds what, status words, dates; [`section`]: the
//!   `roster:` section of the deployment configuration that holds the mapping;
//! * [`errors`]: row problems (file, line, column; the other rows still load) and
//!   whole-file errors;
//! * [`events`] and [`diff`]: hires, transfers, terminations, rehires, leaves of
//!   absence between two rosters, each naming its source row;
//! * [`sources`]: HR sources pulled on a cadence — any HTTPS report (JSON or CSV;
//!   Workday RaaS is one), BambooHR, a file path or glob for SFTP drops — each giving
//!   the same [`RosterLoad`] as a roster file; [`snapshot`]: each pull with its time,
//!   the events between two pulls, and the guard that holds a pull that would
//!   terminate too many people or misses too many;
//! * [`parse_large_list`]: the fast reader of large YAML lists of records that YAML
//!   rosters go through (the same located tree as the core's YAML parser).
//!
//! ```no_run
//! use provision_roster::{RosterReader, RosterMapping};
//! let load = RosterReader::new().read_path("hr/workers.csv".as_ref())?;
//! for problem in &load.problems {
//!     eprintln!("{problem}"); // hr/workers.csv:7: Worker Status: unknown status `Fired`; ...
//! }
//! println!("{} people", load.entries.len());
//! # Ok::<(), provision_roster::RosterError>(())
//! ```
//!
//! With a deployment's `roster:` section:
//!
//! ```no_run
//! use provision_core::config::load_config;
//! use provision_roster::{RosterConfig, RosterReader};
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let deployment = load_config("provision.yaml".as_ref())?;
//! let reader = match RosterConfig::from_deployment(&deployment)? {
//!     Some(section) => RosterReader::from_config(&section),
//!     None => RosterReader::new(),
//! };
//! let people = reader.read_path("hr/workers.csv".as_ref())?.into_strict()?;
//! # let _ = people; Ok(()) }
//! ```

//! ## Dependencies, where the choice is not obvious
//!
//! * `provision-http` (with `reqwest`, `url`, `tokio`'s timer): the sources speak HTTP
//!   through the adapters' toolkit rather than a client of their own, so the
//!   same-origin rule for credentials, `Retry-After` parsing, vendor error codes and the
//!   read-sweep retries are the ones every adapter has. This is a roster crate, not an
//!   adapter: it depends on no adapter.
//! * `async-trait`: [`sources::HrSource`] is held as a trait object by the service.
//! * `base64`: BambooHR's `Authorization: Basic base64(api_key:x)` header is built here
//!   and marked sensitive, because the toolkit's basic scheme shows its user (here the
//!   key) in `Debug`.

mod block_list;
pub mod csv;
pub mod diff;
pub mod errors;
pub mod events;
pub mod json;
pub mod mapping;
pub mod section;
pub mod snapshot;
pub mod sources;
pub mod yaml;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use provision_core::model::Identity;
use provision_core::yaml::Diagnostics;

pub use block_list::parse_large_list;
pub use diff::diff_rosters;
pub use errors::{RosterError, RowProblem, SourceRow};
pub use events::{
    AttributeChange, HrEvent, HrEventKind, ProfileChange, ProfileField, apply_events,
};
pub use mapping::{DisplayNameColumns, RosterMapping, StatusValues};
pub use section::RosterConfig;
pub use yaml::{load_roster, parse_roster};

/// The file format of a roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RosterFormat {
    /// This SDK's YAML shape (`people:` with `id`, `email`, `attributes`, ...).
    Yaml,
    /// Comma-separated values with a header row.
    Csv,
    /// An array of objects, or an object whose `people` is one.
    Json,
}

impl RosterFormat {
    /// The format a file name says: `.csv`, `.json`, `.yaml` / `.yml` (any case).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(RosterFormat::Csv),
            "json" => Some(RosterFormat::Json),
            "yaml" | "yml" => Some(RosterFormat::Yaml),
            _ => None,
        }
    }

    /// The format's name as written in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            RosterFormat::Yaml => "yaml",
            RosterFormat::Csv => "csv",
            RosterFormat::Json => "json",
        }
    }
}

impl fmt::Display for RosterFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RosterFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(RosterFormat::Csv),
            "json" => Ok(RosterFormat::Json),
            "yaml" | "yml" => Ok(RosterFormat::Yaml),
            other => Err(format!(
                "unknown roster format `{other}`; expected `csv`, `json` or `yaml`"
            )),
        }
    }
}

/// One person as read, with the row they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    /// The person.
    pub identity: Identity,
    /// Where they were read.
    pub source: SourceRow,
}

/// What a roster load gives: every person that could be read, and every row that
/// could not, with why. Row problems are never dropped silently: a caller either
/// reports them or uses [`RosterLoad::into_strict`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterLoad {
    /// The people read, in file order.
    pub entries: Vec<RosterEntry>,
    /// The rows that were not loaded, in file order.
    pub problems: Vec<RowProblem>,
}

impl RosterLoad {
    /// The people read.
    pub fn people(&self) -> impl Iterator<Item = &Identity> {
        self.entries.iter().map(|e| &e.identity)
    }

    /// True when every row loaded.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The people, or every row problem as an error when there is any.
    pub fn into_strict(self) -> Result<Vec<Identity>, RosterError> {
        if self.problems.is_empty() {
            Ok(self.entries.into_iter().map(|e| e.identity).collect())
        } else {
            Err(RosterError::Invalid(Diagnostics(
                self.problems
                    .iter()
                    .map(RowProblem::to_diagnostic)
                    .collect(),
            )))
        }
    }
}

/// Reads rosters in any [`RosterFormat`] through one [`RosterMapping`].
#[derive(Debug, Clone, Default)]
pub struct RosterReader {
    format: Option<RosterFormat>,
    mapping: RosterMapping,
}

impl RosterReader {
    /// A reader with the conventional mapping, choosing the format by extension.
    pub fn new() -> Self {
        Self::default()
    }

    /// The reader a deployment's `roster:` section describes.
    pub fn from_config(config: &RosterConfig) -> Self {
        Self {
            format: config.format,
            mapping: config.mapping.clone(),
        }
    }

    /// Uses this column mapping (CSV and JSON).
    pub fn with_mapping(mut self, mapping: RosterMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Reads every file in this format, whatever its name.
    pub fn with_format(mut self, format: RosterFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// The mapping in use.
    pub fn mapping(&self) -> &RosterMapping {
        &self.mapping
    }

    fn format_of(&self, path: &Path) -> Result<RosterFormat, RosterError> {
        self.format
            .or_else(|| RosterFormat::from_path(path))
            .ok_or_else(|| RosterError::UnknownFormat {
                path: path.to_owned(),
            })
    }

    /// Reads a roster file. CSV is streamed; YAML and JSON are read whole.
    pub fn read_path(&self, path: &Path) -> Result<RosterLoad, RosterError> {
        let format = self.format_of(path)?;
        let file = path.display().to_string();
        let io = |source| RosterError::Io {
            path: path.to_owned(),
            source,
        };
        match format {
            RosterFormat::Csv => {
                let f = std::fs::File::open(path).map_err(io)?;
                csv::read_csv(
                    &file,
                    std::io::BufReader::with_capacity(1 << 16, f),
                    &self.mapping,
                )
                .map_err(|e| match e {
                    csv::CsvReadError::Roster(e) => e,
                    csv::CsvReadError::Io(source) => RosterError::Io {
                        path: path.to_owned(),
                        source,
                    },
                })
            }
            RosterFormat::Json | RosterFormat::Yaml => {
                let text = std::fs::read_to_string(path).map_err(io)?;
                self.read_str(&file, &text, Some(format))
            }
        }
    }

    /// Reads a roster held in memory; `file` names it in problems and, when
    /// `format` is `None` and no format was set, gives the format by extension.
    pub fn read_str(
        &self,
        file: &str,
        text: &str,
        format: Option<RosterFormat>,
    ) -> Result<RosterLoad, RosterError> {
        let format = match format {
            Some(f) => f,
            None => self.format_of(Path::new(file))?,
        };
        let _span = tracing::debug_span!("read_roster", file, format = format.name()).entered();
        let load = match format {
            RosterFormat::Yaml => yaml::read_yaml(file, text)?,
            RosterFormat::Json => json::read_json(file, text, &self.mapping)?,
            RosterFormat::Csv => {
                csv::read_csv(file, text.as_bytes(), &self.mapping).map_err(|e| match e {
                    csv::CsvReadError::Roster(e) => e,
                    csv::CsvReadError::Io(source) => RosterError::Io {
                        path: file.into(),
                        source,
                    },
                })?
            }
        };
        if !load.problems.is_empty() {
            tracing::warn!(
                file,
                problems = load.problems.len(),
                "roster rows not loaded"
            );
        }
        tracing::debug!(people = load.entries.len(), "roster read");
        Ok(load)
    }
}

/// Gathers the people of one file: refuses a second row with an id or login
/// already read (naming both rows), keeps file order.
#[derive(Debug)]
pub(crate) struct Collector {
    load: RosterLoad,
    /// id → where first read (line, column).
    ids: HashMap<String, (u64, Option<u64>)>,
    logins: HashMap<String, (u64, Option<u64>)>,
}

impl Collector {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            load: RosterLoad {
                entries: Vec::with_capacity(n),
                problems: Vec::new(),
            },
            ids: HashMap::with_capacity(n),
            logins: HashMap::with_capacity(n),
        }
    }

    /// Records a row problem.
    pub(crate) fn problem(&mut self, problem: RowProblem) {
        self.load.problems.push(problem);
    }

    /// Adds a person read at `source` (`column`: the format's character column),
    /// unless their id or login was already read. `id_field` and `login_field` name
    /// the columns in the problem.
    pub(crate) fn person(
        &mut self,
        identity: Identity,
        source: SourceRow,
        column: Option<u64>,
        id_field: &str,
        login_field: &str,
    ) {
        let here = (source.line, column);
        let place = |(line, column): (u64, Option<u64>)| match column {
            Some(c) => format!("{}:{line}:{c}", source.file),
            None => format!("{}:{line}", source.file),
        };
        let duplicate = if let Some(first) = self.ids.get(identity.id.as_str()) {
            Some((
                id_field,
                format!(
                    "duplicate id `{}`; also used at {}",
                    identity.id,
                    place(*first)
                ),
            ))
        } else {
            self.logins.get(&identity.login).map(|first| {
                (
                    login_field,
                    format!(
                        "duplicate login `{}` (accounts are matched by login); also used at {}",
                        identity.login,
                        place(*first)
                    ),
                )
            })
        };
        if let Some((field, message)) = duplicate {
            let mut p = RowProblem::new(source, field, message);
            p.column = column;
            p.id = Some(identity.id);
            self.load.problems.push(p);
            return;
        }
        self.ids.insert(identity.id.0.clone(), here);
        self.logins.insert(identity.login.clone(), here);
        self.load.entries.push(RosterEntry { identity, source });
    }

    pub(crate) fn finish(mut self) -> RosterLoad {
        self.load
            .problems
            .sort_by(|a, b| (&a.row, a.column).cmp(&(&b.row, b.column)));
        self.load
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_format_comes_from_the_extension_or_is_named() {
        assert_eq!(
            RosterFormat::from_path(Path::new("hr/w.CSV")),
            Some(RosterFormat::Csv)
        );
        assert_eq!(
            RosterFormat::from_path(Path::new("w.yml")),
            Some(RosterFormat::Yaml)
        );
        assert_eq!(
            RosterFormat::from_path(Path::new("w.json")),
            Some(RosterFormat::Json)
        );
        assert_eq!(RosterFormat::from_path(Path::new("w.txt")), None);
        assert_eq!("JSON".parse::<RosterFormat>(), Ok(RosterFormat::Json));
        let e = RosterReader::new()
            .read_str("export.txt", "id,email\n", None)
            .unwrap_err();
        assert!(matches!(e, RosterError::UnknownFormat { .. }), "{e}");
        let load = RosterReader::new().with_format(RosterFormat::Csv).read_str(
            "export.txt",
            "id,email,display_name\ne1,a@x.com,A\n",
            None,
        );
        assert_eq!(load.map(|l| l.entries.len()).ok(), Some(1));
    }
}
