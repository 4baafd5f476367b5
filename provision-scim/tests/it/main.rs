//! Every integration test of this crate in one binary (one link instead of one per
//! file).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod dialects;
mod discovery;
mod errors_and_paging;
mod peer;
mod secrets;
