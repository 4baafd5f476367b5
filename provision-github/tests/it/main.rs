//! Every integration test of this crate in one binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod app_auth;
mod conformance;
mod emu;
mod figures;
mod prism;
mod quirks;
mod scim_peer;
mod secrets;
