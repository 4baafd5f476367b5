//! In a real pseudo-terminal (tmux): `provision apply` asks before applying, only
//! `yes` confirms, and the progress shows as a bar per system.

#![allow(clippy::unwrap_used)]

use crate::support;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Deployment;

/// A tmux server of this test's own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(dir: &Path, command: &str) -> Option<Self> {
        let socket = format!(
            "provision-cli-test-{}-{}",
            std::process::id(),
            rand_suffix()
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "60",
                "-c",
            ])
            .arg(dir)
            .arg(command)
            .status()
            .ok()?;
        status.success().then_some(Self { socket })
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-S",
                "-",
                "-t",
                "0",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn send(&self, keys: &str) {
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0", keys, "Enter"])
            .status()
            .unwrap();
    }

    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "`{text}` never appeared:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn tmux_available() -> bool {
    Command::new("tmux").arg("-V").output().is_ok()
}

/// The shell command running `provision apply` in the pane, then holding the pane
/// open with the exit code shown.
fn apply_command() -> String {
    let bin = assert_cmd::cargo::cargo_bin("provision");
    format!(
        "env PROVISION_PENDING_WAIT=0 PROVISION_ACTOR=pty NO_COLOR=1 {} apply; echo \"exit=$?\"; sleep 600",
        bin.display()
    )
}

#[test]
fn apply_asks_on_a_terminal_and_shows_a_bar_per_system() {
    if !tmux_available() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let d = Deployment::new();
    let tmux = Tmux::start(d.path(), &apply_command()).unwrap();
    tmux.wait_for("Apply these 80 operations? Only 'yes' is accepted:");
    tmux.send("yes");
    let screen = tmux.wait_for("exit=");
    assert!(screen.contains("exit=0"), "{screen}");
    assert!(screen.contains("applied run"), "{screen}");
    // The bars as they ended: one per system, done/total.
    for system in [
        "okta",
        "google",
        "aws",
        "slack",
        "jira",
        "salesforce",
        "gitlab",
    ] {
        let bar =
            regex_lite::Regex::new(&format!(r"(?m)^\s*{system} \[=+\] (\d+)/(\d+) +\d+\.\d/s"))
                .unwrap();
        let last = bar.captures_iter(&screen).last();
        let Some(done) = last else {
            panic!("no {system} bar:\n{screen}")
        };
        assert_eq!(
            done[1], done[2],
            "{system} finished its operations:\n{screen}"
        );
    }
    assert!(
        screen.contains("5 pending"),
        "gitlab's first-login accounts:\n{screen}"
    );
    // Bars, not the line-per-operation output of a pipe.
    assert!(!screen.contains("[1/80]"), "{screen}");
}

#[test]
fn anything_but_yes_applies_nothing() {
    if !tmux_available() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let d = Deployment::new();
    let tmux = Tmux::start(d.path(), &apply_command()).unwrap();
    tmux.wait_for("Only 'yes' is accepted:");
    tmux.send("y");
    let screen = tmux.wait_for("exit=");
    assert!(
        screen.contains("refused: not confirmed; nothing was applied"),
        "{screen}"
    );
    assert!(screen.contains("exit=4"), "{screen}");
    let okta = std::fs::read_to_string(d.path().join("state/okta.json")).unwrap_or_default();
    assert!(!okta.contains("sarah.chen"), "nothing reached okta: {okta}");
}

/// Pending operations are announced with how long apply waits, and the INFO line for
/// each one left pending is written through the bars (once per operation, not per
/// re-check), never as a WARN.
#[test]
fn pending_work_is_announced_and_log_lines_go_through_the_bars() {
    if !tmux_available() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let d = Deployment::new();
    let bin = assert_cmd::cargo::cargo_bin("provision");
    let command = format!(
        "env PROVISION_PENDING_WAIT=1 PROVISION_ACTOR=pty NO_COLOR=1 {} -v apply --yes; echo \"exit=$?\"; sleep 600",
        bin.display()
    );
    let tmux = Tmux::start(d.path(), &command).unwrap();
    let screen = tmux.wait_for("exit=");
    assert!(screen.contains("exit=0"), "{screen}");
    assert!(
        screen.contains("waiting up to 1 s for"),
        "the wait is announced:\n{screen}"
    );
    let left = screen
        .matches("still pending; left for a later run")
        .count();
    assert_eq!(left, 5, "one line per operation left pending:\n{screen}");
    assert!(!screen.contains("WARN"), "{screen}");
    // Every log line starts at the left edge: none was written into a bar.
    for line in screen.lines().filter(|l| l.contains("still pending")) {
        assert!(!line.contains("[="), "a log line torn into a bar: {line}");
    }
}
