//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod drift_support;
mod exec_support;
#[path = "planner_support/org.rs"]
mod org;
mod planner_support;

mod audit_chain;
mod audit_golden;
mod audit_jsonl;
mod blast_radius_boundaries;
mod config_load;
mod drift_classes;
mod drift_config;
mod drift_leaver;
mod drift_properties;
mod drift_remediation;
mod drift_sandbox;
mod engine;
mod engine_no_hidden_state;
mod executor_behaviour;
mod executor_claims;
mod executor_contract;
mod executor_evidence_reads;
mod executor_pending_token;
mod executor_proptest;
mod executor_resume;
mod executor_shared_budget;
mod executor_store_writes;
mod invariants_plan;
mod journal_replay;
mod orderer_cycles;
mod planner_contract_sandbox;
mod planner_correlation;
mod planner_desired_shape;
mod planner_guard_and_correlation;
mod planner_lifecycle;
mod planner_sarah;
mod policy_load;
mod policy_validation;
mod sandbox_system;
