//! Reading separation-of-duties rules from the policy files.
//!
//! A policy file may hold, next to (or instead of) its policies, a
//! `separation_of_duties:` list:
//!
//! ```yaml
//! separation_of_duties:
//!   - name: "Payments admin approves refunds"   # required, unique
//!     severity: critical                          # low, medium, high (default) or critical
//!     description: "one person could pay out and approve the refund"
//!     conflicting:                                # two or more entitlements
//!       - aws/permission_set/PaymentsAdmin        # system/kind/resource (any role, any scope)
//!       - {system: salesforce, kind: permission_set, resource: ApproveRefunds, role: admin}
//! ```
//!
//! Rules are validated like policies, every problem with `file:line:column`: an
//! unknown system (aliases resolve), a kind the system's descriptor does not declare,
//! a role the kind does not have, a duplicate name, and a rule that can never fire
//! (fewer than two distinct entitlements, two resources of a kind an account holds
//! only one of, or two roles on one resource where the kind allows one role).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use provision_core::adapter::{RoleModel, SystemDescriptor};
use provision_core::config::DeploymentConfig;
use provision_core::drift::Severity;
use provision_core::model::SystemName;
use provision_core::policy::PolicyError;
use provision_core::yaml::{Diagnostic, Diagnostics};
use provision_core::yaml::{Node, Reader, Value, parse_yaml};

use super::sod::{EntitlementPattern, SodRule, SodRules};

const SECTION: &str = "separation_of_duties";
const RULE_FIELDS: &[&str] = &["name", "severity", "description", "conflicting"];
const PATTERN_FIELDS: &[&str] = &["system", "kind", "resource", "role", "scope"];

/// Loads SoD rules from a policy file or directory, checked against `config` and
/// `descriptors`. Files without a `separation_of_duties:` section contribute none.
pub fn load_sod_rules(
    path: &Path,
    config: &DeploymentConfig,
    descriptors: &BTreeMap<SystemName, SystemDescriptor>,
) -> Result<SodRules, PolicyError> {
    let mut files = Vec::new();
    if path.is_dir() {
        collect(path, &mut files)?;
        files.sort();
    } else {
        files.push(path.to_owned());
    }
    let mut sources = Vec::with_capacity(files.len());
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| PolicyError::Io {
            path: f.clone(),
            source,
        })?;
        sources.push((f.display().to_string(), text));
    }
    load_sod_sources(sources, config, descriptors)
}

/// Loads SoD rules from documents held in memory (name, text).
pub fn load_sod_sources(
    sources: impl IntoIterator<Item = (String, String)>,
    config: &DeploymentConfig,
    descriptors: &BTreeMap<SystemName, SystemDescriptor>,
) -> Result<SodRules, PolicyError> {
    let mut diagnostics = Vec::new();
    let mut rules = Vec::new();
    for (file, text) in sources {
        let root = match parse_yaml(&file, &text) {
            Ok(root) => root,
            Err(d) => {
                diagnostics.push(d);
                continue;
            }
        };
        let Value::Map(entries) = &root.value else {
            continue;
        };
        let Some((_, section)) = entries
            .iter()
            .find(|(k, _)| k.value == Value::Str(SECTION.into()))
        else {
            continue;
        };
        let mut r = Reader::new(file);
        let check = Check {
            config,
            descriptors,
        };
        if let Some(items) = r.items(section, SECTION) {
            for (i, item) in items.iter().enumerate() {
                if let Some(rule) = check.rule(&mut r, item, &format!("{SECTION}[{i}]")) {
                    rules.push(rule);
                }
            }
        }
        diagnostics.extend(r.into_diagnostics());
    }
    let mut seen = BTreeSet::new();
    for rule in &rules {
        if !seen.insert(rule.name.as_str())
            && let Some(at) = &rule.source
        {
            diagnostics.push(Diagnostic {
                location: at.clone(),
                field: "name".into(),
                message: format!("duplicate separation-of-duties rule name `{}`", rule.name),
            });
        }
    }
    if diagnostics.is_empty() {
        Ok(SodRules { rules })
    } else {
        diagnostics.sort_by(|a, b| {
            (&a.location.file, a.location.line, a.location.column).cmp(&(
                &b.location.file,
                b.location.line,
                b.location.column,
            ))
        });
        Err(PolicyError::Invalid(Diagnostics(diagnostics)))
    }
}

struct Check<'a> {
    config: &'a DeploymentConfig,
    descriptors: &'a BTreeMap<SystemName, SystemDescriptor>,
}

impl Check<'_> {
    fn rule(&self, r: &mut Reader, node: &Node, path: &str) -> Option<SodRule> {
        let mut f = r.fields(node, path)?;
        let name = f
            .required(r, "name", "the rule's unique name")
            .and_then(|n| r.nonempty_text(n, &f.path_of("name")));
        let description = f
            .get("description")
            .and_then(|d| r.text(d, &f.path_of("description")));
        let severity = match f.get("severity") {
            None => Some(Severity::High),
            Some(s) => match r.text(s, &f.path_of("severity")).as_deref() {
                Some("low") => Some(Severity::Low),
                Some("medium") => Some(Severity::Medium),
                Some("high") => Some(Severity::High),
                Some("critical") => Some(Severity::Critical),
                Some(other) => {
                    r.error(
                        s,
                        &f.path_of("severity"),
                        format!(
                            "unknown severity `{other}`; expected low, medium, high or critical"
                        ),
                    );
                    None
                }
                None => None,
            },
        };
        let mut conflicting = Vec::new();
        let mut complete = true;
        let cpath = f.path_of("conflicting");
        let list = f.required(r, "conflicting", "a list of two or more entitlements");
        if let Some(list) = list
            && let Some(items) = r.items(list, &cpath)
        {
            for (i, item) in items.iter().enumerate() {
                match self.pattern(r, item, &format!("{cpath}[{i}]")) {
                    Some(p) => conflicting.push((p, item)),
                    None => complete = false,
                }
            }
        }
        f.finish(r, RULE_FIELDS);
        if let (Some(list), true) = (list, complete) {
            self.can_fire(r, list, &cpath, &conflicting);
        }
        Some(SodRule {
            name: name?,
            severity: severity?,
            description,
            conflicting: conflicting.into_iter().map(|(p, _)| p).collect(),
            source: Some(node.location(r.file())),
        })
    }

    fn pattern(&self, r: &mut Reader, node: &Node, path: &str) -> Option<EntitlementPattern> {
        let written = match &node.value {
            Value::Str(s) => {
                let parts: Vec<&str> = s.splitn(3, '/').collect();
                if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                    r.error(node, path, format!("`{s}` is not `system/kind/resource`"));
                    return None;
                }
                EntitlementPattern::new(parts[0], parts[1], parts[2])
            }
            _ => {
                let mut f = r.fields(node, path)?;
                let mut need = |r: &mut Reader, key: &str, what: &str| {
                    f.required(r, key, what)
                        .and_then(|n| r.nonempty_text(n, &format!("{path}.{key}")))
                };
                let system = need(r, "system", "a configured system");
                let kind = need(r, "kind", "a resource kind the system declares");
                let resource = need(r, "resource", "the resource");
                let role = f
                    .get("role")
                    .and_then(|n| r.nonempty_text(n, &f.path_of("role")));
                let scope = f
                    .get("scope")
                    .and_then(|n| r.nonempty_text(n, &f.path_of("scope")));
                f.finish(r, PATTERN_FIELDS);
                EntitlementPattern {
                    system: system?,
                    kind: kind?,
                    resource: resource?,
                    role,
                    scope,
                }
            }
        };
        self.resolve(r, node, path, written)
    }

    /// Resolves the system (aliases) and checks the kind and role.
    fn resolve(
        &self,
        r: &mut Reader,
        node: &Node,
        path: &str,
        mut p: EntitlementPattern,
    ) -> Option<EntitlementPattern> {
        let Some(system) = self.config.resolve_system(&p.system) else {
            let known: Vec<&str> = self.config.systems.keys().map(SystemName::as_str).collect();
            r.error(
                node,
                path,
                format!(
                    "unknown system `{}`; configured systems: {}",
                    p.system,
                    known.join(", ")
                ),
            );
            return None;
        };
        p.system = system.to_string();
        if let Some(descriptor) = self.descriptors.get(system) {
            let Some(kind) = descriptor.kind(&p.kind) else {
                let kinds: Vec<&str> = descriptor.kinds.iter().map(|k| k.kind.as_str()).collect();
                r.error(
                    node,
                    path,
                    format!(
                        "system `{}` has no resource kind `{}`; it declares: {}",
                        p.system,
                        p.kind,
                        kinds.join(", ")
                    ),
                );
                return None;
            };
            if let Some(role) = &p.role
                && !kind.roles.iter().any(|k| k == role)
            {
                r.error(
                    node,
                    path,
                    format!(
                        "kind `{}` of `{}` has no role `{role}`; roles: {}",
                        p.kind,
                        p.system,
                        if kind.roles.is_empty() {
                            "(none)".to_owned()
                        } else {
                            kind.roles.join(", ")
                        }
                    ),
                );
                return None;
            }
        }
        Some(p)
    }

    /// A rule that no one can ever hold in full is a mistake: say so.
    fn can_fire(
        &self,
        r: &mut Reader,
        list: &Node,
        path: &str,
        patterns: &[(EntitlementPattern, &Node)],
    ) {
        let distinct: BTreeSet<&EntitlementPattern> = patterns.iter().map(|(p, _)| p).collect();
        if distinct.len() < 2 {
            r.error(
                list,
                path,
                "this rule can never fire: it needs two or more different entitlements",
            );
            return;
        }
        for (i, (a, _)) in patterns.iter().enumerate() {
            for (b, node) in &patterns[i + 1..] {
                if a.system != b.system || a.kind != b.kind {
                    continue;
                }
                let Some(kind) = self
                    .descriptors
                    .get(&SystemName::new(a.system.clone()))
                    .and_then(|d| d.kind(&a.kind))
                else {
                    continue;
                };
                let one_per_account = kind.one_per_account && a.resource != b.resource;
                let one_role = a.resource == b.resource
                    && a.scope == b.scope
                    && a.role.is_some()
                    && b.role.is_some()
                    && a.role != b.role
                    && kind.role_model != RoleModel::Multiple;
                if one_per_account || one_role {
                    r.error(
                        node,
                        path,
                        format!(
                            "this rule can never fire: an account in `{}` holds only one {} at a time, so {a} and {b} are never held together",
                            a.system,
                            if one_role { "role per resource" } else { "resource of this kind" }
                        ),
                    );
                }
            }
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), PolicyError> {
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
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}
