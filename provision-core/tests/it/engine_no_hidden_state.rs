//! The engine keeps no state of a plan between calls: a plan carries the account ids
//! it was made from (so plans made concurrently, by different callers, each apply
//! with their own), and drift asks the journal for the operations still open instead
//! of scanning every run the engine ever applied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use provision_core::engine::Engine;
use provision_core::journal::{Journal, JournalEntry, JournalError, MemoryJournal, RunId};
use provision_core::model::{Identity, OperationId, Plan};
use provision_sandbox::SandboxFactory;

const DEPLOYMENT: &str = "\
systems:
  okta:
    adapter: sandbox
    settings: {preset: okta, org_url: https://example.okta.invalid}
  slack:
    adapter: sandbox
    settings: {preset: slack}
blast_radius: {max_share: 1.0}
";

const POLICIES: &str = "\
policies:
  - name: Everyone
    triggers:
      - department: Engineering
      - department: Sales
    provisions:
      - {system: okta, action: add_to_group, target: everyone}
      - {system: slack, action: add_to_channel, target: '#general'}
";

fn example(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("provision-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("provision.yaml"), DEPLOYMENT).unwrap();
    std::fs::write(dir.join("policies/all.yaml"), POLICIES).unwrap();
    dir
}

fn person(n: usize) -> Identity {
    Identity::new(
        format!("e{n}"),
        format!("p{n}@company.com"),
        format!("Person {n}"),
    )
    .with_attribute(
        "department",
        if n.is_multiple_of(2) {
            "Engineering"
        } else {
            "Sales"
        },
    )
}

/// A memory journal that counts what drift could ask of it.
#[derive(Default)]
struct CountingJournal {
    inner: MemoryJournal,
    entries: AtomicUsize,
    plans: AtomicUsize,
    unfinished: AtomicUsize,
}

#[async_trait]
impl Journal for CountingJournal {
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError> {
        self.inner.begin_run(run, plan).await
    }
    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        self.inner.record(entry).await
    }
    async fn plan(&self, run: &RunId) -> Result<Plan, JournalError> {
        self.plans.fetch_add(1, Ordering::SeqCst);
        self.inner.plan(run).await
    }
    async fn entries(&self, run: &RunId) -> Result<Vec<JournalEntry>, JournalError> {
        self.entries.fetch_add(1, Ordering::SeqCst);
        self.inner.entries(run).await
    }
    async fn unfinished(&self) -> Result<Vec<(RunId, OperationId)>, JournalError> {
        self.unfinished.fetch_add(1, Ordering::SeqCst);
        self.inner.unfinished().await
    }
}

async fn engine(dir: &Path, sandboxes: &Arc<SandboxFactory>, journal: Arc<dyn Journal>) -> Engine {
    Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        .factory(Arc::clone(sandboxes) as _)
        .journal(journal)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn drifts_journal_cost_does_not_grow_with_past_runs() {
    let dir = example("drift-cost");
    let sandboxes = Arc::new(SandboxFactory::new());
    let journal = Arc::new(CountingJournal::default());
    let engine = engine(&dir, &sandboxes, Arc::clone(&journal) as _).await;
    let mut roster = Vec::new();
    let mut asked = Vec::new();
    // Ten runs, one hire each; after each, a drift run.
    for n in 0..10 {
        roster.push(person(n));
        let plan = engine
            .plan_people(&roster, &roster[n..], &format!("hr:hire:e{n}"))
            .await
            .unwrap()
            .approve()
            .unwrap();
        let report = engine.apply(&plan).await.unwrap();
        assert!(report.is_complete(), "{report}");
        let before = (
            journal.entries.load(Ordering::SeqCst),
            journal.plans.load(Ordering::SeqCst),
            journal.unfinished.load(Ordering::SeqCst),
        );
        let drift = engine.drift(&roster).await.unwrap();
        assert!(!drift.has_drift(), "{drift}");
        asked.push((
            journal.entries.load(Ordering::SeqCst) - before.0,
            journal.plans.load(Ordering::SeqCst) - before.1,
            journal.unfinished.load(Ordering::SeqCst) - before.2,
        ));
    }
    // One question per drift run, whatever the number of runs behind it.
    assert!(asked.iter().all(|a| *a == (0, 0, 1)), "{asked:?}");
}

#[tokio::test]
async fn an_operation_still_pending_in_an_earlier_run_is_not_drift() {
    let dir = example("drift-open");
    let sandboxes = Arc::new(SandboxFactory::new());
    let journal = Arc::new(MemoryJournal::new());
    let engine = engine(&dir, &sandboxes, Arc::clone(&journal) as _).await;
    let roster = vec![person(0)];
    let plan = engine
        .plan(&roster, "hr:hire:e0")
        .await
        .unwrap()
        .approve()
        .unwrap();
    // The run begins and its first operation is in flight, then the process dies.
    let run = RunId("interrupted".into());
    journal.begin_run(&run, plan.plan()).await.unwrap();
    let first = plan.operations[0].id.clone();
    journal
        .record(&JournalEntry {
            run: run.clone(),
            operation: first.clone(),
            state: provision_core::journal::OperationState::InFlight { attempt: 1 },
            at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(journal.unfinished().await.unwrap(), vec![(run, first)]);
    let drift = engine.drift(&roster).await.unwrap();
    let in_flight: Vec<_> = drift
        .findings
        .iter()
        .filter(|f| f.evidence.in_flight.is_some())
        .collect();
    assert!(
        !in_flight.is_empty(),
        "the open operation is named: {drift}"
    );
}

#[tokio::test]
async fn plans_made_concurrently_each_apply_with_their_own_account_ids() {
    let dir = example("concurrent");
    let sandboxes = Arc::new(SandboxFactory::new());
    let engine = Arc::new(engine(&dir, &sandboxes, Arc::new(MemoryJournal::new()) as _).await);
    // Everyone provisioned.
    let roster: Vec<Identity> = (0..4).map(person).collect();
    let plan = engine
        .plan(&roster, "setup")
        .await
        .unwrap()
        .approve()
        .unwrap();
    assert!(engine.apply(&plan).await.unwrap().is_complete());

    // Two callers plan a leaver each, concurrently, then apply in the other order.
    let mut leavers = roster.clone();
    for p in &mut leavers[..2] {
        p.status = provision_core::model::EmploymentStatus::Terminated {
            effective: chrono::Utc::now() - chrono::Duration::minutes(1),
        };
    }
    let (a, b) = tokio::join!(
        engine.plan_people(&leavers, &leavers[0..1], "hr:termination:e0"),
        engine.plan_people(&leavers, &leavers[1..2], "hr:termination:e1"),
    );
    let (a, b) = (a.unwrap().approve().unwrap(), b.unwrap().approve().unwrap());
    // Each plan carries its own person's account ids, and only them.
    for (plan, who, other) in [(&a, "e0", "e1"), (&b, "e1", "e0")] {
        let okta = provision_core::model::SystemName::new("okta");
        assert!(
            plan.account_ids()
                .get(&provision_core::model::IdentityId::new(who), &okta)
                .is_some()
        );
        assert!(
            plan.account_ids()
                .get(&provision_core::model::IdentityId::new(other), &okta)
                .is_none()
        );
    }
    let rb = engine.apply(&b).await.unwrap();
    let ra = engine.apply(&a).await.unwrap();
    assert!(ra.is_complete() && rb.is_complete(), "{ra}\n{rb}");
    let okta = sandboxes.system("okta").unwrap().snapshot();
    for login in ["p0@company.com", "p1@company.com"] {
        assert_ne!(
            okta.accounts[login],
            provision_core::model::AccountState::Active,
            "{login} is locked out"
        );
    }
    assert_eq!(
        okta.accounts["p2@company.com"],
        provision_core::model::AccountState::Active
    );
}
