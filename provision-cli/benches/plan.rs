//! `provision plan` as a user runs it, on a generated roster (100,000 people by
//! default; `PROVISION_BENCH_PEOPLE` to change it) over the example deployment's
//! sandbox systems, empty: a first rollout. It runs the built binary as a process
//! (`--format json --out plan.json`, then `--format text`), reads the phases the
//! command logs (`-v --log-format json`) and prints each phase's time and share, the
//! wall time, the peak resident memory and the plan document's bytes per operation.
//!
//! `cargo bench -p provision-cli` (a release build). One run per format: on a shared
//! machine, run it once and read it as an order of magnitude. Under `cargo test
//! --benches` it runs on 300 people, as a smoke check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// A deterministic roster of `n` people over the example policies' departments and
/// titles (about half of them get access).
fn roster(n: usize) -> String {
    let titles = [
        ("Sales", "Account Executive"),
        ("Sales", "Sales Engineer"),
        ("Sales", "Sales Director"),
        ("Engineering", "Software Engineer"),
        ("Engineering", "Senior Software Engineer"),
        ("Engineering", "Engineering Manager"),
        ("Finance", "Accountant"),
        ("People", "HR Partner"),
    ];
    let locations = ["London", "Berlin", "New York", "Singapore"];
    let mut out = String::with_capacity(n * 220);
    out.push_str("people:\n");
    for i in 0..n {
        // A cheap scramble so that departments do not come in blocks.
        let k = i.wrapping_mul(2_654_435_761) >> 7;
        let (department, title) = titles[k % titles.len()];
        out.push_str(&format!(
            "  - id: p{i:06}\n    email: person{i:06}@company.com\n    display_name: Person {i}\n    \
             attributes:\n      department: {department}\n      title: {title}\n      \
             seniority: {}\n      location: {}\n      manager: p{:06}\n",
            if k % 3 == 0 { "Senior" } else { "Junior" },
            locations[k % locations.len()],
            i / 8
        ));
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// One phase the command logged: its name, milliseconds and (for `total`) the peak.
struct Phase {
    name: String,
    ms: f64,
    peak_mib: Option<f64>,
}

fn phases(stderr: &str) -> Vec<Phase> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let fields = v.get("fields")?;
            Some(Phase {
                name: fields.get("phase")?.as_str()?.to_owned(),
                ms: fields.get("ms")?.as_f64()?,
                peak_mib: fields.get("peak_rss_mib").and_then(|p| p.as_f64()),
            })
        })
        .collect()
}

fn run(dir: &Path, args: &[&str]) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_provision"))
        .current_dir(dir)
        .args(["-v", "--log-format", "json", "--color", "never"])
        .args(args)
        .env("PROVISION_PENDING_WAIT", "0")
        .env_remove("PROVISION_CONFIG")
        .env_remove("PROVISION_ROSTER")
        .env_remove("PROVISION_STORE")
        .output()
        .unwrap();
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a first rollout has changes: {stderr}"
    );
    let phases = phases(&stderr);
    let total = phases
        .iter()
        .find(|p| p.name == "total")
        .expect("the command logs its total");
    println!(
        "provision {}: wall {:.2} s (process), peak {:.0} MiB, stdout {} bytes",
        args.join(" "),
        wall.as_secs_f64(),
        total.peak_mib.unwrap_or(f64::NAN),
        output.stdout.len()
    );
    for p in phases.iter().filter(|p| p.name != "total") {
        println!(
            "  {:<32} {:>9.1} ms  {:>5.1} %",
            p.name,
            p.ms,
            100.0 * p.ms / total.ms
        );
    }
}

fn main() {
    // `cargo test --benches` (CI's smoke check) runs it small; `cargo bench` passes
    // `--bench` and gets the full size.
    let full = std::env::args().any(|a| a == "--bench");
    let people: usize = std::env::var("PROVISION_BENCH_PEOPLE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full { 100_000 } else { 300 });
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        examples.join("provision.yaml"),
        dir.path().join("provision.yaml"),
    )
    .unwrap();
    copy_dir(&examples.join("policies"), &dir.path().join("policies"));
    std::fs::write(dir.path().join("roster.yaml"), roster(people)).unwrap();
    println!("{people} people, example deployment, empty sandboxes (a first rollout)");

    run(
        dir.path(),
        &["plan", "--format", "json", "--out", "plan.json"],
    );
    let bytes = std::fs::metadata(dir.path().join("plan.json"))
        .unwrap()
        .len();
    let doc: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(
        std::fs::File::open(dir.path().join("plan.json")).unwrap(),
    ))
    .unwrap();
    let operations = doc["summary"]["operations"].as_u64().unwrap();
    println!(
        "plan.json: {bytes} bytes, {operations} operations, {:.1} bytes per operation",
        bytes as f64 / operations as f64
    );
    run(dir.path(), &["plan", "--format", "text"]);
}
