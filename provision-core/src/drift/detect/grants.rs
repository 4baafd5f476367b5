//! Drift on grants: per identity, the desired and the held grants merged in one
//! pass: missing grants, grants no policy gives, and what the planner would do.

use std::cmp::Ordering;

use crate::config::Enforcement;
use crate::model::{ActualIdentity, DesiredGrant, DesiredIdentity, Entitlement, OperationKind};

use super::super::finding::{DriftClass, Holder, Severity, Subject};
use super::*;

impl<'a> Detector<'a> {
    /// Merges the identity's desired grants (valid now) with the grants read.
    pub(super) fn grants(
        &mut self,
        who: &Who<'_>,
        wanted: Option<&'a DesiredIdentity>,
        has: &ActualIdentity,
    ) {
        let now = self.inputs.now;
        let mut desired = wanted
            .filter(|_| who.holder == Holder::Current)
            .into_iter()
            .flat_map(|w| w.grants.iter())
            .filter(|(_, g)| g.validity.contains(now))
            .peekable();
        let mut actual = has.grants.iter().peekable();
        loop {
            let step = match (desired.peek(), actual.peek()) {
                (None, None) => break,
                (Some((d, _)), Some(a)) => (*d).cmp(*a),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
            };
            match step {
                Ordering::Equal => {
                    desired.next();
                    actual.next();
                }
                Ordering::Less => {
                    if let Some((d, g)) = desired.next() {
                        self.missing_grant(who, has, d, g);
                    }
                }
                Ordering::Greater => {
                    if let Some(a) = actual.next() {
                        self.extra_grant(who, wanted, has, a);
                    }
                }
            }
        }
    }

    /// A grant policies give that the system lacks: missing where the planner
    /// grants it; no finding where the planner has nothing to do (an ancestor's
    /// grant covers it, the account's create carries it, correlation was ambiguous).
    pub(super) fn missing_grant(
        &mut self,
        who: &Who<'_>,
        has: &ActualIdentity,
        entitlement: &Entitlement,
        grant: &DesiredGrant,
    ) {
        let system = &entitlement.system;
        let policies: Vec<String> = grant
            .provenance
            .iter()
            .map(|p| p.name().into_owned())
            .collect();
        let expected = format!("granted by {}", quoted(&policies));
        let mut evidence = self.evidence(system, "no grant".to_owned(), expected);
        evidence.policies = policies.clone();
        let subject = Subject::Grant {
            entitlement: entitlement.clone(),
        };
        if let Some(owner) = self.owner(entitlement) {
            evidence.owner = Some(owner);
            self.push(
                DriftClass::ForeignOwned,
                Severity::Info,
                who,
                system,
                subject,
                evidence,
                Vec::new(),
            );
            return;
        }
        if !has.accounts.contains_key(system) && self.first_login(system) {
            evidence.expected = format!(
                "{}, once the account appears on the first SSO sign-in",
                evidence.expected
            );
            self.push(
                DriftClass::Pending,
                Severity::Info,
                who,
                system,
                subject,
                evidence,
                Vec::new(),
            );
            return;
        }
        let kind = OperationKind::Grant {
            entitlement: entitlement.clone(),
        };
        if self.planned_system(system) && self.planned_op(who, system, &kind).is_none() {
            return;
        }
        let fix = operation(
            who,
            system,
            kind,
            &format!(
                "drift remediation: missing grant {entitlement} given by {}",
                quoted(&policies)
            ),
            policies,
        );
        self.push(
            DriftClass::Missing,
            Severity::Medium,
            who,
            system,
            subject,
            evidence,
            vec![fix],
        );
    }

    /// A grant held that no policy gives. For a current identity it is a finding
    /// exactly when the planner revokes it (its rules: managed resource, expired,
    /// an old role, authoritative enforcement, ...); for a terminated or unknown one,
    /// unless the account's suspension covers it.
    pub(super) fn extra_grant(
        &mut self,
        who: &Who<'_>,
        wanted: Option<&'a DesiredIdentity>,
        has: &ActualIdentity,
        entitlement: &Entitlement,
    ) {
        let system = &entitlement.system;
        let enforcement = self.enforcement(entitlement);
        let owner = self.owner(entitlement);
        let revoke = OperationKind::Revoke {
            entitlement: entitlement.clone(),
        };
        let mut planned_reason = None;
        if owner.is_none() && who.holder == Holder::Current {
            match self.planned_op(who, system, &revoke) {
                Some(op) => planned_reason = Some(op.reason.clone()),
                // The planner keeps it (a manual grant under additive enforcement)
                // or replaces it in one change (the missing finding covers that).
                None => return,
            }
        }
        if who.holder == Holder::Terminated
            && suspension_covers_grants_of(self.descriptor(system), has.accounts.get(system))
        {
            // As the planner: the account is (or, as an orphan finding, will be)
            // suspended, which blocks the grant; it stays for a possible rehire.
            return;
        }
        let subject = Subject::Grant {
            entitlement: entitlement.clone(),
        };
        let window = wanted.and_then(|w| {
            w.grants
                .get(entitlement)
                .or_else(|| w.expired.get(entitlement))
        });
        let expected = match (who.holder, window, &planned_reason) {
            (Holder::Terminated, _, _) => "no grant: the identity is terminated".to_owned(),
            (Holder::Unknown, _, _) => "no grant: the holder matches no identity".to_owned(),
            (Holder::Current, Some(g), _) => match g.validity.end {
                Some(end) if end <= self.inputs.now => {
                    format!("no grant: its validity ended {}", end.to_rfc3339())
                }
                _ => "no grant: its validity has not started".to_owned(),
            },
            (Holder::Current, None, Some(reason)) if reason.detail.starts_with("role on ") => {
                format!("no grant: {}", reason.detail)
            }
            (Holder::Current, None, _) => "no grant: no policy gives it".to_owned(),
        };
        let mut evidence = self.evidence(system, "grant held".to_owned(), expected);
        if let Some(owner) = owner {
            evidence.owner = Some(owner);
            self.push(
                DriftClass::ForeignOwned,
                Severity::Info,
                who,
                system,
                subject,
                evidence,
                Vec::new(),
            );
            return;
        }
        let severity = match (who.holder, enforcement) {
            (Holder::Terminated | Holder::Unknown, _) | (_, Enforcement::Authoritative) => {
                Severity::High
            }
            (_, Enforcement::Report) => Severity::Medium,
            (_, Enforcement::Additive) => Severity::Low,
        };
        let fix = match who.holder {
            // The planner's revoke for this leaver (none where the system is not configured).
            Holder::Terminated => self.leaver_revoke(entitlement).into_iter().collect(),
            Holder::Current | Holder::Unknown => vec![operation(
                who,
                system,
                revoke,
                &format!(
                    "drift remediation: revoke {entitlement}: {}",
                    evidence.expected
                ),
                Vec::new(),
            )],
        };
        self.push(
            DriftClass::Unmanaged,
            severity,
            who,
            system,
            subject,
            evidence,
            fix,
        );
    }
}
