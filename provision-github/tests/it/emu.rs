//! An Enterprise Managed Users enterprise against the fake's GitHub SCIM endpoints
//! (`/scim/v2/enterprises/{enterprise}/Users`): the shared suite through its one
//! entry point (create, adopt, suspend, rehire, delete), a suspended user whose name
//! GitHub obfuscated still found for the rehire, and every request checked against
//! GitHub's description.

use provision_core::adapter::Adapter;
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_testkit::conformance::{self, Suite};

use crate::support::{FakeGithub, Mode, assert_conform, emu_adapter, start};

#[tokio::test]
async fn an_emu_enterprise_runs_the_whole_suite() {
    let fake = FakeGithub::new(2);
    fake.add_team("platform", false);
    let server = start(&fake).await;
    let throttled_fake = FakeGithub::new(2);
    let throttled_server = start(&throttled_fake).await;
    throttled_fake.set_mode(Mode::PrimaryLimit);
    let a = emu_adapter(&server, true);
    let throttled = emu_adapter(&throttled_server, true);
    // Others, so accounts come in several pages.
    for n in 0..3 {
        conformance::run(
            &a,
            &AccountRef::by_login(format!("p{n}@acme.com")),
            OperationKind::CreateAccount {
                profile: conformance::profile(&format!("p{n}@acme.com"), "Some One"),
            },
        )
        .await
        .unwrap();
    }
    let team = Entitlement::new("github", "team", "platform").with_role("maintainer");
    let report = Suite::new(&a, vec![team.clone()])
        .create(conformance::profile("ada@acme.com", "Ada Lovelace"))
        .throttled(&throttled, OperationKind::Grant { entitlement: team })
        .min_account_pages(2)
        .delete_at_the_end()
        .run()
        .await;
    println!(
        "emu suite: passed {:?}, skipped {:?}",
        report.passed, report.skipped
    );
    for name in [
        "create_then_found",
        "create_again_adopts",
        "accounts_paginate_to_the_end",
        "grant_then_revoke",
        "suspend_then_state",
        "not_found_means_absent",
        "rate_limit_honoured",
        "delete_then_gone",
    ] {
        assert!(report.passed.contains(&name), "{name}: {report:?}");
    }
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_suspended_user_whose_name_github_obfuscated_is_found_for_the_rehire() {
    let fake = FakeGithub::new(100);
    fake.state.lock().unwrap().obfuscate_on_suspend = true;
    let server = start(&fake).await;
    let a = emu_adapter(&server, false);
    let ada = AccountRef::by_login("ada@acme.com");
    conformance::run(
        &a,
        &ada,
        OperationKind::CreateAccount {
            profile: conformance::profile("ada@acme.com", "Ada Lovelace"),
        },
    )
    .await
    .unwrap();
    conformance::run(&a, &ada, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert!(
        fake.state.lock().unwrap().scim[0]
            .1
            .starts_with("obfuscated"),
        "the fake obfuscated the name"
    );
    conformance::run(&a, &ada, OperationKind::ReactivateAccount)
        .await
        .unwrap();
    assert!(fake.state.lock().unwrap().scim[0].3, "active again");
    // Deletion is not even declared without delete_leavers.
    assert!(!a.descriptor().can_delete);
    let e = a
        .execute(
            &conformance::operation(&a, "ada@acme.com", OperationKind::DeleteAccount),
            &ada,
        )
        .await
        .unwrap_err();
    assert_eq!(e.class(), "unsupported");
    assert_eq!(fake.state.lock().unwrap().scim.len(), 1, "nothing deleted");
    assert_conform(&server).await;
}
