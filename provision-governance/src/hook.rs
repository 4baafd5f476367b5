//! Governance as a [`PlanHook`]: every plan the engine makes reads the resources the
//! separation-of-duties rules, exceptions and approved requests name; grants active
//! exceptions and approved requests (revoking lapsed ones); refuses, person by
//! person, a plan that would create a conflict no active exception covers; and,
//! after an apply, marks approved requests provisioned.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use provision_core::engine::Engine;
//! # use provision_governance::{GovernanceHook, MemoryGovernanceStore, SodRules};
//! # async fn run(rules: SodRules) -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(MemoryGovernanceStore::new());
//! let engine = Engine::builder()
//!     .deployment("examples/provision.yaml")
//!     .policies("examples/policies")
//!     .hook(Arc::new(GovernanceHook::new(store, rules)))
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use provision_core::drift::Finding;
use provision_core::gate::{
    AppliedContext, BuildContext, HookError, HookPass, PlanContext, PlanHook, Refusal,
};
use provision_core::model::{ActualState, DesiredState, Plan, ResourceRef, SystemName};

use super::exception::Exception;
use super::outside_policy::{AllowedGrant, add_to_desired, allowed_grants};
use super::request::{RequestEvent, RequestEventKind};
use super::sod::{SodRules, new_conflicts};
use super::store::GovernanceStore;
use super::{GovernanceEvent, findings};

/// The name refusals carry: the audit log records them as `sod_refusal`.
pub const SOD: &str = "sod";

/// Separation of duties, exceptions and access requests on every plan: see the
/// [crate docs](crate).
#[derive(Clone)]
pub struct GovernanceHook {
    store: Arc<dyn GovernanceStore>,
    rules: SodRules,
}

impl std::fmt::Debug for GovernanceHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovernanceHook")
            .field("rules", &self.rules.rules.len())
            .finish_non_exhaustive()
    }
}

impl GovernanceHook {
    /// A hook over the records of `store`, enforcing `rules`.
    pub fn new(store: Arc<dyn GovernanceStore>, rules: SodRules) -> Self {
        Self { store, rules }
    }

    /// The rules it enforces.
    pub fn rules(&self) -> &SodRules {
        &self.rules
    }

    /// The store it reads.
    pub fn store(&self) -> &Arc<dyn GovernanceStore> {
        &self.store
    }

    /// A hook over `store` whose rules are the `separation_of_duties:` sections of the
    /// engine's policy files, validated against its deployment when the engine is
    /// built (file:line for every problem): for
    /// [`EngineBuilder::hook_with`](provision_core::engine::EngineBuilder::hook_with).
    pub fn with_policy_rules(
        store: Arc<dyn GovernanceStore>,
    ) -> impl FnOnce(&BuildContext<'_>) -> Result<Arc<dyn PlanHook>, HookError> + Send + 'static
    {
        move |cx| {
            let rules = match cx.policies_path {
                Some(path) => {
                    super::load_sod_rules(path, cx.config, cx.descriptors).map_err(Self::error)?
                }
                None => SodRules::default(),
            };
            Ok(Arc::new(Self::new(store, rules)) as Arc<dyn PlanHook>)
        }
    }

    /// The governance hook among `engine`'s hooks, when it has one.
    pub fn of(engine: &provision_core::engine::Engine) -> Option<&GovernanceHook> {
        engine
            .hooks()
            .iter()
            .find_map(|h| h.as_any()?.downcast_ref::<GovernanceHook>())
    }

    fn error(e: impl std::error::Error + Send + Sync + 'static) -> HookError {
        HookError::new("governance", e)
    }
}

/// One plan's view of the governance records.
struct GovernancePass {
    rules: SodRules,
    exceptions: Vec<Exception>,
    allowed: Vec<AllowedGrant>,
}

#[async_trait]
impl PlanHook for GovernanceHook {
    fn name(&self) -> &str {
        "governance"
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    async fn begin(&self, cx: &PlanContext<'_>) -> Result<Box<dyn HookPass>, HookError> {
        let exceptions = self.store.exceptions().await.map_err(Self::error)?;
        let requests = self.store.requests().await.map_err(Self::error)?;
        let allowed = allowed_grants(&exceptions, &requests, cx.now);
        Ok(Box::new(GovernancePass {
            rules: self.rules.clone(),
            exceptions,
            allowed,
        }))
    }

    async fn applied(&self, cx: &AppliedContext<'_>) -> Result<(), HookError> {
        let requests = self.store.requests().await.map_err(Self::error)?;
        for r in cx
            .report
            .operations
            .iter()
            .filter(|o| o.outcome.is_success())
        {
            let Some(op) = cx.plan.get(&r.operation) else {
                continue;
            };
            for origin in &op.reason.policies {
                let Some(id) = origin.strip_prefix("request ") else {
                    continue;
                };
                let Some(req) = requests.iter().find(|q| q.id == id) else {
                    continue;
                };
                if req.provisioned_at().is_some() {
                    continue;
                }
                let at = r.finished_at.unwrap_or(cx.now);
                let event = RequestEvent {
                    at,
                    kind: RequestEventKind::Provisioned {
                        run: cx.report.run.0.clone(),
                        operation: r.operation.0.clone(),
                    },
                };
                self.store
                    .add_request_event(id, &event)
                    .await
                    .map_err(Self::error)?;
                self.store
                    .add_event(&GovernanceEvent {
                        at: cx.now,
                        kind: "request_provisioned".into(),
                        actor: "governance".into(),
                        identity: Some(req.beneficiary.to_string()),
                        subject: Some(id.to_owned()),
                        detail: format!(
                            "{} provisioned {}s after it was requested",
                            req.describe(),
                            (at - req.requested_at).num_seconds()
                        ),
                    })
                    .await
                    .map_err(Self::error)?;
            }
        }
        Ok(())
    }
}

impl GovernancePass {
    /// Every resource a rule names, in its scope or, without one, in every scope the
    /// resources already read use for that kind (`account:production`), and without.
    fn rule_resources(&self, read: &BTreeSet<ResourceRef>) -> Vec<ResourceRef> {
        let scopes_in_use: BTreeSet<(SystemName, String, String)> = read
            .iter()
            .filter_map(|r| Some((r.system.clone(), r.kind.clone(), r.scope.clone()?)))
            .collect();
        let mut out = Vec::new();
        for rule in &self.rules.rules {
            for p in &rule.conflicting {
                let system = SystemName::new(p.system.clone());
                let mut scopes = vec![p.scope.clone()];
                if p.scope.is_none() {
                    scopes.extend(
                        scopes_in_use
                            .iter()
                            .filter(|(s, k, _)| *s == system && *k == p.kind)
                            .map(|(_, _, scope)| Some(scope.clone())),
                    );
                }
                for scope in scopes {
                    out.push(ResourceRef {
                        system: system.clone(),
                        kind: p.kind.clone(),
                        resource: p.resource.clone(),
                        scope,
                    });
                }
            }
        }
        out
    }

    /// True when the pass can add anything to read: rules, or grants outside policy.
    fn is_active(&self) -> bool {
        !self.rules.is_empty() || !self.allowed.is_empty()
    }
}

impl HookPass for GovernancePass {
    fn resources(&self, _cx: &PlanContext<'_>, read: &BTreeSet<ResourceRef>) -> Vec<ResourceRef> {
        if !self.is_active() {
            return Vec::new();
        }
        let mut out: Vec<ResourceRef> = self
            .allowed
            .iter()
            .map(|a| a.entitlement.resource_ref())
            .collect();
        let mut scoped = read.clone();
        scoped.extend(out.iter().cloned());
        out.extend(self.rule_resources(&scoped));
        out
    }

    fn desired(&self, cx: &PlanContext<'_>, desired: &mut DesiredState) {
        add_to_desired(desired, &self.allowed, cx.now, |s| {
            cx.descriptors.get(s).is_some_and(|d| d.has_accounts)
        });
    }

    fn check(&self, cx: &PlanContext<'_>, plan: &Plan, actual: &ActualState) -> Vec<Refusal> {
        new_conflicts(
            &self.rules,
            plan,
            actual,
            cx.descriptors,
            &self.exceptions,
            cx.now,
        )
        .into_iter()
        .map(|c| Refusal::new(c.identity.clone(), SOD, c))
        .collect()
    }

    fn findings(&self, cx: &PlanContext<'_>, actual: &ActualState) -> Vec<Finding> {
        let mut out = findings::sod_findings(&self.rules, actual, &self.exceptions, cx.now);
        out.extend(findings::expired_exception_findings(
            &self.exceptions,
            actual,
            cx.now,
        ));
        out
    }
}
