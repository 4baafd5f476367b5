//! The schema, versioned and migrated forward with sqlx's migrator.
//!
//! Migrations are SQL files under `migrations/<backend>/`, embedded in the binary
//! with `include_str!` (no files needed at run time) and run by
//! [`sqlx::migrate::Migrator`], which records each applied version with a checksum
//! in `_sqlx_migrations` and refuses a database whose applied migration was edited.
//! A new schema version is a new file appended to the list below; released files
//! never change.

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 9;

fn migration(version: i64, description: &'static str, sql: &'static str) -> Migration {
    Migration::new(
        version,
        description.into(),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )
}

/// The SQLite migrations.
pub(crate) fn sqlite_migrator() -> Migrator {
    Migrator::with_migrations(vec![
        migration(
            1,
            "journal and audit log",
            include_str!("../migrations/sqlite/0001_journal_and_audit.sql"),
        ),
        migration(
            2,
            "inbox and schedule",
            include_str!("../migrations/sqlite/0002_inbox_schedule.sql"),
        ),
        migration(
            3,
            "rate budget (numbering only: sharing budgets is PostgreSQL's)",
            include_str!("../migrations/sqlite/0003_rate_budget.sql"),
        ),
        migration(
            4,
            "governance",
            include_str!("../migrations/sqlite/0004_governance.sql"),
        ),
        migration(
            5,
            "evidence",
            include_str!("../migrations/sqlite/0005_evidence.sql"),
        ),
        migration(
            6,
            "SIEM cursors",
            include_str!("../migrations/sqlite/0006_siem_cursor.sql"),
        ),
        migration(
            7,
            "the operations still open (drift asks for them, not for every run)",
            include_str!("../migrations/sqlite/0007_open_operations.sql"),
        ),
        migration(
            8,
            "access review campaigns closed",
            include_str!("../migrations/sqlite/0008_campaign_closures.sql"),
        ),
        migration(
            9,
            "append-only tables refuse TRUNCATE",
            include_str!("../migrations/sqlite/0009_no_truncate.sql"),
        ),
    ])
}

/// The PostgreSQL migrations.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_migrator() -> Migrator {
    Migrator::with_migrations(vec![
        migration(
            1,
            "journal, operation claims and audit log",
            include_str!("../migrations/postgres/0001_journal_and_audit.sql"),
        ),
        migration(
            2,
            "inbox and schedule",
            include_str!("../migrations/postgres/0002_inbox_schedule.sql"),
        ),
        migration(
            3,
            "rate budgets shared by instances",
            include_str!("../migrations/postgres/0003_rate_budget.sql"),
        ),
        migration(
            4,
            "governance",
            include_str!("../migrations/postgres/0004_governance.sql"),
        ),
        migration(
            5,
            "evidence",
            include_str!("../migrations/postgres/0005_evidence.sql"),
        ),
        migration(
            6,
            "SIEM cursors",
            include_str!("../migrations/postgres/0006_siem_cursor.sql"),
        ),
        migration(
            7,
            "the operations still open (drift asks for them, not for every run)",
            include_str!("../migrations/postgres/0007_open_operations.sql"),
        ),
        migration(
            8,
            "access review campaigns closed",
            include_str!("../migrations/postgres/0008_campaign_closures.sql"),
        ),
        migration(
            9,
            "append-only tables refuse TRUNCATE",
            include_str!("../migrations/postgres/0009_no_truncate.sql"),
        ),
    ])
}
