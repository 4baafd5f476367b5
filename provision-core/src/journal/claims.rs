//! Operation claims: which orchestrator instance may send an operation, so that two
//! instances applying (or resuming) the same run never send the same operation twice.
//!
//! An instance claims an operation for a lease before each attempt (claiming again
//! renews it), marks it complete once its final state is in the journal, and
//! releases it when it stops without a final state (e.g. still pending). A lease that
//! ran out without completion is free again; whoever takes it over must ask the
//! system first whether the previous holder's attempt took effect
//! ([`ClaimOutcome::Claimed::previous_holder`]).
//!
//! [`MemoryClaims`] is for tests and for several executors in one process; the
//! PostgreSQL store in `provision-store` shares claims between processes.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{JournalError, RunId};
use crate::model::OperationId;

/// The answer to [`OperationClaims::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimOutcome {
    /// The caller holds the operation until `lease_until`.
    Claimed {
        /// Another instance held it before and did not complete it (its lease ran
        /// out, or it released it): its attempt may have taken effect, so check the
        /// system before sending. `None` for a first claim or a renewal.
        previous_holder: Option<String>,
        /// When the lease ends.
        lease_until: DateTime<Utc>,
    },
    /// Another instance holds it with a live lease.
    HeldByOther {
        /// That instance.
        holder: String,
        /// When its lease ends.
        lease_until: DateTime<Utc>,
    },
    /// An instance completed it: its final state is in the journal.
    AlreadyDone,
}

/// Leases on operations, shared by the instances that apply one run.
#[async_trait]
pub trait OperationClaims: Send + Sync {
    /// Takes `operation` of `run` for `holder` for `lease`, unless another holder has
    /// a live lease on it or it is complete. Claiming again as the same holder renews.
    async fn claim(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
        lease: Duration,
    ) -> Result<ClaimOutcome, JournalError>;

    /// Marks an operation held by `holder` complete (its final state is journaled):
    /// nobody claims it again. False when `holder` does not hold it.
    async fn complete(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
    ) -> Result<bool, JournalError>;

    /// Gives an operation back before its lease ends, without completing it. The next
    /// claimer sees `holder` as the previous holder. False when `holder` does not hold it.
    async fn release(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
    ) -> Result<bool, JournalError>;
}

#[derive(Debug, Clone)]
struct Row {
    holder: Option<String>,
    lease_until: Option<DateTime<Utc>>,
    done: bool,
}

/// [`OperationClaims`] in memory: shared by executors in one process (wrap it in an
/// `Arc`). Lost when dropped.
#[derive(Debug, Default)]
pub struct MemoryClaims {
    rows: Mutex<Rows>,
}

type Rows = HashMap<(RunId, OperationId), Row>;

impl MemoryClaims {
    /// No claims.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Rows>, JournalError> {
        self.rows
            .lock()
            .map_err(|_| JournalError::Storage("claims mutex poisoned".to_owned()))
    }
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>, JournalError> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| JournalError::Storage(format!("lease of {lease:?} is out of range")))
}

#[async_trait]
impl OperationClaims for MemoryClaims {
    async fn claim(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
        lease: Duration,
    ) -> Result<ClaimOutcome, JournalError> {
        let now = crate::clock::wall_now();
        let lease_until = lease_end(now, lease)?;
        let mut rows = self.lock()?;
        let row = rows.entry((run.clone(), operation.clone())).or_insert(Row {
            holder: None,
            lease_until: None,
            done: false,
        });
        if row.done {
            return Ok(ClaimOutcome::AlreadyDone);
        }
        let live = row.lease_until.is_some_and(|until| until > now);
        let previous_holder = match &row.holder {
            Some(other) if other != holder && live => {
                return Ok(ClaimOutcome::HeldByOther {
                    holder: other.clone(),
                    lease_until: row.lease_until.unwrap_or(now),
                });
            }
            Some(other) if other != holder => Some(other.clone()),
            _ => None,
        };
        row.holder = Some(holder.to_owned());
        row.lease_until = Some(lease_until);
        Ok(ClaimOutcome::Claimed {
            previous_holder,
            lease_until,
        })
    }

    async fn complete(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
    ) -> Result<bool, JournalError> {
        let mut rows = self.lock()?;
        match rows.get_mut(&(run.clone(), operation.clone())) {
            Some(row) if !row.done && row.holder.as_deref() == Some(holder) => {
                row.done = true;
                row.lease_until = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
    ) -> Result<bool, JournalError> {
        let mut rows = self.lock()?;
        match rows.get_mut(&(run.clone(), operation.clone())) {
            Some(row) if !row.done && row.holder.as_deref() == Some(holder) => {
                // The holder stays recorded so the next claimer knows to check first.
                row.lease_until = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ids() -> (RunId, OperationId) {
        (RunId("r".into()), OperationId("op".into()))
    }

    #[tokio::test]
    async fn one_holder_at_a_time_until_complete() {
        let claims = MemoryClaims::new();
        let (run, op) = ids();
        let lease = Duration::from_secs(60);
        let a = claims.claim(&run, &op, "a", lease).await.unwrap();
        assert!(matches!(
            a,
            ClaimOutcome::Claimed {
                previous_holder: None,
                ..
            }
        ));
        let b = claims.claim(&run, &op, "b", lease).await.unwrap();
        assert!(matches!(b, ClaimOutcome::HeldByOther { ref holder, .. } if holder == "a"));
        // Renewal by the holder is not a take-over.
        assert!(matches!(
            claims.claim(&run, &op, "a", lease).await.unwrap(),
            ClaimOutcome::Claimed {
                previous_holder: None,
                ..
            }
        ));
        assert!(!claims.complete(&run, &op, "b").await.unwrap());
        assert!(claims.complete(&run, &op, "a").await.unwrap());
        assert_eq!(
            claims.claim(&run, &op, "b", lease).await.unwrap(),
            ClaimOutcome::AlreadyDone
        );
    }

    #[tokio::test]
    async fn expired_or_released_lease_is_taken_over_naming_the_previous_holder() {
        let claims = MemoryClaims::new();
        let (run, op) = ids();
        claims.claim(&run, &op, "a", Duration::ZERO).await.unwrap();
        let b = claims
            .claim(&run, &op, "b", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(
            matches!(b, ClaimOutcome::Claimed { previous_holder: Some(ref h), .. } if h == "a"),
            "{b:?}"
        );
        assert!(claims.release(&run, &op, "b").await.unwrap());
        let c = claims
            .claim(&run, &op, "c", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(
            matches!(c, ClaimOutcome::Claimed { previous_holder: Some(ref h), .. } if h == "b"),
            "{c:?}"
        );
    }
}
