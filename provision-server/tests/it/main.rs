//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod auth;
mod evidence;
mod leaver_during_reconcile;
mod leaver_pending;
mod lifecycle;
mod listeners;
mod plan_people;
mod postgres_instances;
mod readiness;
mod reconcile;
mod requests;
mod reviews;
mod siem;
mod webhook;
