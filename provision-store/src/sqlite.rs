//! The embedded default: journal and audit log in one SQLite file.
//!
//! The file is created on first use and its schema migrated forward on every
//! open. It runs in WAL mode with `synchronous = FULL`, so a journal entry or an
//! audit record is on disk when the call returns. Every append is one
//! `BEGIN IMMEDIATE` transaction (it takes the write lock before reading the last
//! hash), so concurrent appends — from tasks of one process, or from several
//! processes sharing the file — still form one chain; the `seq` primary key makes
//! a forked chain impossible.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use provision_core::audit::{
    Anchor, AuditError, AuditEvent, AuditLog, AuditOutcome, AuditRecord, ChainHead, VerifiedChain,
};
use provision_core::journal::{Journal, JournalEntry, JournalError, RunId};
use provision_core::model::{IdentityId, OperationId, Plan, SystemName};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::StoreError;
use crate::rows::{
    AUDIT_COLUMNS, AuditRow, audit_row, entry_json, event_json, export_stream, into_records,
    micros, parse_entry, parse_plan, plan_json, state_name, verify_stream,
};
use crate::schema::sqlite_migrator;

/// Journal and audit log in a SQLite file. Implements [`Journal`] and [`AuditLog`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

fn select_audit(filter: &'static str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log {filter} ORDER BY seq"
    ))
}

impl SqliteStore {
    /// Opens (creating if missing) the store at `path` and migrates its schema to
    /// the current version.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        // Private from the start: SQLite gives its -wal and -shm files the database's
        // permissions.
        provision_core::private_file::ensure(&path).map_err(|source| StoreError::CreateFile {
            path: path.display().to_string(),
            source,
        })?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlite_migrator().run(&pool).await?;
        tracing::debug!(path = %path.display(), "sqlite store opened");
        Ok(Self { pool, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection pool (for maintenance and tests; the audit log has no
    /// update or delete API, and nothing here needs one).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (waits for them to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The highest schema version applied to this database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("v")?)
    }

    async fn audit_rows(
        &self,
        query: sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(audit_row).collect::<Result<_, _>>()?)
    }

    /// Verifies the whole audit log in the database: the hash chain, and that the
    /// indexed columns agree with the hashed events.
    pub async fn verify_audit(&self) -> Result<VerifiedChain, StoreError> {
        self.verify_with(None).await
    }

    /// [`verify_audit`](Self::verify_audit) and the check against an anchor kept
    /// elsewhere (detects removed or rewritten records at the end).
    pub async fn verify_audit_with_anchor(
        &self,
        anchor: &Anchor,
    ) -> Result<VerifiedChain, StoreError> {
        self.verify_with(Some(anchor)).await
    }

    async fn verify_with(&self, anchor: Option<&Anchor>) -> Result<VerifiedChain, StoreError> {
        use futures::StreamExt;
        let query = select_audit("");
        let rows = sqlx::query(query)
            .fetch(&self.pool)
            .map(|row| row.and_then(|row| audit_row(&row)));
        verify_stream(rows, anchor).await
    }

    /// Every change to one identity's access, oldest first, each with its reason.
    pub async fn identity_history(
        &self,
        identity: &IdentityId,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let q = sqlx::query(select_audit("WHERE identity_id = ?1")).bind(identity.as_str());
        into_records(self.audit_rows(q).await?)
    }

    /// Everything one run did, in order.
    pub async fn run_history(&self, run: &RunId) -> Result<Vec<AuditRecord>, StoreError> {
        let q = sqlx::query(select_audit("WHERE run_id = ?1")).bind(run.0.as_str());
        into_records(self.audit_rows(q).await?)
    }

    /// Everything that touched one system with `from <= at < to`, in order.
    pub async fn system_history(
        &self,
        system: &SystemName,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let q = sqlx::query(select_audit(
            "WHERE system = ?1 AND at_us >= ?2 AND at_us < ?3",
        ))
        .bind(system.as_str())
        .bind(micros(from))
        .bind(micros(to));
        into_records(self.audit_rows(q).await?)
    }

    /// Writes the whole audit log as JSON lines, streaming rows (same format as
    /// [`provision_core::audit::export_jsonl`]); returns the number of lines.
    pub async fn export_audit_jsonl<W: Write>(&self, writer: W) -> Result<u64, StoreError> {
        use futures::StreamExt;
        let rows = sqlx::query(select_audit(""))
            .fetch(&self.pool)
            .map(|row| row.and_then(|row| audit_row(&row)));
        export_stream(rows, writer).await
    }

    /// Every run recorded, oldest first.
    pub async fn runs(&self) -> Result<Vec<RunId>, StoreError> {
        let rows = sqlx::query("SELECT run_id FROM runs ORDER BY created_us, run_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(RunId(r.try_get("run_id")?)))
            .collect()
    }

    async fn append_event(&self, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        let json = event_json(&event)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let head = match last {
            None => ChainHead::genesis(),
            Some(row) => {
                let seq: i64 = row.try_get("seq")?;
                let hash: String = row.try_get("hash")?;
                let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt {
                    table: "audit_log",
                    key: seq.to_string(),
                    message: "negative seq".to_owned(),
                })?;
                ChainHead::after_seq(seq, hash)
            }
        };
        let record = head.next_record(event).map_err(|e| StoreError::Corrupt {
            table: "audit_log",
            key: head.next_seq().to_string(),
            message: e.to_string(),
        })?;
        let seq = i64::try_from(record.seq).map_err(|_| StoreError::Corrupt {
            table: "audit_log",
            key: record.seq.to_string(),
            message: "seq out of range".to_owned(),
        })?;
        let e = &record.event;
        sqlx::query(
            "INSERT INTO audit_log (seq, at_us, run_id, identity_id, system, operation_id, \
             action, event_json, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(seq)
        .bind(micros(e.at))
        .bind(e.run.0.as_str())
        .bind(e.identity.as_str())
        .bind(e.system.as_str())
        .bind(e.operation.0.as_str())
        .bind(e.action.as_str())
        .bind(json)
        .bind(record.prev_hash.as_str())
        .bind(record.hash.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(record)
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        Ok(self.append_event(event).await?)
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, AuditError> {
        let rows = self.audit_rows(sqlx::query(select_audit(""))).await?;
        Ok(into_records(rows)?)
    }
    /// One indexed lookup (`audit_log_by_run`), newest record first.
    async fn recorded_outcome(
        &self,
        run: &RunId,
        operation: &OperationId,
    ) -> Result<Option<AuditOutcome>, AuditError> {
        let query = sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE run_id = ?1 AND operation_id = ?2 \
             ORDER BY seq DESC LIMIT 1"
        ));
        let rows = self
            .audit_rows(
                sqlx::query(query)
                    .bind(run.0.as_str())
                    .bind(operation.0.as_str()),
            )
            .await?;
        Ok(into_records(rows)?.pop().map(|r| r.event.outcome))
    }
}

#[async_trait]
impl Journal for SqliteStore {
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError> {
        let json = plan_json(plan)?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::from)?;
        let existing = sqlx::query("SELECT plan_json FROM runs WHERE run_id = ?1")
            .bind(run.0.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        if let Some(row) = existing {
            let stored: String = row.try_get("plan_json").map_err(StoreError::from)?;
            return if parse_plan(&run.0, &stored)? == *plan {
                Ok(())
            } else {
                Err(JournalError::RunConflict(run.clone()))
            };
        }
        sqlx::query("INSERT INTO runs (run_id, plan_json, created_us) VALUES (?1, ?2, ?3)")
            .bind(run.0.as_str())
            .bind(json)
            .bind(micros(Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let json = entry_json(entry)?;
        let done = sqlx::query(
            "INSERT INTO journal_entries (run_id, operation_id, state, entry_json, at_us) \
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM runs WHERE run_id = ?1)",
        )
        .bind(entry.run.0.as_str())
        .bind(entry.operation.0.as_str())
        .bind(state_name(&entry.state))
        .bind(json)
        .bind(micros(entry.at))
        .execute(&self.pool)
        .await
        .map_err(StoreError::from)?;
        if done.rows_affected() == 0 {
            return Err(JournalError::UnknownRun(entry.run.clone()));
        }
        Ok(())
    }

    async fn plan(&self, run: &RunId) -> Result<Plan, JournalError> {
        let row = sqlx::query("SELECT plan_json FROM runs WHERE run_id = ?1")
            .bind(run.0.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| JournalError::UnknownRun(run.clone()))?;
        let json: String = row.try_get("plan_json").map_err(StoreError::from)?;
        Ok(parse_plan(&run.0, &json)?)
    }

    async fn unfinished(&self) -> Result<Vec<(RunId, OperationId)>, JournalError> {
        let rows = sqlx::query(
            "SELECT run_id, operation_id FROM open_operations ORDER BY run_id, operation_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| {
                let run: String = row.try_get("run_id").map_err(StoreError::from)?;
                let op: String = row.try_get("operation_id").map_err(StoreError::from)?;
                Ok((RunId(run), OperationId(op)))
            })
            .collect()
    }

    async fn entries(&self, run: &RunId) -> Result<Vec<JournalEntry>, JournalError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let known = sqlx::query("SELECT 1 FROM runs WHERE run_id = ?1")
            .bind(run.0.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        if known.is_none() {
            return Err(JournalError::UnknownRun(run.clone()));
        }
        let rows =
            sqlx::query("SELECT id, entry_json FROM journal_entries WHERE run_id = ?1 ORDER BY id")
                .bind(run.0.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id").map_err(StoreError::from)?;
                let json: String = row.try_get("entry_json").map_err(StoreError::from)?;
                Ok(parse_entry(id, &json)?)
            })
            .collect()
    }
}
