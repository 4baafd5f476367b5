//! Permission sets, groups, licences, public groups and profiles: the calls each change
//! costs (counted), the licence before the permission set inside one plan, reads that
//! cost what the data costs, and names that do not exist.

use std::collections::BTreeMap;

use provision_core::adapter::{Adapter, Descriptors, Effect, read_all_accounts, read_all_grants};
use provision_core::config::DeploymentConfig;
use provision_core::model::{
    AccountRef, Entitlement, IdentityId, Operation, OperationKind, Plan, SystemName,
};
use provision_salesforce::SalesforceAdapter;
use provision_testkit::conformance::operation;

use crate::support::{FakeSalesforce, Org};

fn e(kind: &str, name: &str) -> Entitlement {
    Entitlement::new("salesforce", kind, name)
}

async fn org() -> (Org, String) {
    let fake = FakeSalesforce::new();
    let uid = fake.add_user("sarah@acme.com", "Sales User");
    fake.add_permission_set("ApproveRefunds");
    fake.add_permission_set("ServiceConsole");
    fake.add_licence("ServiceCloudUser");
    fake.needs_licence("ServiceConsole", "ServiceCloudUser");
    fake.add_permission_set_group("SalesOps");
    fake.add_group("Sales_EMEA");
    (Org::start(fake).await, uid)
}

async fn run(adapter: &SalesforceAdapter, uid: &str, kind: OperationKind) -> Effect {
    let account = AccountRef {
        login: "sarah@acme.com".into(),
        external_id: Some(uid.to_owned()),
    };
    adapter
        .execute(&operation(adapter, "sarah@acme.com", kind), &account)
        .await
        .unwrap()
        .effect
}

/// The figures the issue asks for: writes (and reads) per change, with the account's
/// id known (as the executor passes it) and each resource's id looked up once.
#[tokio::test]
async fn each_change_is_one_write() {
    let (org, uid) = org().await;
    let adapter = org.adapter();
    // Warm the name → id cache as a run's first change of each resource would.
    for kind in [
        "permission_set",
        "permission_set_group",
        "permission_set_license",
        "group",
        "profile",
    ] {
        provision_core::adapter::list_all_resources(&adapter, &SystemName::new("salesforce"), kind)
            .await
            .unwrap();
    }
    let changes: Vec<(&str, OperationKind)> = vec![
        (
            "grant permission_set_license",
            OperationKind::Grant {
                entitlement: e("permission_set_license", "ServiceCloudUser"),
            },
        ),
        (
            "grant permission_set",
            OperationKind::Grant {
                entitlement: e("permission_set", "ServiceConsole"),
            },
        ),
        (
            "grant permission_set_group",
            OperationKind::Grant {
                entitlement: e("permission_set_group", "SalesOps"),
            },
        ),
        (
            "grant group",
            OperationKind::Grant {
                entitlement: e("group", "Sales_EMEA"),
            },
        ),
        (
            "grant profile (replace)",
            OperationKind::Grant {
                entitlement: e("profile", "Sales Engineer"),
            },
        ),
        (
            "revoke permission_set",
            OperationKind::Revoke {
                entitlement: e("permission_set", "ServiceConsole"),
            },
        ),
        (
            "revoke permission_set_group",
            OperationKind::Revoke {
                entitlement: e("permission_set_group", "SalesOps"),
            },
        ),
        (
            "revoke group",
            OperationKind::Revoke {
                entitlement: e("group", "Sales_EMEA"),
            },
        ),
        (
            "revoke permission_set_license",
            OperationKind::Revoke {
                entitlement: e("permission_set_license", "ServiceCloudUser"),
            },
        ),
        ("suspend (deactivate)", OperationKind::SuspendAccount),
        ("reactivate", OperationKind::ReactivateAccount),
    ];
    let mut figures = BTreeMap::new();
    for (name, kind) in changes {
        org.clear().await;
        assert_eq!(run(&adapter, &uid, kind).await, Effect::Changed, "{name}");
        let requests = org.api_requests().await;
        let writes = requests.iter().filter(|(m, _, _)| m != "GET").count();
        let reads = requests.len() - writes;
        assert_eq!(writes, 1, "{name}: {requests:?}");
        figures.insert(name, (writes, reads));
    }
    // Revokes read the assignment id first (Salesforce deletes by id only); grants
    // and profile changes send without reading; suspension reads the state once.
    assert_eq!(figures["grant permission_set"], (1, 0));
    assert_eq!(figures["grant profile (replace)"], (1, 0));
    assert_eq!(figures["revoke permission_set"], (1, 1));
    assert_eq!(figures["suspend (deactivate)"], (1, 1));
    eprintln!("writes and reads per change: {figures:#?}");
}

/// The licence is a prerequisite of the permission set inside one system: ordered by
/// the kernel's orderer with the adapter's descriptor, the plan succeeds; the other
/// way round Salesforce refuses the permission set.
#[tokio::test]
async fn the_licence_comes_before_the_permission_set_that_needs_it() {
    let (org, uid) = org().await;
    let adapter = org.adapter();
    let op = |kind: OperationKind| {
        let system = SystemName::new("salesforce");
        let identity = IdentityId::new("e1");
        Operation {
            id: Operation::make_id(&identity, &system, &kind),
            identity,
            login: "sarah@acme.com".into(),
            system,
            kind,
            reason: operation(&adapter, "sarah@acme.com", OperationKind::RevokeSessions).reason,
            priority: Default::default(),
        }
    };
    let set = op(OperationKind::Grant {
        entitlement: e("permission_set", "ServiceConsole"),
    });
    let licence = op(OperationKind::Grant {
        entitlement: e("permission_set_license", "ServiceCloudUser"),
    });

    // Without the order: refused, with Salesforce's own code.
    let account = AccountRef {
        login: "sarah@acme.com".into(),
        external_id: Some(uid.clone()),
    };
    let refused = adapter.execute(&set, &account).await.unwrap_err();
    assert_eq!(
        refused.system_error().unwrap().code.as_deref(),
        Some("FIELD_INTEGRITY_EXCEPTION"),
        "{refused}"
    );

    let mut descriptors = Descriptors::new();
    descriptors.insert(SystemName::new("salesforce"), adapter.descriptor().clone());
    let plan = Plan {
        operations: vec![set, licence],
        dependencies: Vec::new(),
    };
    let plan =
        provision_core::orderer::order_with(plan, &DeploymentConfig::default(), &descriptors)
            .unwrap();
    assert_eq!(
        plan.operations[0].kind.entitlement().unwrap().kind,
        "permission_set_license"
    );
    for op in &plan.operations {
        adapter.execute(op, &account).await.unwrap();
    }
    let holders = read_all_grants(
        &adapter,
        &e("permission_set", "ServiceConsole").resource_ref(),
    )
    .await
    .unwrap();
    assert!(holders.iter().any(|g| g.account_external_id == uid));
}

/// A resource's holders are read with one query per batch of 2 (the fake's batch),
/// never one query per account; accounts with one `UserLogin` query per batch.
#[tokio::test]
async fn reads_cost_what_the_data_costs() {
    let (org, _) = org().await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let uid = org
            .fake
            .add_user(&format!("rep{n}@acme.com"), "Standard User");
        org.fake.assign_set(&uid, "ApproveRefunds");
        ids.push(uid);
    }
    let adapter = org.adapter();
    let resource = e("permission_set", "ApproveRefunds").resource_ref();
    org.clear().await;
    let holders = read_all_grants(&adapter, &resource).await.unwrap();
    assert_eq!(holders.len(), 6);
    assert!(
        holders
            .iter()
            .all(|g| g.login.as_deref().is_some_and(|l| l.starts_with("rep")))
    );
    let requests = org.api_requests().await;
    // One id lookup, then 3 batches of 2.
    assert_eq!(requests.len(), 4, "{requests:?}");

    org.clear().await;
    let accounts = read_all_accounts(&adapter).await.unwrap();
    assert_eq!(accounts.len(), 7);
    let requests = org.api_requests().await;
    let batches = requests
        .iter()
        .filter(|(_, _, q)| q.as_deref().is_none_or(|q| q.contains("FROM User ")))
        .count();
    let frozen = requests.len() - batches;
    // 8 users in the org (one automated) in batches of 2: 4 batches; one UserLogin
    // query per batch (no frozen user: one batch of answer each).
    assert_eq!(batches, 4, "{requests:?}");
    assert_eq!(frozen, batches, "{requests:?}");
}

#[tokio::test]
async fn a_name_the_org_lacks_is_invalid_never_already_absent() {
    let (org, uid) = org().await;
    let adapter = org.adapter();
    let account = AccountRef {
        login: "sarah@acme.com".into(),
        external_id: Some(uid),
    };
    for kind in [
        OperationKind::Revoke {
            entitlement: e("permission_set", "ApproveRefundz"),
        },
        OperationKind::Grant {
            entitlement: e("group", "No_Such_Group"),
        },
    ] {
        let err = adapter
            .execute(&operation(&adapter, "sarah@acme.com", kind), &account)
            .await
            .unwrap_err();
        assert_eq!(err.class(), "invalid", "{err}");
    }
    // A role's group of the same name is no public group: the public group is used.
    let applied = adapter
        .execute(
            &operation(
                &adapter,
                "sarah@acme.com",
                OperationKind::Grant {
                    entitlement: e("group", "Sales_EMEA"),
                },
            ),
            &account,
        )
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
}

/// A person's grants: profile-owned permission sets are left out, a group's
/// assignment reads as the group, and licences come last.
#[tokio::test]
async fn a_person_s_grants_read_licences_last_and_skip_profile_sets() {
    let (org, uid) = org().await;
    let adapter = org.adapter();
    for kind in [
        OperationKind::Grant {
            entitlement: e("permission_set_license", "ServiceCloudUser"),
        },
        OperationKind::Grant {
            entitlement: e("permission_set", "ServiceConsole"),
        },
        OperationKind::Grant {
            entitlement: e("permission_set_group", "SalesOps"),
        },
        OperationKind::Grant {
            entitlement: e("group", "Sales_EMEA"),
        },
    ] {
        run(&adapter, &uid, kind).await;
    }
    let held = provision_core::adapter::read_all_account_grants(
        &adapter,
        &SystemName::new("salesforce"),
        &AccountRef {
            login: "sarah@acme.com".into(),
            external_id: Some(uid),
        },
    )
    .await
    .unwrap();
    let names: Vec<String> = held.iter().map(|g| g.entitlement.to_string()).collect();
    assert_eq!(
        names,
        [
            "salesforce/permission_set/ServiceConsole",
            "salesforce/permission_set_group/SalesOps",
            "salesforce/group/Sales_EMEA",
            "salesforce/permission_set_license/ServiceCloudUser",
        ]
    );
}
