//! Meaning checks: written policies against the configured systems and their
//! descriptors, then across policies (duplicate names, conflicting roles).

use std::collections::{BTreeMap, HashMap};

use super::document::{Located, PROVISION_FIELDS, RawPolicy, RawProvision};
use super::error::Diagnostic;
use crate::adapter::{ResourceKindDescriptor, RoleModel, SystemDescriptor};
use crate::config::DeploymentConfig;
use crate::model::{
    Entitlement, Policy, PolicyGrant, PolicySet, ResourceRef, SourceLocation, SystemName, Validity,
};

/// What policies are checked against: the deployment and each system's descriptor.
pub(crate) struct Context<'a> {
    pub config: &'a DeploymentConfig,
    pub descriptors: &'a BTreeMap<SystemName, SystemDescriptor>,
}

fn problem(location: &SourceLocation, field: &str, message: String) -> Diagnostic {
    Diagnostic {
        location: location.clone(),
        field: field.to_owned(),
        message,
    }
}

fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let v: Vec<String> = items
        .into_iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect();
    if v.is_empty() {
        "(none)".to_owned()
    } else {
        v.join(", ")
    }
}

impl Context<'_> {
    fn known_systems(&self) -> String {
        let mut names: Vec<String> = Vec::new();
        for (name, cfg) in &self.config.systems {
            names.push(name.to_string());
            names.extend(cfg.aliases.iter().cloned());
        }
        list(names)
    }

    /// Resolves every written policy; problems go to `out`.
    pub fn resolve(&self, raw: &[RawPolicy], out: &mut Vec<Diagnostic>) -> PolicySet {
        let mut policies = Vec::with_capacity(raw.len());
        let mut given: Vec<Given> = Vec::new();
        for p in raw {
            let mut grants = Vec::with_capacity(p.provisions.len());
            for prov in &p.provisions {
                if let Some(g) = self.resolve_provision(prov, out) {
                    if let Some(name) = &p.name {
                        given.push(Given {
                            policy: name.value.clone(),
                            grant: g.clone(),
                            location: prov.location.clone(),
                            path: prov.role.as_ref().map_or_else(
                                || format!("{}.target", prov.path),
                                |r| r.path.clone(),
                            ),
                        });
                    }
                    grants.push(g);
                }
            }
            if let (Some(name), Some(selector)) = (&p.name, &p.selector) {
                policies.push(Policy {
                    name: name.value.clone(),
                    selector: selector.clone(),
                    grants,
                    source: Some(p.location.clone()),
                });
            }
        }
        check_duplicate_names(raw, out);
        // Kinds whose roles are held side by side (Jira project roles) never conflict.
        let multiple = |e: &Entitlement| {
            self.descriptors
                .get(&e.system)
                .and_then(|d| d.kind(&e.kind))
                .is_some_and(|k| k.role_model == RoleModel::Multiple)
        };
        check_conflicting_roles(&given, &multiple, out);
        PolicySet { policies }
    }

    fn resolve_provision(
        &self,
        prov: &RawProvision,
        out: &mut Vec<Diagnostic>,
    ) -> Option<PolicyGrant> {
        let system = prov.system.as_ref()?;
        let Some(canonical) = self.config.resolve_system(&system.value) else {
            out.push(problem(
                &system.location,
                &system.path,
                format!(
                    "unknown system `{}`; expected a configured system or alias: {}",
                    system.value,
                    self.known_systems()
                ),
            ));
            return None;
        };
        let Some(descriptor) = self.descriptors.get(canonical) else {
            out.push(problem(
                &system.location,
                &system.path,
                format!(
                    "system `{canonical}` is configured but its adapter published no descriptor, so its actions cannot be checked"
                ),
            ));
            return None;
        };
        let action = prov.action.as_ref()?;
        let Some(kind) = descriptor.kind_for_action(&action.value) else {
            if let Some(needs) = descriptor.unavailable_actions.get(&action.value) {
                out.push(problem(
                    &action.location,
                    &action.path,
                    format!(
                        "system `{canonical}` (adapter `{}`) cannot grant `{}` as configured: it needs {needs}",
                        descriptor.adapter_type, action.value
                    ),
                ));
                return None;
            }
            let actions = descriptor.kinds.iter().flat_map(|k| k.actions.iter());
            out.push(problem(
                &action.location,
                &action.path,
                format!(
                    "system `{canonical}` (adapter `{}`) does not declare action `{}`; expected one of: {}",
                    descriptor.adapter_type,
                    action.value,
                    list(actions)
                ),
            ));
            return None;
        };
        let role = self.resolve_role(canonical, kind, prov, out);
        let scope = resolve_scope(canonical, kind, prov, out);
        let target = prov.target.as_ref()?;
        if let Some(engine) = self
            .config
            .systems
            .get(canonical)
            .and_then(|c| c.owner_of(&kind.kind, &target.value))
        {
            out.push(problem(
                &target.location,
                &target.path,
                format!(
                    "target `{}` ({canonical} {}) is owned by the external engine `{engine}`; policies may not grant what another engine manages (remove this provision or the ownership rule in the deployment configuration)",
                    target.value, kind.kind
                ),
            ));
            return None;
        }
        let role = role?;
        let scope = scope?;
        let mut entitlement = Entitlement::new(canonical.as_str(), &kind.kind, &target.value);
        entitlement.role = role;
        entitlement.scope = scope;
        Some(PolicyGrant {
            entitlement,
            validity: Validity {
                start: prov.valid_from.as_ref().map(|l| l.value),
                end: prov.valid_until.as_ref().map(|l| l.value),
            },
            source: Some(prov.location.clone()),
        })
    }

    /// `Some(role)` resolved (`Some(None)` for kinds without roles); `None` on a problem.
    fn resolve_role(
        &self,
        system: &SystemName,
        kind: &ResourceKindDescriptor,
        prov: &RawProvision,
        out: &mut Vec<Diagnostic>,
    ) -> Option<Option<String>> {
        match (&prov.role, kind.roles.is_empty()) {
            (None, true) => Some(None),
            (Some(role), true) => {
                out.push(problem(
                    &role.location,
                    &role.path,
                    format!(
                        "{system} {} has no roles, found role `{}`; remove the `role` field",
                        kind.kind, role.value
                    ),
                ));
                None
            }
            (Some(role), false) => {
                if kind.roles.contains(&role.value) {
                    return Some(Some(role.value.clone()));
                }
                let hint = kind
                    .roles
                    .iter()
                    .find(|r| r.eq_ignore_ascii_case(&role.value))
                    .map(|r| format!(" (did you mean `{r}`? roles are case-sensitive)"))
                    .unwrap_or_default();
                out.push(problem(
                    &role.location,
                    &role.path,
                    format!(
                        "role `{}` is not valid for {system} {}; expected one of: {}{hint}",
                        role.value,
                        kind.kind,
                        list(&kind.roles)
                    ),
                ));
                None
            }
            (None, false) => match &kind.default_role {
                Some(d) => Some(Some(d.clone())),
                None => {
                    out.push(problem(
                        &prov.location,
                        &format!("{}.role", prov.path),
                        format!(
                            "missing required field `role`: {system} {} has no default role; expected one of: {}",
                            kind.kind,
                            list(&kind.roles)
                        ),
                    ));
                    None
                }
            },
        }
    }
}

/// The kind's scope field (`account: production` -> `account:production`) and any
/// unknown fields. `Some(scope)` resolved; `None` on a problem.
fn resolve_scope(
    system: &SystemName,
    kind: &ResourceKindDescriptor,
    prov: &RawProvision,
    out: &mut Vec<Diagnostic>,
) -> Option<Option<String>> {
    let mut expected: Vec<&str> = PROVISION_FIELDS.to_vec();
    if let Some(s) = &kind.scope {
        expected.push(s);
    }
    let mut ok = true;
    let mut scope = None;
    for Located {
        value: (name, value),
        location,
        path,
    } in &prov.extra
    {
        if kind.scope.as_deref() == Some(name.as_str()) {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => scope = Some(format!("{name}:{v}")),
                _ => {
                    ok = false;
                    out.push(problem(
                        location,
                        path,
                        format!(
                            "expected the {name} the {} applies in, as a non-empty string",
                            kind.kind
                        ),
                    ));
                }
            }
        } else {
            ok = false;
            out.push(problem(
                location,
                path,
                format!(
                    "unknown field `{name}` for {system} {}; expected one of: {}",
                    kind.kind,
                    expected.join(", ")
                ),
            ));
        }
    }
    if let (Some(field), None, true) = (&kind.scope, &scope, ok) {
        out.push(problem(
            &prov.location,
            &format!("{}.{field}", prov.path),
            format!(
                "missing required field `{field}`: {system} {} applies in one {field} (e.g. `{field}: production`)",
                kind.kind
            ),
        ));
        return None;
    }
    ok.then_some(scope)
}

fn check_duplicate_names(raw: &[RawPolicy], out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, &Located<String>> = HashMap::new();
    for p in raw {
        let Some(name) = &p.name else { continue };
        match seen.get(name.value.as_str()) {
            Some(first) => out.push(problem(
                &name.location,
                &name.path,
                format!(
                    "duplicate policy name `{}`; also defined at {}; policy names must be unique",
                    name.value, first.location
                ),
            )),
            None => {
                seen.insert(&name.value, name);
            }
        }
    }
}

/// One grant with the policy and place that gives it.
struct Given {
    policy: String,
    grant: PolicyGrant,
    location: SourceLocation,
    path: String,
}

/// A person holds one role per resource: two provisions giving the same resource
/// with different roles are an error, naming both places, unless the kind's roles are
/// [`RoleModel::Multiple`] (`multiple`).
fn check_conflicting_roles(
    given: &[Given],
    multiple: &dyn Fn(&Entitlement) -> bool,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<ResourceRef, &Given> = HashMap::new();
    for g in given.iter().filter(|g| !multiple(&g.grant.entitlement)) {
        let key = g.grant.entitlement.resource_ref();
        match seen.get(&key) {
            Some(first) if first.grant.entitlement.role != g.grant.entitlement.role => {
                out.push(problem(
                    &g.location,
                    &g.path,
                    format!(
                        "conflicting roles for {key}: policy `{}` gives role `{}` here, but policy `{}` gives role `{}` at {}; a person holds one role per resource",
                        g.policy,
                        g.grant.entitlement.role.as_deref().unwrap_or("(none)"),
                        first.policy,
                        first.grant.entitlement.role.as_deref().unwrap_or("(none)"),
                        first.location,
                    ),
                ));
            }
            Some(_) => {}
            None => {
                seen.insert(key, g);
            }
        }
    }
}
