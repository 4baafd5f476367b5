//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod governance_support;
#[path = "../../../provision-core/tests/it/planner_support/mod.rs"]
mod planner_support;

mod gate_every_path;
mod governance_engine;
mod governance_properties;
mod governance_review;
mod governance_sod_rules;
mod review_import_scale;
