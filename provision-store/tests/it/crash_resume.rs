//! Crash-safe resume with a real killed process (issue 7).
//!
//! A child process (this test binary, re-run with [`CHILD_DIR_ENV`] set: see
//! [`crash_child`]) applies a plan (identities × sandbox systems: account creations,
//! then grants that need the created account ids) with the SQLite journal and audit log
//! and sandbox systems that persist their state and a write log in files. The test
//! kills it with SIGKILL at a kill point, resumes the run in this process from the same
//! files, and checks what a user would: no write reached any system twice, the systems
//! hold what an uninterrupted run gives, the journal has every operation final, and the
//! audit chain verifies.
//!
//! Kill points are reached by watching files, not by timing: the child can be told to
//! stall (never return) right after its k-th write reached a system (so that operation
//! is in flight in the journal although the system has it) or right before sending a
//! write (in flight, the system has nothing). Waits are bounded and fail with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed assertion

use crate::support;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, SystemDescriptor,
};
use provision_core::audit::{AuditError, AuditEvent, AuditLog, AuditOutcome, AuditRecord};
use provision_core::config::SystemConfig;
use provision_core::executor::Executor;
use provision_core::journal::{Journal, OperationState, RunId};
use provision_core::model::{
    AccountRecord, AccountRef, AccountState, GrantRecord, Operation, OperationId, ResourceRef,
    SystemName,
};
use provision_sandbox::{SandboxSnapshot, SandboxSystem, WriteRecord};
use provision_store::SqliteStore;
use support::{GRANTS, IDENTITIES, SYSTEMS, approved, plan, state_file, write_log};

/// Set (to the scenario's directory) when this binary runs as the child.
const CHILD_DIR_ENV: &str = "PROVISION_CRASH_CHILD_DIR";
/// Where the child stalls: `none`, `after:K` or `before:K` (K writes sent).
const CHILD_STALL_ENV: &str = "PROVISION_CRASH_CHILD_STALL";
/// Written by the child when it stalls.
const STALLED_MARKER: &str = "child-stalled";
/// Written by the child when its apply returned (the kill point was never reached).
const FINISHED_MARKER: &str = "child-finished";

const LATENCY: Duration = Duration::from_millis(30);
/// Generous on a loaded 2-core machine; only reached when something is wrong.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

fn run_id() -> RunId {
    RunId("crash-resume".into())
}

fn sandbox(name: &str) -> SandboxSystem {
    support::sandbox(name, LATENCY)
}

fn persistent_systems(dir: &Path) -> Vec<(&'static str, Arc<SandboxSystem>)> {
    SYSTEMS
        .iter()
        .map(|&name| {
            let system = sandbox(name)
                .with_state_file(state_file(dir, name))
                .unwrap_or_else(|e| panic!("opening the state of {name}: {e}"));
            (name, Arc::new(system))
        })
        .collect()
}

fn executor(
    systems: Vec<(&'static str, Arc<dyn Adapter>)>,
    store: &Arc<SqliteStore>,
    audit: Arc<dyn AuditLog>,
) -> Executor {
    let mut builder = Executor::builder()
        .journal(store.clone())
        .audit_log(audit)
        .actor("hr-sync");
    for (name, adapter) in systems {
        let mut config = SystemConfig::new("sandbox");
        // 9 requests out in all, more than the SQLite pool's 4 connections: the
        // executor keeps polling the requests (which hold connections for their
        // in-flight journal entries) while it records outcomes, so it cannot stall on
        // the pool. Before that fix this setting ended in "pool timed out".
        config.concurrency = Some(concurrency(name));
        builder = builder.system(name, adapter, config);
    }
    builder.build().unwrap()
}

/// Requests out at once per system: 2 to 4, 9 in all.
fn concurrency(system: &str) -> usize {
    match system {
        "okta" => 4,
        "slack" => 2,
        _ => 3,
    }
}

// ---------------------------------------------------------------- the child

#[derive(Debug, Clone, Copy)]
enum Stall {
    /// Run freely until killed.
    Never,
    /// Stop answering once this many writes reached a system (the last one in flight).
    AfterWrite(u64),
    /// Stop before sending a write once this many were sent (the next one in flight).
    BeforeWrite(u64),
    /// Stop right after the k-th audit record is stored, before the journal records
    /// that operation's outcome (it is audited, and in flight in the journal).
    AfterAudit(u64),
}

impl Stall {
    fn to_env(self) -> String {
        match self {
            Stall::Never => "none".into(),
            Stall::AfterWrite(k) => format!("after:{k}"),
            Stall::BeforeWrite(k) => format!("before:{k}"),
            Stall::AfterAudit(k) => format!("audit:{k}"),
        }
    }

    fn from_env(s: &str) -> Self {
        let (kind, k) = s.split_once(':').unwrap_or((s, "0"));
        let k = k
            .parse()
            .unwrap_or_else(|_| panic!("bad {CHILD_STALL_ENV}: {s}"));
        match kind {
            "after" => Stall::AfterWrite(k),
            "before" => Stall::BeforeWrite(k),
            "audit" => Stall::AfterAudit(k),
            _ => Stall::Never,
        }
    }
}

/// Shared by the child's adapters: how many writes were sent, and whether to stall.
struct StallControl {
    stall: Stall,
    writes: AtomicU64,
    stalled: AtomicBool,
    marker: PathBuf,
}

impl StallControl {
    async fn stall_forever(&self) -> ! {
        if !self.stalled.swap(true, Ordering::SeqCst) {
            std::fs::write(&self.marker, b"stalled").unwrap();
        }
        std::future::pending::<()>().await;
        unreachable!("a pending future never completes")
    }
}

/// A sandbox system that stops answering at the kill point, so that the kill lands
/// exactly there however slow the machine is.
struct Stalling {
    inner: Arc<SandboxSystem>,
    control: Arc<StallControl>,
}

#[async_trait]
impl Adapter for Stalling {
    fn descriptor(&self) -> &SystemDescriptor {
        self.inner.descriptor()
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        self.inner.read_accounts(cursor).await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.inner.read_grants(resource, cursor).await
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        let control = &self.control;
        if control.stalled.load(Ordering::SeqCst) {
            control.stall_forever().await;
        }
        if let Stall::BeforeWrite(k) = control.stall
            && control.writes.load(Ordering::SeqCst) >= k
        {
            control.stall_forever().await;
        }
        let result = self.inner.execute(op, account).await;
        let sent = control.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if let Stall::AfterWrite(k) = control.stall
            && sent >= k
        {
            control.stall_forever().await;
        }
        result
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        self.inner.check(op, account).await
    }
}

/// The child's audit log: the SQLite store, stalling after the k-th append has committed.
struct StallingAudit {
    store: Arc<SqliteStore>,
    control: Arc<StallControl>,
    appended: AtomicU64,
}

#[async_trait]
impl AuditLog for StallingAudit {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        let record = self.store.append(event).await?;
        let appended = self.appended.fetch_add(1, Ordering::SeqCst) + 1;
        if let Stall::AfterAudit(k) = self.control.stall
            && appended >= k
        {
            self.control.stall_forever().await;
        }
        Ok(record)
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, AuditError> {
        self.store.records().await
    }
}

/// The child process's entry point, not a test of its own: the crash tests run this
/// binary again with `--exact crash_child --ignored` and [`CHILD_DIR_ENV`] set.
#[test]
#[ignore = "entry point of the child process the crash_resume tests start and kill"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        eprintln!(
            "crash_child runs only as the child of a crash_resume test ({CHILD_DIR_ENV} unset)"
        );
        return;
    };
    let dir = PathBuf::from(dir);
    let stall = Stall::from_env(&std::env::var(CHILD_STALL_ENV).unwrap_or_default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(SqliteStore::open(dir.join("provision.db")).await.unwrap());
        let control = Arc::new(StallControl {
            stall,
            writes: AtomicU64::new(0),
            stalled: AtomicBool::new(false),
            marker: dir.join(STALLED_MARKER),
        });
        let systems = persistent_systems(&dir)
            .into_iter()
            .map(|(name, inner)| {
                let adapter: Arc<dyn Adapter> = Arc::new(Stalling {
                    inner,
                    control: control.clone(),
                });
                (name, adapter)
            })
            .collect();
        let audit = Arc::new(StallingAudit {
            store: store.clone(),
            control: control.clone(),
            appended: AtomicU64::new(0),
        });
        let report = executor(systems, &store, audit)
            .apply(&run_id(), &approved(&plan()))
            .await
            .unwrap();
        std::fs::write(dir.join(FINISHED_MARKER), format!("{:?}", report.totals)).unwrap();
    });
}

// ---------------------------------------------------------------- the parent

fn scenario_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provision-crash-resume-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn spawn_child(dir: &Path, stall: Stall) -> Child {
    let stderr = std::fs::File::create(dir.join("child.stderr")).unwrap();
    Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_resume::crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_STALL_ENV, stall.to_env())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("starting the child process")
}

/// Waits (bounded) until `ready` holds; fails clearly if the child ends first.
fn wait_for(child: &mut Child, dir: &Path, what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    loop {
        if ready() {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = std::fs::read_to_string(dir.join("child.stderr")).unwrap_or_default();
            panic!(
                "the child ended ({status}) before {what}; finished marker: {}; stderr:\n{stderr}",
                dir.join(FINISHED_MARKER).exists()
            );
        }
        if start.elapsed() > WAIT_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "waited {WAIT_LIMIT:?} for {what}; writes so far: {}",
                write_log(dir).len()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What the journal said when the child was killed.
#[derive(Debug, Default)]
struct AtKill {
    /// Audit records stored.
    audited: usize,
    /// In flight in the journal, and already in the audit log.
    in_flight_audited: usize,
    writes: usize,
    finals: usize,
    /// In flight, and the system already has the write.
    in_flight_applied: usize,
    /// In flight, and no write reached the system.
    in_flight_not_sent: usize,
}

/// What an uninterrupted run leaves in fresh systems.
async fn uninterrupted() -> BTreeMap<String, SandboxSnapshot> {
    let systems: Vec<(&'static str, Arc<SandboxSystem>)> = SYSTEMS
        .iter()
        .map(|&name| (name, Arc::new(support::sandbox(name, Duration::ZERO))))
        .collect();
    let mut builder = Executor::builder();
    for (name, s) in &systems {
        builder = builder.system(
            *name,
            s.clone() as Arc<dyn Adapter>,
            SystemConfig::new("sandbox"),
        );
    }
    let report = builder
        .build()
        .unwrap()
        .apply(&run_id(), &approved(&plan()))
        .await
        .unwrap();
    assert_eq!(
        report.success_rate(),
        1.0,
        "the uninterrupted run failed: {report:?}"
    );
    systems
        .into_iter()
        .map(|(name, s)| (name.to_owned(), s.snapshot()))
        .collect()
}

fn crash_and_resume(name: &str, stall: Stall, kill_at_writes: Option<usize>) -> AtKill {
    let dir = scenario_dir(name);
    let plan = plan();
    let total = plan.operations.len();

    // 1. The child applies the plan until the kill point; then SIGKILL.
    let mut child = spawn_child(&dir, stall);
    match kill_at_writes {
        Some(n) => wait_for(&mut child, &dir, &format!("{n} writes"), || {
            write_log(&dir).len() >= n
        }),
        None => wait_for(&mut child, &dir, "the child to stall", || {
            dir.join(STALLED_MARKER).exists()
        }),
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the child was killed, not finished: {status}"
    );
    assert!(
        !dir.join(FINISHED_MARKER).exists(),
        "the child finished its run before the kill point"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // 2. What the killed process left behind.
        let store = Arc::new(SqliteStore::open(dir.join("provision.db")).await.unwrap());
        let before = write_log(&dir);
        let sent: BTreeSet<&OperationId> = before.iter().map(|w| &w.operation).collect();
        let mut last: BTreeMap<OperationId, OperationState> = BTreeMap::new();
        for entry in store.entries(&run_id()).await.unwrap() {
            last.insert(entry.operation, entry.state);
        }
        let audited_before = store.run_history(&run_id()).await.unwrap();
        let audited_ops_before: BTreeSet<&OperationId> =
            audited_before.iter().map(|r| &r.event.operation).collect();
        let mut at_kill = AtKill {
            writes: before.len(),
            audited: audited_before.len(),
            ..AtKill::default()
        };
        for (op, state) in &last {
            if matches!(state, OperationState::InFlight { .. }) && audited_ops_before.contains(op) {
                at_kill.in_flight_audited += 1;
            }
            match state {
                s if s.is_final() => at_kill.finals += 1,
                OperationState::InFlight { .. } if sent.contains(op) => {
                    at_kill.in_flight_applied += 1;
                }
                OperationState::InFlight { .. } => at_kill.in_flight_not_sent += 1,
                _ => {}
            }
        }
        assert!(
            at_kill.finals < total,
            "the kill came after the run was done: {at_kill:?}"
        );

        // 3. Resume in this process, with the same journal and the persisted systems.
        let systems = persistent_systems(&dir);
        let adapters = systems
            .iter()
            .map(|(n, s)| (*n, s.clone() as Arc<dyn Adapter>))
            .collect();
        let report = executor(adapters, &store, store.clone())
            .resume(&run_id())
            .await
            .unwrap();
        assert_eq!(
            report.success_rate(),
            1.0,
            "{name}: the resumed run did not finish every operation: {:?}",
            report.totals
        );

        // 4a. No write reached any system twice; every operation's change arrived once.
        let writes = write_log(&dir);
        let mut per_op: BTreeMap<&OperationId, Vec<&WriteRecord>> = BTreeMap::new();
        for w in &writes {
            per_op.entry(&w.operation).or_default().push(w);
        }
        let duplicates: Vec<_> = per_op.iter().filter(|(_, ws)| ws.len() > 1).collect();
        assert!(
            duplicates.is_empty(),
            "{name}: writes sent more than once (killed at {at_kill:?}): {duplicates:#?}"
        );
        for op in &plan.operations {
            let ws = per_op.get(&op.id).map(Vec::as_slice).unwrap_or_default();
            assert!(
                ws.len() == 1 && ws[0].changed,
                "{name}: {} should have reached {} exactly once, as a change: {ws:?}",
                op.id,
                op.system
            );
        }
        let creates: BTreeMap<(&SystemName, &str), usize> =
            writes.iter().filter(|w| w.kind == "create_account").fold(
                BTreeMap::new(),
                |mut m, w| {
                    *m.entry((&w.system, w.login.as_str())).or_default() += 1;
                    m
                },
            );
        assert!(creates.values().all(|&n| n == 1), "{name}: an account was created twice: {creates:?}");
        assert_eq!(creates.len(), IDENTITIES * SYSTEMS.len());

        // 4b. The systems (read back from their files) hold what an uninterrupted run gives.
        let expected = uninterrupted().await;
        for (system, want) in &expected {
            let reopened = sandbox(system).with_state_file(state_file(&dir, system)).unwrap();
            let got = reopened.snapshot();
            assert_eq!(&got, want, "{name}: {system} differs from an uninterrupted run");
            assert_eq!(got.accounts.len(), IDENTITIES);
            assert!(got.accounts.values().all(|s| *s == AccountState::Active));
            assert_eq!(got.grants.len(), IDENTITIES * GRANTS.len());
        }

        // 4c. The journal has every operation final (succeeded).
        let mut last: BTreeMap<OperationId, OperationState> = BTreeMap::new();
        for entry in store.entries(&run_id()).await.unwrap() {
            last.insert(entry.operation, entry.state);
        }
        for op in &plan.operations {
            assert!(
                matches!(last.get(&op.id), Some(OperationState::Succeeded { .. })),
                "{name}: journal's last state of {} is {:?}",
                op.id,
                last.get(&op.id)
            );
        }

        // 4d. The audit chain verifies; every operation is audited exactly once, as a
        // change (also the one whose audit record was written just before the kill).
        let verified = store.verify_audit().await.unwrap();
        let audited = store.run_history(&run_id()).await.unwrap();
        assert_eq!(verified.records, audited.len() as u64);
        let mut audited_ops: BTreeMap<&OperationId, usize> = BTreeMap::new();
        for record in &audited {
            *audited_ops.entry(&record.event.operation).or_default() += 1;
        }
        assert!(
            audited_ops.values().all(|&n| n == 1),
            "{name}: an operation was audited twice: {audited_ops:?}"
        );
        let unaudited: Vec<_> = plan
            .operations
            .iter()
            .filter(|op| !audited_ops.contains_key(&op.id))
            .map(|op| &op.id)
            .collect();
        assert!(
            unaudited.is_empty(),
            "{name}: changes that reached a system but are not in the audit log (killed at {at_kill:?}): {unaudited:?}"
        );
        assert_eq!(audited.len(), total, "{name}: one audit record per operation");
        assert!(
            audited.iter().all(|r| r.event.outcome == AuditOutcome::Changed),
            "{name}: every operation changed its system once: {audited:#?}"
        );
        eprintln!(
            "{name}: killed at {at_kill:?}; {} writes in all, {} audit records",
            writes.len(),
            verified.records
        );
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        at_kill
    })
}

#[test]
fn killed_after_the_first_write_while_it_is_in_flight() {
    let at_kill = crash_and_resume("after-first", Stall::AfterWrite(1), None);
    assert!(
        at_kill.in_flight_applied >= 1,
        "the kill should find the first write in flight and applied: {at_kill:?}"
    );
}

#[test]
fn killed_about_a_third_through_while_running_freely() {
    let total = plan().operations.len();
    let at_kill = crash_and_resume("a-third", Stall::Never, Some(total / 3));
    assert!(
        at_kill.writes >= total / 3 && at_kill.writes < total,
        "{at_kill:?}"
    );
}

#[test]
fn killed_about_two_thirds_through_before_a_write_was_sent() {
    let total = plan().operations.len() as u64;
    let at_kill = crash_and_resume("two-thirds", Stall::BeforeWrite(total * 2 / 3), None);
    assert!(
        at_kill.in_flight_not_sent >= 1,
        "the kill should find an operation in flight whose write never left: {at_kill:?}"
    );
}

#[test]
fn killed_between_an_audit_record_and_the_journal_outcome() {
    let total = plan().operations.len() as u64;
    let at_kill = crash_and_resume("after-audit", Stall::AfterAudit(total / 2), None);
    assert!(
        at_kill.audited as u64 >= total / 2,
        "the kill should come after {} audit records: {at_kill:?}",
        total / 2
    );
    assert!(
        at_kill.in_flight_audited >= 1,
        "the kill should find an audited operation still in flight in the journal: {at_kill:?}"
    );
}
