//! `/readyz` under load and the webhook's answer while the service shuts down.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use provision_core::model::SystemName;
use support::{World, listener, now_secs, signed, termination};
use tower::ServiceExt;

/// A hundred readiness probes at once read each system once: the verdict is kept for
/// 30 s and callers arriving while it is taken wait for it. Before, every probe read
/// every system directly, outside the executor's limiter (and uncounted: this failed
/// with 0 reads counted).
#[tokio::test]
async fn a_hundred_readiness_probes_read_each_system_once_through_its_limiter() {
    let world = World::new(Duration::from_millis(5));
    let service = world.service("s").await;
    let running = service.clone().spawn_on(listener().await).unwrap();
    let client = reqwest::Client::new();
    let probes = (0..100).map(|_| {
        let client = client.clone();
        let url = format!("http://{}/readyz", running.addr);
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    });
    let answers = futures::future::join_all(probes).await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    for system in support::SYSTEMS {
        let stats = service
            .engine()
            .executor()
            .read_stats(&SystemName::new(system))
            .unwrap();
        assert_eq!(
            stats.calls, 1,
            "{system}: 100 probes made {} reads",
            stats.calls
        );
    }
    running.shutdown().await.unwrap();
}

/// Once shutdown began, an HR event is refused with 503 `shutting_down` (so the HR
/// system retries it against another instance) and is not stored.
#[tokio::test]
async fn a_webhook_during_shutdown_is_refused_with_503_and_not_stored() {
    let world = World::new(Duration::ZERO);
    let service = world.service("s").await;
    let running = service.clone().spawn_on(listener().await).unwrap();
    running.shutdown().await.unwrap();

    let body = termination("evt-late", "e1", None);
    let (signature, timestamp) = signed(&body, now_secs());
    let request = Request::post("/webhooks/workday")
        .header("X-Workday-Signature", signature)
        .header("X-Provision-Timestamp", timestamp)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = service.router().oneshot(request).await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["error"], "shutting_down");
    assert_eq!(
        service.store().inbox_depth().await.unwrap(),
        0,
        "nothing stored"
    );
}
