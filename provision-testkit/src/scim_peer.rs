//! scim2-server (python-scim's SCIM 2.0 service provider, `shared/peers/start-scim.sh`)
//! for adapter tests: a SCIM implementation nobody here wrote, on loopback.
//!
//! [`ScimPeer::start`] uses a running server when the environment names one, and
//! otherwise starts one on a free port with a pid file in a temporary folder, and
//! stops it by that pid file when the value is dropped. A server that cannot start
//! (no Python 3.11, no network for the first install) fails the test, saying so: the
//! peer tests are required, in CI and locally.
//!
//! | mode | a running server from | URL |
//! | --- | --- | --- |
//! | [`Tenants::One`]: one store | `PROVISION_TEST_SCIM_URL` | [`ScimPeer::url`] is the SCIM base (`…/v2`) |
//! | [`Tenants::Dynamic`]: a store per URL prefix | `PROVISION_TEST_SCIM_ROOT` (started with `SCIM_TENANTS=dynamic`) | [`ScimPeer::tenant`] gives a base of its own per name |

use std::path::PathBuf;
use std::process::Command;

use crate::botocore::find_shared_dir;

/// The bearer token the started server requires.
pub const TOKEN: &str = "peer-test-token";

/// One store, or one per URL prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenants {
    /// One in-memory store for every request.
    One,
    /// A separate empty store per URL prefix (`<root>/<tenant>/v2/…`).
    Dynamic,
}

/// A scim2-server for one test (see the module docs).
#[derive(Debug)]
pub struct ScimPeer {
    url: String,
    tenants: Tenants,
    pidfile: Option<(PathBuf, PathBuf)>,
}

impl ScimPeer {
    /// The server: the one the environment names, or a new one. `manifest_dir` finds
    /// `shared/` (`env!("CARGO_MANIFEST_DIR")`); `tag` names the temporary folder.
    pub fn start(manifest_dir: &str, tag: &str, tenants: Tenants) -> Self {
        let var = match tenants {
            Tenants::One => "PROVISION_TEST_SCIM_URL",
            Tenants::Dynamic => "PROVISION_TEST_SCIM_ROOT",
        };
        if let Ok(url) = std::env::var(var)
            && !url.trim().is_empty()
        {
            return Self {
                url: url.trim().trim_end_matches('/').to_owned(),
                tenants,
                pidfile: None,
            };
        }
        let shared = find_shared_dir(manifest_dir).unwrap_or_else(|| {
            panic!(
                "cannot find shared/ (with peers/start-scim.sh) beside the repository; set \
                 PROVISION_SHARED_DIR or {var}"
            )
        });
        let dir = std::env::temp_dir().join(format!("provision-scim-{tag}-{}", std::process::id()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot make {}: {e}", dir.display());
        }
        let pidfile = dir.join("scim.pid");
        let mut command = Command::new(shared.join("peers/start-scim.sh"));
        command
            .env("SCIM_PORT", "0")
            .env("SCIM_PIDFILE", &pidfile)
            .env("SCIM_TOKEN", TOKEN);
        match tenants {
            Tenants::One => command.env_remove("SCIM_TENANTS"),
            Tenants::Dynamic => command.env("SCIM_TENANTS", "dynamic"),
        };
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}/peers/start-scim.sh: {e}", shared.display()));
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && url.starts_with("http://"),
            "scim2-server did not start (it needs Python >= 3.11 and, on first use, pip \
             access); start-scim.sh said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            url: url.trim_end_matches('/').to_owned(),
            tenants,
            pidfile: Some((shared.join("peers/stop.sh"), pidfile)),
        }
    }

    /// The URL as the server printed it (without a trailing `/`): the SCIM base with
    /// one store, the server root with tenants.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SCIM base URL (with a trailing `/`) of a tenant of its own, named `name`
    /// and this process; with one store, the one base URL.
    pub fn tenant(&self, name: &str) -> String {
        match self.tenants {
            Tenants::One => format!("{}/", self.url),
            Tenants::Dynamic => format!("{}/{name}-{}/v2/", self.url, std::process::id()),
        }
    }
}

impl Drop for ScimPeer {
    fn drop(&mut self) {
        if let Some((stop, pidfile)) = &self.pidfile {
            let _ = Command::new(stop).arg(pidfile).status();
            if let Some(dir) = pidfile.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}
