//! The `dependencies:` section: cross-system dependencies, read with file:line
//! diagnostics, and their `kind:` checked against the systems' descriptors.

use crate::model::SystemName;
use crate::yaml::{Fields, Node, Reader};

use super::{CrossSystemDependency, DependencyTarget, DeploymentConfig};

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
        let kind = f.nonempty_text(r, "kind");
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
