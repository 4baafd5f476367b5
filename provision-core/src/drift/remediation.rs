//! Choosing which findings' fixes to apply, per system, by its `drift_remediation`.

use std::collections::BTreeSet;

use crate::config::{DeploymentConfig, DriftRemediation, Enforcement, SystemConfig};
use crate::model::{Operation, OperationKind, Plan, Priority};

use super::DriftReport;
use super::finding::{DriftClass, Finding, Holder, Subject};

impl DriftReport {
    /// The operations to apply, chosen per system by its `drift_remediation`:
    ///
    /// | mode | fixes |
    /// | --- | --- |
    /// | `report_only` (default) | none |
    /// | `fix_missing` | missing grants and accounts (grant, create, reactivate) |
    /// | `fix_all` | also: revoke unmanaged grants (those the planner would revoke: on resources policies manage, expired, an old role, or any grant where the kind's enforcement is authoritative), and, for terminated identities, what the planner plans for a leaver (the same operations: grants revoked where the account cannot be suspended, sessions revoked, accounts suspended, and deleted where `delete_leavers` and the system can delete) |
    ///
    /// Never: foreign-owned or pending findings, stale accounts, accounts or grants
    /// of holders that match no identity (they may be service or break-glass
    /// accounts: a person decides), anything where enforcement is `report`, and
    /// systems missing from `config`; an operation whose own kind is under `report`
    /// enforcement (the planner reports it, never executes it). Manual grants on resources no policy mentions
    /// stay under additive enforcement, as additive promises (they are no finding).
    ///
    /// Every operation carries the reason kind `DriftRemediation`; leaver work
    /// (`Priority::Leaver`) comes first, otherwise the report's order is kept.
    /// The plan has no dependency edges: the orderer adds them. It runs only as an
    /// [`ApprovedPlan`](crate::planner::ApprovedPlan), so the blast-radius guard applies
    /// to it like to any plan ([`Engine::remediation`](crate::engine::Engine::remediation)
    /// guards it).
    pub fn remediation_plan(&self, config: &DeploymentConfig) -> Plan {
        let mut seen = BTreeSet::new();
        let mut operations = Vec::new();
        for finding in &self.findings {
            let Some(system) = config.systems.get(&finding.system) else {
                continue;
            };
            if !selected(finding, system) {
                continue;
            }
            for op in &finding.remediation {
                if enforcement_of(op, system) == Enforcement::Report {
                    continue;
                }
                if seen.insert(op.id.clone()) {
                    operations.push(op.clone());
                }
            }
        }
        operations.sort_by_key(|op| op.priority != Priority::Leaver);
        tracing::info!(
            operations = operations.len(),
            "drift remediation plan selected"
        );
        Plan {
            operations,
            dependencies: Vec::new(),
        }
    }
}

/// The enforcement that governs one operation: its kind's for grants and revokes,
/// the system's for account operations (as in the planner).
fn enforcement_of(op: &Operation, system: &SystemConfig) -> Enforcement {
    match &op.kind {
        OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement } => {
            system.enforcement_for(&entitlement.kind)
        }
        _ => system.enforcement,
    }
}

/// Whether the system's mode (and enforcement) lets this finding be fixed.
fn selected(finding: &Finding, system: &SystemConfig) -> bool {
    let enforcement = match &finding.subject {
        Subject::Grant { entitlement } => system.enforcement_for(&entitlement.kind),
        Subject::Account { .. } => system.enforcement,
    };
    if enforcement == Enforcement::Report || finding.holder == Holder::Unknown {
        return false;
    }
    match (system.drift_remediation, finding.class) {
        (DriftRemediation::ReportOnly, _) => false,
        (DriftRemediation::FixMissing | DriftRemediation::FixAll, DriftClass::Missing) => true,
        (DriftRemediation::FixAll, DriftClass::Orphaned) => finding.holder == Holder::Terminated,
        // Every unmanaged finding of a known holder is a grant the planner would
        // revoke (see `detect_drift`); manual grants additive enforcement keeps are
        // no finding at all.
        (DriftRemediation::FixAll, DriftClass::Unmanaged) => true,
        _ => false,
    }
}
