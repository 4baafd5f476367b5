//! The planner: people and policies in, an ordered plan of changes out.
//!
//! Pure functions over plain data (no I/O, no async, except [`read_system`]), usable over
//! everyone or per identity:
//!
//! 1. [`desired()`] — identities × policies → [`DesiredState`] with provenance;
//! 2. [`read::read_system`] (the one async step, through the adapters: accounts,
//!    grants on policy-named resources, every account's grants where kinds are
//!    enumerable, nested resources) and [`correlate_with`] / [`read::correlate_reads`]
//!    — what adapters read → [`ActualState`];
//! 3. [`plan()`] / [`plan_with_report`] — desired vs actual → operations;
//! 4. [`crate::orderer::order`] — the dependency DAG and a deterministic order;
//! 5. [`check_blast_radius`] / [`GuardedPlan`] — refuse a plan that removes too much.
//!
//! [`Planner`] strings them together; [`apply()`] applies a plan in memory.
//!
//! ```
//! use std::collections::BTreeMap;
//! use chrono::Utc;
//! use provision_core::adapter::{ResourceKindDescriptor, SystemDescriptor};
//! use provision_core::config::{DeploymentConfig, SystemConfig};
//! use provision_core::model::*;
//! use provision_core::planner::{Descriptors, Planner};
//!
//! let mut config = DeploymentConfig::default();
//! config.systems.insert("okta".into(), SystemConfig::new("okta"));
//! let mut okta = SystemDescriptor::new("okta");
//! okta.has_accounts = true;
//! okta.kinds.push(ResourceKindDescriptor::new("group", &["add_to_group"]));
//! let descriptors: Descriptors = BTreeMap::from([("okta".into(), okta)]);
//!
//! let policies = PolicySet { policies: vec![Policy {
//!     name: "Sales Access".into(),
//!     selector: Selector::equals("department", "Sales"),
//!     grants: vec![PolicyGrant {
//!         entitlement: Entitlement::new("okta", "group", "sales-team"),
//!         validity: Validity::ALWAYS,
//!         source: None,
//!     }],
//!     source: None,
//! }]};
//! let sarah = Identity::new("e1", "sarah@company.com", "Sarah").with_attribute("department", "Sales");
//!
//! let planner = Planner::new(&config, &descriptors).with_event("hr:hire:e1");
//! let now = Utc::now();
//! let desired = planner.desired(&[sarah.clone()], &policies, now);
//! let actual = provision_core::planner::correlate(&[sarah], &BTreeMap::new());
//! let plan = planner.plan(&desired, &actual, now)?.approve()?;
//! assert_eq!(plan.operations[0].kind.verb(), "create_account");
//! assert_eq!(plan.operations[1].kind.verb(), "grant");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{DateTime, Utc};

use crate::config::DeploymentConfig;
use crate::model::{ActualState, DesiredState, Identity, PolicySet};
use crate::orderer::{self, CycleError};

mod apply;
mod blast_radius;
mod correlate;
mod desired;
mod diff;
pub(crate) mod leaver;
mod nesting;
mod read;
mod reason;

pub use apply::{apply, apply_with};
pub use blast_radius::{
    Approval, ApprovedPlan, BlastLimit, BlastRadiusExceeded, GuardedPlan, check_blast_radius,
};
pub use correlate::{correlate, correlate_with};
pub use desired::{desired, desired_for};
pub(crate) use diff::IdentityPlanner;
pub use diff::{Planned, plan, plan_identity, plan_with_report};
pub use read::{
    DirectReads, SystemRead, SystemReads, correlate_reads, in_system, merge_account_grants,
    read_system, read_system_with,
};

pub use crate::adapter::Descriptors;

/// The planner over one deployment: desired state, diff, order and guard in one call.
#[derive(Debug, Clone)]
pub struct Planner<'a> {
    config: &'a DeploymentConfig,
    descriptors: &'a Descriptors,
    event: Option<String>,
    population: Option<usize>,
}

impl<'a> Planner<'a> {
    /// A planner for `config` with the configured systems' descriptors.
    pub fn new(config: &'a DeploymentConfig, descriptors: &'a Descriptors) -> Self {
        Self {
            config,
            descriptors,
            event: None,
            population: None,
        }
    }

    /// The event that triggers this run ("hr:termination:e1001", "nightly reconcile"),
    /// recorded in every operation's reason.
    pub fn with_event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// The population the blast-radius share is measured against. Defaults to the
    /// number of identities in the desired state; set it when planning a subset.
    pub fn with_population(mut self, population: usize) -> Self {
        self.population = Some(population);
        self
    }

    /// The desired state of `identities` under `policies` at `now` (see [`desired()`]).
    pub fn desired(
        &self,
        identities: &[Identity],
        policies: &PolicySet,
        now: DateTime<Utc>,
    ) -> DesiredState {
        desired(identities, policies, self.config, self.descriptors, now)
    }

    /// Plans, orders and guards: the operations moving `actual` to `desired`, in
    /// dependency order, behind the blast-radius guard.
    ///
    /// Fails only when configured dependencies form a cycle.
    pub fn plan(
        &self,
        desired: &DesiredState,
        actual: &ActualState,
        now: DateTime<Utc>,
    ) -> Result<GuardedPlan, CycleError> {
        let _span = tracing::info_span!(
            "plan",
            identities = desired.identities.len(),
            event = self.event.as_deref()
        )
        .entered();
        let mut planned = plan_with_report(desired, actual, self.config, self.descriptors, now);
        if let Some(event) = &self.event {
            for op in planned
                .plan
                .operations
                .iter_mut()
                .chain(planned.report_only.iter_mut())
            {
                op.reason.event = Some(event.clone());
            }
        }
        let ordered = orderer::order_with(planned.plan, self.config, self.descriptors)?;
        tracing::info!(
            operations = ordered.operations.len(),
            dependencies = ordered.dependencies.len(),
            report_only = planned.report_only.len(),
            "planned"
        );
        let population = self.population.unwrap_or(desired.identities.len());
        Ok(GuardedPlan::new(
            ordered,
            planned.report_only,
            population,
            &self.config.blast_radius,
        ))
    }
}
