//! What a new user meets in the first hour (issue 29): exit codes a CI gate can trust,
//! `--help` that shows every command, the exit codes and examples, unreadable files,
//! `serve`'s own configuration, `drift` that clears and asks before it fixes, `why`
//! worded as policy, a broken pipe, plurals, and the README's walkthrough reproduced
//! from the shipped example deployment.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::process::Stdio;

use crate::support;
use support::Deployment;

const COMMANDS: &[&str] = &[
    "validate",
    "plan",
    "show",
    "apply",
    "simulate",
    "drift",
    "why",
    "access",
    "review",
    "audit",
    "serve",
    "completions",
];

#[test]
fn help_lists_every_command_first_shows_the_exit_codes_and_exits_0() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["--help"]);
    assert_eq!(code, 0, "{err}");
    let first = out.lines().next().unwrap();
    for command in COMMANDS {
        assert!(
            first.contains(command),
            "{command} is not on the first line: {first}"
        );
    }
    assert!(out.contains("EXIT CODES:"), "{out}");
    assert!(out.contains("2  changes pending"), "{out}");
    assert!(
        out.contains("1  error: a mistyped command or flag"),
        "{out}"
    );
    let (code, out, _) = d.run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("provision "), "{out}");
    for command in COMMANDS {
        let (code, out, err) = d.run(&[command, "--help"]);
        assert_eq!(code, 0, "{command}: {err}");
        assert!(
            out.contains("EXAMPLES:\n  provision"),
            "{command} --help: {out}"
        );
    }
}

#[test]
fn a_usage_error_exits_1_never_2() {
    let d = Deployment::new();
    for args in [
        &["plan", "--formt", "json"][..],
        &["plna"],
        &["why"],
        &["apply", "--confirm-blast-radius", "many"],
    ] {
        let (code, _, err) = d.run(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("error:"), "{args:?}: {err}");
    }
}

#[test]
fn markdown_is_refused_where_it_is_not_implemented() {
    let d = Deployment::new();
    for args in [
        &["drift", "--format", "markdown"][..],
        &[
            "why",
            "e1001",
            "okta/group/sales-team",
            "--format",
            "markdown",
        ],
        &["audit", "history", "e1001", "--format", "markdown"],
    ] {
        let (code, out, err) = d.run(args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains("invalid value 'markdown'"), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} printed: {out}");
    }
}

#[test]
fn an_unreadable_file_exits_1_not_3() {
    let d = Deployment::new();
    for args in [
        &["validate", "--config", "missing.yaml"][..],
        &["plan", "--config", "missing.yaml"],
        &["validate", "--roster", "missing-roster.yaml"],
        &["plan", "--roster", "missing-roster.yaml"],
        &["validate", "--policies", "no-such-dir"],
        &["apply", "no-such-plan.json"],
    ] {
        let (code, out, err) = d.run(args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.contains("missing") || err.contains("no-such"),
            "{args:?}: {err}"
        );
    }
    // A wrong file is still invalid (3).
    d.edit("roster.yaml", |t| {
        t.replacen("email: marcus.webb@company.com", "email: \"\"", 1)
    });
    let (code, _, err) = d.run(&["validate"]);
    assert_eq!(code, 3, "{err}");
}

#[test]
fn serve_has_its_own_configuration_and_refuses_the_flags_it_would_ignore() {
    let d = Deployment::new();
    // PROVISION_CONFIG names a deployment: serve does not read it as its configuration.
    let output = d
        .provision()
        .env("PROVISION_CONFIG", "provision.yaml")
        .env("PROVISION_SERVER_CONFIG", "service.yaml")
        .arg("serve")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("service.yaml"), "{err}");
    assert!(!err.contains("provision.yaml:"), "{err}");
    for flag in [
        ["--store", "x.db"],
        ["--roster", "r.yaml"],
        ["--config", "p.yaml"],
    ] {
        let (code, _, err) = d.run(&["serve", flag[0], flag[1]]);
        assert_eq!(code, 1, "{flag:?}: {err}");
        assert!(err.contains(&format!("does not take {}", flag[0])), "{err}");
        assert!(err.contains("--service-config"), "{err}");
    }
}

#[test]
fn a_store_is_created_with_its_folder_and_one_that_cannot_be_opened_is_named() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["plan", "--store", "new/folder/store.db"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(d.path().join("new/folder/store.db").exists());
    // The store's folder would be under a file.
    let (code, _, err) = d.run(&["plan", "--store", "roster.yaml/store.db"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("roster.yaml/store.db"), "{err}");
    // No store at all for the audit commands: named, exit 1.
    let (code, _, err) = d.run(&["audit", "verify", "--store", "nowhere.db"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nowhere.db"), "{err}");
}

#[test]
fn drift_exits_0_when_only_first_sign_ins_are_pending() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    // GitLab creates accounts at first sign-in: those stay pending (info, no fix).
    let (code, out, err) = d.run(&["drift"]);
    assert_eq!(code, 0, "only info findings: {out}{err}");
    assert!(out.contains("0 need action"), "{out}");
    assert!(out.contains("[info]"), "{out}");
    let (code, json, _) = d.run(&["drift", "--format", "json"]);
    assert_eq!(code, 0);
    assert!(json.contains("\"severity\": \"info\""), "{json}");
}

#[test]
fn why_answers_in_words_about_policy_and_says_no_system_was_read() {
    let d = Deployment::new();
    let (code, out, _) = d.run(&["why", "e1001", "okta/group/engineering-team"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("okta/group/engineering-team is given to Sarah Chen (e1001) by:"),
        "{out}"
    );
    assert!(out.contains("(no system was read"), "{out}");
    let (code, out, _) = d.run(&[
        "why",
        "e1001",
        "aws/permission_set/EngineeringSeniorReadOnly",
    ]);
    assert_eq!(code, 2);
    assert!(
        out.starts_with(
            "no policy gives aws/permission_set/EngineeringSeniorReadOnly to Sarah Chen (e1001):"
        ),
        "{out}"
    );
    assert!(!out.contains(" has "), "{out}");
}

#[test]
fn a_closed_pipe_ends_audit_export_quietly() {
    let d = Deployment::new();
    let (code, _, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{err}");
    for format in ["jsonl", "csv"] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("provision"))
            .current_dir(d.path())
            .args(["audit", "export", "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // `| head -0`: the reader is gone before the first line.
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{format}: {err}");
        assert!(err.is_empty(), "{format}: {err}");
    }
}

#[test]
fn the_example_ignores_the_cli_state_folder() {
    let ignore = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/.gitignore"
    ))
    .unwrap();
    assert!(
        ignore.lines().any(|l| l.trim() == ".provision/"),
        "{ignore}"
    );
}

/// The walkthrough of `provision-cli/README.md`, from the deployment as shipped: provision
/// once, move Priya to Sales, plan (one person, her changes), apply, plan again.
#[test]
fn the_readme_walkthrough_reproduces_from_the_shipped_example() {
    let d = Deployment::as_shipped();
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("waiting up to 0 s for 1 pending operation"),
        "{err}"
    );
    assert!(d.path().join(".provision/sandbox/okta.json").exists());
    assert!(d.path().join(".provision/store.db").exists());
    d.edit("roster.yaml", |t| {
        let at = t.find("id: e1003").unwrap();
        let (head, tail) = t.split_at(at);
        format!(
            "{head}{}",
            tail.replacen("department: Engineering", "department: Sales", 1)
        )
    });
    let (code, out, err) = d.run(&["plan", "--out", "plan.json"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("e1003 Priya Natarajan"), "{out}");
    assert!(
        out.contains("+ okta     grant okta/group/sales-team"),
        "{out}"
    );
    assert!(
        out.contains("- okta     revoke okta/group/engineering-team"),
        "{out}"
    );
    // Only Priya changes, apart from the GitLab accounts that wait for a first sign-in.
    let mut person = "";
    for line in out.lines() {
        if line.starts_with('e') && line.contains(" <") {
            person = line;
        } else if line.starts_with("  + ") || line.starts_with("  - ") {
            assert!(
                person.starts_with("e1003 ") || line.contains(" gitlab "),
                "{person}: {line}\n{out}"
            );
        }
    }
    let (code, out, err) = d.run(&["apply", "plan.json"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = d.run(&["plan"]);
    assert!(!out.contains("e1003 Priya"), "{code}: {out}{err}");
}

#[test]
fn counts_read_right_in_the_singular() {
    let d = Deployment::new();
    // A proposed policy that gives the one Sales Engineer (Sarah) one more channel.
    let proposed = d.path().join("proposed");
    std::fs::create_dir_all(&proposed).unwrap();
    for entry in std::fs::read_dir(d.path().join("policies")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), proposed.join(entry.file_name())).unwrap();
    }
    let sales = proposed.join("sales.yaml");
    let text = std::fs::read_to_string(&sales).unwrap();
    std::fs::write(
        &sales,
        format!(
            "{text}\n  - name: \"Sales Engineer channel\"\n    triggers:\n      - title: \"Sales Engineer\"\n    provisions:\n      - {{system: slack, action: invite_to_channel, target: \"#se-only\"}}\n"
        ),
    )
    .unwrap();
    let (code, out, err) = d.run(&["simulate", "--policies", "proposed"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("1 person gains 1 entitlement;"), "{out}");
    assert!(
        !out.contains("1 people") && !out.contains("1 entitlements"),
        "{out}"
    );
    // The pull-request comment keeps the provenance the text form shows.
    let (code, md, _) = d.run(&["simulate", "--policies", "proposed", "--format", "markdown"]);
    assert_eq!(code, 2);
    assert!(md.contains("1 person gains 1 entitlement;"), "{md}");
    assert!(
        md.contains("+ slack/channel/#se-only\n    because policy \"Sales Engineer channel\""),
        "{md}"
    );
}

#[test]
fn validate_refuses_the_settings_plan_would_refuse_without_a_credential() {
    let cases = [
        (
            "  okta-contractors:\n    adapter: okta\n    settings: {org_url: \"http://contractors.okta.com\"}\n    credentials:\n      api_token: {env: NEVER_SET_OKTA_TOKEN}\n",
            "system okta-contractors: setting `org_url`",
            "plain http",
        ),
        (
            "  aws-sandbox:\n    adapter: aws\n    settings: {instance_arn: \"arn:aws:sso:::instance/wrong\", region: eu-west-1}\n",
            "system aws-sandbox: setting `instance_arn`",
            "not 'arn:aws:sso:::instance/wrong'",
        ),
        (
            "  aws-plain:\n    adapter: aws\n    settings: {sso_admin_endpoint: \"http://sso.eu-west-1.amazonaws.com\", region: eu-west-1}\n",
            "system aws-plain: setting `sso_admin_endpoint`",
            "plain http",
        ),
        (
            "  google-plain:\n    adapter: google\n    settings: {base_url: \"http://admin.googleapis.com/\"}\n",
            "system google-plain: setting `base_url`",
            "plain http",
        ),
        (
            "  gitlab-plain:\n    adapter: gitlab\n    settings: {base_url: \"http://gitlab.example.com\", group: acme}\n",
            "system gitlab-plain: setting `base_url`",
            "plain http",
        ),
        (
            "  slack-plain:\n    adapter: slack\n    settings: {api_url: \"http://slack.com/api\"}\n    credentials:\n      bot_token: {env: NEVER_SET_SLACK_TOKEN}\n",
            "system slack-plain: setting `api_url`",
            "plain http",
        ),
        (
            "  jira-plain:\n    adapter: jira\n    settings: {site_url: \"http://acme.atlassian.net\"}\n",
            "system jira-plain: setting `site_url`",
            "plain http",
        ),
        (
            "  sf-plain:\n    adapter: salesforce\n    settings: {login_url: \"https://user:pw@login.salesforce.com\"}\n",
            "system sf-plain: setting `login_url`",
            "user name or password",
        ),
        (
            "  github-plain:\n    adapter: github\n    settings: {api_url: \"http://github.example.com/api/v3\", org: acme}\n",
            "system github-plain: setting `api_url`",
            "plain http",
        ),
    ];
    for (system, setting, why) in cases {
        let d = Deployment::new();
        d.edit("provision.yaml", |t| {
            t.replacen("systems:\n", &format!("systems:\n{system}"), 1)
        });
        let (code, out, err) = d.run(&["validate"]);
        assert_eq!(code, 3, "{out}{err}");
        assert!(err.contains(setting), "{err}");
        assert!(err.contains(why), "{err}");
    }
}

#[test]
fn show_renders_a_saved_plan_again_without_reading_a_system() {
    let d = Deployment::new();
    let (code, planned, err) = d.run(&["plan", "--out", "plan.json"]);
    assert_eq!(code, 2, "{err}");
    let (code, shown, err) = d.run(&["show", "plan.json"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(shown, planned);
    let (code, md, _) = d.run(&["show", "plan.json", "--format", "markdown"]);
    assert_eq!(code, 2);
    assert!(md.starts_with("### provision plan"), "{md}");
}

#[test]
fn access_reads_every_system_and_says_why_each_grant_is_held() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    // A hand-made grant no policy gives.
    d.edit("state/slack.json", |t| {
        t.replacen("\"#sales-engineering\"", "\"#engineering-general\"", 1)
    });
    let (code, out, err) = d.run(&["access", "sarah.chen@company.com"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Sarah Chen (e1001) holds, as read now from every system"),
        "{out}"
    );
    assert!(out.contains("  okta/group/sales-team: given by policy \"Sales (all of Sales)\" (./policies/sales.yaml:9)"), "{out}");
    assert!(
        out.contains("slack/channel/#engineering-general: no policy gives it"),
        "{out}"
    );
    let (code, json, _) = d.run(&["access", "e1001", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["person"], "e1001");
}
