//! Reading what the systems hold: every account, the grants on every resource a
//! policy mentions, and, where a kind is enumerable, everything each account holds.
//!
//! [`read_system`] is the one place the engine reads a system. It drains the
//! paginated reads with [`drain_pages`] (the same loop as
//! [`crate::adapter::read_all_accounts`] and friends, with the system's configured
//! name in errors) and waits out a bounded number of "rate limited" answers.
//! LEAD: switch this function to the executor's paced, retried reads once they land;
//! nothing else in the engine reads an adapter.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;

use crate::adapter::{
    Adapter, AdapterError, Page, ReadError, SystemDescriptor, check_unique_accounts, drain_pages,
};
use crate::model::{AccountRef, GrantRecord, ResourceRef, SystemName, SystemSnapshot};

/// "Rate limited" answers one page read waits out before the read fails.
const RATE_LIMITED_RETRIES: u32 = 10;
/// The longest single wait on a "rate limited" answer.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// One page, waiting as the system says when it answers "rate limited".
async fn page_with_waits<T, F, Fut>(mut read: F) -> Result<Page<T>, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, AdapterError>>,
{
    let mut limited = 0;
    loop {
        match read().await {
            Err(AdapterError::RateLimited { info, .. }) if limited < RATE_LIMITED_RETRIES => {
                limited += 1;
                let wait = info.retry_after.unwrap_or(Duration::from_secs(1));
                tracing::debug!(?wait, limited, "read rate limited; waiting");
                tokio::time::sleep(wait.min(LONGEST_WAIT)).await;
            }
            other => return other,
        }
    }
}

/// Reads one system: its accounts, the grants on the `managed` resources that are in
/// it (a resource that does not exist yet has no grants), and, when a kind of the
/// system is [enumerable](crate::adapter::ResourceKindDescriptor::enumerable),
/// every account's grants through [`Adapter::read_account_grants`] (an adapter
/// without it is read by resource only). Grants read twice are kept once.
pub async fn read_system(
    name: &SystemName,
    adapter: &dyn Adapter,
    descriptor: &SystemDescriptor,
    managed: &BTreeSet<ResourceRef>,
) -> Result<SystemSnapshot, ReadError> {
    let accounts = drain_pages(name, |cursor| async move {
        page_with_waits(|| adapter.read_accounts(cursor.as_deref())).await
    })
    .await?;
    check_unique_accounts(name, &accounts)?;

    let mut grants: BTreeMap<(crate::model::Entitlement, String), GrantRecord> = BTreeMap::new();
    let mut keep = |found: Vec<GrantRecord>| {
        for grant in found {
            grants
                .entry((grant.entitlement.clone(), grant.account_external_id.clone()))
                .or_insert(grant);
        }
    };
    for resource in managed.iter().filter(|r| &r.system == name) {
        let read = drain_pages(name, |cursor| async move {
            page_with_waits(|| adapter.read_grants(resource, cursor.as_deref())).await
        })
        .await;
        match read {
            Ok(found) => keep(found),
            Err(e) if matches!(e.adapter_error(), Some(AdapterError::NotFound { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    if descriptor.kinds.iter().any(|k| k.enumerable) {
        for account in &accounts {
            let account_ref = AccountRef {
                login: account.login.clone(),
                external_id: Some(account.external_id.clone()),
            };
            let account_ref = &account_ref;
            let read = drain_pages(name, |cursor| async move {
                page_with_waits(|| adapter.read_account_grants(account_ref, cursor.as_deref()))
                    .await
            })
            .await;
            match read {
                Ok(found) => keep(found),
                Err(e) if matches!(e.adapter_error(), Some(AdapterError::Unsupported { .. })) => {
                    tracing::debug!(system = %name, "read_account_grants unsupported; reading by resource only");
                    break;
                }
                Err(e) if matches!(e.adapter_error(), Some(AdapterError::NotFound { .. })) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(SystemSnapshot {
        system: Some(name.clone()),
        accounts,
        grants: grants.into_values().collect(),
        read_at: Some(Utc::now()),
    })
}
