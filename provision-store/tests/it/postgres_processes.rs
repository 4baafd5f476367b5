//! Two orchestrator *processes* on one PostgreSQL database (issue 7): "two orchestrator
//! processes resuming or running at once never execute the same operation twice".
//!
//! The test binary runs itself twice (the children: [`orchestrator_process`], started
//! with [`CHILD_ROLE_ENV`] set). Process A applies a plan; process B resumes the same
//! run as soon as A has begun it. Both use one PostgreSQL database as journal, audit
//! log and operation claims, and the same persistent sandbox systems: state files
//! shared through an advisory file lock, and a write log that records the pid that sent
//! each write. The parent checks what a user would: every operation reached its system
//! exactly once across both pids, both processes did some of the work, the systems hold
//! the planned accounts and grants, the journal has every operation succeeded, and the
//! audit chain verifies with one record per operation, written by the process that sent
//! the write.
//!
//! Runs only with the `postgres` feature and `PROVISION_TEST_POSTGRES_URL` (`.ci/run`
//! starts a throwaway server); otherwise it prints SKIPPED and passes. The in-process
//! variant is `postgres_claims.rs`.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed assertion

use crate::pg_url;
use crate::support;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use provision_core::adapter::Adapter;
use provision_core::audit::AuditOutcome;
use provision_core::config::SystemConfig;
use provision_core::executor::{ClaimSettings, Executor, RetryConfig};
use provision_core::journal::{Journal, OperationState, RunId};
use provision_core::model::{AccountState, Entitlement};
use provision_sandbox::SandboxSystem;
use provision_store::PostgresStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use support::{
    GRANTS, IDENTITIES, SYSTEMS, approved, entitlement, login, plan, state_file, write_log,
};

/// Set (to `apply` or `resume`) when this binary runs as a child.
const CHILD_ROLE_ENV: &str = "PROVISION_PG_PROCESS_ROLE";
/// The scenario's directory (state files, write logs, markers, reports).
const CHILD_DIR_ENV: &str = "PROVISION_PG_PROCESS_DIR";
/// The database the children use (on the server of `PROVISION_TEST_POSTGRES_URL`).
const CHILD_DB_ENV: &str = "PROVISION_PG_PROCESS_DB";
/// Written by the resuming process once it is connected and waits for the run.
const B_READY_MARKER: &str = "resume-ready";

const LATENCY: Duration = Duration::from_millis(20);
/// Bounds every wait; only reached when something is wrong (2 loaded cores).
const WAIT_LIMIT: Duration = Duration::from_secs(60);

fn run_id() -> RunId {
    RunId("two-processes".into())
}

fn holder(role: &str) -> String {
    format!("process-{role}")
}

/// The sandbox systems kept in `dir`, shared by every process that opens them.
fn persistent_systems(dir: &Path) -> Vec<Arc<SandboxSystem>> {
    SYSTEMS
        .iter()
        .map(|&name| {
            let system = support::sandbox(name, LATENCY)
                .with_state_file(state_file(dir, name))
                .unwrap_or_else(|e| panic!("opening the state of {name}: {e}"));
            Arc::new(system)
        })
        .collect()
}

/// The scenario's database on the test server, or `None` (SKIPPED) without a server.
fn database_options(db: &str) -> Option<PgConnectOptions> {
    let url = std::env::var("PROVISION_TEST_POSTGRES_URL").ok()?;
    Some(PgConnectOptions::from_str(&url).unwrap().database(db))
}

// ---------------------------------------------------------------- the children

/// A child process's entry point, not a test of its own: the parent runs this binary
/// again with `--exact orchestrator_process --ignored` and [`CHILD_ROLE_ENV`] set.
#[test]
#[ignore = "entry point of the orchestrator processes the two-process test starts"]
fn orchestrator_process() {
    let Ok(role) = std::env::var(CHILD_ROLE_ENV) else {
        eprintln!("orchestrator_process runs only as a child of the two-process test");
        return;
    };
    let dir = PathBuf::from(std::env::var(CHILD_DIR_ENV).unwrap());
    let db = std::env::var(CHILD_DB_ENV).unwrap();
    let options = database_options(&db).expect("PROVISION_TEST_POSTGRES_URL in the child");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(PostgresStore::connect_with(options).await.unwrap());
        let systems = persistent_systems(&dir);
        let name = holder(&role);
        let mut builder = Executor::builder()
            .journal(store.clone())
            .audit_log(store.clone())
            .claims(
                store.clone(),
                ClaimSettings {
                    poll: Duration::from_millis(20),
                    ..ClaimSettings::new(name.clone())
                },
            )
            .retry(RetryConfig {
                initial_delay: Duration::from_millis(20),
                ..RetryConfig::default()
            })
            .actor(name);
        for system in &systems {
            let adapter: Arc<dyn Adapter> = system.clone();
            builder = builder.system(system.name().clone(), adapter, SystemConfig::new("sandbox"));
        }
        let executor = builder.build().unwrap();

        let report = match role.as_str() {
            "apply" => {
                // Start once the other process is connected and watching, so that both
                // run at the same time however slowly each one started.
                wait_until("the resuming process to be ready", || {
                    dir.join(B_READY_MARKER).exists()
                })
                .await;
                executor.apply(&run_id(), &approved(&plan())).await.unwrap()
            }
            _ => {
                std::fs::write(dir.join(B_READY_MARKER), b"ready").unwrap();
                // Resume as soon as the other process has begun the run.
                let started = Instant::now();
                while store.plan(&run_id()).await.is_err() {
                    assert!(started.elapsed() < WAIT_LIMIT, "the run never began");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                executor.resume(&run_id()).await.unwrap()
            }
        };
        let sent = report.operations.iter().filter(|o| !o.from_journal).count();
        std::fs::write(
            dir.join(format!("report-{role}")),
            format!("{} {sent} {}", std::process::id(), report.success_rate()),
        )
        .unwrap();
        store.close().await;
    });
}

async fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < WAIT_LIMIT,
            "waited {WAIT_LIMIT:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ---------------------------------------------------------------- the parent

fn spawn(dir: &Path, db: &str, role: &str) -> Child {
    let stderr = std::fs::File::create(dir.join(format!("{role}.stderr"))).unwrap();
    Command::new(std::env::current_exe().unwrap())
        .args([
            "postgres_processes::orchestrator_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ROLE_ENV, role)
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_DB_ENV, db)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("starting a child process")
}

/// Waits (bounded) for both children; fails with their stderr if one fails.
fn wait_for_both(dir: &Path, children: &mut [(&str, Child)]) {
    let started = Instant::now();
    let mut done = vec![false; children.len()];
    while done.iter().any(|d| !d) {
        for (i, (role, child)) in children.iter_mut().enumerate() {
            if done[i] {
                continue;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let stderr =
                    std::fs::read_to_string(dir.join(format!("{role}.stderr"))).unwrap_or_default();
                assert!(
                    status.success(),
                    "process {role} failed ({status}):\n{stderr}"
                );
                done[i] = true;
            }
        }
        if started.elapsed() > WAIT_LIMIT {
            for (_, child) in children.iter_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
            panic!(
                "waited {WAIT_LIMIT:?} for both processes; writes so far: {}",
                write_log(dir).len()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a child wrote when its run returned: pid, operations it sent, success rate.
fn child_report(dir: &Path, role: &str) -> (u32, usize, f64) {
    let text = std::fs::read_to_string(dir.join(format!("report-{role}"))).unwrap();
    let mut parts = text.split_whitespace();
    let mut next = || parts.next().unwrap();
    (
        next().parse().unwrap(),
        next().parse().unwrap(),
        next().parse().unwrap(),
    )
}

async fn fresh_database(admin_url: &str, db: &str) {
    let mut conn = PgConnectOptions::from_str(admin_url)
        .unwrap()
        .connect()
        .await
        .unwrap();
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_apply_and_resume_one_run_each_operation_reaches_its_system_once() {
    let Some(admin_url) = pg_url::postgres_url("two_processes_apply_and_resume_one_run") else {
        return;
    };
    let db = format!("provision_processes_{}", std::process::id());
    fresh_database(&admin_url, &db).await;
    let dir = std::env::temp_dir().join(format!("provision-pg-processes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let plan = plan();
    let total = plan.operations.len();
    let started = Instant::now();

    // 1. Both processes at once: A applies, B resumes the run A begins.
    let b = spawn(&dir, &db, "resume");
    let a = spawn(&dir, &db, "apply");
    let (a_pid, b_pid) = (a.id(), b.id());
    let children = &mut [("apply", a), ("resume", b)];
    tokio::task::block_in_place(|| wait_for_both(&dir, children));
    let elapsed = started.elapsed();

    // 2. Each operation reached its system exactly once, across both pids, and changed it.
    let writes = write_log(&dir);
    let mut per_operation: BTreeMap<_, Vec<u32>> = BTreeMap::new();
    for w in &writes {
        per_operation
            .entry(w.operation.clone())
            .or_default()
            .push(w.pid);
    }
    let twice: Vec<_> = per_operation.iter().filter(|(_, p)| p.len() > 1).collect();
    assert!(twice.is_empty(), "sent more than once (pids): {twice:?}");
    assert_eq!(writes.len(), total, "writes: {writes:#?}");
    for op in &plan.operations {
        assert!(per_operation.contains_key(&op.id), "never sent: {}", op.id);
    }
    assert!(writes.iter().all(|w| w.changed), "{writes:#?}");
    let pids: BTreeSet<u32> = writes.iter().map(|w| w.pid).collect();
    assert_eq!(
        pids,
        BTreeSet::from([a_pid, b_pid]),
        "both processes sent writes"
    );

    // 3. Both processes finished their run successfully and say they sent some.
    let (a_reported_pid, a_sent, a_rate) = child_report(&dir, "apply");
    let (b_reported_pid, b_sent, b_rate) = child_report(&dir, "resume");
    assert_eq!((a_reported_pid, b_reported_pid), (a_pid, b_pid));
    assert_eq!((a_rate, b_rate), (1.0, 1.0));
    let by_pid = |pid| writes.iter().filter(|w| w.pid == pid).count();
    assert!(a_sent > 0 && b_sent > 0, "a sent {a_sent}, b sent {b_sent}");
    assert_eq!(
        by_pid(a_pid) + by_pid(b_pid),
        total,
        "every write came from one of the two processes"
    );

    // 4. The systems hold what the plan asked for (read from the shared files).
    for system in persistent_systems(&dir) {
        let name = system.name().to_string();
        let got = system.snapshot();
        let logins: BTreeSet<String> = (0..IDENTITIES).map(login).collect();
        assert_eq!(
            got.accounts.keys().cloned().collect::<BTreeSet<_>>(),
            logins,
            "{name}"
        );
        assert!(
            got.accounts.values().all(|s| *s == AccountState::Active),
            "{name}"
        );
        let expected: BTreeSet<(String, Entitlement)> = logins
            .iter()
            .flat_map(|l| GRANTS.map(|r| (l.clone(), entitlement(&name, r))))
            .collect();
        assert_eq!(got.grants, expected, "{name}");
    }

    // 5. The shared journal has every operation succeeded.
    let store = PostgresStore::connect_with(database_options(&db).unwrap())
        .await
        .unwrap();
    let mut last = BTreeMap::new();
    for entry in store.entries(&run_id()).await.unwrap() {
        last.insert(entry.operation, entry.state);
    }
    for op in &plan.operations {
        assert!(
            matches!(last.get(&op.id), Some(OperationState::Succeeded { .. })),
            "journal's last state of {}: {:?}",
            op.id,
            last.get(&op.id)
        );
    }

    // 6. The audit chain verifies, with one record per operation, each a change audited
    //    by the process that sent the write.
    let verified = store.verify_audit().await.unwrap();
    let audited = store.run_history(&run_id()).await.unwrap();
    assert_eq!(verified.records, total as u64);
    assert_eq!(audited.len(), total);
    let holder_of = |pid: u32| {
        if pid == a_pid {
            holder("apply")
        } else {
            holder("resume")
        }
    };
    let mut audited_ops = BTreeSet::new();
    for record in &audited {
        let event = &record.event;
        assert!(
            audited_ops.insert(event.operation.clone()),
            "audited twice: {}",
            event.operation
        );
        assert_eq!(event.outcome, AuditOutcome::Changed, "{event:?}");
        let sender = per_operation[&event.operation][0];
        assert_eq!(
            event.actor,
            holder_of(sender),
            "{} was sent by pid {sender} but audited by {}",
            event.operation,
            event.actor
        );
    }
    eprintln!(
        "{total} operations in {elapsed:?}: process A (pid {a_pid}) sent {}, process B (pid {b_pid}) sent {}",
        by_pid(a_pid),
        by_pid(b_pid)
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
