//! Rosters as HR systems export them: a CSV with the company's own headers, mapped
//! by the `roster:` section of `provision.yaml`; the same people as JSON and as the
//! SDK's YAML; bad rows reported with file, line and column while the good ones load.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use provision_core::config::parse_config;
use provision_core::model::{EmploymentStatus, Identity};
use provision_roster::{RosterConfig, RosterFormat, RosterReader};

const CONFIG: &str = r#"systems:
  okta: {adapter: okta}
roster:
  path: hr/workers.csv
  columns:
    id: Employee ID
    email: Work Email
    login: Username
    display_name: [Preferred First Name, Last Name]
    status: Worker Status
    effective: Termination Date
    attributes:
      department: Department
      title: Job Title
      manager: Manager ID
  statuses:
    on_leave: [Leave of Absence]
    terminated: [Separated]
  termination_time_utc: "17:00"
"#;

const WORKERS_CSV: &str = "\
Employee ID,Work Email,Username,Preferred First Name,Last Name,Worker Status,Termination Date,Department,Job Title,Manager ID,Salary Band
e1001,sarah.chen@company.com,,Sarah,Chen,Active,,Sales,Sales Engineer,e1005,B4
e1003,priya.natarajan@company.com,priya,Priya,Natarajan,Leave of Absence,,Engineering,Software Engineer,e1007,B3
e1004,tom.keller@company.com,,Tom,Keller,Separated,2025-03-31,Engineering,Engineer,e1007,B3
";

fn reader() -> RosterReader {
    let config = parse_config("provision.yaml", CONFIG).unwrap();
    let roster = RosterConfig::from_deployment(&config)
        .unwrap()
        .expect("the roster section is read");
    assert_eq!(roster.path, Some(PathBuf::from("hr/workers.csv")));
    RosterReader::from_config(&roster)
}

fn expected() -> Vec<Identity> {
    let mut sarah = Identity::new("e1001", "sarah.chen@company.com", "Sarah Chen")
        .with_attribute("department", "Sales")
        .with_attribute("title", "Sales Engineer")
        .with_attribute("manager", "e1005");
    sarah.status = EmploymentStatus::Active;
    let mut priya = Identity::new("e1003", "priya.natarajan@company.com", "Priya Natarajan")
        .with_attribute("department", "Engineering")
        .with_attribute("title", "Software Engineer")
        .with_attribute("manager", "e1007");
    priya.login = "priya".into();
    priya.status = EmploymentStatus::OnLeave;
    let mut tom = Identity::new("e1004", "tom.keller@company.com", "Tom Keller")
        .with_attribute("department", "Engineering")
        .with_attribute("title", "Engineer")
        .with_attribute("manager", "e1007");
    tom.status = EmploymentStatus::Terminated {
        effective: "2025-03-31T17:00:00Z".parse().unwrap(),
    };
    vec![sarah, priya, tom]
}

#[test]
fn a_csv_export_loads_through_the_configured_mapping() {
    let load = reader()
        .read_str("hr/workers.csv", WORKERS_CSV, None)
        .unwrap();
    assert!(load.is_clean(), "{:?}", load.problems);
    let people: Vec<Identity> = load.people().cloned().collect();
    assert_eq!(people, expected());
    assert_eq!(load.entries[2].source.to_string(), "hr/workers.csv:4");
}

#[test]
fn the_same_people_load_from_json_and_from_the_sdk_yaml() {
    let json = r#"{"people": [
  {"Employee ID": "e1001", "Work Email": "sarah.chen@company.com", "Username": null,
   "Preferred First Name": "Sarah", "Last Name": "Chen", "Worker Status": "Active",
   "Department": "Sales", "Job Title": "Sales Engineer", "Manager ID": "e1005"},
  {"Employee ID": "e1003", "Work Email": "priya.natarajan@company.com", "Username": "priya",
   "Preferred First Name": "Priya", "Last Name": "Natarajan", "Worker Status": "Leave of Absence",
   "Department": "Engineering", "Job Title": "Software Engineer", "Manager ID": "e1007"},
  {"Employee ID": "e1004", "Work Email": "tom.keller@company.com",
   "Preferred First Name": "Tom", "Last Name": "Keller", "Worker Status": "Separated",
   "Termination Date": "2025-03-31", "Department": "Engineering", "Job Title": "Engineer",
   "Manager ID": "e1007"}
]}"#;
    let from_json = reader().read_str("hr/workers.json", json, None).unwrap();
    assert!(from_json.is_clean(), "{:?}", from_json.problems);
    assert_eq!(from_json.people().cloned().collect::<Vec<_>>(), expected());
    assert_eq!(from_json.entries[1].source.line, 5);

    let yaml = "people:
  - {id: e1001, email: sarah.chen@company.com, display_name: Sarah Chen,
     attributes: {department: Sales, title: Sales Engineer, manager: e1005}}
  - {id: e1003, email: priya.natarajan@company.com, login: priya, display_name: Priya Natarajan,
     status: on_leave, attributes: {department: Engineering, title: Software Engineer, manager: e1007}}
  - {id: e1004, email: tom.keller@company.com, display_name: Tom Keller, status: terminated,
     effective: 2025-03-31T17:00:00Z, attributes: {department: Engineering, title: Engineer, manager: e1007}}
";
    let from_yaml = RosterReader::new()
        .read_str("hr/roster.yaml", yaml, None)
        .unwrap();
    assert_eq!(from_yaml.people().cloned().collect::<Vec<_>>(), expected());
}

#[test]
fn bad_rows_name_file_line_and_column_and_never_stop_the_good_ones() {
    let csv = format!(
        "{WORKERS_CSV}\
e1005,ana.lima@company.com,,Ana,Lima,Retired,,Sales,VP,,B9
e1006,bo.ek@company.com,,Bo,Ek,Separated,,Ops,Clerk,e1005,B1
e1007,kim.li@company.com,,Kim,Li,Active,03/31/2025,Engineering,CTO,,B9
e1001,sarah.c@company.com,,Sarah,C,Active,,Sales,SE,e1005,B4
e1008,lee@company.com,sarah.chen@company.com,Lee,Park,Active,,Sales,SE,e1005,B4
e1009,jo@company.com,,Jo,Ng,Active,,Sales,AE,e1005,B2
"
    );
    let load = reader().read_str("hr/workers.csv", &csv, None).unwrap();
    let ids: Vec<&str> = load.people().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["e1001", "e1003", "e1004", "e1009"]);
    let problems: Vec<String> = load.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert_eq!(
        problems[0],
        "hr/workers.csv:5: Worker Status: unknown status `Retired`; expected one of: `active` (active); `on_leave`, `on leave`, `leave`, `leave of absence`, `loa`, `Leave of Absence` (on leave); `terminated`, `Separated` (terminated)"
    );
    assert_eq!(
        problems[1],
        "hr/workers.csv:6: Worker Status: a terminated person needs a termination date in `Termination Date` (expected an RFC 3339 time such as 2025-03-31T17:00:00Z or a date such as 2025-03-31)"
    );
    assert_eq!(
        problems[2],
        "hr/workers.csv:7: Termination Date: invalid termination date `03/31/2025`; expected an RFC 3339 time such as 2025-03-31T17:00:00Z or a date such as 2025-03-31 (taking effect at 17:00 UTC)"
    );
    assert_eq!(
        problems[3],
        "hr/workers.csv:8: Employee ID: duplicate id `e1001`; also used at hr/workers.csv:2"
    );
    assert_eq!(
        problems[4],
        "hr/workers.csv:9: Username: duplicate login `sarah.chen@company.com` (accounts are matched by login); also used at hr/workers.csv:2"
    );
    // The strict form refuses the file, listing every problem.
    let strict = load.into_strict().unwrap_err();
    assert_eq!(strict.diagnostics().len(), 5);
}

#[test]
fn files_are_read_by_extension_or_an_explicit_format() {
    let dir = std::env::temp_dir().join(format!("provision-roster-formats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("workers.csv");
    std::fs::write(&csv, WORKERS_CSV).unwrap();
    let export = dir.join("workers.export");
    std::fs::write(&export, WORKERS_CSV).unwrap();

    let load = reader().read_path(&csv).unwrap();
    assert_eq!(load.people().cloned().collect::<Vec<_>>(), expected());
    assert_eq!(load.entries[0].source.file, csv.display().to_string());
    let unknown = reader().read_path(&export).unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("cannot tell the roster format"),
        "{unknown}"
    );
    let named = reader()
        .with_format(RosterFormat::Csv)
        .read_path(&export)
        .unwrap();
    assert_eq!(named.entries.len(), 3);
    let missing = reader().read_path(&dir.join("absent.csv")).unwrap_err();
    assert!(missing.to_string().starts_with("cannot read "), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_wrong_roster_section_is_reported_with_its_place() {
    // The kernel keeps the section as written; this crate reads it.
    let config = parse_config(
        "provision.yaml",
        "systems:\n  okta: {adapter: okta}\nroster:\n  format: xls\n  columns: {email: Work Email, display_name: Name}\n",
    )
    .unwrap();
    let err = RosterConfig::from_deployment(&config).unwrap_err();
    let messages: Vec<String> = err.diagnostics().iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "provision.yaml:4:11: roster.format: unknown roster format `xls`; expected `csv`, `json` or `yaml`",
            "provision.yaml:5:12: roster.columns.id: missing required field `id` (expected the header of the column holding the person's HR id)",
        ]
    );
    let without = parse_config("provision.yaml", "systems:\n  okta: {adapter: okta}\n").unwrap();
    assert_eq!(RosterConfig::from_deployment(&without).unwrap(), None);
}

mod fuzz {
    use proptest::prelude::*;
    use provision_roster::parse_roster;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text, including YAML-ish fragments, gives people or errors, never a
        /// panic.
        #[test]
        fn arbitrary_text_never_panics(text in "(people:|id:|email:|display_name:|status:|- |\\{|\\}|\\[|\\]|: |\n|  |\t|\"|'|&a |\\*a|!!str |on|~|[a-z0-9#@.]{1,6}){0,40}") {
            let _ = parse_roster("r.yaml", &text);
        }
    }
}
