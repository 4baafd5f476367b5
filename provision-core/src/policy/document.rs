//! The written shape of a policy file, read from the located YAML tree.
//!
//! This step checks the shape only (fields, types, dates, trigger syntax); what
//! the names mean (systems, actions, roles, ownership) is checked in
//! [`super::validate`] against the deployment.

use chrono::{DateTime, Utc};

use super::yaml::{Fields, Node, Reader, Value};
use crate::model::{Selector, SourceLocation};

/// A value with where it was written and the field path that holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Located<T> {
    pub value: T,
    pub location: SourceLocation,
    pub path: String,
}

/// One policy as written.
#[derive(Debug, Clone)]
pub(crate) struct RawPolicy {
    /// Where the policy's mapping starts.
    pub location: SourceLocation,
    pub name: Option<Located<String>>,
    pub selector: Option<Selector>,
    pub provisions: Vec<RawProvision>,
}

/// One provision as written.
#[derive(Debug, Clone)]
pub(crate) struct RawProvision {
    pub location: SourceLocation,
    pub path: String,
    pub system: Option<Located<String>>,
    pub action: Option<Located<String>>,
    pub target: Option<Located<String>>,
    pub role: Option<Located<String>>,
    pub valid_from: Option<Located<DateTime<Utc>>>,
    pub valid_until: Option<Located<DateTime<Utc>>>,
    /// Fields other than the known ones: the kind's scope field (`account`) or
    /// mistakes, decided once the kind is known. Value is `None` when not a scalar.
    pub extra: Vec<Located<(String, Option<String>)>>,
}

/// The fields a provision always understands (the kind's scope field comes on top).
pub(crate) const PROVISION_FIELDS: &[&str] = &[
    "system",
    "action",
    "target",
    "role",
    "valid_from",
    "valid_until",
];

/// The top-level section of separation-of-duties rules, read by `provision-governance`.
pub(crate) const SOD_SECTION: &str = "separation_of_duties";

const POLICY_FIELDS: &[&str] = &["name", "description", "match", "triggers", "provisions"];
const CONDITION_OPERATORS: &[&str] = &["equals", "one_of", "not", "present"];
const CONDITION_FIELDS: &[&str] = &["equals", "one_of", "not", "present", "case_insensitive"];
const MATCH_MODES: &str = "`case_sensitive` (the default) or `case_insensitive`";

/// Reads every policy of one file. Problems go to `r`.
pub(crate) fn read_policies(r: &mut Reader, root: &Node) -> Vec<RawPolicy> {
    let Some(mut top) = r.fields(root, "") else {
        return Vec::new();
    };
    let single = top.get("policy");
    let many = top.get("policies");
    let mut out = Vec::new();
    match (single, many) {
        (Some(_), Some(m)) => {
            r.error(
                m,
                "policies",
                "a file holds either one `policy:` or a list under `policies:`, not both",
            );
        }
        (Some(p), None) => {
            if let Some(p) = read_policy(r, p, "policy") {
                out.push(p);
            }
        }
        (None, Some(list)) => {
            if let Some(items) = r.items(list, "policies") {
                if items.is_empty() {
                    r.error(list, "policies", "the list is empty; expected policies");
                }
                for (i, item) in items.iter().enumerate() {
                    if let Some(p) = read_policy(r, item, &format!("policies[{i}]")) {
                        out.push(p);
                    }
                }
            }
        }
        // A file of separation-of-duties rules only (read by `provision-governance`).
        (None, None) if top.has(SOD_SECTION) => {}
        (None, None) => {
            r.error(
                root,
                "",
                "expected a `policy:` mapping or a `policies:` list at the top of the file",
            );
        }
    }
    top.mark_read(SOD_SECTION);
    top.finish(r, &["policy", "policies", SOD_SECTION]);
    out
}

fn located_text(r: &mut Reader, node: &Node, path: String) -> Option<Located<String>> {
    let value = r.nonempty_text(node, &path)?;
    Some(Located {
        value,
        location: node.location(r.file()),
        path,
    })
}

fn read_policy(r: &mut Reader, node: &Node, path: &str) -> Option<RawPolicy> {
    let mut f = r.fields(node, path)?;
    let name = f
        .required(r, "name", "the policy's unique name")
        .and_then(|n| located_text(r, n, f.path_of("name")));
    if let Some(d) = f.get("description") {
        r.text(d, &f.path_of("description"));
    }
    let case_insensitive = match f.get("match") {
        None => false,
        Some(m) => match r.text(m, &f.path_of("match")).as_deref() {
            Some("case_sensitive") => false,
            Some("case_insensitive") => true,
            Some(other) => {
                r.error(
                    m,
                    &f.path_of("match"),
                    format!("unknown match mode `{other}`; expected {MATCH_MODES}"),
                );
                false
            }
            None => false,
        },
    };
    let selector = f
        .required(
            r,
            "triggers",
            "a list of attribute conditions, or `everyone`",
        )
        .and_then(|t| read_triggers(r, t, &f.path_of("triggers"), case_insensitive));
    let mut provisions = Vec::new();
    if let Some(list) = f.required(r, "provisions", "a list of entitlements to grant") {
        let ppath = f.path_of("provisions");
        if let Some(items) = r.items(list, &ppath) {
            if items.is_empty() {
                r.error(
                    list,
                    &ppath,
                    "the list is empty; expected at least one provision",
                );
            }
            for (i, item) in items.iter().enumerate() {
                if let Some(p) = read_provision(r, item, &format!("{ppath}[{i}]")) {
                    provisions.push(p);
                }
            }
        }
    }
    let location = node.location(r.file());
    f.finish(r, POLICY_FIELDS);
    Some(RawPolicy {
        location,
        name,
        selector,
        provisions,
    })
}

fn read_triggers(
    r: &mut Reader,
    node: &Node,
    path: &str,
    case_insensitive: bool,
) -> Option<Selector> {
    match &node.value {
        Value::Str(s) if s == "everyone" => Some(Selector::Everyone),
        Value::Seq(items) => {
            if items.is_empty() {
                r.error(
                    node,
                    path,
                    "the list is empty; expected at least one trigger (write `triggers: everyone` to select every identity)",
                );
                return None;
            }
            let mut any = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match read_trigger(r, item, &format!("{path}[{i}]"), case_insensitive) {
                    Some(s) => any.push(s),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Some(if any.len() == 1 {
                any.remove(0)
            } else {
                Selector::Any(any)
            })
        }
        other => {
            r.error(
                node,
                path,
                format!(
                    "expected a list of triggers (each a mapping of attribute conditions) or `everyone`, found {}",
                    other.describe()
                ),
            );
            None
        }
    }
}

/// One trigger: a mapping whose conditions must all hold.
fn read_trigger(
    r: &mut Reader,
    node: &Node,
    path: &str,
    case_insensitive: bool,
) -> Option<Selector> {
    let mut f = r.fields(node, path)?;
    let entries = f.all();
    if entries.is_empty() {
        r.error(
            node,
            path,
            "an empty trigger would select every identity; write `triggers: everyone` if that is meant",
        );
        return None;
    }
    let mut all = Vec::with_capacity(entries.len());
    let mut ok = true;
    for (attribute, _, value) in entries {
        match read_condition(
            r,
            &attribute,
            value,
            &f.path_of(&attribute),
            case_insensitive,
        ) {
            Some(s) => all.push(s),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    Some(if all.len() == 1 {
        all.remove(0)
    } else {
        Selector::All(all)
    })
}

fn scalar_list(r: &mut Reader, node: &Node, path: &str) -> Option<Vec<String>> {
    match &node.value {
        Value::Seq(items) => {
            if items.is_empty() {
                r.error(node, path, "the list is empty; expected at least one value");
                return None;
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(r.text(item, &format!("{path}[{i}]"))?);
            }
            Some(out)
        }
        Value::Null | Value::Map(_) => {
            r.error(
                node,
                path,
                format!(
                    "expected a value or a list of values, found {}",
                    node.value.describe()
                ),
            );
            None
        }
        _ => Some(vec![r.text(node, path)?]),
    }
}

/// One attribute condition: `dept: Sales`, `dept: [a, b]`, `dept: {not: Sales}`,
/// `manager: {present: true}`, `title: {equals: x, case_insensitive: true}`.
fn read_condition(
    r: &mut Reader,
    attribute: &str,
    node: &Node,
    path: &str,
    policy_ci: bool,
) -> Option<Selector> {
    let one_of = |values, ci| Selector::OneOf {
        attribute: attribute.to_owned(),
        values,
        case_insensitive: ci,
    };
    match &node.value {
        Value::Map(_) => {
            let mut f = r.fields(node, path)?;
            let ci = match f.get("case_insensitive") {
                Some(n) => r.boolean(n, &f.path_of("case_insensitive"))?,
                None => policy_ci,
            };
            let ops: Vec<&str> = CONDITION_OPERATORS
                .iter()
                .copied()
                .filter(|op| f.has(op))
                .collect();
            let selector = match ops.as_slice() {
                ["equals"] => {
                    let n = f.get("equals")?;
                    Some(one_of(vec![r.text(n, &f.path_of("equals"))?], ci))
                }
                ["one_of"] => {
                    let n = f.get("one_of")?;
                    match &n.value {
                        Value::Seq(_) => Some(one_of(scalar_list(r, n, &f.path_of("one_of"))?, ci)),
                        other => {
                            r.error(
                                n,
                                &f.path_of("one_of"),
                                format!("expected a list of values, found {}", other.describe()),
                            );
                            None
                        }
                    }
                }
                ["not"] => {
                    let n = f.get("not")?;
                    let values = scalar_list(r, n, &f.path_of("not"))?;
                    Some(Selector::Not(Box::new(one_of(values, ci))))
                }
                ["present"] => {
                    let n = f.get("present")?;
                    let present = r.boolean(n, &f.path_of("present"))?;
                    Some(Selector::Present {
                        attribute: attribute.to_owned(),
                        present,
                    })
                }
                [] => {
                    r.error(
                        node,
                        path,
                        format!(
                            "a condition needs one of: {}; e.g. `{attribute}: {{not: Sales}}` or `{attribute}: {{present: true}}`",
                            CONDITION_OPERATORS.join(", ")
                        ),
                    );
                    None
                }
                several => {
                    r.error(
                        node,
                        path,
                        format!(
                            "a condition takes exactly one of {}; found {}",
                            CONDITION_OPERATORS.join(", "),
                            several.join(" and ")
                        ),
                    );
                    None
                }
            };
            f.finish(r, CONDITION_FIELDS);
            selector
        }
        _ => Some(one_of(scalar_list(r, node, path)?, policy_ci)),
    }
}

fn text_field(
    r: &mut Reader,
    f: &mut Fields<'_>,
    key: &str,
    expected: &str,
    required: bool,
) -> Option<Located<String>> {
    let n = if required {
        f.required(r, key, expected)
    } else {
        f.get(key)
    };
    n.and_then(|n| located_text(r, n, f.path_of(key)))
}

fn read_provision(r: &mut Reader, node: &Node, path: &str) -> Option<RawProvision> {
    let mut f = r.fields(node, path)?;
    let system = text_field(
        r,
        &mut f,
        "system",
        "a configured system name or alias",
        true,
    );
    let action = text_field(
        r,
        &mut f,
        "action",
        "an action the system declares, e.g. add_to_group",
        true,
    );
    let target = text_field(
        r,
        &mut f,
        "target",
        "the resource's name (group, channel, project, ...)",
        true,
    );
    let role = text_field(r, &mut f, "role", "", false);
    let mut time_field = |r: &mut Reader, key: &str| {
        let n = f.get(key)?;
        let path = f.path_of(key);
        let value = r.time(n, &path)?;
        Some(Located {
            value,
            location: n.location(r.file()),
            path,
        })
    };
    let valid_from = time_field(r, "valid_from");
    let valid_until = time_field(r, "valid_until");
    if let (Some(from), Some(until)) = (&valid_from, &valid_until)
        && from.value >= until.value
    {
        r.error_at(
            until.location.clone(),
            &until.path,
            format!(
                "valid_until ({}) must be later than valid_from ({})",
                until.value.to_rfc3339(),
                from.value.to_rfc3339()
            ),
        );
    }
    let extra = f
        .unread()
        .into_iter()
        .map(|(name, key, value)| Located {
            value: (name.to_owned(), value.value.scalar_text()),
            location: key.location(r.file()),
            path: f.path_of(name),
        })
        .collect();
    Some(RawProvision {
        location: node.location(r.file()),
        path: path.to_owned(),
        system,
        action,
        target,
        role,
        valid_from,
        valid_until,
        extra,
    })
}
