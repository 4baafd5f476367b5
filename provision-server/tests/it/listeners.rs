//! The two listeners (webhooks outside, everything else inside) and what one client
//! may hold of the service: connections, and the time it takes to send headers.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use support::{World, listener, post_signed, termination};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn status(url: String) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The public listener answers webhooks and `/healthz` and nothing else; the internal
/// one serves requests, findings and readiness but no webhooks.
#[tokio::test]
async fn the_public_listener_serves_webhooks_only_and_the_internal_one_the_rest() {
    let world = World::new(Duration::ZERO);
    let service = world.service("two").await;
    let running = service
        .spawn_on_listeners(listener().await, Some(listener().await))
        .unwrap();
    let public = running.public_addr.unwrap();
    let internal = running.addr;

    let (accepted, json) = post_signed(public, &termination("evt-pub", "e1", None)).await;
    assert_eq!(accepted, 202, "{json}");
    let healthz = reqwest::get(format!("http://{public}/healthz"))
        .await
        .unwrap();
    assert_eq!(healthz.status().as_u16(), 200);
    for route in ["/requests", "/requests/x/approve"] {
        assert_eq!(
            status(format!("http://{public}{route}")).await,
            404,
            "{route}"
        );
    }
    let findings = reqwest::get(format!("http://{public}/findings"))
        .await
        .unwrap();
    assert_eq!(findings.status().as_u16(), 404);

    let (refused, _) = post_signed(internal, &termination("evt-int", "e2", None)).await;
    assert_eq!(refused, 404, "no webhooks on the internal listener");
    let ready = reqwest::get(format!("http://{internal}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    running.shutdown().await.unwrap();
}

/// Whether the server closed `stream` (or answered) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 512];
    matches!(
        tokio::time::timeout(wait, stream.read(&mut buf)).await,
        Ok(Ok(_) | Err(_))
    )
}

/// A service over the world's sandboxes with `http_section` in its configuration,
/// serving every route on one loopback listener.
async fn serve_with(
    world: &World,
    db: &str,
    http_section: &str,
) -> provision_server::RunningService {
    let config = world.config(db, http_section);
    let service = provision_server::Service::start(config, world.parts())
        .await
        .unwrap();
    service.spawn_on(listener().await).unwrap()
}

/// A client trickling its headers is cut off after `header_read_timeout_seconds`, and
/// not before.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off_at_the_timeout() {
    let world = World::new(Duration::ZERO);
    let running = serve_with(&world, "slow", "http: {header_read_timeout_seconds: 1}\n").await;
    let mut slow = TcpStream::connect(running.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        !closed_within(&mut slow, Duration::from_millis(500)).await,
        "still open before the timeout"
    );
    assert!(
        closed_within(&mut slow, Duration::from_secs(3)).await,
        "closed after the timeout"
    );
    running.shutdown().await.unwrap();
}

/// With `max_connections: 2`, a third connection is not served while two idle ones
/// hold the slots, and is served as soon as one of them closes.
#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let world = World::new(Duration::ZERO);
    let running = serve_with(&world, "cap", "http: {max_connections: 2}\n").await;
    let first = TcpStream::connect(running.addr).await.unwrap();
    let _second = TcpStream::connect(running.addr).await.unwrap();
    // Let the server take both.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(running.addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(
        !closed_within(&mut third, Duration::from_millis(500)).await,
        "a third connection is not served while two hold the slots"
    );
    drop(first);
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), third.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    running.shutdown().await.unwrap();
}
