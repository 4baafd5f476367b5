//! The report of a run: per operation outcome, attempts and timings; totals.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::adapter::{AdapterError, Effect};
use crate::journal::RunId;
use crate::model::{Entitlement, IdentityId, OperationId, Priority, SystemName};

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum OperationOutcome {
    /// The system changed.
    Succeeded,
    /// It was already so (member already, account adopted, already gone).
    AlreadyInPlace,
    /// Failed for good, with the system's own error.
    Failed {
        /// The classified error, with the system's status, code and message.
        error: AdapterError,
    },
    /// Not run because an operation it depends on did not succeed.
    Skipped {
        /// That operation.
        because: OperationId,
    },
    /// Accepted by the system, not complete when the run stopped checking.
    Pending,
}

impl OperationOutcome {
    /// True for succeeded and already in place.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            OperationOutcome::Succeeded | OperationOutcome::AlreadyInPlace
        )
    }

    pub(crate) fn from_effect(effect: Effect) -> Self {
        match effect {
            Effect::Changed => OperationOutcome::Succeeded,
            Effect::AlreadyInPlace => OperationOutcome::AlreadyInPlace,
        }
    }
}

impl fmt::Display for OperationOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperationOutcome::Succeeded => f.write_str("succeeded"),
            OperationOutcome::AlreadyInPlace => f.write_str("already in place"),
            OperationOutcome::Failed { error } => write!(f, "FAILED ({error})"),
            OperationOutcome::Skipped { because } => {
                write!(f, "skipped because {because} did not succeed")
            }
            OperationOutcome::Pending => f.write_str("pending (the system completes it later)"),
        }
    }
}

/// One operation in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationReport {
    /// The operation.
    pub operation: OperationId,
    /// Whose access.
    pub identity: IdentityId,
    /// Where.
    pub system: SystemName,
    /// The verb (`grant`, `suspend_account`).
    pub action: String,
    /// The entitlement, for grants and revocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement: Option<Entitlement>,
    /// Scheduling priority.
    pub priority: Priority,
    /// How it ended.
    pub outcome: OperationOutcome,
    /// Times the change was sent to the system (over this run and, for a resumed run,
    /// the interrupted one).
    pub attempts: u32,
    /// Times the executor asked the system whether the change was in place.
    pub checks: u32,
    /// When the first attempt was sent (in this run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the outcome was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// True when the outcome was already in the journal (a resumed run did not run it).
    #[serde(default)]
    pub from_journal: bool,
    /// The adapter's note on how the change was made, when it differs from what was
    /// asked (GitLab blocked a leaver it refused to deactivate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Counts per outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Operations in the plan.
    pub operations: usize,
    /// Changed the system.
    pub succeeded: usize,
    /// Already so.
    pub already_in_place: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
    /// Still pending.
    pub pending: usize,
    /// Requests that sent a change (attempts over all operations).
    pub attempts: u64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionReport {
    /// The run.
    pub run: RunId,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Per operation, in plan order.
    pub operations: Vec<OperationReport>,
    /// Counts.
    pub totals: Totals,
}

impl ExecutionReport {
    pub(crate) fn new(
        run: RunId,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        operations: Vec<OperationReport>,
    ) -> Self {
        let mut totals = Totals {
            operations: operations.len(),
            ..Totals::default()
        };
        for op in &operations {
            totals.attempts += u64::from(op.attempts);
            match op.outcome {
                OperationOutcome::Succeeded => totals.succeeded += 1,
                OperationOutcome::AlreadyInPlace => totals.already_in_place += 1,
                OperationOutcome::Failed { .. } => totals.failed += 1,
                OperationOutcome::Skipped { .. } => totals.skipped += 1,
                OperationOutcome::Pending => totals.pending += 1,
            }
        }
        Self {
            run,
            started_at,
            finished_at,
            operations,
            totals,
        }
    }

    /// Share of the plan's operations that ended in place (succeeded or already in
    /// place), from 0.0 to 1.0; 1.0 for an empty plan.
    pub fn success_rate(&self) -> f64 {
        if self.totals.operations == 0 {
            return 1.0;
        }
        let ok = self.totals.succeeded + self.totals.already_in_place;
        ok as f64 / self.totals.operations as f64
    }

    /// True when every operation ended in place.
    pub fn is_complete(&self) -> bool {
        self.operations.iter().all(|o| o.outcome.is_success())
    }

    /// The report of one operation.
    pub fn operation(&self, id: &OperationId) -> Option<&OperationReport> {
        self.operations.iter().find(|o| &o.operation == id)
    }
}

impl fmt::Display for ExecutionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        let took = (self.finished_at - self.started_at).num_milliseconds();
        writeln!(
            f,
            "run {} — {} operations in {:.1} s",
            self.run,
            t.operations,
            took as f64 / 1000.0
        )?;
        writeln!(
            f,
            "  {} succeeded, {} already in place, {} failed, {} skipped, {} pending; success rate {:.1} %",
            t.succeeded,
            t.already_in_place,
            t.failed,
            t.skipped,
            t.pending,
            self.success_rate() * 100.0
        )?;
        for op in &self.operations {
            let mark = match op.outcome {
                OperationOutcome::Succeeded | OperationOutcome::AlreadyInPlace => "ok  ",
                OperationOutcome::Failed { .. } => "FAIL",
                OperationOutcome::Skipped { .. } => "skip",
                OperationOutcome::Pending => "wait",
            };
            write!(f, "  {mark} {} — {}", op.operation, op.outcome)?;
            if op.attempts > 1 {
                write!(f, " after {} attempts", op.attempts)?;
            }
            if let Some(note) = &op.note {
                write!(f, " ({note})")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::SystemError;

    fn op(id: &str, outcome: OperationOutcome, attempts: u32) -> OperationReport {
        OperationReport {
            operation: OperationId(id.into()),
            identity: IdentityId::new("e1"),
            system: SystemName::new("okta"),
            action: "grant".into(),
            entitlement: None,
            priority: Priority::Normal,
            outcome,
            attempts,
            checks: 0,
            started_at: None,
            finished_at: None,
            from_journal: false,
            note: None,
        }
    }

    #[test]
    fn totals_rate_and_display_say_what_happened() {
        let now = Utc::now();
        let report = ExecutionReport::new(
            RunId("r1".into()),
            now,
            now,
            vec![
                op("a", OperationOutcome::Succeeded, 3),
                op("b", OperationOutcome::AlreadyInPlace, 1),
                op(
                    "c",
                    OperationOutcome::Failed {
                        error: AdapterError::Permanent {
                            error: SystemError::new(
                                Some(403),
                                Some("E0000006".into()),
                                "You do not have permission",
                            ),
                        },
                    },
                    1,
                ),
                op(
                    "d",
                    OperationOutcome::Skipped {
                        because: OperationId("c".into()),
                    },
                    0,
                ),
            ],
        );
        assert_eq!(report.totals.succeeded, 1);
        assert_eq!(report.totals.failed, 1);
        assert_eq!(report.totals.attempts, 5);
        assert!((report.success_rate() - 0.5).abs() < 1e-9);
        let text = report.to_string();
        assert!(
            text.contains(
                "FAIL c — FAILED (permanent: HTTP 403 E0000006: You do not have permission)"
            ),
            "{text}"
        );
        assert!(
            text.contains("skip d — skipped because c did not succeed"),
            "{text}"
        );
        assert!(text.contains("a — succeeded after 3 attempts"), "{text}");
        let json = serde_json::to_string(&report).expect("serialises");
        let back: ExecutionReport = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, report);
    }
}
