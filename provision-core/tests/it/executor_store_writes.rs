//! How the executor writes to its journal and audit log: the audit record comes before
//! the journal's final state and is never written twice across an interruption, and a
//! store with few connections cannot stall the run.
#![allow(clippy::unwrap_used)] // tests may unwrap

use crate::exec_support;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use exec_support::*;
use provision_core::audit::{
    AuditError, AuditEvent, AuditLog, AuditOutcome, AuditRecord, MemoryAuditLog,
};
use provision_core::config::SystemConfig;
use provision_core::executor::{Executor, ExecutorError};
use provision_core::journal::{Journal, JournalEntry, JournalError, OperationState, RunId};
use provision_core::model::{Operation, OperationId, Plan};
use provision_sandbox::{SandboxConfig, SandboxSystem, presets};
use tokio::sync::Semaphore;

fn systems(latency: Duration) -> Vec<Arc<SandboxSystem>> {
    let config = SandboxConfig {
        latency,
        ..SandboxConfig::default()
    };
    vec![
        Arc::new(presets::okta().sandbox("okta", config.clone())),
        Arc::new(presets::slack().sandbox("slack", config.clone())),
        Arc::new(presets::aws().sandbox("aws", config)),
    ]
}

/// Per person and system: an account, then two grants that depend on it.
fn big_plan(people: usize) -> Plan {
    let mut ops: Vec<Operation> = Vec::new();
    for i in 0..people {
        let person = format!("p{i:02}");
        for (system, kind) in [("okta", "group"), ("slack", "channel"), ("aws", "group")] {
            ops.push(create(&person, system));
            ops.push(grant(&person, system, kind, "all-staff"));
            ops.push(grant(&person, system, kind, "engineering"));
        }
    }
    plan(ops)
}

fn executor(
    systems: &[Arc<SandboxSystem>],
    concurrency: usize,
    journal: Arc<dyn Journal>,
    audit: Arc<dyn AuditLog>,
) -> Executor {
    let mut b = Executor::builder()
        .retry(fast_retry())
        .actor("test-suite")
        .journal(journal)
        .audit_log(audit);
    for s in systems {
        let mut config = SystemConfig::new("sandbox");
        config.concurrency = Some(concurrency);
        b = b.system(s.name().clone(), Arc::clone(s) as _, config);
    }
    b.build().unwrap()
}

// ------------------------------------------------- a store with two connections

/// A journal and audit log behind a pool of two "connections": each write takes one,
/// holds it for a moment of I/O, and gives it back, as a database pool does.
struct TwoConnections {
    pool: Semaphore,
    journal: MemJournal,
    audit: MemoryAuditLog,
}

impl TwoConnections {
    async fn connection(&self) -> tokio::sync::SemaphorePermit<'_> {
        let permit = self.pool.acquire().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        permit
    }
}

#[async_trait]
impl Journal for TwoConnections {
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError> {
        let _c = self.connection().await;
        self.journal.begin_run(run, plan).await
    }
    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let _c = self.connection().await;
        self.journal.record(entry).await
    }
    async fn plan(&self, run: &RunId) -> Result<Plan, JournalError> {
        self.journal.plan(run).await
    }
    async fn entries(&self, run: &RunId) -> Result<Vec<JournalEntry>, JournalError> {
        self.journal.entries(run).await
    }
    async fn unfinished(
        &self,
    ) -> Result<Vec<(RunId, provision_core::model::OperationId)>, JournalError> {
        self.journal.unfinished().await
    }
}

#[async_trait]
impl AuditLog for TwoConnections {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        let _c = self.connection().await;
        self.audit.append(event).await
    }
    async fn records(&self) -> Result<Vec<AuditRecord>, AuditError> {
        self.audit.records().await
    }
}

/// 12 requests out at once against a store with 2 connections: requests hold a
/// connection during their in-flight journal entry while the loop records outcomes.
/// A loop that stopped polling requests while it waited for a connection would never
/// get one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_requests_out_than_store_connections_does_not_stall() {
    let systems = systems(Duration::from_millis(5));
    let store = Arc::new(TwoConnections {
        pool: Semaphore::new(2),
        journal: MemJournal::default(),
        audit: MemoryAuditLog::new(),
    });
    let p = big_plan(8);
    let r = run("two-connections");
    for round in 0..3 {
        let r = RunId(format!("{}-{round}", r.0));
        let exec = executor(&systems, 4, store.clone(), store.clone());
        let report = tokio::time::timeout(Duration::from_secs(20), exec.apply(&r, &approved(&p)))
            .await
            .expect("the apply stalled on the store's connections")
            .unwrap();
        assert_eq!(
            report.success_rate(),
            1.0,
            "round {round}: {:?}",
            report.totals
        );
        let finals = store
            .journal
            .entries_of(&r)
            .into_iter()
            .filter(|e| e.state.is_final())
            .count();
        assert_eq!(finals, p.operations.len(), "round {round}");
    }
    let records = store.audit.snapshot().unwrap();
    assert_eq!(records.len(), 3 * p.operations.len());
    provision_core::audit::verify(&records).unwrap();
}

// ------------------------------- a stop between the audit record and the journal

/// The journal write of one operation's outcome fails once (the process "stops" right
/// there); everything else is recorded normally.
struct LosesOneOutcome {
    inner: MemJournal,
    victim: OperationId,
    lost: AtomicBool,
}

#[async_trait]
impl Journal for LosesOneOutcome {
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError> {
        self.inner.begin_run(run, plan).await
    }
    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        if entry.operation == self.victim
            && entry.state.is_final()
            && !self.lost.swap(true, Ordering::SeqCst)
        {
            return Err(JournalError::Storage("disk gone".into()));
        }
        self.inner.record(entry).await
    }
    async fn plan(&self, run: &RunId) -> Result<Plan, JournalError> {
        self.inner.plan(run).await
    }
    async fn entries(&self, run: &RunId) -> Result<Vec<JournalEntry>, JournalError> {
        self.inner.entries(run).await
    }
    async fn unfinished(
        &self,
    ) -> Result<Vec<(RunId, provision_core::model::OperationId)>, JournalError> {
        self.inner.unfinished().await
    }
}

async fn stopped_after_audit_then_resumed(audit: Arc<dyn AuditLog>) {
    let systems = systems(Duration::ZERO);
    let p = big_plan(2);
    let victim = p.operations[0].id.clone(); // p00's okta account
    let journal = Arc::new(LosesOneOutcome {
        inner: MemJournal::default(),
        victim: victim.clone(),
        lost: AtomicBool::new(false),
    });
    let r = run("stopped-after-audit");

    let exec = executor(&systems, 2, journal.clone(), audit.clone());
    let stopped = exec.apply(&r, &approved(&p)).await;
    assert!(
        matches!(stopped, Err(ExecutorError::Journal(_))),
        "the run stops when the journal fails: {stopped:?}"
    );
    // The change reached the system and is audited, though the journal never got its outcome.
    let audited_first: Vec<_> = audit
        .records()
        .await
        .unwrap()
        .into_iter()
        .filter(|rec| rec.event.operation == victim)
        .collect();
    assert_eq!(audited_first.len(), 1);
    assert_eq!(audited_first[0].event.outcome, AuditOutcome::Changed);
    assert!(matches!(
        journal
            .inner
            .entries_of(&r)
            .iter()
            .rev()
            .find(|e| e.operation == victim)
            .map(|e| &e.state),
        Some(OperationState::InFlight { .. })
    ));
    assert_eq!(
        audit.recorded_outcome(&r, &victim).await.unwrap(),
        Some(AuditOutcome::Changed)
    );

    let report = executor(&systems, 2, journal.clone(), audit.clone())
        .resume(&r)
        .await
        .unwrap();
    assert_eq!(report.success_rate(), 1.0, "{:?}", report.totals);
    let mut per_op: BTreeMap<OperationId, usize> = BTreeMap::new();
    for rec in audit.records().await.unwrap() {
        *per_op.entry(rec.event.operation).or_default() += 1;
    }
    for op in &p.operations {
        assert_eq!(per_op.get(&op.id), Some(&1), "{} audited once", op.id);
    }
    assert!(matches!(
        journal
            .inner
            .entries_of(&r)
            .iter()
            .rev()
            .find(|e| e.operation == victim)
            .map(|e| &e.state),
        Some(OperationState::Succeeded { .. })
    ));
}

#[tokio::test]
async fn an_outcome_audited_before_a_stop_is_not_audited_again_on_resume() {
    stopped_after_audit_then_resumed(Arc::new(MemoryAuditLog::new())).await;
}

#[tokio::test]
async fn the_default_recorded_outcome_serves_a_log_that_has_no_index() {
    // MemAudit implements only `append` and `records`.
    stopped_after_audit_then_resumed(Arc::new(MemAudit::default())).await;
}

#[tokio::test]
async fn recorded_outcome_is_the_latest_record_of_that_run() {
    // Failed on one attempt, changed on a later one: the latest record is the answer.
    let log = MemoryAuditLog::new();
    let r = run("two-facts");
    let op = OperationId("op-1".into());
    assert_eq!(log.recorded_outcome(&r, &op).await.unwrap(), None);
    let event = |outcome| AuditEvent {
        at: chrono::Utc::now(),
        run: r.clone(),
        actor: "t".into(),
        identity: provision_core::model::IdentityId("p".into()),
        system: provision_core::model::SystemName::new("okta"),
        operation: op.clone(),
        action: "grant".into(),
        entitlement: None,
        outcome,
        reason: reason(provision_core::model::ReasonKind::PolicyGrant),
        note: None,
    };
    log.append(event(AuditOutcome::Failed {
        class: "transient".into(),
        error: "503".into(),
    }))
    .await
    .unwrap();
    log.append(event(AuditOutcome::Changed)).await.unwrap();
    assert_eq!(
        log.recorded_outcome(&r, &op).await.unwrap(),
        Some(AuditOutcome::Changed),
        "the latest record counts"
    );
    assert_eq!(
        log.recorded_outcome(&run("other"), &op).await.unwrap(),
        None,
        "another run's records do not count"
    );
}
