//! The blast-radius guard: a plan that takes access from too many people is
//! refused until a person confirms it (a wrong HR export must not empty the
//! company overnight).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::BlastRadius;
use crate::model::{ExternalIds, Operation, Plan, Refusal};

/// Which configured limit a plan went over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "limit", content = "value")]
#[non_exhaustive]
pub enum BlastLimit {
    /// `max_identities`: most identities losing access.
    Identities(usize),
    /// `max_share`: most share of the population losing access.
    Share(f64),
    /// `max_operations`: most removal operations.
    Operations(usize),
    /// The count a person confirmed: most identities they expected to lose access.
    Confirmed(usize),
}

impl fmt::Display for BlastLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlastLimit::Identities(n) => write!(f, "max_identities = {n}"),
            BlastLimit::Share(s) => write!(f, "max_share = {:.1}% of the population", s * 100.0),
            BlastLimit::Operations(n) => write!(f, "max_operations = {n}"),
            BlastLimit::Confirmed(n) => write!(f, "confirmed for at most {n} identities"),
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

/// A plan that has been through the blast-radius guard. Take an [`ApprovedPlan`] out
/// of it with [`GuardedPlan::approve`] (refused when over the limit) or, after a
/// person reviewed it, [`GuardedPlan::confirm_blast_radius`] with the number of
/// identities they expect to lose access.
#[derive(Debug, Clone)]
#[must_use = "a guarded plan does nothing until it is approved"]
pub struct GuardedPlan {
    plan: Plan,
    report_only: Vec<Operation>,
    population: usize,
    exceeded: Option<BlastRadiusExceeded>,
    ids: ExternalIds,
    refusals: Vec<Refusal>,
}

impl GuardedPlan {
    /// Guards `plan`: checks it against `limits` for a population of `population`.
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
            population,
            exceeded,
            ids: ExternalIds::new(),
            refusals: Vec::new(),
        }
    }

    /// The people a hook refused, with the operations held back for each (see
    /// [`crate::gate`]): not in the plan; everyone else's changes are.
    pub fn with_refusals(mut self, refusals: Vec<Refusal>) -> Self {
        self.refusals = refusals;
        self
    }

    /// The people a hook refused, each with why and the operations held back.
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    /// The account ids the plan was made from (what was read): the plan carries them
    /// to [`ApprovedPlan::account_ids`], so applying it never depends on a later read.
    pub fn with_account_ids(mut self, ids: ExternalIds) -> Self {
        self.ids = ids;
        self
    }

    /// The account ids the plan was made from.
    pub fn account_ids(&self) -> &ExternalIds {
        &self.ids
    }

    /// Why the plan needs confirmation, if it does.
    pub fn exceeded(&self) -> Option<&BlastRadiusExceeded> {
        self.exceeded.as_ref()
    }

    /// The plan, for review only (showing it to the person who must confirm, saving it).
    pub fn preview(&self) -> &Plan {
        &self.plan
    }

    /// The would-be operations in `report` systems (never executed).
    pub fn report_only(&self) -> &[Operation] {
        &self.report_only
    }

    /// The population the share was measured against.
    pub fn population(&self) -> usize {
        self.population
    }

    /// The plan, approved to run, unless it exceeds the blast radius.
    pub fn approve(self) -> Result<ApprovedPlan, BlastRadiusExceeded> {
        match self.exceeded {
            Some(e) => Err(e),
            None => Ok(ApprovedPlan {
                plan: self.plan,
                approval: Approval::WithinLimits {
                    population: self.population,
                },
                ids: self.ids,
            }),
        }
    }

    /// The plan, approved by a person who reviewed it and expects it to remove access
    /// from at most `expected_identities` identities, even if that is over the blast
    /// radius. A plan that removes access from more identities than that is still
    /// refused (the limit reported is [`BlastLimit::Confirmed`]), so a larger surprise
    /// than the one confirmed does not run.
    pub fn confirm_blast_radius(
        self,
        expected_identities: usize,
    ) -> Result<ApprovedPlan, BlastRadiusExceeded> {
        Ok(
            ApprovedPlan::confirmed(self.plan, self.population, expected_identities)?
                .with_account_ids(self.ids),
        )
    }
}

/// How a plan was approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "approval")]
#[non_exhaustive]
pub enum Approval {
    /// Within the blast radius it was guarded against, for this population. The
    /// executor checks it again against its own configured limits.
    WithinLimits {
        /// The population the share was measured against.
        population: usize,
    },
    /// Confirmed by a person for at most this many identities losing access.
    Confirmed {
        /// The population the plan was planned for.
        population: usize,
        /// The identities the person expected to lose access (an upper bound).
        expected_identities: usize,
    },
}

/// A plan the executor (and the [`Engine`](crate::engine::Engine)) will run: it passed
/// the blast-radius guard, or a person confirmed it with the count they expect. There
/// is no other way to make one, and it cannot be changed once made, so no plan reaches
/// a system without the guard.
#[derive(Debug, Clone)]
pub struct ApprovedPlan {
    plan: Plan,
    approval: Approval,
    ids: ExternalIds,
}

impl ApprovedPlan {
    /// Guards `plan` against `limits` for `population` and approves it when within them.
    pub fn within_limits(
        plan: Plan,
        population: usize,
        limits: &BlastRadius,
    ) -> Result<Self, BlastRadiusExceeded> {
        GuardedPlan::new(plan, Vec::new(), population, limits).approve()
    }

    /// `plan` (a saved one, or a remediation), confirmed by a person who expects it to
    /// remove access from at most `expected_identities` identities. Refused when it
    /// removes access from more.
    pub fn confirmed(
        plan: Plan,
        population: usize,
        expected_identities: usize,
    ) -> Result<Self, BlastRadiusExceeded> {
        let confirmed = BlastRadius {
            max_identities: Some(expected_identities),
            max_share: None,
            max_operations: None,
        };
        check_blast_radius(&plan, population, &confirmed).map_err(|mut e| {
            e.limit = BlastLimit::Confirmed(expected_identities);
            e
        })?;
        tracing::warn!(
            expected_identities,
            population,
            "blast radius confirmed explicitly"
        );
        Ok(Self {
            plan,
            approval: Approval::Confirmed {
                population,
                expected_identities,
            },
            ids: ExternalIds::new(),
        })
    }

    /// The same plan, applied with these account ids (a saved plan, once its systems
    /// were read again).
    pub fn with_account_ids(mut self, ids: ExternalIds) -> Self {
        self.ids = ids;
        self
    }

    /// The account ids the plan was made from: what [`crate::engine::Engine::apply`]
    /// hands the adapters (the executor adds the ids of accounts it creates).
    pub fn account_ids(&self) -> &ExternalIds {
        &self.ids
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The plan itself (to save or show it; applying it again needs a new approval).
    pub fn into_plan(self) -> Plan {
        self.plan
    }

    /// How it was approved.
    pub fn approval(&self) -> Approval {
        self.approval
    }

    /// Checks the plan again against `limits` (the executor's own): a plan approved
    /// within looser limits than the executor's is refused; a confirmed one is held to
    /// its confirmed count only.
    pub fn recheck(&self, limits: &BlastRadius) -> Result<(), BlastRadiusExceeded> {
        match self.approval {
            Approval::WithinLimits { population } => {
                check_blast_radius(&self.plan, population, limits)
            }
            Approval::Confirmed {
                population,
                expected_identities,
            } => check_blast_radius(
                &self.plan,
                population,
                &BlastRadius {
                    max_identities: Some(expected_identities),
                    max_share: None,
                    max_operations: None,
                },
            )
            .map_err(|mut e| {
                e.limit = BlastLimit::Confirmed(expected_identities);
                e
            }),
        }
    }
}

impl std::ops::Deref for ApprovedPlan {
    type Target = Plan;
    fn deref(&self) -> &Plan {
        &self.plan
    }
}
