//! `/healthz`, `/readyz`, `/metrics` and `/findings`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use provision_store::InboxState;
use serde_json::json;

use crate::auth::{Caller, Role};
use crate::metrics::prometheus;
use crate::service::Service;

/// How long readiness waits for one system.
const SYSTEM_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Alive: the process answers.
pub(crate) async fn healthz() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

/// How long a readiness verdict on the systems is kept: `/readyz` asked 100 times a
/// second still reads each system once per this interval.
pub(crate) const SYSTEMS_VERDICT_TTL: Duration = Duration::from_secs(30);

/// The systems' last readiness verdict and when it was taken. Behind an async mutex
/// held while a verdict is taken, so callers arriving meanwhile wait for that verdict
/// instead of reading the systems again.
#[derive(Default)]
pub(crate) struct ReadinessCache {
    verdict: tokio::sync::Mutex<Option<(tokio::time::Instant, BTreeMap<String, String>)>>,
}

impl ReadinessCache {
    /// The systems' verdicts, taken again only when the last is older than
    /// [`SYSTEMS_VERDICT_TTL`].
    async fn systems(&self, service: &Service) -> BTreeMap<String, String> {
        let mut held = self.verdict.lock().await;
        if let Some((taken, verdict)) = held.as_ref()
            && taken.elapsed() < SYSTEMS_VERDICT_TTL
        {
            return verdict.clone();
        }
        let verdict = check_systems(service).await;
        *held = Some((tokio::time::Instant::now(), verdict.clone()));
        verdict
    }
}

/// Each system's verdict: one page of accounts read with this service's credentials
/// through the executor's paced path (the system's limiter and retries), so readiness
/// shares the vendor's budget with everything else.
async fn check_systems(service: &Service) -> BTreeMap<String, String> {
    let engine = &service.inner.engine;
    let checks = engine.systems().map(|name| async move {
        let verdict =
            match tokio::time::timeout(SYSTEM_CHECK_TIMEOUT, engine.executor().probe(name)).await {
                Ok(Ok(_)) => "ok".to_owned(),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer in {} s", SYSTEM_CHECK_TIMEOUT.as_secs()),
            };
        (name.to_string(), verdict)
    });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .collect()
}

/// Ready: the store answers, and every system accepts this service's credentials
/// (one page of accounts read with them, at most once per [`SYSTEMS_VERDICT_TTL`]).
/// 503 naming what is not.
pub(crate) async fn readyz(State(service): State<Service>) -> Response {
    let inner = &service.inner;
    let store = match inner.store.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    let systems = inner.readiness.systems(&service).await;
    let accepting = inner.accepting.load(std::sync::atomic::Ordering::SeqCst);
    let ready = accepting && store == "ok" && systems.values().all(|v| v == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"ready": ready, "accepting": accepting, "store": store, "systems": systems})),
    )
        .into_response()
}

/// Prometheus text.
pub(crate) async fn metrics(State(service): State<Service>, headers: HeaderMap) -> Response {
    // With authentication configured, scraping needs the `metrics` role; without it
    // the service listens on loopback only and the metrics name no person.
    if service.inner.auth.configured() {
        match service.inner.auth.authenticate(&headers).await {
            Ok(caller) => {
                if let Err(r) = caller.require(&[Role::Metrics, Role::Admin]) {
                    return r.into_response();
                }
            }
            Err(r) => return r.into_response(),
        }
    }
    if let Ok(depth) = service.inner.store.inbox_depth().await {
        service.inner.metrics.queue_depth(depth);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus().render(),
    )
        .into_response()
}

/// Events kept as findings (an unknown person) and events that failed, with why
/// (roles `auditor` or `admin`: they name people and what happened to them).
pub(crate) async fn findings(State(service): State<Service>, caller: Caller) -> Response {
    if let Err(r) = caller.require(&[Role::Auditor, Role::Admin]) {
        return r.into_response();
    }
    let store = &service.inner.store;
    let mut out = Vec::new();
    for state in [InboxState::Finding, InboxState::Failed] {
        match store.inbox_in_state(state).await {
            Ok(items) => out.extend(items.into_iter().map(|i| {
                json!({"seq": i.seq, "source": i.source, "event_id": i.event_id, "kind": i.kind,
                       "identity": i.identity, "state": state.as_str(), "note": i.note,
                       "received_at": i.received_at})
            })),
            Err(e) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"error": e.to_string()})),
                )
                    .into_response();
            }
        }
    }
    (StatusCode::OK, Json(json!({"findings": out}))).into_response()
}
