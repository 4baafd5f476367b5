//! The blast-radius guard: a plan that takes access from too many people is
//! refused until a person confirms it (a wrong HR export must not empty the
//! company overnight).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::BlastRadius;
use crate::model::{Operation, Plan};

/// Which configured limit a plan went over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "limit", content = "value")]
pub enum BlastLimit {
    /// `max_identities`: most identities losing access.
    Identities(usize),
    /// `max_share`: most share of the population losing access.
    Share(f64),
    /// `max_operations`: most removal operations.
    Operations(usize),
}

impl fmt::Display for BlastLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlastLimit::Identities(n) => write!(f, "max_identities = {n}"),
            BlastLimit::Share(s) => write!(f, "max_share = {:.1}% of the population", s * 100.0),
            BlastLimit::Operations(n) => write!(f, "max_operations = {n}"),
        }
    }
}

/// A plan removes more access than the configured blast radius allows.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error(
    "blast radius exceeded: the plan removes access from {identities} of {population} identities \
     ({share:.1}%) with {operations} removal operations (revoke, suspend, delete, revoke sessions), \
     over the limit {limit}; review the plan and confirm it explicitly to apply it"
)]
pub struct BlastRadiusExceeded {
    /// Identities that would lose some access.
    pub identities: usize,
    /// The population the share is measured against.
    pub population: usize,
    /// `identities` as a percentage of `population`.
    pub share: f64,
    /// Removal operations in the plan.
    pub operations: usize,
    /// The first limit exceeded.
    pub limit: BlastLimit,
}

/// Checks `plan` against `limits` for a population of `population` identities.
///
/// Counts removal operations ([`crate::model::OperationKind::is_removal`]) and the
/// distinct identities they touch; the plan is refused when either count, or the
/// identities' share of the population, is over its limit.
pub fn check_blast_radius(
    plan: &Plan,
    population: usize,
    limits: &BlastRadius,
) -> Result<(), BlastRadiusExceeded> {
    check_operations(&plan.operations, population, limits)
}

pub(crate) fn check_operations(
    operations: &[Operation],
    population: usize,
    limits: &BlastRadius,
) -> Result<(), BlastRadiusExceeded> {
    let removals: Vec<&Operation> = operations.iter().filter(|o| o.kind.is_removal()).collect();
    let identities = removals
        .iter()
        .map(|o| &o.identity)
        .collect::<BTreeSet<_>>()
        .len();
    let operations = removals.len();
    #[allow(clippy::cast_precision_loss)]
    let share_of = |n: usize| {
        if population == 0 {
            if n == 0 { 0.0 } else { 1.0 }
        } else {
            n as f64 / population as f64
        }
    };
    let share = share_of(identities);
    let exceeded = |limit| BlastRadiusExceeded {
        identities,
        population,
        share: share * 100.0,
        operations,
        limit,
    };
    if let Some(max) = limits.max_identities.filter(|max| identities > *max) {
        return Err(exceeded(BlastLimit::Identities(max)));
    }
    if let Some(max) = limits.max_share.filter(|max| share > *max) {
        return Err(exceeded(BlastLimit::Share(max)));
    }
    if let Some(max) = limits.max_operations.filter(|max| operations > *max) {
        return Err(exceeded(BlastLimit::Operations(max)));
    }
    Ok(())
}

/// A plan that has been through the blast-radius guard. Get the plan with
/// [`GuardedPlan::into_plan`] (refused when over the limit) or, after a person
/// reviewed it, [`GuardedPlan::confirm_blast_radius`].
#[derive(Debug, Clone)]
#[must_use = "a guarded plan does nothing until the plan is taken out of it"]
pub struct GuardedPlan {
    plan: Plan,
    report_only: Vec<Operation>,
    exceeded: Option<BlastRadiusExceeded>,
}

impl GuardedPlan {
    /// Guards `plan`.
    pub fn new(
        plan: Plan,
        report_only: Vec<Operation>,
        population: usize,
        limits: &BlastRadius,
    ) -> Self {
        let exceeded = check_blast_radius(&plan, population, limits).err();
        Self {
            plan,
            report_only,
            exceeded,
        }
    }

    /// Why the plan needs confirmation, if it does.
    pub fn exceeded(&self) -> Option<&BlastRadiusExceeded> {
        self.exceeded.as_ref()
    }

    /// The plan, for review only (showing it to the person who must confirm).
    pub fn preview(&self) -> &Plan {
        &self.plan
    }

    /// The would-be operations in `report` systems (never executed).
    pub fn report_only(&self) -> &[Operation] {
        &self.report_only
    }

    /// The plan, unless it exceeds the blast radius.
    pub fn into_plan(self) -> Result<Plan, BlastRadiusExceeded> {
        match self.exceeded {
            Some(e) => Err(e),
            None => Ok(self.plan),
        }
    }

    /// The plan, confirmed by a person even if it exceeds the blast radius.
    pub fn confirm_blast_radius(self) -> Plan {
        if let Some(e) = &self.exceeded {
            tracing::warn!(
                identities = e.identities,
                operations = e.operations,
                population = e.population,
                "blast radius exceeded and confirmed explicitly"
            );
        }
        self.plan
    }
}
