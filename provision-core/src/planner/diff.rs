//! The diff: desired against actual, to operations. Joiner, mover, leaver and
//! rehire all come out of the same per-identity comparison.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::adapter::{ResourceKindDescriptor, RoleModel, SystemDescriptor};
use crate::config::{DeploymentConfig, Enforcement, SystemConfig};
use crate::model::{
    AccountProfile, ActualIdentity, ActualState, DesiredGrant, DesiredIdentity, DesiredState,
    Entitlement, Identity, Operation, OperationKind, Plan, Priority, Provenance, Reason,
    ResourceRecord, ResourceRef, SystemName,
};

use super::nesting::Parents;
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
/// * systems not in `config` or without a descriptor are left alone, and so is a
///   system where correlation was ambiguous for the identity
///   ([`ActualIdentity::ambiguous`]: a person decides);
/// * an active identity gets a `CreateAccount` (with its profile) where it needs
///   an account and has none, and a `ReactivateAccount` where its account is
///   suspended or deprovisioned (rehire); accounts that appear on first SSO
///   login get a create too, on which the grants depend. The create carries the
///   person's grants of kinds [`required_at_create`](crate::adapter::ResourceKindDescriptor::required_at_create)
///   in [`AccountProfile::required_grants`], and those are not granted again
///   (unless the create or the kind is only reported: then they are planned as
///   grants, executed or reported by the kind's enforcement);
/// * missing grants are granted; a grant on a resource some policy mentions that
///   no policy gives the identity any more is revoked (a mover loses exactly the
///   difference); an expired grant is revoked with reason `Expired`; a grant on a
///   resource no policy mentions (a manual grant, seen where the kind is
///   enumerable and the account's grants were read) is revoked only where that
///   kind's enforcement is `authoritative`;
/// * roles, by the kind's [`RoleModel`]: `Multiple` — every role on a resource is
///   its own grant, granted and revoked on its own (no role change between them);
///   `Single` — a role change is a revoke of the old role and a grant of the new
///   one; `Ordered` (or `role_change_in_place`) — a role change is ONE operation:
///   a `Grant` of the new role with reason kind [`ReasonKind::Replacement`](crate::model::ReasonKind::Replacement) whose
///   detail names the role it replaces; the old role is never revoked separately;
/// * nested kinds: a grant is not planned on a resource when a grant on one of
///   its ancestors (the listed parent, [`ActualState::resources`], or the path's
///   parent, `a/b` for `a/b/c`) that the identity keeps gives the same or a higher
///   role;
/// * [one per account](crate::adapter::ResourceKindDescriptor::one_per_account):
///   a change is ONE `Grant` of the new one with reason kind `Replacement` naming
///   the old one; the system replaces the old one itself (a Google org unit move,
///   a Salesforce profile change), so no revoke of the old one is planned and the
///   account never holds neither or both;
/// * profile sync: where the system keeps profile fields
///   ([`SystemDescriptor::profile_fields`]) and an existing account's attributes
///   differ from the HR values, ONE `UpdateAccount` with only the changed fields
///   (a field HR does not give is never sent, so nothing is wiped), reason kind
///   [`ReasonKind::ProfileSync`](crate::model::ReasonKind::ProfileSync);
/// * a terminated identity: sessions revoked (where the system can), account
///   suspended (where it can), every grant revoked in systems where no account
///   suspension covers it (the system cannot suspend, its suspension does not keep
///   grants harmless — `suspension_keeps_grants` false — or there is no account),
///   including hand-made ones on resources no policy names, the account deleted
///   where `delete_leavers` and the system can delete; all with
///   [`Priority::Leaver`]. An enabled account in a system that can neither
///   suspend nor delete, with nothing to revoke, is left;
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
    let systems = Systems::new(config, descriptors, &actual.resources);
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
/// `managed_resources` is [`DesiredState::managed_resources`]. Nested resources
/// are followed by their paths only (no listed parents).
pub fn plan_identity(
    desired: &DesiredIdentity,
    actual: Option<&ActualIdentity>,
    managed_resources: &BTreeSet<ResourceRef>,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
    now: DateTime<Utc>,
) -> Planned {
    let no_resources = BTreeMap::new();
    let systems = Systems::new(config, descriptors, &no_resources);
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

/// The planner for one identity at a time over a fixed deployment (what drift
/// uses to ask "what would the planner do here?" only where something differs).
pub(crate) struct IdentityPlanner<'a> {
    systems: Systems<'a>,
    managed: &'a BTreeSet<ResourceRef>,
}

impl<'a> IdentityPlanner<'a> {
    pub(crate) fn new(
        config: &'a DeploymentConfig,
        descriptors: &'a Descriptors,
        resources: &'a BTreeMap<SystemName, Vec<ResourceRecord>>,
        managed: &'a BTreeSet<ResourceRef>,
    ) -> Self {
        Self {
            systems: Systems::new(config, descriptors, resources),
            managed,
        }
    }

    /// What [`plan_with_report`] plans for this identity (unsorted).
    pub(crate) fn plan(
        &self,
        want: &DesiredIdentity,
        have: &ActualIdentity,
        now: DateTime<Utc>,
    ) -> Planned {
        let mut out = Planned::default();
        plan_identity_into(want, have, self.managed, &self.systems, now, &mut out);
        out
    }
}

/// A configured system with its descriptor.
struct SystemCtx<'a> {
    config: &'a SystemConfig,
    descriptor: &'a SystemDescriptor,
    accounts_owned_externally: bool,
    parents: Parents<'a>,
}

impl SystemCtx<'_> {
    fn owned_externally(&self, e: &Entitlement) -> bool {
        self.config.owner_of(&e.kind, &e.resource).is_some()
    }

    fn kind(&self, kind: &str) -> Option<&ResourceKindDescriptor> {
        self.descriptor.kind(kind)
    }

    fn role_model(&self, kind: &str) -> RoleModel {
        self.kind(kind).map_or(RoleModel::Single, |k| k.role_model)
    }

    /// A new role replaces the old one in one change.
    fn role_change_in_place(&self, kind: &str) -> bool {
        self.kind(kind).is_some_and(|k| {
            k.role_model != RoleModel::Multiple
                && (k.role_change_in_place || k.role_model == RoleModel::Ordered)
        })
    }

    fn one_per_account(&self, kind: &str) -> bool {
        self.kind(kind).is_some_and(|k| k.one_per_account)
    }

    fn required_at_create(&self, kind: &str) -> bool {
        self.kind(kind).is_some_and(|k| k.required_at_create)
    }

    /// The kind, when its resources have parents whose grants cover them (within the
    /// kind, or in the kind it is [nested in](ResourceKindDescriptor::nested_in)).
    fn nested(&self, kind: &str) -> Option<&ResourceKindDescriptor> {
        self.kind(kind)
            .filter(|k| k.nested || k.nested_in.is_some())
    }

    /// The system manages the identity's account (creates, reactivates, syncs it).
    fn manages_accounts(&self) -> bool {
        self.descriptor.has_accounts && !self.accounts_owned_externally
    }
}

struct Systems<'a> {
    by_name: BTreeMap<&'a SystemName, SystemCtx<'a>>,
}

impl<'a> Systems<'a> {
    fn new(
        config: &'a DeploymentConfig,
        descriptors: &'a Descriptors,
        resources: &'a BTreeMap<SystemName, Vec<ResourceRecord>>,
    ) -> Self {
        let by_name = config
            .systems
            .iter()
            .filter_map(|(name, cfg)| {
                let descriptor = descriptors.get(name)?;
                let accounts_owned_externally = leaver::accounts_owned_externally(cfg);
                let parents = resources
                    .get(name)
                    .map(|r| Parents::new(r))
                    .unwrap_or_default();
                Some((
                    name,
                    SystemCtx {
                        config: cfg,
                        descriptor,
                        accounts_owned_externally,
                        parents,
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

/// The held grant of the same system and kind as `e` that is not `e` (for
/// one-per-account kinds).
fn same_kind_other<'s>(set: &'s BTreeSet<Entitlement>, e: &Entitlement) -> Option<&'s Entitlement> {
    let start = Entitlement {
        system: e.system.clone(),
        kind: e.kind.clone(),
        resource: String::new(),
        role: None,
        scope: None,
    };
    set.range(start..)
        .take_while(|k| k.system == e.system && k.kind == e.kind)
        .find(|k| *k != e)
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

/// Whether the identity's account in `system` is created by this plan: it needs
/// one, has none, and the SDK manages the system's accounts.
fn account_created(
    want: &DesiredIdentity,
    have: &ActualIdentity,
    ctx: &SystemCtx<'_>,
    system: &SystemName,
) -> bool {
    ctx.manages_accounts() && want.accounts.contains(system) && !have.accounts.contains_key(system)
}

/// The grants the identity keeps whatever the plan does: every desired grant and
/// the held grants a plan never revokes (manual ones under additive or report
/// enforcement on resources no policy mentions). What covers a nested resource.
fn standing<'a>(
    want: &'a DesiredIdentity,
    have: &'a ActualIdentity,
    managed: &BTreeSet<ResourceRef>,
    systems: &Systems<'_>,
) -> BTreeSet<&'a Entitlement> {
    let mut out: BTreeSet<&Entitlement> = want.grants.keys().collect();
    for e in &have.grants {
        let Some(ctx) = systems.get(&e.system) else {
            continue;
        };
        let kept = ctx.owned_externally(e)
            || (!managed.contains(&e.resource_ref())
                && !want.expired.contains_key(e)
                && ctx.config.enforcement_for(&e.kind) != Enforcement::Authoritative);
        if kept {
            out.insert(e);
        }
    }
    out
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
    let ambiguous = |system: &SystemName| have.ambiguous.contains(system);

    let (missing, extra) = sorted_difference(want, have);
    // Held grants a grant of this plan replaces in one change (no revoke for them).
    let mut replaced: BTreeSet<&Entitlement> = BTreeSet::new();
    // Grants the identity keeps, for nested kinds (built on first need).
    let mut standing_grants: Option<BTreeSet<&Entitlement>> = None;
    // Grants carried by the account's create, per system.
    let mut at_create: BTreeMap<&SystemName, Vec<Entitlement>> = BTreeMap::new();

    // Grants to give.
    for (e, grant) in missing {
        let Some(ctx) = systems.get(&e.system) else {
            continue;
        };
        if ctx.owned_externally(e) || ambiguous(&e.system) {
            continue;
        }
        if ctx.nested(&e.kind).is_some() {
            let standing =
                standing_grants.get_or_insert_with(|| standing(want, have, managed, systems));
            if ctx.parents.covered(|k| ctx.kind(k), e, standing) {
                // An ancestor's grant already gives this (or more).
                continue;
            }
        }
        if ctx.required_at_create(&e.kind)
            && account_created(want, have, ctx, &e.system)
            && ctx.config.enforcement != Enforcement::Report
            && ctx.config.enforcement_for(&e.kind) != Enforcement::Report
        {
            at_create.entry(&e.system).or_default().push(e.clone());
            continue;
        }
        let old = if ctx.role_change_in_place(&e.kind) {
            same_resource_other_role(same_resource_range_set(&have.grants, e), e)
        } else {
            None
        }
        .or_else(|| {
            ctx.one_per_account(&e.kind)
                .then(|| same_kind_other(&have.grants, e))
                .flatten()
        })
        .filter(|old| !want.grants.contains_key(*old) && !ctx.owned_externally(old));
        let mut why = match old {
            Some(old) => {
                replaced.insert(old);
                reason::replacement(&grant.provenance, old, e)
            }
            None => reason::grant(&grant.provenance),
        };
        // A system that can enforce the end itself is told (GitLab's `expires_at`).
        why.valid_until = grant.validity.end;
        em.emit(
            ctx.config.enforcement_for(&e.kind),
            &e.system,
            OperationKind::Grant {
                entitlement: e.clone(),
            },
            why,
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
        if ctx.owned_externally(e) || ambiguous(&e.system) || replaced.contains(e) {
            continue;
        }
        let enforcement = ctx.config.enforcement_for(&e.kind);
        let other_role = (ctx.role_model(&e.kind) != RoleModel::Multiple)
            .then(|| same_resource_other_role(same_resource_range(&want.grants, e), e))
            .flatten();
        let why = if let Some(new) = other_role {
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
        if !ctx.manages_accounts() || ambiguous(system) || !want.accounts.contains(system) {
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
            None => {
                let mut profile =
                    AccountProfile::new(&identity.login, &identity.email, &identity.display_name)
                        .with_attributes(identity.attributes.clone());
                profile.required_grants = at_create.remove(system).unwrap_or_default();
                em.emit(
                    enforcement,
                    system,
                    OperationKind::CreateAccount { profile },
                    reason::account_needed(system.as_str(), &provenance()),
                );
            }
            Some(a) => {
                if !a.state.is_enabled() {
                    em.emit(
                        enforcement,
                        system,
                        OperationKind::ReactivateAccount,
                        reason::reactivation(system.as_str(), &provenance()),
                    );
                }
                let changed = profile_changes(identity, &a.record.attributes, ctx.descriptor);
                if !changed.is_empty() {
                    let why = reason::profile_sync(system.as_str(), &changed);
                    em.emit(
                        enforcement,
                        system,
                        OperationKind::UpdateAccount {
                            attributes: changed,
                        },
                        why,
                    );
                }
            }
        }
    }
}

/// The identity's HR value of a profile field: its display name for
/// `display_name`, otherwise its attribute of that name.
pub(crate) fn profile_value<'a>(identity: &'a Identity, field: &str) -> Option<&'a str> {
    match field {
        "display_name" => Some(identity.display_name.as_str()),
        "email" => Some(identity.email.as_str()),
        other => identity.attributes.get(other).map(String::as_str),
    }
}

/// The profile fields the system keeps whose HR value differs from the account's,
/// with the HR value. A field HR does not give is left out (never wiped).
fn profile_changes(
    identity: &Identity,
    account: &BTreeMap<String, String>,
    descriptor: &SystemDescriptor,
) -> BTreeMap<String, String> {
    descriptor
        .profile_fields
        .iter()
        .filter_map(|field| {
            let hr = profile_value(identity, field)?;
            (account.get(field).map(String::as_str) != Some(hr))
                .then(|| (field.clone(), hr.to_owned()))
        })
        .collect()
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
        if have.ambiguous.contains(system) {
            continue;
        }
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
