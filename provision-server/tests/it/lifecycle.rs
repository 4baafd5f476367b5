//! The service end to end against six sandbox systems: a termination now, a dated
//! termination and a dated hire across restarts, a crash between storing an event
//! and applying it, a crash in the middle of applying it, pending work across a
//! restart, shutdown, health and metrics.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use chrono::Utc;
use provision_core::model::AccountState;
use provision_store::InboxState;
use support::{
    World, eventually, eventually_async, listener, login, post_signed, rfc3339_in, termination,
};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_termination_effective_now_ends_sessions_and_suspends_accounts_in_every_system() {
    let world = World::new(Duration::from_millis(5));
    let service = world.service("s").await;
    world.provision_everyone(&service).await;
    let running = service.clone().spawn_on(listener().await).unwrap();

    let (status, json) = post_signed(running.addr, &termination("evt-1", "e1", None)).await;
    assert_eq!(status, 202, "{json}");
    assert!(eventually(WAIT, || world.locked_out_everywhere(&login("ana"))).await);
    for system in support::SYSTEMS {
        let state = world.account(system, &login("ana"));
        // AWS cannot suspend: the user is deleted.
        assert!(
            matches!(
                state,
                Some(AccountState::Suspended | AccountState::Deprovisioned) | None
            ),
            "{system}: {state:?}"
        );
    }
    assert!(
        world.has_access_everywhere(&login("ben")),
        "nobody else touched"
    );
    assert!(world.has_access_everywhere(&login("cy")));
    // Okta ended the sessions before it suspended the account.
    let okta_log = world.systems["okta"].stats().log;
    let position = |id: &str| {
        okta_log
            .iter()
            .position(|entry| entry.operation.as_ref().is_some_and(|op| op.0 == id))
            .unwrap_or_else(|| panic!("{id} never reached okta"))
    };
    assert!(position("e1/okta/revoke_sessions") < position("e1/okta/suspend_account"));

    let metrics = reqwest::get(format!("http://{}/metrics", running.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "provision_termination_to_revocation_seconds_bucket{system=\"okta\"",
        "provision_termination_to_revocation_seconds_bucket{system=\"all\"",
        "provision_operations_total{system=\"okta\",outcome=\"succeeded\"}",
        "provision_inbox_queue_depth",
        "provision_provisioning_success_ratio",
        "provision_webhook_requests_total{source=\"workday\",answer=\"accepted\"}",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from\n{metrics}");
    }
    let health = reqwest::get(format!("http://{}/healthz", running.addr))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready: serde_json::Value = reqwest::get(format!("http://{}/readyz", running.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["systems"]["okta"], "ok");
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_termination_dated_in_the_future_fires_at_its_time_across_a_restart() {
    let world = World::new(Duration::ZERO);
    let first = world.service("s").await;
    world.provision_everyone(&first).await;
    let running = first.clone().spawn_on(listener().await).unwrap();
    let (effective, text) = rfc3339_in(3);
    let (status, json) = post_signed(running.addr, &termination("evt-2", "e2", Some(&text))).await;
    assert_eq!(status, 202);
    let seq = json["seq"].as_i64().unwrap();
    let store = first.store().clone();
    assert!(
        eventually_async(WAIT, || {
            let store = store.clone();
            async move {
                store
                    .inbox_get(seq)
                    .await
                    .unwrap()
                    .is_some_and(|r| r.state == InboxState::Scheduled)
            }
        })
        .await
    );
    assert!(
        world.has_access_everywhere(&login("ben")),
        "not before its time"
    );
    running.shutdown().await.unwrap();
    drop(first);

    // A new instance on the same store fires it.
    let second = world.service("s").await;
    let running = second.clone().spawn_on(listener().await).unwrap();
    assert!(eventually(WAIT, || world.locked_out_everywhere(&login("ben"))).await);
    assert!(
        Utc::now() >= effective,
        "fired no earlier than its effective time"
    );
    // The job is marked done after its run, which may be just after the lockout is
    // visible: a graceful shutdown lets the scheduler finish it first.
    running.shutdown().await.unwrap();
    assert!(
        second.store().schedule_open().await.unwrap().is_empty(),
        "fired once, done"
    );
    assert_eq!(world.resent(), 0);
}

#[tokio::test]
async fn a_dated_hire_gets_day_one_access_at_its_start_and_pending_gitlab_survives_a_restart() {
    let world = World::new(Duration::ZERO);
    let service = world.service("s").await;
    world.provision_everyone(&service).await;
    let running = service.clone().spawn_on(listener().await).unwrap();
    let (start, text) = rfc3339_in(2);
    let body = format!(
        r#"{{"event_id":"hire-1","type":"hire","start":"{text}","person":{{"id":"e9","email":"dee@company.com","display_name":"Dee","attributes":{{"department":"Engineering"}}}}}}"#
    );
    let (status, json) = post_signed(running.addr, &body).await;
    assert_eq!(status, 202, "{json}");
    let seq = json["seq"].as_i64().unwrap();
    let store = service.store().clone();
    assert!(
        eventually_async(WAIT, || {
            let store = store.clone();
            async move {
                store
                    .inbox_get(seq)
                    .await
                    .unwrap()
                    .is_some_and(|r| r.state == InboxState::Scheduled)
            }
        })
        .await
    );
    let row = store.inbox_get(seq).await.unwrap().unwrap();
    assert!(
        row.note
            .as_deref()
            .unwrap()
            .starts_with("day-one access prepared: 6 entitlements"),
        "{:?}",
        row.note
    );
    assert_eq!(
        world.account("okta", "dee@company.com"),
        None,
        "not granted early"
    );

    // Start comes: accounts everywhere; GitLab's appears on first login (pending).
    assert!(
        eventually(WAIT, || world.account("okta", "dee@company.com")
            == Some(AccountState::Active))
        .await
    );
    assert!(Utc::now() >= start);
    assert!(
        eventually(WAIT, || world.systems["gitlab"]
            .snapshot()
            .awaiting_login
            .contains("dee@company.com"))
        .await
    );
    // The pending re-check is in the store's schedule; the service stops before it.
    assert!(
        eventually_async(WAIT, || {
            let store = store.clone();
            async move {
                store
                    .schedule_open()
                    .await
                    .unwrap()
                    .iter()
                    .any(|j| j.key.starts_with("resume:"))
            }
        })
        .await
    );
    running.kill();
    drop(service);
    world.systems["gitlab"].sso_login("dee@company.com");

    let again = world.service("s").await;
    let running = again.clone().spawn_on(listener().await).unwrap();
    assert!(
        eventually(WAIT, || world.has_access_everywhere("dee@company.com")).await,
        "the GitLab grant waited for the account, across the restart"
    );
    assert_eq!(world.resent(), 0);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn killed_after_storing_an_event_and_before_applying_it_the_event_is_applied_once() {
    let world = World::new(Duration::ZERO);
    let service = world.service("s").await;
    world.provision_everyone(&service).await;
    // Stored, then the process dies before any worker ran.
    let router_only = service.clone();
    let body = termination("evt-3", "e3", None);
    let (signature, ts) = support::signed(&body, support::now_secs());
    let request = axum::http::Request::post("/webhooks/workday")
        .header("X-Workday-Signature", signature)
        .header("X-Provision-Timestamp", ts)
        .body(axum::body::Body::from(body.clone()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(router_only.router(), request)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    drop(router_only);
    drop(service);
    let effects_before = world.effects();
    assert!(world.has_access_everywhere(&login("cy")));

    let restarted = world.service("s").await;
    assert_eq!(restarted.work_once().await.unwrap(), 1);
    assert!(world.locked_out_everywhere(&login("cy")));
    let applied = world.effects() - effects_before;
    assert!(applied >= 6, "at least one change per system: {applied}");
    // Nothing left to do, nothing sent twice.
    assert_eq!(restarted.work_once().await.unwrap(), 0);
    assert_eq!(world.effects() - effects_before, applied);
    assert_eq!(world.resent(), 0);
}

#[tokio::test]
async fn killed_in_the_middle_of_applying_an_event_the_next_instance_finishes_it_once() {
    // Slow systems, so the kill lands while the run is in flight.
    let world = World::new(Duration::from_millis(150));
    let service = world.service("s").await;
    world.provision_everyone(&service).await;
    let running = service.clone().spawn_on(listener().await).unwrap();
    let before = world.effects();
    let (status, json) = post_signed(running.addr, &termination("evt-4", "e1", None)).await;
    assert_eq!(status, 202);
    let seq = json["seq"].as_i64().unwrap();
    // Wait for the first change to land, then die.
    assert!(eventually(WAIT, || world.effects() > before).await);
    running.kill();
    drop(service);
    let row = world_row(&world, seq).await;
    assert_eq!(row.state, InboxState::Received, "not finished");
    let run = row
        .run_id
        .clone()
        .expect("the run was recorded before anything was sent");
    assert!(
        !world.locked_out_everywhere(&login("ana")),
        "the kill came mid-run"
    );

    // The lease (2 s) runs out; a new instance resumes the same run.
    let next = world.service("s").await;
    let running = next.clone().spawn_on(listener().await).unwrap();
    assert!(eventually(WAIT, || world.locked_out_everywhere(&login("ana"))).await);
    let store = next.store().clone();
    assert!(
        eventually_async(WAIT, || {
            let store = store.clone();
            async move {
                store
                    .inbox_get(seq)
                    .await
                    .unwrap()
                    .is_some_and(|r| r.state == InboxState::Done)
            }
        })
        .await
    );
    let done = store.inbox_get(seq).await.unwrap().unwrap();
    assert_eq!(
        done.run_id.as_deref(),
        Some(run.as_str()),
        "the same run, resumed"
    );
    assert!(done.attempts >= 2);
    assert_eq!(world.resent(), 0, "no change reached a system twice");
    running.shutdown().await.unwrap();
}

async fn world_row(world: &World, seq: i64) -> provision_store::InboxItem {
    let store = provision_store::SqliteStore::open(world.path("s"))
        .await
        .unwrap();
    use provision_store::Inbox;
    let row = store.inbox_get(seq).await.unwrap().unwrap();
    store.close().await;
    row
}

#[tokio::test]
async fn after_shutdown_nothing_is_accepted() {
    let world = World::new(Duration::ZERO);
    let service = world.service("s").await;
    let running = service.clone().spawn_on(listener().await).unwrap();
    let addr = running.addr;
    let (status, _) = post_signed(addr, &termination("evt-5", "e404", None)).await;
    assert_eq!(status, 202);
    running.shutdown().await.unwrap();
    let refused = reqwest::Client::new()
        .post(format!("http://{addr}/webhooks/workday"))
        .body("{}")
        .send()
        .await;
    assert!(refused.is_err(), "the listener is closed");
}
