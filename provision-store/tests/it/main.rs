//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod evidence_cases;
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
mod pg_url;
mod support;

mod crash_resume;
mod evidence_postgres;
mod evidence_presence;
mod evidence_sqlite;
mod governance_store;
mod postgres_budget;
mod postgres_claims;
mod postgres_processes;
mod postgres_store;
mod siem_postgres;
mod siem_store;
mod sqlite_store;
