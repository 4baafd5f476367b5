//! A leaver's operations in one system: the single source of the rules the
//! planner's diff and drift detection both use for a terminated identity.

use crate::adapter::SystemDescriptor;
use crate::config::{Enforcement, SystemConfig};
use crate::model::{
    ActualAccount, EmploymentStatus, Entitlement, Identity, Operation, OperationKind, Priority,
    Reason, SystemName,
};

use super::reason;

/// Whether an external engine owns the system's accounts (kind `account`, or
/// the whole system): then the SDK never creates, suspends or deletes them.
pub(crate) fn accounts_owned_externally(config: &SystemConfig) -> bool {
    config.external_owners.iter().any(|o| {
        o.kind.as_deref() == Some("account") || (o.kind.is_none() && o.resource_prefix.is_none())
    })
}

/// Whether suspending the account makes the grants it holds harmless, so a leaver's
/// grants need not be revoked one by one: the system can suspend, its suspension
/// keeps grants blocked ([`SystemDescriptor::suspension_keeps_grants`]), and there
/// is an account to suspend.
pub(crate) fn suspension_covers_grants(
    descriptor: &SystemDescriptor,
    account: Option<&ActualAccount>,
) -> bool {
    descriptor.can_suspend && descriptor.suspension_keeps_grants && account.is_some()
}

/// The operations that take a terminated `identity` out of one system, each with
/// the enforcement that decides whether it is executed or only reported:
///
/// * every grant in `grants` (the ones it holds there that it should not, including
///   hand-made ones read per account) is revoked, unless an external engine owns it
///   or [suspension covers it](suspension_covers_grants) (it stays for a rehire);
/// * where the account is enabled: sessions revoked (where the system can, and
///   something else happens to the account or its grants), then the account
///   suspended (where the system can);
/// * the account deleted where `delete_leavers` and the system can delete.
///
/// Account operations are left out where the system has no accounts or an
/// external engine owns them. All operations have [`Priority::Leaver`] and a
/// [`ReasonKind::Termination`](crate::model::ReasonKind::Termination) reason;
/// they come out as revokes (in the order of `grants`), then revoke sessions,
/// suspend, delete.
pub(crate) fn leaver_ops_in_system<'e>(
    identity: &Identity,
    system: &SystemName,
    config: &SystemConfig,
    descriptor: &SystemDescriptor,
    grants: impl IntoIterator<Item = &'e Entitlement>,
    account: Option<&ActualAccount>,
) -> Vec<(Enforcement, Operation)> {
    let effective = match identity.status {
        EmploymentStatus::Terminated { effective } => Some(effective),
        _ => None,
    };
    let op = |kind: OperationKind, reason: Reason| Operation {
        id: Operation::make_id(&identity.id, system, &kind),
        identity: identity.id.clone(),
        login: identity.login.clone(),
        system: system.clone(),
        kind,
        reason,
        priority: Priority::Leaver,
    };
    let mut ops = Vec::new();

    let mut revokes_executed = false;
    for e in grants {
        if config.owner_of(&e.kind, &e.resource).is_some() {
            continue;
        }
        if suspension_covers_grants(descriptor, account) {
            // Suspension blocks it; the grant stays for a possible rehire.
            continue;
        }
        let enforcement = config.enforcement_for(&e.kind);
        revokes_executed |= enforcement != Enforcement::Report;
        ops.push((
            enforcement,
            op(
                OperationKind::Revoke {
                    entitlement: e.clone(),
                },
                reason::termination(effective, &format!("revoke {e}")),
            ),
        ));
    }

    let Some(account) = account else {
        return ops;
    };
    if !descriptor.has_accounts || accounts_owned_externally(config) {
        return ops;
    }
    let enforcement = config.enforcement;
    let enabled = account.state.is_enabled();
    let suspend = enabled && descriptor.can_suspend;
    let delete = config.delete_leavers && descriptor.can_delete;
    if enabled && descriptor.can_revoke_sessions && (suspend || delete || revokes_executed) {
        ops.push((
            enforcement,
            op(
                OperationKind::RevokeSessions,
                reason::termination(effective, "end every session first"),
            ),
        ));
    }
    if suspend {
        ops.push((
            enforcement,
            op(
                OperationKind::SuspendAccount,
                reason::termination(effective, "suspend the account"),
            ),
        ));
    }
    if delete {
        ops.push((
            enforcement,
            op(
                OperationKind::DeleteAccount,
                reason::termination(effective, "delete the account (delete_leavers)"),
            ),
        ));
    }
    ops
}
