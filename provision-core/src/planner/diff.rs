//! The diff: desired against actual, to operations. Joiner, mover, leaver and
//! rehire all come out of the same per-identity comparison.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::adapter::SystemDescriptor;
use crate::config::{DeploymentConfig, Enforcement, SystemConfig};
use crate::model::{
    AccountProfile, ActualIdentity, ActualState, DesiredGrant, DesiredIdentity, DesiredState,
    Entitlement, Operation, OperationKind, Plan, Priority, Provenance, Reason, ResourceRef,
    SystemName,
};

use super::{Descriptors, leaver, reason};

/// The planner's output before ordering: the plan, and the changes it would have
/// made where enforcement is `report` (for drift and reports; never executed).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Planned {
    /// Operations to execute, sorted by id, without dependency edges yet.
    pub plan: Plan,
    /// Would-be operations in systems (or kinds) whose enforcement is `report`.
    pub report_only: Vec<Operation>,
}

/// Plans the operations that move `actual` to `desired`; see [`plan_with_report`].
pub fn plan(
    desired: &DesiredState,
    actual: &ActualState,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
    now: DateTime<Utc>,
) -> Plan {
    plan_with_report(desired, actual, config, descriptors, now).plan
}

/// Plans the operations that move `actual` to `desired`, for every identity in
/// `desired` (pass a desired state of a subset of identities to plan for that
/// subset; identities absent from `desired` are never touched, so a person
/// missing from an HR export is not treated as a leaver).
///
/// Rules, per identity and system:
/// * systems not in `config` or without a descriptor are left alone;
/// * an active identity gets a `CreateAccount` (with its profile) where it needs
///   an account and has none, and a `ReactivateAccount` where its account is
///   suspended or deprovisioned (rehire); accounts that appear on first SSO
///   login get a create too, on which the grants depend;
/// * missing grants are granted; a grant on a resource some policy mentions that
///   no policy gives the identity any more is revoked (a mover loses exactly the
///   difference); an expired grant is revoked with reason `Expired`; a grant on a
///   resource no policy mentions (a manual grant) is revoked only where that
///   kind's enforcement is `authoritative`;
/// * a role change is a revoke of the old role and a grant of the new one, or
///   only the grant where the kind's descriptor says `role_change_in_place`;
/// * a terminated identity: sessions revoked (where the system can), account
///   suspended (where it can), every grant revoked in systems where there is no
///   account to suspend, the account deleted where `delete_leavers` and the
///   system can delete; all with [`Priority::Leaver`]. An enabled account in a
///   system that can neither suspend nor delete, with nothing to revoke, is left;
/// * nothing owned by an external engine is touched (`SystemConfig::owner_of`;
///   accounts count as owned when an engine owns kind `account` or the whole system);
/// * under `report` enforcement the operations go to [`Planned::report_only`].
///
/// The output is deterministic: operations sorted by id.
pub fn plan_with_report(
    desired: &DesiredState,
    actual: &ActualState,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
    now: DateTime<Utc>,
) -> Planned {
    let systems = Systems::new(config, descriptors);
    let empty = ActualIdentity::default();
    let mut out = Planned::default();
    for (id, want) in &desired.identities {
        let have = actual.identities.get(id).unwrap_or(&empty);
        plan_identity_into(
            want,
            have,
            &desired.managed_resources,
            &systems,
            now,
            &mut out,
        );
    }
    out.plan.operations.sort_by(|a, b| a.id.cmp(&b.id));
    out.report_only.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Plans one identity (the per-identity form of [`plan_with_report`]).
/// `managed_resources` is [`DesiredState::managed_resources`].
pub fn plan_identity(
    desired: &DesiredIdentity,
    actual: Option<&ActualIdentity>,
    managed_resources: &BTreeSet<ResourceRef>,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
    now: DateTime<Utc>,
) -> Planned {
    let systems = Systems::new(config, descriptors);
    let empty = ActualIdentity::default();
    let mut out = Planned::default();
    plan_identity_into(
        desired,
        actual.unwrap_or(&empty),
        managed_resources,
        &systems,
        now,
        &mut out,
    );
    out.plan.operations.sort_by(|a, b| a.id.cmp(&b.id));
    out.report_only.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// A configured system with its descriptor.
struct SystemCtx<'a> {
    config: &'a SystemConfig,
    descriptor: &'a SystemDescriptor,
    accounts_owned_externally: bool,
}

impl SystemCtx<'_> {
    fn owned_externally(&self, e: &Entitlement) -> bool {
        self.config.owner_of(&e.kind, &e.resource).is_some()
    }

    fn role_change_in_place(&self, kind: &str) -> bool {
        self.descriptor
            .kind(kind)
            .is_some_and(|k| k.role_change_in_place)
    }
}

struct Systems<'a> {
    by_name: BTreeMap<&'a SystemName, SystemCtx<'a>>,
}

impl<'a> Systems<'a> {
    fn new(config: &'a DeploymentConfig, descriptors: &'a Descriptors) -> Self {
        let by_name = config
            .systems
            .iter()
            .filter_map(|(name, cfg)| {
                let descriptor = descriptors.get(name)?;
                let accounts_owned_externally = leaver::accounts_owned_externally(cfg);
                Some((
                    name,
                    SystemCtx {
                        config: cfg,
                        descriptor,
                        accounts_owned_externally,
                    },
                ))
            })
            .collect();
        Self { by_name }
    }

    fn get(&self, name: &SystemName) -> Option<&SystemCtx<'a>> {
        self.by_name.get(name)
    }
}

/// Collects one identity's operations.
struct Emitter<'a> {
    desired: &'a DesiredIdentity,
    priority: Priority,
    out: &'a mut Planned,
}

impl Emitter<'_> {
    fn emit(
        &mut self,
        enforcement: Enforcement,
        system: &SystemName,
        kind: OperationKind,
        reason: Reason,
    ) {
        let identity = &self.desired.identity;
        let op = Operation {
            id: Operation::make_id(&identity.id, system, &kind),
            identity: identity.id.clone(),
            login: identity.login.clone(),
            system: system.clone(),
            kind,
            reason,
            priority: self.priority,
        };
        self.push(enforcement, op);
    }

    /// Adds a ready operation: to the plan, or to the report under `report` enforcement.
    fn push(&mut self, enforcement: Enforcement, op: Operation) {
        match enforcement {
            Enforcement::Report => self.out.report_only.push(op),
            Enforcement::Additive | Enforcement::Authoritative => self.out.plan.operations.push(op),
        }
    }
}

/// The grant in `set` on the same resource as `e` with a different role, if any.
fn same_resource_other_role<'s>(
    set: impl IntoIterator<Item = &'s Entitlement>,
    e: &Entitlement,
) -> Option<&'s Entitlement> {
    set.into_iter().find(|o| {
        o.system == e.system
            && o.kind == e.kind
            && o.resource == e.resource
            && o.scope == e.scope
            && o.role != e.role
    })
}

/// The entitlements of `set` on the same system, kind and resource as `e` (role and
/// scope may differ): a short range scan of the sorted set.
fn same_resource_range<'s, V>(
    set: &'s BTreeMap<Entitlement, V>,
    e: &Entitlement,
) -> impl Iterator<Item = &'s Entitlement> {
    let start = Entitlement {
        system: e.system.clone(),
        kind: e.kind.clone(),
        resource: e.resource.clone(),
        role: None,
        scope: None,
    };
    set.range(start..)
        .map(|(k, _)| k)
        .take_while(move |k| k.system == e.system && k.kind == e.kind && k.resource == e.resource)
}

#[cfg(test)]
fn same_resource_range_set<'s>(
    set: &'s BTreeSet<Entitlement>,
    e: &Entitlement,
) -> impl Iterator<Item = &'s Entitlement> {
    let start = Entitlement {
        system: e.system.clone(),
        kind: e.kind.clone(),
        resource: e.resource.clone(),
        role: None,
        scope: None,
    };
    set.range(start..)
        .take_while(move |k| k.system == e.system && k.kind == e.kind && k.resource == e.resource)
}

type Missing<'a> = Vec<(&'a Entitlement, &'a DesiredGrant)>;

/// Desired grants the identity lacks and held grants it is not given: one merge
/// over the two sorted collections.
fn sorted_difference<'a>(
    want: &'a DesiredIdentity,
    have: &'a ActualIdentity,
) -> (Missing<'a>, Vec<&'a Entitlement>) {
    let mut missing = Vec::new();
    let mut extra = Vec::new();
    let mut w = want.grants.iter().peekable();
    let mut h = have.grants.iter().peekable();
    loop {
        match (w.peek(), h.peek()) {
            (Some((we, _)), Some(he)) => match (*we).cmp(*he) {
                Ordering::Less => missing.extend(w.next()),
                Ordering::Greater => extra.extend(h.next()),
                Ordering::Equal => {
                    w.next();
                    h.next();
                }
            },
            (Some(_), None) => missing.extend(w.next()),
            (None, Some(_)) => extra.extend(h.next()),
            (None, None) => return (missing, extra),
        }
    }
}

fn plan_identity_into(
    want: &DesiredIdentity,
    have: &ActualIdentity,
    managed: &BTreeSet<ResourceRef>,
    systems: &Systems<'_>,
    now: DateTime<Utc>,
    out: &mut Planned,
) {
    let identity = &want.identity;
    let terminated = identity.is_terminated_at(now);
    let mut em = Emitter {
        desired: want,
        priority: if terminated {
            Priority::Leaver
        } else {
            Priority::Normal
        },
        out,
    };

    let (missing, extra) = sorted_difference(want, have);

    // Grants to give.
    for (e, grant) in missing {
        let Some(ctx) = systems.get(&e.system) else {
            continue;
        };
        if ctx.owned_externally(e) {
            continue;
        }
        em.emit(
            ctx.config.enforcement_for(&e.kind),
            &e.system,
            OperationKind::Grant {
                entitlement: e.clone(),
            },
            reason::grant(&grant.provenance),
        );
    }

    if terminated {
        leaver_into(&mut em, have, &extra, systems);
        return;
    }

    // Grants to take away.
    for e in extra {
        let Some(ctx) = systems.get(&e.system) else {
            continue;
        };
        if ctx.owned_externally(e) {
            continue;
        }
        let enforcement = ctx.config.enforcement_for(&e.kind);
        let why =
            if let Some(new) = same_resource_other_role(same_resource_range(&want.grants, e), e) {
                if ctx.role_change_in_place(&e.kind) {
                    // The grant of the new role replaces this one.
                    continue;
                }
                reason::role_change(e, new)
            } else if let Some(expired) = want.expired.get(e) {
                reason::expired(&expired.provenance, expired.validity.end)
            } else if managed.contains(&e.resource_ref()) {
                reason::policy_removed(e)
            } else if enforcement == Enforcement::Authoritative {
                reason::unmanaged(e)
            } else {
                // A manual grant under additive (or report) enforcement: it stays.
                continue;
            };
        em.emit(
            enforcement,
            &e.system,
            OperationKind::Revoke {
                entitlement: e.clone(),
            },
            why,
        );
    }

    // Accounts.
    let mut account_systems: BTreeSet<&SystemName> = want.accounts.iter().collect();
    account_systems.extend(have.accounts.keys());
    for system in account_systems {
        let Some(ctx) = systems.get(system) else {
            continue;
        };
        if !ctx.descriptor.has_accounts || ctx.accounts_owned_externally {
            continue;
        }
        if !want.accounts.contains(system) {
            continue;
        }
        let enforcement = ctx.config.enforcement;
        let provenance = || -> Vec<&Provenance> {
            want.grants
                .iter()
                .filter(|(e, _)| &e.system == system)
                .flat_map(|(_, g)| g.provenance.iter())
                .collect()
        };
        match have.accounts.get(system) {
            None => em.emit(
                enforcement,
                system,
                OperationKind::CreateAccount {
                    profile: AccountProfile {
                        login: identity.login.clone(),
                        email: identity.email.clone(),
                        display_name: identity.display_name.clone(),
                        attributes: identity.attributes.clone(),
                    },
                },
                reason::account_needed(system.as_str(), &provenance()),
            ),
            Some(a) if !a.state.is_enabled() => em.emit(
                enforcement,
                system,
                OperationKind::ReactivateAccount,
                reason::reactivation(system.as_str(), &provenance()),
            ),
            Some(_) => {}
        }
    }
}

/// A terminated identity's grants to take away and accounts to close, system by
/// system, by [`leaver::leaver_ops_in_system`] (which drift detection uses too).
/// `extra` are the grants it holds that it is not given, sorted.
fn leaver_into(
    em: &mut Emitter<'_>,
    have: &ActualIdentity,
    extra: &[&Entitlement],
    systems: &Systems<'_>,
) {
    let mut touched: BTreeSet<&SystemName> = extra.iter().map(|e| &e.system).collect();
    touched.extend(have.accounts.keys());
    let desired = em.desired;
    let identity = &desired.identity;
    let mut ops = Vec::new();
    for system in touched {
        let Some(ctx) = systems.get(system) else {
            continue;
        };
        let grants = extra.iter().copied().filter(|e| &e.system == system);
        ops.extend(leaver::leaver_ops_in_system(
            identity,
            system,
            ctx.config,
            ctx.descriptor,
            grants,
            have.accounts.get(system),
        ));
    }
    for (enforcement, op) in ops {
        em.push(enforcement, op);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_other_role_on_same_resource_only() {
        let dev = Entitlement::new("gitlab", "group", "eng").with_role("developer");
        let maint = Entitlement::new("gitlab", "group", "eng").with_role("maintainer");
        let other = Entitlement::new("gitlab", "group", "eng2").with_role("maintainer");
        let set: BTreeSet<Entitlement> = [maint.clone(), other].into_iter().collect();
        assert_eq!(
            same_resource_other_role(same_resource_range_set(&set, &dev), &dev),
            Some(&maint)
        );
        assert_eq!(
            same_resource_other_role(same_resource_range_set(&set, &maint), &maint),
            None
        );
    }
}
