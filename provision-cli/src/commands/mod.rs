//! One module per subcommand.

pub mod access;
pub mod apply;
pub mod audit;
pub mod drift;
pub mod plan;
pub mod review;
pub mod serve;
pub mod show;
pub mod simulate;
pub mod validate;
pub mod why;

use std::io::IsTerminal;

use provision_core::model::Identity;

use crate::cli::{ColorChoice, Global};
use crate::context::Paths;
use crate::exit::CliError;
use crate::render::Style;
pub use crate::render::plural;

/// What every command starts from.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The resolved paths.
    pub paths: Paths,
    /// Colour on standard output.
    pub style: Style,
}

impl Ctx {
    /// From the global options.
    pub fn new(global: &Global) -> Self {
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Self {
            paths: Paths::resolve(global),
            style: Style { color },
        }
    }
}

/// Finds a person by HR id, login or email.
pub fn find_person<'a>(roster: &'a [Identity], who: &str) -> Result<&'a Identity, CliError> {
    roster
        .iter()
        .find(|p| p.id.as_str() == who)
        .or_else(|| {
            roster
                .iter()
                .find(|p| p.login.eq_ignore_ascii_case(who) || p.email.eq_ignore_ascii_case(who))
        })
        .ok_or_else(|| {
            CliError::Other(format!(
                "no one in the roster is `{who}` (id, login or email)"
            ))
        })
}

/// Prints to standard output; a closed pipe (`| head`) is not an error worth a panic.
pub fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
