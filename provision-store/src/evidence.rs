//! Evidence in the database: [`EvidenceStore`] for [`SqliteStore`] and (feature
//! `postgres`) `PostgresStore`.
//!
//! Tables (migration 0005): `evidence_rows` keyed by fingerprint (a row collected
//! again is not stored again: `INSERT .. ON CONFLICT DO NOTHING`),
//! `evidence_collections` (one per system per run, for staleness),
//! `evidence_sightings` (which rows a collection saw, for a period's evidence),
//! `evidence_assessments` and `evidence_attachments`. There is no update or
//! delete API; triggers refuse any change to a row attached to an assessment, and
//! any change to attachments, assessments, sightings and collections, from SQL too.
//! Rows are inserted in multi-row statements inside one transaction per collection.
//!
//! Storage grows with what changes (each distinct row is stored once) plus one
//! sighting per row per collection (a fingerprint and a collection id): at 100,000
//! people an hourly collection records about 650,000 sightings. Keeping presence
//! intervals instead (a row's first and last collection) would make an unchanged
//! run write nothing but its collection row; that is the next step for hourly syncs
//! at that size.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use provision_core::audit::{AuditRecord, VerifiedChain};
use provision_core::evidence::store::{controls_of, sort_rows};
use provision_core::evidence::{
    Assessment, Collection, ControlId, EvidenceRow, EvidenceStore, EvidenceStoreError, Fingerprint,
    Period, Recorded,
};
use provision_core::model::SystemName;
use sqlx::Row;

use crate::error::StoreError;
use crate::rows::{AUDIT_COLUMNS, audit_row, into_records, micros};
use crate::sqlite::SqliteStore;

/// Rows per multi-row INSERT (8 parameters each: well under both databases' limits).
const BATCH: usize = 500;

const ROW_COLUMNS: &str =
    "fingerprint, kind, system, subject, controls_json, collected_us, run_id, data_json";

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

/// The rows of a collection, each fingerprint once (the first occurrence).
fn distinct(rows: &[EvidenceRow]) -> Vec<&EvidenceRow> {
    let mut seen = BTreeSet::new();
    rows.iter()
        .filter(|r| seen.insert(r.fingerprint.as_str()))
        .collect()
}

/// The [`EvidenceStore`] impl for one backend: `$store` with pool type `$db`,
/// `$sql` turning `?N` placeholders into the backend's, `$order` the ORDER BY of
/// rows (byte order of text, nulls first, as the core sorts them).
macro_rules! evidence_store {
    ($store:ty, $db:ty, $sql:expr, $order:expr, $id_type:ty, $($begin:tt)+) => {
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
                let mut tx = self.pool().$($begin)+.await.map_err(storage)?;
                let mut new_rows = 0u64;
                for chunk in distinct.chunks(BATCH) {
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
                let id: $id_type = sqlx::query(sqlx::AssertSqlSafe(sql(
                    "INSERT INTO evidence_collections (run_id, system, collected_us, \
                     controls_json, row_count, new_rows) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     RETURNING collection_id",
                )))
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
                for chunk in distinct.chunks(BATCH * 4) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO evidence_sightings (collection_id, fingerprint) ",
                    );
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(id).push_bind(r.fingerprint.0.clone());
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
                let query = sql(&format!(
                    "SELECT {ROW_COLUMNS} FROM evidence_rows WHERE fingerprint IN \
                     (SELECT s.fingerprint FROM evidence_sightings s JOIN evidence_collections c \
                     ON c.collection_id = s.collection_id \
                     WHERE c.collected_us >= ?1 AND c.collected_us < ?2) ORDER BY {}",
                    $order
                ));
                let rows = sqlx::query(sqlx::AssertSqlSafe(query))
                    .bind(micros(period.from))
                    .bind(micros(period.to))
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
    "kind, system, subject, fingerprint",
    i64,
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
        "kind COLLATE \"C\", system COLLATE \"C\", subject COLLATE \"C\" NULLS FIRST, fingerprint",
        i64,
        begin()
    );
}
