//! Evidence in the PostgreSQL store: the shared cases in `evidence_cases`. Runs
//! only with the `postgres` feature and `PROVISION_TEST_POSTGRES_URL` (see
//! `postgres_store.rs`); each test gets its own database.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::evidence_cases;
use crate::pg_url;
use std::str::FromStr;

use async_trait::async_trait;
use evidence_cases::Backend;
use provision_store::PostgresStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

#[async_trait]
impl Backend for PostgresStore {
    async fn exec(&self, sql: &str) -> Result<u64, String> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| e.to_string())
    }

    fn drop_audit_guard(&self) -> &'static str {
        "DROP TRIGGER audit_log_append_only ON audit_log"
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(self.pool())
            .await
            .unwrap()
    }
}

async fn fresh(name: &str) -> Option<PostgresStore> {
    let url = pg_url::postgres_url(name)?;
    let admin = PgConnectOptions::from_str(&url).unwrap();
    let db = format!("provision_evidence_{}_{name}", std::process::id());
    let mut conn = admin.connect().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    Some(
        PostgresStore::connect_with(admin.database(&db))
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn the_same_evidence_is_stored_once() {
    let Some(store) = fresh("dedup").await else {
        return;
    };
    evidence_cases::the_same_evidence_is_stored_once(&store).await;
}

#[tokio::test]
async fn attached_evidence_cannot_be_changed_by_sql() {
    let Some(store) = fresh("immutable").await else {
        return;
    };
    evidence_cases::attached_evidence_cannot_be_changed_by_sql(&store).await;
}

#[tokio::test]
async fn kpis_from_a_known_store() {
    let Some(store) = fresh("kpis").await else {
        return;
    };
    evidence_cases::kpis_from_a_known_store(&store).await;
}

#[tokio::test]
async fn a_tampered_audit_log_is_refused_before_export() {
    let Some(store) = fresh("tamper").await else {
        return;
    };
    evidence_cases::a_tampered_audit_log_is_refused_before_export(&store).await;
}

#[tokio::test]
async fn an_empty_period_says_so() {
    let Some(store) = fresh("empty").await else {
        return;
    };
    evidence_cases::an_empty_period_says_so(&store).await;
}

#[tokio::test]
async fn an_unchanged_run_writes_no_presence_and_a_returning_row_keeps_its_periods() {
    let Some(store) = fresh("presence").await else {
        return;
    };
    evidence_cases::an_unchanged_run_writes_no_presence_and_a_returning_row_keeps_its_periods(
        &store,
    )
    .await;
}
