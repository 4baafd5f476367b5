//! Access review campaigns over one engine, as people run them: a campaign is opened
//! and stored once ([`Governance::open`]); each reviewer's list is exported from the
//! stored campaign; decisions come one at a time ([`Governance::decide`]) or a filled
//! list at a time ([`Governance::import_csv`], [`Governance::decide_rows`]), every row
//! checked before any is stored; [`Governance::close_campaign`] applies the
//! campaign's no-response rule to what nobody decided. Revoke decisions run as a plan
//! through the gate and the executor ([`Governance::apply_revocations`]), so the
//! executed revoke is in the audit log beside the decision.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use provision_core::audit::AuditOutcome;
use provision_core::engine::Observed;
use provision_core::executor::ExecutionReport;
use provision_core::model::{Identity, Plan, Refusal};

use super::review::{self, ReviewInputs, import};
use super::{
    Campaign, CampaignClosure, CampaignState, Decision, DecisionRow, ExceptionScope, Governance,
    GovernanceError, NewCampaign, NewException, NoResponse, Outcome, ReviewItem, ReviewScope,
};

/// A campaign without its items, where it stands, and its closure: one line of a
/// list of campaigns.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignOverview {
    /// The campaign's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it covers.
    pub scope: ReviewScope,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When decisions are due.
    pub due_at: DateTime<Utc>,
    /// Until when keeps last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_until: Option<DateTime<Utc>>,
    /// What closing does with undecided items.
    pub no_response: NoResponse,
    /// The campaign it escalates, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated_from: Option<String>,
    /// Where it stands.
    pub state: CampaignState,
    /// Its closure, once closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed: Option<CampaignClosure>,
}

/// What closing a campaign did.
#[derive(Debug, Clone)]
pub struct ClosedCampaign {
    /// The closure, as stored.
    pub closure: CampaignClosure,
    /// The decisions the no-response rule made (revoke or keep); apply the revokes
    /// with [`Governance::apply_revocations`].
    pub decisions: Vec<Decision>,
    /// The follow-up campaign, when the rule escalated.
    pub escalated: Option<Campaign>,
}

/// What running a campaign's revocations did.
#[derive(Debug, Clone, Default)]
pub struct RevocationRun {
    /// The operations run, ordered, as the gate approved them.
    pub plan: Plan,
    /// The executor's report (`None` when there was nothing to revoke).
    pub report: Option<ExecutionReport>,
    /// People the gate held back, each with why (their revocations did not run).
    pub held_back: Vec<Refusal>,
}

/// How a decision made by the no-response rule is recorded.
const NO_RESPONSE_VIA: &str = "the campaign's no-response rule, at close";

impl Governance<'_> {
    /// Opens a review campaign over `scope` from what `observed` saw (see
    /// [`provision_core::engine::Engine::observe`]), due at `due_at`, with the default
    /// settings of [`NewCampaign::new`]. Stored.
    pub async fn open_campaign(
        &self,
        observed: &Observed,
        roster: &[Identity],
        name: &str,
        scope: &ReviewScope,
        due_at: DateTime<Utc>,
    ) -> Result<Campaign, GovernanceError> {
        self.open(
            observed,
            roster,
            NewCampaign::new(name, scope.clone(), due_at),
        )
        .await
    }

    /// Opens the campaign `new` from what `observed` saw: each reviewer gets only
    /// what needs a decision (see [`review::generate`]). Stored once; every later
    /// export, decision and close works on the stored campaign.
    pub async fn open(
        &self,
        observed: &Observed,
        roster: &[Identity],
        new: NewCampaign,
    ) -> Result<Campaign, GovernanceError> {
        let now = observed.now;
        let exceptions = self.store().exceptions().await?;
        let inputs = ReviewInputs {
            roster,
            desired: &observed.desired,
            actual: &observed.actual,
            rules: self.rules(),
            exceptions: &exceptions,
            config: self.settings(),
            now,
        };
        let mut campaign = review::generate(
            &self.next_id("rc", now),
            &new.name,
            &new.scope,
            new.due_at,
            &inputs,
        );
        campaign.keep_until = new.keep_until;
        campaign.no_response = new.no_response;
        campaign.allow_self_review = new.allow_self_review;
        self.store_campaign(&campaign, now).await?;
        Ok(campaign)
    }

    async fn store_campaign(
        &self,
        campaign: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<(), GovernanceError> {
        self.store().add_campaign(campaign).await?;
        self.record(
            "campaign_opened",
            None,
            Some(&campaign.id),
            None,
            AuditOutcome::Changed,
            format!(
                "campaign '{}' opened: {} item(s) for {} reviewer(s), {} grant(s) certified by policy, due {}{}",
                campaign.name,
                campaign.items.len(),
                campaign.reviewers().len(),
                campaign.certified,
                campaign.due_at,
                campaign
                    .escalated_from
                    .as_ref()
                    .map(|from| format!(", escalating {from}"))
                    .unwrap_or_default()
            ),
            now,
        )
        .await
    }

    /// Campaign `id`, as opened (export a reviewer's list with
    /// [`crate::reviewer_list`]).
    pub async fn campaign(&self, id: &str) -> Result<Campaign, GovernanceError> {
        self.store()
            .campaign(id)
            .await?
            .ok_or_else(|| GovernanceError::UnknownCampaign(id.to_owned()))
    }

    /// The closure of campaign `id`, once closed.
    pub async fn closure(&self, id: &str) -> Result<Option<CampaignClosure>, GovernanceError> {
        Ok(self
            .store()
            .closures()
            .await?
            .into_iter()
            .find(|c| c.campaign == id))
    }

    /// Every campaign, oldest first, with where it stands at `now`.
    pub async fn campaigns(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<CampaignOverview>, GovernanceError> {
        let mut closures: HashMap<String, CampaignClosure> = self
            .store()
            .closures()
            .await?
            .into_iter()
            .map(|c| (c.campaign.clone(), c))
            .collect();
        let mut out = Vec::new();
        for c in self.store().campaigns().await? {
            let decisions = self.store().decisions(&c.id).await?;
            let mut state = review::campaign_state(&c, &decisions, now);
            let closed = closures.remove(&c.id);
            if closed.is_some() {
                state.open = false;
                state.overdue.clear();
            }
            out.push(CampaignOverview {
                id: c.id,
                name: c.name,
                scope: c.scope,
                opened_at: c.opened_at,
                due_at: c.due_at,
                keep_until: c.keep_until,
                no_response: c.no_response,
                escalated_from: c.escalated_from,
                state,
                closed,
            });
        }
        Ok(out)
    }

    async fn refuse_if_closed(&self, campaign: &str) -> Result<(), GovernanceError> {
        match self.closure(campaign).await? {
            Some(c) => Err(GovernanceError::CampaignClosed {
                campaign: campaign.to_owned(),
                at: c.closed_at,
            }),
            None => Ok(()),
        }
    }

    /// Records `reviewer`'s decision on `item`. Refused (nothing stored) on a closed
    /// campaign, for an item not in the campaign, by someone else than its reviewer,
    /// about the reviewer's own access, on a decided item, or a keep without a reason
    /// and an expiry. A keep becomes an exception (for the SoD rule of a conflict,
    /// else for the grant); a revoke runs with [`Governance::apply_revocations`].
    pub async fn decide(
        &self,
        campaign: &str,
        item: &str,
        reviewer: &str,
        outcome: Outcome,
    ) -> Result<Decision, GovernanceError> {
        let now = self.now();
        let c = self.campaign(campaign).await?;
        self.refuse_if_closed(campaign).await?;
        let decisions = self.store().decisions(campaign).await?;
        let found = review::check_decision(&c, &decisions, item, reviewer, &outcome)?;
        self.record_decision(&c, found, reviewer, reviewer, outcome, None, now)
            .await
    }

    /// Records a batch of `reviewer`'s decisions on `campaign` (a filled list, an
    /// HTTP call), `via` saying how they came and how the reviewer was authenticated.
    /// Every row is checked first ([`review::check_rows`]); when any is refused,
    /// nothing is stored and the error names every refused row.
    pub async fn decide_rows(
        &self,
        campaign: &str,
        reviewer: &str,
        rows: &[DecisionRow],
        via: &str,
    ) -> Result<Vec<Decision>, GovernanceError> {
        self.decide_checked(campaign, reviewer, rows, Vec::new(), via)
            .await
    }

    /// Reads a reviewer's filled CSV ([`import::read_csv`]) and records its decisions
    /// as [`Governance::decide_rows`] does: all or nothing, every refused row named
    /// (a decision that is neither keep nor revoke among them).
    pub async fn import_csv(
        &self,
        campaign: &str,
        reviewer: &str,
        csv: &str,
        via: &str,
    ) -> Result<Vec<Decision>, GovernanceError> {
        let (rows, unreadable) = import::read_csv(csv)?;
        self.decide_checked(campaign, reviewer, &rows, unreadable, via)
            .await
    }

    async fn decide_checked(
        &self,
        campaign: &str,
        reviewer: &str,
        rows: &[DecisionRow],
        mut refused: Vec<crate::RowRefusal>,
        via: &str,
    ) -> Result<Vec<Decision>, GovernanceError> {
        let now = self.now();
        let c = self.campaign(campaign).await?;
        self.refuse_if_closed(campaign).await?;
        let decisions = self.store().decisions(campaign).await?;
        let checked = match review::check_rows(&c, &decisions, reviewer, rows, now) {
            Ok(checked) => checked,
            Err(GovernanceError::DecisionsRefused { rows, .. }) => {
                refused.extend(rows);
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        if !refused.is_empty() {
            refused.sort_by_key(|r| r.row);
            return Err(GovernanceError::DecisionsRefused {
                campaign: campaign.to_owned(),
                rows: refused,
            });
        }
        let mut out = Vec::with_capacity(checked.len());
        for (item, outcome) in checked {
            out.push(
                self.record_decision(&c, item, reviewer, reviewer, outcome, Some(via), now)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Stores a checked decision: the exception a keep becomes (approved by
    /// `approver`), the decision, and the governance event and audit record.
    #[allow(clippy::too_many_arguments)]
    async fn record_decision(
        &self,
        campaign: &Campaign,
        found: &ReviewItem,
        reviewer: &str,
        approver: &str,
        outcome: Outcome,
        via: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Decision, GovernanceError> {
        let item = found.id.as_str();
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
                    .approver(approver);
                new.expires_at = *expires_at;
                new.origin = Some(format!("access review {} item {item}", campaign.id));
                exception = Some(new.validate(self.next_id("exc", now), now)?);
            }
        }
        let decision = Decision {
            campaign: campaign.id.clone(),
            item: item.to_owned(),
            reviewer: reviewer.to_owned(),
            outcome,
            decided_at: now,
            exception: exception.as_ref().map(|e| e.id.clone()),
            via: via.map(str::to_owned),
        };
        self.store().add_decision(&decision).await?;
        if let Some(e) = &exception {
            self.store().add_exception(e).await?;
        }
        let what = match &decision.outcome {
            Outcome::Keep { reason, expires_at } => format!(
                "keep until {}: {reason}",
                expires_at.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
            ),
            Outcome::Revoke { reason } => format!("revoke: {reason}"),
        };
        self.record(
            "review_decision",
            found.identity.as_ref(),
            Some(&format!("{}/{item}", campaign.id)),
            found.entitlement.as_ref(),
            AuditOutcome::Changed,
            format!(
                "{reviewer} decided {what} on {}/{item} ({}){}",
                campaign.id,
                found.fix,
                via.map(|v| format!(" via {v}")).unwrap_or_default()
            ),
            now,
        )
        .await?;
        Ok(decision)
    }

    /// Where campaign `id` stands at `now` (closed: not open, nobody overdue).
    pub async fn campaign_state(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<CampaignState, GovernanceError> {
        let c = self.campaign(id).await?;
        let decisions = self.store().decisions(id).await?;
        let mut state = review::campaign_state(&c, &decisions, now);
        if self.closure(id).await?.is_some() {
            state.open = false;
            state.overdue.clear();
        }
        Ok(state)
    }

    /// The campaign's revoke decisions as a plan: pass it through the gate with
    /// [`provision_core::engine::Engine::guard`] and apply what it approves, or use
    /// [`Governance::apply_revocations`].
    pub async fn review_plan(&self, id: &str) -> Result<Plan, GovernanceError> {
        let c = self.campaign(id).await?;
        let decisions = self.store().decisions(id).await?;
        Ok(review::revocations(&c, &decisions))
    }

    /// Runs the fixes of the revoke decisions among `decisions` of `campaign`: one
    /// plan through the gate (the people it changes are read) and the blast-radius
    /// guard, measured against `roster`, then the executor. People the gate holds
    /// back are returned, not failed; a plan over the blast radius is refused
    /// ([`GovernanceError::BlastRadius`]) and nothing runs.
    pub async fn apply_revocations(
        &self,
        campaign: &Campaign,
        decisions: &[Decision],
        roster: &[Identity],
    ) -> Result<RevocationRun, GovernanceError> {
        let plan = review::revocations(campaign, decisions);
        if plan.operations.is_empty() {
            return Ok(RevocationRun::default());
        }
        let engine = self.engine();
        let guarded = engine
            .guard(plan, roster, &format!("access-review:{}", campaign.id))
            .await?;
        let held_back = guarded.refusals().to_vec();
        let approved = guarded.approve()?;
        if approved.operations.is_empty() {
            return Ok(RevocationRun {
                held_back,
                ..RevocationRun::default()
            });
        }
        let report = engine.apply(&approved).await?;
        Ok(RevocationRun {
            plan: approved.plan().clone(),
            report: Some(report),
            held_back,
        })
    }

    /// The revoke decisions of `campaign` whose fixes are not all in the audit log
    /// as done (changed, or already in place) under the campaign's event: those never
    /// run (over the blast radius, held back) or that failed. Reads the audit log
    /// once.
    pub async fn unexecuted_revocations(
        &self,
        campaign: &Campaign,
    ) -> Result<Vec<Decision>, GovernanceError> {
        let event = format!("access-review:{}", campaign.id);
        let done: HashSet<String> = self
            .engine()
            .audit_log()
            .records()
            .await?
            .into_iter()
            .filter(|r| {
                r.event.reason.event.as_deref() == Some(event.as_str())
                    && matches!(
                        r.event.outcome,
                        AuditOutcome::Changed | AuditOutcome::AlreadyInPlace
                    )
            })
            .map(|r| r.event.operation.0)
            .collect();
        Ok(self
            .store()
            .decisions(&campaign.id)
            .await?
            .into_iter()
            .filter(|d| matches!(d.outcome, Outcome::Revoke { .. }))
            .filter(|d| {
                campaign.item(&d.item).is_some_and(|item| {
                    item.fix_operations
                        .iter()
                        .any(|op| !done.contains(&op.id.0))
                })
            })
            .collect())
    }

    /// Closes campaign `id`, applying `rule` (default: the campaign's own) to every
    /// item nobody decided: `revoke` records a revoke for each (run them with
    /// [`Governance::apply_revocations`]); `keep` keeps each until the campaign's
    /// `keep_until`, approved by whoever closes it; `escalate` opens a follow-up
    /// campaign due at `escalation_due` giving each item to its reviewer's manager
    /// (from `roster`; a reviewer with no manager there keeps the item). Refused on
    /// a closed campaign; after it, the campaign takes no decision.
    pub async fn close_campaign(
        &self,
        id: &str,
        rule: Option<NoResponse>,
        roster: &[Identity],
        escalation_due: DateTime<Utc>,
    ) -> Result<ClosedCampaign, GovernanceError> {
        let now = self.now();
        let c = self.campaign(id).await?;
        self.refuse_if_closed(id).await?;
        let rule = rule.unwrap_or(c.no_response);
        let decided: HashSet<String> = self
            .store()
            .decisions(id)
            .await?
            .into_iter()
            .map(|d| d.item)
            .collect();
        let undecided: Vec<&ReviewItem> = c
            .items
            .iter()
            .filter(|i| !decided.contains(&i.id))
            .collect();
        let closer = self.acting().to_owned();
        let mut decisions = Vec::new();
        let mut escalated = None;
        match rule {
            NoResponse::Revoke | NoResponse::Keep => {
                for item in &undecided {
                    let outcome = if rule == NoResponse::Revoke {
                        Outcome::Revoke {
                            reason: format!("no decision by the due date {}", c.due_at),
                        }
                    } else {
                        let Some(until) = c.keep_until else {
                            return Err(GovernanceError::IncompleteKeep {
                                item: item.id.clone(),
                                what: "an expiry (the campaign sets none: close with revoke or escalate)",
                            });
                        };
                        Outcome::Keep {
                            reason: format!("no decision by the due date {}", c.due_at),
                            expires_at: Some(until),
                        }
                    };
                    decisions.push(
                        self.record_decision(
                            &c,
                            item,
                            &closer,
                            &closer,
                            outcome,
                            Some(NO_RESPONSE_VIA),
                            now,
                        )
                        .await?,
                    );
                }
            }
            NoResponse::Escalate if !undecided.is_empty() => {
                let follow_up = self.escalation(&c, &undecided, roster, now, escalation_due);
                self.store_campaign(&follow_up, now).await?;
                escalated = Some(follow_up);
            }
            NoResponse::Escalate => {}
        }
        let closure = CampaignClosure {
            campaign: id.to_owned(),
            closed_at: now,
            closed_by: closer,
            rule,
            undecided: undecided.iter().map(|i| i.id.clone()).collect(),
            escalated_to: escalated.as_ref().map(|e| e.id.clone()),
        };
        self.store().add_closure(&closure).await?;
        self.record(
            "campaign_closed",
            None,
            Some(id),
            None,
            AuditOutcome::Changed,
            format!(
                "campaign '{}' closed by {}: {} item(s) undecided, no-response rule {rule}{}",
                c.name,
                closure.closed_by,
                closure.undecided.len(),
                closure
                    .escalated_to
                    .as_ref()
                    .map(|e| format!(": escalated to campaign {e}"))
                    .unwrap_or_default()
            ),
            now,
        )
        .await?;
        Ok(ClosedCampaign {
            closure,
            decisions,
            escalated,
        })
    }

    /// The follow-up campaign of `c`'s `undecided` items, each given to its
    /// reviewer's manager.
    fn escalation(
        &self,
        c: &Campaign,
        undecided: &[&ReviewItem],
        roster: &[Identity],
        now: DateTime<Utc>,
        due_at: DateTime<Utc>,
    ) -> Campaign {
        let attribute = self.settings().manager_attribute.as_str();
        let manager_of: HashMap<&str, &str> = roster
            .iter()
            .filter_map(|p| {
                p.attribute(attribute)
                    .filter(|m| !m.is_empty() && *m != p.id.as_str())
                    .map(|m| (p.id.as_str(), m))
            })
            .collect();
        let items = undecided
            .iter()
            .map(|item| {
                let mut item = (*item).clone();
                if let Some(manager) = manager_of.get(item.reviewer.as_str()) {
                    item.evidence.push(format!(
                        "escalated from {} (no decision by {}) to their manager",
                        item.reviewer, c.due_at
                    ));
                    item.reviewer = (*manager).to_owned();
                } else {
                    item.evidence.push(format!(
                        "no decision by {}; {} has no manager in the roster to escalate to",
                        c.due_at, item.reviewer
                    ));
                }
                item
            })
            .collect::<Vec<_>>();
        Campaign {
            id: self.next_id("rc", now),
            name: format!("{} (escalated)", c.name),
            scope: c.scope.clone(),
            opened_at: now,
            due_at,
            grants_in_scope: items.len(),
            items,
            certified: 0,
            keep_until: c.keep_until,
            no_response: c.no_response,
            allow_self_review: c.allow_self_review,
            escalated_from: Some(c.id.clone()),
        }
    }
}
