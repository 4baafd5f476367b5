//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod accounts;
mod channels;
mod conformance;
mod contract;
mod executor;
mod http;
mod lifecycle;
mod prism;
mod run_cache;
mod scim_peer;
mod secrets;
mod tenant;
mod usergroups;
