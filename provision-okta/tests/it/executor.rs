//! The Okta adapter driven by the executor (`provision_core::executor`): what a user
//! sees when a run meets Okta's 429s, 5xx, timeouts and refusals, and that a leaver's
//! sessions are cleared before the account is suspended. Every request the mock
//! received is checked against the trimmed Okta spec.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use provision_core::adapter::AdapterError;
use provision_core::config::SystemConfig;
use provision_core::executor::{
    ChannelSubscriber, ExecutionEvent, ExecutionReport, Executor, ExternalIds, OperationOutcome,
    RetryConfig,
};
use provision_core::journal::RunId;
use provision_core::model::{
    Dependency, Entitlement, IdentityId, Operation, OperationKind, Plan, Priority, SystemName,
};
use provision_okta::OktaAdapter;
use provision_testkit::conformance;
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use wiremock::matchers::{any, method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use support::{FakeOkta, adapter, approved, assert_conform, config};

/// One request as the mock saw it: `METHOD path` and when it arrived (wall clock).
#[derive(Debug, Clone)]
struct Hit {
    line: String,
    at: DateTime<Utc>,
}

type HitLog = Arc<Mutex<Vec<Hit>>>;

/// Wraps a responder: records every request with its arrival time, and optionally
/// holds the answer back (the server did the work, the answer is late).
struct Timed<R> {
    log: HitLog,
    inner: R,
    delay: Option<Duration>,
}

impl<R: Respond> Respond for Timed<R> {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.log.lock().unwrap().push(Hit {
            line: format!("{} {}", req.method, req.url.path()),
            at: Utc::now(),
        });
        let answer = self.inner.respond(req);
        match self.delay {
            Some(d) => answer.set_delay(d),
            None => answer,
        }
    }
}

fn timed<R: Respond>(log: &HitLog, inner: R) -> Timed<R> {
    Timed {
        log: log.clone(),
        inner,
        delay: None,
    }
}

fn late<R: Respond>(log: &HitLog, inner: R, delay: Duration) -> Timed<R> {
    Timed {
        log: log.clone(),
        inner,
        delay: Some(delay),
    }
}

/// A mock server with the stateful fake as the fallback, every request timed.
async fn start(fake: &FakeOkta) -> (MockServer, HitLog) {
    let server = MockServer::start().await;
    *fake.base.lock().unwrap() = server.uri();
    let log: HitLog = Arc::default();
    Mock::given(any())
        .respond_with(timed(&log, fake.clone()))
        .with_priority(10)
        .mount(&server)
        .await;
    (server, log)
}

fn hits(log: &HitLog) -> Vec<Hit> {
    log.lock().unwrap().clone()
}

fn count(log: &HitLog, method: &str, path_suffix: &str) -> usize {
    hits(log)
        .iter()
        .filter(|h| h.line.starts_with(method) && h.line.ends_with(path_suffix))
        .count()
}

/// Short, deterministic backoff so the tests run in well under a second each.
fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        jitter: false,
        max_total_time: Duration::from_secs(30),
        ..RetryConfig::default()
    }
}

fn executor(
    okta: OktaAdapter,
    concurrency: Option<usize>,
) -> (Executor, UnboundedReceiver<ExecutionEvent>) {
    let (subscriber, events) = ChannelSubscriber::new();
    let mut system = SystemConfig::new("okta");
    system.concurrency = concurrency;
    let executor = Executor::builder()
        .system("okta", Arc::new(okta), system)
        .retry(fast_retry())
        .subscriber(Arc::new(subscriber))
        .actor("executor-test")
        .build()
        .unwrap();
    (executor, events)
}

fn drain(events: &mut UnboundedReceiver<ExecutionEvent>) -> Vec<ExecutionEvent> {
    let mut out = Vec::new();
    while let Ok(e) = events.try_recv() {
        out.push(e);
    }
    out
}

fn op(okta: &OktaAdapter, login: &str, kind: OperationKind, priority: Priority) -> Operation {
    let mut op = conformance::operation(okta, login, kind);
    op.priority = priority;
    op
}

fn grant() -> OperationKind {
    OperationKind::Grant {
        entitlement: Entitlement::new("okta", "group", "engineering"),
    }
}

/// Account ids as a run seeds them from what it read.
fn ids(users: &[(&str, &str)]) -> ExternalIds {
    let mut ids = ExternalIds::new();
    for (login, id) in users {
        ids.insert(
            IdentityId::new(*login),
            SystemName::new("okta"),
            (*id).to_owned(),
        );
    }
    ids
}

async fn run(executor: &Executor, plan: &Plan, ids: ExternalIds) -> ExecutionReport {
    executor
        .apply_with_ids(&RunId("run-1".into()), &approved(plan), ids)
        .await
        .unwrap()
}

fn okta_error(status: u16, code: &str, summary: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "errorCode": code, "errorSummary": summary, "errorLink": code,
        "errorId": "oae-test", "errorCauses": []
    }))
}

fn is_member(fake: &FakeOkta, uid: &str) -> bool {
    let s = fake.state.lock().unwrap();
    let gid = s
        .groups
        .iter()
        .find(|(_, n, _)| n == "engineering")
        .unwrap()
        .0
        .clone();
    s.members.contains(&(gid, uid.to_owned()))
}

#[tokio::test]
async fn a_429_pauses_okta_until_the_reset_time_and_nothing_is_sent_meanwhile() {
    let fake = FakeOkta::new(200);
    let logins = ["ada@example.com", "bob@example.com", "cy@example.com"];
    let uids: Vec<String> = logins
        .iter()
        .map(|l| fake.add_user(l, l, "ACTIVE"))
        .collect();
    fake.add_group("engineering", "OKTA_GROUP");
    let (server, log) = start(&fake).await;

    // Okta's reset is in epoch seconds; the Date header says "now" to the second.
    let now = Utc::now();
    let date = Utc.timestamp_opt(now.timestamp(), 0).unwrap();
    let reset = date + chrono::Duration::seconds(2);
    let limited = okta_error(
        429,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    )
    .insert_header(
        "date",
        httpdate::fmt_http_date(std::time::SystemTime::from(date)).as_str(),
    )
    .insert_header("x-rate-limit-limit", "600")
    .insert_header("x-rate-limit-remaining", "0")
    .insert_header("x-rate-limit-reset", reset.timestamp().to_string().as_str());
    Mock::given(method("PUT"))
        .and(path_regex("^/api/v1/groups/[^/]+/users/[^/]+$"))
        .respond_with(timed(&log, limited))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;

    let okta = adapter(&server);
    let plan = Plan {
        operations: logins
            .iter()
            .map(|l| op(&okta, l, grant(), Priority::Normal))
            .collect(),
        dependencies: vec![],
    };
    // One request at a time, so the throttled system must also hold back the others.
    let (executor, mut events) = executor(okta, Some(1));
    let pairs: Vec<(&str, &str)> = logins
        .iter()
        .copied()
        .zip(uids.iter().map(String::as_str))
        .collect();
    let report = run(&executor, &plan, ids(&pairs)).await;

    assert!(report.is_complete(), "{report}");
    assert_eq!(report.totals.succeeded, 3, "{report}");
    assert_eq!(
        report.totals.attempts, 4,
        "one 429 and three accepted writes"
    );
    for uid in &uids {
        assert!(is_member(&fake, uid), "{uid} is in the group");
    }

    let hits = hits(&log);
    let first_429 = hits.iter().position(|h| h.line.starts_with("PUT")).unwrap();
    let after: Vec<&Hit> = hits[first_429 + 1..].iter().collect();
    assert!(!after.is_empty());
    for h in &after {
        assert!(
            h.at >= reset,
            "{} reached Okta at {} before the reset {reset}",
            h.line,
            h.at
        );
    }
    // ...and the run did not sleep far past it either.
    assert!(
        after[0].at < reset + chrono::Duration::milliseconds(2000),
        "first request after the pause at {}, reset {reset}",
        after[0].at
    );
    assert_eq!(count(&log, "PUT", ""), 4);

    let events = drain(&mut events);
    let throttled: Vec<DateTime<Utc>> = events
        .iter()
        .filter_map(|e| match e {
            ExecutionEvent::SystemThrottled { system, until, .. } if system.as_str() == "okta" => {
                Some(*until)
            }
            _ => None,
        })
        .collect();
    assert_eq!(throttled.len(), 1, "{events:?}");
    assert!(throttled[0] >= reset, "paused until {}", throttled[0]);
    assert_conform(&server).await;
}

/// A 429 from an Okta whose clock is `skew_secs` off ours: the reset is 2 s after the
/// reply's `Date`, so the executor must pause about 2 s (`reset − Date`), not 0 s and
/// not 2 s ± 5 minutes.
async fn a_429_from_a_skewed_okta_pauses_reset_minus_date(skew_secs: i64) {
    let fake = FakeOkta::new(200);
    let login = "ada@example.com";
    let uid = fake.add_user(login, login, "ACTIVE");
    fake.add_group("engineering", "OKTA_GROUP");
    let (server, log) = start(&fake).await;

    let server_now = Utc::now() + chrono::Duration::seconds(skew_secs);
    let date = Utc.timestamp_opt(server_now.timestamp(), 0).unwrap();
    let reset = date + chrono::Duration::seconds(2);
    let limited = okta_error(
        429,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    )
    .insert_header(
        "date",
        httpdate::fmt_http_date(std::time::SystemTime::from(date)).as_str(),
    )
    .insert_header("x-rate-limit-limit", "600")
    .insert_header("x-rate-limit-remaining", "0")
    .insert_header("x-rate-limit-reset", reset.timestamp().to_string().as_str());
    Mock::given(method("PUT"))
        .and(path_regex("^/api/v1/groups/[^/]+/users/[^/]+$"))
        .respond_with(timed(&log, limited))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;

    let okta = adapter(&server);
    let plan = Plan {
        operations: vec![op(&okta, login, grant(), Priority::Normal)],
        dependencies: vec![],
    };
    let (executor, _events) = executor(okta, Some(1));
    // Bounded: a pause of minutes fails here instead of hanging the suite.
    let report = tokio::time::timeout(
        Duration::from_secs(30),
        run(&executor, &plan, ids(&[(login, uid.as_str())])),
    )
    .await
    .expect("the run paused for minutes: the skew was not corrected");
    assert!(report.is_complete(), "{report}");
    assert!(is_member(&fake, &uid));

    let puts: Vec<Hit> = hits(&log)
        .into_iter()
        .filter(|h| h.line.starts_with("PUT"))
        .collect();
    assert_eq!(puts.len(), 2, "one 429, then the accepted write");
    // `Date` has one-second resolution: the wait on our clock is between 1 s and ~3 s.
    let waited = puts[1].at - puts[0].at;
    assert!(
        waited >= chrono::Duration::milliseconds(1000),
        "sent again after {waited} (server clock {skew_secs:+} s): before the reset"
    );
    assert!(
        waited < chrono::Duration::milliseconds(4500),
        "sent again after {waited} (server clock {skew_secs:+} s): over-waited"
    );
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_429_from_an_okta_five_minutes_ahead_waits_reset_minus_date() {
    a_429_from_a_skewed_okta_pauses_reset_minus_date(300).await;
}

#[tokio::test]
async fn a_429_from_an_okta_five_minutes_behind_waits_reset_minus_date() {
    a_429_from_a_skewed_okta_pauses_reset_minus_date(-300).await;
}

#[tokio::test]
async fn server_errors_are_retried_by_the_executor_until_okta_accepts() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    fake.add_group("engineering", "OKTA_GROUP");
    let (server, log) = start(&fake).await;
    Mock::given(method("PUT"))
        .and(path_regex(PUT_MEMBER))
        .respond_with(timed(
            &log,
            okta_error(500, "E0000009", "Internal Server Error"),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(PUT_MEMBER))
        .respond_with(timed(&log, ResponseTemplate::new(503)))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;

    let okta = adapter(&server);
    let grant_op = op(&okta, "ada@example.com", grant(), Priority::Normal);
    let plan = Plan {
        operations: vec![grant_op.clone()],
        dependencies: vec![],
    };
    let (executor, mut events) = executor(okta, None);
    let report = run(&executor, &plan, ids(&[("ada@example.com", &uid)])).await;

    let r = report.operation(&grant_op.id).unwrap();
    assert_eq!(r.outcome, OperationOutcome::Succeeded, "{report}");
    assert_eq!(r.attempts, 3, "500, 503, then accepted");
    assert_eq!(count(&log, "PUT", ""), 3);
    assert!(is_member(&fake, &uid));
    // A 5xx on a write may have taken effect: the executor looked before re-sending.
    assert!(r.checks >= 1, "{r:?}");
    let retried: Vec<Option<String>> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            ExecutionEvent::Retrying { error, .. } => Some(error.system_error()?.code.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(retried, vec![Some("E0000009".to_owned()), None]);
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_timed_out_write_that_did_not_land_is_sent_again() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    fake.add_group("engineering", "OKTA_GROUP");
    let (server, log) = start(&fake).await;
    // The first PUT hangs past the client timeout and changes nothing.
    Mock::given(method("PUT"))
        .respond_with(late(
            &log,
            ResponseTemplate::new(204),
            Duration::from_millis(700),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let okta = OktaAdapter::new(
        config(&server)
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    )
    .unwrap();
    let grant_op = op(&okta, "ada@example.com", grant(), Priority::Normal);
    let plan = Plan {
        operations: vec![grant_op.clone()],
        dependencies: vec![],
    };
    let (executor, _events) = executor(okta, None);
    let report = run(&executor, &plan, ids(&[("ada@example.com", &uid)])).await;

    let r = report.operation(&grant_op.id).unwrap();
    assert_eq!(r.outcome, OperationOutcome::Succeeded, "{report}");
    assert_eq!(r.attempts, 2, "timed out, then sent again");
    assert!(r.checks >= 1, "membership was checked before re-sending");
    assert_eq!(count(&log, "PUT", ""), 2);
    assert!(
        count(&log, "GET", "/groups") >= 1,
        "the check read the user's groups"
    );
    assert!(is_member(&fake, &uid));
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_timed_out_write_that_landed_is_confirmed_not_repeated() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    fake.add_group("engineering", "OKTA_GROUP");
    let (server, log) = start(&fake).await;
    // Okta adds the member, but its answer arrives after the client gave up.
    Mock::given(method("PUT"))
        .respond_with(late(&log, fake.clone(), Duration::from_millis(700)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let okta = OktaAdapter::new(
        config(&server)
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    )
    .unwrap();
    let grant_op = op(&okta, "ada@example.com", grant(), Priority::Normal);
    let plan = Plan {
        operations: vec![grant_op.clone()],
        dependencies: vec![],
    };
    let (executor, _events) = executor(okta, None);
    let report = run(&executor, &plan, ids(&[("ada@example.com", &uid)])).await;

    let r = report.operation(&grant_op.id).unwrap();
    assert!(r.outcome.is_success(), "{report}");
    assert_eq!(r.attempts, 1, "the check found it done: no second PUT");
    assert_eq!(count(&log, "PUT", ""), 1);
    assert!(is_member(&fake, &uid));
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_403_fails_after_one_request_with_oktas_code_and_message() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let (server, log) = start(&fake).await;
    Mock::given(method("POST"))
        .and(path_regex("/lifecycle/suspend$"))
        .respond_with(timed(
            &log,
            okta_error(
                403,
                "E0000006",
                "You do not have permission to perform the requested action",
            ),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    let okta = adapter(&server);
    let suspend = op(
        &okta,
        "ada@example.com",
        OperationKind::SuspendAccount,
        Priority::Leaver,
    );
    let plan = Plan {
        operations: vec![suspend.clone()],
        dependencies: vec![],
    };
    let (executor, mut events) = executor(okta, None);
    let report = run(&executor, &plan, ids(&[("ada@example.com", &uid)])).await;

    let r = report.operation(&suspend.id).unwrap();
    let OperationOutcome::Failed { error } = &r.outcome else {
        panic!("{report}")
    };
    assert!(
        matches!(error, AdapterError::Unauthorized { .. }),
        "{error:?}"
    );
    let e = error.system_error().unwrap();
    assert_eq!(e.status, Some(403));
    assert_eq!(e.code.as_deref(), Some("E0000006"));
    assert!(
        e.message
            .starts_with("You do not have permission to perform the requested action"),
        "Okta's own words first: {}",
        e.message
    );
    assert_eq!(r.attempts, 1);
    assert_eq!(count(&log, "POST", "/lifecycle/suspend"), 1, "not retried");
    assert_eq!(
        hits(&log).len(),
        3,
        "besides the one suspension, only the status read before it and once more after the refusal"
    );
    assert!(
        !drain(&mut events)
            .iter()
            .any(|e| matches!(e, ExecutionEvent::Retrying { .. }))
    );
    assert_eq!(fake.status_of(&uid).as_deref(), Some("ACTIVE"));
    let text = report.to_string();
    assert!(text.contains("E0000006"), "{text}");
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_login_taken_by_another_person_fails_after_one_create() {
    let fake = FakeOkta::new(200);
    // Same login, someone else's email.
    let other = fake.add_user("ada@example.com", "ada.byron@elsewhere.example", "ACTIVE");
    let (server, log) = start(&fake).await;
    let okta = adapter(&server);
    let create = op(
        &okta,
        "ada@example.com",
        OperationKind::CreateAccount {
            profile: conformance::profile("ada@example.com", "Ada Lovelace"),
        },
        Priority::Normal,
    );
    let then_grant = op(&okta, "ada@example.com", grant(), Priority::Normal);
    let plan = Plan {
        operations: vec![create.clone(), then_grant.clone()],
        dependencies: vec![Dependency {
            before: create.id.clone(),
            after: then_grant.id.clone(),
        }],
    };
    let (executor, _events) = executor(okta, None);
    let report = run(&executor, &plan, ExternalIds::new()).await;

    let r = report.operation(&create.id).unwrap();
    let OperationOutcome::Failed { error } = &r.outcome else {
        panic!("someone else's account must not be adopted:\n{report}")
    };
    let e = error.system_error().unwrap();
    assert_eq!(e.status, Some(400));
    assert_eq!(e.code.as_deref(), Some("E0000001"));
    assert!(
        e.message.contains("Api validation failed: login") && e.message.contains(&other),
        "{e:?}"
    );
    assert_eq!(r.attempts, 1);
    assert_eq!(
        count(&log, "POST", "/api/v1/users"),
        1,
        "one create, no retry"
    );
    assert_eq!(
        report.operation(&then_grant.id).unwrap().outcome,
        OperationOutcome::Skipped {
            because: create.id.clone()
        }
    );
    assert_eq!(
        count(&log, "PUT", ""),
        0,
        "nothing granted to the other user"
    );
    assert_eq!(fake.state.lock().unwrap().users.len(), 1);
    assert_conform(&server).await;
}

fn leaver_plan(okta: &OktaAdapter) -> (Plan, Operation, Operation) {
    let sessions = op(
        okta,
        "ada@example.com",
        OperationKind::RevokeSessions,
        Priority::Leaver,
    );
    let suspend = op(
        okta,
        "ada@example.com",
        OperationKind::SuspendAccount,
        Priority::Leaver,
    );
    // The suspension comes first in the list: only the edge orders them.
    let plan = Plan {
        operations: vec![suspend.clone(), sessions.clone()],
        dependencies: vec![Dependency {
            before: sessions.id.clone(),
            after: suspend.id.clone(),
        }],
    };
    (plan, sessions, suspend)
}

#[tokio::test]
async fn a_leavers_sessions_are_cleared_before_the_suspension() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let (server, log) = start(&fake).await;
    // A slow session clear: the suspension must still wait for its answer.
    Mock::given(method("DELETE"))
        .and(path_regex("/sessions$"))
        .respond_with(late(&log, fake.clone(), Duration::from_millis(300)))
        .with_priority(1)
        .mount(&server)
        .await;
    let okta = adapter(&server);
    let (plan, sessions, suspend) = leaver_plan(&okta);
    let (executor, _events) = executor(okta, None);
    let report = run(&executor, &plan, ids(&[("ada@example.com", &uid)])).await;

    assert!(report.is_complete(), "{report}");
    assert_eq!(
        report.operation(&sessions.id).unwrap().outcome,
        OperationOutcome::Succeeded
    );
    assert_eq!(
        report.operation(&suspend.id).unwrap().outcome,
        OperationOutcome::Succeeded
    );
    let hits = hits(&log);
    let lines: Vec<&str> = hits.iter().map(|h| h.line.as_str()).collect();
    assert_eq!(
        lines,
        vec![
            format!("DELETE /api/v1/users/{uid}/sessions"),
            format!("GET /api/v1/users/{uid}"),
            format!("POST /api/v1/users/{uid}/lifecycle/suspend"),
        ],
        "one call each (and the status read suspension needs), sessions first"
    );
    assert!(
        hits[1].at - hits[0].at >= chrono::Duration::milliseconds(300),
        "the suspension was sent only after the session clear was answered: {hits:?}"
    );
    assert_eq!(fake.status_of(&uid).as_deref(), Some("SUSPENDED"));
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_failed_session_clear_holds_back_the_suspension() {
    let fake = FakeOkta::new(200);
    let uid = fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let (server, log) = start(&fake).await;
    Mock::given(method("DELETE"))
        .and(path_regex("/sessions$"))
        .respond_with(timed(
            &log,
            okta_error(
                403,
                "E0000006",
                "You do not have permission to perform the requested action",
            ),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    let okta = adapter(&server);
    let (plan, sessions, suspend) = leaver_plan(&okta);
    let (executor, _events) = executor(okta, None);
    let report = run(&executor, &plan, ids(&[("ada@example.com", &uid)])).await;

    assert!(matches!(
        report.operation(&sessions.id).unwrap().outcome,
        OperationOutcome::Failed { .. }
    ));
    assert_eq!(
        report.operation(&suspend.id).unwrap().outcome,
        OperationOutcome::Skipped {
            because: sessions.id.clone()
        }
    );
    assert_eq!(count(&log, "POST", "/lifecycle/suspend"), 0);
    assert_eq!(fake.status_of(&uid).as_deref(), Some("ACTIVE"));
    assert_conform(&server).await;
}

const PUT_MEMBER: &str = "^/api/v1/groups/[^/]+/users/[^/]+$";
