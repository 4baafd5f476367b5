//! The shared conformance suite (`provision_testkit::conformance::Suite`) against the
//! fake org: create (with the profile the create must carry), pagination, every
//! enumerable kind listed, grant then revoke of a profile, a permission set, a
//! permission set group, a licence and a public group, suspension (deactivation) and
//! reactivation, a leaver left with nothing, an unknown account, a host that is no
//! Salesforce instance, and REQUEST_LIMIT_EXCEEDED.

use std::future::Future;
use std::pin::Pin;

use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_testkit::conformance::{self, Suite};

use crate::support::{FakeSalesforce, Mode, Org};

fn e(kind: &str, name: &str) -> Entitlement {
    Entitlement::new("salesforce", kind, name)
}

async fn org(mode: Mode) -> Org {
    let fake = FakeSalesforce::new();
    for n in 0..4 {
        fake.add_user(&format!("existing{n}@acme.com"), "Standard User");
    }
    fake.add_permission_set("ApproveRefunds");
    fake.add_permission_set("ViewPayroll");
    fake.add_permission_set_group("SalesOps");
    fake.add_licence("SalesConsoleUser");
    fake.add_group("Sales_EMEA");
    fake.add_group("Weekend_Oncall");
    let org = Org::start(fake).await;
    org.fake.set_mode(mode);
    org
}

fn hand_made<'a>(fake: &FakeSalesforce) -> conformance::HandMadeGrant<'a> {
    let fake = fake.clone();
    Box::new(move |account: AccountRef| {
        let fake = fake.clone();
        Box::pin(async move {
            fake.assign_set(account.external_id.as_deref().unwrap(), "ViewPayroll");
            e("permission_set", "ViewPayroll")
        }) as Pin<Box<dyn Future<Output = Entitlement> + Send + 'a>>
    })
}

#[tokio::test]
async fn the_whole_suite_passes() {
    let main = org(Mode::Normal).await;
    let throttled = org(Mode::DailyLimit).await;
    let wrong = org(Mode::NotAnInstance).await;
    let (adapter, t, w) = (main.adapter(), throttled.adapter(), wrong.adapter());
    let profile = conformance::profile("ada@acme.com", "Ada Lovelace")
        .with_required_grant(e("profile", "Sales User"));
    let report = Suite::new(
        &adapter,
        vec![
            e("permission_set", "ApproveRefunds"),
            e("permission_set_group", "SalesOps"),
            e("permission_set_license", "SalesConsoleUser"),
            e("group", "Sales_EMEA"),
        ],
    )
    .create(profile)
    .hand_made(hand_made(&main.fake))
    .min_account_pages(3)
    .misconfigured_with_revokes(&w)
    .throttled(
        &t,
        OperationKind::Grant {
            entitlement: e("group", "Sales_EMEA"),
        },
    )
    .run()
    .await;
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
        ],
        "{report:?}"
    );
    assert_eq!(
        report.skipped.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        ["delete_then_gone"],
        "Salesforce users are never deleted"
    );
    // The user was created with the profile the create carried.
    let ada = main.fake.user("ada@acme.com");
    assert_eq!(ada.body["ProfileId"], main.fake.profile_id("Sales User"));
}

/// The profile is one per account and not enumerable (a person's grants never list
/// it, so a leaver is never asked to give it back), so the suite's leaver scenario
/// leaves it out; its grant and revoke (a move to the fallback profile) still pass
/// the shared scenario.
#[tokio::test]
async fn a_profile_grants_and_revokes_through_the_fallback() {
    let main = org(Mode::Normal).await;
    let adapter = main.adapter();
    let profile = conformance::profile("ada@acme.com", "Ada Lovelace")
        .with_required_grant(e("profile", "Sales User"));
    let account = conformance::create_then_found(&adapter, profile).await;
    conformance::grant_then_revoke(&adapter, &account, &e("profile", "Sales Engineer")).await;
    assert_eq!(
        main.fake.user("ada@acme.com").profile_id,
        main.fake.profile_id("Minimum Access - Salesforce"),
        "revoking a profile moves the user to the fallback profile"
    );
}
