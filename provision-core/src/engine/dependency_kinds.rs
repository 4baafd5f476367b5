//! A dependency's `kind:` checked against its system's descriptor: where the
//! deployment (`crate::config`) meets what the adapters declare (`crate::adapter`),
//! so neither of those modules needs the other's view.

use std::collections::BTreeMap;

use crate::adapter::SystemDescriptor;
use crate::config::ConfigError;
use crate::config::DeploymentConfig;
use crate::model::SystemName;
use crate::yaml::{Diagnostic, Diagnostics, Node, Value, parse_yaml};

/// Checks that every dependency's `kind:` is a resource kind its system understands
/// (its descriptor's [`kinds`](crate::adapter::SystemDescriptor::kinds)), naming
/// `file:line:column` of the `kind:` and the kinds the system has.
///
/// `source` is the deployment file's name and text as loaded; without it (a
/// configuration built in code) the problems name the field only, at line 0.
/// Dependencies of systems without a descriptor in `descriptors` are not checked.
pub fn check_dependency_kinds(
    config: &DeploymentConfig,
    descriptors: &BTreeMap<SystemName, SystemDescriptor>,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::adapter::ResourceKindDescriptor;
    use crate::config::parse_config;

    #[test]
    fn a_dependency_kind_the_system_lacks_is_named_with_file_and_line() {
        let text = "systems:\n  okta: {adapter: okta}\n  aws: {adapter: aws}\ndependencies:\n  - {system: aws, depends_on: okta, on: grants, kind: permission_set}\n  - {system: aws, depends_on: okta, on: account, kind: permision_set}\n";
        let config = parse_config("provision.yaml", text).unwrap();
        let mut aws = SystemDescriptor::new("aws");
        aws.kinds
            .push(ResourceKindDescriptor::new("group", &["add_to_group"]));
        aws.kinds.push(ResourceKindDescriptor::new(
            "permission_set",
            &["assign_permission_set"],
        ));
        let descriptors = BTreeMap::from([(SystemName::new("aws"), aws)]);

        let err = check_dependency_kinds(&config, &descriptors, Some(("provision.yaml", text)))
            .unwrap_err();
        let problems = err.diagnostics();
        assert_eq!(problems.len(), 1, "{err}");
        assert_eq!(problems[0].location.file, "provision.yaml");
        assert_eq!(problems[0].location.line, 6);
        assert_eq!(problems[0].field, "dependencies[1].kind");
        assert!(
            problems[0].message.contains(
                "no resource kind `permision_set`; expected one of: group, permission_set"
            ),
            "{err}"
        );

        // Without the file the field is still named.
        let err = check_dependency_kinds(&config, &descriptors, None).unwrap_err();
        assert_eq!(err.diagnostics()[0].field, "dependencies[1].kind");
    }
}
