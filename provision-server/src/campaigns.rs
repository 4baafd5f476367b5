//! Access review campaigns over HTTP, through the engine's governance, authenticated
//! and authorised like the requests API ([`crate::requests`]):
//!
//! * `GET /campaigns` — every campaign with where it stands (roles `auditor` or
//!   `admin`); a `reviewer` sees the campaigns where they have items, with only
//!   their own progress.
//! * `GET /campaigns/{id}/items?reviewer=` — the items still to decide of a
//!   reviewer. A `reviewer` sees only their own (`?reviewer=` naming someone else is
//!   403); `auditor` and `admin` any reviewer's, or every item without `?reviewer=`.
//! * `POST /campaigns/{id}/decisions` (role `reviewer`) —
//!   `{"decisions": [{"item": "i-0004", "decision": "keep"|"revoke", "reason": "..."}]}`:
//!   recorded as the caller's decisions, with how they authenticated. Every
//!   decision is checked first; one refused decision refuses the call (nothing
//!   recorded) and the answer names each refused one by its position: an item of
//!   someone else or about the caller's own access 403, an item decided already or a
//!   closed campaign 409, an unknown item or an incomplete keep 422. A keep becomes
//!   an exception until the campaign's expiry; the revokes run at once through the
//!   gate and the executor, holding the people's locks.
//!
//! The reviewer is the authenticated caller only: a `reviewer` or `by` in the body
//! is refused (400), never believed. POSTs take `application/json` from this site
//! only, as the requests API does.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use provision_core::engine::EngineError;
use provision_core::executor::ExecutionReport;
use provision_core::model::IdentityId;
use provision_governance::review::export::ReviewerList;
use provision_governance::{
    Campaign, CampaignOverview, Decision, DecisionRow, GovernanceError, NewCampaign, RowRefusal,
};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{AuthMethod, Caller, Role};
use crate::error::ServerError;
use crate::requests::{json_from_this_site, off_thread};
use crate::service::Service;

/// The body of `POST /campaigns/{id}/decisions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsBody {
    /// The decisions, in order (refusals name their position, from 1).
    pub decisions: Vec<DecisionEntry>,
}

/// One decision of a body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionEntry {
    /// The item.
    pub item: String,
    /// `keep` or `revoke`.
    pub decision: String,
    /// Why (required for a keep).
    #[serde(default)]
    pub reason: String,
}

/// The query of `GET /campaigns/{id}/items`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    /// Whose items (default: the caller's; auditors and admins: everyone's).
    #[serde(default)]
    pub reviewer: Option<String>,
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": message.to_string()}))).into_response()
}

/// A refused row as the caller sees it: never naming who else may decide.
fn row_text(r: &RowRefusal) -> String {
    match &r.error {
        GovernanceError::NotReviewer { item, .. } => {
            format!("decision {}: item {item} is not in your list", r.row)
        }
        e => format!("decision {}: {e}", r.row),
    }
}

/// The HTTP answer to a failed review call.
fn refusal(e: &ServerError) -> Response {
    let ServerError::Governance(g) = e else {
        if let ServerError::Engine(EngineError::Refused { .. } | EngineError::BlastRadius(_)) = e {
            return error(StatusCode::CONFLICT, e);
        }
        tracing::error!(error = %e, "access review");
        return error(StatusCode::INTERNAL_SERVER_ERROR, e);
    };
    match g {
        GovernanceError::UnknownCampaign(_) => error(StatusCode::NOT_FOUND, g),
        GovernanceError::CampaignClosed { .. } | GovernanceError::BlastRadius(_) => {
            error(StatusCode::CONFLICT, g)
        }
        GovernanceError::DecisionsRefused { campaign, rows } => {
            let status = if rows.iter().any(|r| {
                matches!(
                    r.error,
                    GovernanceError::NotReviewer { .. } | GovernanceError::SelfReview { .. }
                )
            }) {
                StatusCode::FORBIDDEN
            } else if rows.iter().any(|r| {
                matches!(
                    r.error,
                    GovernanceError::ItemClosed { .. } | GovernanceError::DecidedTwice { .. }
                )
            }) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let refused: Vec<_> = rows
                .iter()
                .map(|r| json!({"row": r.row, "item": r.item, "error": row_text(r)}))
                .collect();
            (
                status,
                Json(json!({
                    "error": format!(
                        "campaign {campaign}: {} decision(s) refused, none recorded",
                        rows.len()
                    ),
                    "refused": refused,
                })),
            )
                .into_response()
        }
        GovernanceError::Engine(_) => error(StatusCode::CONFLICT, g),
        _ => {
            tracing::error!(error = %e, "access review");
            error(StatusCode::INTERNAL_SERVER_ERROR, g)
        }
    }
}

/// How the caller authenticated, recorded with their decisions.
fn via(caller: &Caller) -> String {
    let how = match &caller.via {
        AuthMethod::Oidc { issuer, subject } => format!("OIDC token of {subject} from {issuer}"),
        AuthMethod::Token { name } => format!("API token {name}"),
        AuthMethod::Proxy => "the trusted proxy".to_owned(),
    };
    format!("HTTP, {how}")
}

/// `GET /campaigns`.
pub(crate) async fn list(State(service): State<Service>, caller: Caller) -> Response {
    let everything = caller.require(&[Role::Auditor, Role::Admin]).is_ok();
    let me = if everything {
        None
    } else {
        match caller
            .require(&[Role::Reviewer])
            .and_then(|()| caller.person())
        {
            Ok(p) => Some(p.to_owned()),
            Err(r) => return r.into_response(),
        }
    };
    match off_thread(service, |s| async move { s.review_campaigns().await }).await {
        Ok(campaigns) => {
            let shown: Vec<CampaignOverview> = match me {
                None => campaigns,
                Some(me) => campaigns
                    .into_iter()
                    .filter_map(|mut c| {
                        let mine = c.state.reviewers.remove(&me)?;
                        c.state.reviewers = [(me.clone(), mine)].into_iter().collect();
                        c.state.overdue.retain(|r| *r == me);
                        Some(c)
                    })
                    .collect(),
            };
            Json(shown).into_response()
        }
        Err(e) => refusal(&e),
    }
}

/// `GET /campaigns/{id}/items?reviewer=`.
pub(crate) async fn items(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<ItemsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "the only parameter is `reviewer`");
    };
    let everything = caller.require(&[Role::Auditor, Role::Admin]).is_ok();
    let reviewer = if everything {
        query.reviewer
    } else {
        let me = match caller
            .require(&[Role::Reviewer])
            .and_then(|()| caller.person())
        {
            Ok(p) => p.to_owned(),
            Err(r) => return r.into_response(),
        };
        match query.reviewer {
            Some(other) if other != me => {
                return error(
                    StatusCode::FORBIDDEN,
                    "a reviewer sees only their own items",
                );
            }
            _ => Some(me),
        }
    };
    let answer = off_thread(service, move |s| async move {
        let governance = s.governance();
        let campaign = governance.campaign(&id).await?;
        let decisions = governance
            .store()
            .decisions(&id)
            .await
            .map_err(GovernanceError::from)?;
        drop(governance);
        Ok::<_, ServerError>((campaign, decisions))
    })
    .await;
    match answer {
        Ok((campaign, decisions)) => match reviewer {
            Some(r) => Json(ReviewerList::pending(&campaign, &r, &decisions)).into_response(),
            None => {
                let decided: BTreeSet<&str> = decisions.iter().map(|d| d.item.as_str()).collect();
                let pending: Vec<_> = campaign
                    .items
                    .iter()
                    .filter(|i| !decided.contains(i.id.as_str()))
                    .collect();
                Json(json!({"campaign": campaign.id, "items": pending})).into_response()
            }
        },
        Err(e) => refusal(&e),
    }
}

/// `POST /campaigns/{id}/decisions` (role `reviewer`; the reviewer is the caller).
pub(crate) async fn decide(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<DecisionsBody>, JsonRejection>,
) -> Response {
    let reviewer = match caller
        .require(&[Role::Reviewer])
        .and_then(|()| caller.person())
    {
        Ok(p) => p.to_owned(),
        Err(r) => return r.into_response(),
    };
    if let Err(r) = json_from_this_site(&headers) {
        return r.into_response();
    }
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    for (i, entry) in body.decisions.iter().enumerate() {
        match DecisionRow::parse(i + 1, &entry.item, &entry.decision, &entry.reason) {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => unreadable.push(format!("decision {}: no decision given", i + 1)),
            Err(e) => unreadable.push(format!("decision {}: {e}", i + 1)),
        }
    }
    if !unreadable.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "decisions refused, none recorded", "refused": unreadable})),
        )
            .into_response();
    }
    let via = via(&caller);
    match off_thread(service, move |s| async move {
        s.decide_review(&id, &reviewer, &rows, &via).await
    })
    .await
    {
        Ok((decisions, report)) => {
            Json(json!({"decisions": decisions, "revocations": report})).into_response()
        }
        Err(e) => refusal(&e),
    }
}

impl Service {
    /// Opens and stores a review campaign over the roster now, from what the systems
    /// hold now (a recurring schedule and tests call it).
    pub async fn open_review(&self, new: NewCampaign) -> Result<Campaign, ServerError> {
        let roster = self.roster().await?;
        let observed = self.inner.engine.observe(&roster).await?;
        let governance = self.governance();
        let campaign = governance.open(&observed, &roster, new).await?;
        Ok(campaign)
    }

    /// Every campaign with where it stands now.
    pub async fn review_campaigns(&self) -> Result<Vec<CampaignOverview>, ServerError> {
        let governance = self.governance();
        let campaigns = governance.campaigns(self.inner.engine.now()).await?;
        Ok(campaigns)
    }

    /// Records `reviewer`'s decisions on campaign `id` (all or none), then runs the
    /// revokes among them at once through the gate and the executor, holding the
    /// locks of the people they change.
    pub async fn decide_review(
        &self,
        id: &str,
        reviewer: &str,
        rows: &[DecisionRow],
        via: &str,
    ) -> Result<(Vec<Decision>, Option<ExecutionReport>), ServerError> {
        let governance = self.governance();
        let decisions = governance.decide_rows(id, reviewer, rows, via).await?;
        let campaign = governance.campaign(id).await?;
        drop(governance);
        let report = self.run_revocations(&campaign, &decisions).await?;
        Ok((decisions, report))
    }

    /// The fixes of the revoke decisions among `decisions`, through the gate and the
    /// blast-radius guard, applied under the locks of the people they change.
    async fn run_revocations(
        &self,
        campaign: &Campaign,
        decisions: &[Decision],
    ) -> Result<Option<ExecutionReport>, ServerError> {
        let plan = provision_governance::review::revocations(campaign, decisions);
        if plan.operations.is_empty() {
            return Ok(None);
        }
        let people: Vec<IdentityId> = plan
            .operations
            .iter()
            .map(|o| o.identity.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let event = format!("access-review:{}", campaign.id);
        let service = self;
        let (_people, guarded) = self
            .inner
            .locks
            .plan_then_lock(&people, false, || {
                let (plan, event) = (plan.clone(), event.clone());
                async move {
                    let roster = service.roster().await?;
                    Ok::<_, ServerError>(service.inner.engine.guard(plan, &roster, &event).await?)
                }
            })
            .await?;
        for refusal in guarded.refusals() {
            tracing::warn!(%refusal, campaign = %campaign.id, "a review revocation was held back by the gate");
        }
        let approved = guarded.approve().map_err(EngineError::from)?;
        if approved.operations.is_empty() {
            return Ok(None);
        }
        let report = self.inner.engine.apply(&approved).await?;
        self.after_run(&approved, &report).await?;
        Ok(Some(report))
    }
}
