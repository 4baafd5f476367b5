//! Several instances of the service on one PostgreSQL database: the inbox is
//! consumed once across them, each dated job fires once, and when one instance dies
//! mid-event the other finishes it with nothing repeated and nothing lost.
//!
//! Runs only with the `postgres` feature and `PROVISION_TEST_POSTGRES_URL` (as the
//! store's PostgreSQL tests); without a server each test prints SKIPPED and passes,
//! unless `PROVISION_REQUIRE_POSTGRES=1`.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)]

use crate::support;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use provision_server::{Service, ServiceStore};
use provision_store::{Inbox, InboxState, PostgresStore};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};
use support::{
    World, eventually, eventually_async, listener, login, post_signed, rfc3339_in, termination,
};

const WAIT: Duration = Duration::from_secs(30);

fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("PROVISION_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("PROVISION_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{test}: PROVISION_REQUIRE_POSTGRES=1 but PROVISION_TEST_POSTGRES_URL is not set"
            );
            eprintln!(
                "SKIPPED {test}: set PROVISION_TEST_POSTGRES_URL to a PostgreSQL server to run it"
            );
            None
        }
    }
}

/// A fresh database; its connection options.
async fn fresh_db(name: &str) -> Option<PgConnectOptions> {
    let url = postgres_url(name)?;
    let admin = PgConnectOptions::from_str(&url).unwrap();
    let db = format!("provision_server_{}_{name}", std::process::id());
    let mut conn = admin.connect().await.unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
    Some(admin.database(&db))
}

/// An instance named `name` with its own connection pool.
async fn instance(
    world: &World,
    options: &PgConnectOptions,
    name: &str,
) -> (Service, Arc<PostgresStore>) {
    let store = Arc::new(PostgresStore::connect_with(options.clone()).await.unwrap());
    let config = world.config(name, "");
    let service = Service::with_store(
        config,
        world.parts(),
        Arc::clone(&store) as Arc<dyn ServiceStore>,
    )
    .await
    .unwrap();
    (service, store)
}

fn people(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("p{i:02}"), format!("user{i:02}")))
        .collect()
}

#[tokio::test]
async fn two_instances_consume_the_inbox_once_and_fire_each_dated_termination_once() {
    let Some(options) = fresh_db("once").await else {
        return;
    };
    let people = people(12);
    let refs: Vec<(&str, &str)> = people
        .iter()
        .map(|(i, n)| (i.as_str(), n.as_str()))
        .collect();
    let world = World::with_people(Duration::from_millis(2), &refs);
    let (a, store) = instance(&world, &options, "a").await;
    let (b, _) = instance(&world, &options, "b").await;
    // Everyone provisioned (accounts; GitLab's appear on first login).
    a.reconcile(&provision_core::journal::RunId("setup-1".into()))
        .await
        .unwrap();
    for (_, name) in &refs {
        world.systems["gitlab"].sso_login(&login(name));
    }
    a.reconcile(&provision_core::journal::RunId("setup-2".into()))
        .await
        .unwrap();
    let effects_before_events = world.effects();

    let ra = a.clone().spawn_on(listener().await).unwrap();
    let rb = b.clone().spawn_on(listener().await).unwrap();
    // Six now (half through each instance's door), six dated a few seconds ahead
    // (far enough that a loaded machine still takes them before they are due: taken
    // after, they would be applied at once instead of scheduled).
    let (_, later) = rfc3339_in(6);
    for (i, (id, _)) in refs.iter().enumerate() {
        let addr = if i % 2 == 0 { ra.addr } else { rb.addr };
        let body = if i < 6 {
            termination(&format!("evt-{i}"), id, None)
        } else {
            termination(&format!("evt-{i}"), id, Some(&later))
        };
        let (status, json) = post_signed(addr, &body).await;
        assert_eq!(status, 202, "{json}");
    }
    assert!(
        eventually(WAIT, || refs
            .iter()
            .all(|(_, n)| world.locked_out_everywhere(&login(n))))
        .await,
        "everyone locked out"
    );
    let store2 = Arc::clone(&store);
    assert!(
        eventually_async(WAIT, || {
            let store = Arc::clone(&store2);
            async move {
                let done = store.inbox_in_state(InboxState::Done).await.unwrap().len();
                let scheduled = store
                    .inbox_in_state(InboxState::Scheduled)
                    .await
                    .unwrap()
                    .len();
                done + scheduled == 12
            }
        })
        .await
    );
    ra.shutdown().await.unwrap();
    rb.shutdown().await.unwrap();

    // Every event taken once; every dated job fired once.
    for item in store.inbox_in_state(InboxState::Done).await.unwrap() {
        assert_eq!(item.attempts, 1, "event {} taken once", item.event_id);
    }
    let rows =
        sqlx::query("SELECT job_key, fired, done FROM schedule WHERE job_key LIKE 'termination:%'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), 6);
    for row in rows {
        let key: String = row.get("job_key");
        assert_eq!(row.get::<i64, _>("fired"), 1, "{key} fired once");
        assert_eq!(row.get::<i64, _>("done"), 1, "{key} done");
    }
    assert_eq!(world.resent(), 0, "no change reached a system twice");
    assert!(world.effects() > effects_before_events);
}

#[tokio::test]
async fn when_one_instance_dies_mid_event_the_other_finishes_it_with_nothing_repeated() {
    let Some(options) = fresh_db("kill").await else {
        return;
    };
    let world = World::new(Duration::from_millis(150));
    let (a, store) = instance(&world, &options, "a").await;
    a.reconcile(&provision_core::journal::RunId("setup-1".into()))
        .await
        .unwrap();
    for (_, name) in support::PEOPLE {
        world.systems["gitlab"].sso_login(&login(name));
    }
    a.reconcile(&provision_core::journal::RunId("setup-2".into()))
        .await
        .unwrap();

    let ra = a.clone().spawn_on(listener().await).unwrap();
    let before = world.effects();
    let (status, json) = post_signed(ra.addr, &termination("evt-k", "e2", None)).await;
    assert_eq!(status, 202);
    let seq = json["seq"].as_i64().unwrap();
    assert!(eventually(WAIT, || world.effects() > before).await);
    ra.kill();
    drop(a);
    assert!(
        !world.locked_out_everywhere(&login("ben")),
        "killed mid-event"
    );
    let run = store.inbox_get(seq).await.unwrap().unwrap().run_id.unwrap();

    let (b, _) = instance(&world, &options, "b").await;
    let rb = b.clone().spawn_on(listener().await).unwrap();
    assert!(eventually(WAIT, || world.locked_out_everywhere(&login("ben"))).await);
    let store2 = Arc::clone(&store);
    assert!(
        eventually_async(WAIT, || {
            let store = Arc::clone(&store2);
            async move { store.inbox_get(seq).await.unwrap().unwrap().state == InboxState::Done }
        })
        .await
    );
    rb.shutdown().await.unwrap();
    let row = store.inbox_get(seq).await.unwrap().unwrap();
    assert_eq!(
        row.run_id.as_deref(),
        Some(run.as_str()),
        "b resumed a's run"
    );
    assert_eq!(world.resent(), 0, "nothing repeated");
    assert!(
        world.has_access_everywhere(&login("ana")),
        "nothing else touched"
    );
}

/// The proof that several instances keep to one budget: two services on one
/// PostgreSQL, every system limited to `RATE` requests a second (the sandboxes count
/// requests per one-second window and answer 429 past it), terminations posted to
/// both. No window of any system holds more than the budget, and nothing was refused.
#[tokio::test]
async fn two_instances_together_keep_every_system_within_its_rate_budget() {
    const RATE: u32 = 20;
    let Some(options) = fresh_db("budget").await else {
        return;
    };
    let people = people(16);
    let refs: Vec<(&str, &str)> = people
        .iter()
        .map(|(i, n)| (i.as_str(), n.as_str()))
        .collect();
    let world = World::rate_limited(Duration::from_millis(2), &refs, RATE);
    // a provisions everyone alone (the whole budget is its own), then b joins.
    let (a, store) = instance(&world, &options, "a").await;
    a.reconcile(&provision_core::journal::RunId("setup-1".into()))
        .await
        .unwrap();
    for (_, name) in &refs {
        world.systems["gitlab"].sso_login(&login(name));
    }
    a.reconcile(&provision_core::journal::RunId("setup-2".into()))
        .await
        .unwrap();
    let (b, _) = instance(&world, &options, "b").await;
    let ra = a.clone().spawn_on(listener().await).unwrap();
    let rb = b.clone().spawn_on(listener().await).unwrap();
    for (i, (id, _)) in refs.iter().enumerate() {
        let addr = if i % 2 == 0 { ra.addr } else { rb.addr };
        let (status, json) = post_signed(addr, &termination(&format!("evt-{i}"), id, None)).await;
        assert_eq!(status, 202, "{json}");
    }
    assert!(
        eventually(Duration::from_secs(120), || refs
            .iter()
            .all(|(_, n)| world.locked_out_everywhere(&login(n))))
        .await,
        "everyone locked out"
    );
    let store2 = Arc::clone(&store);
    assert!(
        eventually_async(WAIT, || {
            let store = Arc::clone(&store2);
            async move { store.inbox_in_state(InboxState::Done).await.unwrap().len() == 16 }
        })
        .await
    );
    ra.shutdown().await.unwrap();
    rb.shutdown().await.unwrap();

    for (name, system) in &world.systems {
        let windows = system.requests_per_window();
        let counts: Vec<u32> = windows.iter().map(|w| w.requests).collect();
        eprintln!("{name}: requests per 1 s window {counts:?}");
        for w in &windows {
            assert!(
                w.requests <= RATE,
                "{name}: window {} held {} requests, over the budget of {RATE}: {counts:?}",
                w.index,
                w.requests
            );
            assert_eq!(w.rejected, 0, "{name}: window {} had 429s", w.index);
        }
    }
    assert_eq!(world.resent(), 0, "no change reached a system twice");
}
