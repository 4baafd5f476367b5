//! Every integration test of this crate in one binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod app_auth;
mod conformance;
mod figures;
mod quirks;
