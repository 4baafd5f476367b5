//! Access requests over HTTP, through the engine's governance:
//!
//! * `POST /requests` — opens a request (JSON: `requester`, `beneficiary`,
//!   `entitlement` `{system, kind, resource, role?, scope?}`, `ends_at`, optional
//!   `starts_at`, `justification`); its approver comes from the configuration's
//!   `governance:` section (by default the beneficiary's manager). 201 with the request;
//!   an auto-approved one is granted at once.
//! * `POST /requests/{id}/approve` — approves as the caller; the grant is applied at
//!   once through the executor, its audit record's reason naming the requester, the
//!   approver and the request id. 200 with the request and the run's report.
//! * `POST /requests/{id}/reject` — rejects as the caller (`{"reason": "..."}`).
//! * `POST /requests/{id}/withdraw` — withdraws it, by its requester (role
//!   `requester`) or an admin; a grant it gave is revoked at once.
//! * `POST /requests/{id}/revoke` — ends an approved request early (role `admin`,
//!   `{"reason": "..."}`); its grant is revoked at once.
//! * `GET /requests` — every request with its events.
//!
//! Who the caller is comes only from their authentication ([`crate::auth`]): the
//! requester is the authenticated person (role `requester`), the decider too (role
//! `approver`); a `by` or `requester` in a body is refused, never believed. Listing
//! every request needs `approver`, `auditor` or `admin`; a requester sees the
//! requests they opened or are the beneficiary of.
//!
//! Four eyes: the requester, the beneficiary and the approver are different people
//! (unless the target's approver rule says `allow_self_approval: true`); a
//! self-approval is 403.
//!
//! POSTs take `application/json` only (415 otherwise) and are refused when a browser
//! says it comes from another site (`Origin` not this host, or `Sec-Fetch-Site`
//! `cross-site`/`same-site`): an approval cannot be forged from a web page.
//!
//! Limits: a requester has at most `max_open_requests` open requests and opens at
//! most `max_requests_per_hour` (the `governance:` section); past either, 429.
//!
//! Refusals: no or bad credentials 401, a missing role 403, an unknown request 404,
//! a decision by someone who is not the request's approver 403 (the reason never
//! names who may decide), a request already decided 409, a malformed or incomplete
//! request 400 or 422.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use provision_core::engine::EngineError;
use provision_core::executor::ExecutionReport;
use provision_core::model::IdentityId;
use provision_governance::{
    AccessRequest, GovernanceError, GovernanceStore, NewRequest, RequestState,
};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Caller, Role};
use crate::error::ServerError;
use crate::jobs::Job;
use crate::service::Service;

/// The body of an approval or rejection.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Why (a rejection).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A refused call: its status and why.
pub(crate) struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    Refused(status, message.to_string()).into_response()
}

/// The HTTP answer to a failed call.
fn refusal(e: &ServerError) -> Response {
    let status = match e {
        ServerError::Governance(g) => match g {
            GovernanceError::UnknownRequest(_) => StatusCode::NOT_FOUND,
            GovernanceError::NotApprover { .. }
            | GovernanceError::SelfApproval { .. }
            | GovernanceError::NotRequester { .. } => StatusCode::FORBIDDEN,
            GovernanceError::TooManyOpenRequests { .. }
            | GovernanceError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            GovernanceError::RequestNotPending { .. } | GovernanceError::BlastRadius(_) => {
                StatusCode::CONFLICT
            }
            GovernanceError::UnknownPerson(_)
            | GovernanceError::Missing { .. }
            | GovernanceError::ExpiryNotAfterStart { .. }
            | GovernanceError::NoApprover { .. }
            | GovernanceError::UnknownEntitlement { .. }
            | GovernanceError::WindowTooLong { .. }
            | GovernanceError::RequestConflict { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
        ServerError::Engine(EngineError::Refused { .. } | EngineError::BlastRadius(_)) => {
            StatusCode::CONFLICT
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "access request");
    }
    error(status, e)
}

/// Runs `work` on a blocking thread driving it with the runtime's handle: the
/// governance futures of the core hold borrows across awaits that the compiler
/// cannot prove `Send` for every lifetime, which an axum handler requires.
pub(crate) async fn off_thread<T, F, Fut>(service: Service, work: F) -> Result<T, ServerError>
where
    T: Send + 'static,
    F: FnOnce(Service) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, ServerError>>,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(work(service)))
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(format!("request task: {e}"))))?
}

/// The body of `POST /requests`: what is asked for whom. The requester is the
/// caller; a `requester` (or anything else unknown) in the body is refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    /// Who gets the entitlement.
    pub beneficiary: IdentityId,
    /// What.
    pub entitlement: provision_core::model::Entitlement,
    /// From when (default: as soon as approved).
    #[serde(default)]
    pub starts_at: Option<chrono::DateTime<Utc>>,
    /// Until when (required: a request is for a time window).
    pub ends_at: Option<chrono::DateTime<Utc>>,
    /// Why.
    pub justification: String,
}

/// Refuses a POST that is not JSON (415) or that a browser sent from another site
/// (403): an approval must not be forgeable by a web page behind a cookie proxy.
pub(crate) fn json_from_this_site(headers: &HeaderMap) -> Result<(), Refused> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(Refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/json".to_owned(),
        ));
    }
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    if matches!(fetch_site, "cross-site" | "same-site") {
        return Err(Refused(
            StatusCode::FORBIDDEN,
            format!("a {fetch_site} browser request is refused"),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, rest)| rest);
        if host.is_none() || origin_host != host {
            return Err(Refused(
                StatusCode::FORBIDDEN,
                "a request from another origin is refused".to_owned(),
            ));
        }
    }
    Ok(())
}

/// `GET /requests` (roles `approver`, `auditor` or `admin`: every request;
/// `requester`: those they opened or are the beneficiary of).
pub(crate) async fn list(State(service): State<Service>, caller: Caller) -> Response {
    let everyone = [Role::Approver, Role::Auditor, Role::Admin];
    let own = if caller.require(&everyone).is_ok() {
        None
    } else {
        if let Err(r) = caller.require(&[Role::Requester]) {
            return r.into_response();
        }
        match caller.person() {
            Ok(p) => Some(p.to_owned()),
            Err(r) => return r.into_response(),
        }
    };
    match off_thread(service, |s| async move { s.access_requests().await }).await {
        Ok(requests) => {
            let shown: Vec<AccessRequest> = match own {
                None => requests,
                Some(me) => requests
                    .into_iter()
                    .filter(|r| r.requester == me || r.beneficiary.as_str() == me)
                    .collect(),
            };
            Json(shown).into_response()
        }
        Err(e) => refusal(&e),
    }
}

/// `POST /requests` (role `requester`; the requester is the caller).
pub(crate) async fn open(
    State(service): State<Service>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<OpenBody>, JsonRejection>,
) -> Response {
    let requester = match caller
        .require(&[Role::Requester])
        .and_then(|()| caller.person())
    {
        Ok(p) => p.to_owned(),
        Err(r) => return r.into_response(),
    };
    if let Err(r) = json_from_this_site(&headers) {
        return r.into_response();
    }
    // Without governance the service's plans do not carry approved requests, so a
    // reconcile under authoritative enforcement would take an approved grant back.
    if service.inner.config.governance.is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "access requests are not enabled: add a `governance:` section to the service \
             configuration (`governance: {}` for the defaults: the manager approves)"
                .to_owned(),
        );
    }
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let new = NewRequest {
        requester,
        beneficiary: body.beneficiary,
        entitlement: body.entitlement,
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        justification: body.justification,
    };
    match off_thread(service, |s| async move { s.open_request(new).await }).await {
        Ok((request, grant)) => (
            StatusCode::CREATED,
            Json(json!({"request": request, "grant": grant})),
        )
            .into_response(),
        Err(e) => refusal(&e),
    }
}

/// The caller deciding (one of `roles`) and the decision's body, or the refusal.
fn decider(
    caller: &Caller,
    roles: &[Role],
    headers: &HeaderMap,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<(String, DecisionBody), Refused> {
    let by = caller
        .require(roles)
        .and_then(|()| caller.person().map(str::to_owned))
        .map_err(|r| Refused(r.status, r.reason))?;
    json_from_this_site(headers)?;
    match body {
        Ok(Json(b)) => Ok((by, b)),
        Err(e) => Err(Refused(StatusCode::BAD_REQUEST, e.body_text())),
    }
}

/// The body's reason, refused (422) when empty: `what` says what needs one.
fn reason_for(body: DecisionBody, what: &str) -> Result<String, Refused> {
    let reason = body.reason.unwrap_or_default();
    if reason.trim().is_empty() {
        return Err(Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{what} needs a `reason`"),
        ));
    }
    Ok(reason)
}

/// The request and the run its decision made (`run_key`), or the refusal.
fn answer(
    result: Result<(AccessRequest, Option<ExecutionReport>), ServerError>,
    run_key: &str,
) -> Response {
    match result {
        Ok((request, run)) => Json(json!({"request": request, run_key: run})).into_response(),
        Err(e) => refusal(&e),
    }
}

/// `POST /requests/{id}/approve` (role `approver`; the approver is the caller).
pub(crate) async fn approve(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Response {
    let (by, _) = match decider(&caller, &[Role::Approver], &headers, body) {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let result = off_thread(service, move |s| async move {
        s.approve_request(&id, &by).await
    })
    .await;
    answer(result, "grant")
}

/// `POST /requests/{id}/reject` (role `approver`; `{"reason": "..."}`).
pub(crate) async fn reject(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Response {
    let (by, reason) = match decider(&caller, &[Role::Approver], &headers, body)
        .and_then(|(by, body)| Ok((by, reason_for(body, "a rejection")?)))
    {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let result = off_thread(service, move |s| async move {
        Ok((s.reject_request(&id, &by, &reason).await?, None))
    })
    .await;
    answer(result, "grant")
}

/// `POST /requests/{id}/withdraw` (its requester, role `requester`, or role `admin`).
pub(crate) async fn withdraw(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Response {
    let admin = caller.require(&[Role::Admin]).is_ok();
    let (by, _) = match decider(&caller, &[Role::Requester, Role::Admin], &headers, body) {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let result = off_thread(service, move |s| async move {
        s.withdraw_request(&id, &by, admin).await
    })
    .await;
    answer(result, "revoked")
}

/// `POST /requests/{id}/revoke` (role `admin`; `{"reason": "..."}`).
pub(crate) async fn revoke(
    State(service): State<Service>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Response {
    let (by, reason) = match decider(&caller, &[Role::Admin], &headers, body)
        .and_then(|(by, body)| Ok((by, reason_for(body, "an early revocation")?)))
    {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let result = off_thread(service, move |s| async move {
        s.revoke_request(&id, &by, &reason).await
    })
    .await;
    answer(result, "revoked")
}

impl Service {
    /// Governance over the service's engine and store: the configuration's approvers,
    /// governance events in the audit log (streamed to the SIEM sinks).
    pub(crate) fn governance(&self) -> provision_governance::Governance<'_> {
        let governance = provision_governance::Governance::new(
            &self.inner.engine,
            Arc::clone(&self.inner.store) as Arc<dyn GovernanceStore>,
        )
        .actor(self.inner.config.actor.clone())
        .sod_rules(self.inner.sod_rules.clone());
        match &self.inner.config.governance {
            Some(config) => governance.config(config.clone()),
            None => governance,
        }
    }

    /// Every access request, with its events.
    pub async fn access_requests(&self) -> Result<Vec<AccessRequest>, ServerError> {
        let governance = self.governance();
        let requests = governance.requests().await?;
        Ok(requests)
    }

    /// Opens an access request for someone in the roster now; an auto-approved one is
    /// granted at once (its run's report).
    pub async fn open_request(
        &self,
        new: NewRequest,
    ) -> Result<(AccessRequest, Option<ExecutionReport>), ServerError> {
        let roster = self.roster().await?;
        let governance = self.governance();
        let request = governance.request(new, &roster).await?;
        drop(governance);
        let grant = if request.state(Utc::now()) == RequestState::Approved {
            self.grant(&request).await?
        } else {
            None
        };
        Ok((request, grant))
    }

    /// Approves request `id` as `by` (refused unless `by` is its approver and it is
    /// pending), then grants it at once through the executor.
    pub async fn approve_request(
        &self,
        id: &str,
        by: &str,
    ) -> Result<(AccessRequest, Option<ExecutionReport>), ServerError> {
        let governance = self.governance();
        let request = governance.approve(id, by).await?;
        drop(governance);
        let grant = self.grant(&request).await?;
        Ok((request, grant))
    }

    /// Rejects request `id` as `by`, with `reason`.
    pub async fn reject_request(
        &self,
        id: &str,
        by: &str,
        reason: &str,
    ) -> Result<AccessRequest, ServerError> {
        let governance = self.governance();
        let request = governance.reject(id, by, reason).await?;
        Ok(request)
    }

    /// Withdraws request `id` as `by` (its requester, or anyone when `admin`); a grant
    /// it gave is revoked at once (the run's report).
    pub async fn withdraw_request(
        &self,
        id: &str,
        by: &str,
        admin: bool,
    ) -> Result<(AccessRequest, Option<ExecutionReport>), ServerError> {
        let governance = self.governance();
        let request = governance.withdraw(id, by, admin).await?;
        drop(governance);
        self.revoke_lapsed(request).await
    }

    /// Ends approved request `id` early as admin `by`, with `reason`; its grant is
    /// revoked at once (the run's report).
    pub async fn revoke_request(
        &self,
        id: &str,
        by: &str,
        reason: &str,
    ) -> Result<(AccessRequest, Option<ExecutionReport>), ServerError> {
        let governance = self.governance();
        let request = governance.revoke(id, by, reason).await?;
        drop(governance);
        self.revoke_lapsed(request).await
    }

    /// Plans and applies the beneficiary of a request that no longer grants, when it
    /// had been approved (so its grant, if any, goes now rather than at the next
    /// reconcile).
    async fn revoke_lapsed(
        &self,
        request: AccessRequest,
    ) -> Result<(AccessRequest, Option<ExecutionReport>), ServerError> {
        if !request.lapsed_at(Utc::now()) {
            return Ok((request, None));
        }
        let event = format!("request:{}:closed", request.id);
        let report = self.governed_run(&request.beneficiary, &event).await?;
        Ok((request, report))
    }

    /// Plans the beneficiary with governance (approved requests granted, their reasons
    /// naming requester, approver and request) and applies it; schedules the start of
    /// the request's window when it is later ([`Job::RequestStart`]) and its end
    /// ([`Job::RequestEnd`]). Holds the beneficiary's lock while it sends.
    async fn grant(&self, request: &AccessRequest) -> Result<Option<ExecutionReport>, ServerError> {
        let (request_id, id) = (request.id.clone(), request.beneficiary.to_string());
        if let Some(start) = request.starts_at.filter(|s| *s > Utc::now()) {
            let job = Job::RequestStart {
                request: request_id.clone(),
                id: id.clone(),
            };
            self.inner
                .store
                .schedule_put(
                    &format!("request-start:{request_id}"),
                    start,
                    &job.to_json(),
                    true,
                )
                .await?;
        }
        let job = Job::RequestEnd {
            request: request_id.clone(),
            id,
        };
        self.inner
            .store
            .schedule_put(
                &format!("request-end:{request_id}"),
                request.ends_at,
                &job.to_json(),
                true,
            )
            .await?;
        self.governed_run(&request.beneficiary, &format!("request:{request_id}"))
            .await
    }

    /// Plans `beneficiary` with governance and applies it, holding the beneficiary's
    /// lock while it sends ([`crate::locks`]). The plan is made before the lock is
    /// taken, and made again if another run (a termination) locked the beneficiary
    /// meanwhile: a grant never makes a leaver wait for its read.
    pub(crate) async fn governed_run(
        &self,
        beneficiary: &IdentityId,
        event: &str,
    ) -> Result<Option<ExecutionReport>, ServerError> {
        let service = self;
        let (_beneficiary, plan) = self
            .inner
            .locks
            .plan_then_lock(std::slice::from_ref(beneficiary), false, || async move {
                let roster = service.roster().await?;
                service
                    .plan_named(&roster, std::slice::from_ref(beneficiary), event)
                    .await
            })
            .await?;
        // The gate held this person back (a separation-of-duties conflict): nothing
        // is granted, and the refusal is in the audit log.
        if let Some(refusal) = plan.refusals().first() {
            return Err(EngineError::from(refusal.clone()).into());
        }
        let approved = plan.approve().map_err(EngineError::from)?;
        if approved.operations.is_empty() {
            return Ok(None);
        }
        let report = self.inner.engine.apply(&approved).await?;
        self.after_run(&approved, &report).await?;
        Ok(Some(report))
    }
}
