//! How plans, reports and audit records read on a terminal.

use provision_core::audit::{AuditOutcome, AuditRecord};
use provision_core::drift::{Finding, Subject};
use provision_core::engine::Because;
use provision_core::executor::{ExecutionReport, OperationOutcome};
use provision_core::model::{Entitlement, Operation, OperationKind, Plan, ReasonKind};

/// `group/engineering-team`, `permission_set/EngineeringSeniorReadOnly@account:production`,
/// `project_role/SALES#Reporter`.
pub fn entitlement(e: &Entitlement) -> String {
    let mut s = format!("{}/{}", e.kind, e.resource);
    if let Some(scope) = &e.scope {
        s.push('@');
        s.push_str(scope);
    }
    if let Some(role) = &e.role {
        s.push('#');
        s.push_str(role);
    }
    s
}

/// `grant group/engineering-team`, `suspend_account`.
pub fn what(kind: &OperationKind) -> String {
    match kind.entitlement() {
        Some(e) => format!("{} {}", kind.verb(), entitlement(e)),
        None => kind.verb().to_owned(),
    }
}

/// One plan line: position, system, what, and why.
pub fn plan_line(n: usize, op: &Operation) -> String {
    let why = match op.reason.kind {
        ReasonKind::PolicyGrant if !op.reason.policies.is_empty() => {
            let names: Vec<String> = op
                .reason
                .policies
                .iter()
                .map(|p| format!("'{p}'"))
                .collect();
            format!("policy {}", names.join(" + "))
        }
        // "identity terminated effective <time>: suspend the account" → "leaver: suspend the account"
        ReasonKind::Termination => format!(
            "leaver: {}",
            op.reason
                .detail
                .split_once(": ")
                .map_or(op.reason.detail.as_str(), |(_, what)| what)
        ),
        _ => op.reason.detail.clone(),
    };
    format!(
        "  {n:>2}. {:<10} {:<48} ← {why}",
        op.system.as_str(),
        what(&op.kind)
    )
}

/// The plan, one line per operation in execution order.
pub fn plan(plan: &Plan) -> Vec<String> {
    plan.operations
        .iter()
        .enumerate()
        .map(|(i, op)| plan_line(i + 1, op))
        .collect()
}

/// "policy 'Sales Engineer' (examples/policies/sales.yaml:27) matched department=Sales, title=Sales Engineer".
pub fn provenance(p: &Because, source: Option<String>) -> String {
    let at = source.map(|s| format!(" ({s})")).unwrap_or_default();
    if p.matched.is_empty() {
        return format!("policy '{}'{at} applies to everyone", p.policy);
    }
    let values: Vec<String> = p.matched.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("policy '{}'{at} matched {}", p.policy, values.join(", "))
}

/// The report: totals, then every operation that needed more than one attempt or did
/// not end in place.
pub fn report(report: &ExecutionReport) -> Vec<String> {
    let t = &report.totals;
    let took = (report.finished_at - report.started_at).num_milliseconds();
    #[allow(clippy::cast_precision_loss)]
    let seconds = took as f64 / 1000.0;
    let mut lines = vec![format!(
        "  report: {} operations in {seconds:.1} s — {} succeeded, {} already in place, {} failed, {} skipped, {} pending; {} attempts; success rate {:.0} %",
        t.operations,
        t.succeeded,
        t.already_in_place,
        t.failed,
        t.skipped,
        t.pending,
        t.attempts,
        report.success_rate() * 100.0
    )];
    for op in &report.operations {
        let notable = op.attempts > 1 || op.checks > 0 || !op.outcome.is_success();
        if !notable {
            continue;
        }
        let outcome = match &op.outcome {
            OperationOutcome::Succeeded => "succeeded".to_owned(),
            other => other.to_string(),
        };
        lines.push(format!(
            "    {} — {outcome} after {} attempt(s) and {} check(s)",
            op.operation, op.attempts, op.checks
        ));
    }
    lines
}

/// One audit record.
pub fn audit_record(r: &AuditRecord) -> String {
    let e = &r.event;
    let outcome = match &e.outcome {
        AuditOutcome::Changed => "changed".to_owned(),
        AuditOutcome::AlreadyInPlace => "already in place".to_owned(),
        AuditOutcome::Pending => "pending".to_owned(),
        AuditOutcome::Failed { class, error } => format!("failed ({class}: {error})"),
        other => format!("{other:?}"),
    };
    let what = match &e.entitlement {
        Some(ent) => format!("{} {}", e.action, entitlement(ent)),
        None => e.action.clone(),
    };
    let event = e.reason.event.as_deref().unwrap_or("-");
    format!(
        "  #{:<3} {} {} {:<8} {:<36} {outcome}; reason {}; event {event}; hash {}…",
        r.seq,
        e.at.format("%H:%M:%S%.3f"),
        e.identity,
        e.system.as_str(),
        what,
        reason_kind(e.reason.kind),
        r.hash.get(..12).unwrap_or(&r.hash)
    )
}

/// `policy grant`, `termination`, `drift remediation`.
pub fn reason_kind(kind: ReasonKind) -> &'static str {
    match kind {
        ReasonKind::PolicyGrant => "policy grant",
        ReasonKind::PolicyRemoved => "policy removed",
        ReasonKind::Termination => "termination",
        ReasonKind::Reactivation => "reactivation",
        ReasonKind::Expired => "expired",
        ReasonKind::UnmanagedGrant => "unmanaged grant",
        ReasonKind::DriftRemediation => "drift remediation",
        ReasonKind::ProfileSync => "profile sync",
        ReasonKind::Replacement => "replacement",
        _ => "other",
    }
}

/// One drift finding in three lines: what, the evidence, and the fix (or why none
/// is applied). `name` is the holder's display name; `fixed` whether the system's
/// `drift_remediation` mode lets the fix run.
pub fn finding(f: &Finding, name: &str, fixed: bool) -> Vec<String> {
    let subject = match &f.subject {
        Subject::Grant { entitlement: e } => format!("grant {}", entitlement(e)),
        other => other.to_string(),
    };
    let read = f
        .evidence
        .read_at
        .map(|t| format!("read {}", t.format("%H:%M:%S%.3f")))
        .unwrap_or_else(|| "read".to_owned());
    let fix = if f.remediation.is_empty() {
        "none the SDK can make".to_owned()
    } else {
        let ops: Vec<String> = f.remediation.iter().map(|o| what(&o.kind)).collect();
        format!(
            "{}{}",
            ops.join(", then "),
            if fixed {
                ""
            } else {
                " — not applied: the system's drift_remediation leaves it to a person"
            }
        )
    };
    vec![
        format!(
            "  [{}] {} — {name} <{}> in {}: {subject}",
            f.severity, f.class, f.login, f.system
        ),
        format!(
            "      evidence: {read}: {}; expected {}",
            f.evidence.observed, f.evidence.expected
        ),
        format!("      fix: {fix}"),
    ]
}
