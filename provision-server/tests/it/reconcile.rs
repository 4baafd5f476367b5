//! The reconcile cadence: a full reconcile and drift run fires from the schedule,
//! puts back what someone removed by hand, and never sends an operation an
//! event-driven run sends too.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::model::Entitlement;
use provision_server::Service;
use support::{World, eventually, listener, login, post_signed, termination};

#[tokio::test]
async fn the_reconcile_puts_back_a_grant_removed_by_hand_and_events_and_reconcile_never_send_an_operation_twice()
 {
    let world = World::new(Duration::from_millis(2));
    let config = world.config("s", "reconcile: {every_seconds: 1}\n");
    let service = Service::start(config, world.parts()).await.unwrap();
    world.provision_everyone(&service).await;
    let channel = Entitlement::new("slack", "channel", "#engineering");
    assert!(world.systems["slack"].revoke_by_hand(&login("ben"), &channel));
    assert!(!world.has_access_everywhere(&login("ben")));

    let running = service.clone().spawn_on(listener().await).unwrap();
    // Events arrive while reconciles run every second.
    for (i, person) in ["e1", "e3"].iter().enumerate() {
        let (status, _) = post_signed(
            running.addr,
            &termination(&format!("evt-{i}"), person, None),
        )
        .await;
        assert_eq!(status, 202);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert!(
        eventually(Duration::from_secs(15), || world
            .has_access_everywhere(&login("ben")))
        .await,
        "the reconcile granted the channel back"
    );
    assert!(
        eventually(Duration::from_secs(15), || {
            world.locked_out_everywhere(&login("ana")) && world.locked_out_everywhere(&login("cy"))
        })
        .await
    );
    // Let a few more reconciles run over the settled state.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    running.shutdown().await.unwrap();
    // The one write of an operation that took effect before: the channel grant the
    // hand removal undid, granted back once. Nothing else twice.
    let resent: Vec<(String, u32)> = world
        .systems
        .values()
        .flat_map(|s| s.stats().resent_after_effect.into_iter())
        .filter(|(_, n)| *n > 0)
        .map(|(op, n)| (op.0, n))
        .collect();
    assert_eq!(
        resent,
        vec![("e2/slack/grant/channel/#engineering".to_owned(), 1)],
        "no operation reached a system twice"
    );
    let reconciles = service
        .store()
        .schedule_open()
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.key == "reconcile")
        .count();
    assert_eq!(reconciles, 1, "the next reconcile is scheduled");
    let metrics = provision_server::metrics::prometheus().render();
    assert!(metrics.contains("provision_drift_findings"), "{metrics}");
}
