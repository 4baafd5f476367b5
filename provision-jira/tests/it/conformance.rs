//! The shared conformance suite (`provision_testkit::conformance::Suite`) against the
//! stateful fake of a Jira site and its org (`support/mod.rs`), with and without the
//! org API key; a throttled site answers the 429 scenario, something that is no Jira
//! site the misconfiguration scenario. Every request each site received is checked
//! against the trimmed Jira spec.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::future::Future;
use std::pin::Pin;

use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_testkit::conformance::{self, Suite, SuiteReport};
use support::{FakeJira, Hosts, Mode, assert_conform};

fn group(name: &str) -> Entitlement {
    Entitlement::new("jira", "group", name)
}

fn role(project: &str, role: &str) -> Entitlement {
    Entitlement::new("jira", "project_role", project).with_role(role)
}

fn product(key: &str) -> Entitlement {
    Entitlement::new("jira", "product", key)
}

async fn site(mode: Mode) -> Hosts {
    let fake = FakeJira::new();
    for n in 0..4 {
        fake.add_user(&format!("existing{n}@example.com"));
    }
    for name in ["engineering", "ops", "weekend-oncall"] {
        fake.add_group(name);
    }
    fake.add_project("ENG");
    let hosts = Hosts::start(fake).await;
    hosts.fake.set_mode(mode);
    hosts
}

fn hand_made<'a>(fake: &FakeJira) -> conformance::HandMadeGrant<'a> {
    let fake = fake.clone();
    Box::new(move |account: AccountRef| {
        let fake = fake.clone();
        Box::pin(async move {
            let gid = fake.group_id("weekend-oncall");
            fake.add_member(&gid, account.external_id.as_deref().unwrap());
            group("weekend-oncall")
        }) as Pin<Box<dyn Future<Output = Entitlement> + Send + 'a>>
    })
}

async fn run(org: bool, login: &str) -> (SuiteReport, [Hosts; 3]) {
    let main = site(Mode::Normal).await;
    let throttled = site(Mode::Throttled).await;
    let wrong = site(Mode::NotASite).await;
    let build = |h: &Hosts| {
        provision_jira::JiraAdapter::new(
            h.config(org).projects(vec!["ENG".into()]).build().unwrap(),
        )
        .unwrap()
        .with_users_page_size(2)
    };
    let (adapter, t, w) = (build(&main), build(&throttled), build(&wrong));
    let report = Suite::new(
        &adapter,
        vec![
            group("engineering"),
            role("ENG", "Developer"),
            role("ENG", "Administrator"),
            product("jira-software"),
        ],
    )
    .create(conformance::profile(login, "Ada Lovelace"))
    .hand_made(hand_made(&main.fake))
    .min_account_pages(3)
    .misconfigured_with_revokes(&w)
    .throttled(
        &t,
        OperationKind::Grant {
            entitlement: group("engineering"),
        },
    )
    .delete_at_the_end()
    .run()
    .await;
    (report, [main, throttled, wrong])
}

#[tokio::test]
async fn with_the_org_key_the_whole_suite_passes() {
    let (report, hosts) = run(true, "ada@example.com").await;
    assert_eq!(
        report.passed,
        [
            "create_then_found",
            "create_again_adopts",
            "accounts_paginate_to_the_end",
            "list_resources",
            "grant_then_revoke",
            "named_by_the_deployment",
            "read_account_grants_after_revoke_is_empty",
            "suspend_then_state",
            "leaver_left_with_nothing",
            "not_found_means_absent",
            "misconfiguration_is_not_absence",
            "rate_limit_honoured",
            "delete_then_gone",
        ],
        "{report:?}"
    );
    assert!(report.skipped.is_empty(), "{report:?}");
    let ops = assert_conform(&hosts[0].site).await;
    for op in [
        "createUser",
        "getAllUsers",
        "findUsers",
        "removeUser",
        "getUserGroups",
        "addUserToGroup",
        "removeUserFromGroup",
        "getUsersFromGroup",
        "bulkGetGroups",
        "getAllApplicationRoles",
        "getAllProjectRoles",
        "addActorUsers",
        "deleteActor",
        "getProjectRole",
    ] {
        assert!(ops.iter().any(|o| o == op), "{op} never sent: {ops:?}");
    }
    assert!(
        !ops.iter().any(|o| o == "setActors"),
        "the whole-list PUT was sent"
    );
    assert_conform(&hosts[1].site).await;
    assert_conform(&hosts[2].site).await;
    // The org host saw the lifecycle calls and nothing of the site's.
    let org = support::log(&hosts[0].org).await;
    assert!(
        org.iter().any(|l| l.ends_with("/manage/lifecycle/disable")),
        "{org:?}"
    );
    assert!(
        org.iter().any(|l| l.ends_with("/manage/lifecycle/enable")),
        "{org:?}"
    );
    assert!(org.iter().all(|l| l.contains(" /users/")), "{org:?}");
}

#[tokio::test]
async fn without_the_org_key_the_suite_passes_and_suspension_is_skipped() {
    let (report, hosts) = run(false, "bea@example.com").await;
    assert!(
        report.passed.contains(&"leaver_left_with_nothing"),
        "{report:?}"
    );
    assert_eq!(
        report.skipped.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        ["suspend_then_state"],
        "{report:?}"
    );
    assert_conform(&hosts[0].site).await;
    assert!(
        support::log(&hosts[0].org).await.is_empty(),
        "the org host was called without a key"
    );
}
