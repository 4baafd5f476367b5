//! The HTTP SIEM sink against a receiver on 127.0.0.1 that answers like a real one
//! (a 503, a 429 with `Retry-After`), is stopped mid-stream and restarted on the
//! same port: it ends with every audit record exactly once, in order.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use provision_core::audit::{AuditEvent, AuditLog, AuditOutcome, MemoryAuditLog};
use provision_core::model::{IdentityId, OperationId, Reason, ReasonKind, RunId, SystemName};
use provision_siem::HttpSink;
use provision_siem::{
    DeliveryConfig, MemoryCursorStore, SiemError, SiemEvent, SinkError, SinkPump,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        at: Utc.timestamp_opt(1_790_000_000 + i as i64, 0).unwrap(),
        run: RunId("run-1".into()),
        actor: "hr-sync".into(),
        identity: IdentityId(format!("e{i}")),
        system: SystemName::new("okta"),
        operation: OperationId(format!("e{i}/okta/suspend")),
        action: "suspend_account".into(),
        entitlement: None,
        outcome: AuditOutcome::Changed,
        reason: Reason {
            kind: ReasonKind::Termination,
            policies: vec![],
            event: None,
            detail: "terminated".into(),
            valid_until: None,
        },
        note: None,
    }
}

/// What the receiver accepted (seqs, in arrival order) and when each request came.
#[derive(Default)]
struct Received {
    accepted: Vec<u64>,
    keys: Vec<String>,
    arrivals: Vec<(Instant, u16)>,
}

/// A receiver that answers from a script (then 200), checks the request like a
/// strict SIEM endpoint, and records the seqs of the batches it acknowledged.
struct Receiver {
    script: Mutex<VecDeque<u16>>,
    received: Arc<Mutex<Received>>,
}

impl Respond for Receiver {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        if auth.as_deref() != Some("Bearer siem-token-1") {
            return ResponseTemplate::new(401).set_body_string("missing token");
        }
        let content_type = request
            .headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(content_type, "application/x-ndjson");
        let status = self.script.lock().unwrap().pop_front().unwrap_or(200);
        let reply = reply_for(status);
        let mut received = self.received.lock().unwrap();
        received.arrivals.push((Instant::now(), status));
        if (200..300).contains(&status) {
            let body = std::str::from_utf8(&request.body).unwrap();
            let seqs: Vec<u64> = body
                .lines()
                .map(|l| serde_json::from_str::<SiemEvent>(l).unwrap().seq().unwrap())
                .collect();
            let first = request
                .headers
                .get("x-provision-first-seq")
                .unwrap()
                .to_str()
                .unwrap();
            let last = request
                .headers
                .get("x-provision-last-seq")
                .unwrap()
                .to_str()
                .unwrap();
            assert_eq!(first, seqs[0].to_string());
            assert_eq!(last, seqs[seqs.len() - 1].to_string());
            received.keys.push(
                request
                    .headers
                    .get("idempotency-key")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned(),
            );
            received.accepted.extend(seqs);
        }
        reply
    }
}

async fn start(
    listener: TcpListener,
    script: Vec<u16>,
    received: Arc<Mutex<Received>>,
) -> MockServer {
    let server = MockServer::builder().listener(listener).start().await;
    Mock::given(method("POST"))
        .and(path("/siem/events"))
        .respond_with(Receiver {
            script: Mutex::new(script.into()),
            received,
        })
        .mount(&server)
        .await;
    server
}

fn reply_for(status: u16) -> ResponseTemplate {
    match status {
        429 => ResponseTemplate::new(429)
            .insert_header("Retry-After", "1")
            .set_body_string("{\"error\":\"ingest quota exceeded\"}"),
        503 => ResponseTemplate::new(503).set_body_string("indexer restarting"),
        200 => ResponseTemplate::new(200),
        other => ResponseTemplate::new(other).set_body_string("{\"error\":\"bad\"}"),
    }
}

fn sink(port: u16) -> Arc<HttpSink> {
    Arc::new(
        HttpSink::with_timeouts(
            "siem-http",
            &format!("http://127.0.0.1:{port}/siem/events"),
            Duration::from_millis(500),
            Duration::from_secs(5),
        )
        .unwrap()
        .with_bearer_token("siem-token-1".to_owned()),
    )
}

async fn wait_for(received: &Mutex<Received>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while received.lock().unwrap().accepted.len() < n {
        assert!(
            Instant::now() < deadline,
            "receiver has {:?}",
            received.lock().unwrap().accepted
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn receiver_stopped_and_restarted_mid_stream_gets_every_record_once_in_order() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Received::default()));
    let server = start(listener, vec![503], received.clone()).await;

    let log = Arc::new(MemoryAuditLog::new());
    let pump = Arc::new(SinkPump::new(
        sink(port),
        log.clone(),
        Arc::new(MemoryCursorStore::new()),
        DeliveryConfig::default()
            .with_batch_size(4)
            .with_retries(Duration::from_millis(20), Duration::from_millis(80), 3)
            .with_poll_interval(Duration::from_millis(50)),
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let pump = pump.clone();
        tokio::spawn(async move {
            pump.run(async {
                let _ = stopped.await;
            })
            .await
        })
    };

    for i in 0..10 {
        log.append(event(i)).await.unwrap();
        pump.wake();
    }
    wait_for(&received, 10).await;

    // The receiver goes away while records keep being written, for longer than
    // the pump's retries last.
    drop(server);
    for i in 10..22 {
        log.append(event(i)).await.unwrap();
        pump.wake();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(received.lock().unwrap().accepted.len(), 10);

    // Back on the same port.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let _server = start(listener, vec![], received.clone()).await;
    wait_for(&received, 22).await;
    for i in 22..25 {
        log.append(event(i)).await.unwrap();
        pump.wake();
    }
    wait_for(&received, 25).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    let received = received.lock().unwrap();
    assert_eq!(received.accepted, (0..25).collect::<Vec<_>>());
    let mut keys = received.keys.clone();
    keys.dedup();
    assert_eq!(
        keys.len(),
        received.keys.len(),
        "a batch was acknowledged twice: {keys:?}"
    );
    assert!(
        received.arrivals.iter().any(|(_, s)| *s == 503),
        "the 503 was not exercised"
    );
}

#[tokio::test]
async fn retry_after_of_a_429_is_honoured() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Received::default()));
    let _server = start(listener, vec![429], received.clone()).await;
    let log = Arc::new(MemoryAuditLog::new());
    for i in 0..3 {
        log.append(event(i)).await.unwrap();
    }
    let pump = SinkPump::new(
        sink(port),
        log,
        Arc::new(MemoryCursorStore::new()),
        DeliveryConfig::default().with_retries(
            Duration::from_millis(10),
            Duration::from_millis(20),
            3,
        ),
    );
    assert_eq!(pump.deliver_pending().await.unwrap(), 3);
    let received = received.lock().unwrap();
    assert_eq!(received.accepted, vec![0, 1, 2]);
    let [(throttled_at, 429), (retried_at, 200)] = received.arrivals[..] else {
        panic!(
            "arrivals: {:?}",
            received.arrivals.iter().map(|a| a.1).collect::<Vec<_>>()
        );
    };
    assert!(
        retried_at.duration_since(throttled_at) >= Duration::from_millis(950),
        "retried after {:?}, Retry-After said 1 s",
        retried_at.duration_since(throttled_at)
    );
}

#[tokio::test]
async fn a_rejection_stops_delivery_with_the_receivers_text_and_no_token() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Received::default()));
    let _server = start(listener, vec![400, 400], received.clone()).await;
    let log = Arc::new(MemoryAuditLog::new());
    log.append(event(0)).await.unwrap();
    let http = sink(port);
    assert!(!format!("{http:?}").contains("siem-token-1"));
    let pump = SinkPump::new(
        http,
        log,
        Arc::new(MemoryCursorStore::new()),
        DeliveryConfig::default(),
    );
    let err = pump.deliver_pending().await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            SiemError::Sink {
                error: SinkError::Rejected(_),
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("HTTP 400") && text.contains("bad"), "{text}");
    assert!(!text.contains("siem-token-1"), "{text}");
    assert_eq!(
        received.lock().unwrap().arrivals.len(),
        1,
        "a 400 must not be retried"
    );
}

#[test]
fn only_http_urls() {
    let err = HttpSink::new("x", "ftp://siem.example.com/in").unwrap_err();
    assert!(err.to_string().contains("http or https"), "{err}");
}

/// The audit stream carries HR data and the sink's bearer token: plain http is refused
/// anywhere but on loopback.
#[test]
fn plain_http_only_on_loopback() {
    let err = HttpSink::new("x", "http://siem.example.com/in").unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
    HttpSink::new("x", "https://siem.example.com/in?channel=1").unwrap();
    HttpSink::new("x", "http://127.0.0.1:8088/in").unwrap();
}

/// A redirect is not followed: the records and the token never reach a place the
/// configuration did not name, and the batch is not counted as delivered.
#[tokio::test]
async fn a_redirect_is_not_followed() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = MockServer::builder().listener(listener).start().await;
    Mock::given(method("POST"))
        .and(path("/siem/events"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/siem/events", elsewhere.uri())),
        )
        .mount(&server)
        .await;
    let log = Arc::new(MemoryAuditLog::new());
    log.append(event(0)).await.unwrap();
    let cursors = Arc::new(MemoryCursorStore::new());
    let pump = SinkPump::new(sink(port), log, cursors, DeliveryConfig::default());
    let err = pump.deliver_pending().await.unwrap_err();
    assert!(err.to_string().contains("307"), "{err}");
    elsewhere.verify().await;
}
