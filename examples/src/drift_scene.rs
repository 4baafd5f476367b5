//! Scene 4, drift: someone changes Slack by hand, behind the SDK's back (no planner,
//! no journal, no audit); a drift run reads every system back, finds the
//! differences, and fixes what each system's `drift_remediation` allows, through the
//! orderer, the executor and the audit log.

use std::collections::BTreeSet;
use std::time::Duration;

use provision_core::adapter::{Adapter, AdapterError};
use provision_core::audit::AuditRecord;
use provision_core::drift::DriftReport;
use provision_core::executor::ExecutionReport;
use provision_core::journal::RunId;
use provision_core::model::{
    AccountRef, Entitlement, ExternalIds, Identity, Operation, OperationId, OperationKind, Plan,
    Reason, ReasonKind, SystemName,
};
use provision_sandbox::SandboxSystem;

use crate::scenes::Quickstart;
use crate::{QuickstartError, show};

/// Marcus Webb, an engineer someone adds to a Sales channel by hand.
pub const MARCUS: &str = "e1002";
/// Lee Park, an account executive someone removes from `#sales` by hand.
pub const LEE: &str = "e1006";
/// The run id of the remediation.
pub const DRIFT_RUN: &str = "quickstart-4-drift";
/// The event the drift run's operations carry.
pub const DRIFT_EVENT: &str = "drift-check";
/// "Rate limited" answers a change by hand waits out before giving up.
const BY_HAND_RETRIES: u32 = 10;

/// What the drift scene did.
#[derive(Debug, Clone)]
pub struct DriftOutcome {
    /// The changes made by hand, straight through the sandbox's `execute`.
    pub by_hand: Vec<Operation>,
    /// The drift run's findings.
    pub findings: DriftReport,
    /// The remediation the systems' `drift_remediation` modes chose, in execution order.
    pub plan: Plan,
    /// The executor's report of the remediation.
    pub report: ExecutionReport,
    /// The remediation's audit records, read back from the SQLite store.
    pub audit: Vec<AuditRecord>,
    /// A second drift run after the remediation.
    pub after: DriftReport,
}

fn manual(person: &Identity, kind: OperationKind) -> Operation {
    let system = SystemName::new("slack");
    Operation {
        id: OperationId(format!(
            "by-hand/{}",
            Operation::make_id(&person.id, &system, &kind)
        )),
        identity: person.id.clone(),
        login: person.login.clone(),
        system,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: Vec::new(),
            event: None,
            detail: "a change made by hand in the Slack admin console".to_owned(),
            valid_until: None,
        },
        priority: Default::default(),
    }
}

/// Makes `op` in `sandbox` directly, the way an admin console would: no planner,
/// no journal, no audit. Waits out "rate limited" answers.
async fn by_hand(
    sandbox: &SandboxSystem,
    op: &Operation,
    account: &AccountRef,
) -> Result<(), QuickstartError> {
    let mut limited = 0;
    loop {
        match sandbox.execute(op, account).await {
            Ok(_) => return Ok(()),
            Err(AdapterError::RateLimited { info, .. }) if limited < BY_HAND_RETRIES => {
                limited += 1;
                let wait = info.retry_after.unwrap_or(Duration::from_secs(1));
                tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
            }
            Err(error) => {
                return Err(QuickstartError::ByHand {
                    system: op.system.clone(),
                    error: Box::new(error),
                });
            }
        }
    }
}

/// The account `op` acts on, with its id from a read.
fn account_of(ids: &ExternalIds, op: &Operation) -> AccountRef {
    AccountRef {
        login: op.login.clone(),
        external_id: ids.get(&op.identity, &op.system).cloned(),
    }
}

impl Quickstart {
    /// Scene 4: Marcus is added to `#sales-engineering` and Lee removed from `#sales`
    /// by hand in Slack. The drift run finds both and, Slack's channels being
    /// authoritative with `drift_remediation: fix_all`, revokes the one and grants the
    /// other back; the audit records of the fix are read back from the store.
    pub async fn detect_and_fix_drift(&mut self) -> Result<DriftOutcome, QuickstartError> {
        let marcus = self.person(MARCUS)?;
        let lee = self.person(LEE)?;
        self.console.say("");
        self.console
            .say("== 4. drift: two changes made by hand in Slack, behind the SDK's back ==");
        let slack = self
            .systems
            .sandbox("slack")
            .ok_or_else(|| QuickstartError::NoSandbox {
                system: SystemName::new("slack"),
            })?;
        let changes = vec![
            manual(
                &marcus,
                OperationKind::Grant {
                    entitlement: Entitlement::new("slack", "channel", "#sales-engineering"),
                },
            ),
            manual(
                &lee,
                OperationKind::Revoke {
                    entitlement: Entitlement::new("slack", "channel", "#sales"),
                },
            ),
        ];
        // Read once, for the accounts' ids the by-hand changes need.
        let ids = ExternalIds::from_actual(&self.engine.actual(&self.roster).await?);
        for op in &changes {
            by_hand(&slack, op, &account_of(&ids, op)).await?;
            self.console.say(format!(
                "  by hand in slack: {} — {} (no plan, no journal, no audit record)",
                self.name_of(&op.identity),
                show::what(&op.kind)
            ));
        }

        let findings = self.engine.drift(&self.roster).await?;
        let guarded = self
            .engine
            .remediation(&findings, &self.roster, DRIFT_EVENT)
            .await?;
        let chosen: BTreeSet<OperationId> = guarded
            .preview()
            .operations
            .iter()
            .map(|o| o.id.clone())
            .collect();
        self.console.say(format!(
            "drift run: {} finding(s) over {} systems",
            findings.findings.len(),
            self.engine.config().systems.len()
        ));
        for f in &findings.findings {
            let name = f
                .identity
                .as_ref()
                .map_or_else(|| "(no identity)".to_owned(), |id| self.name_of(id));
            let fixed = f.remediation.iter().any(|o| chosen.contains(&o.id));
            for line in show::finding(f, &name, fixed) {
                self.console.say(line);
            }
        }

        self.console.say(format!(
            "remediation ({} operations, chosen per system by drift_remediation):",
            guarded.preview().operations.len()
        ));
        for line in show::plan(guarded.preview()) {
            self.console.say(line);
        }
        self.say_blast_radius(guarded.preview());
        let plan = guarded.approve()?;

        self.progress.follow(&plan, |op| self.name_of(&op.identity));
        self.console.say("applying:");
        let run = RunId(DRIFT_RUN.to_owned());
        let report = self.engine.apply_as(&run, &plan).await?;
        for line in show::report(&report) {
            self.console.say(line);
        }

        let audit = self.store.run_history(&run).await?;
        self.console.say(format!(
            "  audit records of run {DRIFT_RUN}, read back from the SQLite store:"
        ));
        for r in &audit {
            self.console.say(show::audit_record(r));
            self.console
                .say(format!("        why: {}", r.event.reason.detail));
        }

        let after = self.engine.drift(&self.roster).await?;
        let fixed_left = after
            .findings
            .iter()
            .filter(|f| f.remediation.iter().any(|o| chosen.contains(&o.id)))
            .count();
        let left: Vec<String> = after
            .findings
            .iter()
            .map(|f| format!("{} {} in {}", f.severity, f.class, f.system))
            .collect();
        self.console.say(format!(
            "  read back: {fixed_left} of the fixed findings remain; left for a person: {}",
            if left.is_empty() {
                "nothing".to_owned()
            } else {
                left.join(", ")
            }
        ));
        Ok(DriftOutcome {
            by_hand: changes,
            findings,
            plan: plan.plan().clone(),
            report,
            audit,
            after,
        })
    }
}
