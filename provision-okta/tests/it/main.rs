//! Every integration test of this crate in one binary (one link instead of one
//! per file): each former `tests/*.rs` file is a module here, and the support
//! modules they shared are declared once.

mod support;

mod accounts;
mod conformance;
mod contract;
mod evidence;
mod executor;
mod groups;
mod http;
mod secrets;
mod tenant;
