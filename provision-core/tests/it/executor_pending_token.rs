//! A pending operation's resume token (an asynchronous request's id) goes into the
//! journal with the pending state, and a resumed run hands it back to a new adapter
//! before checking, so the check finds that request instead of sending the operation
//! again (issue 12: AWS account assignments after a restart).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, PendingDeadline, SystemDescriptor,
    SystemError,
};
use provision_core::config::SystemConfig;
use provision_core::executor::{Executor, OperationOutcome, PendingConfig};
use provision_core::journal::{Journal, MemoryJournal, OperationState, RunId};
use provision_core::model::{
    AccountRecord, AccountRef, Entitlement, GrantRecord, IdentityId, Operation, OperationId,
    OperationKind, Plan, Priority, Reason, ReasonKind, ResourceRef, SystemName,
};
use provision_core::planner::ApprovedPlan;

/// A system whose grants complete later: `execute` starts request `req-<n>`; `check`
/// can only read the status of a request it knows, and a known request has finished.
struct AsyncSystem {
    descriptor: SystemDescriptor,
    pending: Mutex<HashMap<OperationId, String>>,
    sent: Arc<Mutex<u32>>,
    finished: bool,
}

impl AsyncSystem {
    fn new(sent: Arc<Mutex<u32>>, finished: bool) -> Self {
        let mut descriptor = SystemDescriptor::new("async");
        descriptor.pending_deadline = PendingDeadline::After {
            wait: Duration::from_millis(50),
        };
        AsyncSystem {
            descriptor,
            pending: Mutex::default(),
            sent,
            finished,
        }
    }
}

#[async_trait]
impl Adapter for AsyncSystem {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    async fn read_accounts(&self, _: Option<&str>) -> Result<Page<AccountRecord>, AdapterError> {
        Ok(Page::last(Vec::new()))
    }

    async fn read_grants(
        &self,
        _: &ResourceRef,
        _: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        Ok(Page::last(Vec::new()))
    }

    async fn execute(&self, op: &Operation, _: &AccountRef) -> Result<Applied, AdapterError> {
        let n = {
            let mut sent = self.sent.lock().unwrap();
            *sent += 1;
            *sent
        };
        self.pending
            .lock()
            .unwrap()
            .insert(op.id.clone(), format!("req-{n}"));
        Err(AdapterError::Pending {
            recheck_after: Duration::from_millis(10),
            error: SystemError::message("in progress"),
        })
    }

    async fn check(&self, op: &Operation, _: &AccountRef) -> Result<CheckStatus, AdapterError> {
        match self.pending.lock().unwrap().get(&op.id) {
            Some(_) if self.finished => Ok(CheckStatus::Done { external_id: None }),
            Some(_) => Ok(CheckStatus::Pending {
                recheck_after: Duration::from_millis(10),
            }),
            // no request known: nothing to read, so it is not done
            None => Ok(CheckStatus::NotDone),
        }
    }

    fn pending_resume_token(&self, op: &OperationId) -> Option<String> {
        self.pending.lock().unwrap().get(op).cloned()
    }

    fn resume_pending(&self, op: &OperationId, token: &str) {
        self.pending
            .lock()
            .unwrap()
            .insert(op.clone(), token.to_owned());
    }
}

fn grant() -> Operation {
    let identity = IdentityId::new("e1001");
    let system = SystemName::new("async");
    let kind = OperationKind::Grant {
        entitlement: Entitlement::new("async", "group", "eng"),
    };
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        identity,
        login: "sarah@example.com".into(),
        system,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec!["engineering".into()],
            event: None,
            detail: "test".into(),
            valid_until: None,
        },
        priority: Priority::Normal,
    }
}

fn executor(adapter: AsyncSystem, journal: &Arc<MemoryJournal>) -> Executor {
    Executor::builder()
        .system(
            "async",
            Arc::new(adapter) as Arc<dyn Adapter>,
            SystemConfig::new("async"),
        )
        .journal(journal.clone() as Arc<dyn Journal>)
        .pending(PendingConfig {
            interval: Duration::from_millis(10),
            deadline: Duration::from_millis(50),
        })
        .build()
        .unwrap()
}

/// A hand-built test plan, confirmed (as a person reviewing it would) for every
/// identity it takes access from.
fn approved(plan: &Plan) -> ApprovedPlan {
    let identities: std::collections::BTreeSet<_> = plan
        .operations
        .iter()
        .filter(|op| op.kind.is_removal())
        .map(|op| &op.identity)
        .collect();
    ApprovedPlan::confirmed(plan.clone(), identities.len(), identities.len()).unwrap()
}

#[tokio::test]
async fn a_pending_operations_token_is_journaled_and_handed_back_on_resume() {
    let journal = Arc::new(MemoryJournal::new());
    let run = RunId("async-grant".into());
    let sent = Arc::new(Mutex::new(0));
    let plan = Plan {
        operations: vec![grant()],
        dependencies: Vec::new(),
    };

    // the first run leaves it pending, its request id journaled
    let report = executor(AsyncSystem::new(sent.clone(), false), &journal)
        .apply(&run, &approved(&plan))
        .await
        .unwrap();
    assert_eq!(report.operations[0].outcome, OperationOutcome::Pending);
    let entries = journal.entries(&run).await.unwrap();
    assert!(
        entries.iter().any(|e| e.state
            == OperationState::Pending {
                resume: Some("req-1".into())
            }),
        "{entries:?}"
    );

    // a new process: a new adapter that knows nothing, and the request has finished
    let report = executor(AsyncSystem::new(sent.clone(), true), &journal)
        .resume(&run)
        .await
        .unwrap();
    assert!(report.operations[0].outcome.is_success(), "{report:?}");
    assert_eq!(*sent.lock().unwrap(), 1, "found again, not sent again");
}
