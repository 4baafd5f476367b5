//! Drift on accounts: an identity's account in one system (missing, suspended,
//! orphaned, stale, pending its first login) and accounts that match no one.

use crate::model::{
    AccountProfile, AccountRecord, AccountState, ActualAccount, Ambiguity, DesiredIdentity,
    IdentityId, Operation, OperationKind, SystemName,
};

use super::super::finding::{DriftClass, Evidence, Holder, Severity, Subject};
use super::*;

impl<'a> Detector<'a> {
    /// An account that exists: orphaned when its holder is terminated or unknown, stale when unused.
    pub(super) fn account(&mut self, who: &Who<'_>, system: &SystemName, account: &ActualAccount) {
        let subject = || Subject::Account {
            external_id: Some(account.external_id.clone()),
            state: Some(account.state),
        };
        if who.holder != Holder::Current {
            if !account.state.is_enabled() {
                return;
            }
            let (severity, expected) = match who.holder {
                Holder::Terminated => (
                    Severity::Critical,
                    "no enabled account: the identity is terminated".to_owned(),
                ),
                _ => (
                    Severity::High,
                    "no enabled account: it matches no identity in the HR source".to_owned(),
                ),
            };
            let evidence = self.evidence(system, describe_account(&account.record), expected);
            let fixes = match who.holder {
                // Exactly what the planner plans for a leaver in this system.
                Holder::Terminated => self.leaver.get(system).cloned().unwrap_or_default(),
                _ => self.disable_account_ops(who, system),
            };
            self.push(
                DriftClass::Orphaned,
                severity,
                who,
                system,
                subject(),
                evidence,
                fixes,
            );
            return;
        }
        let (Some(threshold), AccountState::Active, Some(last)) = (
            self.inputs.stale_after,
            account.state,
            account.record.last_login,
        ) else {
            return;
        };
        if self.inputs.now - last > threshold {
            let expected = format!(
                "a sign-in within {} days, or the account suspended",
                threshold.num_days()
            );
            let evidence = self.evidence(system, describe_account(&account.record), expected);
            let fixes = self.disable_account_ops(who, system);
            self.push(
                DriftClass::Stale,
                Severity::Low,
                who,
                system,
                subject(),
                evidence,
                fixes,
            );
        }
    }

    /// Session revocation then suspension, as far as the system can do either:
    /// for accounts that match no identity, and stale accounts (a terminated
    /// identity's accounts get the planner's leaver operations instead).
    pub(super) fn disable_account_ops(&self, who: &Who<'_>, system: &SystemName) -> Vec<Operation> {
        let Some(d) = self.descriptor(system) else {
            return Vec::new();
        };
        let detail = match who.holder {
            Holder::Terminated => "drift remediation: disable the account of a terminated identity",
            Holder::Unknown => "drift remediation: disable an account that matches no identity",
            Holder::Current => "drift remediation: disable an account unused past the threshold",
        };
        let mut ops = Vec::new();
        if d.can_revoke_sessions {
            ops.push(operation(
                who,
                system,
                OperationKind::RevokeSessions,
                detail,
                Vec::new(),
            ));
        }
        if d.can_suspend {
            ops.push(operation(
                who,
                system,
                OperationKind::SuspendAccount,
                detail,
                Vec::new(),
            ));
        }
        ops
    }

    /// An account policies call for: missing, disabled, or pending first login. The
    /// fix is the planner's create (with the grants it carries) or reactivation.
    pub(super) fn wanted_account(
        &mut self,
        who: &Who<'_>,
        wanted: &DesiredIdentity,
        system: &SystemName,
        has: Option<&ActualAccount>,
    ) {
        if has.is_some_and(|a| a.state.is_enabled()) {
            return;
        }
        let expected = "an enabled account (policies give grants here)".to_owned();
        let (kind, subject, observed) = match has {
            Some(a) => (
                OperationKind::ReactivateAccount,
                Subject::Account {
                    external_id: Some(a.external_id.clone()),
                    state: Some(a.state),
                },
                describe_account(&a.record),
            ),
            None => {
                let profile = AccountProfile::new(
                    &wanted.identity.login,
                    &wanted.identity.email,
                    &wanted.identity.display_name,
                );
                (
                    OperationKind::CreateAccount { profile },
                    Subject::Account {
                        external_id: None,
                        state: None,
                    },
                    "no account".to_owned(),
                )
            }
        };
        let evidence = self.evidence(system, observed, expected);
        if has.is_none() && self.first_login(system) {
            self.push(
                DriftClass::Pending,
                Severity::Info,
                who,
                system,
                subject,
                Evidence {
                    expected: "the account appears on the first SSO sign-in".to_owned(),
                    ..evidence
                },
                Vec::new(),
            );
            return;
        }
        let Some(fix) = self.planned_fix(who, system, &kind) else {
            // The planner changes nothing here (an external engine owns the
            // accounts, or correlation was ambiguous): no fix to propose.
            return;
        };
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

    /// The planner's operation of this kind for the identity, as a drift fix.
    pub(super) fn planned_fix(
        &self,
        who: &Who<'_>,
        system: &SystemName,
        kind: &OperationKind,
    ) -> Option<Operation> {
        self.planned_op(who, system, kind).cloned().map(drift_fix)
    }

    /// The planner's operation of this kind for the identity, if it plans one.
    pub(super) fn planned_op(
        &self,
        who: &Who<'_>,
        system: &SystemName,
        kind: &OperationKind,
    ) -> Option<&Operation> {
        self.planned.get(&Operation::make_id(who.id, system, kind))
    }

    /// Whether the planner plans this system at all (configured, with a descriptor).
    pub(super) fn planned_system(&self, system: &SystemName) -> bool {
        self.config(system).is_some() && self.descriptor(system).is_some()
    }

    pub(super) fn first_login(&self, system: &SystemName) -> bool {
        self.descriptor(system)
            .is_some_and(|d| d.accounts_created_on_first_login)
    }

    /// An account that matches no identity: orphaned while enabled.
    /// An account that matches no identity, or whose match was ambiguous
    /// (`ambiguity`): then it is reported, enabled or not, with no fix; a person
    /// decides whose it is.
    pub(super) fn unmatched_account(
        &mut self,
        system: &SystemName,
        record: &AccountRecord,
        ambiguity: Option<&Ambiguity>,
    ) {
        if let Some(ambiguity) = ambiguity {
            let id = IdentityId::new(format!("{UNMATCHED}{}", record.external_id));
            let who = Who {
                id: &id,
                login: &record.login,
                holder: Holder::Unknown,
                placeholder: true,
            };
            let names: Vec<&str> = ambiguity.identities.iter().map(|i| i.as_str()).collect();
            let evidence = self.evidence(
                system,
                describe_account(record),
                format!(
                    "one owner: correlation is ambiguous ({}; identities {}), a person decides",
                    ambiguity.detail,
                    names.join(", ")
                ),
            );
            let severity = if record.state.is_enabled() {
                Severity::High
            } else {
                Severity::Medium
            };
            self.push(
                DriftClass::Orphaned,
                severity,
                &who,
                system,
                Subject::Account {
                    external_id: Some(record.external_id.clone()),
                    state: Some(record.state),
                },
                evidence,
                Vec::new(),
            );
            return;
        }
        if !record.state.is_enabled() {
            return;
        }
        let id = IdentityId::new(format!("{UNMATCHED}{}", record.external_id));
        let who = Who {
            id: &id,
            login: &record.login,
            holder: Holder::Unknown,
            placeholder: true,
        };
        let evidence = self.evidence(
            system,
            describe_account(record),
            "no enabled account: it matches no identity in the HR source".to_owned(),
        );
        let fixes = self.disable_account_ops(&who, system);
        self.push(
            DriftClass::Orphaned,
            Severity::High,
            &who,
            system,
            Subject::Account {
                external_id: Some(record.external_id.clone()),
                state: Some(record.state),
            },
            evidence,
            fixes,
        );
    }
}
