//! Evidence on a cadence: the scheduled evidence job collects and records evidence
//! from six sandbox systems, reschedules itself, and control coverage becomes the
//! `provision_evidence_degraded{control,system}` gauge — 0 while fresh, 1 once a
//! system's evidence is older than its threshold.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_evidence::{CoverageStatus, EvidenceStore, Period};
use support::{World, eventually_async, listener, login};

const WAIT: Duration = Duration::from_secs(20);

async fn metrics(addr: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of `provision_evidence_degraded{control, system}` on the page.
fn degraded(page: &str, control: &str, system: &str) -> Option<f64> {
    page.lines()
        .filter(|l| l.starts_with("provision_evidence_degraded{"))
        .find(|l| {
            l.contains(&format!("control=\"{control}\""))
                && l.contains(&format!("system=\"{system}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn the_evidence_job_records_evidence_and_stale_evidence_degrades_its_controls() {
    let world = World::new(Duration::from_millis(2));
    // Slack's evidence goes stale after 2 s; every other system keeps the 6 h default.
    let deployment = std::fs::read_to_string(world.path("provision.yaml")).unwrap();
    std::fs::write(
        world.path("provision.yaml"),
        format!("{deployment}evidence:\n  systems:\n    slack: {{stale_after: 2s}}\n"),
    )
    .unwrap();
    let service = provision_server::Service::start(
        world.config("ev", "evidence: {every_minutes: 60}\n"),
        world.parts(),
    )
    .await
    .unwrap();
    world.provision_everyone(&service).await;
    let running = service.clone().spawn_on(listener().await).unwrap();

    // The job armed at start fires and records a collection for every system.
    let store = service.store().clone();
    let collected = eventually_async(WAIT, || {
        let store = store.clone();
        async move {
            let collections = EvidenceStore::collections(&*store).await.unwrap();
            support::SYSTEMS.iter().all(|s| {
                collections
                    .iter()
                    .any(|c| c.system.as_str() == *s && c.rows > 0)
            })
        }
    })
    .await;
    assert!(collected, "every system's evidence recorded by the job");
    let now = chrono::Utc::now();
    let rows = EvidenceStore::rows_in(
        &*store,
        &Period::new(
            now - chrono::Duration::hours(1),
            now + chrono::Duration::hours(1),
        ),
    )
    .await
    .unwrap();
    assert!(
        rows.iter()
            .any(|r| r.system.as_str() == "okta" && r.data.to_string().contains(&login("ana"))),
        "okta's access listing names ana"
    );
    // The job rescheduled itself about an hour out, once its run ended (the rows are
    // recorded before it ends, so wait for the move rather than race it).
    let next_due = || {
        let store = store.clone();
        async move {
            let open = store.schedule_open().await.unwrap();
            open.iter()
                .find(|j| j.key == "evidence")
                .map(|j| j.due_at - chrono::Utc::now())
        }
    };
    let moved = eventually_async(WAIT, || {
        let next = next_due();
        async move { next.await.is_some_and(|a| a > chrono::Duration::minutes(1)) }
    })
    .await;
    assert!(moved, "next evidence run scheduled");
    let ahead = next_due().await.unwrap();
    assert!(
        ahead > chrono::Duration::minutes(59) && ahead <= chrono::Duration::minutes(60),
        "next run in {ahead}"
    );

    // Fresh: every (control, system) reads 0.
    let report = service.refresh_evidence_coverage().await.unwrap();
    let slack_control = report
        .controls
        .iter()
        .find(|c| c.systems.iter().any(|s| s.system.as_str() == "slack"))
        .expect("a control evidenced by slack")
        .control
        .to_string();
    let page = metrics(running.addr).await;
    assert_eq!(
        degraded(&page, &slack_control, "slack"),
        Some(0.0),
        "{page}"
    );
    assert_eq!(degraded(&page, &slack_control, "okta"), Some(0.0), "{page}");

    // Past slack's threshold with no new collection: slack's controls degrade, okta's
    // stay fresh.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let report = service.refresh_evidence_coverage().await.unwrap();
    let coverage = report.control(&slack_control).unwrap();
    assert_eq!(coverage.status, CoverageStatus::Degraded);
    let page = metrics(running.addr).await;
    assert_eq!(
        degraded(&page, &slack_control, "slack"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(degraded(&page, &slack_control, "okta"), Some(0.0), "{page}");

    // A new collection makes it fresh again.
    service.collect_evidence().await.unwrap();
    let page = metrics(running.addr).await;
    assert_eq!(
        degraded(&page, &slack_control, "slack"),
        Some(0.0),
        "{page}"
    );
    running.shutdown().await.unwrap();
}
