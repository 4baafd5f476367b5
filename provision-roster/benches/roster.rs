//! Loading a 100,000-person roster in each format: CSV (streamed from the file),
//! JSON and YAML (read whole), every person with a status, a few terminated with a
//! date, and eight attributes. Targets: under 1 s and under 500 MB each.
//!
//! Run one format at a time, so each process's peak resident memory (`VmHWM`,
//! printed after the load) is that format's:
//!
//! ```text
//! cargo bench -p provision-roster --bench roster -- csv
//! cargo bench -p provision-roster --bench roster -- json
//! cargo bench -p provision-roster --bench roster -- yaml
//! ```
//!
//! The files are generated into a temporary folder and removed afterwards. Besides
//! criterion's wall-clock figures, the first load of each format prints its CPU
//! time (truer than wall time on a shared machine) and the process's `VmHWM`; for
//! YAML it also prints the parser's share (`parse_large_yaml` alone, and
//! serde-saphyr scanning into `IgnoredAny`, the floor any YAML roster load pays).
//!
//! Measured on the shared 2-core build machine (load average 5–11), release:
//! CSV 11.7 MB, about 0.45 s CPU per load, VmHWM 165 MiB; JSON 29.9 MB, about
//! 0.6 s CPU, 192 MiB; YAML 29.6 MB, about 0.7 s CPU (it was 2.4 s before plain
//! entries were read without the general parser, which alone takes 1.8 s).

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use provision_roster::{RosterFormat, RosterReader};

const PEOPLE: usize = 100_000;
const DEPARTMENTS: [&str; 8] = [
    "Engineering",
    "Sales",
    "Finance",
    "Marketing",
    "Support",
    "Legal",
    "People",
    "Operations",
];
const LOCATIONS: [&str; 5] = ["Berlin", "London", "New York", "San Francisco", "Tokyo"];
const SENIORITIES: [&str; 3] = ["Junior", "Mid", "Senior"];

/// Person `i`: (status, termination date) and eight attributes.
struct Person {
    id: String,
    email: String,
    name: String,
    status: &'static str,
    effective: Option<&'static str>,
    attributes: [(&'static str, String); 8],
}

fn person(i: usize) -> Person {
    let (status, effective) = match i % 50 {
        0 => ("terminated", Some("2026-03-31T17:00:00Z")),
        1 => ("on_leave", None),
        _ => ("active", None),
    };
    Person {
        id: format!("e{i:06}"),
        email: format!("person.{i}@company.com"),
        name: format!("Person {i}"),
        status,
        effective,
        attributes: [
            ("department", DEPARTMENTS[i % DEPARTMENTS.len()].to_owned()),
            ("title", format!("Title {}", i % 40)),
            ("seniority", SENIORITIES[i % 3].to_owned()),
            ("location", LOCATIONS[i % LOCATIONS.len()].to_owned()),
            ("manager", format!("e{:06}", i / 10)),
            (
                "employment_type",
                if i.is_multiple_of(9) {
                    "contractor"
                } else {
                    "employee"
                }
                .to_owned(),
            ),
            ("cost_center", format!("CC{}", i % 120)),
            ("team", format!("team-{}", i % 700)),
        ],
    }
}

fn csv_text() -> String {
    let mut out = String::from("id,email,display_name,status,effective");
    for (k, _) in person(0).attributes {
        write!(out, ",{k}").unwrap_or_default();
    }
    out.push('\n');
    for i in 0..PEOPLE {
        let p = person(i);
        write!(
            out,
            "{},{},{},{},{}",
            p.id,
            p.email,
            p.name,
            p.status,
            p.effective.unwrap_or("")
        )
        .unwrap_or_default();
        for (_, v) in &p.attributes {
            write!(out, ",{v}").unwrap_or_default();
        }
        out.push('\n');
    }
    out
}

fn json_text() -> String {
    let mut out = String::from("{\"people\": [\n");
    for i in 0..PEOPLE {
        let p = person(i);
        write!(
            out,
            "  {{\"id\": \"{}\", \"email\": \"{}\", \"display_name\": \"{}\", \"status\": \"{}\"",
            p.id, p.email, p.name, p.status
        )
        .unwrap_or_default();
        if let Some(e) = p.effective {
            write!(out, ", \"effective\": \"{e}\"").unwrap_or_default();
        }
        for (k, v) in &p.attributes {
            write!(out, ", \"{k}\": \"{v}\"").unwrap_or_default();
        }
        out.push_str(if i + 1 == PEOPLE { "}\n" } else { "},\n" });
    }
    out.push_str("]}\n");
    out
}

fn yaml_text() -> String {
    let mut out = String::from("people:\n");
    for i in 0..PEOPLE {
        let p = person(i);
        write!(
            out,
            "  - id: {}\n    email: {}\n    display_name: {}\n",
            p.id, p.email, p.name
        )
        .unwrap_or_default();
        if p.status != "active" {
            writeln!(out, "    status: {}", p.status).unwrap_or_default();
        }
        if let Some(e) = p.effective {
            writeln!(out, "    effective: {e}").unwrap_or_default();
        }
        out.push_str("    attributes:\n");
        for (k, v) in &p.attributes {
            writeln!(out, "      {k}: {v}").unwrap_or_default();
        }
    }
    out
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (ticks
/// of 1/100 s). On a shared machine this is a truer measure than wall time.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn write_file(dir: &Path, format: RosterFormat) -> PathBuf {
    let (name, text) = match format {
        RosterFormat::Csv => ("roster.csv", csv_text()),
        RosterFormat::Json => ("roster.json", json_text()),
        _ => ("roster.yaml", yaml_text()),
    };
    let path = dir.join(name);
    if let Err(e) = std::fs::write(&path, text) {
        panic!("cannot write {}: {e}", path.display());
    }
    path
}

fn bench_format(c: &mut Criterion, dir: &Path, format: RosterFormat) {
    let mut group = c.benchmark_group("roster load 100k");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    let mut path = None;
    let mut checked = false;
    group.bench_function(format.name(), |b| {
        let path = path.get_or_insert_with(|| write_file(dir, format)).clone();
        let reader = RosterReader::new();
        if std::mem::replace(&mut checked, true) {
            b.iter(|| black_box(reader.read_path(black_box(&path)).map(|l| l.entries.len()).ok()));
            return;
        }
        // Once, outside the timing: every person loads; CPU time and memory
        // (first, so the peak resident memory printed is the load's own).
        let cpu = cpu_time();
        let started = Instant::now();
        match reader.read_path(&path) {
            Ok(load) => {
                assert_eq!(load.entries.len(), PEOPLE, "{:?}", load.problems.first());
                assert!(load.problems.is_empty());
            }
            Err(e) => panic!("{e}"),
        }
        println!(
            "roster bench {format}: one load {:?} wall, {:?} CPU, file {:.1} MB, peak RSS (VmHWM) {:.0} MiB",
            started.elapsed(),
            cpu.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a)).unwrap_or_default(),
            std::fs::metadata(&path).map_or(0.0, |m| m.len() as f64 / 1e6),
            peak_rss_mib().unwrap_or(f64::NAN)
        );
        if format == RosterFormat::Yaml {
            // The YAML parser's share of the load.
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let cpu = cpu_time();
            let started = Instant::now();
            let parsed = provision_core::yaml::parse_large_yaml("roster.yaml", &text).is_ok();
            let parse_wall = started.elapsed();
            let cpu2 = cpu_time();
            let listed = provision_roster::parse_large_list("roster.yaml", &text).is_ok();
            let cpu3 = cpu_time();
            println!(
                "roster bench yaml: parse_large_list alone (plain entries read directly) {:?} CPU (ok: {listed})",
                cpu2.zip(cpu3).map(|(a, b)| b.saturating_sub(a)).unwrap_or_default()
            );
            let cpu2 = cpu_time();
            let options = serde_saphyr::options! { budget: None };
            let floor = serde_saphyr::from_str_with_options::<serde::de::IgnoredAny>(&text, options).is_ok();
            println!(
                "roster bench yaml: serde-saphyr scanning alone (into IgnoredAny, no tree) {:?} CPU (ok: {floor})",
                cpu2.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a)).unwrap_or_default()
            );
            println!(
                "roster bench yaml: parse_large_yaml alone {parse_wall:?} wall, {:?} CPU (ok: {parsed})",
                cpu.zip(cpu3).map(|(a, b)| b.saturating_sub(a)).unwrap_or_default()
            );
        }
        b.iter(|| black_box(reader.read_path(black_box(&path)).map(|l| l.entries.len()).ok()));
    });
    group.finish();
}

fn roster(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("provision-roster-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    for format in [RosterFormat::Csv, RosterFormat::Json, RosterFormat::Yaml] {
        bench_format(c, &dir, format);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, roster);
criterion_main!(benches);
