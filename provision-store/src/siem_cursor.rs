//! SIEM streaming from the store: the audit log read forward from a seq
//! ([`AuditFeed`]) and the per-sink delivery cursors ([`CursorStore`]) in the
//! `siem_cursors` table (migration 6), for both backends.
//!
//! A cursor is the seq and hash of the last record a sink acknowledged; it is
//! written in one upsert that never moves it backwards, so two exporters of one
//! sink (one lagging) cannot make the sink receive a record twice through the
//! cursor. Records are read with one indexed range query per batch
//! (`seq > ? ORDER BY seq LIMIT ?`), and each row's indexed columns are checked
//! against its hashed event, as [`SqliteStore::verify_audit`] does.

use async_trait::async_trait;
use chrono::Utc;
use provision_core::audit::{AuditError, AuditRecord};
use provision_siem::{AuditFeed, CursorStore, SinkCursor};
use sqlx::Row;

use crate::error::StoreError;
use crate::rows::{AUDIT_COLUMNS, AuditRow, audit_row};
use crate::sqlite::SqliteStore;

/// The records of `rows`, each checked against its indexed columns.
fn checked(rows: Vec<AuditRow>) -> Result<Vec<AuditRecord>, StoreError> {
    rows.iter()
        .map(|row| {
            let record = row.to_record()?;
            row.check_columns(&record)?;
            Ok(record)
        })
        .collect()
}

/// `after` as the lower bound of `seq > ?` (-1 for "from the start").
fn lower_bound(after: Option<u64>) -> Result<i64, StoreError> {
    after.map_or(Ok(-1), |seq| {
        i64::try_from(seq).map_err(|_| StoreError::Corrupt {
            table: "siem_cursors",
            key: seq.to_string(),
            message: "seq out of range".to_owned(),
        })
    })
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn cursor_from(sink: &str, seq: i64, hash: String) -> Result<SinkCursor, String> {
    let seq = u64::try_from(seq).map_err(|_| {
        StoreError::Corrupt {
            table: "siem_cursors",
            key: sink.to_owned(),
            message: format!("negative seq {seq}"),
        }
        .to_string()
    })?;
    Ok(SinkCursor { seq, hash })
}

fn seq_i64(sink: &str, cursor: &SinkCursor) -> Result<i64, String> {
    i64::try_from(cursor.seq).map_err(|_| {
        StoreError::Corrupt {
            table: "siem_cursors",
            key: sink.to_owned(),
            message: format!("seq {} out of range", cursor.seq),
        }
        .to_string()
    })
}

/// Upsert that keeps the larger seq (same text on both backends, placeholders aside).
const SAVE_SQLITE: &str = "INSERT INTO siem_cursors (sink, seq, hash, updated_us) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq, \
     hash = excluded.hash, updated_us = excluded.updated_us WHERE excluded.seq >= siem_cursors.seq";

#[async_trait]
impl AuditFeed for SqliteStore {
    async fn records_after(
        &self,
        after: Option<u64>,
        limit_to: usize,
    ) -> Result<Vec<AuditRecord>, AuditError> {
        let query = sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ));
        let rows = sqlx::query(query)
            .bind(lower_bound(after)?)
            .bind(limit(limit_to))
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::from)?;
        let rows = rows
            .iter()
            .map(audit_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::from)?;
        Ok(checked(rows)?)
    }
}

#[async_trait]
impl CursorStore for SqliteStore {
    async fn load(&self, sink: &str) -> Result<Option<SinkCursor>, String> {
        let row = sqlx::query("SELECT seq, hash FROM siem_cursors WHERE sink = ?1")
            .bind(sink)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| StoreError::from(e).to_string())?;
        let Some(row) = row else { return Ok(None) };
        let seq: i64 = row
            .try_get("seq")
            .map_err(|e| StoreError::from(e).to_string())?;
        let hash: String = row
            .try_get("hash")
            .map_err(|e| StoreError::from(e).to_string())?;
        cursor_from(sink, seq, hash).map(Some)
    }

    async fn save(&self, sink: &str, cursor: &SinkCursor) -> Result<(), String> {
        sqlx::query(SAVE_SQLITE)
            .bind(sink)
            .bind(seq_i64(sink, cursor)?)
            .bind(cursor.hash.as_str())
            .bind(Utc::now().timestamp_micros())
            .execute(self.pool())
            .await
            .map_err(|e| StoreError::from(e).to_string())?;
        Ok(())
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use crate::postgres::PostgresStore;

    const SAVE_POSTGRES: &str = "INSERT INTO siem_cursors (sink, seq, hash, updated_us) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq, \
         hash = excluded.hash, updated_us = excluded.updated_us \
         WHERE excluded.seq >= siem_cursors.seq";

    #[async_trait]
    impl AuditFeed for PostgresStore {
        async fn records_after(
            &self,
            after: Option<u64>,
            limit_to: usize,
        ) -> Result<Vec<AuditRecord>, AuditError> {
            let query = sqlx::AssertSqlSafe(format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
            ));
            let rows = sqlx::query(query)
                .bind(lower_bound(after)?)
                .bind(limit(limit_to))
                .fetch_all(self.pool())
                .await
                .map_err(StoreError::from)?;
            let rows = rows
                .iter()
                .map(audit_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from)?;
            Ok(checked(rows)?)
        }
    }

    #[async_trait]
    impl CursorStore for PostgresStore {
        async fn load(&self, sink: &str) -> Result<Option<SinkCursor>, String> {
            let row = sqlx::query("SELECT seq, hash FROM siem_cursors WHERE sink = $1")
                .bind(sink)
                .fetch_optional(self.pool())
                .await
                .map_err(|e| StoreError::from(e).to_string())?;
            let Some(row) = row else { return Ok(None) };
            let seq: i64 = row
                .try_get("seq")
                .map_err(|e| StoreError::from(e).to_string())?;
            let hash: String = row
                .try_get("hash")
                .map_err(|e| StoreError::from(e).to_string())?;
            cursor_from(sink, seq, hash).map(Some)
        }

        async fn save(&self, sink: &str, cursor: &SinkCursor) -> Result<(), String> {
            sqlx::query(SAVE_POSTGRES)
                .bind(sink)
                .bind(seq_i64(sink, cursor)?)
                .bind(cursor.hash.as_str())
                .bind(Utc::now().timestamp_micros())
                .execute(self.pool())
                .await
                .map_err(|e| StoreError::from(e).to_string())?;
            Ok(())
        }
    }
}
