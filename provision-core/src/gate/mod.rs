//! The gate every plan passes: [`PlanHook`]s registered on the
//! [`EngineBuilder`](crate::engine::EngineBuilder) with `.hook(..)`, then the
//! blast-radius guard.
//!
//! Whatever asks for a plan (an HR event, a reconcile, a drift fix, a review
//! decision, an approved request), the [`Engine`](crate::engine::Engine) makes it
//! through the same steps, and no path skips them:
//!
//! 1. each hook [begins](PlanHook::begin) a pass over the plan (loading what it
//!    needs once, e.g. exceptions and approved requests from a store);
//! 2. the systems are read on the resources policies name plus those each pass
//!    [asks for](HookPass::resources);
//! 3. each pass [adds to the desired state](HookPass::desired) (an exception, an
//!    approved request);
//! 4. the plan is made, then each pass [checks](HookPass::check) it and may refuse
//!    it **for a person**: that person's operations (and whatever depends on them)
//!    are held back and reported as a [`Refusal`], recorded in the audit log, and
//!    everyone else's changes go ahead. A leaver is never held back by anyone
//!    else's refusal;
//! 5. the blast-radius guard measures what is left;
//! 6. after an apply, each hook hears [what was applied](PlanHook::applied) (an
//!    approved request is marked provisioned).
//!
//! The kernel knows nothing of what a hook enforces: separation of duties,
//! exceptions and access requests live in `provision-governance`, which plugs in
//! here.

mod hold_back;
mod refusal;

pub use crate::model::Refusal;
pub use hold_back::hold_back;
pub use refusal::HookError;

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::adapter::Descriptors;
use crate::config::DeploymentConfig;
use crate::drift::Finding;
use crate::executor::ExecutionReport;
use crate::model::{ActualState, DesiredState, Identity, Plan, PolicySet, ResourceRef};
use crate::planner::ApprovedPlan;

/// Which of the Engine's paths is making a plan (hooks may word their refusals by
/// it; every path passes every hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanPath {
    /// [`Engine::plan`](crate::engine::Engine::plan) and `plan_for`: everyone's
    /// holdings read.
    Plan,
    /// [`Engine::plan_people`](crate::engine::Engine::plan_people): a few people,
    /// only their accounts' grants read.
    People,
    /// [`Engine::remediation`](crate::engine::Engine::remediation): the fixes a drift
    /// run allows.
    Remediation,
    /// [`Engine::guard`](crate::engine::Engine::guard): a plan made elsewhere (a
    /// review's revocations, a hand-built plan).
    Guard,
    /// [`Engine::drift`](crate::engine::Engine::drift) and
    /// [`Engine::observe`](crate::engine::Engine::observe): no plan is made, the
    /// passes add what they desire and their findings.
    Observe,
}

/// What a hook sees of the plan being made.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PlanContext<'a> {
    /// Which path makes it.
    pub path: PlanPath,
    /// The trigger recorded in every operation's reason (`hr:hire:e1001`,
    /// `reconcile`).
    pub event: &'a str,
    /// The people planned.
    pub people: &'a [Identity],
    /// The whole roster (correlation, and the blast radius's population).
    pub roster: &'a [Identity],
    /// The time the plan is made for, from the engine's clock.
    pub now: DateTime<Utc>,
    /// The deployment.
    pub config: &'a DeploymentConfig,
    /// Each system's descriptor.
    pub descriptors: &'a Descriptors,
    /// The policies.
    pub policies: &'a PolicySet,
}

/// What a hook hears after an apply.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AppliedContext<'a> {
    /// The plan that was applied.
    pub plan: &'a ApprovedPlan,
    /// What happened to each operation.
    pub report: &'a ExecutionReport,
    /// The time, from the engine's clock.
    pub now: DateTime<Utc>,
}

/// What a hook made at build time sees: the deployment, the descriptors of the
/// built adapters, the policies and where they were read from (for the hook's own
/// sections of the policy files, `separation_of_duties:`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BuildContext<'a> {
    /// The deployment.
    pub config: &'a DeploymentConfig,
    /// Each system's descriptor.
    pub descriptors: &'a Descriptors,
    /// The policies.
    pub policies: &'a PolicySet,
    /// The file or directory the policies were read from (none when built in code).
    pub policies_path: Option<&'a std::path::Path>,
}

/// Makes a hook once the engine knows its deployment and descriptors
/// ([`EngineBuilder::hook_with`](crate::engine::EngineBuilder::hook_with)): a hook
/// whose configuration must be validated against them (rules naming systems and
/// kinds, with file:line).
pub type HookMaker =
    Box<dyn FnOnce(&BuildContext<'_>) -> Result<std::sync::Arc<dyn PlanHook>, HookError> + Send>;

/// A hook on every plan the Engine makes: see the [module docs](self).
#[async_trait]
pub trait PlanHook: Send + Sync + std::fmt::Debug {
    /// The hook's name, as refusals and errors name it (`governance`).
    fn name(&self) -> &str;

    /// The hook as `Any`, so the crate that defines it can find it again among the
    /// engine's hooks (`None` by default).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Begins a pass over one plan: loads what the hook needs for it, once.
    async fn begin(&self, cx: &PlanContext<'_>) -> Result<Box<dyn HookPass>, HookError>;

    /// Hears what an apply did (operations that took effect, failed, are pending).
    async fn applied(&self, _cx: &AppliedContext<'_>) -> Result<(), HookError> {
        Ok(())
    }
}

/// One hook's pass over one plan (made by [`PlanHook::begin`]). Every method has a
/// default that does nothing.
pub trait HookPass: Send + Sync {
    /// Resources to read besides those the policies name (an exception's grant, a
    /// separation-of-duties rule's halves), so that what people hold there is seen.
    /// `read` is what will be read so far: the policies' resources and those of the
    /// hooks asked before.
    fn resources(&self, _cx: &PlanContext<'_>, _read: &BTreeSet<ResourceRef>) -> Vec<ResourceRef> {
        Vec::new()
    }

    /// Adds to what the policies give (an active exception, an approved request),
    /// or to what ended (`expired`, revoked on this run).
    fn desired(&self, _cx: &PlanContext<'_>, _desired: &mut DesiredState) {}

    /// Refuses the plan for some people: each [`Refusal`] names the person and why.
    /// `actual` is what those people hold now.
    fn check(&self, _cx: &PlanContext<'_>, _plan: &Plan, _actual: &ActualState) -> Vec<Refusal> {
        Vec::new()
    }

    /// Findings of the hook's own for a drift run (a held conflict, an exception
    /// that ended with its grant still held).
    fn findings(&self, _cx: &PlanContext<'_>, _actual: &ActualState) -> Vec<Finding> {
        Vec::new()
    }
}
