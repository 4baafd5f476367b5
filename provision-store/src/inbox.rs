//! The lifecycle service's durable inbox of HR events.
//!
//! An accepted event is one row, written (and on disk: SQLite runs with
//! `synchronous = FULL`) before the sender is answered. `(source, event_id)` is
//! unique, so a replayed event id finds the stored row instead of adding one. Workers
//! take rows for a lease ([`Inbox::inbox_claim`]: leavers first, then in arrival
//! order; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several instances never
//! take the same row), record the run they apply it in ([`Inbox::inbox_set_run`]),
//! and finish it ([`Inbox::inbox_finish`]). A worker that dies loses its lease and
//! the row goes to the next taker, run id included, so the run is resumed rather
//! than planned again.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::error::StoreError;
use crate::rows::micros;

/// What becomes of an inbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxState {
    /// Stored, waiting for a worker.
    Received,
    /// Planned and applied.
    Done,
    /// Dated in the future: waits in the schedule.
    Scheduled,
    /// Could not be applied as asked (an unknown person): kept as a finding.
    Finding,
    /// Applying it failed; the note says why.
    Failed,
}

impl InboxState {
    /// The name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Done => "done",
            Self::Scheduled => "scheduled",
            Self::Finding => "finding",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "received" => Self::Received,
            "done" => Self::Done,
            "scheduled" => Self::Scheduled,
            "finding" => Self::Finding,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// An event to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboxEvent {
    /// The configured source it came from (`workday`).
    pub source: String,
    /// The sender's event id (unique per source).
    pub event_id: String,
    /// The event's kind (`termination`, `hire`).
    pub kind: String,
    /// The HR id of the person it is about.
    pub identity: String,
    /// Lower is taken first (terminations 0).
    pub priority: i64,
    /// The event as JSON.
    pub payload_json: String,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

/// The answer to [`Inbox::inbox_accept`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored now as row `seq`.
    Stored {
        /// The row.
        seq: i64,
    },
    /// This source's event id was stored before, as row `seq`: nothing stored.
    Duplicate {
        /// The earlier row.
        seq: i64,
    },
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    /// Its row (arrival order).
    pub seq: i64,
    /// The source.
    pub source: String,
    /// The sender's event id.
    pub event_id: String,
    /// The kind.
    pub kind: String,
    /// The person's HR id.
    pub identity: String,
    /// The event as JSON.
    pub payload_json: String,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Where it stands.
    pub state: InboxState,
    /// How many times a worker took it.
    pub attempts: i64,
    /// The run it is applied in, once a worker planned it.
    pub run_id: Option<String>,
    /// Why it is a finding or failed.
    pub note: Option<String>,
}

/// The inbox. Implemented by [`crate::SqliteStore`] and `PostgresStore`.
#[async_trait]
pub trait Inbox: Send + Sync {
    /// Stores `event` unless its `(source, event_id)` is already stored. Returns once
    /// the row is durable.
    async fn inbox_accept(&self, event: &NewInboxEvent) -> Result<Accepted, StoreError>;

    /// Takes up to `limit` received rows that no live lease holds, for `owner` until
    /// `now + lease`: lowest priority first, then oldest.
    async fn inbox_claim(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<InboxItem>, StoreError>;

    /// Extends `owner`'s lease on the rows `seqs` to `now + lease` and returns those it
    /// still holds (a row another worker took after the lease ran out is not among
    /// them). A worker renews while it works, so a run that takes longer than one
    /// lease is never taken over while its worker is alive.
    async fn inbox_renew(
        &self,
        owner: &str,
        seqs: &[i64],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError>;

    /// Records the run row `seq` is applied in. False when `owner` does not hold it.
    async fn inbox_set_run(&self, seq: i64, owner: &str, run: &str) -> Result<bool, StoreError>;

    /// Finishes row `seq` held by `owner`: its state, a note, and whether the event now
    /// counts in the service's roster. False when `owner` does not hold it (its lease
    /// ran out and another worker took it).
    async fn inbox_finish(
        &self,
        seq: i64,
        owner: &str,
        state: InboxState,
        note: Option<&str>,
        in_roster: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks row `seq` as counting in the roster (a dated hire whose start came).
    async fn inbox_join_roster(&self, seq: i64) -> Result<(), StoreError>;

    /// Rows waiting for a worker.
    async fn inbox_depth(&self) -> Result<i64, StoreError>;

    /// The events that count in the roster, in arrival order: `(seq, payload_json)`.
    async fn inbox_roster_events(&self) -> Result<Vec<(i64, String)>, StoreError>;

    /// One row.
    async fn inbox_get(&self, seq: i64) -> Result<Option<InboxItem>, StoreError>;

    /// Rows in `state`, oldest first.
    async fn inbox_in_state(&self, state: InboxState) -> Result<Vec<InboxItem>, StoreError>;
}

pub(crate) const ITEM_COLUMNS: &str = "seq, source, event_id, kind, identity_id, payload_json, received_us, \
                            state, attempts, run_id, note";

pub(crate) fn item_from<R>(row: &R) -> Result<InboxItem, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let seq: i64 = row.try_get("seq")?;
    let corrupt = |message: String| StoreError::Corrupt {
        table: "inbox",
        key: seq.to_string(),
        message,
    };
    let received_us: i64 = row.try_get("received_us")?;
    let state: String = row.try_get("state")?;
    Ok(InboxItem {
        seq,
        source: row.try_get("source")?,
        event_id: row.try_get("event_id")?,
        kind: row.try_get("kind")?,
        identity: row.try_get("identity_id")?,
        payload_json: row.try_get("payload_json")?,
        received_at: DateTime::from_timestamp_micros(received_us)
            .ok_or_else(|| corrupt(format!("received_us {received_us} out of range")))?,
        state: InboxState::parse(&state).ok_or_else(|| corrupt(format!("state {state:?}")))?,
        attempts: row.try_get("attempts")?,
        run_id: row.try_get("run_id")?,
        note: row.try_get("note")?,
    })
}

/// The lease renewal of `n` rows of `table` by key column `key` (bound from `$3` on,
/// after the owner `$1` and the new lease end `$2`), where `open` holds; returns the
/// keys renewed.
pub(crate) fn renew_sql(table: &str, key: &str, open: &str, n: usize) -> String {
    let list = (3..3 + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "UPDATE {table} SET lease_until_us = $2 WHERE owner = $1 AND {open} \
         AND {key} IN ({list}) RETURNING {key}"
    )
}

pub(crate) fn lease_end_us(now: DateTime<Utc>, lease: Duration) -> i64 {
    micros(now).saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))
}

/// Implements [`Inbox`] for a store type; `$sql` turns `$n` placeholders into the
/// backend's and `$lock` is the row-locking clause of the claim (PostgreSQL's
/// `FOR UPDATE SKIP LOCKED`; SQLite serialises writers and needs none).
macro_rules! impl_inbox {
    ($store:ty, $sql:path, $lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::inbox::Inbox for $store {
            async fn inbox_accept(
                &self,
                event: &$crate::inbox::NewInboxEvent,
            ) -> Result<$crate::inbox::Accepted, $crate::StoreError> {
                use sqlx::Row;
                let inserted = sqlx::query(sqlx::AssertSqlSafe($sql(
                    "INSERT INTO inbox (source, event_id, kind, identity_id, priority, \
                     payload_json, received_us) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (source, event_id) DO NOTHING RETURNING seq",
                )))
                .bind(event.source.as_str())
                .bind(event.event_id.as_str())
                .bind(event.kind.as_str())
                .bind(event.identity.as_str())
                .bind(event.priority)
                .bind(event.payload_json.as_str())
                .bind($crate::rows::micros(event.received_at))
                .fetch_optional(self.pool())
                .await?;
                if let Some(row) = inserted {
                    return Ok($crate::inbox::Accepted::Stored {
                        seq: row.try_get("seq")?,
                    });
                }
                let row = sqlx::query(sqlx::AssertSqlSafe($sql(
                    "SELECT seq FROM inbox WHERE source = $1 AND event_id = $2",
                )))
                .bind(event.source.as_str())
                .bind(event.event_id.as_str())
                .fetch_one(self.pool())
                .await?;
                Ok($crate::inbox::Accepted::Duplicate {
                    seq: row.try_get("seq")?,
                })
            }

            async fn inbox_claim(
                &self,
                owner: &str,
                lease: std::time::Duration,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::inbox::InboxItem>, $crate::StoreError> {
                let sql = format!(
                    "UPDATE inbox SET owner = $1, lease_until_us = $2, attempts = attempts + 1 \
                     WHERE seq IN (SELECT seq FROM inbox WHERE state = 'received' \
                       AND (lease_until_us IS NULL OR lease_until_us < $3) \
                       ORDER BY priority, seq LIMIT $4 {}) \
                     RETURNING {}",
                    $lock,
                    $crate::inbox::ITEM_COLUMNS,
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe($sql(&sql)))
                    .bind(owner)
                    .bind($crate::inbox::lease_end_us(now, lease))
                    .bind($crate::rows::micros(now))
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?;
                let mut items = rows
                    .iter()
                    .map($crate::inbox::item_from)
                    .collect::<Result<Vec<_>, _>>()?;
                items.sort_by_key(|i| i.seq);
                Ok(items)
            }

            async fn inbox_renew(
                &self,
                owner: &str,
                seqs: &[i64],
                lease: std::time::Duration,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<i64>, $crate::StoreError> {
                use sqlx::Row;
                if seqs.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = $sql(&$crate::inbox::renew_sql(
                    "inbox",
                    "seq",
                    "state = 'received'",
                    seqs.len(),
                ));
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(owner)
                    .bind($crate::inbox::lease_end_us(now, lease));
                for seq in seqs {
                    query = query.bind(*seq);
                }
                let rows = query.fetch_all(self.pool()).await?;
                let mut held = rows
                    .iter()
                    .map(|r| r.try_get::<i64, _>("seq"))
                    .collect::<Result<Vec<_>, _>>()?;
                held.sort_unstable();
                Ok(held)
            }

            async fn inbox_set_run(
                &self,
                seq: i64,
                owner: &str,
                run: &str,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(sqlx::AssertSqlSafe($sql(
                    "UPDATE inbox SET run_id = $3 WHERE seq = $1 AND owner = $2 \
                     AND state = 'received'",
                )))
                .bind(seq)
                .bind(owner)
                .bind(run)
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn inbox_finish(
                &self,
                seq: i64,
                owner: &str,
                state: $crate::inbox::InboxState,
                note: Option<&str>,
                in_roster: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(sqlx::AssertSqlSafe($sql(
                    "UPDATE inbox SET state = $3, note = $4, in_roster = $5, finished_us = $6, \
                     lease_until_us = NULL WHERE seq = $1 AND owner = $2 AND state = 'received'",
                )))
                .bind(seq)
                .bind(owner)
                .bind(state.as_str())
                .bind(note)
                .bind(i64::from(in_roster))
                .bind($crate::rows::micros(now))
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn inbox_join_roster(&self, seq: i64) -> Result<(), $crate::StoreError> {
                sqlx::query(sqlx::AssertSqlSafe($sql(
                    "UPDATE inbox SET in_roster = 1, state = 'done' WHERE seq = $1",
                )))
                .bind(seq)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn inbox_depth(&self) -> Result<i64, $crate::StoreError> {
                use sqlx::Row;
                let row = sqlx::query("SELECT COUNT(*) AS n FROM inbox WHERE state = 'received'")
                    .fetch_one(self.pool())
                    .await?;
                Ok(row.try_get("n")?)
            }

            async fn inbox_roster_events(&self) -> Result<Vec<(i64, String)>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT seq, payload_json FROM inbox WHERE in_roster = 1 ORDER BY seq",
                )
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("seq")?, r.try_get("payload_json")?)))
                    .collect()
            }

            async fn inbox_get(
                &self,
                seq: i64,
            ) -> Result<Option<$crate::inbox::InboxItem>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM inbox WHERE seq = $1",
                    $crate::inbox::ITEM_COLUMNS
                );
                let row = sqlx::query(sqlx::AssertSqlSafe($sql(&sql)))
                    .bind(seq)
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map($crate::inbox::item_from).transpose()
            }

            async fn inbox_in_state(
                &self,
                state: $crate::inbox::InboxState,
            ) -> Result<Vec<$crate::inbox::InboxItem>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM inbox WHERE state = $1 ORDER BY seq",
                    $crate::inbox::ITEM_COLUMNS
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe($sql(&sql)))
                    .bind(state.as_str())
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map($crate::inbox::item_from).collect()
            }
        }
    };
}

/// SQLite's numbered parameters are `?n`.
pub(crate) fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

/// PostgreSQL's are `$n` already.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_sql(sql: &str) -> String {
    sql.to_owned()
}

impl_inbox!(crate::SqliteStore, sqlite_sql, "");
#[cfg(feature = "postgres")]
impl_inbox!(crate::PostgresStore, postgres_sql, "FOR UPDATE SKIP LOCKED");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use crate::schedule::Schedule;

    async fn store(name: &str) -> (SqliteStore, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("provision-inbox-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        (SqliteStore::open(dir.join("s.db")).await.unwrap(), dir)
    }

    fn event(id: &str, priority: i64) -> NewInboxEvent {
        NewInboxEvent {
            source: "workday".into(),
            event_id: id.into(),
            kind: "termination".into(),
            identity: "e1".into(),
            priority,
            payload_json: "{}".into(),
            received_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_replayed_id_is_found_and_rows_go_out_once_per_lease() {
        let (s, dir) = store("inbox").await;
        let first = s.inbox_accept(&event("a", 5)).await.unwrap();
        let Accepted::Stored { seq } = first else {
            panic!("{first:?}")
        };
        assert_eq!(
            s.inbox_accept(&event("a", 5)).await.unwrap(),
            Accepted::Duplicate { seq }
        );
        s.inbox_accept(&event("b", 0)).await.unwrap();
        assert_eq!(s.inbox_depth().await.unwrap(), 2);
        let now = Utc::now();
        let lease = Duration::from_secs(30);
        let taken = s.inbox_claim("w1", lease, now, 1).await.unwrap();
        assert_eq!(taken[0].event_id, "b", "the lower priority (leaver) first");
        let taken = s.inbox_claim("w2", lease, now, 10).await.unwrap();
        assert_eq!(taken.len(), 1, "b is held by w1");
        assert_eq!(taken[0].event_id, "a");
        assert!(
            s.inbox_claim("w3", lease, now, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // w2 renews its lease while it works: at the old end nobody can take a.
        assert!(s.inbox_set_run(seq, "w2", "run-a").await.unwrap());
        let renewed = now + chrono::Duration::seconds(20);
        assert_eq!(
            s.inbox_renew("w2", &[seq, 999], lease, renewed)
                .await
                .unwrap(),
            vec![seq],
            "only the rows w2 holds"
        );
        assert!(
            s.inbox_renew("w3", &[seq], lease, renewed)
                .await
                .unwrap()
                .is_empty(),
            "w3 holds nothing to renew"
        );
        let at_old_end = now + chrono::Duration::seconds(31);
        let taken = s.inbox_claim("w3", lease, at_old_end, 10).await.unwrap();
        assert!(
            taken.iter().all(|i| i.seq != seq),
            "a renewed row stays with w2: {taken:?}"
        );
        // w2 stops renewing (it died); its lease runs out: w3 takes a over, run id
        // included, and w2 can no longer renew it.
        let later = renewed + chrono::Duration::seconds(45);
        let again = s.inbox_claim("w3", lease, later, 10).await.unwrap();
        assert_eq!(again.len(), 2);
        let a = again.iter().find(|i| i.seq == seq).unwrap();
        assert_eq!(a.run_id.as_deref(), Some("run-a"));
        assert_eq!(a.attempts, 2);
        assert!(
            s.inbox_renew("w2", &[seq], lease, later)
                .await
                .unwrap()
                .is_empty(),
            "w2 lost a"
        );
        assert!(
            !s.inbox_finish(seq, "w2", InboxState::Done, None, true, later)
                .await
                .unwrap(),
            "w2 no longer holds it"
        );
        assert!(
            s.inbox_finish(seq, "w3", InboxState::Done, None, true, later)
                .await
                .unwrap()
        );
        assert_eq!(s.inbox_roster_events().await.unwrap().len(), 1);
        assert_eq!(s.inbox_depth().await.unwrap(), 1);
        s.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_job_fires_when_due_once_per_lease_and_a_put_moves_it() {
        let (s, dir) = store("schedule").await;
        let now = Utc::now();
        let lease = Duration::from_secs(30);
        let due = now + chrono::Duration::seconds(60);
        assert!(s.schedule_put("t:1", due, "{}", false).await.unwrap());
        assert!(!s.schedule_put("t:1", now, "{}", false).await.unwrap());
        assert!(
            s.schedule_claim_due("a", lease, now, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let fired = s.schedule_claim_due("a", lease, due, 10).await.unwrap();
        assert_eq!(fired.len(), 1);
        assert!(
            s.schedule_claim_due("b", lease, due, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // a renews while the job runs: past the first lease, b still cannot take it.
        let id = fired[0].id;
        let renewed = due + chrono::Duration::seconds(25);
        assert_eq!(
            s.schedule_renew("a", &[id], lease, renewed).await.unwrap(),
            vec![id]
        );
        assert!(
            s.schedule_renew("b", &[id], lease, renewed)
                .await
                .unwrap()
                .is_empty()
        );
        let past_first = due + chrono::Duration::seconds(40);
        assert!(
            s.schedule_claim_due("b", lease, past_first, 10)
                .await
                .unwrap()
                .is_empty(),
            "a renewed job is not taken"
        );
        assert!(s.schedule_done(fired[0].id, "a").await.unwrap());
        assert!(
            s.schedule_renew("a", &[id], lease, past_first)
                .await
                .unwrap()
                .is_empty(),
            "a done job is nobody's to renew"
        );
        assert!(s.schedule_open().await.unwrap().is_empty());
        assert!(s.schedule_put("t:1", due, "{}", true).await.unwrap());
        assert_eq!(s.schedule_open().await.unwrap().len(), 1);
        s.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }
}
