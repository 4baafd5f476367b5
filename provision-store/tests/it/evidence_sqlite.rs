//! Evidence in the SQLite store: the shared cases in `evidence_cases`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::evidence_cases;
use async_trait::async_trait;
use evidence_cases::Backend;
use provision_store::SqliteStore;

#[async_trait]
impl Backend for SqliteStore {
    async fn exec(&self, sql: &str) -> Result<u64, String> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| e.to_string())
    }

    fn drop_audit_guard(&self) -> &'static str {
        "DROP TRIGGER audit_log_no_update"
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(self.pool())
            .await
            .unwrap()
    }
}

async fn fresh() -> (SqliteStore, tempfile_dir::Dir) {
    let dir = tempfile_dir::Dir::new();
    let store = SqliteStore::open(dir.path().join("provision.db"))
        .await
        .unwrap();
    (store, dir)
}

/// A temporary folder removed on drop (no extra dependency).
mod tempfile_dir {
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "provision-evidence-sqlite-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[tokio::test]
async fn the_same_evidence_is_stored_once() {
    let (store, _dir) = fresh().await;
    evidence_cases::the_same_evidence_is_stored_once(&store).await;
}

#[tokio::test]
async fn attached_evidence_cannot_be_changed_by_sql() {
    let (store, _dir) = fresh().await;
    evidence_cases::attached_evidence_cannot_be_changed_by_sql(&store).await;
}

#[tokio::test]
async fn kpis_from_a_known_store() {
    let (store, _dir) = fresh().await;
    evidence_cases::kpis_from_a_known_store(&store).await;
}

#[tokio::test]
async fn a_tampered_audit_log_is_refused_before_export() {
    let (store, _dir) = fresh().await;
    evidence_cases::a_tampered_audit_log_is_refused_before_export(&store).await;
}

#[tokio::test]
async fn an_empty_period_says_so() {
    let (store, _dir) = fresh().await;
    evidence_cases::an_empty_period_says_so(&store).await;
}

#[tokio::test]
async fn an_unchanged_run_writes_no_presence_and_a_returning_row_keeps_its_periods() {
    let (store, _dir) = fresh().await;
    evidence_cases::an_unchanged_run_writes_no_presence_and_a_returning_row_keeps_its_periods(
        &store,
    )
    .await;
}
