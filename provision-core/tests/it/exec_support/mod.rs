//! Shared test support: small in-memory journal and audit log, plan builders.
#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use provision_core::audit::{AuditError, AuditEvent, AuditLog, AuditRecord};
use provision_core::config::SystemConfig;
use provision_core::executor::{Executor, ExecutorBuilder, RetryConfig};
use provision_core::journal::{Journal, JournalEntry, JournalError, OperationState, RunId};
use provision_core::model::{
    AccountProfile, Dependency, Entitlement, IdentityId, Operation, OperationKind, Plan, Priority,
    Reason, ReasonKind, SystemName,
};
use provision_sandbox::SandboxSystem;

pub mod contract;

/// A journal in memory.
#[derive(Default)]
pub struct MemJournal {
    runs: Mutex<BTreeMap<RunId, (Plan, Vec<JournalEntry>)>>,
}

impl MemJournal {
    pub fn entries_of(&self, run: &RunId) -> Vec<JournalEntry> {
        self.runs
            .lock()
            .unwrap()
            .get(run)
            .map(|(_, e)| e.clone())
            .unwrap_or_default()
    }

    /// How many times each operation was sent (InFlight entries).
    pub fn attempts(&self, run: &RunId) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for e in self.entries_of(run) {
            if let OperationState::InFlight { .. } = e.state {
                *out.entry(e.operation.0.clone()).or_default() += 1;
            }
        }
        out
    }
}

#[async_trait]
impl Journal for MemJournal {
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError> {
        self.runs
            .lock()
            .unwrap()
            .insert(run.clone(), (plan.clone(), Vec::new()));
        Ok(())
    }
    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let mut runs = self.runs.lock().unwrap();
        let (_, entries) = runs
            .get_mut(&entry.run)
            .ok_or_else(|| JournalError::UnknownRun(entry.run.clone()))?;
        entries.push(entry.clone());
        Ok(())
    }
    async fn plan(&self, run: &RunId) -> Result<Plan, JournalError> {
        self.runs
            .lock()
            .unwrap()
            .get(run)
            .map(|(p, _)| p.clone())
            .ok_or_else(|| JournalError::UnknownRun(run.clone()))
    }
    async fn entries(&self, run: &RunId) -> Result<Vec<JournalEntry>, JournalError> {
        self.runs
            .lock()
            .unwrap()
            .get(run)
            .map(|(_, e)| e.clone())
            .ok_or_else(|| JournalError::UnknownRun(run.clone()))
    }
    async fn unfinished(
        &self,
    ) -> Result<Vec<(RunId, provision_core::model::OperationId)>, JournalError> {
        let runs = self.runs.lock().unwrap();
        let mut open = Vec::new();
        for (run, (_, entries)) in runs.iter() {
            let mut last = BTreeMap::new();
            for e in entries {
                last.insert(e.operation.clone(), e.state.is_final());
            }
            open.extend(
                last.into_iter()
                    .filter(|(_, done)| !done)
                    .map(|(op, _)| (run.clone(), op)),
            );
        }
        Ok(open)
    }
}

/// An audit log in memory (hash chain not needed here; the audit helper owns that).
#[derive(Default)]
pub struct MemAudit {
    records: Mutex<Vec<AuditRecord>>,
}

impl MemAudit {
    pub fn events(&self) -> Vec<AuditEvent> {
        self.records
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.event.clone())
            .collect()
    }
}

#[async_trait]
impl AuditLog for MemAudit {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        let mut records = self.records.lock().unwrap();
        let record = AuditRecord {
            seq: records.len() as u64,
            event,
            prev_hash: String::new(),
            hash: String::new(),
        };
        records.push(record.clone());
        Ok(record)
    }
    async fn records(&self) -> Result<Vec<AuditRecord>, AuditError> {
        Ok(self.records.lock().unwrap().clone())
    }
}

pub fn reason(kind: ReasonKind) -> Reason {
    Reason {
        kind,
        policies: vec!["Engineering Access".into()],
        event: None,
        detail: "test".into(),
        valid_until: None,
    }
}

pub fn login(person: &str) -> String {
    format!("{person}@example.com")
}

fn op(person: &str, system: &str, kind: OperationKind, priority: Priority) -> Operation {
    let identity = IdentityId::new(person);
    let system = SystemName::new(system);
    let reason_kind = if priority == Priority::Leaver {
        ReasonKind::Termination
    } else {
        ReasonKind::PolicyGrant
    };
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        identity,
        login: login(person),
        system,
        kind,
        reason: reason(reason_kind),
        priority,
    }
}

pub fn create(person: &str, system: &str) -> Operation {
    let l = login(person);
    op(
        person,
        system,
        OperationKind::CreateAccount {
            profile: AccountProfile {
                login: l.clone(),
                email: l,
                display_name: person.into(),
                attributes: BTreeMap::new(),
                ..Default::default()
            },
        },
        Priority::Normal,
    )
}

pub fn grant(person: &str, system: &str, kind: &str, resource: &str) -> Operation {
    op(
        person,
        system,
        OperationKind::Grant {
            entitlement: Entitlement::new(system, kind, resource),
        },
        Priority::Normal,
    )
}

pub fn revoke(person: &str, system: &str, kind: &str, resource: &str) -> Operation {
    op(
        person,
        system,
        OperationKind::Revoke {
            entitlement: Entitlement::new(system, kind, resource),
        },
        Priority::Normal,
    )
}

pub fn revoke_sessions(person: &str, system: &str) -> Operation {
    op(
        person,
        system,
        OperationKind::RevokeSessions,
        Priority::Leaver,
    )
}

pub fn suspend(person: &str, system: &str) -> Operation {
    op(
        person,
        system,
        OperationKind::SuspendAccount,
        Priority::Leaver,
    )
}

/// A plan whose every grant/op of a person in a system depends on that person's
/// CreateAccount in the same system (when the plan has one).
pub fn plan(operations: Vec<Operation>) -> Plan {
    let mut dependencies = Vec::new();
    for o in &operations {
        if matches!(o.kind, OperationKind::CreateAccount { .. }) {
            continue;
        }
        if let Some(c) = operations.iter().find(|c| {
            matches!(c.kind, OperationKind::CreateAccount { .. })
                && c.identity == o.identity
                && c.system == o.system
        }) {
            dependencies.push(Dependency {
                before: c.id.clone(),
                after: o.id.clone(),
            });
        }
    }
    Plan {
        operations,
        dependencies,
    }
}

pub fn fast_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 6,
        initial_delay: std::time::Duration::from_millis(50),
        max_delay: std::time::Duration::from_secs(2),
        ..RetryConfig::default()
    }
}

pub fn builder(systems: &[&Arc<SandboxSystem>]) -> ExecutorBuilder {
    let mut b = Executor::builder().retry(fast_retry()).actor("test-suite");
    for s in systems {
        let adapter: Arc<dyn provision_core::adapter::Adapter> = Arc::clone(s) as _;
        b = b.system(s.name().clone(), adapter, SystemConfig::new("sandbox"));
    }
    b
}

pub fn run(name: &str) -> RunId {
    RunId(name.into())
}

/// A hand-built test plan, confirmed (as a person reviewing it would) for every
/// identity it takes access from.
pub fn approved(plan: &Plan) -> provision_core::planner::ApprovedPlan {
    let identities: std::collections::BTreeSet<_> = plan
        .operations
        .iter()
        .filter(|op| op.kind.is_removal())
        .map(|op| &op.identity)
        .collect();
    provision_core::planner::ApprovedPlan::confirmed(
        plan.clone(),
        identities.len(),
        identities.len(),
    )
    .expect("a plan confirmed for all it removes is approved")
}
