//! The example deployment of the quickstart (`examples/provision.yaml`, its policies
//! and roster) copied into a temporary directory, with every sandbox system kept in a
//! state file there so that one `provision` process sees what the previous one did.

#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temporary copy of the example deployment.
pub struct Deployment {
    pub dir: tempfile::TempDir,
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Adds `state_file: <dir>/state/<system>.json` to every system's settings.
fn with_state_files(yaml: &str, state: &Path) -> String {
    let mut out = Vec::new();
    let mut system = String::new();
    for line in yaml.lines() {
        let trimmed = line.trim_end();
        if let Some(name) = trimmed
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        {
            system = name.trim_end_matches(':').to_owned();
        }
        let file = state.join(format!("{system}.json"));
        if let Some(inline) = trimmed
            .strip_prefix("    settings: {")
            .and_then(|l| l.strip_suffix('}'))
        {
            out.push(format!(
                "    settings: {{{inline}, state_file: {}}}",
                file.display()
            ));
        } else {
            out.push(line.to_owned());
            if trimmed == "    settings:" {
                out.push(format!("      state_file: {}", file.display()));
            }
        }
    }
    out.join("\n") + "\n"
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

impl Deployment {
    /// The example deployment, its policies and roster, sandboxes persisted.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let state = root.join("state");
        std::fs::create_dir_all(&state).unwrap();
        let yaml = std::fs::read_to_string(examples().join("provision.yaml")).unwrap();
        let yaml = with_state_files(&yaml, &state);
        assert_eq!(yaml.matches("state_file:").count(), 8, "{yaml}");
        std::fs::write(root.join("provision.yaml"), yaml).unwrap();
        copy_dir(&examples().join("policies"), &root.join("policies"));
        std::fs::copy(examples().join("roster.yaml"), root.join("roster.yaml")).unwrap();
        Self { dir }
    }

    /// The example deployment exactly as shipped (no `state_file` added): the CLI keeps
    /// the sandboxes' state itself, in `.provision/sandbox/`.
    pub fn as_shipped() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::copy(
            examples().join("provision.yaml"),
            root.join("provision.yaml"),
        )
        .unwrap();
        copy_dir(&examples().join("policies"), &root.join("policies"));
        std::fs::copy(examples().join("roster.yaml"), root.join("roster.yaml")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `provision` run in the deployment's directory, no terminal, no colour.
    pub fn provision(&self) -> Command {
        let mut cmd = Command::cargo_bin("provision").unwrap();
        cmd.current_dir(self.path())
            .env_remove("PROVISION_CONFIG")
            .env_remove("PROVISION_ROSTER")
            .env_remove("PROVISION_STORE")
            .env("PROVISION_PENDING_WAIT", "0")
            .env("PROVISION_ACTOR", "ci")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `provision args...`; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = self.provision().args(args).output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Rewrites a file of the deployment.
    pub fn edit(&self, file: &str, f: impl FnOnce(String) -> String) {
        let path = self.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, f(text)).unwrap();
    }
}

/// Replaces what changes from run to run (temporary paths, times, digests, run ids).
pub fn stable(text: &str, dir: &Path) -> String {
    let mut s = text.replace(&dir.display().to_string(), "[DIR]");
    for (pattern, replacement) in [
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "[TIME]",
        ),
        (r"\b[0-9a-f]{64}\b", "[SHA256]"),
        (r"cli-\d{8}T\d{6}\.\d+Z", "[RUN]"),
        (r"in \d+\.\d s", "in [SECS] s"),
    ] {
        s = regex_lite::Regex::new(pattern)
            .unwrap()
            .replace_all(&s, replacement)
            .into_owned();
    }
    s
}

/// The campaign id in `provision review open`'s first line (`Campaign rc-... "name": ...`).
pub fn campaign_id(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.starts_with("rc-"))
        .unwrap_or_else(|| panic!("no campaign id in {out}"))
        .to_owned()
}
