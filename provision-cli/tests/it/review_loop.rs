//! The quarterly review as a person runs it, end to end through the `provision`
//! binary over the example deployment: one stored campaign is opened, a manager's
//! list exported as CSV, filled in a spreadsheet and imported, the campaign closed;
//! each revoke runs through the executor and lands in the audit log.

use crate::support;
use support::{Deployment, campaign_id};

/// Fills the `decision` and `reason` cells of the rows of `csv` whose text contains
/// a key of `fill`; other rows stay undecided.
fn fill(csv: &str, fill: &[(&str, &str, &str)]) -> String {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let decision = headers.iter().position(|h| h == "decision").unwrap();
    let reason = headers.iter().position(|h| h == "reason").unwrap();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).unwrap();
    for record in reader.records() {
        let mut row: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        let line = row.join(",");
        if let Some((_, d, r)) = fill.iter().find(|(key, _, _)| line.contains(key)) {
            row[decision] = (*d).to_owned();
            row[reason] = (*r).to_owned();
        }
        w.write_record(&row).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// The item id of the row of `csv` containing `key`.
fn item_of(csv: &str, key: &str) -> String {
    csv.lines()
        .find(|l| l.contains(key))
        .and_then(|l| l.split(',').next())
        .unwrap_or_else(|| panic!("no row with {key} in {csv}"))
        .to_owned()
}

/// Audit records (JSON lines) of the campaign's executed operations.
fn executed(d: &Deployment, campaign: &str) -> Vec<serde_json::Value> {
    let (code, jsonl, err) = d.run(&["audit", "export"]);
    assert_eq!(code, 0, "{err}");
    jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| {
            r["event"]["reason"]["event"].as_str() == Some(&format!("access-review:{campaign}"))
        })
        .collect()
}

#[test]
fn a_filled_csv_round_trips_from_open_through_export_decide_and_close_with_the_revoke_executed() {
    let d = Deployment::new();
    // Slack's owner reviews what nobody's manager can: Dana, who has no manager.
    d.edit("provision.yaml", |t| {
        t + "\ngovernance:\n  owners:\n    - {system: slack, owner: e1005}\n"
    });
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    // Behind the SDK's back: every #sales member is moved to #engineering-general
    // (Sarah and Lee, managed by Dana, and Dana herself); Tom leaves but his Slack
    // account stays active; Lee's name in HR became a spreadsheet formula.
    d.edit("state/slack.json", |t| {
        t.replace("\"#sales\"", "\"#engineering-general\"")
    });
    d.edit("roster.yaml", |t| {
        t.replace(
            "email: tom.keller@company.com\n",
            "email: tom.keller@company.com\n    status: terminated\n    effective: 2026-01-05T09:00:00Z\n",
        )
        .replace("Lee Park", "\"=HYPERLINK(\\\"http://x.invalid\\\",\\\"Lee\\\")\"")
    });

    let (code, out, err) = d.run(&[
        "review",
        "open",
        "--name",
        "Q1 2027",
        "--system",
        "slack",
        "--no-response",
        "revoke",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    let id = campaign_id(&out);
    assert!(out.contains("e1005") && out.contains("e1007"), "{out}");
    let decide = || {
        d.run(&[
            "review",
            "decide",
            &id,
            "--reviewer",
            "e1005",
            "--from",
            "dana.csv",
        ])
    };

    // Dana's list: the three hand-made channels, the formula neutralised.
    let path = d.path().join("dana.csv");
    let (code, out, err) = d.run(&[
        "review",
        "export",
        &id,
        "--reviewer",
        "dana.ortiz@company.com",
        "--format",
        "csv",
        "-o",
        "dana.csv",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    let csv = std::fs::read_to_string(&path).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("'=HYPERLINK"), "formula cells are text: {csv}");
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");
    let tom_item = {
        let (_, aisha, _) = d.run(&[
            "review",
            "export",
            &id,
            "--reviewer",
            "e1007",
            "--format",
            "csv",
        ]);
        item_of(&aisha, "tom.keller@company.com")
    };

    // Filled in a spreadsheet: keep Sarah's, revoke Lee's, keep her own; plus a row of
    // Aisha's item and a row naming no item.
    let mut filled = fill(
        &csv,
        &[
            (
                "sarah.chen",
                "keep",
                "shadowing the platform team this quarter",
            ),
            ("HYPERLINK", "Revoke", "not in Engineering"),
            ("dana.ortiz", "keep", "I need it"),
        ],
    );
    filled.push_str(&format!(
        "{tom_item},terminated_active,,,,,,,,,,revoke,left\n"
    ));
    filled.push_str("i-9999,stale,,,,,,,,,,revoke,typo\n");
    std::fs::write(&path, &filled).unwrap();
    let (code, out, err) = decide();
    assert_eq!(code, 4, "the file is refused whole: {out}{err}");
    let dana_row = 1 + csv.lines().position(|l| l.contains("dana.ortiz")).unwrap();
    let dana_item = item_of(&csv, "dana.ortiz");
    for row in [
        &format!(
            "row {dana_row} (item {dana_item}): item {dana_item} is about e1005's own access: nobody certifies their own access"
        ),
        &format!("row 5 (item {tom_item}): item {tom_item} is reviewed by e1007, not e1005"),
        "row 6 (item i-9999): campaign",
    ] {
        assert!(err.contains(row), "{row} missing: {err}");
    }
    let (code, out, _) = d.run(&["review", "status", &id]);
    assert_eq!(code, 2);
    assert!(out.contains("0 of 4 decided"), "nothing recorded: {out}");

    // The good rows only: recorded, the revoke executed at once.
    let good = fill(
        &csv,
        &[
            (
                "sarah.chen",
                "keep",
                "shadowing the platform team this quarter",
            ),
            ("HYPERLINK", "Revoke", "not in Engineering"),
        ],
    );
    std::fs::write(&path, &good).unwrap();
    let (code, out, err) = decide();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 decisions by e1005"), "{out}");
    assert!(out.contains("e1005 has 1 item still undecided"), "{out}");
    let revoked = executed(&d, &id);
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["event"]["identity"], "e1006");
    assert_eq!(revoked[0]["event"]["action"], "revoke");
    assert_eq!(revoked[0]["event"]["outcome"]["outcome"], "changed");
    assert!(
        revoked[0]["event"]["reason"]["detail"]
            .as_str()
            .unwrap()
            .contains("revoke decided by e1005: not in Engineering"),
        "{revoked:?}"
    );
    // The keep is an exception until the campaign's expiry, recorded in the audit log.
    let (_, jsonl, _) = d.run(&["audit", "export"]);
    assert!(
        jsonl.lines().any(|l| l.contains("review_decision")
            && l.contains("\"identity\":\"e1001\"")
            && l.contains("keep until")),
        "{jsonl}"
    );
    assert!(
        jsonl.lines().any(|l| l.contains("review_decision")
            && l.contains("dana.csv imported by provision-cli:ci")),
        "how the decision came is recorded: {jsonl}"
    );

    // The same file again: a second decision, refused naming the rows.
    let (code, _, err) = decide();
    assert_eq!(code, 4, "{err}");
    let sarah_row = 1 + csv.lines().position(|l| l.contains("sarah.chen")).unwrap();
    let sarah_item = item_of(&csv, "sarah.chen");
    assert!(
        err.contains(&format!(
            "row {sarah_row} (item {sarah_item}): item {sarah_item} of campaign {id} is decided already: e1005 decided it"
        )),
        "{err}"
    );

    // Aisha never answers; the campaign closes with its rule: revoke.
    let (code, out, err) = d.run(&["review", "close", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("2 items undecided, no-response rule revoke"),
        "{out}"
    );
    let done = executed(&d, &id);
    let tom: Vec<&serde_json::Value> = done
        .iter()
        .filter(|r| r["event"]["identity"] == "e1004")
        .collect();
    let actions: Vec<&str> = tom
        .iter()
        .map(|r| r["event"]["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"suspend_account"), "{done:?}");
    assert!(
        tom.iter()
            .all(|r| r["event"]["outcome"]["outcome"] == "changed"),
        "{tom:?}"
    );
    assert_eq!(
        done.iter()
            .filter(|r| r["event"]["identity"] == "e1006")
            .count(),
        1,
        "Lee's revoke is not run again at close: {done:?}"
    );
    let (code, out, _) = d.run(&["review", "status", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("4 of 4 decided") && out.contains("closed"),
        "{out}"
    );
    let (code, _, err) = decide();
    assert_eq!(code, 4);
    assert!(err.contains("takes no more decisions"), "{err}");
    let (code, _, err) = d.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{err}");
}
