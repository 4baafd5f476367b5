//! Governance through the engine: separation of duties in the plan, exceptions and
//! approved requests in the desired state, access reviews over what the systems hold.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use provision_core::engine::Engine;
//! # use provision_core::governance::{MemoryGovernanceStore, GovernanceConfig};
//! # async fn run(engine: Engine, roster: Vec<provision_core::model::Identity>) -> Result<(), Box<dyn std::error::Error>> {
//! let rules = engine.load_sod_rules("examples/policies".as_ref())?;
//! let gov = engine
//!     .governance(Arc::new(MemoryGovernanceStore::new()))
//!     .sod_rules(rules)
//!     .config(GovernanceConfig::default());
//! let plan = gov.plan(&roster, "nightly").await?.approve()?; // refused on an SoD conflict
//! gov.apply(&plan).await?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::audit::{AuditEvent, AuditLog, AuditOutcome};
use crate::drift::DriftReport;
use crate::executor::{ExecutionReport, ExternalIds};
use crate::governance::outside_policy::{AllowedGrant, add_to_desired, allowed_grants, explain};
use crate::governance::review::{self, ReviewInputs, export::ReviewerList};
use crate::governance::{
    AccessRequest, Campaign, CampaignState, Decision, Exception, ExceptionReviewLine,
    ExceptionScope, GovernanceConfig, GovernanceError, GovernanceEvent, GovernanceStore,
    NewException, NewRequest, Outcome, ReviewScope, SodConflict, SodRules, findings, request, sod,
};
use crate::journal::RunId;
use crate::model::{
    ActualState, DesiredState, Entitlement, Identity, IdentityId, OperationId, PolicySet, Reason,
    ReasonKind, ResourceRef, SystemName,
};
use crate::orderer;
use crate::planner::read::{SystemRead, correlate_reads, read_system_with};
use crate::planner::{ApprovedPlan, GuardedPlan, Planner};
use crate::policy::PolicyError;

use super::{Engine, EngineError, PacedReads, lock};

/// The engine with governance: SoD rules, settings, a store for exceptions,
/// requests and reviews, and (optionally) the audit log governance events go to.
/// Made by [`Engine::governance`].
pub struct Governance<'e> {
    engine: &'e Engine,
    store: Arc<dyn GovernanceStore>,
    rules: SodRules,
    config: GovernanceConfig,
    audit: Option<Arc<dyn AuditLog>>,
    actor: String,
    ids: Mutex<ExternalIds>,
    counter: Mutex<u64>,
}

impl std::fmt::Debug for Governance<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governance")
            .field("rules", &self.rules.rules.len())
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Governance over this engine, its records in `store`: the SoD rules of the
    /// engine's policy files ([`Engine::sod_rules`]; others with
    /// [`Governance::sod_rules`]) and default settings until [`Governance::config`].
    pub fn governance(&self, store: Arc<dyn GovernanceStore>) -> Governance<'_> {
        Governance {
            engine: self,
            store,
            rules: self.sod_rules.clone(),
            config: GovernanceConfig::default(),
            audit: None,
            actor: "governance".into(),
            ids: Mutex::new(ExternalIds::new()),
            counter: Mutex::new(0),
        }
    }

    /// [`Engine::plan_for`] when the policies carry SoD rules or a governance store
    /// is attached: [`Governance::plan_for`] over the attached store (or an empty one,
    /// where no exception covers anything), its refusals recorded in the engine's
    /// audit log under the engine's actor.
    pub(super) async fn governed_plan_for(
        &self,
        roster: &[Identity],
        people: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, EngineError> {
        let store = self.governance_store.clone().unwrap_or_else(|| {
            Arc::new(crate::governance::MemoryGovernanceStore::new()) as Arc<dyn GovernanceStore>
        });
        let gov = self
            .governance(store)
            .audit_log(Arc::clone(&self.audit))
            .actor(self.actor.clone());
        gov.plan_for(roster, people, event)
            .await
            .map_err(engine_error)
    }

    /// The separation-of-duties rules in the policy files at `path`, validated
    /// against this deployment (file:line for every problem).
    pub fn load_sod_rules(&self, path: &Path) -> Result<SodRules, PolicyError> {
        crate::governance::load_sod_rules(path, &self.config, &self.descriptors)
    }
}

impl<'e> Governance<'e> {
    /// Sets the SoD rules.
    pub fn sod_rules(mut self, rules: SodRules) -> Self {
        self.rules = rules;
        self
    }

    /// Sets approvers, owners and the stale threshold.
    pub fn config(mut self, config: GovernanceConfig) -> Self {
        self.config = config;
        self
    }

    /// Also records governance events (SoD refusals, exceptions, request decisions,
    /// review decisions) in this audit log.
    pub fn audit_log(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Who acts (recorded with governance events).
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// The SoD rules.
    pub fn rules(&self) -> &SodRules {
        &self.rules
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn GovernanceStore> {
        &self.store
    }

    fn next_id(&self, prefix: &str, now: DateTime<Utc>) -> String {
        let mut n = lock(&self.counter);
        *n += 1;
        format!("{prefix}-{}-{}", now.format("%Y%m%dT%H%M%S%.6f"), *n)
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        kind: &str,
        identity: Option<&IdentityId>,
        subject: Option<&str>,
        entitlement: Option<&Entitlement>,
        outcome: AuditOutcome,
        detail: String,
        now: DateTime<Utc>,
    ) -> Result<(), GovernanceError> {
        self.store
            .add_event(&GovernanceEvent {
                at: now,
                kind: kind.to_owned(),
                actor: self.actor.clone(),
                identity: identity.map(ToString::to_string),
                subject: subject.map(str::to_owned),
                detail: detail.clone(),
            })
            .await?;
        if let Some(audit) = &self.audit {
            let system =
                entitlement.map_or_else(|| SystemName::new("governance"), |e| e.system.clone());
            audit
                .append(AuditEvent {
                    at: now,
                    run: RunId(format!("governance-{}", now.format("%Y%m%d"))),
                    actor: self.actor.clone(),
                    identity: identity.cloned().unwrap_or_else(|| IdentityId::new("-")),
                    system,
                    operation: OperationId(format!("governance/{kind}/{}", subject.unwrap_or("-"))),
                    action: kind.to_owned(),
                    entitlement: entitlement.cloned(),
                    outcome,
                    reason: Reason {
                        kind: ReasonKind::PolicyGrant,
                        policies: Vec::new(),
                        event: Some(format!("governance:{kind}")),
                        detail,
                        valid_until: None,
                    },
                })
                .await?;
        }
        Ok(())
    }

    // ---- reading -------------------------------------------------------------

    /// Reads every system: the resources policies name, and those SoD rules,
    /// exceptions and requests name (so a grant outside policy is seen). Remembers the
    /// account ids for [`Governance::apply`].
    pub async fn actual(
        &self,
        roster: &[Identity],
        allowed: &[AllowedGrant],
    ) -> Result<ActualState, GovernanceError> {
        let mut resources: BTreeSet<ResourceRef> = self.engine.desired(&[]).managed_resources;
        resources.extend(allowed.iter().map(|a| a.entitlement.resource_ref()));
        // A rule's entitlement without a scope is read in every scope the policies use
        // for that kind (`account:production`), and without one.
        let scopes_in_use: BTreeSet<(SystemName, String, String)> = resources
            .iter()
            .filter_map(|r| Some((r.system.clone(), r.kind.clone(), r.scope.clone()?)))
            .collect();
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
                    resources.insert(ResourceRef {
                        system: system.clone(),
                        kind: p.kind.clone(),
                        resource: p.resource.clone(),
                        scope,
                    });
                }
            }
        }
        let resources = &resources;
        let reads = self
            .engine
            .adapters
            .iter()
            .map(|(name, adapter)| async move {
                let descriptor = self
                    .engine
                    .descriptors
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| adapter.descriptor().clone());
                let paced = PacedReads {
                    executor: &self.engine.executor,
                    system: name,
                    descriptor: &descriptor,
                };
                let mine: Vec<&ResourceRef> =
                    resources.iter().filter(|r| &r.system == name).collect();
                read_system_with(&paced, mine)
                    .await
                    .map(|read| (name.clone(), read))
            });
        let reads: BTreeMap<SystemName, SystemRead> = futures::future::try_join_all(reads)
            .await
            .map_err(EngineError::from)?
            .into_iter()
            .collect();
        let actual = correlate_reads(roster, &reads, &self.engine.config);
        let ids = ExternalIds::from_actual(&actual);
        // Both appliers use the latest read: this handle's and the engine's.
        *lock(&self.engine.known_ids) = ids.clone();
        *lock(&self.ids) = ids;
        Ok(actual)
    }

    async fn allowed(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Exception>, Vec<AllowedGrant>), GovernanceError> {
        let exceptions = self.store.exceptions().await?;
        let requests = self.store.requests().await?;
        let allowed = allowed_grants(&exceptions, &requests, now);
        Ok((exceptions, allowed))
    }

    /// What policies, active exceptions and approved requests give `people` at `now`
    /// (ended exceptions and requests in `expired`, to be revoked).
    pub fn desired_with(
        &self,
        people: &[Identity],
        policies: &PolicySet,
        allowed: &[AllowedGrant],
        now: DateTime<Utc>,
    ) -> DesiredState {
        let planner = Planner::new(&self.engine.config, &self.engine.descriptors);
        let mut desired = planner.desired(people, policies, now);
        add_to_desired(&mut desired, allowed, now, |s| {
            self.engine
                .descriptors
                .get(s)
                .is_some_and(|d| d.has_accounts)
        });
        desired
    }

    // ---- planning ------------------------------------------------------------

    /// Plans everyone in `roster` as [`Engine::plan`] does, with active exceptions and
    /// approved requests granted (their reasons say so) and ended ones revoked, and
    /// refuses (recording the refusal) a plan that would create an SoD conflict no
    /// active exception covers.
    pub async fn plan(
        &self,
        roster: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, GovernanceError> {
        self.plan_for(roster, roster, event).await
    }

    /// Plans `people` only, against the whole `roster` (see [`Governance::plan`]).
    pub async fn plan_for(
        &self,
        roster: &[Identity],
        people: &[Identity],
        event: &str,
    ) -> Result<GuardedPlan, GovernanceError> {
        let now = Utc::now();
        let (exceptions, allowed) = self.allowed(now).await?;
        let actual = self.actual(roster, &allowed).await?;
        let desired = self.desired_with(people, &self.engine.policies, &allowed, now);
        let planner = self.engine.planner(event, roster.len());
        let guarded = planner
            .plan(&desired, &actual, now)
            .map_err(EngineError::from)?;
        let mut plan = guarded.preview().clone();
        explain(&mut plan, &allowed);
        if let Err(refusal) = sod::check_plan(
            &self.rules,
            &plan,
            &actual,
            &self.engine.descriptors,
            &exceptions,
            now,
        ) {
            for c in &refusal.conflicts {
                self.record(
                    "sod_refusal",
                    Some(&c.identity),
                    Some(&c.rule),
                    c.grants.last(),
                    AuditOutcome::Failed {
                        class: "refused".into(),
                        error: c.to_string(),
                    },
                    format!("plan '{event}' refused: {c}"),
                    now,
                )
                .await?;
            }
            return Err(refusal.into());
        }
        Ok(GuardedPlan::new(
            plan,
            guarded.report_only().to_vec(),
            guarded.population(),
            &self.engine.config.blast_radius,
        ))
    }

    /// Applies an approved plan with the account ids of the latest governed read, then
    /// records each approved request whose grant took effect as provisioned (its
    /// request-to-provisioned time).
    pub async fn apply(&self, plan: &ApprovedPlan) -> Result<ExecutionReport, GovernanceError> {
        let event = plan
            .operations
            .iter()
            .find_map(|op| op.reason.event.as_deref())
            .unwrap_or("governed-run");
        let run = RunId(format!(
            "{}-{}",
            event.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-"),
            Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
        ));
        let ids = lock(&self.ids).clone();
        lock(&self.engine.runs).push(run.clone());
        let report = self
            .engine
            .executor
            .apply_with_ids(&run, plan, ids)
            .await
            .map_err(EngineError::from)?;
        let now = Utc::now();
        let requests = self.store.requests().await?;
        for r in report.operations.iter().filter(|o| o.outcome.is_success()) {
            let Some(op) = plan.get(&r.operation) else {
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
                let at = r.finished_at.unwrap_or(now);
                self.store
                    .add_request_event(
                        id,
                        &crate::governance::RequestEvent {
                            at,
                            kind: crate::governance::RequestEventKind::Provisioned {
                                run: run.0.clone(),
                                operation: r.operation.0.clone(),
                            },
                        },
                    )
                    .await?;
                self.record(
                    "request_provisioned",
                    Some(&req.beneficiary),
                    Some(id),
                    Some(&req.entitlement),
                    AuditOutcome::Changed,
                    format!(
                        "{} provisioned {}s after it was requested",
                        req.describe(),
                        (at - req.requested_at).num_seconds()
                    ),
                    now,
                )
                .await?;
            }
        }
        Ok(report)
    }

    /// Drift ([`Engine::drift`]) plus the SoD conflicts people hold (high severity or
    /// more) and the exceptions that ended with their grant still held.
    pub async fn drift(&self, roster: &[Identity]) -> Result<DriftReport, GovernanceError> {
        let mut report = self.engine.drift(roster).await?;
        let now = Utc::now();
        let (exceptions, allowed) = self.allowed(now).await?;
        let actual = self.actual(roster, &allowed).await?;
        report.findings.extend(findings::sod_findings(
            &self.rules,
            &actual,
            &exceptions,
            now,
        ));
        report.findings.extend(findings::expired_exception_findings(
            &exceptions,
            &actual,
            now,
        ));
        Ok(report)
    }

    /// The conflicts `proposed` policies (and `proposed_rules`) would give people of
    /// `roster` that the current policies do not: shown before a policy change merges.
    /// Reads no system.
    pub fn simulate(
        &self,
        roster: &[Identity],
        proposed: &PolicySet,
        proposed_rules: Option<&SodRules>,
    ) -> Vec<SodConflict> {
        let now = Utc::now();
        let planner = Planner::new(&self.engine.config, &self.engine.descriptors);
        let before = planner.desired(roster, &self.engine.policies, now);
        let after = planner.desired(roster, proposed, now);
        sod::simulate(proposed_rules.unwrap_or(&self.rules), &before, &after)
    }

    // ---- exceptions ----------------------------------------------------------

    /// Records an exception: refused (nothing stored) without an expiry, rationale or
    /// approver, or for an SoD rule that does not exist.
    pub async fn record_exception(&self, new: NewException) -> Result<Exception, GovernanceError> {
        let now = Utc::now();
        if let ExceptionScope::SodRule { rule } = &new.scope
            && self.rules.get(rule).is_none()
        {
            return Err(GovernanceError::UnknownSodRule(rule.clone()));
        }
        let exception = new.validate(self.next_id("exc", now), now)?;
        self.store.add_exception(&exception).await?;
        self.record(
            "exception_recorded",
            Some(&exception.identity),
            Some(&exception.id),
            exception.entitlement(),
            AuditOutcome::Changed,
            format!(
                "{} for {}: {}",
                exception.describe(),
                exception.identity,
                exception.scope
            ),
            now,
        )
        .await?;
        Ok(exception)
    }

    /// Every exception with its status at `now`, soonest expiry first: the quarterly
    /// boundary review.
    pub async fn exception_review(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<ExceptionReviewLine>, GovernanceError> {
        Ok(crate::governance::review_list(
            &self.store.exceptions().await?,
            now,
        ))
    }

    // ---- requests ------------------------------------------------------------

    /// Opens an access request; its approver comes from the settings (auto-approved
    /// kinds are approved at once). Refused (nothing stored) without a window end or a
    /// justification, for someone not in `roster`, or with no approver.
    pub async fn request(
        &self,
        new: NewRequest,
        roster: &[Identity],
    ) -> Result<AccessRequest, GovernanceError> {
        let now = Utc::now();
        let req = request::open_request(new, self.next_id("req", now), &self.config, roster, now)?;
        self.store.add_request(&req).await?;
        self.record(
            "request_opened",
            Some(&req.beneficiary),
            Some(&req.id),
            Some(&req.entitlement),
            AuditOutcome::Pending,
            format!(
                "{} requested {} for {} until {} ({}); approver: {}",
                req.requester,
                req.entitlement,
                req.beneficiary,
                req.ends_at,
                req.justification,
                req.approver
            ),
            now,
        )
        .await?;
        Ok(req)
    }

    async fn find_request(&self, id: &str) -> Result<AccessRequest, GovernanceError> {
        self.store
            .requests()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| GovernanceError::UnknownRequest(id.to_owned()))
    }

    /// Approves request `id` as `by`: refused (nothing changed) when `by` is not its
    /// approver or it is not pending. Its grant comes with the next governed plan.
    pub async fn approve(&self, id: &str, by: &str) -> Result<AccessRequest, GovernanceError> {
        let now = Utc::now();
        let mut req = self.find_request(id).await?;
        let event = request::approval(&req, by, now)?;
        self.store.add_request_event(id, &event).await?;
        req.events.push(event);
        self.record(
            "request_approved",
            Some(&req.beneficiary),
            Some(id),
            Some(&req.entitlement),
            AuditOutcome::Changed,
            req.describe(),
            now,
        )
        .await?;
        Ok(req)
    }

    /// Rejects request `id` as `by` (kept, with the reason).
    pub async fn reject(
        &self,
        id: &str,
        by: &str,
        reason: &str,
    ) -> Result<AccessRequest, GovernanceError> {
        let now = Utc::now();
        let mut req = self.find_request(id).await?;
        let event = request::rejection(&req, by, reason, now)?;
        self.store.add_request_event(id, &event).await?;
        req.events.push(event);
        self.record(
            "request_rejected",
            Some(&req.beneficiary),
            Some(id),
            Some(&req.entitlement),
            AuditOutcome::Changed,
            format!("request {id} rejected by {by}: {reason}"),
            now,
        )
        .await?;
        Ok(req)
    }

    /// Every request (rejected and expired ones included), with its events.
    pub async fn requests(&self) -> Result<Vec<AccessRequest>, GovernanceError> {
        Ok(self.store.requests().await?)
    }

    // ---- reviews -------------------------------------------------------------

    /// Opens a review campaign over `scope`: reads every system, and gives each
    /// reviewer only what needs a decision (see [`review::generate`]). Stored.
    pub async fn open_campaign(
        &self,
        roster: &[Identity],
        name: &str,
        scope: &ReviewScope,
        due_at: DateTime<Utc>,
    ) -> Result<Campaign, GovernanceError> {
        let now = Utc::now();
        let (exceptions, allowed) = self.allowed(now).await?;
        let actual = self.actual(roster, &allowed).await?;
        let desired = self.desired_with(roster, &self.engine.policies, &allowed, now);
        let inputs = ReviewInputs {
            roster,
            desired: &desired,
            actual: &actual,
            rules: &self.rules,
            exceptions: &exceptions,
            config: &self.config,
            now,
        };
        let campaign = review::generate(&self.next_id("rc", now), name, scope, due_at, &inputs);
        self.store.add_campaign(&campaign).await?;
        self.record(
            "campaign_opened",
            None,
            Some(&campaign.id),
            None,
            AuditOutcome::Changed,
            format!(
                "campaign '{}' opened: {} item(s) for {} reviewer(s), {} grant(s) certified by policy",
                campaign.name,
                campaign.items.len(),
                campaign.reviewers().len(),
                campaign.certified
            ),
            now,
        )
        .await?;
        Ok(campaign)
    }

    /// Campaign `id`, as opened (export a reviewer's list with [`reviewer_list`]).
    pub async fn campaign(&self, id: &str) -> Result<Campaign, GovernanceError> {
        self.store
            .campaign(id)
            .await?
            .ok_or_else(|| GovernanceError::UnknownCampaign(id.to_owned()))
    }

    /// Records `reviewer`'s decision on `item`. Refused (nothing stored) for an item
    /// not in the campaign, by someone else than its reviewer, on a closed item, or a
    /// keep without a reason and an expiry. A keep becomes an exception (for the SoD
    /// rule of a conflict, else for the grant); a revoke runs with
    /// [`Governance::review_plan`].
    pub async fn decide(
        &self,
        campaign: &str,
        item: &str,
        reviewer: &str,
        outcome: Outcome,
    ) -> Result<Decision, GovernanceError> {
        let now = Utc::now();
        let c = self.campaign(campaign).await?;
        let decisions = self.store.decisions(campaign).await?;
        let found = review::check_decision(&c, &decisions, item, reviewer, &outcome)?.clone();
        let mut exception = None;
        if let (Outcome::Keep { reason, expires_at }, Some(identity)) = (&outcome, &found.identity)
        {
            let scope = match (&found.rule, &found.entitlement) {
                (Some(rule), _) => Some(ExceptionScope::SodRule { rule: rule.clone() }),
                (None, Some(e)) => Some(ExceptionScope::Entitlement {
                    entitlement: e.clone(),
                }),
                (None, None) => None,
            };
            if let Some(scope) = scope {
                let mut new = NewException::new(identity.as_str(), scope)
                    .rationale(reason.clone())
                    .approver(reviewer);
                new.expires_at = *expires_at;
                new.origin = Some(format!("access review {campaign} item {item}"));
                exception = Some(new.validate(self.next_id("exc", now), now)?);
            }
        }
        let decision = Decision {
            campaign: campaign.to_owned(),
            item: item.to_owned(),
            reviewer: reviewer.to_owned(),
            outcome,
            decided_at: now,
            exception: exception.as_ref().map(|e| e.id.clone()),
        };
        self.store.add_decision(&decision).await?;
        if let Some(e) = &exception {
            self.store.add_exception(e).await?;
        }
        self.record(
            "review_decision",
            found.identity.as_ref(),
            Some(&format!("{campaign}/{item}")),
            found.entitlement.as_ref(),
            AuditOutcome::Changed,
            format!(
                "{reviewer} decided {:?} on {} ({})",
                decision.outcome, item, found.fix
            ),
            now,
        )
        .await?;
        Ok(decision)
    }

    /// Where campaign `id` stands at `now`.
    pub async fn campaign_state(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<CampaignState, GovernanceError> {
        let c = self.campaign(id).await?;
        let decisions = self.store.decisions(id).await?;
        Ok(review::campaign_state(&c, &decisions, now))
    }

    /// The campaign's revoke decisions as a plan, ordered and behind the blast-radius
    /// guard (measured against `roster`); apply it with [`Governance::apply`].
    pub async fn review_plan(
        &self,
        id: &str,
        roster: &[Identity],
    ) -> Result<GuardedPlan, GovernanceError> {
        let c = self.campaign(id).await?;
        let decisions = self.store.decisions(id).await?;
        let plan = review::revocations(&c, &decisions);
        let plan = orderer::order(plan, &self.engine.config).map_err(EngineError::from)?;
        Ok(GuardedPlan::new(
            plan,
            Vec::new(),
            roster.len(),
            &self.engine.config.blast_radius,
        ))
    }
}

/// A governance error as the engine reports it: a refusal as
/// [`EngineError::SodRefused`], the engine's own errors as they were, the rest
/// (store, audit log) as [`EngineError::Governance`].
fn engine_error(e: GovernanceError) -> EngineError {
    match e {
        GovernanceError::Refused(refusal) => EngineError::SodRefused(refusal),
        GovernanceError::Engine(e) => *e,
        GovernanceError::BlastRadius(e) => EngineError::BlastRadius(e),
        other => EngineError::Governance(Box::new(other)),
    }
}

/// A reviewer's list of a campaign (CSV, JSON, HTML).
pub fn reviewer_list<'a>(campaign: &'a Campaign, reviewer: &'a str) -> ReviewerList<'a> {
    ReviewerList::new(campaign, reviewer)
}
