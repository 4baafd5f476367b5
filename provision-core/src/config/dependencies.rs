//! The `dependencies:` section: cross-system dependencies, read with file:line
//! diagnostics, and their `kind:` checked against the systems' descriptors.

use std::collections::BTreeMap;

use crate::model::SystemName;
use crate::yaml::{Diagnostic, Diagnostics, Fields, Node, Reader, Value, parse_yaml};

use super::load::opt_text;

use super::load::ConfigError;
use super::{CrossSystemDependency, DependencyTarget, DeploymentConfig};

/// Checks that every dependency's `kind:` is a resource kind its system understands
/// (its descriptor's [`kinds`](crate::adapter::SystemDescriptor::kinds)), naming
/// `file:line:column` of the `kind:` and the kinds the system has.
///
/// `source` is the deployment file's name and text as loaded; without it (a
/// configuration built in code) the problems name the field only, at line 0.
/// Dependencies of systems without a descriptor in `descriptors` are not checked.
pub fn check_dependency_kinds(
    config: &DeploymentConfig,
    descriptors: &BTreeMap<SystemName, crate::adapter::SystemDescriptor>,
    source: Option<(&str, &str)>,
) -> Result<(), ConfigError> {
    let kind_nodes = source
        .and_then(|(file, text)| {
            let root = parse_yaml(file, text).ok()?;
            Some((file, dependency_kind_nodes(&root)))
        })
        .unwrap_or_default();
    let (file, nodes) = kind_nodes;
    let file = if file.is_empty() {
        "(deployment in code)"
    } else {
        file
    };
    let mut diagnostics = Vec::new();
    for (i, dependency) in config.dependencies.iter().enumerate() {
        let (Some(kind), Some(descriptor)) =
            (&dependency.kind, descriptors.get(&dependency.system))
        else {
            continue;
        };
        if descriptor.kind(kind).is_some() {
            continue;
        }
        let known: Vec<&str> = descriptor.kinds.iter().map(|k| k.kind.as_str()).collect();
        let location = nodes.get(&i).map_or_else(
            || crate::model::SourceLocation {
                file: file.to_owned(),
                line: 0,
                column: 0,
            },
            |node| node.location(file),
        );
        diagnostics.push(Diagnostic {
            location,
            field: format!("dependencies[{i}].kind"),
            message: format!(
                "system `{}` has no resource kind `{kind}`; expected one of: {}",
                dependency.system,
                if known.is_empty() {
                    "(none: the system has accounts only)".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        });
    }
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(Diagnostics(diagnostics)))
    }
}

/// The `kind:` node of each `dependencies[i]`, by `i`.
fn dependency_kind_nodes(root: &Node) -> BTreeMap<usize, Node> {
    let mut out = BTreeMap::new();
    let Value::Map(top) = &root.value else {
        return out;
    };
    let Some((_, deps)) = top
        .iter()
        .find(|(k, _)| k.value.scalar_text().as_deref() == Some("dependencies"))
    else {
        return out;
    };
    let Value::Seq(items) = &deps.value else {
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        if let Value::Map(fields) = &item.value
            && let Some((_, kind)) = fields
                .iter()
                .find(|(k, _)| k.value.scalar_text().as_deref() == Some("kind"))
        {
            out.insert(i, kind.clone());
        }
    }
    out
}

pub(super) fn read_dependencies(
    r: &mut Reader,
    node: &Node,
    config: &DeploymentConfig,
) -> Vec<CrossSystemDependency> {
    let mut out = Vec::new();
    let Some(items) = r.items(node, "dependencies") else {
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("dependencies[{i}]");
        let Some(mut f) = r.fields(item, &path) else {
            continue;
        };
        let system_field = |r: &mut Reader, f: &mut Fields<'_>, key: &str| {
            let n = f.required(r, key, "a configured system name or alias")?;
            let field = f.path_of(key);
            let name = r.nonempty_text(n, &field)?;
            match config.resolve_system(&name) {
                Some(s) => Some(s.clone()),
                None => {
                    let known: Vec<&str> = config.systems.keys().map(SystemName::as_str).collect();
                    r.error(
                        n,
                        &field,
                        format!(
                            "unknown system `{name}`; expected one of the configured systems: {}",
                            known.join(", ")
                        ),
                    );
                    None
                }
            }
        };
        let system = system_field(r, &mut f, "system");
        let depends_on = system_field(r, &mut f, "depends_on");
        let kind = opt_text(r, &mut f, "kind");
        let on = match f.get("on") {
            None => Some(DependencyTarget::Account),
            Some(n) => {
                match r.text(n, &f.path_of("on")).as_deref() {
                    Some("account") => Some(DependencyTarget::Account),
                    Some("grants") => Some(DependencyTarget::Grants),
                    Some(other) => {
                        r.error(
                        n,
                        &f.path_of("on"),
                        format!("unknown dependency target `{other}`; expected `account` or `grants`"),
                    );
                        None
                    }
                    None => None,
                }
            }
        };
        if let (Some(s), Some(d)) = (&system, &depends_on)
            && s == d
        {
            r.error(item, &path, format!("system `{s}` cannot depend on itself"));
        }
        f.finish(r, &["system", "kind", "depends_on", "on"]);
        if let (Some(system), Some(depends_on), Some(on)) = (system, depends_on, on) {
            out.push(CrossSystemDependency {
                system,
                kind,
                depends_on,
                on,
            });
        }
    }
    out
}
