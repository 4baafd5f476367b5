//! Policies as code: YAML files in, a validated [`PolicySet`] out.
//!
//! # The file format
//!
//! A file holds one policy under `policy:` or a list under `policies:`; a directory
//! of `*.yaml` / `*.yml` files (searched recursively, hidden entries skipped) loads
//! as one set, in sorted path order, so a load is deterministic.
//!
//! ```yaml
//! policy:
//!   name: "Senior Engineer Access"      # required, unique across the set
//!   description: "optional free text"
//!   match: case_sensitive               # or case_insensitive (default: case_sensitive)
//!   triggers:                           # required: a list (OR) of triggers, or `everyone`
//!     - department: "Engineering"       # the keys of one trigger must all hold (AND)
//!       seniority: ["Senior", "Staff"]  # a list: one of
//!       location: {not: "Berlin"}       # negation; `{not: [a, b]}`: none of
//!       manager: {present: true}        # presence (`false`: absent or empty)
//!       title: {equals: "sales engineer", case_insensitive: true}
//!       level: {one_of: [3, 4]}
//!   provisions:                         # required, at least one
//!     - system: "aws-sso"               # a configured system or alias
//!       action: "assign_permission_set" # an action the system's descriptor declares
//!       target: "EngineeringSeniorReadOnly"
//!       account: "production"           # the kind's scope field, when it has one
//!       role: "developer"               # for kinds with roles; default: the kind's default role
//!       valid_from: 2025-01-01T00:00:00Z   # optional RFC 3339 validity window
//!       valid_until: 2025-06-30T00:00:00Z
//! ```
//!
//! # Matching rule
//!
//! Attribute matching is **exact and case-sensitive** by default: `department:
//! Engineering` does not match `engineering` nor `Engineering ` (no trimming). A
//! policy may say `match: case_insensitive` for all its conditions, or one condition
//! may say `case_insensitive: true` (or `false`, overriding the policy). Numbers and
//! booleans in conditions compare as their text (`level: 3` matches the attribute
//! `"3"`). An attribute the identity lacks equals nothing, so `{not: Sales}` matches
//! it; `{present: true}` requires a non-empty value.
//!
//! # Validation
//!
//! Every problem of a load is reported, each as a [`Diagnostic`](crate::yaml::Diagnostic) naming
//! `file:line:column`, the field and what was expected: bad YAML (syntax, tabs,
//! duplicate keys, wrong types), missing and unknown fields, an unknown system, an
//! action the system's descriptor does not declare, a role not valid for the kind,
//! a missing scope field, invalid dates, a duplicate policy name, two provisions
//! giving the same resource with conflicting roles, and a target owned by an
//! external engine.
//!
//! ```no_run
//! # use std::collections::BTreeMap;
//! # use provision_core::{config::DeploymentConfig, policy::PolicyLoader};
//! # let config = DeploymentConfig::default();
//! # let descriptors = BTreeMap::new();
//! let set = PolicyLoader::new(&config, &descriptors).load_path("policies/".as_ref())?;
//! # Ok::<(), provision_core::policy::PolicyError>(())
//! ```

mod document;
mod error;
mod validate;
use crate::yaml::{self, Diagnostics};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::PolicyError;

use crate::adapter::SystemDescriptor;
use crate::config::DeploymentConfig;
use crate::model::{PolicySet, SystemName};

/// Loads and validates policies against a deployment and its systems' descriptors.
#[derive(Debug, Clone, Copy)]
pub struct PolicyLoader<'a> {
    config: &'a DeploymentConfig,
    descriptors: &'a BTreeMap<SystemName, SystemDescriptor>,
}

impl<'a> PolicyLoader<'a> {
    /// A loader checking against `config` (systems, aliases, ownership) and the
    /// descriptors of the configured systems, keyed by canonical system name.
    pub fn new(
        config: &'a DeploymentConfig,
        descriptors: &'a BTreeMap<SystemName, SystemDescriptor>,
    ) -> Self {
        Self {
            config,
            descriptors,
        }
    }

    /// Loads one file, or every `*.yaml` / `*.yml` file under a directory as one set.
    pub fn load_path(&self, path: &Path) -> Result<PolicySet, PolicyError> {
        self.load_sources(read_policy_sources(path)?)
    }

    /// Loads one document held in memory; `file` names it in diagnostics.
    pub fn load_str(&self, file: &str, text: &str) -> Result<PolicySet, PolicyError> {
        self.load_sources([(file.to_owned(), text.to_owned())])
    }

    /// Loads several documents (name, text) as one set, in the order given.
    pub fn load_sources(
        &self,
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<PolicySet, PolicyError> {
        let _span = tracing::debug_span!("load_policies").entered();
        let mut diagnostics = Vec::new();
        let mut raw = Vec::new();
        let mut files = 0usize;
        for (file, text) in sources {
            files += 1;
            let root = match yaml::parse_yaml(&file, &text) {
                Ok(root) => root,
                Err(d) => {
                    diagnostics.push(d);
                    continue;
                }
            };
            let mut reader = yaml::Reader::new(file);
            raw.extend(document::read_policies(&mut reader, &root));
            diagnostics.extend(reader.into_diagnostics());
        }
        let context = validate::Context {
            config: self.config,
            descriptors: self.descriptors,
        };
        let set = context.resolve(&raw, &mut diagnostics);
        if diagnostics.is_empty() {
            tracing::debug!(
                files,
                policies = set.policies.len(),
                "policies loaded and validated"
            );
            Ok(set)
        } else {
            diagnostics.sort_by(|a, b| {
                (&a.location.file, a.location.line, a.location.column).cmp(&(
                    &b.location.file,
                    b.location.line,
                    b.location.column,
                ))
            });
            diagnostics.dedup();
            tracing::debug!(files, problems = diagnostics.len(), "policies rejected");
            Err(PolicyError::Invalid(Diagnostics(diagnostics)))
        }
    }
}

/// Loads policies from a file or directory: [`PolicyLoader::load_path`].
pub fn load_policies(
    path: &Path,
    config: &DeploymentConfig,
    descriptors: &BTreeMap<SystemName, SystemDescriptor>,
) -> Result<PolicySet, PolicyError> {
    PolicyLoader::new(config, descriptors).load_path(path)
}

/// The policy documents at `path` as (file name, text): the file itself, or every
/// `*.yaml` / `*.yml` file under a directory (hidden ones skipped), sorted. The one
/// walker over policy files: the extension crates read their own sections
/// (`separation_of_duties:`) from the same documents.
pub fn read_policy_sources(path: &Path) -> Result<Vec<(String, String)>, PolicyError> {
    let files = if path.is_dir() {
        let mut files = Vec::new();
        collect_yaml_files(path, &mut files)?;
        files.sort();
        if files.is_empty() {
            return Err(PolicyError::NoPolicyFiles {
                path: path.to_owned(),
            });
        }
        files
    } else {
        vec![path.to_owned()]
    };
    let mut sources = Vec::with_capacity(files.len());
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| PolicyError::Io {
            path: f.clone(),
            source,
        })?;
        sources.push((f.display().to_string(), text));
    }
    Ok(sources)
}

fn collect_yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let io = |source| PolicyError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}
