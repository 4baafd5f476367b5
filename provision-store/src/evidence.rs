//! Evidence in the database: [`EvidenceStore`] for [`SqliteStore`] and (feature
//! `postgres`) `PostgresStore`.
//!
//! Tables (migration 0005): `evidence_rows` keyed by fingerprint (a row collected
//! again is not stored again), `evidence_streams` (one system's collections with
//! the same set of row kinds: an hourly listing, a drift run), `evidence_collections`
//! (one per stream per run, for staleness), `evidence_presence` (when each row was
//! seen), `evidence_assessments` and `evidence_attachments`.
//!
//! Presence is kept as intervals of a stream's collections: a row seen by
//! collections 3 to 9 of its stream is one interval `3..=9`; while the latest
//! collection still sees it the interval is open. Recording a collection reads the
//! stream's open intervals and writes only the difference: rows that appeared are
//! stored (if new) and open an interval, rows that vanished get their interval
//! closed at the stream's previous collection. An unchanged collection writes its
//! collection row and nothing else; a row that vanishes and comes back has two
//! intervals, and a period's evidence ([`EvidenceStore::rows_in`]) is exactly the
//! rows of an interval holding one of the stream's collections in the period.
//!
//! There is no update or delete API; triggers refuse any change to a row attached
//! to an assessment, any change to attachments, assessments, streams and
//! collections, and any change to presence other than closing an open interval
//! once. An attached row's content is fixed; later collections may still see it
//! (its presence grows), which is a fact about the collections, not the row.
//! Writes are multi-row statements inside one transaction per collection.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use provision_core::audit::{AuditRecord, VerifiedChain};
use provision_core::model::SystemName;
use provision_evidence::store::{controls_of, sort_rows};
use provision_evidence::{
    Assessment, Collection, ControlId, EvidenceRow, EvidenceStore, EvidenceStoreError, Fingerprint,
    Period, Recorded,
};
use sqlx::Row;

use crate::error::StoreError;
use crate::rows::{AUDIT_COLUMNS, audit_row, into_records, micros};
use crate::sqlite::SqliteStore;

/// Rows per multi-row INSERT (8 parameters each: well under both databases' limits).
const BATCH: usize = 500;

const ROW_COLUMNS: &str =
    "fingerprint, kind, system, subject, controls_json, collected_us, run_id, data_json";

/// [`ROW_COLUMNS`] of `evidence_rows r` in a join.
const JOINED_ROW_COLUMNS: &str = "r.fingerprint, r.kind, r.system, r.subject, r.controls_json, \
     r.collected_us, r.run_id, r.data_json";

fn storage(e: impl std::fmt::Display) -> EvidenceStoreError {
    EvidenceStoreError::Storage(e.to_string())
}

fn from_store(e: StoreError) -> EvidenceStoreError {
    match e {
        StoreError::Chain(c) => c.into(),
        StoreError::ColumnMismatch { seq, .. } => EvidenceStoreError::AuditTampered {
            seq,
            detail: e.to_string(),
        },
        StoreError::Corrupt { ref key, .. } if key.parse::<u64>().is_ok() => {
            EvidenceStoreError::AuditTampered {
                seq: key.parse().unwrap_or_default(),
                detail: e.to_string(),
            }
        }
        other => storage(other),
    }
}

fn time(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, EvidenceStoreError> {
    serde_json::to_string(v).map_err(storage)
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> EvidenceStoreError {
    EvidenceStoreError::Corrupt {
        key: key.to_owned(),
        message: e.to_string(),
    }
}

/// A stored row, from either backend.
fn evidence_row<R>(row: &R) -> Result<EvidenceRow, EvidenceStoreError>
where
    R: sqlx::Row,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    let fingerprint: String = row.try_get("fingerprint").map_err(storage)?;
    let controls: String = row.try_get("controls_json").map_err(storage)?;
    let data: String = row.try_get("data_json").map_err(storage)?;
    Ok(EvidenceRow {
        kind: row.try_get("kind").map_err(storage)?,
        system: SystemName::new(row.try_get::<String, _>("system").map_err(storage)?),
        subject: row.try_get("subject").map_err(storage)?,
        controls: serde_json::from_str::<Vec<ControlId>>(&controls)
            .map_err(|e| corrupt(&fingerprint, e))?,
        collected_at: time(row.try_get("collected_us").map_err(storage)?),
        run: row.try_get("run_id").map_err(storage)?,
        data: serde_json::from_str(&data).map_err(|e| corrupt(&fingerprint, e))?,
        fingerprint: Fingerprint(fingerprint),
    })
}

/// A stored collection, from either backend.
fn collection<R>(row: &R) -> Result<Collection, EvidenceStoreError>
where
    R: sqlx::Row,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    let controls: String = row.try_get("controls_json").map_err(storage)?;
    let rows: i64 = row.try_get("row_count").map_err(storage)?;
    let new_rows: i64 = row.try_get("new_rows").map_err(storage)?;
    Ok(Collection {
        run: row.try_get("run_id").map_err(storage)?,
        system: SystemName::new(row.try_get::<String, _>("system").map_err(storage)?),
        collected_at: time(row.try_get("collected_us").map_err(storage)?),
        controls: serde_json::from_str(&controls).map_err(|e| corrupt("collection", e))?,
        rows: u64::try_from(rows).unwrap_or_default(),
        new_rows: u64::try_from(new_rows).unwrap_or_default(),
    })
}

/// The encoded columns of a row.
struct Encoded {
    fingerprint: String,
    kind: String,
    system: String,
    subject: Option<String>,
    controls: String,
    collected_us: i64,
    run: String,
    data: String,
}

fn encode(row: &EvidenceRow) -> Result<Encoded, EvidenceStoreError> {
    Ok(Encoded {
        fingerprint: row.fingerprint.0.clone(),
        kind: row.kind.clone(),
        system: row.system.0.clone(),
        subject: row.subject.clone(),
        controls: json(&row.controls)?,
        collected_us: micros(row.collected_at),
        run: row.run.clone(),
        data: json(&row.data)?,
    })
}

/// The distinct kinds of a collection's rows, sorted: with the system, they name
/// the collection's stream.
fn kinds_of<'a>(rows: &[&'a EvidenceRow]) -> Vec<&'a str> {
    let set: BTreeSet<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    set.into_iter().collect()
}

/// True when one of `ids` (sorted collection ids of a stream in a period) is in the
/// presence interval `first..=last` (`last` None: open, to the latest collection).
fn seen_between(ids: &[i64], first: i64, last: Option<i64>) -> bool {
    let at = ids.partition_point(|&id| id < first);
    ids.get(at)
        .is_some_and(|&id| last.is_none_or(|last| id <= last))
}

/// The rows of a collection, each fingerprint once (the first occurrence).
fn distinct(rows: &[EvidenceRow]) -> Vec<&EvidenceRow> {
    let mut seen = BTreeSet::new();
    rows.iter()
        .filter(|r| seen.insert(r.fingerprint.as_str()))
        .collect()
}

/// The [`EvidenceStore`] impl for one backend: `$store` with pool type `$db`,
/// `$sql` turning `?N` placeholders into the backend's, `$lock` what locks a
/// selected stream row for the transaction, `$begin` how a write transaction starts.
macro_rules! evidence_store {
    ($store:ty, $db:ty, $sql:expr, $lock:expr, $($begin:tt)+) => {
        #[async_trait]
        impl EvidenceStore for $store {
            async fn record_collection(
                &self,
                run: &str,
                system: &SystemName,
                collected_at: DateTime<Utc>,
                rows: &[EvidenceRow],
            ) -> Result<Recorded, EvidenceStoreError> {
                let sql = $sql;
                let distinct = distinct(rows);
                let kinds = json(&kinds_of(&distinct))?;
                let mut tx = self.pool().$($begin)+.await.map_err(storage)?;
                sqlx::query(sqlx::AssertSqlSafe(sql(
                    "INSERT INTO evidence_streams (system, kinds_json) VALUES (?1, ?2) \
                     ON CONFLICT (system, kinds_json) DO NOTHING",
                )))
                .bind(system.as_str())
                .bind(kinds.as_str())
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
                // Locks the stream (PostgreSQL) so that two collections of it serialise.
                let stream: i64 = sqlx::query(sqlx::AssertSqlSafe(sql(&format!(
                    "SELECT stream_id FROM evidence_streams WHERE system = ?1 AND kinds_json = ?2{}",
                    $lock
                ))))
                .bind(system.as_str())
                .bind(kinds.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(storage)?
                .try_get("stream_id")
                .map_err(storage)?;
                let previous: Option<i64> = sqlx::query(sqlx::AssertSqlSafe(sql(
                    "SELECT MAX(collection_id) AS previous FROM evidence_collections \
                     WHERE stream_id = ?1",
                )))
                .bind(stream)
                .fetch_one(&mut *tx)
                .await
                .map_err(storage)?
                .try_get("previous")
                .map_err(storage)?;
                let open: HashSet<String> = sqlx::query(sqlx::AssertSqlSafe(sql(
                    "SELECT fingerprint FROM evidence_presence \
                     WHERE stream_id = ?1 AND last_collection_id IS NULL",
                )))
                .bind(stream)
                .fetch_all(&mut *tx)
                .await
                .map_err(storage)?
                .iter()
                .map(|r| r.try_get::<String, _>("fingerprint"))
                .collect::<Result<_, _>>()
                .map_err(storage)?;
                // Rows already in an open interval are stored and still seen: nothing
                // to write for them.
                let appeared: Vec<&EvidenceRow> = distinct
                    .iter()
                    .copied()
                    .filter(|r| !open.contains(r.fingerprint.as_str()))
                    .collect();
                let seen: HashSet<&str> = distinct.iter().map(|r| r.fingerprint.as_str()).collect();
                let vanished: Vec<&str> = open
                    .iter()
                    .map(String::as_str)
                    .filter(|f| !seen.contains(f))
                    .collect();
                let mut new_rows = 0u64;
                for chunk in appeared.chunks(BATCH) {
                    let encoded = chunk
                        .iter()
                        .map(|r| encode(r))
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                        "INSERT INTO evidence_rows ({ROW_COLUMNS}) "
                    ));
                    q.push_values(encoded, |mut b, e| {
                        b.push_bind(e.fingerprint)
                            .push_bind(e.kind)
                            .push_bind(e.system)
                            .push_bind(e.subject)
                            .push_bind(e.controls)
                            .push_bind(e.collected_us)
                            .push_bind(e.run)
                            .push_bind(e.data);
                    });
                    q.push(" ON CONFLICT (fingerprint) DO NOTHING");
                    new_rows += q
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(storage)?
                        .rows_affected();
                }
                let controls = json(&controls_of(rows))?;
                let id: i64 = sqlx::query(sqlx::AssertSqlSafe(sql(
                    "INSERT INTO evidence_collections (stream_id, run_id, system, collected_us, \
                     controls_json, row_count, new_rows) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     RETURNING collection_id",
                )))
                .bind(stream)
                .bind(run)
                .bind(system.as_str())
                .bind(micros(collected_at))
                .bind(controls)
                .bind(rows.len() as i64)
                .bind(new_rows as i64)
                .fetch_one(&mut *tx)
                .await
                .map_err(storage)?
                .try_get("collection_id")
                .map_err(storage)?;
                if let Some(previous) = previous {
                    for chunk in vanished.chunks(BATCH) {
                        let mut q = sqlx::QueryBuilder::<$db>::new(
                            "UPDATE evidence_presence SET last_collection_id = ",
                        );
                        q.push_bind(previous)
                            .push(" WHERE stream_id = ")
                            .push_bind(stream)
                            .push(" AND last_collection_id IS NULL AND fingerprint IN (");
                        let mut list = q.separated(", ");
                        for f in chunk {
                            list.push_bind(*f);
                        }
                        q.push(")");
                        q.build().execute(&mut *tx).await.map_err(storage)?;
                    }
                }
                for chunk in appeared.chunks(BATCH * 2) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO evidence_presence (stream_id, fingerprint, \
                         first_collection_id) ",
                    );
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(stream)
                            .push_bind(r.fingerprint.0.clone())
                            .push_bind(id);
                    });
                    q.build().execute(&mut *tx).await.map_err(storage)?;
                }
                tx.commit().await.map_err(storage)?;
                Ok(Recorded {
                    rows: rows.len() as u64,
                    new_rows,
                })
            }

            async fn collections(&self) -> Result<Vec<Collection>, EvidenceStoreError> {
                let rows = sqlx::query(
                    "SELECT run_id, system, collected_us, controls_json, row_count, new_rows \
                     FROM evidence_collections ORDER BY collected_us, collection_id",
                )
                .fetch_all(self.pool())
                .await
                .map_err(storage)?;
                rows.iter().map(collection).collect()
            }

            async fn rows_in(
                &self,
                period: &Period,
            ) -> Result<Vec<EvidenceRow>, EvidenceStoreError> {
                let sql = $sql;
                let mut tx = self.pool().begin().await.map_err(storage)?;
                let mut in_period: HashMap<i64, Vec<i64>> = HashMap::new();
                for r in sqlx::query(sqlx::AssertSqlSafe(sql(
                    "SELECT stream_id, collection_id FROM evidence_collections \
                     WHERE collected_us >= ?1 AND collected_us < ?2 ORDER BY collection_id",
                )))
                .bind(micros(period.from))
                .bind(micros(period.to))
                .fetch_all(&mut *tx)
                .await
                .map_err(storage)?
                {
                    let stream: i64 = r.try_get("stream_id").map_err(storage)?;
                    let id: i64 = r.try_get("collection_id").map_err(storage)?;
                    in_period.entry(stream).or_default().push(id);
                }
                if in_period.is_empty() {
                    return Ok(Vec::new());
                }
                // Intervals that overlap the range of each stream's collections in the
                // period; the exact test (a collection of the period inside the
                // interval) is made below.
                let query = sql(&format!(
                    "SELECT {JOINED_ROW_COLUMNS}, p.stream_id AS p_stream, \
                     p.first_collection_id AS p_first, p.last_collection_id AS p_last \
                     FROM evidence_presence p \
                     JOIN (SELECT stream_id, MIN(collection_id) AS lo, MAX(collection_id) AS hi \
                           FROM evidence_collections \
                           WHERE collected_us >= ?1 AND collected_us < ?2 GROUP BY stream_id) w \
                       ON w.stream_id = p.stream_id AND p.first_collection_id <= w.hi \
                      AND (p.last_collection_id IS NULL OR p.last_collection_id >= w.lo) \
                     JOIN evidence_rows r ON r.fingerprint = p.fingerprint"
                ));
                let found = sqlx::query(sqlx::AssertSqlSafe(query))
                    .bind(micros(period.from))
                    .bind(micros(period.to))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(storage)?;
                tx.commit().await.map_err(storage)?;
                let mut rows = BTreeMap::new();
                for r in &found {
                    let stream: i64 = r.try_get("p_stream").map_err(storage)?;
                    let first: i64 = r.try_get("p_first").map_err(storage)?;
                    let last: Option<i64> = r.try_get("p_last").map_err(storage)?;
                    let ids = in_period.get(&stream).map(Vec::as_slice).unwrap_or_default();
                    if !seen_between(ids, first, last) {
                        continue;
                    }
                    let row = evidence_row(r)?;
                    rows.entry(row.fingerprint.clone()).or_insert(row);
                }
                let mut rows: Vec<EvidenceRow> = rows.into_values().collect();
                sort_rows(&mut rows);
                Ok(rows)
            }

            async fn create_assessment(
                &self,
                assessment: &Assessment,
            ) -> Result<(), EvidenceStoreError> {
                let sql = $sql;
                let done = sqlx::query(sqlx::AssertSqlSafe(sql(
                    "INSERT INTO evidence_assessments (assessment_id, name, from_us, to_us, \
                     created_us) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (assessment_id) DO NOTHING",
                )))
                .bind(assessment.id.as_str())
                .bind(assessment.name.as_str())
                .bind(micros(assessment.period.from))
                .bind(micros(assessment.period.to))
                .bind(micros(Utc::now()))
                .execute(self.pool())
                .await
                .map_err(storage)?;
                if done.rows_affected() == 0 {
                    return Err(EvidenceStoreError::AssessmentExists(assessment.id.clone()));
                }
                Ok(())
            }

            async fn attach(
                &self,
                assessment: &str,
                fingerprints: &[Fingerprint],
            ) -> Result<u64, EvidenceStoreError> {
                let sql = $sql;
                let mut tx = self.pool().$($begin)+.await.map_err(storage)?;
                let known = sqlx::query(sqlx::AssertSqlSafe(sql(
                    "SELECT 1 AS one FROM evidence_assessments WHERE assessment_id = ?1",
                )))
                .bind(assessment)
                .fetch_optional(&mut *tx)
                .await
                .map_err(storage)?;
                if known.is_none() {
                    return Err(EvidenceStoreError::UnknownAssessment(assessment.to_owned()));
                }
                let now = micros(Utc::now());
                let mut attached = 0;
                for f in fingerprints {
                    let exists = sqlx::query(sqlx::AssertSqlSafe(sql(
                        "SELECT 1 AS one FROM evidence_rows WHERE fingerprint = ?1",
                    )))
                    .bind(f.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(storage)?;
                    if exists.is_none() {
                        return Err(EvidenceStoreError::UnknownFingerprint(f.clone()));
                    }
                    attached += sqlx::query(sqlx::AssertSqlSafe(sql(
                        "INSERT INTO evidence_attachments (assessment_id, fingerprint, \
                         attached_us) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (assessment_id, fingerprint) DO NOTHING",
                    )))
                    .bind(assessment)
                    .bind(f.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(storage)?
                    .rows_affected();
                }
                tx.commit().await.map_err(storage)?;
                Ok(attached)
            }

            async fn attached(
                &self,
                assessment: &str,
            ) -> Result<Vec<EvidenceRow>, EvidenceStoreError> {
                let sql = $sql;
                let known = sqlx::query(sqlx::AssertSqlSafe(sql(
                    "SELECT 1 AS one FROM evidence_assessments WHERE assessment_id = ?1",
                )))
                .bind(assessment)
                .fetch_optional(self.pool())
                .await
                .map_err(storage)?;
                if known.is_none() {
                    return Err(EvidenceStoreError::UnknownAssessment(assessment.to_owned()));
                }
                let query = sql(&format!(
                    "SELECT {ROW_COLUMNS} FROM evidence_rows WHERE fingerprint IN \
                     (SELECT fingerprint FROM evidence_attachments WHERE assessment_id = ?1)"
                ));
                let rows = sqlx::query(sqlx::AssertSqlSafe(query))
                    .bind(assessment)
                    .fetch_all(self.pool())
                    .await
                    .map_err(storage)?;
                let mut rows = rows
                    .iter()
                    .map(evidence_row)
                    .collect::<Result<Vec<_>, _>>()?;
                sort_rows(&mut rows);
                Ok(rows)
            }

            async fn audit_between(
                &self,
                period: &Period,
            ) -> Result<Vec<AuditRecord>, EvidenceStoreError> {
                let sql = $sql;
                let query = sql(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE at_us >= ?1 AND at_us < ?2 \
                     ORDER BY seq"
                ));
                let rows = sqlx::query(sqlx::AssertSqlSafe(query))
                    .bind(micros(period.from))
                    .bind(micros(period.to))
                    .fetch_all(self.pool())
                    .await
                    .map_err(storage)?;
                let rows = rows
                    .iter()
                    .map(audit_row)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(storage)?;
                into_records(rows).map_err(from_store)
            }

            async fn verify_audit_chain(&self) -> Result<VerifiedChain, EvidenceStoreError> {
                self.verify_audit().await.map_err(from_store)
            }
        }
    };
}

fn sqlite_sql(q: &str) -> String {
    q.to_owned()
}

evidence_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlite_sql,
    // BEGIN IMMEDIATE holds the database's write lock already.
    "",
    // Take the write lock at once, as audit appends do: two processes sharing the
    // file never deadlock upgrading a read transaction.
    begin_with("BEGIN IMMEDIATE")
);

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use crate::postgres::PostgresStore;

    /// `?N` -> `$N`.
    fn postgres_sql(q: &str) -> String {
        q.replace('?', "$")
    }

    evidence_store!(
        PostgresStore,
        sqlx::Postgres,
        postgres_sql,
        " FOR UPDATE",
        begin()
    );
}
