//! Grants outside policy that governance allows: entitlement exceptions and
//! approved access requests. They join the desired state for their window (so the
//! planner grants them and does not revoke them) and, once their window ends, its
//! `expired` list (so the planner revokes them on the next run, whatever the
//! system's enforcement). Their operations' reasons say where they come from.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::model::{
    DesiredGrant, DesiredState, Entitlement, IdentityId, Operation, OperationKind, Plan,
    Provenance, ReasonKind, Validity,
};

use super::exception::{Exception, ExceptionStatus, status_of};
use super::request::AccessRequest;

/// One allowed grant outside policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedGrant {
    /// The person.
    pub identity: IdentityId,
    /// The entitlement.
    pub entitlement: Entitlement,
    /// Its window.
    pub validity: Validity,
    /// `exception exc-1` / `request req-1`: the provenance name.
    pub origin: String,
    /// The sentence for the plan and the audit log.
    pub detail: String,
    /// True when its window has ended (and nothing renews it).
    pub lapsed: bool,
}

/// The grants `exceptions` and `requests` allow (or allowed) at `now`.
pub fn allowed_grants(
    exceptions: &[Exception],
    requests: &[AccessRequest],
    now: DateTime<Utc>,
) -> Vec<AllowedGrant> {
    let mut out = Vec::new();
    for e in exceptions {
        let Some(entitlement) = e.entitlement() else {
            continue;
        };
        let status = status_of(e, exceptions, now);
        if matches!(
            status,
            ExceptionStatus::Scheduled | ExceptionStatus::Renewed
        ) {
            continue;
        }
        out.push(AllowedGrant {
            identity: e.identity.clone(),
            entitlement: entitlement.clone(),
            validity: Validity {
                start: Some(e.starts_at),
                end: Some(e.expires_at),
            },
            origin: format!("exception {}", e.id),
            detail: e.describe(),
            lapsed: status == ExceptionStatus::Expired,
        });
    }
    for r in requests {
        let lapsed = r.lapsed_at(now);
        if !r.grants_at(now) && !lapsed {
            continue;
        }
        out.push(AllowedGrant {
            identity: r.beneficiary.clone(),
            entitlement: r.entitlement.clone(),
            validity: r.validity(),
            origin: format!("request {}", r.id),
            detail: r.describe(),
            lapsed,
        });
    }
    out
}

/// Adds `allowed` to `desired`: grants in their window to the person's grants (and
/// the account they need), lapsed ones to `expired` unless something else still
/// gives them. People not in `desired` (or terminated: they desire nothing) are
/// left alone.
pub fn add_to_desired(
    desired: &mut DesiredState,
    allowed: &[AllowedGrant],
    now: DateTime<Utc>,
    has_accounts: impl Fn(&crate::model::SystemName) -> bool,
) {
    for a in allowed {
        let Some(who) = desired.identities.get_mut(&a.identity) else {
            continue;
        };
        desired
            .managed_resources
            .insert(a.entitlement.resource_ref());
        let provenance = Provenance {
            policy: a.origin.clone(),
            matched: Arc::new(BTreeMap::new()),
        };
        if who.identity.is_terminated_at(now) {
            continue;
        }
        if a.lapsed {
            if !who.grants.contains_key(&a.entitlement) {
                who.expired.insert(
                    a.entitlement.clone(),
                    DesiredGrant {
                        provenance: vec![provenance],
                        validity: a.validity,
                    },
                );
            }
        } else {
            let entry = who
                .grants
                .entry(a.entitlement.clone())
                .or_insert_with(|| DesiredGrant {
                    provenance: Vec::new(),
                    validity: a.validity,
                });
            entry.provenance.push(provenance);
            who.expired.remove(&a.entitlement);
            if has_accounts(&a.entitlement.system) {
                who.accounts.insert(a.entitlement.system.clone());
            }
        }
    }
}

/// Rewrites the reasons of `plan`'s grants and revocations that come from `allowed`
/// so they say so: "granted by exception exc-1 (approved by …)", "access request
/// req-1 by … approved by …", "exception exc-1 … expired".
pub fn explain(plan: &mut Plan, allowed: &[AllowedGrant]) {
    for op in &mut plan.operations {
        explain_one(op, allowed);
    }
}

fn explain_one(op: &mut Operation, allowed: &[AllowedGrant]) {
    let (entitlement, granting) = match &op.kind {
        OperationKind::Grant { entitlement } => (entitlement, true),
        OperationKind::Revoke { entitlement } => (entitlement, false),
        _ => return,
    };
    // A grant some policy also gives keeps the policy's reason.
    if granting && !op.reason.policies.iter().all(|p| is_origin(p)) {
        return;
    }
    let Some(a) = allowed.iter().find(|a| {
        a.identity == op.identity && &a.entitlement == entitlement && a.lapsed != granting
    }) else {
        return;
    };
    op.reason.policies = vec![a.origin.clone()];
    if granting {
        op.reason.detail = format!("outside policy, granted by {}", a.detail);
        op.reason.valid_until = a.validity.end;
    } else if op.reason.kind == ReasonKind::Expired {
        let end = a
            .validity
            .end
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default();
        op.reason.detail = format!(
            "{} ended {end} and nothing renews it: {}",
            a.origin, a.detail
        );
    }
}

fn is_origin(policy: &str) -> bool {
    policy.starts_with("exception ") || policy.starts_with("request ")
}
