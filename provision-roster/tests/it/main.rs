//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hr_snapshots;
mod hr_sources;
mod roster_events;
mod roster_formats;
mod roster_scale;
