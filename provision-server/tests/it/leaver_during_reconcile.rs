//! A leaver never waits behind a reconcile: a full reconcile over a roster on
//! sandbox systems with real latency is in progress when a signed termination
//! arrives; the termination's session revocations and suspensions reach every
//! system long before the reconcile ends, and nothing is sent twice.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::journal::RunId;
use provision_core::model::Entitlement;
use support::{World, eventually, listener, login, post_signed, termination};

/// Each request to a sandbox takes this long.
const LATENCY: Duration = Duration::from_millis(100);
/// People the reconcile provisions from nothing (accounts and grants in six systems).
const NEWCOMERS: usize = 48;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_termination_arriving_during_a_long_reconcile_is_applied_before_the_reconcile_ends() {
    // The leaver sorts last, so the reconcile's own work for her would come last.
    let mut people: Vec<(String, String)> = (0..NEWCOMERS)
        .map(|i| (format!("e{:03}", i + 100), format!("person{i:03}")))
        .collect();
    people.push(("z1".to_owned(), "zoe".to_owned()));
    let people: Vec<(&str, &str)> = people
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str()))
        .collect();
    let world = World::with_people(LATENCY, &people);
    let service = world.service("s").await;

    // Zoe has everything but her Slack channel (removed by hand): the reconcile plans
    // to grant it back, and must not once she is terminated.
    let roster = service.roster().await.unwrap();
    let zoe: Vec<_> = roster
        .iter()
        .filter(|p| p.id.as_str() == "z1")
        .cloned()
        .collect();
    world.seed(&service, &zoe);
    let channel = Entitlement::new("slack", "channel", "#engineering");
    assert!(world.systems["slack"].revoke_by_hand(&login("zoe"), &channel));

    let running = service.clone().spawn_on(listener().await).unwrap();
    let started = tokio::time::Instant::now();
    let reconcile = {
        let service = service.clone();
        tokio::spawn(async move {
            let report = service.reconcile(&RunId("big".into())).await.unwrap();
            (report, tokio::time::Instant::now())
        })
    };
    // The reconcile is sending: its first changes took effect.
    assert!(eventually(Duration::from_secs(60), || world.effects() >= 12).await);
    assert!(!reconcile.is_finished(), "the reconcile is still running");

    let posted = tokio::time::Instant::now();
    let (status, json) = post_signed(running.addr, &termination("evt-zoe", "z1", None)).await;
    assert_eq!(status, 202, "{json}");
    assert!(
        eventually(Duration::from_secs(120), || world
            .locked_out_everywhere(&login("zoe")))
        .await
    );
    let observed = tokio::time::Instant::now();

    let (report, reconciled) = reconcile.await.unwrap();
    let report = report.expect("the reconcile applied something");
    running.shutdown().await.unwrap();

    // When the termination's last session revocation or suspension took effect.
    let leaver_done = world
        .systems
        .values()
        .flat_map(|s| s.stats().took_effect.into_iter())
        .filter(|(op, _)| {
            op.0.starts_with("z1/")
                && ["revoke_sessions", "suspend_account", "delete_account"]
                    .iter()
                    .any(|verb| op.0.contains(verb))
        })
        .map(|(_, mark)| mark.at)
        .max()
        .expect("the termination reached the systems");
    let termination = leaver_done - posted;
    let reconcile_took = reconciled - started;
    eprintln!(
        "termination: {} ms after the webhook (seen locked out after {} ms); \
         reconcile: {} ms ({} operations), ended {} ms after the termination did",
        termination.as_millis(),
        (observed - posted).as_millis(),
        reconcile_took.as_millis(),
        report.totals.operations,
        reconciled
            .saturating_duration_since(leaver_done)
            .as_millis(),
    );
    assert!(
        leaver_done < reconciled,
        "the termination waited for the reconcile: it took effect {} ms after the webhook, \
         the reconcile ended {} ms after it",
        termination.as_millis(),
        (reconciled - posted).as_millis()
    );
    assert!(
        termination * 3 < reconcile_took,
        "the termination ({} ms) did not wait behind the reconcile ({} ms)",
        termination.as_millis(),
        reconcile_took.as_millis()
    );

    // Correct as well as fast: every newcomer provisioned, Zoe locked out, her
    // channel not granted back behind the termination, and no write sent twice.
    for (id, name) in &people {
        if *id != "z1" {
            let login = login(name);
            for system in support::SYSTEMS {
                if system != "gitlab" {
                    assert!(
                        world.account(system, &login).is_some(),
                        "{name} has an account in {system}"
                    );
                }
            }
        }
    }
    assert!(world.locked_out_everywhere(&login("zoe")));
    let regranted: Vec<String> = world
        .systems
        .values()
        .flat_map(|s| s.stats().took_effect.into_keys())
        .filter(|op| op.0.starts_with("z1/") && op.0.contains("/grant/"))
        .map(|op| op.0)
        .collect();
    assert!(
        regranted.is_empty(),
        "nothing granted to the leaver: {regranted:?}"
    );
    assert_eq!(world.resent(), 0, "no write reached a system twice");
    let creates = world
        .systems
        .values()
        .map(|s| s.stats().max_creates_per_login())
        .max()
        .unwrap_or(0);
    assert!(creates <= 1, "no account created twice");
}
