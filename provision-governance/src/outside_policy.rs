//! Grants outside policy that governance allows: entitlement exceptions and
//! approved access requests. They join the desired state for their window (so the
//! planner grants them and does not revoke them) and, once their window ends, its
//! `expired` list (so the planner revokes them on the next run, whatever the
//! system's enforcement). Their provenance ([`Provenance::Exception`],
//! [`Provenance::Request`]) makes their operations' reasons say where they come from.

use chrono::{DateTime, Utc};

use provision_core::model::{
    DesiredGrant, DesiredState, Entitlement, IdentityId, Provenance, Validity,
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

impl AllowedGrant {
    /// Its provenance in the desired state.
    pub fn provenance(&self) -> Provenance {
        match self.origin.split_once(' ') {
            Some(("request", id)) => Provenance::Request {
                request: id.to_owned(),
                detail: self.detail.clone(),
            },
            Some((_, id)) => Provenance::Exception {
                exception: id.to_owned(),
                detail: self.detail.clone(),
            },
            None => Provenance::Exception {
                exception: self.origin.clone(),
                detail: self.detail.clone(),
            },
        }
    }
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
    has_accounts: impl Fn(&provision_core::model::SystemName) -> bool,
) {
    for a in allowed {
        let Some(who) = desired.identities.get_mut(&a.identity) else {
            continue;
        };
        desired
            .managed_resources
            .insert(a.entitlement.resource_ref());
        let provenance = a.provenance();
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
