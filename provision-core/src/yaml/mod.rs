//! YAML reading shared by the deployment config, the policies and the roster: one
//! parser entry point ([`parse_yaml`], serde-saphyr underneath), a positioned tree
//! ([`Node`]) and field readers, and the [`Diagnostic`]s that name file, line,
//! column and field.

mod block_list;
mod diagnostic;
mod reader;

pub use block_list::parse_large_list;
pub use diagnostic::{Diagnostic, Diagnostics};
pub use reader::*;
