//! YAML reading shared by the deployment config, the policies and the roster: one
//! parser entry point ([`parse_yaml`], serde-saphyr underneath), a positioned tree
//! ([`Node`]) and field readers, and the [`Diagnostic`]s that name file, line,
//! column and field.

mod diagnostic;
mod reader;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use reader::*;
