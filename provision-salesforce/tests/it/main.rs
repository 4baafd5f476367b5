//! Integration tests of the Salesforce adapter against a stateful wiremock fake of a
//! Salesforce org (`support/mod.rs`): there is no official machine-readable spec, so
//! every answer shape comes from Salesforce's documentation, and the fake marks with
//! `[U]` the ones not verified against a real org.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod auth;
mod conformance;
mod limits;
mod permissions;
mod support;
