//! The lifecycle service's schedule: dated work that must fire at its time even when
//! the service restarted in between (a termination dated in the future, a hire's
//! start date, a validity window's end, the next check of a pending operation, the
//! reconcile cadence).
//!
//! A job has a unique key: scheduling the same key again moves it
//! ([`Schedule::schedule_put`]). Due jobs are taken for a lease
//! ([`Schedule::schedule_claim_due`]; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so
//! each job fires on one instance) and marked done once their work is applied
//! ([`Schedule::schedule_done`]). A taker that dies loses its lease and the job
//! fires again elsewhere.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::error::StoreError;

/// One scheduled job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledJob {
    /// Its row.
    pub id: i64,
    /// Its unique key (`termination:workday/evt-17`).
    pub key: String,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// What to do, as JSON.
    pub payload_json: String,
    /// How many times it was taken (more than one: a taker died or failed).
    pub fired: i64,
}

/// The schedule. Implemented by [`crate::SqliteStore`] and `PostgresStore`.
#[async_trait]
pub trait Schedule: Send + Sync {
    /// Schedules `key` at `due_at`. With `replace`, an existing job of that key (done or
    /// not) is moved to `due_at` with this payload and becomes due again; without it,
    /// an existing job is left alone. True when a job was written.
    async fn schedule_put(
        &self,
        key: &str,
        due_at: DateTime<Utc>,
        payload_json: &str,
        replace: bool,
    ) -> Result<bool, StoreError>;

    /// Takes up to `limit` jobs due at `now` that no live lease holds, for `owner`
    /// until `now + lease`, earliest first.
    async fn schedule_claim_due(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ScheduledJob>, StoreError>;

    /// Extends `owner`'s lease on the jobs `ids` to `now + lease` and returns those it
    /// still holds (see [`crate::Inbox::inbox_renew`]).
    async fn schedule_renew(
        &self,
        owner: &str,
        ids: &[i64],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError>;

    /// Marks job `id` held by `owner` done. False when `owner` does not hold it.
    async fn schedule_done(&self, id: i64, owner: &str) -> Result<bool, StoreError>;

    /// Gives job `id` back, due again at `due_at` (a failed attempt). False when
    /// `owner` does not hold it.
    async fn schedule_retry(
        &self,
        id: i64,
        owner: &str,
        due_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Jobs not done, earliest first.
    async fn schedule_open(&self) -> Result<Vec<ScheduledJob>, StoreError>;
}

pub(crate) fn job_from<R>(row: &R) -> Result<ScheduledJob, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: i64 = row.try_get("id")?;
    let due_us: i64 = row.try_get("due_us")?;
    Ok(ScheduledJob {
        id,
        key: row.try_get("job_key")?,
        due_at: DateTime::from_timestamp_micros(due_us).ok_or_else(|| StoreError::Corrupt {
            table: "schedule",
            key: id.to_string(),
            message: format!("due_us {due_us} out of range"),
        })?,
        payload_json: row.try_get("payload_json")?,
        fired: row.try_get("fired")?,
    })
}

pub(crate) const JOB_COLUMNS: &str = "id, job_key, due_us, payload_json, fired";

/// Implements [`Schedule`] for a store type (see `impl_inbox`).
macro_rules! impl_schedule {
    ($store:ty, $sql:path, $lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::schedule::Schedule for $store {
            async fn schedule_put(
                &self,
                key: &str,
                due_at: chrono::DateTime<chrono::Utc>,
                payload_json: &str,
                replace: bool,
            ) -> Result<bool, $crate::StoreError> {
                let on_conflict = if replace {
                    "DO UPDATE SET due_us = excluded.due_us, payload_json = excluded.payload_json, \
                     done = 0, owner = NULL, lease_until_us = NULL"
                } else {
                    "DO NOTHING"
                };
                let sql = format!(
                    "INSERT INTO schedule (job_key, due_us, payload_json) VALUES ($1, $2, $3) \
                     ON CONFLICT (job_key) {on_conflict}"
                );
                let done = sqlx::query(sqlx::AssertSqlSafe($sql(&sql)))
                    .bind(key)
                    .bind($crate::rows::micros(due_at))
                    .bind(payload_json)
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn schedule_claim_due(
                &self,
                owner: &str,
                lease: std::time::Duration,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::schedule::ScheduledJob>, $crate::StoreError> {
                let sql = format!(
                    "UPDATE schedule SET owner = $1, lease_until_us = $2, fired = fired + 1 \
                     WHERE id IN (SELECT id FROM schedule WHERE done = 0 AND due_us <= $3 \
                       AND (lease_until_us IS NULL OR lease_until_us < $3) \
                       ORDER BY due_us, id LIMIT $4 {}) \
                     RETURNING {}",
                    $lock,
                    $crate::schedule::JOB_COLUMNS,
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe($sql(&sql)))
                    .bind(owner)
                    .bind($crate::inbox::lease_end_us(now, lease))
                    .bind($crate::rows::micros(now))
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?;
                let mut jobs = rows
                    .iter()
                    .map($crate::schedule::job_from)
                    .collect::<Result<Vec<_>, _>>()?;
                jobs.sort_by_key(|j| (j.due_at, j.id));
                Ok(jobs)
            }

            async fn schedule_renew(
                &self,
                owner: &str,
                ids: &[i64],
                lease: std::time::Duration,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<i64>, $crate::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = $sql(&$crate::inbox::renew_sql(
                    "schedule",
                    "id",
                    "done = 0 AND lease_until_us IS NOT NULL",
                    ids.len(),
                ));
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(owner)
                    .bind($crate::inbox::lease_end_us(now, lease));
                for id in ids {
                    query = query.bind(*id);
                }
                let rows = query.fetch_all(self.pool()).await?;
                let mut held = rows
                    .iter()
                    .map(|r| r.try_get::<i64, _>("id"))
                    .collect::<Result<Vec<_>, _>>()?;
                held.sort_unstable();
                Ok(held)
            }

            async fn schedule_done(
                &self,
                id: i64,
                owner: &str,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(sqlx::AssertSqlSafe($sql(
                    "UPDATE schedule SET done = 1, lease_until_us = NULL \
                     WHERE id = $1 AND owner = $2 AND done = 0",
                )))
                .bind(id)
                .bind(owner)
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn schedule_retry(
                &self,
                id: i64,
                owner: &str,
                due_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(sqlx::AssertSqlSafe($sql(
                    "UPDATE schedule SET due_us = $3, owner = NULL, lease_until_us = NULL \
                     WHERE id = $1 AND owner = $2 AND done = 0",
                )))
                .bind(id)
                .bind(owner)
                .bind($crate::rows::micros(due_at))
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn schedule_open(
                &self,
            ) -> Result<Vec<$crate::schedule::ScheduledJob>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM schedule WHERE done = 0 ORDER BY due_us, id",
                    $crate::schedule::JOB_COLUMNS
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map($crate::schedule::job_from).collect()
            }
        }
    };
}

impl_schedule!(crate::SqliteStore, crate::inbox::sqlite_sql, "");
#[cfg(feature = "postgres")]
impl_schedule!(
    crate::PostgresStore,
    crate::inbox::postgres_sql,
    "FOR UPDATE SKIP LOCKED"
);
