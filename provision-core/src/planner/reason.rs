//! Readable reasons: the sentences a plan shows people next to each operation.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::model::{Entitlement, Provenance, Reason, ReasonKind};

/// "policy 'Sales Engineer Access' matched department=Sales; policy 'All Staff' applies to everyone".
pub(crate) fn provenance_detail(provenance: &[Provenance]) -> String {
    let parts: Vec<String> = provenance
        .iter()
        .map(|p| match p {
            Provenance::Policy { policy, matched } if matched.is_empty() => {
                format!("policy '{policy}' applies to everyone")
            }
            Provenance::Policy { policy, matched } => {
                let values: Vec<String> = matched.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("policy '{policy}' matched {}", values.join(", "))
            }
            Provenance::Exception { detail, .. } | Provenance::Request { detail, .. } => {
                format!("outside policy, granted by {detail}")
            }
        })
        .collect();
    parts.join("; ")
}

/// The distinct policy names, in order of first appearance.
pub(crate) fn policy_names<'a>(
    provenance: impl IntoIterator<Item = &'a Provenance>,
) -> Vec<String> {
    let mut seen = BTreeSet::new();
    provenance
        .into_iter()
        .map(|p| p.name().into_owned())
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

pub(crate) fn grant(provenance: &[Provenance]) -> Reason {
    Reason {
        kind: ReasonKind::PolicyGrant,
        policies: policy_names(provenance),
        event: None,
        detail: provenance_detail(provenance),
        valid_until: None,
    }
}

pub(crate) fn account_needed(system: &str, provenance: &[&Provenance]) -> Reason {
    let policies = policy_names(provenance.iter().copied());
    let quoted: Vec<String> = policies.iter().map(|p| format!("'{p}'")).collect();
    Reason {
        kind: ReasonKind::PolicyGrant,
        detail: format!(
            "account in {system} needed for grants of policy {}",
            quoted.join(", ")
        ),
        policies,
        event: None,
        valid_until: None,
    }
}

pub(crate) fn reactivation(system: &str, provenance: &[&Provenance]) -> Reason {
    let policies = policy_names(provenance.iter().copied());
    let quoted: Vec<String> = policies.iter().map(|p| format!("'{p}'")).collect();
    Reason {
        kind: ReasonKind::Reactivation,
        detail: format!(
            "identity is active again; account in {system} needed for grants of policy {}",
            quoted.join(", ")
        ),
        policies,
        event: None,
        valid_until: None,
    }
}

pub(crate) fn termination(effective: Option<DateTime<Utc>>, what: &str) -> Reason {
    let when = effective
        .map(|t| {
            format!(
                " effective {}",
                t.to_rfc3339_opts(SecondsFormat::Secs, true)
            )
        })
        .unwrap_or_default();
    Reason {
        kind: ReasonKind::Termination,
        policies: Vec::new(),
        event: None,
        detail: format!("identity terminated{when}: {what}"),
        valid_until: None,
    }
}

pub(crate) fn expired(provenance: &[Provenance], end: Option<DateTime<Utc>>) -> Reason {
    let when = end
        .map(|t| format!(" ended {}", t.to_rfc3339_opts(SecondsFormat::Secs, true)))
        .unwrap_or_default();
    let detail = match provenance {
        // An exception or request that ended and that nothing renews.
        [p @ (Provenance::Exception { detail, .. } | Provenance::Request { detail, .. })] => {
            format!("{}{when} and nothing renews it: {detail}", p.name())
        }
        _ => format!("validity window{when} ({})", provenance_detail(provenance)),
    };
    Reason {
        kind: ReasonKind::Expired,
        policies: policy_names(provenance),
        event: None,
        detail,
        valid_until: None,
    }
}

pub(crate) fn role_change(old: &Entitlement, new: &Entitlement) -> Reason {
    Reason {
        kind: ReasonKind::PolicyRemoved,
        policies: Vec::new(),
        event: None,
        detail: format!(
            "role on {} changes from {} to {}",
            new.resource_ref(),
            old.role.as_deref().unwrap_or("(none)"),
            new.role.as_deref().unwrap_or("(none)")
        ),
        valid_until: None,
    }
}

pub(crate) fn policy_removed(entitlement: &Entitlement) -> Reason {
    Reason {
        kind: ReasonKind::PolicyRemoved,
        policies: Vec::new(),
        event: None,
        detail: format!("no policy gives {entitlement} to this identity any more"),
        valid_until: None,
    }
}

pub(crate) fn unmanaged(entitlement: &Entitlement) -> Reason {
    Reason {
        kind: ReasonKind::UnmanagedGrant,
        policies: Vec::new(),
        event: None,
        detail: format!(
            "{entitlement} is given by no policy and enforcement for '{}' is authoritative",
            entitlement.kind
        ),
        valid_until: None,
    }
}

/// "replaces developer on gitlab/group/eng" / "replaces salesforce/profile/Standard User".
pub(crate) fn replacement(
    provenance: &[Provenance],
    old: &Entitlement,
    new: &Entitlement,
) -> Reason {
    let what = if old.resource == new.resource && old.scope == new.scope {
        format!(
            "replaces {} on {} in one change",
            old.role.as_deref().unwrap_or("(no role)"),
            old.resource_ref()
        )
    } else {
        format!("replaces {old} in one change (one per account)")
    };
    Reason {
        kind: ReasonKind::Replacement,
        policies: policy_names(provenance),
        event: None,
        detail: format!("{what}; {}", provenance_detail(provenance)),
        valid_until: None,
    }
}

pub(crate) fn profile_sync(system: &str, changed: &BTreeMap<String, String>) -> Reason {
    let fields: Vec<&str> = changed.keys().map(String::as_str).collect();
    Reason {
        kind: ReasonKind::ProfileSync,
        policies: Vec::new(),
        event: None,
        detail: format!(
            "HR changed {} since the {system} account was last written",
            fields.join(", ")
        ),
        valid_until: None,
    }
}
