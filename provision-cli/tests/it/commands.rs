//! Every command as a process against the sandbox systems of the quickstart's example
//! deployment: exit codes, output (insta snapshots), the plan's JSON schema, the
//! stale-plan refusal, the blast-radius confirmation, simulate over two git refs, and
//! a broken audit chain.

#![allow(clippy::unwrap_used)]

use crate::support;
use support::{Deployment, campaign_id, stable};

#[test]
fn validate_needs_no_secret_and_names_file_line_column() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["validate"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("validate_ok", stable(&out, d.path()));

    // An action the system does not have, and a roster row without an email.
    d.edit("policies/sales.yaml", |t| {
        t.replacen(
            "action: add_to_group, target: \"sales-team\"",
            "action: add_to_grop, target: \"sales-team\"",
            1,
        )
    });
    d.edit("roster.yaml", |t| {
        t.replacen("email: marcus.webb@company.com", "email: \"\"", 1)
    });
    let (code, out, err) = d.run(&["validate"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("policies/sales.yaml:9:"), "{err}");
    insta::assert_snapshot!("validate_errors", stable(&err, d.path()));
}

#[test]
fn a_wrong_roster_section_is_an_invalid_deployment() {
    let d = Deployment::new();
    d.edit("provision.yaml", |t| {
        format!("{t}\nroster:\n  format: xls\n")
    });
    let lines = std::fs::read_to_string(d.path().join("provision.yaml"))
        .unwrap()
        .lines()
        .count();
    let expected = format!(
        "provision.yaml:{lines}:11: roster.format: unknown roster format `xls`; expected `csv`, `json` or `yaml`"
    );
    let (code, out, err) = d.run(&["validate"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains("1 problem found"), "{err}");
    let (code, out, err) = d.run(&["plan"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn plan_groups_by_person_with_reasons_and_exits_2_when_changes_are_pending() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["plan"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        out.contains("e1001 Sarah Chen <sarah.chen@company.com>"),
        "{out}"
    );
    assert!(
        out.contains("+ okta     grant okta/group/sales-team\n      because policy \"Sales (all of Sales)\" (./policies/sales.yaml:9): department=Sales"),
        "{out}"
    );
    insta::assert_snapshot!("plan_text", stable(&out, d.path()));

    let (code, md, _) = d.run(&["plan", "--format", "markdown"]);
    assert_eq!(code, 2);
    assert!(md.contains("```diff\n+ okta"), "{md}");
    assert!(
        !md.contains("<details>"),
        "8 people are not collapsed: {md}"
    );
}

#[test]
fn plan_json_schema_is_stable() {
    let d = Deployment::new();
    // --out with --format json: the document goes to the file only, written once.
    let (code, out, err) = d.run(&["plan", "--format", "json", "--out", "plan.json"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "", "the document is not also printed");
    assert!(err.contains("plan saved to plan.json"), "{err}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("plan.json")).unwrap())
            .unwrap();
    // --out - asks for it on standard output.
    let (code, out, err) = d.run(&["plan", "--format", "json", "--out", "-"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        !d.path().join("-").exists(),
        "`-` is standard output, not a file"
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["operations"], saved["operations"], "the same plan");
    assert_eq!(doc["dependencies"], saved["dependencies"]);
    assert_eq!(doc["schema"], "provision.plan/v2");
    // The schema: every key path with its type, and one person's operations in full.
    let mut shape = Vec::new();
    schema_of(&doc, "$", &mut shape);
    shape.sort();
    shape.dedup();
    insta::assert_snapshot!("plan_json_schema", shape.join("\n"));
    insta::assert_json_snapshot!("plan_json_sarah", person_view(&doc, "e1001"));
}

/// One person's rows of a `provision.plan/v2` document, and the table rows they point
/// to, for a snapshot.
fn person_view(doc: &serde_json::Value, id: &str) -> serde_json::Value {
    use serde_json::json;
    let people = doc["people"].as_array().unwrap();
    let p = people.iter().position(|p| p["id"] == id).unwrap();
    let operations: Vec<&serde_json::Value> = doc["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["p"] == p)
        .collect();
    let pick = |table: &str, key: &str| -> serde_json::Map<String, serde_json::Value> {
        operations
            .iter()
            .filter_map(|o| o[key].as_u64())
            .map(|i| (i.to_string(), doc[table][i as usize].clone()))
            .collect()
    };
    let reasons = pick("reasons", "r");
    let policies: serde_json::Map<String, serde_json::Value> = reasons
        .values()
        .flat_map(|r| r["refs"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["policy"].as_u64())
        .map(|i| (i.to_string(), doc["policies"][i as usize].clone()))
        .collect();
    json!({
        "person": people[p],
        "operations": operations,
        "entitlements": pick("entitlements", "e"),
        "profiles": pick("profiles", "f"),
        "reasons": reasons,
        "policies": policies,
    })
}

#[test]
fn plan_out_dash_is_only_for_the_json_document() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["plan", "--out", "-"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("--out - writes the plan document to standard output"),
        "{err}"
    );
    // With text, --out saves the document and the text is still printed.
    let (code, out, err) = d.run(&["plan", "--out", "plan.json"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.starts_with("Plan: "), "{out}");
    let text = std::fs::read_to_string(d.path().join("plan.json")).unwrap();
    assert!(
        text.starts_with("{\"schema\":\"provision.plan/v2\""),
        "{text}"
    );
}

/// `$.people[].changes[].sign: string`, for every path in a JSON value.
fn schema_of(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    let ty = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    // Entitlements and profiles are the core's own serde; only their top level here.
    out.push(format!("{path}: {ty}"));
    if path.starts_with("$.entitlements[]") || path.starts_with("$.profiles[]") {
        return;
    }
    match v {
        Value::Array(items) => items
            .iter()
            .for_each(|i| schema_of(i, &format!("{path}[]"), out)),
        Value::Object(map) => {
            // Attribute maps are data, not schema.
            if path.ends_with(".matched") || path.ends_with(".a") {
                return;
            }
            map.iter()
                .for_each(|(k, v)| schema_of(v, &format!("{path}.{k}"), out));
        }
        _ => {}
    }
}

#[test]
fn apply_runs_the_saved_plan_then_refuses_it_as_stale_naming_what_changed() {
    let d = Deployment::new();
    let (code, _, err) = d.run(&["plan", "--out", "plan.json"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = d.run(&["apply", "plan.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("applied run"), "{out}");
    // Without a terminal: one line per operation on standard error.
    assert!(err.contains("[1/80] "), "{err}");
    assert!(
        err.contains("okta e1001/okta/create_account: done"),
        "{err}"
    );

    // The same plan again: reality moved (it was applied), so it is stale.
    let (code, out, err) = d.run(&["apply", "plan.json"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.contains("is stale"), "{err}");
    assert!(
        err.contains("e1001/okta/grant/group/sales-team: no longer needed"),
        "{err}"
    );

    // A changed policy file makes a saved plan stale too, naming the file.
    let (code, _, _) = d.run(&["plan", "--out", "plan2.json"]);
    assert_eq!(code, 2);
    d.edit("policies/sales.yaml", |t| t + "\n# reviewed\n");
    let (code, _, err) = d.run(&["apply", "plan2.json"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("policies ./policies changed since the plan was made"),
        "{err}"
    );
}

#[test]
fn apply_without_a_terminal_needs_yes() {
    let d = Deployment::new();
    let (code, _, err) = d.run(&["apply"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("not a terminal"), "{err}");
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_plan_over_the_blast_radius_needs_the_count_confirmed() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    // Four people leave at once (the limit is three).
    d.edit("roster.yaml", |t| {
        t.replace(
            "    attributes:\n      department: Engineering\n",
            "    status: terminated\n    effective: 2020-01-01T00:00:00Z\n    attributes:\n      department: Engineering\n",
        )
    });
    let (code, out, err) = d.run(&["plan"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(
        out.contains("Blast radius: REFUSED: removes access from 4 of 8 people"),
        "{out}"
    );
    assert!(out.contains("--confirm-blast-radius 4"), "{out}");

    let (code, _, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 4, "{err}");
    let (code, _, err) = d.run(&["apply", "--yes", "--confirm-blast-radius", "3"]);
    assert_eq!(code, 4, "a larger surprise is still refused: {err}");
    assert!(err.contains("more than the 3 confirmed"), "{err}");
    let (code, out, err) = d.run(&["apply", "--yes", "--confirm-blast-radius", "4"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn why_names_the_policy_its_line_and_the_matching_attributes_or_why_not() {
    let d = Deployment::new();
    let (code, out, _) = d.run(&[
        "why",
        "sarah.chen@company.com",
        "okta/group/engineering-team",
    ]);
    assert_eq!(code, 0, "{out}");
    insta::assert_snapshot!("why_yes", out);
    let (code, out, _) = d.run(&[
        "why",
        "e1001",
        "aws/permission_set/EngineeringSeniorReadOnly",
    ]);
    assert_eq!(code, 2, "{out}");
    insta::assert_snapshot!("why_not", out);
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn simulate_compares_two_git_refs_without_reading_any_system() {
    let d = Deployment::new();
    git(d.path(), &["init", "-q", "-b", "main"]);
    git(
        d.path(),
        &["add", "provision.yaml", "policies", "roster.yaml"],
    );
    git(d.path(), &["commit", "-q", "-m", "policies"]);
    git(d.path(), &["checkout", "-q", "-b", "change"]);
    // Seniors get on-call; the Sales CRM policy is dropped.
    d.edit("policies/engineering.yaml", |t| {
        t + "      - system: \"slack\"\n        action: \"invite_to_channel\"\n        target: \"#eng-oncall\"\n"
    });
    d.edit("policies/sales.yaml", |t| {
        let start = t.find("  - name: \"Sales CRM (reps)\"").unwrap();
        let end = t.find("  - name: \"Sales Engineer\"").unwrap();
        format!("{}{}", &t[..start], &t[end..])
    });
    git(
        d.path(),
        &[
            "commit",
            "-q",
            "-am",
            "on-call for seniors, no CRM for reps",
        ],
    );
    // The working tree is back on main: refs, not files, say what is compared.
    git(d.path(), &["checkout", "-q", "main"]);

    let (code, out, err) = d.run(&["simulate", "--base", "main", "--head", "change"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        !d.path().join("state/okta.json").exists(),
        "no system was read or written"
    );
    insta::assert_snapshot!("simulate_refs", stable(&out, d.path()));

    // A ref given as --policies against the working tree; the same ref: nothing.
    let (code, out, _) = d.run(&["simulate", "--policies", "main"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No one gains or loses anything."), "{out}");

    let (code, json, _) = d.run(&[
        "simulate", "--base", "main", "--head", "change", "--format", "json",
    ]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], "provision.simulation/v1");
    assert_eq!(v["summary"]["people_gaining"], 2, "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_verify_detects_a_broken_chain_and_names_the_first_bad_record() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = d.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("audit chain verified: "), "{out}");

    let (code, csv, _) = d.run(&["audit", "export", "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(
        csv.starts_with("seq,at,run,actor,identity,system,operation,action,entitlement,outcome"),
        "{csv}"
    );
    let (code, jsonl, _) = d.run(&["audit", "export"]);
    assert_eq!(code, 0);
    assert_eq!(jsonl.lines().count(), csv.lines().count() - 1);
    let (code, history, _) = d.run(&["audit", "history", "sarah.chen@company.com"]);
    assert_eq!(code, 0);
    assert!(
        history.contains("okta grant okta/group/sales-team: changed; by provision-cli:ci"),
        "{history}"
    );

    // Someone with the database file rewrites record 3.
    let store = provision_store::SqliteStore::open(d.path().join(".provision/store.db"))
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET event_json = replace(event_json, '\"actor\":\"provision-cli:ci\"', '\"actor\":\"someone\"') WHERE seq = 3")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let (code, _, err) = d.run(&["audit", "verify"]);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("audit chain BROKEN at record seq 3"), "{err}");
}

/// Someone with the database drops the append-only trigger and deletes the last
/// records: the chain that is left verifies on its own; the head printed before
/// (kept outside the store) catches the cut.
#[tokio::test(flavor = "multi_thread")]
async fn audit_verify_with_an_anchor_catches_a_cut_tail() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = d.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{err}");
    let anchor = out
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no anchor in {out}"))
        .to_owned();
    let seq: u64 = anchor.split(':').next().unwrap().parse().unwrap();
    assert!(seq >= 3, "{out}");
    let (code, out, err) = d.run(&["audit", "verify", "--anchor", &anchor]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("including anchor seq {seq}")),
        "{out}"
    );

    let store = provision_store::SqliteStore::open(d.path().join(".provision/store.db"))
        .await
        .unwrap();
    for sql in [
        "DROP TRIGGER audit_log_no_delete".to_owned(),
        format!("DELETE FROM audit_log WHERE seq > {}", seq - 2),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(store.pool())
            .await
            .unwrap();
    }
    store.close().await;
    let (code, out, err) = d.run(&["audit", "verify"]);
    assert_eq!(code, 0, "without an anchor the cut goes unseen: {out}{err}");
    let (code, _, err) = d.run(&["audit", "verify", "--anchor", &anchor]);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("records were removed from the end"), "{err}");
    let (code, _, err) = d.run(&["audit", "verify", "--anchor", "12:nothex"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("SHA-256"), "{err}");
}

/// A separation-of-duties conflict someone granted by hand shows in `drift`, as in a
/// review: critical, naming the rule and where it is written, with no automatic fix
/// (a person decides: revoke one half or record an exception).
#[test]
fn drift_shows_a_held_separation_of_duties_conflict_naming_the_rule() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    d.edit("state/aws.json", |t| {
        let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
        v["grants"].as_array_mut().unwrap().push(serde_json::json!([
            "marcus.webb@company.com",
            {"system": "aws", "kind": "permission_set", "resource": "PaymentsAdmin",
             "scope": "account:production"}
        ]));
        v.to_string()
    });
    d.edit("state/salesforce.json", |t| {
        let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
        let mut account = v["accounts"]["dana.ortiz@company.com"].clone();
        account["external_id"] = serde_json::json!("u-marcus");
        v["accounts"]["marcus.webb@company.com"] = account;
        v["grants"].as_array_mut().unwrap().push(serde_json::json!([
            "marcus.webb@company.com",
            {"system": "salesforce", "kind": "permission_set", "resource": "ApproveRefunds"}
        ]));
        v.to_string()
    });
    let (code, out, err) = d.run(&["drift"]);
    assert_eq!(code, 2, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains("] sod_conflict"))
        .unwrap_or_else(|| panic!("no SoD finding in\n{out}"));
    for part in [
        "[critical]",
        "e1002",
        "aws/permission_set/PaymentsAdmin",
        "salesforce/permission_set/ApproveRefunds",
        "'Payments admin approves refunds'",
        "separation_of_duties.yaml:",
        "fix: none",
    ] {
        assert!(line.contains(part), "{part} missing: {line}");
    }
}

#[test]
fn drift_reports_by_severity_and_fix_applies_what_remediation_allows() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    // Someone adds Sarah to an engineering channel by hand: slack channels are
    // authoritative and slack fixes everything it finds.
    d.edit("state/slack.json", |t| {
        t.replacen("\"#sales-engineering\"", "\"#engineering-general\"", 1)
    });
    let (code, out, err) = d.run(&["drift"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("findings"), "{out}");
    // A fix revokes: like `apply`, it asks, and without a terminal it needs --yes.
    let (code, out, err) = d.run(&["drift", "--fix"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains("Fixing"), "{out}");
    assert!(err.contains("not a terminal"), "{err}");
    let (code, out, err) = d.run(&["drift"]);
    assert_eq!(code, 2, "nothing was fixed: {out}{err}");
    let (code, out, err) = d.run(&["drift", "--fix", "--yes"]);
    assert!(code == 0 || code == 2, "{code}: {out}{err}");
    assert!(out.contains("applied run"), "{out}");
}

#[test]
fn completions_and_serve() {
    let d = Deployment::new();
    let (code, out, _) = d.run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("_provision()"), "{out}");
    // No service configuration here: an unreadable file (exit 1), named.
    let (code, _, err) = d.run(&["serve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("provision-server.yaml"), "{err}");
}

#[test]
fn log_format_json_writes_json_lines_on_stderr() {
    let d = Deployment::new();
    let (_, _, err) = d.run(&["-v", "--log-format", "json", "plan"]);
    let first = err.lines().find(|l| l.starts_with('{')).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(first).unwrap();
    assert!(v["level"].is_string(), "{err}");
}

#[test]
fn plan_markdown_collapses_past_fifty_people() {
    let d = Deployment::new();
    let mut roster = String::from("people:\n");
    for i in 0..60 {
        roster.push_str(&format!(
            "  - id: s{i:03}\n    email: s{i:03}@company.com\n    display_name: Seller {i}\n    attributes:\n      department: Sales\n      title: Account Executive\n"
        ));
    }
    std::fs::write(d.path().join("roster.yaml"), roster).unwrap();
    let (code, md, err) = d.run(&["plan", "--format", "markdown"]);
    assert_eq!(code, 2, "{err}");
    let (shown, collapsed) = md
        .split_once("<details><summary>10 more people</summary>")
        .unwrap();
    assert_eq!(shown.matches("```diff").count(), 50, "{shown}");
    assert_eq!(collapsed.matches("```diff").count(), 10);
    assert!(collapsed.trim_end().ends_with("</details>"));
}

/// A roster of `n` sellers and engineers (titles the example policies know).
fn big_roster(n: usize) -> String {
    let titles = [
        ("Sales", "Account Executive"),
        ("Sales", "Sales Engineer"),
        ("Engineering", "Software Engineer"),
        ("Engineering", "Senior Software Engineer"),
    ];
    let mut roster = String::from("people:\n");
    for i in 0..n {
        let (department, title) = titles[i % titles.len()];
        roster.push_str(&format!(
            "  - id: s{i:05}\n    email: s{i:05}@company.com\n    display_name: Person {i}\n    attributes:\n      department: {department}\n      title: {title}\n      location: {}\n",
            ["London", "Berlin", "Lisbon"][i % 3]
        ));
    }
    roster
}

#[test]
fn plan_text_summarises_past_fifty_people_by_system_unless_all() {
    let d = Deployment::new();
    std::fs::write(d.path().join("roster.yaml"), big_roster(60)).unwrap();
    let (code, text, err) = d.run(&["plan", "--out", "plan.json"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(text.matches(" <s0").count(), 50, "{text}");
    assert!(!text.contains("s00050@company.com"), "{text}");
    let rest = text
        .split_once("... and 10 more people with ")
        .unwrap_or_else(|| panic!("{text}"))
        .1;
    let (operations, systems) = rest
        .split_once(" operations (`--all` shows every person):\n")
        .unwrap();
    // The summary's counts add up to the operations it stands for.
    let counted: usize = systems
        .lines()
        .take_while(|l| l.starts_with("  "))
        .flat_map(|l| {
            l.split(", ")
                .map(|part| part.rsplit(' ').next().unwrap().parse::<usize>().unwrap())
        })
        .sum();
    assert_eq!(counted, operations.parse::<usize>().unwrap(), "{text}");
    assert!(systems.contains("  okta     + "), "{text}");

    let (_, all, _) = d.run(&["plan", "--all"]);
    assert_eq!(all.matches(" <s0").count(), 60, "{all}");
    assert!(!all.contains("more people"), "{all}");
    let (code, shown, _) = d.run(&["show", "plan.json", "--all"]);
    assert_eq!(code, 2);
    assert_eq!(shown, all, "show reads back what plan printed");
}

#[test]
fn a_first_rollout_costs_under_150_bytes_per_operation() {
    let d = Deployment::new();
    std::fs::write(d.path().join("roster.yaml"), big_roster(400)).unwrap();
    let (code, _, err) = d.run(&["plan", "--format", "json", "--out", "plan.json"]);
    assert_eq!(code, 2, "{err}");
    let bytes = std::fs::metadata(d.path().join("plan.json")).unwrap().len() as usize;
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("plan.json")).unwrap())
            .unwrap();
    let operations = doc["summary"]["operations"].as_u64().unwrap() as usize;
    assert!(operations > 2000, "{operations}");
    assert!(
        bytes / operations < 150,
        "{bytes} bytes for {operations} operations"
    );
    assert_eq!(doc["operations"].as_array().unwrap().len(), operations);
}

#[test]
fn a_v1_plan_from_the_previous_version_is_still_shown() {
    let d = Deployment::new();
    let v1 = serde_json::json!({
        "schema": "provision.plan/v1",
        "created_at": "2026-12-01T09:00:00Z",
        "event": "cli",
        "inputs": {
            "config": {"path": "provision.yaml", "sha256": "00"},
            "policies": {"path": "policies", "sha256": "00"},
            "roster": {"path": "roster.yaml", "sha256": "00"}
        },
        "summary": {"people": 1, "operations": 1, "additions": 1, "removals": 0, "changes": 0},
        "blast_radius": {"verdict": "within_limits", "identities": 0, "population": 8, "removal_operations": 0},
        "people": [{"id": "e1001", "login": "sarah.chen@company.com", "display_name": "Sarah Chen", "changes": [{
            "sign": "+", "operation": "e1001/slack/grant/channel/#sales", "person": "e1001",
            "system": "slack", "action": "grant", "entitlement": "slack/channel/#sales",
            "reason": {"kind": "policy_grant", "detail": "policy 'Sales (all of Sales)' matched department=Sales",
                "policies": [{"name": "Sales (all of Sales)", "source": "./policies/sales.yaml:11", "matched": {"department": "Sales"}}]}
        }]}],
        "report_only": [],
        "plan": {"operations": [{
            "id": "e1001/slack/grant/channel/#sales", "identity": "e1001", "login": "sarah.chen@company.com",
            "system": "slack", "kind": {"op": "grant", "entitlement": {"system": "slack", "kind": "channel", "resource": "#sales"}},
            "reason": {"kind": "policy_grant", "detail": "policy 'Sales (all of Sales)' matched department=Sales"}
        }], "dependencies": []}
    });
    std::fs::write(d.path().join("old.json"), v1.to_string()).unwrap();
    let (code, text, err) = d.run(&["show", "old.json"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        text.contains("+ slack    grant slack/channel/#sales"),
        "{text}"
    );
    // Applying it checks it against the inputs like any saved plan: these digests are
    // not the deployment's, so it is stale.
    let (code, _, err) = d.run(&["apply", "old.json"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("changed since the plan was made"), "{err}");

    std::fs::write(
        d.path().join("future.json"),
        r#"{"schema":"provision.plan/v9"}"#,
    )
    .unwrap();
    let (code, _, err) = d.run(&["show", "future.json"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("plan schema `provision.plan/v9` is neither"),
        "{err}"
    );
}

#[test]
fn simulate_against_a_directory_ignores_moved_lines_and_sees_a_narrower_selector() {
    let d = Deployment::new();
    let proposed = d.path().join("proposed");
    std::fs::create_dir_all(&proposed).unwrap();
    for f in ["engineering.yaml", "sales.yaml", "expenses.yaml"] {
        std::fs::copy(d.path().join("policies").join(f), proposed.join(f)).unwrap();
    }
    // Comments push every policy down: nobody's access changes.
    let sales = proposed.join("sales.yaml");
    let text = std::fs::read_to_string(&sales).unwrap();
    std::fs::write(&sales, format!("# one\n# two\n{text}")).unwrap();
    let (code, out, err) = d.run(&["simulate", "--policies", "proposed"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No one gains or loses anything."), "{out}");

    // Senior Engineer Access narrowed to Berlin: Tom (Remote) loses the AWS permission set.
    let eng = proposed.join("engineering.yaml");
    let text = std::fs::read_to_string(&eng).unwrap();
    std::fs::write(
        &eng,
        text.replacen(
            "        seniority: \"Senior\"\n",
            "        seniority: \"Senior\"\n        location: \"Berlin\"\n",
            1,
        ),
    )
    .unwrap();
    let (code, out, err) = d.run(&["simulate", "--policies", "proposed", "--format", "json"]);
    assert_eq!(code, 2, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let losers: Vec<&str> = v["people"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["losses"].as_array().unwrap().is_empty())
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(v["summary"]["population"], 8);
    assert!(
        !losers.is_empty() && !losers.contains(&"e1002"),
        "Marcus is in Berlin: {out}"
    );
    assert!(
        out.contains("aws/permission_set/EngineeringSeniorReadOnly@account:production"),
        "{out}"
    );
}

#[test]
fn simulate_shows_the_sod_conflicts_a_policy_change_would_create_and_exits_4() {
    let d = Deployment::new();
    let proposed = d.path().join("proposed");
    std::fs::create_dir_all(&proposed).unwrap();
    for f in [
        "engineering.yaml",
        "sales.yaml",
        "expenses.yaml",
        "separation_of_duties.yaml",
    ] {
        std::fs::copy(d.path().join("policies").join(f), proposed.join(f)).unwrap();
    }
    // Senior engineers become the payments on-call: they run payments in production
    // and approve the refunds it pays, which the SoD rule forbids.
    std::fs::write(
        proposed.join("payments.yaml"),
        r#"policies:
  - name: "Payments on-call"
    triggers:
      - department: "Engineering"
        seniority: "Senior"
    provisions:
      - {system: aws-sso, action: assign_permission_set, target: "PaymentsAdmin", account: "production"}
      - {system: salesforce, action: assign_permission_set, target: "ApproveRefunds"}
"#,
    )
    .unwrap();
    let (code, out, err) = d.run(&["simulate", "--policies", "proposed"]);
    assert_eq!(code, 4, "the planner would refuse: {out}{err}");
    insta::assert_snapshot!("simulate_sod_conflicts", stable(&out, d.path()));

    let (code, json, _) = d.run(&["simulate", "--policies", "proposed", "--format", "json"]);
    assert_eq!(code, 4);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let conflicts = v["new_conflicts"].as_array().unwrap();
    let who: Vec<&str> = conflicts
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["e1002", "e1004"], "the two senior engineers: {json}");
    for c in conflicts {
        assert_eq!(c["rule"], "Payments admin approves refunds");
        assert_eq!(c["severity"], "critical");
        assert_eq!(
            c["grants"],
            serde_json::json!([
                "aws/permission_set/PaymentsAdmin@account:production",
                "salesforce/permission_set/ApproveRefunds"
            ])
        );
    }

    let (code, md, _) = d.run(&["simulate", "--policies", "proposed", "--format", "markdown"]);
    assert_eq!(code, 4);
    assert!(
        md.contains("**Separation of duties: 2 new conflict(s); a plan would be refused.**"),
        "{md}"
    );

    // The rule dropped in the same change: the grants still move, no conflict.
    std::fs::remove_file(proposed.join("separation_of_duties.yaml")).unwrap();
    let (code, json, _) = d.run(&["simulate", "--policies", "proposed", "--format", "json"]);
    assert_eq!(code, 2, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["new_conflicts"], serde_json::json!([]));
    assert_eq!(v["summary"]["people_gaining"], 2);
}

#[test]
fn review_gives_a_manager_only_what_needs_a_decision_as_csv_json_and_html() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    // Someone puts Sarah (Sales, managed by Dana, e1005) in an engineering channel by
    // hand instead of #sales-engineering.
    d.edit("state/slack.json", |t| {
        t.replacen("\"#sales-engineering\"", "\"#engineering-general\"", 1)
    });

    let (code, out, err) = d.run(&["review", "open", "--name", "Q4", "--department", "Sales"]);
    assert_eq!(code, 2, "something needs a decision: {out}{err}");
    assert!(out.contains("\"Q4\""), "{out}");
    assert!(out.contains("certified by policy"), "{out}");
    assert!(out.contains("e1005"), "Dana reviews Sales: {out}");
    assert!(
        !out.contains("e1007"),
        "Engineering's manager is out of scope: {out}"
    );
    let id = campaign_id(&out);

    let (code, csv, err) = d.run(&[
        "review",
        "export",
        &id,
        "--reviewer",
        "dana.ortiz@company.com",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 2, "{csv}{err}");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(!rows.is_empty(), "{csv}");
    assert!(
        rows.iter()
            .any(|r| r.contains("sarah.chen@company.com") && r.contains("#engineering-general")),
        "the hand-made channel is Dana's to decide: {csv}"
    );
    assert_eq!(
        rows.len(),
        1,
        "everything else in Sales is what policy gives (certified): {csv}"
    );

    let (code, json, _) = d.run(&[
        "review",
        "export",
        &id,
        "--reviewer",
        "e1005",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(json.contains("#engineering-general"), "{v}");

    let (code, out, err) = d.run(&[
        "review",
        "export",
        &id,
        "--reviewer",
        "e1005",
        "--output",
        "dana.html",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("written to dana.html"), "{out}");
    let html = std::fs::read_to_string(d.path().join("dana.html")).unwrap();
    assert!(html.to_lowercase().starts_with("<!doctype html"), "{html}");
    assert!(html.contains("#engineering-general"), "{html}");

    // Exports never open a campaign: still exactly one.
    let (code, list, _) = d.run(&["review", "list", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{list}");

    // A reviewer who is no one: refused, naming them.
    let (code, out, err) = d.run(&["review", "export", &id, "--reviewer", "nobody@company.com"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("nobody@company.com"), "{err}");
}

#[test]
fn plan_refuses_a_separation_of_duties_conflict_with_exit_4_naming_person_rule_and_grants() {
    let d = Deployment::new();
    std::fs::write(
        d.path().join("policies/payments.yaml"),
        r#"policies:
  - name: "Payments on-call"
    triggers:
      - department: "Engineering"
        seniority: "Senior"
    provisions:
      - {system: aws-sso, action: assign_permission_set, target: "PaymentsAdmin", account: "production"}
      - {system: salesforce, action: assign_permission_set, target: "ApproveRefunds"}
"#,
    )
    .unwrap();
    let (code, out, err) = d.run(&["plan"]);
    assert_eq!(code, 4, "{out}{err}");
    for part in [
        "e1002",
        "e1004",
        "Payments admin approves refunds",
        "aws/permission_set/PaymentsAdmin",
        "salesforce/permission_set/ApproveRefunds",
    ] {
        assert!(err.contains(part), "{part} missing: {err}");
    }
    // Recorded in the audit log.
    let (code, jsonl, err) = d.run(&["audit", "export"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        jsonl
            .lines()
            .filter(|l| l.contains("\"sod_refusal\""))
            .count(),
        2,
        "{jsonl}"
    );
    // Nothing was applied: `apply` refuses the same way.
    let (code, _, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 4, "{err}");
}
