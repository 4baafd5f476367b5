//! The peer servers of `shared/peers/` (Prism, scim2-server), started by a test on a
//! free loopback port with a pid file in a temporary folder, and stopped by that pid
//! file when the handle is dropped.
//!
//! * [`Peer::prism`]: Prism serving one of `shared/specs/`. When it cannot start (no
//!   node/npm, no network for the first `npm ci`) the test prints `SKIPPED` and gets
//!   `None` — unless `PROVISION_REQUIRE_PRISM=1`, then it panics, so the check never
//!   vanishes from CI silently.
//! * [`Peer::scim`]: scim2-server (`PROVISION_TEST_SCIM_URL` when set); when it cannot
//!   start the test panics saying why.

use std::path::PathBuf;
use std::process::Command;

use crate::openapi::{shared_dir, shared_spec_path};

/// A running peer server; stopped (by its pid file) when dropped, unless the test was
/// pointed at one that was already running.
#[derive(Debug)]
pub struct Peer {
    /// The base URL the start script printed (`http://127.0.0.1:PORT`, for SCIM with
    /// its `/v2` root), without a trailing slash.
    pub url: String,
    stop: Option<(PathBuf, PathBuf, PathBuf)>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some((stop, pidfile, dir)) = &self.stop {
            let _ = Command::new(stop).arg(pidfile).status();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs a start script; the URL it printed, or why it failed.
fn start(mut command: Command, dir: &std::path::Path) -> Result<String, String> {
    match command.output() {
        Ok(out) if out.status.success() => {
            let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if url.starts_with("http://") {
                Ok(url.trim_end_matches('/').to_owned())
            } else {
                Err(format!("the start script printed no URL: {url:?}"))
            }
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            Err(format!(
                "the start script failed ({}) in {}: {}",
                out.status,
                dir.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ))
        }
        Err(e) => Err(format!("cannot run the start script: {e}")),
    }
}

impl Peer {
    /// Prism serving `spec` (a file of `shared/specs/`) for the crate at
    /// `manifest_dir`; `test` names the temporary folder and the messages.
    pub fn prism(manifest_dir: &str, spec: &str, test: &str) -> Option<Peer> {
        let required = std::env::var("PROVISION_REQUIRE_PRISM").as_deref() == Ok("1");
        let peers = shared_dir(manifest_dir).join("peers");
        let spec = shared_spec_path(manifest_dir, spec);
        let dir = std::env::temp_dir().join(format!("prism-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let pidfile = dir.join("prism.pid");
        let mut command = Command::new(peers.join("start-prism.sh"));
        command.arg(&spec).arg("0").env("PRISM_PIDFILE", &pidfile);
        match start(command, &dir) {
            Ok(url) => Some(Peer {
                url,
                stop: Some((peers.join("stop.sh"), pidfile, dir)),
            }),
            Err(failure) => {
                let _ = Command::new(peers.join("stop.sh")).arg(&pidfile).status();
                let _ = std::fs::remove_dir_all(&dir);
                assert!(
                    !required,
                    "{test}: PROVISION_REQUIRE_PRISM=1 but Prism could not start: {failure}"
                );
                eprintln!(
                    "SKIPPED {test}: Prism could not start ({failure}); it needs node and npm \
                     (set PROVISION_REQUIRE_PRISM=1 to make this a failure)"
                );
                None
            }
        }
    }

    /// scim2-server accepting the bearer `token`: `PROVISION_TEST_SCIM_URL` when set
    /// (started elsewhere with that token), otherwise started here.
    pub fn scim(manifest_dir: &str, token: &str) -> Peer {
        if let Ok(url) = std::env::var("PROVISION_TEST_SCIM_URL")
            && !url.trim().is_empty()
        {
            return Peer {
                url: url.trim().trim_end_matches('/').to_owned(),
                stop: None,
            };
        }
        let peers = shared_dir(manifest_dir).join("peers");
        let dir = std::env::temp_dir().join(format!("scim-peer-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let pidfile = dir.join("scim.pid");
        let mut command = Command::new(peers.join("start-scim.sh"));
        command
            .env("SCIM_PORT", "0")
            .env("SCIM_PIDFILE", &pidfile)
            .env("SCIM_TOKEN", token)
            .env_remove("SCIM_TENANTS");
        match start(command, &dir) {
            Ok(url) => Peer {
                url,
                stop: Some((peers.join("stop.sh"), pidfile, dir)),
            },
            Err(failure) => panic!(
                "scim2-server did not start (it needs Python >= 3.11 and, on first use, pip \
                 access): {failure}"
            ),
        }
    }
}
