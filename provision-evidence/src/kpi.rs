//! The seeds' KPIs, computed from what the store holds (the audit log and the
//! evidence rows of a period), never estimated:
//!
//! * provisioning success rate — operations whose latest audited outcome is a
//!   success, over those that succeeded or failed (pending ones are counted apart);
//! * deprovisioning time — each leaver's termination to last revocation, p50, p95
//!   and maximum per system against the target (15 minutes by default);
//! * audit completeness — the share of grants held (as listed) traceable to a
//!   policy or an approved request, with the untraceable ones listed (grants left on
//!   a suspended or deprovisioned account give no access and are not counted);
//! * boundary compliance — the share of changes on resources no external engine owns;
//! * request cycle time — when request evidence exists.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::controls::kinds;
use crate::row::EvidenceRow;
use crate::store::Period;
use provision_core::audit::{AuditOutcome, AuditRecord};
use provision_core::config::DeploymentConfig;

/// Provisioning success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisioningSuccess {
    /// Operations audited in the period.
    pub operations: u64,
    /// Latest outcome changed or already in place.
    pub succeeded: u64,
    /// Latest outcome failed.
    pub failed: u64,
    /// Latest outcome pending.
    pub pending: u64,
    /// succeeded / (succeeded + failed); `None` without any.
    pub rate: Option<f64>,
}

/// Deprovisioning times of one system (or `all`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeprovisioningTimes {
    /// The system, or `all` for every leaver's last revocation anywhere.
    pub system: String,
    /// Leavers whose access in it is gone.
    pub leavers: u64,
    /// Leavers with a removal still failed or pending.
    pub incomplete: u64,
    /// Median seconds.
    pub p50_seconds: Option<f64>,
    /// 95th percentile seconds (nearest rank).
    pub p95_seconds: Option<f64>,
    /// Slowest.
    pub max_seconds: Option<f64>,
    /// The target.
    pub target_seconds: u64,
    /// Leavers over the target (incomplete ones included).
    pub over_target: u64,
}

/// A grant traceable to nothing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UntraceableGrant {
    /// Who holds it.
    pub identity: String,
    /// What (`system/kind/resource role=.. scope=..`).
    pub entitlement: String,
}

/// Audit completeness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditCompleteness {
    /// Grants listed.
    pub grants: u64,
    /// Of which traceable to a policy or an approved request.
    pub traceable: u64,
    /// traceable / grants; `None` without grants.
    pub share: Option<f64>,
    /// Every untraceable grant.
    pub untraceable: Vec<UntraceableGrant>,
}

/// Boundary compliance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundaryCompliance {
    /// Grants and revocations audited in the period.
    pub changes: u64,
    /// Of which on resources with no external owner.
    pub within_boundary: u64,
    /// within / changes; `None` without changes.
    pub share: Option<f64>,
}

/// Request cycle time (submitted to completed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestCycle {
    /// Requests completed.
    pub requests: u64,
    /// Median seconds.
    pub p50_seconds: Option<f64>,
    /// 95th percentile seconds.
    pub p95_seconds: Option<f64>,
    /// Slowest.
    pub max_seconds: Option<f64>,
}

/// Every KPI of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    /// The period.
    pub period: Period,
    /// Provisioning success.
    pub provisioning: ProvisioningSuccess,
    /// Deprovisioning times, `all` first, then per system.
    pub deprovisioning: Vec<DeprovisioningTimes>,
    /// Audit completeness.
    pub audit_completeness: AuditCompleteness,
    /// Boundary compliance.
    pub boundary: BoundaryCompliance,
    /// Request cycle time; `None` when no request evidence exists.
    pub request_cycle: Option<RequestCycle>,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The nearest-rank percentile `p` (0-100] of sorted `values`.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Provisioning success from the audit records.
pub fn provisioning(records: &[AuditRecord]) -> ProvisioningSuccess {
    let mut latest: BTreeMap<(&str, &str), &AuditOutcome> = BTreeMap::new();
    for r in records {
        latest.insert(
            (r.event.run.0.as_str(), r.event.operation.0.as_str()),
            &r.event.outcome,
        );
    }
    let (mut succeeded, mut failed, mut pending) = (0, 0, 0);
    for outcome in latest.values() {
        match outcome {
            AuditOutcome::Changed | AuditOutcome::AlreadyInPlace => succeeded += 1,
            AuditOutcome::Failed { .. } => failed += 1,
            // Pending, or an outcome this crate does not know yet: not completed.
            _ => pending += 1,
        }
    }
    ProvisioningSuccess {
        operations: latest.len() as u64,
        succeeded,
        failed,
        pending,
        rate: ratio(succeeded, succeeded + failed),
    }
}

fn times(system: String, done: Vec<f64>, incomplete: u64, target: u64) -> DeprovisioningTimes {
    let done = sorted(done);
    let over = done.iter().filter(|s| **s > target as f64).count() as u64;
    DeprovisioningTimes {
        system,
        leavers: done.len() as u64,
        incomplete,
        p50_seconds: percentile(&done, 50.0),
        p95_seconds: percentile(&done, 95.0),
        max_seconds: done.last().copied(),
        target_seconds: target,
        over_target: over + incomplete,
    }
}

/// Deprovisioning times from the period's `leaver.timeliness` rows.
pub fn deprovisioning(rows: &[EvidenceRow], target_seconds: u64) -> Vec<DeprovisioningTimes> {
    let mut all = (Vec::new(), 0);
    let mut by_system: BTreeMap<String, (Vec<f64>, u64)> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.kind == kinds::LEAVER_TIMELINESS) {
        let d = &row.data;
        tally(&mut all, d);
        if let Some(systems) = d.get("systems").and_then(Value::as_object) {
            for (system, s) in systems {
                tally(by_system.entry(system.clone()).or_default(), s);
            }
        }
    }
    let mut out = vec![times("all".to_owned(), all.0, all.1, target_seconds)];
    out.extend(
        by_system
            .into_iter()
            .map(|(s, (done, inc))| times(s, done, inc, target_seconds)),
    );
    out
}

fn tally(acc: &mut (Vec<f64>, u64), d: &Value) {
    let complete = d.get("complete").and_then(Value::as_bool).unwrap_or(false);
    match d.get("seconds").and_then(Value::as_f64) {
        Some(s) if complete => acc.0.push(s),
        _ => acc.1 += 1,
    }
}

/// Audit completeness from the period's `access.listing` rows.
pub fn audit_completeness(rows: &[EvidenceRow]) -> AuditCompleteness {
    // (identity, entitlement) -> traced in every listing that shows it.
    let mut grants: BTreeMap<(String, String), bool> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.kind == kinds::ACCESS_LISTING) {
        let identity = row
            .subject
            .clone()
            .unwrap_or_else(|| "(unknown)".to_owned());
        let state = row.data.pointer("/account/state").and_then(Value::as_str);
        if matches!(state, Some("suspended" | "deprovisioned")) {
            continue;
        }
        let list = row.data.get("grants").and_then(Value::as_array);
        for g in list.into_iter().flatten() {
            let Some(entitlement) = g.get("entitlement").and_then(Value::as_str) else {
                continue;
            };
            let traced = g
                .get("traced_to")
                .and_then(Value::as_array)
                .is_some_and(|t| !t.is_empty());
            let e = grants
                .entry((identity.clone(), entitlement.to_owned()))
                .or_insert(true);
            *e &= traced;
        }
    }
    let untraceable: Vec<UntraceableGrant> = grants
        .iter()
        .filter(|(_, traced)| !**traced)
        .map(|((identity, entitlement), _)| UntraceableGrant {
            identity: identity.clone(),
            entitlement: entitlement.clone(),
        })
        .collect();
    let total = grants.len() as u64;
    let traceable = total - untraceable.len() as u64;
    AuditCompleteness {
        grants: total,
        traceable,
        share: ratio(traceable, total),
        untraceable,
    }
}

/// Boundary compliance of the audited grants and revocations.
pub fn boundary(records: &[AuditRecord], config: &DeploymentConfig) -> BoundaryCompliance {
    let mut changes = 0;
    let mut within = 0;
    for r in records {
        let Some(e) = &r.event.entitlement else {
            continue;
        };
        changes += 1;
        let owned_outside = config
            .systems
            .get(&e.system)
            .and_then(|s| s.owner_of(&e.kind, &e.resource))
            .is_some();
        if !owned_outside {
            within += 1;
        }
    }
    BoundaryCompliance {
        changes,
        within_boundary: within,
        share: ratio(within, changes),
    }
}

fn time_of(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    v.get(key)
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Request cycle time from `governance.request` rows (`submitted_at` to
/// `completed_at`); `None` when there is none.
pub fn request_cycle(rows: &[EvidenceRow]) -> Option<RequestCycle> {
    let mut seen = BTreeSet::new();
    let mut done = Vec::new();
    for row in rows.iter().filter(|r| r.kind == kinds::REQUEST) {
        if !seen.insert(row.subject.clone()) {
            continue;
        }
        if let (Some(a), Some(b)) = (
            time_of(&row.data, "submitted_at"),
            time_of(&row.data, "completed_at"),
        ) {
            done.push((b - a).num_milliseconds().max(0) as f64 / 1000.0);
        }
    }
    if seen.is_empty() {
        return None;
    }
    let done = sorted(done);
    Some(RequestCycle {
        requests: done.len() as u64,
        p50_seconds: percentile(&done, 50.0),
        p95_seconds: percentile(&done, 95.0),
        max_seconds: done.last().copied(),
    })
}

/// Every KPI of `period`.
pub fn compute(
    period: Period,
    records: &[AuditRecord],
    rows: &[EvidenceRow],
    config: &DeploymentConfig,
    target_seconds: u64,
) -> Kpis {
    Kpis {
        period,
        provisioning: provisioning(records),
        deprovisioning: deprovisioning(rows, target_seconds),
        audit_completeness: audit_completeness(rows),
        boundary: boundary(records, config),
        request_cycle: request_cycle(rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(10.0));
        assert_eq!(percentile(&v, 95.0), Some(19.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
