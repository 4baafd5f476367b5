//! Keeping the leases of what a worker holds while it works, and checking them before
//! anything is sent.
//!
//! Inbox rows and scheduled jobs are taken for a lease (`worker.lease_seconds`) so
//! that work held by an instance that died is taken over by another. A lease is a
//! sign of life, not a bound on how long the work may take: a termination batch
//! waiting for a system's rate budget can take many leases. So while a worker holds
//! rows or jobs, a [`LeaseKeeper`] renews their leases every third of a lease; the
//! rows of a live worker are never taken over.
//!
//! A worker that stalls longer than a lease (a paused process, a lost database
//! connection) can still lose its rows to another instance, which then plans them
//! under a run of its own. So before a run sends anything, its [`Fence`] renews once
//! more and checks that every row is still held; a worker that lost one sends
//! nothing ([`ServerError::LeaseLost`]) and leaves the work to the new holder.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::task::AbortHandle;

use crate::error::ServerError;
use crate::store::ServiceStore;

/// What a keeper holds: inbox rows or scheduled jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leased {
    /// Inbox rows, by `seq`.
    Inbox,
    /// Scheduled jobs, by id.
    Schedule,
}

/// Renews the leases of a set of rows (or jobs) in the background until dropped.
pub(crate) struct LeaseKeeper {
    store: Arc<dyn ServiceStore>,
    owner: String,
    kind: Leased,
    ids: Vec<i64>,
    lease: Duration,
    /// The rows the last renewal found still held.
    held: Arc<Mutex<BTreeSet<i64>>>,
    task: AbortHandle,
}

impl std::fmt::Debug for LeaseKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("owner", &self.owner)
            .field("kind", &self.kind)
            .field("ids", &self.ids)
            .finish_non_exhaustive()
    }
}

impl LeaseKeeper {
    /// Starts renewing `owner`'s lease on `ids` every third of `lease`.
    pub(crate) fn start(
        store: Arc<dyn ServiceStore>,
        owner: &str,
        kind: Leased,
        ids: Vec<i64>,
        lease: Duration,
    ) -> Self {
        let held = Arc::new(Mutex::new(ids.iter().copied().collect::<BTreeSet<_>>()));
        let every = (lease / 3).max(Duration::from_millis(100));
        let task = {
            let (store, owner, ids, held) = (
                Arc::clone(&store),
                owner.to_owned(),
                ids.clone(),
                Arc::clone(&held),
            );
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match renew(&*store, &owner, kind, &ids, lease).await {
                        Ok(now_held) => {
                            let mut held = held.lock().unwrap_or_else(|p| p.into_inner());
                            for lost in held.difference(&now_held) {
                                tracing::warn!(
                                    ?kind,
                                    id = lost,
                                    "lease lost: another instance holds it now"
                                );
                            }
                            *held = now_held;
                        }
                        // The next tick tries again; the fence renews before sending.
                        Err(e) => tracing::warn!(?kind, error = %e, "lease renewal failed"),
                    }
                }
            })
            .abort_handle()
        };
        Self {
            store,
            owner: owner.to_owned(),
            kind,
            ids,
            lease,
            held,
            task,
        }
    }

    /// A fence over `ids` (a subset of what this keeper holds).
    pub(crate) fn fence(&self, ids: impl IntoIterator<Item = i64>) -> Fence<'_> {
        Fence {
            keeper: self,
            ids: ids.into_iter().collect(),
        }
    }

    /// Renews now; the rows still held.
    async fn renew_now(&self) -> Result<BTreeSet<i64>, ServerError> {
        let now_held = renew(&*self.store, &self.owner, self.kind, &self.ids, self.lease).await?;
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.clone_from(&now_held);
        Ok(now_held)
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn renew(
    store: &dyn ServiceStore,
    owner: &str,
    kind: Leased,
    ids: &[i64],
    lease: Duration,
) -> Result<BTreeSet<i64>, ServerError> {
    let now = Utc::now();
    let held = match kind {
        Leased::Inbox => store.inbox_renew(owner, ids, lease, now).await?,
        Leased::Schedule => store.schedule_renew(owner, ids, lease, now).await?,
    };
    Ok(held.into_iter().collect())
}

/// The rows one run is for: checked (and renewed) before the run sends anything.
#[derive(Debug)]
pub(crate) struct Fence<'a> {
    keeper: &'a LeaseKeeper,
    ids: BTreeSet<i64>,
}

impl Fence<'_> {
    /// Renews the leases now; [`ServerError::LeaseLost`] when another instance took
    /// one of the fence's rows.
    pub(crate) async fn check(&self) -> Result<(), ServerError> {
        let held = self.keeper.renew_now().await?;
        let lost: Vec<i64> = self.ids.difference(&held).copied().collect();
        if lost.is_empty() {
            Ok(())
        } else {
            Err(ServerError::LeaseLost {
                what: format!("{:?} {lost:?}", self.keeper.kind).to_lowercase(),
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_store::{Accepted, Inbox, NewInboxEvent, SqliteStore};

    async fn store_with_one_row(name: &str) -> (Arc<dyn ServiceStore>, i64, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join(format!("{name}.db")))
            .await
            .unwrap();
        let accepted = store
            .inbox_accept(&NewInboxEvent {
                source: "workday".into(),
                event_id: "evt-1".into(),
                kind: "termination".into(),
                identity: "e1".into(),
                priority: 0,
                payload_json: "{}".into(),
                received_at: Utc::now(),
            })
            .await
            .unwrap();
        let Accepted::Stored { seq } = accepted else {
            panic!("{accepted:?}")
        };
        (Arc::new(store), seq, dir)
    }

    const LEASE: Duration = Duration::from_millis(1200);

    #[tokio::test]
    async fn a_live_worker_keeps_its_rows_past_the_lease_and_a_stalled_one_sends_nothing() {
        let (store, seq, _dir) = store_with_one_row("keep").await;
        let taken = store.inbox_claim("a", LEASE, Utc::now(), 10).await.unwrap();
        assert_eq!(taken.len(), 1);
        let keeper = LeaseKeeper::start(Arc::clone(&store), "a", Leased::Inbox, vec![seq], LEASE);
        // Twice the lease later, the row is still a's: b finds nothing to take.
        tokio::time::sleep(LEASE * 2).await;
        assert!(
            store
                .inbox_claim("b", LEASE, Utc::now(), 10)
                .await
                .unwrap()
                .is_empty(),
            "a renewed its lease while it worked"
        );
        keeper.fence([seq]).check().await.unwrap();
        // a stalls (stops renewing) past its lease: b takes the row over, and a's
        // fence refuses to let a send.
        drop(keeper);
        tokio::time::sleep(LEASE + Duration::from_millis(300)).await;
        let taken = store.inbox_claim("b", LEASE, Utc::now(), 10).await.unwrap();
        assert_eq!(taken.len(), 1, "the lease ran out: b takes it");
        let stalled = LeaseKeeper::start(Arc::clone(&store), "a", Leased::Inbox, vec![seq], LEASE);
        let err = stalled.fence([seq]).check().await.unwrap_err();
        assert!(
            matches!(&err, ServerError::LeaseLost { what } if what == &format!("inbox [{seq}]")),
            "{err}"
        );
    }
}
