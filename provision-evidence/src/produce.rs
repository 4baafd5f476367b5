//! Evidence produced by what the SDK already does: who holds what (as read),
//! joiners, movers and leavers with their reasons (from the audit log), each
//! leaver's timeliness, drift runs (clean ones too) and failed or pending
//! operations. Every function here is pure: the [`Collector`](crate::Collector)
//! gathers the inputs and stores the rows.
//!
//! None of these rows carries the time it was collected in its data, so collecting
//! the same facts again yields the same fingerprints (stored once).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::controls::{ControlMapping, kinds};
use crate::row::{EvidenceRow, SDK_SYSTEM};
use provision_core::audit::{AuditOutcome, AuditRecord};
use provision_core::drift::DriftReport;
use provision_core::model::{
    ActualState, DesiredState, EmploymentStatus, Entitlement, Identity, IdentityId, ReasonKind,
    SystemName,
};

/// Where and when rows are made: the run, the time, the mapping.
#[derive(Debug, Clone, Copy)]
pub struct RowContext<'a> {
    /// The evidence run.
    pub run: &'a str,
    /// When the facts were collected.
    pub at: DateTime<Utc>,
    /// Kind -> controls.
    pub mapping: &'a ControlMapping,
}

impl RowContext<'_> {
    fn row(
        &self,
        kind: &str,
        system: impl Into<SystemName>,
        subject: Option<String>,
        data: Value,
    ) -> EvidenceRow {
        EvidenceRow::new(kind, system, subject, self.at, self.run, data, self.mapping)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Grants approved through a request, by identity and entitlement -> the request id.
pub type ApprovedGrants = BTreeMap<(IdentityId, Entitlement), String>;

/// Point-in-time access listing: for every system, one row per person (their account
/// and every grant as read, each with what it is traceable to: the policies that give
/// it, or an approved request), one per account no person matched, and a summary row
/// with the counts (for every system in `systems`, an empty one too: "nobody has
/// access" is evidence as well).
pub fn access_listing(
    systems: &[SystemName],
    actual: &ActualState,
    desired: &DesiredState,
    approved: &ApprovedGrants,
    cx: &RowContext<'_>,
) -> BTreeMap<SystemName, Vec<EvidenceRow>> {
    let mut by_system: BTreeMap<SystemName, Vec<EvidenceRow>> = BTreeMap::new();
    let mut counts: BTreeMap<SystemName, (u64, u64, u64)> =
        systems.iter().map(|s| (s.clone(), (0, 0, 0))).collect();
    for (id, person) in &actual.identities {
        let mut grants: BTreeMap<&SystemName, Vec<Value>> = BTreeMap::new();
        for g in &person.grants {
            let mut traced: Vec<String> = desired
                .why(id, g)
                .unwrap_or_default()
                .iter()
                .map(|p| match p.policy_name() {
                    Some(policy) => format!("policy:{policy}"),
                    None => p.name().into_owned(),
                })
                .collect();
            traced.dedup();
            if let Some(request) = approved.get(&(id.clone(), g.clone())) {
                traced.push(format!("request:{request}"));
            }
            grants.entry(&g.system).or_default().push(json!({
                "entitlement": g.to_string(),
                "traced_to": traced,
            }));
        }
        let systems: BTreeSet<&SystemName> = person
            .accounts
            .keys()
            .chain(grants.keys().copied())
            .collect();
        for system in systems {
            let account = person.accounts.get(system).map(|a| {
                json!({"external_id": a.external_id, "login": a.record.login, "state": a.state})
            });
            let list = grants.remove(system).unwrap_or_default();
            let c = counts.entry(system.clone()).or_default();
            c.0 += u64::from(account.is_some());
            c.1 += list.len() as u64;
            let data = json!({"identity": id, "account": account, "grants": list});
            by_system.entry(system.clone()).or_default().push(cx.row(
                kinds::ACCESS_LISTING,
                system.clone(),
                Some(id.0.clone()),
                data,
            ));
        }
    }
    for (system, accounts) in &actual.unmatched_accounts {
        for a in accounts {
            counts.entry(system.clone()).or_default().2 += 1;
            let data = json!({"identity": null, "account": {"external_id": a.external_id, "login": a.login, "state": a.state}, "grants": []});
            by_system.entry(system.clone()).or_default().push(cx.row(
                kinds::ACCESS_LISTING,
                system.clone(),
                Some(format!("account:{}", a.login)),
                data,
            ));
        }
    }
    for (system, (accounts, grants, unmatched)) in counts {
        let data = json!({"accounts": accounts, "grants": grants, "unmatched_accounts": unmatched});
        by_system.entry(system.clone()).or_default().push(cx.row(
            kinds::ACCESS_SUMMARY,
            system,
            None,
            data,
        ));
    }
    by_system
}

/// Joiner, mover or leaver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Joiner,
    Mover,
    Leaver,
}

fn reason_json(r: &AuditRecord) -> Value {
    let e = &r.event;
    let mut change = json!({
        "seq": r.seq,
        "at": rfc3339(e.at),
        "system": e.system,
        "action": e.action,
        "entitlement": e.entitlement.as_ref().map(ToString::to_string),
        "outcome": e.outcome,
        "reason": e.reason,
    });
    // How it was carried out (a ticket's key), only when the record says: rows of
    // records without one keep their fingerprints.
    if let (Some(note), Some(map)) = (&e.note, change.as_object_mut()) {
        map.insert("note".to_owned(), Value::String(note.clone()));
    }
    change
}

/// Joiners, movers and leavers: one row per person per audited run, with every change
/// of that run and its reason. A run's changes to a person are a leaver's when one of
/// them is for a termination; a mover's when access was taken away because no policy
/// gives it any more (or replaced), even if the new role brings a new account; a
/// joiner's when an account was created or reactivated; and a mover's when only
/// policy grants or expiries remain. Changes of other kinds (drift remediation,
/// unmanaged grants) are not lifecycle evidence.
pub fn lifecycle(records: &[AuditRecord], cx: &RowContext<'_>) -> Vec<EvidenceRow> {
    let mut groups: BTreeMap<(&str, &IdentityId), Vec<&AuditRecord>> = BTreeMap::new();
    for r in records {
        groups
            .entry((r.event.run.0.as_str(), &r.event.identity))
            .or_default()
            .push(r);
    }
    let mut rows = Vec::new();
    for ((run, identity), changes) in groups {
        let kind_of = |k: ReasonKind| changes.iter().any(|r| r.event.reason.kind == k);
        let removed = changes.iter().any(|r| {
            matches!(
                r.event.reason.kind,
                ReasonKind::PolicyRemoved | ReasonKind::Replacement
            )
        });
        let created = changes
            .iter()
            .any(|r| r.event.action == "create_account" || r.event.action == "reactivate_account");
        let class = if kind_of(ReasonKind::Termination) {
            Lifecycle::Leaver
        } else if removed {
            // Access taken away because attributes changed: a move, even when the new
            // role brings an account in a new system.
            Lifecycle::Mover
        } else if created {
            Lifecycle::Joiner
        } else if kind_of(ReasonKind::PolicyGrant) || kind_of(ReasonKind::Expired) {
            Lifecycle::Mover
        } else {
            continue;
        };
        let kind = match class {
            Lifecycle::Joiner => kinds::JOINER,
            Lifecycle::Mover => kinds::MOVER,
            Lifecycle::Leaver => kinds::LEAVER,
        };
        let events: BTreeSet<&str> = changes
            .iter()
            .filter_map(|r| r.event.reason.event.as_deref())
            .collect();
        let data = json!({
            "audit_run": run,
            "identity": identity,
            "actor": changes.first().map(|r| r.event.actor.as_str()),
            "events": events,
            "changes": changes.iter().map(|r| reason_json(r)).collect::<Vec<_>>(),
        });
        rows.push(cx.row(kind, SDK_SYSTEM, Some(identity.0.clone()), data));
    }
    rows
}

/// The termination's effective time, from the HR roster when given, else from the
/// termination reason the planner wrote ("identity terminated effective <time>: ...").
fn effective_from_reason(detail: &str) -> Option<DateTime<Utc>> {
    let rest = detail.split_once("effective ")?.1;
    // The time itself contains colons; the ": " after it ends it.
    let stamp = rest.split_once(": ").map_or(rest, |(stamp, _)| stamp);
    DateTime::parse_from_rfc3339(stamp.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Termination effective times of the people in a roster who are terminated.
pub fn terminations(people: &[Identity]) -> BTreeMap<IdentityId, DateTime<Utc>> {
    people
        .iter()
        .filter_map(|p| match p.status {
            EmploymentStatus::Terminated { effective } => Some((p.id.clone(), effective)),
            _ => None,
        })
        .collect()
}

const REMOVALS: &[&str] = &[
    "revoke",
    "suspend_account",
    "revoke_sessions",
    "delete_account",
];

/// Each leaver's timeliness: from the termination's effective time to the last
/// revocation, overall and per system, against `target`. A leaver with a removal
/// still failed or pending is `complete: false` (and misses the target).
pub fn leaver_timeliness(
    records: &[AuditRecord],
    effective: &BTreeMap<IdentityId, DateTime<Utc>>,
    target: std::time::Duration,
    cx: &RowContext<'_>,
) -> Vec<EvidenceRow> {
    // Latest outcome of each removal operation, by leaver.
    let mut leavers: BTreeMap<&IdentityId, BTreeMap<(&str, &str), &AuditRecord>> = BTreeMap::new();
    let mut from_reason: BTreeMap<&IdentityId, DateTime<Utc>> = BTreeMap::new();
    for r in records {
        let e = &r.event;
        if e.reason.kind != ReasonKind::Termination || !REMOVALS.contains(&e.action.as_str()) {
            continue;
        }
        if let Some(t) = effective_from_reason(&e.reason.detail) {
            from_reason.entry(&e.identity).or_insert(t);
        }
        leavers
            .entry(&e.identity)
            .or_default()
            .insert((e.run.0.as_str(), e.operation.0.as_str()), r);
    }
    let target_s = target.as_secs();
    let mut rows = Vec::new();
    for (identity, ops) in leavers {
        let Some(start) = effective
            .get(identity)
            .copied()
            .or_else(|| from_reason.get(identity).copied())
        else {
            continue;
        };
        let mut systems: BTreeMap<&SystemName, (Option<DateTime<Utc>>, bool)> = BTreeMap::new();
        for r in ops.values() {
            let entry = systems.entry(&r.event.system).or_insert((None, true));
            match r.event.outcome {
                AuditOutcome::Changed | AuditOutcome::AlreadyInPlace => {
                    entry.0 = entry.0.max(Some(r.event.at));
                }
                // Pending, failed, or an outcome this crate does not know: not done.
                _ => entry.1 = false,
            }
        }
        let seconds = |t: Option<DateTime<Utc>>| {
            t.map(|t| (t - start).num_milliseconds().max(0) as f64 / 1000.0)
        };
        let per_system: BTreeMap<String, Value> = systems
            .iter()
            .map(|(s, (last, complete))| {
                let secs = seconds(*last);
                let met = *complete && secs.is_some_and(|s| s <= target_s as f64);
                (
                    s.0.clone(),
                    json!({"last_revocation": last.map(rfc3339), "seconds": secs, "complete": complete, "met": met}),
                )
            })
            .collect();
        let complete = systems.values().all(|(_, c)| *c);
        let last = systems.values().filter_map(|(l, _)| *l).max();
        let secs = seconds(last);
        let met = complete && secs.is_some_and(|s| s <= target_s as f64);
        let data = json!({
            "identity": identity,
            "effective": rfc3339(start),
            "target_seconds": target_s,
            "last_revocation": last.map(rfc3339),
            "seconds": secs,
            "complete": complete,
            "met": met,
            "systems": per_system,
        });
        rows.push(cx.row(
            kinds::LEAVER_TIMELINESS,
            SDK_SYSTEM,
            Some(identity.0.clone()),
            data,
        ));
    }
    rows
}

/// Operations whose latest audited outcome is a failure or pending: one row each.
pub fn failed_and_pending(records: &[AuditRecord], cx: &RowContext<'_>) -> Vec<EvidenceRow> {
    let mut latest: BTreeMap<(&str, &str), &AuditRecord> = BTreeMap::new();
    for r in records {
        latest.insert((r.event.run.0.as_str(), r.event.operation.0.as_str()), r);
    }
    latest
        .into_values()
        .filter_map(|r| {
            let kind = match r.event.outcome {
                AuditOutcome::Failed { .. } => kinds::OPERATION_FAILED,
                AuditOutcome::Pending => kinds::OPERATION_PENDING,
                _ => return None,
            };
            let e = &r.event;
            let data = json!({
                "audit_run": e.run,
                "operation": e.operation,
                "identity": e.identity,
                "change": reason_json(r),
            });
            Some(cx.row(
                kind,
                e.system.clone(),
                Some(format!("{}#{}", e.run, e.operation)),
                data,
            ))
        })
        .collect()
}

/// A drift run as evidence, clean or not: the systems compared, the findings by
/// class, and each finding.
pub fn drift_run(report: &DriftReport, systems: &[SystemName], cx: &RowContext<'_>) -> EvidenceRow {
    let counts: BTreeMap<String, usize> = report
        .counts()
        .into_iter()
        .map(|(class, n)| {
            let name = serde_json::to_value(class)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{class:?}"));
            (name, n)
        })
        .collect();
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "class": f.class, "severity": f.severity, "identity": f.identity,
                "login": f.login, "system": f.system, "subject": f.subject,
            })
        })
        .collect();
    let data = json!({
        "generated_at": rfc3339(report.generated_at),
        "systems": systems,
        "clean": !report.has_drift(),
        "counts": counts,
        "findings": findings,
    });
    cx.row(kinds::DRIFT_RUN, SDK_SYSTEM, None, data)
}

/// Rows of any other kind (governance review decisions, exceptions, requests, a
/// custom connector's facts): `(kind, subject, data)` each, mapped and fingerprinted
/// like the rest.
pub fn other(
    system: &SystemName,
    facts: impl IntoIterator<Item = (String, Option<String>, Value)>,
    cx: &RowContext<'_>,
) -> Vec<EvidenceRow> {
    facts
        .into_iter()
        .map(|(kind, subject, data)| cx.row(&kind, system.clone(), subject, data))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_time_is_read_from_the_planners_reason() {
        let t = effective_from_reason(
            "identity terminated effective 2026-11-30T17:00:00Z: suspend the account in okta",
        );
        assert_eq!(
            t,
            Some(
                DateTime::parse_from_rfc3339("2026-11-30T17:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc)
            )
        );
        assert_eq!(effective_from_reason("identity terminated: x"), None);
    }

    /// A leaver's revocation done by a person through a ticket: pending for a day,
    /// then done in the same (resumed) run. The KPI counts the manual time up to the
    /// done record, and the rows carry the ticket's key.
    #[test]
    fn manual_time_counts_and_the_ticket_travels() {
        use provision_core::audit::AuditEvent;
        use provision_core::model::{Entitlement, OperationId, Reason, RunId};
        let start = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let record = |seq: u64, hours: i64, outcome: AuditOutcome| AuditRecord {
            seq,
            event: AuditEvent {
                at: start + chrono::Duration::hours(hours),
                run: RunId("termination-e1".into()),
                actor: "provision".into(),
                identity: IdentityId::new("e1"),
                system: SystemName::new("payroll"),
                operation: OperationId("e1/payroll/revoke/role/approver".into()),
                action: "revoke".into(),
                entitlement: Some(Entitlement::new("payroll", "role", "approver")),
                outcome,
                reason: Reason {
                    kind: ReasonKind::Termination,
                    policies: Vec::new(),
                    event: Some("termination e1".into()),
                    detail: "identity terminated effective 2026-12-01T09:00:00Z: revoke".into(),
                    valid_until: None,
                },
                note: Some("Jira issue PAY-2".into()),
            },
            prev_hash: String::new(),
            hash: String::new(),
        };
        let pending = record(0, 1, AuditOutcome::Pending);
        let done = record(1, 26, AuditOutcome::Changed);
        let mapping = ControlMapping::default();
        let cx = RowContext {
            run: "ev1",
            at: start,
            mapping: &mapping,
        };
        let target = std::time::Duration::from_secs(15 * 60);
        let open = leaver_timeliness(
            std::slice::from_ref(&pending),
            &BTreeMap::new(),
            target,
            &cx,
        );
        assert_eq!(open[0].data["complete"], false, "{}", open[0].data);
        let rows = leaver_timeliness(&[pending.clone(), done], &BTreeMap::new(), target, &cx);
        assert_eq!(rows[0].data["complete"], true);
        assert_eq!(rows[0].data["seconds"], 26.0 * 3600.0, "{}", rows[0].data);
        assert_eq!(rows[0].data["met"], false);
        let waiting = failed_and_pending(&[pending], &cx);
        assert_eq!(waiting[0].data["change"]["note"], "Jira issue PAY-2");
    }
}
