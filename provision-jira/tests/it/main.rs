//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod conformance;
mod factory;
mod figures;
mod lifecycle;
mod prism;
mod quirks;
mod secrets;
mod tenant;
mod tickets;
