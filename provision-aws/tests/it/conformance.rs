//! The shared conformance suite (`provision_testkit::conformance::Suite`), all of it,
//! against a stateful wiremock fake of IAM Identity Center (`support/fake.rs`), plus
//! the reads that see everything and what `NotFound` means, scenario by scenario.
//! The same suite runs against moto in `moto.rs`.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::future::Future;
use std::pin::Pin;

use provision_aws::{AwsAdapter, AwsConfig, StaticCredentials};
use provision_core::adapter::{
    Adapter, AdapterError, Effect, list_all_resources, read_all_account_grants,
};
use provision_core::model::{AccountRef, Entitlement, OperationKind, SystemName};
use provision_testkit::conformance::{self, Suite};
use support::fake::AwsFake;
use support::*;
use wiremock::MockServer;

const WRONG_INSTANCE: &str = "arn:aws:sso:::instance/ssoins-0000000000000000";
const WRONG_STORE: &str = "d-0000000000";

fn adapter_for(server: &MockServer, instance: &str, store: &str) -> AwsAdapter {
    let config = AwsConfig::builder()
        .region("us-east-1")
        .credentials(StaticCredentials::new("AKIDTEST", SECRET, None))
        .endpoint(server.uri().parse().unwrap())
        .instance(instance, store)
        .account("production", PROD)
        .delete_leavers(true)
        .build()
        .unwrap();
    AwsAdapter::new(config).unwrap()
}

/// A store with a few users (so accounts take several pages), groups and permission sets.
async fn seeded(page_size: usize) -> (MockServer, AwsFake) {
    let server = MockServer::start().await;
    let fake = AwsFake::new(page_size);
    for n in 0..4 {
        fake.add_user(&format!("existing{n}@example.com"));
    }
    for g in ["Engineering", "Finance", "Legal", "Sales"] {
        fake.add_group(g);
    }
    fake.add_permission_set("EngineeringReadOnly");
    fake.add_permission_set("Billing");
    fake.add_permission_set("Audit");
    fake.mount(&server).await;
    (server, fake)
}

fn hand_made_finance<'a>(fake: &AwsFake) -> conformance::HandMadeGrant<'a> {
    let fake = fake.clone();
    Box::new(move |account: AccountRef| {
        let fake = fake.clone();
        Box::pin(async move {
            // straight in the store, on a group no policy names
            let user = account.external_id.clone().unwrap();
            let group = fake_group_id(&fake, "Finance");
            fake.add_membership(&group, &user);
            Entitlement::new("aws", "group", "Finance")
        }) as Pin<Box<dyn Future<Output = Entitlement> + Send + 'a>>
    })
}

fn fake_group_id(fake: &AwsFake, name: &str) -> String {
    // groups are added in order g-00000005.. by `seeded`; look the name up instead
    let server_side = fake.clone();
    let mut id = None;
    for n in 0..100 {
        let candidate = format!("g-{n:08}");
        if server_side.group_name(&candidate).as_deref() == Some(name) {
            id = Some(candidate);
            break;
        }
    }
    id.unwrap_or_else(|| panic!("no group {name} in the fake"))
}

fn entitlements() -> Vec<Entitlement> {
    vec![
        Entitlement::new("aws", "group", "Engineering"),
        ps_entitlement("EngineeringReadOnly", "account:production"),
    ]
}

#[tokio::test]
async fn the_whole_shared_suite_passes_against_the_fake() {
    let (server, fake) = seeded(2).await;
    let adapter = adapter_for(&server, INSTANCE, STORE);
    let wrong = adapter_for(&server, WRONG_INSTANCE, WRONG_STORE);
    let (throttled_server, throttled_fake) = seeded(2).await;
    throttled_fake.throttle();
    let throttled = adapter_for(&throttled_server, INSTANCE, STORE);

    let report = Suite::new(&adapter, entitlements())
        .create(conformance::profile("ada@example.com", "Ada Lovelace"))
        .hand_made(hand_made_finance(&fake))
        .min_account_pages(3)
        .misconfigured_with_revokes(&wrong)
        .throttled(
            &throttled,
            OperationKind::Grant {
                entitlement: Entitlement::new("aws", "group", "Engineering"),
            },
        )
        .delete_at_the_end()
        .run()
        .await;
    for scenario in [
        "create_then_found",
        "create_again_adopts",
        "accounts_paginate_to_the_end",
        "list_resources",
        "grant_then_revoke",
        "read_account_grants_after_revoke_is_empty",
        "leaver_left_with_nothing",
        "not_found_means_absent",
        "misconfiguration_is_not_absence",
        "rate_limit_honoured",
        "delete_then_gone",
    ] {
        assert!(
            report.passed.contains(&scenario),
            "{scenario} did not run: {report:?}"
        );
    }
    // Identity Center cannot suspend: the one scenario skipped.
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    let ops = assert_conform(&server).await;
    for op in [
        "ListGroupMembershipsForMember",
        "ListAccountAssignmentsForPrincipal",
        "ListGroups",
        "ListPermissionSets",
    ] {
        assert!(ops.iter().any(|o| o == op), "{op} never sent");
    }
    assert_conform(&throttled_server).await;
}

#[tokio::test]
async fn a_leaver_reads_memberships_and_assignments_and_is_left_with_nothing() {
    let (server, fake) = seeded(1).await;
    let adapter = adapter_for(&server, INSTANCE, STORE);
    let system = SystemName::new("aws");
    let user = fake.add_user("leaver@example.com");
    let account = AccountRef {
        login: "leaver@example.com".into(),
        external_id: Some(user.clone()),
    };
    for e in entitlements()
        .into_iter()
        .chain([ps_entitlement("Billing", "account:444455556666")])
    {
        conformance::run(&adapter, &account, OperationKind::Grant { entitlement: e })
            .await
            .unwrap();
    }
    // two hand-made memberships, on groups no policy names
    fake.add_membership(&fake_group_id(&fake, "Legal"), &user);
    fake.add_membership(&fake_group_id(&fake, "Sales"), &user);

    let held = read_all_account_grants(&adapter, &system, &account)
        .await
        .unwrap();
    let mut names: Vec<String> = held.iter().map(|g| g.entitlement.to_string()).collect();
    names.sort();
    let mut expected: Vec<String> = [
        Entitlement::new("aws", "group", "Engineering"),
        Entitlement::new("aws", "group", "Legal"),
        Entitlement::new("aws", "group", "Sales"),
        // a configured account reads back under its name, others by id
        ps_entitlement("EngineeringReadOnly", "account:production"),
        ps_entitlement("Billing", "account:444455556666"),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    expected.sort();
    assert_eq!(names, expected);
    assert!(held.iter().all(|g| g.account_external_id == user));

    for g in &held {
        let effect = conformance::run(
            &adapter,
            &account,
            OperationKind::Revoke {
                entitlement: g.entitlement.clone(),
            },
        )
        .await
        .unwrap();
        assert_eq!(effect, Effect::Changed, "{}", g.entitlement);
    }
    assert!(
        read_all_account_grants(&adapter, &system, &account)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(fake.holdings(&user), (vec![], vec![]));

    // every read went page by page at the largest size AWS allows
    for target in [
        "AWSIdentityStore.ListGroupMembershipsForMember",
        "SWBExternalService.ListAccountAssignmentsForPrincipal",
    ] {
        let bodies = bodies(&server, target).await;
        assert!(bodies.len() >= 3, "{target}: {} pages", bodies.len());
        assert!(bodies.iter().all(|b| b["MaxResults"] == 100), "{target}");
        assert!(
            bodies.iter().skip(1).any(|b| b["NextToken"].is_string()),
            "{target}"
        );
    }
    let principal = &bodies(
        &server,
        "SWBExternalService.ListAccountAssignmentsForPrincipal",
    )
    .await[0];
    assert_eq!(principal["PrincipalType"], "USER");
    assert_eq!(principal["PrincipalId"], user.as_str());
    assert_conform(&server).await;
}

#[tokio::test]
async fn groups_and_permission_sets_are_listed_to_the_last_page() {
    let (server, _fake) = seeded(1).await;
    let adapter = adapter_for(&server, INSTANCE, STORE);
    let system = SystemName::new("aws");
    let groups = list_all_resources(&adapter, &system, "group")
        .await
        .unwrap();
    let mut names: Vec<&str> = groups.iter().map(|r| r.resource.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Engineering", "Finance", "Legal", "Sales"]);
    assert!(groups.iter().all(|g| {
        g.external_id
            .as_deref()
            .is_some_and(|i| i.starts_with("g-"))
    }));
    let sets = list_all_resources(&adapter, &system, "permission_set")
        .await
        .unwrap();
    let mut names: Vec<&str> = sets.iter().map(|r| r.resource.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Audit", "Billing", "EngineeringReadOnly"]);
    assert!(sets.iter().all(|s| {
        s.external_id
            .as_deref()
            .is_some_and(|a| a.starts_with("arn:aws:sso:::permissionSet/"))
    }));
    assert_eq!(
        bodies(&server, "AWSIdentityStore.ListGroups").await.len(),
        4
    );
    assert_eq!(
        bodies(&server, "SWBExternalService.ListPermissionSets")
            .await
            .len(),
        3
    );
    let e = adapter.list_resources("account", None).await.unwrap_err();
    assert_eq!(e.class(), "invalid");

    let d = adapter.descriptor();
    assert!(d.kind("group").unwrap().enumerable);
    assert!(d.kind("permission_set").unwrap().enumerable);
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_missing_user_is_absent_but_a_wrong_store_or_instance_is_configuration() {
    let (server, fake) = seeded(10).await;
    let user = fake.add_user("sarah@example.com");
    let sarah = AccountRef {
        login: "sarah@example.com".into(),
        external_id: Some(user.clone()),
    };
    let adapter = adapter_for(&server, INSTANCE, STORE);
    let group = Entitlement::new("aws", "group", "Engineering");
    conformance::run(
        &adapter,
        &sarah,
        OperationKind::Grant {
            entitlement: group.clone(),
        },
    )
    .await
    .unwrap();

    // the wrong identity store: never "already absent", the membership stays
    let wrong_store = adapter_for(&server, INSTANCE, WRONG_STORE);
    let op = conformance::operation(
        &wrong_store,
        "sarah@example.com",
        OperationKind::Revoke {
            entitlement: group.clone(),
        },
    );
    let e = wrong_store.execute(&op, &sarah).await.unwrap_err();
    assert!(matches!(e, AdapterError::Configuration { .. }), "{e:?}");
    assert!(e.to_string().contains("identity_store_id"), "{e}");
    let e = wrong_store
        .execute(
            &conformance::operation(
                &wrong_store,
                "sarah@example.com",
                OperationKind::DeleteAccount,
            ),
            &sarah,
        )
        .await;
    // delete is not enabled on this adapter? it is: the store answers, not the switch
    assert!(
        matches!(e, Err(AdapterError::Configuration { .. })),
        "{e:?}"
    );
    let e = wrong_store
        .read_account_grants(&sarah, None)
        .await
        .unwrap_err();
    assert_eq!(e.class(), "configuration", "{e}");
    assert_eq!(fake.holdings(&user).0, vec!["Engineering".to_owned()]);

    // the wrong instance: the same for an assignment
    let wrong_instance = adapter_for(&server, WRONG_INSTANCE, STORE);
    let ps = ps_entitlement("EngineeringReadOnly", "account:production");
    let op = conformance::operation(
        &wrong_instance,
        "sarah@example.com",
        OperationKind::Revoke {
            entitlement: ps.clone(),
        },
    );
    let e = wrong_instance.execute(&op, &sarah).await.unwrap_err();
    assert!(matches!(e, AdapterError::Configuration { .. }), "{e:?}");
    assert!(e.to_string().contains("instance_arn"), "{e}");
    let e = wrong_instance
        .list_resources("permission_set", None)
        .await
        .unwrap_err();
    assert_eq!(e.class(), "configuration", "{e}");

    // a user that does not exist: revokes and the delete are done, the read is empty
    let gone = AccountRef {
        login: "gone@example.com".into(),
        external_id: Some("u-99999999".into()),
    };
    for kind in [
        OperationKind::Revoke {
            entitlement: group.clone(),
        },
        OperationKind::Revoke { entitlement: ps },
        OperationKind::DeleteAccount,
    ] {
        let verb = kind.verb();
        assert_eq!(
            conformance::run(&adapter, &gone, kind).await.unwrap(),
            Effect::AlreadyInPlace,
            "{verb}"
        );
    }
    assert!(
        adapter
            .read_account_grants(&gone, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_conform(&server).await;
}
