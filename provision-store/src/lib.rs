//! # provision-store
//!
//! Durable homes for `provision`'s [`Journal`](provision_core::journal::Journal) and
//! [`AuditLog`](provision_core::audit::AuditLog):
//!
//! * [`SqliteStore`] — the embedded default: one SQLite file, created on first use,
//!   schema versioned and migrated forward ([`schema`]).
//! * `PostgresStore` (feature `postgres`) — for several orchestrator instances
//!   against one database, with leases on operations so two instances never run
//!   the same operation at once.
//!
//! The audit log keeps the core's hash chain (`provision_core::audit`):
//! `verify_audit` re-checks it on the database, there is no update or delete API
//! (and triggers refuse both from SQL), and `export_audit_jsonl` writes JSON lines
//! for a SIEM or an auditor. Queries: the history of one identity, everything one
//! run did, everything that touched one system in a time window.
//!
//! ```no_run
//! # async fn demo() -> Result<(), provision_store::StoreError> {
//! use provision_store::SqliteStore;
//! let store = SqliteStore::open("provision.db").await?;
//! let verified = store.verify_audit().await?;
//! println!("{} audit records verified", verified.records);
//! # Ok(()) }
//! ```
//!
//! With `postgres`, `PostgresStore` is also a
//! [`SharedBudget`](provision_core::executor::SharedBudget): instances on one database
//! split every system's rate budget and share 429 pauses (`budget` module).
//! Both stores also implement
//! [`GovernanceStore`](provision_governance::GovernanceStore): exceptions,
//! access requests, review campaigns and decisions, append-only.
//! Both stores also keep audit evidence (migration 0005): they implement
//! [`EvidenceStore`](provision_evidence::EvidenceStore), with rows keyed by
//! fingerprint and rows attached to an assessment fixed by trigger.
//! SIEM streaming: both stores implement [`provision_siem::AuditFeed`] (the
//! audit log read forward from a seq) and [`provision_siem::CursorStore`] (durable
//! per-sink delivery cursors, table `siem_cursors`).
//!
//! No compile-time query macros and no ORM: plain SQL strings through sqlx.

#[cfg(feature = "postgres")]
mod budget;
mod error;
mod evidence;
mod governance;
pub mod inbox;
mod ports;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub mod postgres_roles;
mod rows;
pub mod schedule;
pub mod schema;
mod siem_cursor;
mod sqlite;

pub use error::StoreError;
pub use inbox::{Accepted, Inbox, InboxItem, InboxState, NewInboxEvent};
#[cfg(feature = "postgres")]
pub use postgres::{Claim, PostgresStore};
pub use schedule::{Schedule, ScheduledJob};
pub use sqlite::SqliteStore;
