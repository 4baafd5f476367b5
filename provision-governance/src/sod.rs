//! Separation of duties: named toxic combinations of entitlements, across systems,
//! and the conflicts people hold (or a plan would give them).
//!
//! A rule lists two or more [`EntitlementPattern`]s; a person holding a grant that
//! matches every pattern is in conflict. Rules are written in the policy files (see
//! [`super::sod_load`]) and checked on every plan by the
//! [`GovernanceHook`](super::GovernanceHook) ([`new_conflicts`]): a plan that would
//! *create* a conflict not covered by an active exception is refused for that person.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use provision_core::drift::Severity;
use provision_core::model::{ActualState, Entitlement, IdentityId, Plan, SourceLocation};
use provision_core::planner::{Descriptors, apply_with};

use super::exception::Exception;

/// One side of a toxic combination: a system, kind and resource, optionally a role
/// and a scope (left out: any role, any scope).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntitlementPattern {
    /// Canonical system name.
    pub system: String,
    /// Resource kind.
    pub kind: String,
    /// Resource.
    pub resource: String,
    /// The role, when only that role is toxic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The scope (`account:production`), when only that scope is toxic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl EntitlementPattern {
    /// A pattern for any role and scope of `system/kind/resource`.
    pub fn new(
        system: impl Into<String>,
        kind: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            system: system.into(),
            kind: kind.into(),
            resource: resource.into(),
            role: None,
            scope: None,
        }
    }

    /// True when `e` is a grant this pattern names.
    pub fn matches(&self, e: &Entitlement) -> bool {
        e.system.as_str() == self.system
            && e.kind == self.kind
            && e.resource == self.resource
            && self
                .role
                .as_ref()
                .is_none_or(|r| e.role.as_ref() == Some(r))
            && self
                .scope
                .as_ref()
                .is_none_or(|s| e.scope.as_ref() == Some(s))
    }
}

impl fmt::Display for EntitlementPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.system, self.kind, self.resource)?;
        if let Some(role) = &self.role {
            write!(f, " role={role}")?;
        }
        if let Some(scope) = &self.scope {
            write!(f, " scope={scope}")?;
        }
        Ok(())
    }
}

/// A named toxic combination: holding a grant matching every pattern is a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SodRule {
    /// Unique name ("Payments admin approves refunds").
    pub name: String,
    /// How bad a conflict is.
    pub severity: Severity,
    /// Why the combination is toxic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The entitlements that must not be held together (two or more).
    pub conflicting: Vec<EntitlementPattern>,
    /// Where the rule was written, when loaded from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceLocation>,
}

impl SodRule {
    /// The grants of `grants` that make this rule fire (one per pattern, the first in
    /// order), or `None` when some pattern has no match.
    pub fn fires<'a>(
        &self,
        grants: impl Iterator<Item = &'a Entitlement> + Clone,
    ) -> Option<Vec<Entitlement>> {
        self.conflicting
            .iter()
            .map(|p| grants.clone().find(|g| p.matches(g)).cloned())
            .collect()
    }
}

/// The rules of a policy set, in load order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SodRules {
    /// The rules.
    pub rules: Vec<SodRule>,
}

impl SodRules {
    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule named `name`.
    pub fn get(&self, name: &str) -> Option<&SodRule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// Every rule `grants` (one person's) fire, with the grants that fire it.
    pub fn conflicts_of(
        &self,
        identity: &IdentityId,
        grants: &BTreeSet<Entitlement>,
    ) -> Vec<SodConflict> {
        self.rules
            .iter()
            .filter_map(|rule| {
                rule.fires(grants.iter()).map(|grants| SodConflict {
                    rule: rule.name.clone(),
                    severity: rule.severity,
                    identity: identity.clone(),
                    grants,
                })
            })
            .collect()
    }

    /// Every conflict held in `actual`.
    pub fn conflicts_in(&self, actual: &ActualState) -> Vec<SodConflict> {
        if self.is_empty() {
            return Vec::new();
        }
        actual
            .identities
            .iter()
            .flat_map(|(id, who)| self.conflicts_of(id, &who.grants))
            .collect()
    }
}

/// One person holding (or about to hold) a toxic combination.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SodConflict {
    /// The rule that fires.
    pub rule: String,
    /// The rule's severity.
    pub severity: Severity,
    /// The person.
    pub identity: IdentityId,
    /// The grants that fire it, one per pattern of the rule.
    pub grants: Vec<Entitlement>,
}

impl fmt::Display for SodConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let grants: Vec<String> = self.grants.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{} would hold {} together, which separation-of-duties rule '{}' ({}) forbids",
            self.identity,
            grants.join(" and "),
            self.rule,
            self.severity
        )
    }
}

impl std::error::Error for SodConflict {}

/// True when an exception in `exceptions` covers `conflict` at `now`.
pub fn is_covered(conflict: &SodConflict, exceptions: &[Exception], now: DateTime<Utc>) -> bool {
    exceptions.iter().any(|e| {
        e.identity == conflict.identity && e.covers_rule(&conflict.rule) && e.is_active(now)
    })
}

/// The conflicts `plan` would create in `actual` (held after it, not before), less
/// those an active exception covers at `now`. Empty: the plan may run.
pub fn new_conflicts(
    rules: &SodRules,
    plan: &Plan,
    actual: &ActualState,
    descriptors: &Descriptors,
    exceptions: &[Exception],
    now: DateTime<Utc>,
) -> Vec<SodConflict> {
    if rules.is_empty() {
        return Vec::new();
    }
    let after = apply_with(plan, actual, descriptors);
    let touched: BTreeSet<&IdentityId> = plan.operations.iter().map(|o| &o.identity).collect();
    let empty = BTreeSet::new();
    let mut out = Vec::new();
    for id in touched {
        let before: BTreeMap<String, ()> = actual
            .identities
            .get(id)
            .map(|w| rules.conflicts_of(id, &w.grants))
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.rule, ()))
            .collect();
        let held = after.identities.get(id).map_or(&empty, |w| &w.grants);
        out.extend(
            rules
                .conflicts_of(id, held)
                .into_iter()
                .filter(|c| !before.contains_key(&c.rule))
                .filter(|c| !is_covered(c, exceptions, now)),
        );
    }
    out
}

/// Every conflict the desired state itself holds: someone whom policy (with
/// exceptions and requests) would give a toxic combination.
pub fn desired_conflicts(
    rules: &SodRules,
    desired: &provision_core::model::DesiredState,
) -> Vec<SodConflict> {
    if rules.is_empty() {
        return Vec::new();
    }
    desired
        .identities
        .iter()
        .flat_map(|(id, who)| {
            let grants: BTreeSet<Entitlement> = who.grants.keys().cloned().collect();
            rules.conflicts_of(id, &grants)
        })
        .collect()
}

/// What a policy change does to separation of duties: the conflicts the proposed
/// rules find in the proposed desired state (`after`) that the current rules do not
/// find in the current one (`before`), for the same person and rule. What
/// `provision simulate` shows before a policy change merges.
pub fn simulate(
    before: (&SodRules, &provision_core::model::DesiredState),
    after: (&SodRules, &provision_core::model::DesiredState),
) -> Vec<SodConflict> {
    let old: BTreeSet<(IdentityId, String)> = desired_conflicts(before.0, before.1)
        .into_iter()
        .map(|c| (c.identity, c.rule))
        .collect();
    desired_conflicts(after.0, after.1)
        .into_iter()
        .filter(|c| !old.contains(&(c.identity.clone(), c.rule.clone())))
        .collect()
}
