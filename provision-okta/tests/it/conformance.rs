//! The shared conformance suite (`provision_testkit::conformance::Suite`), through its
//! one entry point, against the stateful fake of an Okta org (`support/mod.rs`): a
//! second fake over its rate limit answers the 429 scenario, a third that is no Okta
//! org at all answers the misconfiguration scenario. Every request each fake
//! received is checked against the Okta spec (the trimmed spec and its supplement).
#![allow(clippy::unwrap_used)]

use crate::support;
use std::future::Future;
use std::pin::Pin;

use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_okta::config::LeaverAction;
use provision_okta::{OktaAdapter, OktaConfig};
use provision_testkit::conformance::{self, Suite, SuiteReport};
use support::{FakeOkta, Mode, assert_conform, config, start};
use wiremock::MockServer;

/// The configured app the suite grants; its id in the org.
const GITHUB: &str = "0oaGITHUB";

/// An org with four people already in it, paged two to a page.
struct Org {
    server: MockServer,
    fake: FakeOkta,
}

impl Org {
    async fn start(mode: Mode) -> Self {
        let fake = FakeOkta::new(2);
        for n in 0..4 {
            let login = format!("existing{n}@example.com");
            fake.add_user(&login, &login, "ACTIVE");
        }
        fake.add_group("Everyone", "BUILT_IN");
        for name in ["engineering", "ops", "weekend-oncall", "finance"] {
            fake.add_group(name, "OKTA_GROUP");
        }
        fake.add_app(GITHUB, "GitHub");
        fake.add_app("0oaWIKI", "Wiki");
        let server = start(&fake).await;
        fake.set_mode(mode);
        Self { server, fake }
    }

    fn adapter(&self, leaver_action: LeaverAction) -> OktaAdapter {
        let built: OktaConfig = config(&self.server)
            .app("github", GITHUB)
            .leaver_action(leaver_action)
            .build()
            .unwrap();
        OktaAdapter::new(built).unwrap()
    }
}

fn group(name: &str) -> Entitlement {
    Entitlement::new("okta", "group", name)
}

fn app(name: &str) -> Entitlement {
    Entitlement::new("okta", "app", name)
}

/// The hand-made grant: an admin put the person straight into `weekend-oncall`, a
/// group no policy names.
fn hand_made_membership<'a>(fake: &FakeOkta) -> conformance::HandMadeGrant<'a> {
    let fake = fake.clone();
    Box::new(move |account: AccountRef| {
        let fake = fake.clone();
        Box::pin(async move {
            let gid = fake.group_id("weekend-oncall").unwrap();
            fake.add_member(&gid, account.external_id.as_deref().unwrap());
            group("weekend-oncall")
        }) as Pin<Box<dyn Future<Output = Entitlement> + Send + 'a>>
    })
}

/// Runs the whole suite with every option that applies to Okta, the leaver action
/// being `leaver_action`; returns the report and the orgs (main, throttled, not an org).
async fn run_suite(leaver_action: LeaverAction, login: &str) -> (SuiteReport, [Org; 3]) {
    let org = Org::start(Mode::Org).await;
    let throttled_org = Org::start(Mode::Throttled).await;
    let not_an_org = Org::start(Mode::NotAnOrg).await;
    let adapter = org.adapter(leaver_action);
    let throttled = throttled_org.adapter(leaver_action);
    let wrong = not_an_org.adapter(leaver_action);
    let report = Suite::new(
        &adapter,
        vec![group("engineering"), group("ops"), app("github")],
    )
    .create(conformance::profile(login, "Ada Lovelace"))
    .hand_made(hand_made_membership(&org.fake))
    // five people two to a page
    .min_account_pages(3)
    // Okta's revokes go to the org URL too: a wrong one must never pass as
    // "already absent".
    .misconfigured_with_revokes(&wrong)
    .throttled(
        &throttled,
        OperationKind::Grant {
            entitlement: group("engineering"),
        },
    )
    // Okta can always delete (deactivate, then delete).
    .delete_at_the_end()
    .run()
    .await;
    (report, [org, throttled_org, not_an_org])
}

/// Every scenario of the suite (in the order it runs them).
const ALL: [&str; 13] = [
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
];

/// Every request each org received is an operation of the Okta spec; returns the
/// operations the main org was sent.
async fn conform(orgs: &[Org; 3]) -> Vec<String> {
    let [org, throttled, not_an_org] = orgs;
    let sent = assert_conform(&throttled.server).await;
    assert!(!sent.is_empty(), "the throttled org was never asked");
    let sent = assert_conform(&not_an_org.server).await;
    assert!(!sent.is_empty(), "the wrong org was never asked");
    assert_conform(&org.server).await
}

// Okta can do everything the suite asks (accounts of its own, suspension, deletion,
// enumerable groups and apps, a read of what a person holds, Okta's own 404 for what
// is absent, 429s with a reset time), and every option is given: nothing is skipped.
#[tokio::test]
async fn the_whole_shared_suite_passes_against_the_fake_org() {
    let login = "ada@example.com";
    let (report, orgs) = run_suite(LeaverAction::Suspend, login).await;
    assert_eq!(report.passed, ALL, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");

    let ops = conform(&orgs).await;
    for op in [
        "createUser",
        "listUsers",
        "suspendUser",
        "unsuspendUser",
        "deleteUser",
        "listGroups",
        "listApplications",
        "assignUserToGroup",
        "unassignUserFromGroup",
        "listGroupUsers",
        "assignUserToApplication",
        "unassignUserFromApplication",
        "listApplicationUsers",
        "listUserGroups",
        "listAppLinks",
    ] {
        assert!(ops.iter().any(|o| o == op), "{op} never sent: {ops:?}");
    }
    // What the org holds at the end: the person is gone, and nothing of theirs is
    // left behind (the hand-made membership was revoked before the delete).
    let org = &orgs[0];
    let state = org.fake.state.lock().unwrap();
    assert!(
        !state
            .users
            .iter()
            .any(|u| u.profile["login"].as_str() == Some(login)),
        "{login} is still in the org"
    );
    assert!(state.members.is_empty(), "{:?}", state.members);
    assert!(state.app_users.is_empty(), "{:?}", state.app_users);
    assert_eq!(state.users.len(), 4, "the others are untouched");
}

#[tokio::test]
async fn with_leavers_deactivated_the_whole_suite_still_passes() {
    // `leaver_action = deactivate`: a suspension is a deactivation (the user reads as
    // DEPROVISIONED, which the suite accepts as suspended) and a reactivation is an
    // `activate`. The descriptor still declares suspension (without keeping grants),
    // so nothing is skipped here either.
    let (report, orgs) = run_suite(LeaverAction::Deactivate, "bea@example.com").await;
    assert_eq!(report.passed, ALL, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    let ops = conform(&orgs).await;
    for op in ["deactivateUser", "activateUser"] {
        assert!(ops.iter().any(|o| o == op), "{op} never sent: {ops:?}");
    }
    assert!(!ops.iter().any(|o| o == "suspendUser"), "{ops:?}");
}

#[tokio::test]
async fn revoking_from_a_login_no_okta_user_has_is_already_done() {
    // The suite's `not_found_means_absent` found this: the revoke resolved the login,
    // found nobody, and failed with NotFound instead of succeeding as already done.
    let org = Org::start(Mode::Org).await;
    let adapter = org.adapter(LeaverAction::Suspend);
    let nobody = AccountRef::by_login("nobody@example.com");
    for entitlement in [group("engineering"), app("github")] {
        let effect = conformance::run(&adapter, &nobody, OperationKind::Revoke { entitlement })
            .await
            .unwrap();
        assert_eq!(effect, provision_core::adapter::Effect::AlreadyInPlace);
    }
    // Nothing was removed: only the look-ups of the login were sent.
    let sent = support::log(&org.server).await;
    assert!(sent.iter().all(|r| r.starts_with("GET ")), "{sent:?}");
    // A grant to nobody is still an error (there is no one to grant to).
    let err = conformance::run(
        &adapter,
        &nobody,
        OperationKind::Grant {
            entitlement: group("engineering"),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, provision_core::adapter::AdapterError::NotFound { .. }),
        "{err:?}"
    );
    assert_conform(&org.server).await;
}
