//! How long importing a quarter's decisions takes: a campaign of 3,900 items for
//! 2,267 reviewers (seed 000's company), stored in SQLite (the CLI's store, WAL with
//! `synchronous = FULL`), every reviewer importing their own filled CSV as
//! `provision review decide --from` does (two in three revoke, one in three keep,
//! which records an exception too). Revocations are not run: their cost is the
//! vendors' rate limits, measured by the executor's benches.
//!
//! Ignored (it takes tens of seconds in a debug build); run it with
//! `cargo test -p provision-governance --release --test it -- --ignored review_import --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use provision_core::drift::Severity;
use provision_core::engine::Engine;
use provision_core::model::{Entitlement, IdentityId, SystemName};
use provision_governance::review::export::ReviewerList;
use provision_governance::{
    Campaign, Governance, GovernanceStore, ItemKind, NoResponse, ReviewItem, ReviewScope,
};
use provision_sandbox::SandboxFactory;
use provision_store::SqliteStore;

use crate::governance_support::examples;

const ITEMS: usize = 3_900;
const REVIEWERS: usize = 2_267;

fn campaign() -> Campaign {
    let now = Utc::now();
    let items = (0..ITEMS)
        .map(|i| ReviewItem {
            id: format!("i-{:04}", i + 1),
            kind: ItemKind::OutsidePolicy,
            severity: Severity::Medium,
            reviewer: format!("m{:04}", i % REVIEWERS),
            identity: Some(IdentityId::new(format!("e{i:05}"))),
            person: format!("Person {i}"),
            login: format!("person{i}@company.com"),
            department: Some(format!("Dept {}", i % 40)),
            system: SystemName::new("slack"),
            entitlement: Some(Entitlement::new("slack", "channel", format!("#team-{}", i % 300))),
            rule: None,
            evidence: vec![format!(
                "slack holds slack/channel/#team-{}; no policy, active exception or approved request gives it",
                i % 300
            )],
            fix: format!("revoke slack/channel/#team-{}, or keep it with a reason and an expiry", i % 300),
            fix_operations: Vec::new(),
        })
        .collect();
    Campaign {
        id: "rc-scale".into(),
        name: "Q4 2026 access review".into(),
        scope: ReviewScope::all(),
        opened_at: now,
        due_at: now + Duration::days(14),
        items,
        certified: 100_000,
        grants_in_scope: 103_900,
        keep_until: Some(now + Duration::days(104)),
        no_response: NoResponse::Escalate,
        allow_self_review: false,
        escalated_from: None,
    }
}

/// The reviewer's CSV with every row decided: revoke, or keep for every third item.
fn filled(campaign: &Campaign, reviewer: &str) -> String {
    let csv = ReviewerList::new(campaign, reviewer).to_csv().unwrap();
    csv.lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                return format!("{line}\n");
            }
            let row = line.strip_suffix(",,").unwrap();
            let n: usize = row[2..6].parse().unwrap();
            if n.is_multiple_of(3) {
                format!("{row},keep,covers the on-call rota\n")
            } else {
                format!("{row},revoke,\n")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it with --release --ignored --nocapture"]
async fn review_import_of_3900_decisions_for_2267_reviewers() {
    let dir = tempfile_dir();
    let store = Arc::new(SqliteStore::open(dir.join("store.db")).await.unwrap());
    let engine = Engine::builder()
        .deployment(examples().join("provision.yaml"))
        .policies(examples().join("policies"))
        .factory(Arc::new(SandboxFactory::new()) as _)
        .store(Arc::clone(&store))
        .actor("scale-test")
        .build()
        .await
        .unwrap();
    let gov = Governance::new(&engine, Arc::clone(&store) as Arc<dyn GovernanceStore>);
    let campaign = campaign();
    store.add_campaign(&campaign).await.unwrap();
    let files: Vec<(String, String)> = campaign
        .reviewers()
        .into_iter()
        .map(|r| (r.to_owned(), filled(&campaign, r)))
        .collect();
    assert_eq!(files.len(), REVIEWERS);

    let started = Instant::now();
    let mut recorded = 0;
    for (reviewer, csv) in &files {
        recorded += gov
            .import_csv(&campaign.id, reviewer, csv, "scale test")
            .await
            .unwrap()
            .len();
    }
    let took = started.elapsed();
    assert_eq!(recorded, ITEMS);
    let state = gov.campaign_state(&campaign.id, Utc::now()).await.unwrap();
    assert_eq!(state.decided, ITEMS);
    assert_eq!(state.kept, ITEMS / 3);
    println!(
        "imported {ITEMS} decisions from {REVIEWERS} reviewers' CSV files in {:.1} s ({:.2} ms per decision, {:.1} ms per file)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / ITEMS as f64,
        took.as_secs_f64() * 1000.0 / REVIEWERS as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("provision-review-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
