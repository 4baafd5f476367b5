//! Where the quickstart's lines go: the terminal, and a copy kept for tests.

use std::sync::Mutex;

/// Prints lines (unless quiet) and keeps every one of them.
#[derive(Debug, Default)]
pub struct Console {
    quiet: bool,
    lines: Mutex<Vec<String>>,
}

impl Console {
    /// A console that prints to standard output.
    pub fn stdout() -> Self {
        Self::default()
    }

    /// A console that only keeps the lines (for tests).
    pub fn quiet() -> Self {
        Self {
            quiet: true,
            lines: Mutex::new(Vec::new()),
        }
    }

    /// One line of output.
    pub fn say(&self, line: impl Into<String>) {
        let line = line.into();
        if !self.quiet {
            println!("{line}");
        }
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }

    /// Every line said so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
