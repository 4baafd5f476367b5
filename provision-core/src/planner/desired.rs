//! Policy evaluation: identities and policies to the desired state, with provenance.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::DeploymentConfig;
use crate::model::{
    DesiredGrant, DesiredIdentity, DesiredState, Identity, MatchedAttributes, PolicySet,
    Provenance, SystemName, Validity,
};

use super::Descriptors;

/// Evaluates `policies` for every identity at time `now`.
///
/// * Each policy whose selector matches gives its grants; every grant records
///   which policies gave it and which attribute values made them match
///   ([`DesiredState::why`]).
/// * A grant is desired only while its validity window contains `now`: a future
///   grant is not desired yet; an expired one is not desired and is kept in
///   [`DesiredIdentity::expired`] so the planner revokes it with reason `Expired`.
/// * A terminated identity (termination effective at or before `now`) desires nothing.
/// * An identity needs an account in every system whose descriptor says it
///   `has_accounts` and in which at least one of its grants applies.
/// * [`DesiredState::managed_resources`] lists every resource any policy mentions.
///
/// `config` is accepted so that grants of systems missing from the deployment are
/// left out (a loaded policy set never has them; a hand-built one may).
///
/// Memory: the matched attribute values are held once per distinct set of values
/// (every grant of a policy match, and every identity that matched on the same
/// values, shares one [`MatchedAttributes`]).
pub fn desired(
    identities: &[Identity],
    policies: &PolicySet,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
    now: DateTime<Utc>,
) -> DesiredState {
    let managed_resources = policies
        .policies
        .iter()
        .flat_map(|p| p.grants.iter())
        .filter(|g| config.systems.contains_key(&g.entitlement.system))
        .map(|g| g.entitlement.resource_ref())
        .collect();
    let mut evidence = Evidence::default();
    let identities = identities
        .iter()
        .map(|identity| {
            (
                identity.id.clone(),
                evaluate(identity, policies, config, descriptors, now, &mut evidence),
            )
        })
        .collect();
    DesiredState {
        identities,
        managed_resources,
    }
}

/// One shared map per distinct set of matched attribute values.
#[derive(Default)]
struct Evidence {
    known: HashSet<MatchedAttributes>,
}

impl Evidence {
    /// The shared copy of `matched` (stored on first sight).
    fn share(&mut self, matched: BTreeMap<String, String>) -> MatchedAttributes {
        if let Some(known) = self.known.get(&matched) {
            return Arc::clone(known);
        }
        let shared = Arc::new(matched);
        self.known.insert(Arc::clone(&shared));
        shared
    }
}

/// Evaluates `policies` for one identity (the per-identity form of [`desired`]).
pub fn desired_for(
    identity: &Identity,
    policies: &PolicySet,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
    now: DateTime<Utc>,
) -> DesiredIdentity {
    evaluate(
        identity,
        policies,
        config,
        descriptors,
        now,
        &mut Evidence::default(),
    )
}

fn evaluate(
    identity: &Identity,
    policies: &PolicySet,
    config: &DeploymentConfig,
    descriptors: &Descriptors,
    now: DateTime<Utc>,
    evidence: &mut Evidence,
) -> DesiredIdentity {
    let mut out = DesiredIdentity {
        identity: identity.clone(),
        accounts: BTreeSet::new(),
        grants: BTreeMap::new(),
        expired: BTreeMap::new(),
    };
    if identity.is_terminated_at(now) {
        return out;
    }
    for policy in &policies.policies {
        let Some(matched) = policy.selector.matches(identity) else {
            continue;
        };
        let matched = evidence.share(matched);
        for grant in &policy.grants {
            let system = &grant.entitlement.system;
            if !config.systems.contains_key(system) {
                continue;
            }
            let in_window = grant.validity.contains(now);
            let expired = grant.validity.end.is_some_and(|end| end <= now);
            if !in_window && !expired {
                // Not started yet: nothing to do until it starts.
                continue;
            }
            let target = if in_window {
                &mut out.grants
            } else {
                &mut out.expired
            };
            let provenance = Provenance::policy(policy.name.clone(), Arc::clone(&matched));
            match target.entry(grant.entitlement.clone()) {
                Entry::Occupied(mut existing) => {
                    let existing = existing.get_mut();
                    existing.validity = widest(existing.validity, grant.validity);
                    if !existing.provenance.contains(&provenance) {
                        existing.provenance.push(provenance);
                    }
                }
                Entry::Vacant(slot) => {
                    slot.insert(DesiredGrant {
                        provenance: vec![provenance],
                        validity: grant.validity,
                    });
                }
            }
        }
    }
    // A grant still given by one policy is not expired because another's window ended.
    out.expired.retain(|e, _| !out.grants.contains_key(e));
    // Grants are sorted by system: look each system up once.
    let mut last: Option<&SystemName> = None;
    for entitlement in out.grants.keys() {
        let system = &entitlement.system;
        if last == Some(system) {
            continue;
        }
        last = Some(system);
        if descriptors.get(system).is_some_and(|d| d.has_accounts) {
            out.accounts.insert(system.clone());
        }
    }
    out
}

/// The widest window covering both: the earlier start and the later end (an open
/// bound wins).
fn widest(a: Validity, b: Validity) -> Validity {
    let start = match (a.start, b.start) {
        (Some(x), Some(y)) => Some(x.min(y)),
        _ => None,
    };
    let end = match (a.end, b.end) {
        (Some(x), Some(y)) => Some(x.max(y)),
        _ => None,
    };
    Validity { start, end }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn widest_takes_open_bounds() {
        let t1 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t2 = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let a = Validity {
            start: Some(t1),
            end: Some(t2),
        };
        let b = Validity {
            start: Some(t2),
            end: None,
        };
        assert_eq!(
            widest(a, b),
            Validity {
                start: Some(t1),
                end: None
            }
        );
    }
}
