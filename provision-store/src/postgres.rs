//! PostgreSQL: one database shared by several orchestrator instances.
//!
//! Same tables as SQLite plus `operation_claims`: when a run begins, one row per
//! operation of its plan. An instance takes an operation with [`PostgresStore::claim`]
//! (that operation) or [`PostgresStore::claim_next`] (the next free ones, with
//! `SELECT ... FOR UPDATE SKIP LOCKED`) for a lease; while the lease holds, no
//! other instance gets it; [`PostgresStore::complete`] marks it done for good. An
//! instance that dies loses its leases when they expire, and another instance
//! resuming the run picks the operations up (after re-checking the in-flight
//! ones against the system, as the journal says).
//!
//! Audit appends take a transaction-scoped advisory lock, read the last hash and
//! insert, so appends from every instance form one chain.

use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use provision_core::audit::{
    Anchor, AuditError, AuditEvent, AuditLog, AuditOutcome, AuditRecord, ChainHead, VerifiedChain,
};
use provision_core::journal::{
    ClaimOutcome, Journal, JournalEntry, JournalError, OperationClaims, RunId,
};
use provision_core::model::{IdentityId, OperationId, Plan, SystemName};
use provision_core::secret::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Row};

use crate::error::StoreError;
use crate::rows::{
    AUDIT_COLUMNS, AuditRow, audit_row, entry_json, event_json, export_stream, into_records,
    micros, parse_entry, parse_plan, plan_json, state_name, verify_stream,
};
use crate::schema::postgres_migrator;

/// The advisory lock key that serialises audit appends ("provisio" in ASCII).
const AUDIT_APPEND_LOCK: i64 = 0x7072_6f76_6973_696f;

/// Journal, audit log and operation leases in PostgreSQL. Implements [`Journal`],
/// [`AuditLog`] and [`OperationClaims`] (give it to
/// `ExecutorBuilder::claims` so several executors share a run).
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Shows the pool's size only: never the connection options (they hold the password).
impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

/// An operation held by one instance until `lease_until_us`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The run.
    pub run: RunId,
    /// The operation.
    pub operation: OperationId,
    /// The instance holding it.
    pub owner: String,
    /// When the lease ends, in microseconds since the epoch (database clock).
    pub lease_until_us: i64,
}

fn select_audit(filter: &'static str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log {filter} ORDER BY seq"
    ))
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host/db`, a secret because it
    /// may carry the password) and migrates the schema.
    pub async fn connect(url: &SecretString) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url.expose_secret())?;
        Self::connect_with(options).await
    }

    /// Connects with explicit options and migrates the schema.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let store = Self::pool_for(options).await?;
        postgres_migrator().run(&store.pool).await?;
        Ok(store)
    }

    /// A pool over `options`, after one direct attempt: a wrong address or password
    /// fails at once with the server's error instead of after the pool's acquire
    /// timeout.
    async fn pool_for(options: PgConnectOptions) -> Result<Self, StoreError> {
        options.connect().await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Runs the migrations as the schema's owner (`owner`: a role that may create
    /// tables, triggers and functions) and disconnects; the service then connects as a
    /// role that owns nothing ([`PostgresStore::connect_migrated`],
    /// [`crate::postgres_roles`]). Returns the schema version.
    pub async fn migrate(owner: PgConnectOptions) -> Result<i64, StoreError> {
        let store = Self::connect_with(owner).await?;
        let version = store.schema_version().await;
        store.close().await;
        version
    }

    /// Connects without migrating, as the service's least-privileged role: the owner
    /// migrated the schema ([`PostgresStore::migrate`]) and granted this role what
    /// [`crate::postgres_roles::service_role_grants`] says. A schema older than this
    /// build is refused, naming both versions.
    pub async fn connect_migrated(options: PgConnectOptions) -> Result<Self, StoreError> {
        let store = Self::pool_for(options).await?;
        let version = store.schema_version().await?;
        if version < crate::schema::SCHEMA_VERSION {
            store.close().await;
            return Err(StoreError::SchemaBehind {
                found: version,
                needed: crate::schema::SCHEMA_VERSION,
            });
        }
        Ok(store)
    }

    /// The connection pool (maintenance and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The highest schema version applied.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("v")?)
    }

    async fn audit_rows(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(audit_row).collect::<Result<_, _>>()?)
    }

    /// Verifies the audit log in the database (chain and indexed columns).
    pub async fn verify_audit(&self) -> Result<VerifiedChain, StoreError> {
        self.verify_with(None).await
    }

    /// [`verify_audit`](Self::verify_audit) plus the check against an anchor.
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
        let q = sqlx::query(select_audit("WHERE identity_id = $1")).bind(identity.as_str());
        into_records(self.audit_rows(q).await?)
    }

    /// Everything one run did, in order.
    pub async fn run_history(&self, run: &RunId) -> Result<Vec<AuditRecord>, StoreError> {
        let q = sqlx::query(select_audit("WHERE run_id = $1")).bind(run.0.as_str());
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
            "WHERE system = $1 AND at_us >= $2 AND at_us < $3",
        ))
        .bind(system.as_str())
        .bind(micros(from))
        .bind(micros(to));
        into_records(self.audit_rows(q).await?)
    }

    /// Writes the whole audit log as JSON lines; returns the number of lines.
    pub async fn export_audit_jsonl<W: Write>(&self, writer: W) -> Result<u64, StoreError> {
        use futures::StreamExt;
        let rows = sqlx::query(select_audit(""))
            .fetch(&self.pool)
            .map(|row| row.and_then(|row| audit_row(&row)));
        export_stream(rows, writer).await
    }

    /// Takes `operation` of `run` for `owner` for `lease`, unless another owner
    /// holds an unexpired lease on it or it is done. Claiming again as the same
    /// owner renews the lease. `None` when not granted.
    pub async fn claim(
        &self,
        run: &RunId,
        operation: &OperationId,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Claim>, StoreError> {
        let row = sqlx::query(
            "UPDATE operation_claims SET owner = $3, \
                 lease_until = clock_timestamp() + make_interval(secs => $4) \
             WHERE run_id = $1 AND operation_id = $2 AND NOT done \
               AND (owner = $3 OR lease_until IS NULL OR lease_until < clock_timestamp()) \
             RETURNING (extract(epoch FROM lease_until) * 1000000)::BIGINT AS until_us",
        )
        .bind(run.0.as_str())
        .bind(operation.0.as_str())
        .bind(owner)
        .bind(seconds(lease))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Claim {
                run: run.clone(),
                operation: operation.clone(),
                owner: owner.to_owned(),
                lease_until_us: r.try_get("until_us")?,
            })
        })
        .transpose()
    }

    /// Takes up to `limit` free operations of `run` (not done, no live lease), in
    /// plan order, skipping rows another instance is claiming at this moment
    /// (`FOR UPDATE SKIP LOCKED`). The caller still runs an operation only after
    /// its dependencies succeeded.
    pub async fn claim_next(
        &self,
        run: &RunId,
        owner: &str,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<Claim>, StoreError> {
        let rows = sqlx::query(
            "WITH next AS ( \
                 SELECT run_id, operation_id FROM operation_claims \
                 WHERE run_id = $1 AND NOT done \
                   AND (lease_until IS NULL OR lease_until < clock_timestamp()) \
                 ORDER BY position LIMIT $4 \
                 FOR UPDATE SKIP LOCKED) \
             UPDATE operation_claims c SET owner = $2, \
                 lease_until = clock_timestamp() + make_interval(secs => $3) \
             FROM next WHERE c.run_id = next.run_id AND c.operation_id = next.operation_id \
             RETURNING c.operation_id, c.position, \
                 (extract(epoch FROM c.lease_until) * 1000000)::BIGINT AS until_us",
        )
        .bind(run.0.as_str())
        .bind(owner)
        .bind(seconds(lease))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claims = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i32, _>("position")?,
                    Claim {
                        run: run.clone(),
                        operation: OperationId(r.try_get("operation_id")?),
                        owner: owner.to_owned(),
                        lease_until_us: r.try_get("until_us")?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claims.sort_by_key(|(position, _)| *position);
        Ok(claims.into_iter().map(|(_, c)| c).collect())
    }

    /// Marks a claimed operation done (its final state is in the journal): no one
    /// claims it again. False when `owner` does not hold it.
    pub async fn complete(&self, claim: &Claim) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE operation_claims SET done = TRUE, lease_until = NULL \
             WHERE run_id = $1 AND operation_id = $2 AND owner = $3 AND NOT done",
        )
        .bind(claim.run.0.as_str())
        .bind(claim.operation.0.as_str())
        .bind(claim.owner.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a claimed operation back before its lease ends (e.g. on shutdown). The
    /// owner stays recorded: the next claimer learns it took the operation over.
    pub async fn release(&self, claim: &Claim) -> Result<bool, StoreError> {
        let released = sqlx::query(
            "UPDATE operation_claims SET lease_until = NULL \
             WHERE run_id = $1 AND operation_id = $2 AND owner = $3 AND NOT done",
        )
        .bind(claim.run.0.as_str())
        .bind(claim.operation.0.as_str())
        .bind(claim.owner.as_str())
        .execute(&self.pool)
        .await?;
        Ok(released.rows_affected() == 1)
    }

    /// [`OperationClaims::claim`]: in one transaction, locks the operation's row,
    /// decides, and takes or renews the lease (database clock).
    pub async fn claim_operation(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
        lease: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT owner, done, \
                 (lease_until IS NOT NULL AND lease_until > clock_timestamp()) AS live, \
                 (extract(epoch FROM lease_until) * 1000000)::BIGINT AS until_us \
             FROM operation_claims WHERE run_id = $1 AND operation_id = $2 FOR UPDATE",
        )
        .bind(run.0.as_str())
        .bind(operation.0.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::UnknownOperation {
            run: run.clone(),
            operation: operation.clone(),
        })?;
        // A dropped transaction's rollback only runs when its connection is next used,
        // keeping the row locked meanwhile: end it explicitly on every path.
        let refused = if row.try_get::<bool, _>("done")? {
            Some(ClaimOutcome::AlreadyDone)
        } else {
            None
        };
        let owner: Option<String> = row.try_get("owner")?;
        let live: bool = row.try_get("live")?;
        let refused = match (refused, owner.as_deref().filter(|o| *o != holder)) {
            (Some(done), _) => Some(done),
            (None, Some(other)) if live => {
                let until: Option<i64> = row.try_get("until_us")?;
                Some(ClaimOutcome::HeldByOther {
                    holder: other.to_owned(),
                    lease_until: until_time(run, operation, until.unwrap_or_default())?,
                })
            }
            _ => None,
        };
        if let Some(refused) = refused {
            tx.rollback().await?;
            return Ok(refused);
        }
        let until: i64 = sqlx::query(
            "UPDATE operation_claims SET owner = $3, \
                 lease_until = clock_timestamp() + make_interval(secs => $4) \
             WHERE run_id = $1 AND operation_id = $2 \
             RETURNING (extract(epoch FROM lease_until) * 1000000)::BIGINT AS until_us",
        )
        .bind(run.0.as_str())
        .bind(operation.0.as_str())
        .bind(holder)
        .bind(seconds(lease))
        .fetch_one(&mut *tx)
        .await?
        .try_get("until_us")?;
        tx.commit().await?;
        Ok(ClaimOutcome::Claimed {
            previous_holder: owner.filter(|o| o != holder),
            lease_until: until_time(run, operation, until)?,
        })
    }

    async fn append_event(&self, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        let json = event_json(&event)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_APPEND_LOCK)
            .execute(&mut *tx)
            .await?;
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
             action, event_json, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
impl AuditLog for PostgresStore {
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
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE run_id = $1 AND operation_id = $2 \
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

fn until_time(run: &RunId, operation: &OperationId, us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::Corrupt {
        table: "operation_claims",
        key: format!("{run}/{operation}"),
        message: format!("lease_until {us} us is out of range"),
    })
}

#[async_trait]
impl OperationClaims for PostgresStore {
    async fn claim(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
        lease: Duration,
    ) -> Result<ClaimOutcome, JournalError> {
        Ok(self.claim_operation(run, operation, holder, lease).await?)
    }

    async fn complete(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
    ) -> Result<bool, JournalError> {
        Ok(PostgresStore::complete(self, &held(run, operation, holder)).await?)
    }

    async fn release(
        &self,
        run: &RunId,
        operation: &OperationId,
        holder: &str,
    ) -> Result<bool, JournalError> {
        Ok(PostgresStore::release(self, &held(run, operation, holder)).await?)
    }
}

/// A [`Claim`] to pass to `complete`/`release` (they match on run, operation, owner).
fn held(run: &RunId, operation: &OperationId, holder: &str) -> Claim {
    Claim {
        run: run.clone(),
        operation: operation.clone(),
        owner: holder.to_owned(),
        lease_until_us: 0,
    }
}

#[async_trait]
impl Journal for PostgresStore {
    async fn begin_run(&self, run: &RunId, plan: &Plan) -> Result<(), JournalError> {
        let json = plan_json(plan)?;
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let inserted = sqlx::query(
            "INSERT INTO runs (run_id, plan_json, created_us) VALUES ($1, $2, $3) \
             ON CONFLICT (run_id) DO NOTHING",
        )
        .bind(run.0.as_str())
        .bind(json)
        .bind(micros(Utc::now()))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if inserted.rows_affected() == 0 {
            let row = sqlx::query("SELECT plan_json FROM runs WHERE run_id = $1")
                .bind(run.0.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            let stored: String = row.try_get("plan_json").map_err(StoreError::from)?;
            return if parse_plan(&run.0, &stored)? == *plan {
                Ok(())
            } else {
                Err(JournalError::RunConflict(run.clone()))
            };
        }
        for (position, op) in plan.operations.iter().enumerate() {
            let position = i32::try_from(position).map_err(|_| {
                JournalError::Storage(format!("run {run}: plan too large for operation_claims"))
            })?;
            sqlx::query(
                "INSERT INTO operation_claims (run_id, operation_id, position) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(run.0.as_str())
            .bind(op.id.0.as_str())
            .bind(position)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    async fn record(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let json = entry_json(entry)?;
        let done = sqlx::query(
            "INSERT INTO journal_entries (run_id, operation_id, state, entry_json, at_us) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM runs WHERE run_id = $1)",
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
        let row = sqlx::query("SELECT plan_json FROM runs WHERE run_id = $1")
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
        let known = sqlx::query("SELECT 1 FROM runs WHERE run_id = $1")
            .bind(run.0.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from)?;
        if known.is_none() {
            return Err(JournalError::UnknownRun(run.clone()));
        }
        let rows =
            sqlx::query("SELECT id, entry_json FROM journal_entries WHERE run_id = $1 ORDER BY id")
                .bind(run.0.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id").map_err(StoreError::from)?;
                let json: String = row.try_get("entry_json").map_err(StoreError::from)?;
                Ok(parse_entry(id, &json)?)
            })
            .collect()
    }
}
