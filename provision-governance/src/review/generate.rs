//! Building a campaign: only what needs a decision reaches a reviewer.

use std::collections::HashMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use provision_core::drift::{Severity, UNMATCHED};
use provision_core::model::{
    AccountState, ActualAccount, ActualState, DesiredState, Entitlement, Identity, IdentityId,
    Operation, OperationKind, Priority, Reason, ReasonKind, SystemName,
};

use super::super::config::GovernanceConfig;
use super::super::exception::{Exception, ExceptionStatus, status_of};
use super::super::sod::{SodRules, is_covered};
use super::{Campaign, ItemKind, ReviewItem, ReviewScope};

/// What a campaign is generated from.
#[derive(Debug, Clone, Copy)]
pub struct ReviewInputs<'a> {
    /// The HR roster (names, departments, managers, terminations).
    pub roster: &'a [Identity],
    /// What policy (and active exceptions and requests) gives everyone.
    pub desired: &'a DesiredState,
    /// What the systems hold.
    pub actual: &'a ActualState,
    /// The separation-of-duties rules.
    pub rules: &'a SodRules,
    /// Every exception.
    pub exceptions: &'a [Exception],
    /// Approvers, owners and the stale threshold.
    pub config: &'a GovernanceConfig,
    /// The review's time.
    pub now: DateTime<Utc>,
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Generates campaign `id` over `scope`, due at `due_at`: each item with its
/// reviewer (the person's manager from the roster; else the owner of the resource
/// or system; else `unassigned`), evidence and fix, in risk order (terminated people's
/// active accounts, SoD conflicts, grants outside policy, stale grants, accounts with
/// no owner; then severity, person, system). Grants policy explains are counted in
/// [`Campaign::certified`].
pub fn generate(
    id: &str,
    name: &str,
    scope: &ReviewScope,
    due_at: DateTime<Utc>,
    inputs: &ReviewInputs<'_>,
) -> Campaign {
    let people: HashMap<&IdentityId, &Identity> =
        inputs.roster.iter().map(|p| (&p.id, p)).collect();
    let stale_before = inputs.now - Duration::days(inputs.config.stale_after_days);
    let mut items = Vec::new();
    let mut certified = 0usize;
    let mut in_scope = 0usize;
    for (identity, held) in &inputs.actual.identities {
        let person = people.get(identity).copied();
        let department = person.and_then(|p| p.attribute("department"));
        if !scope.has_department(department) {
            continue;
        }
        let ctx = Person {
            id: identity,
            person,
            department,
            config: inputs.config,
        };
        let grants_in_scope = held.grants.iter().filter(|g| scope.has_grant(g));
        if person.is_some_and(|p| p.is_terminated_at(inputs.now)) {
            // Grants in suspended accounts are out of use; those in enabled accounts
            // are covered by the account's item.
            in_scope += grants_in_scope
                .filter(|g| {
                    held.accounts
                        .get(&g.system)
                        .is_none_or(|a| a.state.is_enabled())
                })
                .count();
            for (system, account) in &held.accounts {
                if scope.has_system(system) && account.state.is_enabled() {
                    items.push(ctx.terminated(
                        system,
                        account,
                        held.grants.iter().filter(|g| &g.system == system).count(),
                    ));
                }
            }
            continue;
        }
        let want = inputs.desired.identities.get(identity);
        // SoD conflicts with at least one grant in scope, not covered by an exception.
        let mut in_conflict = Vec::new();
        for c in inputs.rules.conflicts_of(identity, &held.grants) {
            if !c.grants.iter().any(|g| scope.has_grant(g))
                || is_covered(&c, inputs.exceptions, inputs.now)
            {
                continue;
            }
            let rule = inputs.rules.get(&c.rule);
            // The item is about a grant in scope: the one policy does not give, else
            // the last one in scope.
            let in_scope: Vec<&Entitlement> =
                c.grants.iter().filter(|g| scope.has_grant(g)).collect();
            let revoke = in_scope
                .iter()
                .find(|g| want.is_none_or(|w| !w.grants.contains_key(**g)))
                .or(in_scope.last())
                .map(|g| (*g).clone());
            in_conflict.extend(c.grants.iter().cloned());
            let mut evidence = vec![format!(
                "holds {} together",
                c.grants
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            )];
            if let Some(d) = rule.and_then(|r| r.description.as_deref()) {
                evidence.push(format!("rule '{}': {d}", c.rule));
            }
            if let Some(at) = rule.and_then(|r| r.source.as_ref()) {
                evidence.push(format!("rule written at {at}"));
            }
            let Some(revoke) = revoke else { continue };
            let system = revoke.system.clone();
            let login = ctx.login(held.accounts.get(&system));
            items.push(ReviewItem {
                id: String::new(),
                kind: ItemKind::SodConflict,
                severity: c.severity,
                reviewer: ctx.reviewer(Some(&revoke), &system),
                identity: Some(identity.clone()),
                person: ctx.name(),
                login: login.clone(),
                department: department.map(str::to_owned),
                system: system.clone(),
                fix: format!(
                    "revoke {revoke}, or keep it with an exception for rule '{}'",
                    c.rule
                ),
                fix_operations: vec![revoke_op(
                    identity,
                    &login,
                    &revoke,
                    "separation-of-duties conflict",
                )],
                entitlement: Some(revoke),
                rule: Some(c.rule.clone()),
                evidence,
            });
        }
        for g in held.grants.iter().filter(|g| scope.has_grant(g)) {
            in_scope += 1;
            let account = held.accounts.get(&g.system);
            let last_login = account.and_then(|a| a.record.last_login);
            let stale = last_login.is_some_and(|t| t < stale_before);
            let explained = want.and_then(|w| w.grants.get(g));
            if in_conflict.contains(g) {
                continue;
            }
            match explained {
                Some(_) if !stale => certified += 1,
                Some(grant) => {
                    let login = ctx.login(account);
                    let policies: Vec<String> = grant
                        .provenance
                        .iter()
                        .map(|p| p.name().into_owned())
                        .collect();
                    items.push(ReviewItem {
                        id: String::new(),
                        kind: ItemKind::Stale,
                        severity: Severity::Low,
                        reviewer: ctx.reviewer(Some(g), &g.system),
                        identity: Some(identity.clone()),
                        person: ctx.name(),
                        login: login.clone(),
                        department: department.map(str::to_owned),
                        system: g.system.clone(),
                        entitlement: Some(g.clone()),
                        rule: None,
                        evidence: vec![
                            format!(
                                "{} reports the last login at {} (over {} days ago)",
                                g.system,
                                last_login.map(at).unwrap_or_default(),
                                inputs.config.stale_after_days
                            ),
                            format!("given by {}", policies.join(", ")),
                        ],
                        fix: format!(
                            "revoke {g}; it comes back on the next run unless {} stops applying to {}",
                            policies.join(", "),
                            ctx.name()
                        ),
                        fix_operations: vec![revoke_op(identity, &login, g, "unused access")],
                    });
                }
                None => {
                    let login = ctx.login(account);
                    let mut evidence = vec![format!(
                        "{} holds {g}; no policy, active exception or approved request gives it",
                        g.system
                    )];
                    let mut severity = Severity::Medium;
                    if let Some(e) = expired_exception(inputs.exceptions, identity, g, inputs.now) {
                        evidence.push(format!(
                            "exception {} (approved by {}) expired {}",
                            e.id,
                            e.approver,
                            at(e.expires_at)
                        ));
                        severity = Severity::High;
                    }
                    if let Some(t) = last_login {
                        evidence.push(format!("last login {}", at(t)));
                    }
                    items.push(ReviewItem {
                        id: String::new(),
                        kind: ItemKind::OutsidePolicy,
                        severity,
                        reviewer: ctx.reviewer(Some(g), &g.system),
                        identity: Some(identity.clone()),
                        person: ctx.name(),
                        login: login.clone(),
                        department: department.map(str::to_owned),
                        system: g.system.clone(),
                        entitlement: Some(g.clone()),
                        rule: None,
                        evidence,
                        fix: format!(
                            "revoke {g}, or keep it with a reason and an expiry (an exception)"
                        ),
                        fix_operations: vec![revoke_op(
                            identity,
                            &login,
                            g,
                            "grant outside policy",
                        )],
                    });
                }
            }
        }
    }
    if scope.department.is_none() {
        for (system, records) in &inputs.actual.unmatched_accounts {
            if !scope.has_system(system) {
                continue;
            }
            for record in records.iter().filter(|r| r.state.is_enabled()) {
                let id = IdentityId::new(format!("{UNMATCHED}{}", record.external_id));
                let mut evidence = vec![format!(
                    "{system} account {} ({}) matches no one in the roster",
                    record.login, record.external_id
                )];
                if let Some(t) = record.last_login {
                    evidence.push(format!("last login {}", at(t)));
                }
                items.push(ReviewItem {
                    id: String::new(),
                    kind: ItemKind::NoOwner,
                    severity: Severity::Medium,
                    reviewer: inputs
                        .config
                        .system_owner(system)
                        .unwrap_or("unassigned")
                        .to_owned(),
                    identity: None,
                    person: record.login.clone(),
                    login: record.login.clone(),
                    department: None,
                    system: system.clone(),
                    entitlement: None,
                    rule: None,
                    evidence,
                    fix: format!(
                        "suspend the {system} account {}, or name its owner in the roster",
                        record.login
                    ),
                    fix_operations: vec![account_op(
                        &id,
                        &record.login,
                        system,
                        OperationKind::SuspendAccount,
                        ReasonKind::UnmanagedGrant,
                        "account with no owner",
                    )],
                });
            }
        }
    }
    items.sort_by(|a, b| {
        (
            a.kind,
            std::cmp::Reverse(a.severity),
            &a.person,
            &a.system,
            &a.entitlement,
        )
            .cmp(&(
                b.kind,
                std::cmp::Reverse(b.severity),
                &b.person,
                &b.system,
                &b.entitlement,
            ))
    });
    for (i, item) in items.iter_mut().enumerate() {
        item.id = format!("i-{:04}", i + 1);
    }
    Campaign {
        id: id.to_owned(),
        name: name.to_owned(),
        scope: scope.clone(),
        opened_at: inputs.now,
        due_at,
        items,
        certified,
        grants_in_scope: in_scope,
        keep_until: None,
        no_response: super::NoResponse::default(),
        allow_self_review: false,
        escalated_from: None,
    }
}

fn expired_exception<'a>(
    exceptions: &'a [Exception],
    identity: &IdentityId,
    g: &Entitlement,
    now: DateTime<Utc>,
) -> Option<&'a Exception> {
    exceptions.iter().rev().find(|e| {
        &e.identity == identity
            && e.entitlement() == Some(g)
            && status_of(e, exceptions, now) == ExceptionStatus::Expired
    })
}

struct Person<'a> {
    id: &'a IdentityId,
    person: Option<&'a Identity>,
    department: Option<&'a str>,
    config: &'a GovernanceConfig,
}

impl Person<'_> {
    fn name(&self) -> String {
        self.person
            .map_or_else(|| self.id.to_string(), |p| p.display_name.clone())
    }

    fn login(&self, account: Option<&ActualAccount>) -> String {
        account.map_or_else(
            || {
                self.person
                    .map_or_else(|| self.id.to_string(), |p| p.login.clone())
            },
            |a| a.record.login.clone(),
        )
    }

    /// The manager; else the owner of the grant or system; else `unassigned`. A
    /// manager attribute naming the person themself (the top of the chart) is no
    /// manager: nobody certifies their own access.
    fn reviewer(&self, grant: Option<&Entitlement>, system: &SystemName) -> String {
        let manager = self
            .person
            .and_then(|p| p.attribute(&self.config.manager_attribute))
            .filter(|m| !m.is_empty() && *m != self.id.as_str());
        manager
            .or_else(|| grant.and_then(|g| self.config.owner_of(g)))
            .or_else(|| self.config.system_owner(system))
            .unwrap_or("unassigned")
            .to_owned()
    }

    fn terminated(
        &self,
        system: &SystemName,
        account: &ActualAccount,
        grants: usize,
    ) -> ReviewItem {
        let effective = match self.person.map(|p| &p.status) {
            Some(provision_core::model::EmploymentStatus::Terminated { effective }) => {
                Some(*effective)
            }
            _ => None,
        };
        let mut evidence = vec![format!(
            "{system} account {} is {} with {grants} grant(s)",
            account.record.login,
            match account.state {
                AccountState::Active => "active",
                AccountState::Staged => "staged",
                AccountState::Suspended => "suspended",
                AccountState::Deprovisioned => "deprovisioned",
                _ => "in another state",
            }
        )];
        if let Some(t) = effective {
            evidence.push(format!("the roster says terminated effective {}", at(t)));
        }
        if let Some(t) = account.record.last_login {
            evidence.push(format!("last login {}", at(t)));
        }
        ReviewItem {
            id: String::new(),
            kind: ItemKind::TerminatedActive,
            severity: Severity::Critical,
            reviewer: self.reviewer(None, system),
            identity: Some(self.id.clone()),
            person: self.name(),
            login: account.record.login.clone(),
            department: self.department.map(str::to_owned),
            system: system.clone(),
            entitlement: None,
            rule: None,
            evidence,
            fix: format!("end the sessions and suspend the {system} account now"),
            fix_operations: vec![
                account_op(
                    self.id,
                    &account.record.login,
                    system,
                    OperationKind::RevokeSessions,
                    ReasonKind::Termination,
                    "terminated person's active account",
                ),
                account_op(
                    self.id,
                    &account.record.login,
                    system,
                    OperationKind::SuspendAccount,
                    ReasonKind::Termination,
                    "terminated person's active account",
                ),
            ],
        }
    }
}

fn reason(kind: ReasonKind, detail: &str) -> Reason {
    Reason {
        kind,
        policies: Vec::new(),
        event: None,
        detail: format!("access review: {detail}"),
        valid_until: None,
    }
}

fn revoke_op(identity: &IdentityId, login: &str, e: &Entitlement, why: &str) -> Operation {
    let kind = OperationKind::Revoke {
        entitlement: e.clone(),
    };
    Operation {
        id: Operation::make_id(identity, &e.system, &kind),
        identity: identity.clone(),
        login: login.to_owned(),
        system: e.system.clone(),
        kind,
        reason: reason(ReasonKind::PolicyRemoved, why),
        priority: Priority::Normal,
    }
}

fn account_op(
    identity: &IdentityId,
    login: &str,
    system: &SystemName,
    kind: OperationKind,
    reason_kind: ReasonKind,
    why: &str,
) -> Operation {
    Operation {
        id: Operation::make_id(identity, system, &kind),
        identity: identity.clone(),
        login: login.to_owned(),
        system: system.clone(),
        priority: if reason_kind == ReasonKind::Termination {
            Priority::Leaver
        } else {
            Priority::Normal
        },
        kind,
        reason: reason(reason_kind, why),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use provision_core::model::{
        AccountRecord, ActualIdentity, DesiredGrant, DesiredIdentity, Provenance, Validity,
    };

    #[test]
    fn a_policy_grant_in_an_account_unused_for_too_long_needs_a_decision_the_rest_is_certified() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let ada = Identity::new("e1", "ada@co", "Ada").with_attribute("manager", "e9");
        let used = Entitlement::new("okta", "group", "eng");
        let unused = Entitlement::new("gitlab", "group", "eng");
        let mut desired = DesiredState::default();
        let provenance = Provenance::policy("Engineering", Arc::new(BTreeMap::new()));
        desired.identities.insert(
            ada.id.clone(),
            DesiredIdentity {
                identity: ada.clone(),
                accounts: BTreeSet::new(),
                grants: [&used, &unused]
                    .into_iter()
                    .map(|e| {
                        (
                            e.clone(),
                            DesiredGrant {
                                provenance: vec![provenance.clone()],
                                validity: Validity::ALWAYS,
                            },
                        )
                    })
                    .collect(),
                expired: BTreeMap::new(),
            },
        );
        let account = |system: &str, days: i64| {
            let mut record =
                AccountRecord::new(format!("{system}-1"), "ada@co", AccountState::Active);
            record.last_login = Some(now - Duration::days(days));
            (
                SystemName::new(system),
                ActualAccount {
                    external_id: format!("{system}-1"),
                    state: AccountState::Active,
                    record,
                },
            )
        };
        let mut actual = ActualState::default();
        actual.identities.insert(
            ada.id.clone(),
            ActualIdentity {
                accounts: [account("okta", 2), account("gitlab", 120)]
                    .into_iter()
                    .collect(),
                grants: [used, unused.clone()].into_iter().collect(),
                ambiguous: BTreeSet::new(),
            },
        );
        let settings = GovernanceConfig::default();
        let inputs = ReviewInputs {
            roster: std::slice::from_ref(&ada),
            desired: &desired,
            actual: &actual,
            rules: &SodRules::default(),
            exceptions: &[],
            config: &settings,
            now,
        };
        let c = generate("rc", "r", &ReviewScope::all(), now, &inputs);
        assert_eq!(c.certified, 1);
        assert_eq!(c.items.len(), 1);
        let item = &c.items[0];
        assert_eq!((item.kind, item.reviewer.as_str()), (ItemKind::Stale, "e9"));
        assert_eq!(item.entitlement.as_ref(), Some(&unused));
        assert!(
            item.evidence[0].contains("2026-08-03"),
            "{:?}",
            item.evidence
        );
        assert!(item.evidence[1].contains("Engineering"));
    }
}
