//! The governance records: exceptions, access requests and their decisions, and
//! review campaigns, each recorded in the [`GovernanceStore`] and the engine's audit
//! log. Plans are not made here: the [`GovernanceHook`](super::GovernanceHook) puts
//! exceptions and approved requests into every plan the engine makes.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use provision_core::engine::Engine;
//! # use provision_governance::{Governance, GovernanceConfig, MemoryGovernanceStore, ReviewScope};
//! # async fn run(engine: Engine, roster: Vec<provision_core::model::Identity>) -> Result<(), Box<dyn std::error::Error>> {
//! let gov = Governance::new(&engine, Arc::new(MemoryGovernanceStore::new()))
//!     .config(GovernanceConfig::default());
//! let observed = engine.observe(&roster).await?;
//! let campaign = gov
//!     .open_campaign(&observed, &roster, "Q4", &ReviewScope::default(), engine.now())
//!     .await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use chrono::{DateTime, Utc};

use provision_core::audit::{AuditEvent, AuditOutcome};
use provision_core::engine::Engine;
use provision_core::journal::RunId;
use provision_core::model::{
    Entitlement, Identity, IdentityId, OperationId, PolicySet, Reason, ReasonKind, SystemName,
};
use provision_core::planner::Planner;

use super::review::export::ReviewerList;
use super::{
    AccessRequest, Campaign, Exception, ExceptionReviewLine, ExceptionScope, GovernanceConfig,
    GovernanceError, GovernanceEvent, GovernanceStore, NewException, NewRequest, RequestEvent,
    RequestState, SodConflict, SodRules, request, sod,
};

/// Governance records over one engine: its SoD rules and settings, a store for
/// exceptions, requests and reviews, and the engine's audit log for every event.
pub struct Governance<'e> {
    engine: &'e Engine,
    store: Arc<dyn GovernanceStore>,
    rules: SodRules,
    config: GovernanceConfig,
    actor: String,
}

impl std::fmt::Debug for Governance<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governance")
            .field("rules", &self.rules.rules.len())
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl<'e> Governance<'e> {
    /// Governance over `engine`, its records in `store`, with no SoD rules (see
    /// [`Governance::sod_rules`]) and default settings until [`Governance::config`].
    pub fn new(engine: &'e Engine, store: Arc<dyn GovernanceStore>) -> Self {
        Self {
            engine,
            store,
            rules: SodRules::default(),
            config: GovernanceConfig::default(),
            actor: engine.actor().to_owned(),
        }
    }

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

    /// The engine.
    pub fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// The settings (approvers, owners, the manager attribute).
    pub fn settings(&self) -> &GovernanceConfig {
        &self.config
    }

    /// Who acts.
    pub fn acting(&self) -> &str {
        &self.actor
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.engine.now()
    }

    /// A new id: `prefix-` and a UUIDv7 (the time from the engine's clock, 74 random
    /// bits), unique across handles and instances, sorted by time.
    pub(crate) fn next_id(&self, prefix: &str, now: DateTime<Utc>) -> String {
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or_default();
        let random: [u8; 10] = rand::random();
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        format!("{prefix}-{id}")
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn record(
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
        {
            let audit = self.engine.audit_log();
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
                    note: None,
                })
                .await?;
        }
        Ok(())
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
        simulate(
            self.engine,
            roster,
            proposed,
            proposed_rules.unwrap_or(&self.rules),
        )
    }

    // ---- exceptions ----------------------------------------------------------

    /// Records an exception: refused (nothing stored) without an expiry, rationale or
    /// approver, or for an SoD rule that does not exist.
    pub async fn record_exception(&self, new: NewException) -> Result<Exception, GovernanceError> {
        let now = self.now();
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
        Ok(crate::review_list(&self.store.exceptions().await?, now))
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
        let now = self.now();
        // Read once: both checks look at the stored requests.
        let stored = self.store.requests().await?;
        self.check_requester_limits(&stored, &new.requester, now)?;
        self.check_requestable(&stored, &new, roster, now).await?;
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

    /// Refuses a requester past their limits: `max_open_requests` open at once, or
    /// `max_requests_per_hour` opened in the last hour (counted from the store, so
    /// every instance sees the same count).
    fn check_requester_limits(
        &self,
        stored: &[AccessRequest],
        requester: &str,
        now: DateTime<Utc>,
    ) -> Result<(), GovernanceError> {
        let theirs: Vec<&AccessRequest> =
            stored.iter().filter(|r| r.requester == requester).collect();
        let open = theirs.iter().filter(|r| r.state(now).is_open()).count();
        if open >= self.config.max_open_requests {
            return Err(GovernanceError::TooManyOpenRequests {
                requester: requester.to_owned(),
                open,
            });
        }
        let hour_ago = now - chrono::Duration::hours(1);
        let mut recent: Vec<DateTime<Utc>> = theirs
            .iter()
            .map(|r| r.requested_at)
            .filter(|at| *at > hour_ago)
            .collect();
        if recent.len() >= self.config.max_requests_per_hour {
            recent.sort();
            let oldest = recent.first().copied().unwrap_or(now);
            return Err(GovernanceError::TooManyRequests {
                requester: requester.to_owned(),
                opened: recent.len(),
                retry_at: oldest + chrono::Duration::hours(1),
            });
        }
        Ok(())
    }

    /// Refuses, when a request is opened, what could never be granted or should not
    /// be: a system or kind the deployment does not have, and an entitlement that
    /// would give the beneficiary both halves of a separation-of-duties rule (with
    /// what policy gives them and what their open requests ask for) that no active
    /// exception covers. Grants held outside policy are not read here: the gate
    /// refuses those at grant time.
    async fn check_requestable(
        &self,
        stored: &[AccessRequest],
        new: &NewRequest,
        roster: &[Identity],
        now: DateTime<Utc>,
    ) -> Result<(), GovernanceError> {
        let e = &new.entitlement;
        let unknown = |detail: String| GovernanceError::UnknownEntitlement {
            entitlement: e.to_string(),
            detail,
        };
        let Some(system) = self.engine.descriptors().get(&e.system) else {
            return Err(unknown(format!(
                "no system `{}` in the deployment",
                e.system
            )));
        };
        if system.kind(&e.kind).is_none() {
            return Err(unknown(format!(
                "`{}` has no resource kind `{}`",
                e.system, e.kind
            )));
        }
        if self.rules.is_empty() {
            return Ok(());
        }
        let Some(person) = roster.iter().find(|p| p.id == new.beneficiary) else {
            return Ok(()); // refused by the request's own checks, naming the person
        };
        let desired = self.engine.desired(std::slice::from_ref(person));
        let mut grants: std::collections::BTreeSet<Entitlement> = desired
            .identities
            .get(&person.id)
            .map(|d| d.grants.keys().cloned().collect())
            .unwrap_or_default();
        // What the beneficiary asked for already and may still get.
        for other in stored {
            let open = matches!(
                other.state(now),
                RequestState::Pending | RequestState::Approved | RequestState::Provisioned
            );
            if open && other.beneficiary == person.id {
                grants.insert(other.entitlement.clone());
            }
        }
        grants.insert(e.clone());
        let exceptions = self.store.exceptions().await?;
        let conflict = self
            .rules
            .conflicts_of(&person.id, &grants)
            .into_iter()
            .filter(|c| c.grants.contains(e))
            .find(|c| !sod::is_covered(c, &exceptions, now));
        match conflict {
            Some(c) => Err(GovernanceError::RequestConflict {
                entitlement: e.to_string(),
                conflict: c.to_string(),
            }),
            None => Ok(()),
        }
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
        let now = self.now();
        let mut req = self.find_request(id).await?;
        let event = request::approval(&req, by, now)?;
        let mut approved = req.clone();
        approved.events.push(event.clone());
        self.add_request_event(
            &mut req,
            event,
            "request_approved",
            approved.describe(),
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
        let now = self.now();
        let mut req = self.find_request(id).await?;
        let event = request::rejection(&req, by, reason, now)?;
        let detail = format!("request {id} rejected by {by}: {reason}");
        self.add_request_event(&mut req, event, "request_rejected", detail, now)
            .await?;
        Ok(req)
    }

    /// Withdraws request `id` as `by`: its requester, or anyone when `admin` (the
    /// caller proved the admin role). Refused when it is already closed. Audited; a
    /// grant it gave is revoked by the next governed plan.
    pub async fn withdraw(
        &self,
        id: &str,
        by: &str,
        admin: bool,
    ) -> Result<AccessRequest, GovernanceError> {
        let now = self.now();
        let mut req = self.find_request(id).await?;
        let event = request::withdrawal(&req, by, admin, now)?;
        let detail = format!("request {id} withdrawn by {by}");
        self.add_request_event(&mut req, event, "request_withdrawn", detail, now)
            .await?;
        Ok(req)
    }

    /// Revokes approved request `id` early as admin `by` (the caller proved the role),
    /// with a reason. Audited; its grant is revoked by the next governed plan.
    pub async fn revoke(
        &self,
        id: &str,
        by: &str,
        reason: &str,
    ) -> Result<AccessRequest, GovernanceError> {
        let now = self.now();
        let mut req = self.find_request(id).await?;
        let event = request::revocation(&req, by, reason, now)?;
        let detail = format!("request {id} revoked early by {by}: {reason}");
        self.add_request_event(&mut req, event, "request_revoked", detail, now)
            .await?;
        Ok(req)
    }

    /// Stores `event` on `req` and audits it as `action`.
    async fn add_request_event(
        &self,
        req: &mut AccessRequest,
        event: RequestEvent,
        action: &str,
        detail: String,
        now: DateTime<Utc>,
    ) -> Result<(), GovernanceError> {
        self.store.add_request_event(&req.id, &event).await?;
        req.events.push(event);
        self.record(
            action,
            Some(&req.beneficiary),
            Some(&req.id),
            Some(&req.entitlement),
            AuditOutcome::Changed,
            detail,
            now,
        )
        .await
    }

    /// Every request (rejected and expired ones included), with its events.
    pub async fn requests(&self) -> Result<Vec<AccessRequest>, GovernanceError> {
        Ok(self.store.requests().await?)
    }
}

/// The conflicts `proposed` policies would give people of `roster` under `rules`
/// that `engine`'s current policies do not: what `provision simulate` shows before a
/// policy change merges. Reads no system.
pub fn simulate(
    engine: &Engine,
    roster: &[Identity],
    proposed: &PolicySet,
    rules: &SodRules,
) -> Vec<SodConflict> {
    let now = engine.now();
    let planner = Planner::new(engine.config(), engine.descriptors());
    let before = planner.desired(roster, engine.policies(), now);
    let after = planner.desired(roster, proposed, now);
    sod::simulate((rules, &before), (rules, &after))
}

/// A reviewer's list of a campaign (CSV, JSON, HTML).
pub fn reviewer_list<'a>(campaign: &'a Campaign, reviewer: &'a str) -> ReviewerList<'a> {
    ReviewerList::new(campaign, reviewer)
}
