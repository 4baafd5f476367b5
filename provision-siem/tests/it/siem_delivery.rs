//! SIEM streaming: JSON lines, RFC 5424 syslog over TCP against a
//! receiver that is stopped and restarted mid-stream, and the pump's cursor.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use provision_core::audit::{AuditEvent, AuditLog, AuditOutcome, MemoryAuditLog};
use provision_core::model::{IdentityId, OperationId, Reason, ReasonKind, RunId, SystemName};
use provision_siem::{
    AuditFeed, CursorStore, DeliveryConfig, JsonLinesSink, MemoryCursorStore, ScanFeed, SiemError,
    SiemEvent, SiemExporter, SiemSink, SinkCursor, SinkError, SinkPump, SyslogTcpSink,
    WakingAuditLog, format_rfc5424, frame_octet_counted,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        at: Utc.timestamp_opt(1_790_000_000 + i as i64, 0).unwrap(),
        run: RunId("run-1".into()),
        actor: "hr-sync".into(),
        identity: IdentityId(format!("e{}", 1000 + i)),
        system: SystemName::new("okta"),
        operation: OperationId(format!("e{}/okta/suspend", 1000 + i)),
        action: "suspend_account".into(),
        entitlement: None,
        outcome: if i == 3 {
            AuditOutcome::Failed {
                class: "permanent".into(),
                error: "HTTP 403 \"E0000006\"] denied".into(),
            }
        } else {
            AuditOutcome::Changed
        },
        reason: Reason {
            kind: ReasonKind::Termination,
            policies: vec![],
            event: Some(format!("hr-{i}")),
            detail: "terminated in HR".into(),
            valid_until: None,
        },
        note: None,
    }
}

async fn log_with(n: u64) -> Arc<MemoryAuditLog> {
    let log = Arc::new(MemoryAuditLog::new());
    for i in 0..n {
        log.append(event(i)).await.unwrap();
    }
    log
}

fn fast() -> DeliveryConfig {
    DeliveryConfig::default()
        .with_batch_size(4)
        .with_retries(Duration::from_millis(20), Duration::from_millis(100), 50)
        .with_poll_interval(Duration::from_millis(50))
}

#[tokio::test]
async fn json_lines_file_gets_each_record_once_across_restarts_of_the_exporter() {
    let dir = tempdir();
    let path = dir.join("siem.jsonl");
    let log = log_with(10).await;
    let cursors = Arc::new(MemoryCursorStore::new());
    let pump = |log: Arc<MemoryAuditLog>| {
        SinkPump::new(
            Arc::new(JsonLinesSink::file("file", &path).unwrap()),
            log,
            cursors.clone(),
            fast(),
        )
    };
    assert_eq!(pump(log.clone()).deliver_pending().await.unwrap(), 10);
    // A new exporter (a restart) with the same cursor store sends only what is new.
    for i in 10..13 {
        log.append(event(i)).await.unwrap();
    }
    assert_eq!(pump(log.clone()).deliver_pending().await.unwrap(), 3);
    assert_eq!(pump(log.clone()).deliver_pending().await.unwrap(), 0);

    let text = std::fs::read_to_string(&path).unwrap();
    let seqs: Vec<u64> = text
        .lines()
        .map(|line| {
            let event: SiemEvent = serde_json::from_str(line).unwrap();
            event.seq().unwrap()
        })
        .collect();
    assert_eq!(seqs, (0..13).collect::<Vec<_>>());
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "audit");
    assert_eq!(first["record"]["event"]["action"], "suspend_account");
    assert_eq!(
        cursors.load("file").await.unwrap().unwrap().hash,
        log.snapshot().unwrap()[12].hash
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rfc5424_message_fields_and_octet_counting() {
    let mut head = provision_core::audit::ChainHead::genesis();
    for i in 0..3 {
        head.seal(event(i)).unwrap();
    }
    let record = head.seal(event(3)).unwrap();
    let message = format_rfc5424(
        &SiemEvent::Audit { record },
        10,
        "idp-sync-01",
        "provision@32473",
    )
    .unwrap();
    // authpriv (10) * 8 + warning (4): the change failed.
    assert!(message.starts_with("<84>1 2026-09-21T"), "{message}");
    let fields: Vec<&str> = message.splitn(7, ' ').collect();
    assert_eq!(fields[2], "idp-sync-01");
    assert_eq!(fields[3], "provision");
    assert_eq!(fields[4], std::process::id().to_string());
    assert_eq!(fields[5], "audit.suspend_account");
    assert!(
        fields[6].starts_with(
            "[provision@32473 seq=\"3\" system=\"okta\" identity=\"e1003\"] \u{feff}{"
        ),
        "{}",
        fields[6]
    );
    let json = fields[6].split('\u{feff}').nth(1).unwrap();
    let parsed: SiemEvent = serde_json::from_str(json).unwrap();
    assert_eq!(parsed.seq(), Some(3));

    let framed = frame_octet_counted("<14>1 - - - - - - h\u{e9}");
    // 20 characters, 21 octets ("é" is two bytes): the count is in octets.
    assert_eq!(framed, "21 <14>1 - - - - - - h\u{e9}");
}

/// A syslog receiver on 127.0.0.1: parses octet-counted frames and reports the seq
/// in each message's structured data.
struct Receiver {
    task: tokio::task::JoinHandle<()>,
}

async fn start_receiver(port: u16, seqs: mpsc::UnboundedSender<u64>) -> (Receiver, u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let seqs = seqs.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    while let Some(space) = buf.iter().position(|b| *b == b' ') {
                        let len: usize =
                            std::str::from_utf8(&buf[..space]).unwrap().parse().unwrap();
                        if buf.len() < space + 1 + len {
                            break;
                        }
                        let msg =
                            String::from_utf8(buf[space + 1..space + 1 + len].to_vec()).unwrap();
                        buf.drain(..space + 1 + len);
                        assert!(msg.starts_with("<"), "frame boundary lost: {msg}");
                        let seq = msg
                            .split("seq=\"")
                            .nth(1)
                            .unwrap()
                            .split('"')
                            .next()
                            .unwrap();
                        let _ = seqs.send(seq.parse().unwrap());
                    }
                }
            });
        }
    });
    (Receiver { task }, port)
}

impl Receiver {
    /// Stops listening and drops every connection.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn collect(rx: &mut mpsc::UnboundedReceiver<u64>, n: usize, into: &mut Vec<u64>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while into.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(seq)) => into.push(seq),
            _ => panic!("receiver got {} of {n} messages: {into:?}", into.len()),
        }
    }
}

#[tokio::test]
async fn syslog_receiver_stopped_and_restarted_mid_stream_gets_every_record_once_in_order() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (receiver, port) = start_receiver(0, tx.clone()).await;
    let log = log_with(6).await;
    let pump = SinkPump::new(
        Arc::new(SyslogTcpSink::new("syslog", format!("127.0.0.1:{port}"))),
        log.clone(),
        Arc::new(MemoryCursorStore::new()),
        fast(),
    );
    let mut got = Vec::new();
    assert_eq!(pump.deliver_pending().await.unwrap(), 6);
    collect(&mut rx, 6, &mut got).await;

    receiver.stop().await;
    // Give the connection's close time to reach the sink's socket.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 6..15 {
        log.append(event(i)).await.unwrap();
    }
    // The receiver comes back 400 ms later on the same port; until then every
    // attempt is refused and retried.
    let restart = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        start_receiver(port, tx).await.0
    });
    assert_eq!(pump.deliver_pending().await.unwrap(), 9);
    let _receiver = restart.await.unwrap();
    collect(&mut rx, 15, &mut got).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err(), "a record arrived twice");
    assert_eq!(got, (0..15).collect::<Vec<_>>());
}

/// A sink that fails on the attempts it is told to, and records what it accepted.
#[derive(Default)]
struct FlakySink {
    attempts: AtomicUsize,
    fail_on: Vec<usize>,
    reject: bool,
    accepted: Mutex<Vec<u64>>,
}

#[async_trait]
impl SiemSink for FlakySink {
    fn name(&self) -> &str {
        "flaky"
    }
    async fn deliver(&self, events: &[SiemEvent]) -> Result<(), SinkError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.reject {
            return Err(SinkError::Rejected("HTTP 400 bad batch".into()));
        }
        if self.fail_on.contains(&attempt) {
            return Err(SinkError::Unavailable(format!(
                "HTTP 503 (attempt {attempt})"
            )));
        }
        self.accepted
            .lock()
            .unwrap()
            .extend(events.iter().filter_map(SiemEvent::seq));
        Ok(())
    }
}

#[tokio::test]
async fn rejection_is_not_retried_and_leaves_the_cursor() {
    let log = log_with(3).await;
    let cursors = Arc::new(MemoryCursorStore::new());
    let sink = Arc::new(FlakySink {
        reject: true,
        ..FlakySink::default()
    });
    let pump = SinkPump::new(sink.clone(), log, cursors.clone(), fast());
    let err = pump.deliver_pending().await.unwrap_err();
    assert!(
        matches!(&err, SiemError::Sink { sink, error: SinkError::Rejected(m) } if sink == "flaky" && m.contains("400")),
        "{err}"
    );
    assert_eq!(sink.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(cursors.load("flaky").await.unwrap(), None);
}

#[tokio::test]
async fn retries_give_up_after_max_retries_and_the_next_call_resumes() {
    let log = log_with(5).await;
    let sink = Arc::new(FlakySink {
        fail_on: (1..=3).collect(),
        ..FlakySink::default()
    });
    let config = fast().with_retries(Duration::from_millis(1), Duration::from_millis(2), 2);
    let pump = SinkPump::new(
        sink.clone(),
        log,
        Arc::new(MemoryCursorStore::new()),
        config,
    );
    // Batch 0..=3 goes through, then 3 failures for batch 4 exceed 2 retries.
    let err = pump.deliver_pending().await.unwrap_err();
    assert!(
        matches!(
            err,
            SiemError::Sink {
                error: SinkError::Unavailable(_),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(*sink.accepted.lock().unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(pump.deliver_pending().await.unwrap(), 1);
    assert_eq!(*sink.accepted.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

/// A feed whose record at some seq was rewritten after delivery.
struct Rewritten(Arc<MemoryAuditLog>);

#[async_trait]
impl AuditFeed for Rewritten {
    async fn records_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<provision_core::audit::AuditRecord>, provision_core::audit::AuditError> {
        let mut records = self.0.records_after(after, limit).await?;
        for r in &mut records {
            if r.seq == 2 {
                r.hash = "f".repeat(64);
            }
        }
        Ok(records)
    }
}

#[tokio::test]
async fn a_cursor_that_no_longer_matches_the_log_stops_delivery() {
    let log = log_with(3).await;
    let cursors = Arc::new(MemoryCursorStore::new());
    let sink = Arc::new(FlakySink::default());
    SinkPump::new(sink.clone(), log.clone(), cursors.clone(), fast())
        .deliver_pending()
        .await
        .unwrap();
    let pump = SinkPump::new(sink, Arc::new(Rewritten(log)), cursors, fast());
    let err = pump.deliver_pending().await.unwrap_err();
    assert!(
        matches!(&err, SiemError::CursorMismatch { cursor, .. } if cursor.seq == 2),
        "{err}"
    );
    assert!(err.to_string().contains("rewritten"), "{err}");
}

/// A feed that serves record 5 with an edited event (its hash left as it was).
struct Altered(Arc<MemoryAuditLog>);

#[async_trait]
impl AuditFeed for Altered {
    async fn records_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<provision_core::audit::AuditRecord>, provision_core::audit::AuditError> {
        let mut records = self.0.records_after(after, limit).await?;
        for r in &mut records {
            if r.seq == 5 {
                r.event.actor = "someone-else".into();
            }
        }
        Ok(records)
    }
}

#[tokio::test]
async fn an_altered_record_is_not_sent_and_the_error_names_it() {
    let log = log_with(8).await;
    let sink = Arc::new(FlakySink::default());
    let pump = SinkPump::new(
        sink.clone(),
        Arc::new(Altered(log)),
        Arc::new(MemoryCursorStore::new()),
        fast(),
    );
    let err = pump.deliver_pending().await.unwrap_err();
    assert!(matches!(&err, SiemError::Chain(c) if c.seq() == 5), "{err}");
    // The first batch (0..=3) went out; the batch holding seq 5 did not.
    assert_eq!(*sink.accepted.lock().unwrap(), vec![0, 1, 2, 3]);
}

#[tokio::test]
async fn any_audit_log_reads_forward_from_a_seq() {
    let log = MemoryAuditLog::new();
    for i in 0..6 {
        log.append(event(i)).await.unwrap();
    }
    let feed = ScanFeed(log);
    let seqs = |records: Vec<provision_core::audit::AuditRecord>| {
        records.iter().map(|r| r.seq).collect::<Vec<_>>()
    };
    assert_eq!(seqs(feed.records_after(None, 2).await.unwrap()), [0, 1]);
    assert_eq!(seqs(feed.records_after(Some(2), 2).await.unwrap()), [3, 4]);
    assert_eq!(seqs(feed.records_after(Some(4), 10).await.unwrap()), [5]);
    assert!(feed.records_after(Some(5), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn cursors_never_move_backwards_and_sinks_need_distinct_names() {
    let cursors = MemoryCursorStore::new();
    let at = |seq| SinkCursor {
        seq,
        hash: format!("{seq:064}"),
    };
    cursors.save("a", &at(5)).await.unwrap();
    cursors.save("a", &at(3)).await.unwrap();
    assert_eq!(cursors.load("a").await.unwrap(), Some(at(5)));

    let log = log_with(1).await;
    let sinks: Vec<Arc<dyn SiemSink>> = vec![
        Arc::new(FlakySink::default()),
        Arc::new(FlakySink::default()),
    ];
    let err =
        SiemExporter::new(log, Arc::new(MemoryCursorStore::new()), sinks, fast()).unwrap_err();
    assert!(err.to_string().contains("flaky"), "{err}");
}

#[tokio::test]
async fn run_loop_streams_records_as_they_are_written() {
    let log = log_with(2).await;
    let sink = Arc::new(FlakySink::default());
    let pump = Arc::new(SinkPump::new(
        sink.clone(),
        log.clone(),
        Arc::new(MemoryCursorStore::new()),
        fast().with_poll_interval(Duration::from_secs(3600)),
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
    for i in 2..7 {
        log.append(event(i)).await.unwrap();
        pump.wake();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sink.accepted.lock().unwrap().len() < 7 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert_eq!(*sink.accepted.lock().unwrap(), (0..7).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_waking_audit_log_streams_each_record_as_it_is_written() {
    let log = Arc::new(MemoryAuditLog::new());
    let sink = Arc::new(FlakySink::default());
    let exporter = SiemExporter::new(
        log.clone(),
        Arc::new(MemoryCursorStore::new()),
        vec![sink.clone()],
        fast().with_poll_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let audit = WakingAuditLog::new(log.clone(), exporter.waker());
    let exporter = Arc::new(exporter);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = {
        let exporter = exporter.clone();
        tokio::spawn(async move {
            exporter
                .run(|| {
                    let mut stopped = stopped.clone();
                    async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    }
                })
                .await
        })
    };
    for i in 0..5u64 {
        audit.append(event(i)).await.unwrap();
        // Polling is hourly: only the wake-up can deliver it this soon.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while sink.accepted.lock().unwrap().len() < i as usize + 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "record {i} was not streamed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    stop.send(true).unwrap();
    running.await.unwrap().unwrap();
    assert_eq!(*sink.accepted.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    assert_eq!(audit.records().await.unwrap().len(), 5);
}

/// A writer into shared memory (what a pipe or stdout would get).
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn drift_findings_go_to_every_sink() {
    let finding: provision_core::drift::Finding = serde_json::from_value(serde_json::json!({
        "class": "orphaned", "severity": "critical", "identity": "e1001", "holder": "terminated",
        "login": "tom@example.com", "system": "okta", "subject": "account",
        "external_id": "00u1tom", "state": "active",
        "evidence": {"system": "okta", "observed": "account 00u1tom state=active",
                     "expected": "suspended: terminated in HR"}
    }))
    .unwrap();
    let out = Shared::default();
    let recorded = Arc::new(FlakySink::default());
    let exporter = SiemExporter::new(
        log_with(0).await,
        Arc::new(MemoryCursorStore::new()),
        vec![
            Arc::new(JsonLinesSink::writer("stdout-like", Box::new(out.clone()))),
            recorded.clone(),
        ],
        fast(),
    )
    .unwrap();
    let at = Utc.timestamp_opt(1_790_000_100, 0).unwrap();
    let results = exporter
        .publish_findings(at, std::slice::from_ref(&finding))
        .await;
    assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(line["type"], "drift_finding");
    assert_eq!(line["finding"]["login"], "tom@example.com");
    assert_eq!(line["finding"]["class"], "orphaned");
    assert_eq!(recorded.attempts.load(Ordering::SeqCst), 1);

    // As syslog: a critical finding is a warning, its MSGID the class.
    let message = format_rfc5424(
        &SiemEvent::DriftFinding { at, finding },
        10,
        "-",
        "provision@32473",
    )
    .unwrap();
    assert!(message.starts_with("<84>1 "), "{message}");
    assert!(
        message.contains(" drift.orphaned [provision@32473 system=\"okta\" identity=\"e1001\"] "),
        "{message}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Whatever attempts fail, and however often delivery is restarted, the sink
    /// ends with every record exactly once, in order.
    #[test]
    fn every_record_once_in_order_whatever_fails(
        n in 0u64..40,
        batch in 1usize..7,
        fail_on in proptest::collection::vec(0usize..60, 0..25),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let log = log_with(n).await;
            let sink = Arc::new(FlakySink { fail_on, ..FlakySink::default() });
            let config = DeliveryConfig::default()
                .with_batch_size(batch)
                .with_retries(Duration::from_micros(1), Duration::from_micros(10), 1);
            let cursors = Arc::new(MemoryCursorStore::new());
            for _ in 0..200 {
                let pump = SinkPump::new(sink.clone(), log.clone(), cursors.clone(), config.clone());
                if pump.deliver_pending().await.is_ok() {
                    break;
                }
            }
            prop_assert_eq!(sink.accepted.lock().unwrap().clone(), (0..n).collect::<Vec<_>>());
            Ok(())
        })?;
    }
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provision-siem-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
