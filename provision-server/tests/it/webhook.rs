//! Every answer of the HR webhook receiver, through the service's router.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use provision_server::Service;
use provision_store::InboxState;
use support::{World, now_secs, signed, termination};
use tower::ServiceExt;

async fn post(
    service: &provision_server::Service,
    source: &str,
    headers: &[(&str, String)],
    body: impl Into<Body>,
) -> (StatusCode, serde_json::Value) {
    let mut request =
        Request::post(format!("/webhooks/{source}")).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = service
        .router()
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

fn sig_headers(body: &str, at: i64) -> Vec<(&'static str, String)> {
    let (signature, timestamp) = signed(body, at);
    vec![
        ("X-Workday-Signature", signature),
        ("X-Provision-Timestamp", timestamp),
    ]
}

#[tokio::test]
async fn unsigned_badly_signed_and_stale_events_get_401_with_the_reason() {
    let world = World::new(Duration::ZERO);
    let service = world.service("s").await;
    let body = termination("evt-1", "e1", None);

    let (status, json) = post(&service, "workday", &[], body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["error"], "unsigned");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("X-Workday-Signature")
    );

    // Signed with another secret.
    let at = now_secs();
    let wrong = provision_server::webhook::sign("not-the-secret", at, body.as_bytes());
    let headers = [
        ("X-Workday-Signature", wrong),
        ("X-Provision-Timestamp", at.to_string()),
    ];
    let (status, json) = post(&service, "workday", &headers, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["error"], "bad_signature");

    // A right signature over another body (the body was changed on the way).
    let headers = sig_headers(&body, at);
    let tampered = body.replace("e1", "e2");
    let (status, json) = post(&service, "workday", &headers, tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["error"], "bad_signature");

    // A timestamp moved after signing.
    let mut headers = sig_headers(&body, at);
    headers[1].1 = (at + 1).to_string();
    let (status, _) = post(&service, "workday", &headers, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Signed correctly, ten minutes ago (the window is five).
    let (status, json) = post(
        &service,
        "workday",
        &sig_headers(&body, at - 600),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["error"], "stale");
    assert!(json["reason"].as_str().unwrap().contains("300 s"), "{json}");

    // Signed for ten minutes from now: a signature valid "later" would stay valid
    // for as long as the sender liked. Both sides of the window are checked.
    let (status, json) = post(
        &service,
        "workday",
        &sig_headers(&body, at + 600),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["error"], "stale");

    assert_eq!(
        service.store().inbox_depth().await.unwrap(),
        0,
        "nothing stored"
    );

    // Just inside the window on either side: taken.
    for (n, skew) in [(1, -290), (2, 290)] {
        let inside = body.replace("\"evt-", &format!("\"evt-inside{n}-"));
        let (status, json) = post(
            &service,
            "workday",
            &sig_headers(&inside, at + skew),
            inside.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{skew} s: {json}");
    }
}

#[tokio::test]
async fn malformed_events_get_400_naming_the_field() {
    let world = World::new(Duration::ZERO);
    let service = world.service("s").await;
    for (body, field) in [
        ("{not json".to_owned(), "body"),
        (
            r#"{"type":"termination","person_id":"e1"}"#.to_owned(),
            "event_id",
        ),
        (
            r#"{"event_id":"x","type":"promotion","person_id":"e1"}"#.to_owned(),
            "type",
        ),
        (termination("x", "e1", Some("next tuesday")), "effective"),
        (
            r#"{"event_id":"x","type":"hire","person":{"id":"e9","email":"nope"}}"#.to_owned(),
            "person.email",
        ),
    ] {
        let (status, json) = post(
            &service,
            "workday",
            &sig_headers(&body, now_secs()),
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(json["error"], "malformed");
        assert_eq!(json["field"], field, "{body}: {json}");
    }
    assert_eq!(service.store().inbox_depth().await.unwrap(), 0);
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_an_unknown_source_404() {
    let world = World::new(Duration::ZERO);
    let service = world.service("s").await;
    let padding = "x".repeat(70 * 1024);
    let body = format!(
        r#"{{"event_id":"big","type":"termination","person_id":"e1","padding":"{padding}"}}"#
    );
    let (status, _) = post(
        &service,
        "workday",
        &sig_headers(&body, now_secs()),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length: still refused at the limit.
    let stream = futures::stream::iter(
        body.as_bytes()
            .chunks(4096)
            .map(|c| Ok::<_, std::io::Error>(axum::body::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let (status, _) = post(
        &service,
        "workday",
        &sig_headers(&body, now_secs()),
        Body::from_stream(stream),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let small = termination("e", "e1", None);
    let (status, json) = post(
        &service,
        "greenhouse",
        &sig_headers(&small, now_secs()),
        small.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["error"], "unknown_source");
    assert_eq!(service.store().inbox_depth().await.unwrap(), 0);
}

#[tokio::test]
async fn an_accepted_event_is_stored_before_the_answer_and_a_replay_is_not_processed_twice() {
    let world = World::new(Duration::ZERO);
    let service = world.service("s").await;
    world.provision_everyone(&service).await;
    let body = termination("evt-7", "e2", None);

    let (status, json) = post(
        &service,
        "workday",
        &sig_headers(&body, now_secs()),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["status"], "accepted");
    let seq = json["seq"].as_i64().unwrap();
    // No worker runs here: the row is in the store because the answer came.
    let row = service.store().inbox_get(seq).await.unwrap().unwrap();
    assert_eq!(
        (row.kind.as_str(), row.identity.as_str()),
        ("termination", "e2")
    );
    assert_eq!(row.state, InboxState::Received);

    // The sender retries (same id, signed again later): 200, same row.
    let (status, json) = post(
        &service,
        "workday",
        &sig_headers(&body, now_secs() + 1),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["status"], "duplicate");
    assert_eq!(json["seq"].as_i64().unwrap(), seq);
    assert_eq!(service.store().inbox_depth().await.unwrap(), 1);

    assert_eq!(service.work_once().await.unwrap(), 1);
    assert!(world.locked_out_everywhere(&support::login("ben")));
    let effects = world.effects();
    // Replayed after processing: still a duplicate, and nothing runs again.
    let (status, _) = post(
        &service,
        "workday",
        &sig_headers(&body, now_secs()),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(service.work_once().await.unwrap(), 0);
    assert_eq!(world.effects(), effects);
    assert_eq!(world.resent(), 0);
    assert_eq!(
        service.store().inbox_get(seq).await.unwrap().unwrap().state,
        InboxState::Done
    );
}

#[tokio::test]
async fn an_event_about_an_unknown_person_is_stored_and_becomes_a_finding() {
    let world = World::new(Duration::ZERO);
    let auth = support::auth_section(&[("audrey", &["auditor"]), ("ben", &["requester"])]);
    let service = Service::start(world.config("s", &auth), world.parts())
        .await
        .unwrap();
    let body = termination("evt-ghost", "e404", None);
    let (status, json) = post(
        &service,
        "workday",
        &sig_headers(&body, now_secs()),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let seq = json["seq"].as_i64().unwrap();
    let requests_before: u64 = world.systems.values().map(|s| s.stats().requests).sum();
    assert_eq!(service.work_once().await.unwrap(), 1);
    let row = service.store().inbox_get(seq).await.unwrap().unwrap();
    assert_eq!(row.state, InboxState::Finding);
    assert!(
        row.note.as_deref().unwrap().contains("e404"),
        "{:?}",
        row.note
    );
    let requests_after: u64 = world.systems.values().map(|s| s.stats().requests).sum();
    assert_eq!(requests_before, requests_after, "no system was touched");

    // Findings name people: nobody anonymous, and no requester, reads them.
    let get = |token: Option<String>| {
        let mut request = Request::get("/findings");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        service
            .router()
            .oneshot(request.body(Body::empty()).unwrap())
    };
    assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(Some(support::token_of("ben"))).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let response = get(Some(support::token_of("audrey"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["findings"][0]["identity"], "e404");
    assert_eq!(json["findings"][0]["state"], "finding");
}
