//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod evidence_scene;
mod gitlab_real;
mod policy_examples;
mod presets_match_adapters;
mod quickstart;
mod readme_systems;
mod review_scene;
