//! Secret-leak checks: capture every log line a test writes, then fail the test when
//! a secret string shows up in the logs or in an error's `Display` / `Debug` output.
//!
//! ```
//! use provision_testkit::secrets::{LogCapture, SecretCheck};
//!
//! let logs = LogCapture::start();
//! tracing::info!(user = "ada", "signed in");
//! let error = std::io::Error::other("token rejected");
//! SecretCheck::new(&["hunter2", "ya29.secret-token"])
//!     .logs(&logs)
//!     .value("the error", &error)
//!     .assert_clean();
//! ```

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::subscriber::DefaultGuard;

/// Captures every log line (all levels, TRACE included) written on this thread while
/// it lives; drop it to stop capturing.
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
}

impl fmt::Debug for LogCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogCapture")
            .field("bytes", &self.lock().len())
            .finish()
    }
}

#[derive(Clone)]
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Starts capturing: installs a TRACE-level subscriber as this thread's default
    /// (use a current-thread tokio runtime, `#[tokio::test]`'s default, so the
    /// adapter's tasks log on the same thread).
    pub fn start() -> Self {
        // A process-wide subscriber that wants every level and writes nothing: without
        // one, a callsite first reached on another test's thread (no subscriber there)
        // caches "never interested", and the global level filter can drop to OFF when
        // another thread's capture ends; either made this capture miss events now and
        // then (seen once under load: a Slack test's capture saw none of its logs).
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        });
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = SharedWriter(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        Self {
            buffer,
            _guard: guard,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }
}

/// Collects texts (logs, errors' `Display` and `Debug`) and checks that none holds a
/// secret. Panics naming where each secret appeared, never printing the secret.
#[derive(Debug, Default)]
pub struct SecretCheck {
    secrets: Vec<String>,
    texts: Vec<(String, String)>,
}

impl SecretCheck {
    /// A check for these secret strings (empty strings are ignored).
    pub fn new(secrets: &[&str]) -> Self {
        Self {
            secrets: secrets
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| (*s).to_owned())
                .collect(),
            texts: Vec::new(),
        }
    }

    /// Adds the captured logs.
    pub fn logs(mut self, logs: &LogCapture) -> Self {
        self.texts.push(("the logs".to_owned(), logs.text()));
        self
    }

    /// Adds a value's `Display` and `Debug` output (an error, a config, a client).
    pub fn value(mut self, what: &str, value: &(impl fmt::Display + fmt::Debug + ?Sized)) -> Self {
        self.texts
            .push((format!("{what} (Display)"), value.to_string()));
        self.texts
            .push((format!("{what} (Debug)"), format!("{value:?}")));
        self
    }

    /// Adds a value's `Debug` output only (configs and clients that have no `Display`).
    pub fn debug(mut self, what: &str, value: &(impl fmt::Debug + ?Sized)) -> Self {
        self.texts
            .push((format!("{what} (Debug)"), format!("{value:?}")));
        self
    }

    /// Adds any text.
    pub fn text(mut self, what: &str, text: impl Into<String>) -> Self {
        self.texts.push((what.to_owned(), text.into()));
        self
    }

    /// Where secrets appear: `(secret number, where)`, empty when clean.
    pub fn leaks(&self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (n, secret) in self.secrets.iter().enumerate() {
            for (what, text) in &self.texts {
                if text.contains(secret.as_str()) {
                    out.push((n, what.clone()));
                }
            }
        }
        out
    }

    /// Panics when any secret appears anywhere, naming the secret by its position in
    /// the list (never its value) and where it appeared.
    pub fn assert_clean(&self) {
        let leaks = self.leaks();
        assert!(
            leaks.is_empty(),
            "secrets leaked: {}",
            leaks
                .iter()
                .map(|(n, what)| format!("secret #{n} in {what}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_in_the_logs_is_found_and_named_without_its_value() {
        let logs = LogCapture::start();
        tracing::trace!(header = "Bearer s3cr3t-token", "request");
        let check = SecretCheck::new(&["s3cr3t-token"]).logs(&logs);
        assert_eq!(check.leaks(), vec![(0, "the logs".to_owned())]);
        let panic = std::panic::catch_unwind(|| check.assert_clean()).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("secret #0 in the logs"), "{message}");
        assert!(!message.contains("s3cr3t-token"), "{message}");
    }

    #[test]
    fn errors_are_checked_in_display_and_debug() {
        #[derive(Debug)]
        struct Leaky {
            #[allow(dead_code)]
            key: &'static str,
        }
        impl fmt::Display for Leaky {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("failed")
            }
        }
        let check =
            SecretCheck::new(&["AKIA-secret"]).value("the error", &Leaky { key: "AKIA-secret" });
        assert_eq!(check.leaks(), vec![(0, "the error (Debug)".to_owned())]);
        SecretCheck::new(&["other"])
            .value("the error", &Leaky { key: "AKIA-secret" })
            .assert_clean();
    }
}
