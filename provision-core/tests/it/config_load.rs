//! The deployment configuration loads from YAML; every mistake names file, line and
//! field; secrets are only ever referenced, and resolving them never leaks them.

#![allow(clippy::unwrap_used)]

use crate::common;
use provision_core::config::{CredentialError, load_config, parse_config, resolve_credential};
use provision_core::config::{CredentialRef, DependencyTarget, Enforcement};
use provision_core::model::SystemName;
use provision_core::secret::ExposeSecret;

const FILE: &str = "deploy/provision.yaml";

fn errors(text: &str) -> Vec<String> {
    match parse_config(FILE, text) {
        Ok(c) => panic!("expected the configuration to be refused, got {c:?}"),
        Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
    }
}

fn assert_single(text: &str, prefix: &str, needle: &str) {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let prefix = format!("{FILE}:{prefix}");
    assert!(
        errs[0].starts_with(&prefix),
        "`{}` should start with `{prefix}`",
        errs[0]
    );
    assert!(
        errs[0].contains(needle),
        "`{}` should contain `{needle}`",
        errs[0]
    );
}

#[test]
fn a_full_configuration_loads() {
    let c = parse_config(
        FILE,
        r#"systems:
  okta:
    adapter: okta
    enforcement: authoritative
    kind_enforcement: {app: report}
    external_owners:
      - {engine: okta-group-rules, kind: group, resource_prefix: "rule-"}
    rate_limit: {requests: 600, per_seconds: 60, burst: 50}
    concurrency: 8
    delete_leavers: true
    credentials:
      api_token: {env: OKTA_API_TOKEN}
      private_key: {file: /run/secrets/okta.pem}
    settings:
      org_url: https://example.okta.com
  aws:
    adapter: aws
    aliases: [aws-sso]
dependencies:
  - {system: aws-sso, depends_on: okta, on: grants, kind: permission_set}
  - {system: aws, depends_on: okta}
blast_radius: {max_share: 0.2, max_identities: 40}
"#,
    )
    .unwrap();
    let okta = &c.systems[&SystemName::new("okta")];
    assert_eq!(okta.adapter, "okta");
    assert_eq!(okta.enforcement, Enforcement::Authoritative);
    assert_eq!(okta.enforcement_for("app"), Enforcement::Report);
    assert_eq!(
        okta.owner_of("group", "rule-sales"),
        Some("okta-group-rules")
    );
    assert_eq!(okta.rate_limit.unwrap().per_seconds, 60);
    assert_eq!(okta.rate_limit.unwrap().burst, Some(50));
    assert_eq!(okta.concurrency, Some(8));
    assert!(okta.delete_leavers);
    assert_eq!(
        okta.credentials["api_token"],
        CredentialRef::Env {
            env: "OKTA_API_TOKEN".into()
        }
    );
    assert_eq!(okta.settings["org_url"], "https://example.okta.com");
    assert_eq!(c.resolve_system("aws-sso"), Some(&SystemName::new("aws")));
    assert_eq!(c.dependencies.len(), 2);
    assert_eq!(
        c.dependencies[0].system,
        SystemName::new("aws"),
        "aliases resolve"
    );
    assert_eq!(c.dependencies[0].on, DependencyTarget::Grants);
    assert_eq!(
        c.dependencies[1].on,
        DependencyTarget::Account,
        "account is the default"
    );
    assert_eq!(c.blast_radius.max_share, Some(0.2));
    assert_eq!(c.blast_radius.max_identities, Some(40));
    assert_eq!(c.blast_radius.max_operations, None);
}

#[test]
fn unknown_fields_are_refused_with_what_was_expected() {
    let errs =
        errors("systems:\n  okta:\n    adapter: okta\n    enforcment: additive\nblast: {}\n");
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].starts_with(&format!("{FILE}:4:5: systems.okta.enforcment: unknown field `enforcment`; expected one of: adapter, aliases, enforcement")), "{}", errs[0]);
    assert!(errs[1].starts_with(&format!("{FILE}:5:1: blast: unknown field `blast`; expected one of: systems, dependencies, blast_radius")), "{}", errs[1]);
}

#[test]
fn an_extension_section_is_kept_as_written_for_its_crate() {
    // The kernel does not read `roster:` (provision-roster does), but knows its name.
    let c = parse_config(
        FILE,
        "systems:\n  okta: {adapter: okta}\nroster:\n  format: xls\n  colour: blue\n",
    )
    .unwrap();
    let roster = c.extension("roster").expect("the section is kept");
    assert_eq!(roster.file(), FILE);
    assert_eq!(roster.node().line, 4);
    let read = roster.read(|r, node| {
        let mut f = r.fields(node, "roster")?;
        f.get("format");
        f.finish(r, &["format"]);
        Some(())
    });
    let messages: Vec<String> = read
        .unwrap_err()
        .diagnostics()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].starts_with(&format!(
            "{FILE}:5:3: roster.colour: unknown field `colour`"
        )),
        "{}",
        messages[0]
    );
    assert!(c.extension("evidence").is_none());
    assert_single(
        "systems:\n  okta: {adapter: okta}\nrosters: {}\n",
        "3:1: rosters: unknown field `rosters`",
        "roster",
    );
}

#[test]
fn an_alias_colliding_with_a_system_or_another_alias() {
    assert_single(
        "systems:\n  okta:\n    adapter: okta\n  aws:\n    adapter: aws\n    aliases: [okta]\n",
        "6:15: systems.aws.aliases[0]: ",
        &format!("alias `okta` collides with the system `okta` (at {FILE}:2:3)"),
    );
    assert_single(
        "systems:\n  aws:\n    adapter: aws\n    aliases: [sso]\n  okta:\n    adapter: okta\n    aliases: [sso]\n",
        "7:15: systems.okta.aliases[0]: ",
        &format!("alias `sso` is already an alias of `aws` (at {FILE}:4:15)"),
    );
    assert_single(
        "systems:\n  aws:\n    adapter: aws\n    aliases: [okta]\n  okta:\n    adapter: okta\n",
        "5:3: systems.okta: ",
        "system name `okta` is already an alias of `aws`",
    );
}

#[test]
fn a_dependency_on_an_unknown_system() {
    assert_single(
        "systems:\n  okta: {adapter: okta}\ndependencies:\n  - {system: gitlab, depends_on: okta}\n",
        "4:14: dependencies[0].system: ",
        "unknown system `gitlab`; expected one of the configured systems: okta",
    );
    assert_single(
        "systems:\n  okta: {adapter: okta}\ndependencies:\n  - {system: okta, depends_on: okta}\n",
        "4:5: dependencies[0]: ",
        "system `okta` cannot depend on itself",
    );
}

#[test]
fn an_inline_credential_is_refused_without_echoing_it() {
    let errs = errors(
        "systems:\n  okta:\n    adapter: okta\n    credentials:\n      api_token: 00aBcD-sEcReT-vAlUe\n",
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].starts_with(&format!("{FILE}:5:18: systems.okta.credentials.api_token: credential `api_token` is written inline")), "{}", errs[0]);
    assert!(
        errs[0].contains("`{env: VARIABLE_NAME}` or `{file: /path/to/secret}`"),
        "{}",
        errs[0]
    );
    assert!(
        !errs[0].contains("sEcReT"),
        "the secret leaked: {}",
        errs[0]
    );
}

#[test]
fn a_secret_looking_setting_is_refused_without_echoing_it() {
    for key in [
        "api_token",
        "client_secret",
        "password",
        "private-key",
        "apiKey",
        "signingKey",
    ] {
        let text = format!(
            "systems:\n  okta:\n    adapter: okta\n    settings:\n      org_url: https://x.okta.com\n      {key}: hunter2-literal\n"
        );
        let errs = errors(&text);
        assert_eq!(errs.len(), 1, "{key}: {errs:#?}");
        assert!(errs[0].starts_with(&format!("{FILE}:6:")), "{}", errs[0]);
        assert!(
            errs[0].contains(&format!(
                "settings.{key}: setting `{key}` looks like a secret"
            )),
            "{}",
            errs[0]
        );
        assert!(
            errs[0].contains("use") || errs[0].contains("write `{env:"),
            "{}",
            errs[0]
        );
        assert!(
            !errs[0].contains("hunter2"),
            "the secret leaked: {}",
            errs[0]
        );
    }
}

#[test]
fn a_credential_needs_exactly_one_reference() {
    assert_single(
        "systems:\n  okta:\n    adapter: okta\n    credentials:\n      api_token: {env: A, file: /b}\n",
        "5:18: systems.okta.credentials.api_token: ",
        "expected exactly one of `env`",
    );
}

#[test]
fn a_share_outside_zero_to_one_is_refused() {
    assert_single(
        "systems:\n  okta: {adapter: okta}\nblast_radius:\n  max_share: 25\n",
        "4:14: blast_radius.max_share: ",
        "share 25 is outside 0..=1",
    );
    assert_single(
        "systems:\n  okta: {adapter: okta}\nblast_radius: {max_share: -0.1}\n",
        "3:27: blast_radius.max_share: ",
        "outside 0..=1",
    );
}

#[test]
fn wrong_types_and_values_are_named() {
    let errs = errors(
        "systems:\n  okta:\n    adapter: okta\n    enforcement: strict\n    concurrency: many\n    rate_limit: {requests: 0}\n    delete_leavers: yes please\n",
    );
    assert_eq!(
        errs,
        [
            format!(
                "{FILE}:4:18: systems.okta.enforcement: unknown enforcement `strict`; expected `additive`, `authoritative` or `report`"
            ),
            format!(
                "{FILE}:5:18: systems.okta.concurrency: expected a whole number, found a string"
            ),
            format!("{FILE}:6:28: systems.okta.rate_limit.requests: must be at least 1"),
            format!(
                "{FILE}:7:21: systems.okta.delete_leavers: expected true or false, found a string"
            ),
        ]
    );
}

#[test]
fn missing_adapter_and_missing_systems() {
    assert_single(
        "systems:\n  okta:\n    enforcement: additive\n",
        "3:5: systems.okta.adapter: ",
        "missing required field `adapter`",
    );
    assert_single(
        "blast_radius: {}\n",
        "1:1: systems: ",
        "missing required field `systems`",
    );
}

#[test]
fn bad_yaml_is_located() {
    let errs = errors("systems:\n  okta:\n    adapter: okta\n    adapter: aws\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with(&format!("{FILE}:4:")), "{}", errs[0]);
    assert!(errs[0].to_lowercase().contains("duplicate"), "{}", errs[0]);
}

#[test]
fn credentials_resolve_from_env_and_file_and_errors_never_show_the_value() {
    // SAFETY of the process environment: this variable is unique to this test.
    let var = "PROVISION_TEST_CONFIG_LOAD_TOKEN";
    let r = resolve_credential(&CredentialRef::Env { env: var.into() });
    assert!(matches!(&r, Err(CredentialError::EnvMissing { name }) if name == var));
    assert!(r.unwrap_err().to_string().contains(var));

    let dir = std::env::temp_dir().join(format!("provision-cred-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("token");
    std::fs::write(&path, "s3cr3t-value\n").unwrap();
    let secret = resolve_credential(&CredentialRef::File { file: path.clone() }).unwrap();
    assert_eq!(
        secret.expose_secret(),
        "s3cr3t-value",
        "trailing newline removed"
    );
    assert!(
        !format!("{secret:?}").contains("s3cr3t"),
        "Debug must not show the secret"
    );

    std::fs::write(&path, "\n").unwrap();
    let empty = resolve_credential(&CredentialRef::File { file: path.clone() }).unwrap_err();
    assert!(
        empty.to_string().contains(&path.display().to_string()),
        "{empty}"
    );

    let missing = dir.join("absent");
    let e = resolve_credential(&CredentialRef::File {
        file: missing.clone(),
    })
    .unwrap_err();
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_example_deployment_loads() {
    let c = load_config(&common::examples_dir().join("provision.yaml")).unwrap();
    let names: Vec<&str> = c.systems.keys().map(SystemName::as_str).collect();
    assert_eq!(
        names,
        [
            "aws",
            "expenses",
            "gitlab",
            "google",
            "jira",
            "okta",
            "salesforce",
            "slack"
        ]
    );
    assert!(
        c.systems
            .values()
            .all(|s| s.adapter == "sandbox" && s.rate_limit.is_some())
    );
    assert_eq!(c.resolve_system("aws-sso"), Some(&SystemName::new("aws")));
    assert!(c.dependencies.iter().any(|d| d.system.as_str() == "gitlab"
        && d.depends_on.as_str() == "okta"
        && d.on == DependencyTarget::Account));
    assert!(c.blast_radius.max_share.is_some());
}
