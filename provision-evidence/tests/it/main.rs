//! Every integration test of this crate in one binary (one link instead of one per
//! file): each file is a module here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod collector;
mod config;
mod properties;
