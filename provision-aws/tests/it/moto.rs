//! Integration test against moto in server mode (a third-party implementation of the
//! Identity Store and SSO Admin APIs): a full joiner → mover → leaver cycle through
//! the adapter, with the final state read back through the AWS API.
//!
//! The server: `PROVISION_TEST_MOTO_URL` when set (`.ci/run` starts one), otherwise
//! the test starts `shared/peers/start-moto.sh` on a free port with a pid file in a
//! temporary folder and stops it by that pid file at the end. If moto cannot start
//! (no Python 3.11, no network for the first install) the test fails and says so.
//!
//! What moto lacks (so wiremock tests in `wiremock_api.rs` cover it):
//! * `GetGroupMembershipId` is not implemented (HTTP 500): here, as in a real run, the
//!   membership ids come from the read (`ListGroupMemberships`) that precedes the
//!   revocation; the look-up path is `delete_group_membership_takes_the_membership_id_looked_up_first`.
//! * Assignment status is `SUCCEEDED` at once: the `IN_PROGRESS` → `SUCCEEDED`/`FAILED`
//!   polling is `assignment_in_progress_is_pending_then_succeeded_is_done` and
//!   `assignment_failure_shows_only_in_the_status_with_aws_reason`.
//! * No throttling and no `ConflictException` on a duplicate membership: covered there too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use provision_aws::{AwsAdapter, AwsClient, AwsConfig, Service, StaticCredentials};
use provision_core::adapter::{
    Adapter, AdapterError, CheckStatus, Effect, read_all_accounts, read_all_grants,
};
use provision_core::model::{
    AccountProfile, AccountRef, Entitlement, IdentityId, Operation, OperationKind, Reason,
    ReasonKind, SystemName,
};
use provision_testkit::botocore::find_shared_dir;
use serde_json::{Value, json};

/// A moto server for this test: external, or started here and stopped on drop.
struct Moto {
    url: String,
    pidfile: Option<(PathBuf, PathBuf)>,
}

impl Moto {
    fn get() -> Moto {
        if let Ok(url) = std::env::var("PROVISION_TEST_MOTO_URL")
            && !url.trim().is_empty()
        {
            return Moto {
                url: url.trim().trim_end_matches('/').to_owned(),
                pidfile: None,
            };
        }
        let shared = find_shared_dir(env!("CARGO_MANIFEST_DIR")).expect(
            "cannot find shared/ (with peers/start-moto.sh) beside the repository; set PROVISION_SHARED_DIR or PROVISION_TEST_MOTO_URL",
        );
        let dir = std::env::temp_dir().join(format!("provision-aws-moto-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("moto.pid");
        let out = Command::new(shared.join("peers/start-moto.sh"))
            .env("MOTO_PORT", "0")
            .env("MOTO_PIDFILE", &pidfile)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}/peers/start-moto.sh: {e}", shared.display()));
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && url.starts_with("http://"),
            "moto did not start (it needs Python >= 3.11 and, on first use, pip access); \
             start-moto.sh said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Moto {
            url,
            pidfile: Some((shared.join("peers/stop.sh"), pidfile)),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some((stop, pidfile)) = &self.pidfile {
            let _ = Command::new(stop).arg(pidfile).status();
            if let Some(dir) = pidfile.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

fn op(login: &str, kind: OperationKind) -> Operation {
    let identity = IdentityId::new("e2001");
    let system = SystemName::new("aws");
    Operation {
        id: Operation::make_id(&identity, &system, &kind),
        identity,
        login: login.into(),
        system,
        kind,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec![],
            event: Some("moto-cycle".into()),
            detail: "integration test".into(),
            valid_until: None,
        },
        priority: Default::default(),
    }
}

fn group(name: &str) -> Entitlement {
    Entitlement::new("aws", "group", name)
}

fn ps(name: &str, account: &str) -> Entitlement {
    Entitlement::new("aws", "permission_set", name).with_scope(format!("account:{account}"))
}

async fn call(
    client: &AwsClient,
    service: Service,
    operation: &'static str,
    input: Value,
) -> Value {
    client
        .call::<_, Value>(service, operation, &input)
        .await
        .unwrap_or_else(|e| panic!("{operation}: {e}"))
}

const PROD: &str = "111111111111";
const STAGING: &str = "222222222222";

/// The moto tests of this file share one server when `.ci/run` gives one; they take
/// turns (each resets it).
static MOTO_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn joiner_mover_leaver_against_moto() {
    let _turn = MOTO_TURN.lock().await;
    let moto = Moto::get();
    // A clean server (the instance ids change after a reset, so they are discovered).
    let reset = reqwest::Client::new()
        .post(format!("{}/moto-api/reset", moto.url))
        .send()
        .await
        .expect("moto does not answer");
    assert!(reset.status().is_success());

    let config = AwsConfig::builder()
        .region("us-east-1")
        .credentials(StaticCredentials::new("testing", "testing-secret", None))
        .endpoint(moto.url.parse().unwrap())
        .account("production", PROD)
        .account("staging", STAGING)
        .delete_leavers(true)
        .build()
        .unwrap();
    let client = AwsClient::new(&config).unwrap();
    let adapter = AwsAdapter::new(config).unwrap();

    // The instance is discovered with ListInstances (moto has exactly one).
    let instance = adapter.instance().await.unwrap().clone();
    let store = instance.identity_store_id.clone();
    let arn = instance.instance_arn.clone();

    // Set-up an admin does by hand: groups and permission sets.
    let mut group_ids = std::collections::HashMap::new();
    for name in ["Engineering", "Sales"] {
        let r = call(
            &client,
            Service::IdentityStore,
            "CreateGroup",
            json!({"IdentityStoreId": store, "DisplayName": name}),
        )
        .await;
        group_ids.insert(name, r["GroupId"].as_str().unwrap().to_owned());
    }
    let mut ps_arns = std::collections::HashMap::new();
    for name in ["EngineeringReadOnly", "SalesReadOnly"] {
        let r = call(
            &client,
            Service::SsoAdmin,
            "CreatePermissionSet",
            json!({"InstanceArn": arn, "Name": name}),
        )
        .await;
        ps_arns.insert(
            name,
            r["PermissionSet"]["PermissionSetArn"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    let login = "sarah.chen@example.com";

    // ---- joiner: account, Engineering group, EngineeringReadOnly on production ----
    let create = op(
        login,
        OperationKind::CreateAccount {
            profile: AccountProfile {
                login: login.into(),
                email: login.into(),
                display_name: "Sarah Chen".into(),
                attributes: Default::default(),
                ..Default::default()
            },
        },
    );
    let created = adapter
        .execute(&create, &AccountRef::by_login(login))
        .await
        .unwrap();
    assert_eq!(created.effect, Effect::Changed);
    let user_id = created
        .external_id
        .clone()
        .expect("CreateUser returns the user id");
    // Sending it again (an executor retry after a timeout) adopts the same user.
    let again = adapter
        .execute(&create, &AccountRef::by_login(login))
        .await
        .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);
    assert_eq!(again.external_id.as_deref(), Some(user_id.as_str()));

    let account = AccountRef {
        login: login.into(),
        external_id: Some(user_id.clone()),
    };
    for e in [
        group("Engineering"),
        ps("EngineeringReadOnly", "production"),
    ] {
        let applied = adapter
            .execute(
                &op(
                    login,
                    OperationKind::Grant {
                        entitlement: e.clone(),
                    },
                ),
                &account,
            )
            .await
            .unwrap_or_else(|err| panic!("grant {e}: {err}"));
        assert_eq!(applied.effect, Effect::Changed);
        assert_eq!(
            adapter
                .check(
                    &op(login, OperationKind::Grant { entitlement: e }),
                    &account
                )
                .await
                .unwrap(),
            CheckStatus::Done { external_id: None }
        );
    }
    let users = read_all_accounts(&adapter).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].login, login);
    assert_eq!(users[0].external_id, user_id);
    let d = call(
        &client,
        Service::IdentityStore,
        "DescribeUser",
        json!({"IdentityStoreId": store, "UserId": user_id}),
    )
    .await;
    assert_eq!(d["DisplayName"], "Sarah Chen");
    assert_eq!(d["Name"]["GivenName"], "Sarah");
    assert_eq!(d["Name"]["FamilyName"], "Chen");
    assert_eq!(d["Emails"][0]["Value"], login);
    let eng = read_all_grants(&adapter, &group("Engineering").resource_ref())
        .await
        .unwrap();
    assert_eq!(
        eng.iter()
            .map(|g| g.account_external_id.as_str())
            .collect::<Vec<_>>(),
        [user_id.as_str()]
    );
    assert_eq!(eng[0].login.as_deref(), Some(login));
    let prod = read_all_grants(&adapter, &ps("EngineeringReadOnly", PROD).resource_ref())
        .await
        .unwrap();
    assert_eq!(prod.len(), 1);

    // ---- mover: Engineering -> Sales; production -> staging ----
    // (Reads come first in a run, as the planner does; they also give the membership ids
    // DeleteGroupMembership needs, since moto lacks GetGroupMembershipId.)
    for e in [
        group("Engineering"),
        ps("EngineeringReadOnly", "production"),
    ] {
        let applied = adapter
            .execute(
                &op(
                    login,
                    OperationKind::Revoke {
                        entitlement: e.clone(),
                    },
                ),
                &account,
            )
            .await
            .unwrap_or_else(|err| panic!("revoke {e}: {err}"));
        assert_eq!(applied.effect, Effect::Changed, "{e}");
    }
    for e in [group("Sales"), ps("SalesReadOnly", "staging")] {
        adapter
            .execute(
                &op(
                    login,
                    OperationKind::Grant {
                        entitlement: e.clone(),
                    },
                ),
                &account,
            )
            .await
            .unwrap_or_else(|err| panic!("grant {e}: {err}"));
    }
    assert!(
        read_all_grants(&adapter, &group("Engineering").resource_ref())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        read_all_grants(&adapter, &group("Sales").resource_ref())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        read_all_grants(
            &adapter,
            &ps("EngineeringReadOnly", "production").resource_ref()
        )
        .await
        .unwrap()
        .is_empty()
    );
    assert_eq!(
        read_all_grants(&adapter, &ps("SalesReadOnly", STAGING).resource_ref())
            .await
            .unwrap()
            .len(),
        1
    );

    // ---- leaver: no suspension in Identity Center; revoke everything, then delete ----
    assert_eq!(
        adapter
            .execute(&op(login, OperationKind::SuspendAccount), &account)
            .await
            .unwrap_err()
            .class(),
        "unsupported"
    );
    for e in [ps("SalesReadOnly", "staging"), group("Sales")] {
        let applied = adapter
            .execute(
                &op(
                    login,
                    OperationKind::Revoke {
                        entitlement: e.clone(),
                    },
                ),
                &account,
            )
            .await
            .unwrap_or_else(|err| panic!("revoke {e}: {err}"));
        assert_eq!(applied.effect, Effect::Changed, "{e}");
    }
    let delete = op(login, OperationKind::DeleteAccount);
    assert_eq!(
        adapter.execute(&delete, &account).await.unwrap().effect,
        Effect::Changed
    );
    assert_eq!(
        adapter
            .check(&delete, &AccountRef::by_login(login))
            .await
            .unwrap(),
        CheckStatus::Done { external_id: None }
    );
    // Re-sending the leaver's work is harmless.
    assert_eq!(
        adapter
            .execute(&delete, &AccountRef::by_login(login))
            .await
            .unwrap()
            .effect,
        Effect::AlreadyInPlace
    );

    // ---- the final state, read back through the AWS API itself ----
    let users = call(
        &client,
        Service::IdentityStore,
        "ListUsers",
        json!({"IdentityStoreId": store, "MaxResults": 100}),
    )
    .await;
    assert_eq!(users["Users"], json!([]), "{users}");
    for (name, gid) in &group_ids {
        let m = call(
            &client,
            Service::IdentityStore,
            "ListGroupMemberships",
            json!({"IdentityStoreId": store, "GroupId": gid, "MaxResults": 100}),
        )
        .await;
        assert_eq!(m["GroupMemberships"], json!([]), "{name}: {m}");
    }
    for (account_id, name) in [
        (PROD, "EngineeringReadOnly"),
        (STAGING, "SalesReadOnly"),
        (PROD, "SalesReadOnly"),
        (STAGING, "EngineeringReadOnly"),
    ] {
        let a = call(&client, Service::SsoAdmin, "ListAccountAssignments",
            json!({"InstanceArn": arn, "AccountId": account_id, "PermissionSetArn": ps_arns[name], "MaxResults": 100})).await;
        assert_eq!(
            a["AccountAssignments"],
            json!([]),
            "{account_id} {name}: {a}"
        );
    }
    let err = client
        .call::<_, Value>(Service::IdentityStore, "GetUserId", &json!({"IdentityStoreId": store,
            "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": login}}}))
        .await
        .unwrap_err();
    assert!(err.is("ResourceNotFoundException"), "{err}");
    drop(moto);
}

/// The whole shared suite (`provision_testkit::conformance::Suite`) against moto: the
/// account's life, grant then revoke, pagination to the end, what `NotFound` means,
/// and a leaver left with nothing, a hand-made membership (made straight through the
/// Identity Store API, on a group no policy names) included. Moto has no throttling
/// and creates any identity store it is asked about, so the 429 and the wrong-store
/// scenarios run against the wiremock fake (`conformance.rs`).
#[tokio::test]
async fn the_shared_suite_passes_against_moto() {
    let _turn = MOTO_TURN.lock().await;
    let moto = Moto::get();
    let reset = reqwest::Client::new()
        .post(format!("{}/moto-api/reset", moto.url))
        .send()
        .await
        .expect("moto does not answer");
    assert!(reset.status().is_success());
    let config = AwsConfig::builder()
        .region("us-east-1")
        .credentials(StaticCredentials::new("testing", "testing-secret", None))
        .endpoint(moto.url.parse().unwrap())
        .account("production", PROD)
        .delete_leavers(true)
        .build()
        .unwrap();
    let client = AwsClient::new(&config).unwrap();
    let adapter = AwsAdapter::new(config).unwrap();
    let instance = adapter.instance().await.unwrap().clone();
    let store = instance.identity_store_id.clone();
    for name in ["Engineering", "Finance"] {
        call(
            &client,
            Service::IdentityStore,
            "CreateGroup",
            json!({"IdentityStoreId": store, "DisplayName": name}),
        )
        .await;
    }
    call(
        &client,
        Service::SsoAdmin,
        "CreatePermissionSet",
        json!({"InstanceArn": instance.instance_arn, "Name": "EngineeringReadOnly"}),
    )
    .await;
    // more than one page of users (100 a page)
    for n in 0..101 {
        call(
            &client,
            Service::IdentityStore,
            "CreateUser",
            json!({"IdentityStoreId": store, "UserName": format!("existing{n}@example.com"),
                "DisplayName": format!("Existing {n}"),
                "Name": {"GivenName": "Existing", "FamilyName": format!("{n}")}}),
        )
        .await;
    }

    let shim = MotoConflictShim {
        inner: &adapter,
        client: client.clone(),
        store: store.clone(),
    };
    let hand_client = client.clone();
    let hand_store = store.clone();
    let hand_made: provision_testkit::conformance::HandMadeGrant<'_> =
        Box::new(move |account: AccountRef| {
            let client = hand_client.clone();
            let store = hand_store.clone();
            Box::pin(async move {
                let finance = call(
                    &client,
                    Service::IdentityStore,
                    "GetGroupId",
                    json!({"IdentityStoreId": store, "AlternateIdentifier": {"UniqueAttribute":
                        {"AttributePath": "displayName", "AttributeValue": "Finance"}}}),
                )
                .await;
                call(
                    &client,
                    Service::IdentityStore,
                    "CreateGroupMembership",
                    json!({"IdentityStoreId": store, "GroupId": finance["GroupId"],
                        "MemberId": {"UserId": account.external_id}}),
                )
                .await;
                group("Finance")
            })
        });
    let report = provision_testkit::conformance::Suite::new(
        &shim,
        vec![
            group("Engineering"),
            ps("EngineeringReadOnly", "production"),
        ],
    )
    .create(provision_testkit::conformance::profile(
        "ada@example.com",
        "Ada Lovelace",
    ))
    .hand_made(hand_made)
    .min_account_pages(2)
    .delete_at_the_end()
    .run()
    .await;
    for scenario in [
        "create_then_found",
        "accounts_paginate_to_the_end",
        "list_resources",
        "grant_then_revoke",
        "read_account_grants_after_revoke_is_empty",
        "leaver_left_with_nothing",
        "not_found_means_absent",
        "delete_then_gone",
    ] {
        assert!(
            report.passed.contains(&scenario),
            "{scenario} did not run: {report:?}"
        );
    }
}

/// Moto accepts a second `CreateGroupMembership` for a user already in the group (and
/// then holds two memberships), where AWS answers `ConflictException`
/// (`UNIQUENESS_CONSTRAINT_VIOLATION`), which the adapter reads as "already done"
/// (`membership_conflict_is_already_done_but_sso_admin_conflict_is_a_race_to_retry`
/// in `wiremock_api.rs`); and moto lacks `GetGroupMembershipId`, whose
/// `ResourceNotFoundException` makes a second revoke "already done". This shim gives
/// moto AWS's answers for those two cases, read through the same API, and passes
/// everything else to the adapter untouched. Moto also stores a second, identical
/// account assignment where AWS keeps one, and deletes a user that is gone without
/// a word: the shim answers "already in place" then.
struct MotoConflictShim<'a> {
    inner: &'a AwsAdapter,
    client: AwsClient,
    store: String,
}

#[async_trait::async_trait]
impl provision_core::adapter::Adapter for MotoConflictShim<'_> {
    fn descriptor(&self) -> &provision_core::adapter::SystemDescriptor {
        self.inner.descriptor()
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<provision_core::adapter::Page<provision_core::model::AccountRecord>, AdapterError>
    {
        self.inner.read_accounts(cursor).await
    }

    async fn read_grants(
        &self,
        resource: &provision_core::model::ResourceRef,
        cursor: Option<&str>,
    ) -> Result<provision_core::adapter::Page<provision_core::model::GrantRecord>, AdapterError>
    {
        self.inner.read_grants(resource, cursor).await
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<provision_core::adapter::Page<provision_core::model::GrantRecord>, AdapterError>
    {
        self.inner.read_account_grants(account, cursor).await
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<provision_core::adapter::Page<provision_core::model::ResourceRecord>, AdapterError>
    {
        self.inner.list_resources(kind, cursor).await
    }

    async fn execute(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<provision_core::adapter::Applied, AdapterError> {
        let (granting, entitlement) = match &op.kind {
            OperationKind::Grant { entitlement } => (true, Some(entitlement)),
            OperationKind::Revoke { entitlement } => (false, Some(entitlement)),
            _ => (false, None),
        };
        if let (Some(entitlement), Some(user)) = (entitlement, &account.external_id)
            && entitlement.kind == "group"
        {
            let group = call(
                &self.client,
                Service::IdentityStore,
                "GetGroupId",
                json!({"IdentityStoreId": self.store, "AlternateIdentifier": {"UniqueAttribute":
                    {"AttributePath": "displayName", "AttributeValue": entitlement.resource}}}),
            )
            .await;
            let memberships = call(
                &self.client,
                Service::IdentityStore,
                "ListGroupMembershipsForMember",
                json!({"IdentityStoreId": self.store, "MemberId": {"UserId": user}}),
            )
            .await;
            let member = memberships["GroupMemberships"]
                .as_array()
                .is_some_and(|ms| ms.iter().any(|m| m["GroupId"] == group["GroupId"]));
            if !granting && !member {
                // AWS: GetGroupMembershipId answers ResourceNotFoundException
                // (GROUP_MEMBERSHIP), which moto does not implement (HTTP 500)
                return Ok(provision_core::adapter::Applied::already_in_place());
            }
            if granting && member {
                return Err(AdapterError::AlreadyDone {
                    error: provision_core::adapter::SystemError::new(
                        Some(400),
                        Some("ConflictException".into()),
                        "Member already exists in group (reason UNIQUENESS_CONSTRAINT_VIOLATION)",
                    ),
                });
            }
        }
        if let (OperationKind::DeleteAccount, Some(user)) = (&op.kind, &account.external_id) {
            // AWS: DeleteUser of a user that is gone is ResourceNotFoundException
            // (USER); moto answers 200
            let described = self
                .client
                .call::<_, serde_json::Value>(
                    Service::IdentityStore,
                    "DescribeUser",
                    &json!({"IdentityStoreId": self.store, "UserId": user}),
                )
                .await;
            if described.is_err_and(|e| e.is_not_found()) {
                return Ok(provision_core::adapter::Applied::already_in_place());
            }
        }
        if let (true, Some(entitlement), Some(user)) = (granting, entitlement, &account.external_id)
            && entitlement.kind == "permission_set"
            && !entitlement.resource.starts_with("group:")
        {
            let instance = self.inner.instance().await?.instance_arn.clone();
            let account_id = match entitlement.scope.as_deref() {
                Some("account:production") => PROD,
                Some("account:staging") => STAGING,
                other => other
                    .and_then(|s| s.strip_prefix("account:"))
                    .unwrap_or_default(),
            };
            let held = call(
                &self.client,
                Service::SsoAdmin,
                "ListAccountAssignmentsForPrincipal",
                json!({"InstanceArn": instance, "PrincipalId": user, "PrincipalType": "USER"}),
            )
            .await;
            for a in held["AccountAssignments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let set = call(
                    &self.client,
                    Service::SsoAdmin,
                    "DescribePermissionSet",
                    json!({"InstanceArn": instance, "PermissionSetArn": a["PermissionSetArn"]}),
                )
                .await;
                if a["AccountId"] == account_id
                    && set["PermissionSet"]["Name"] == entitlement.resource.as_str()
                {
                    // AWS: a second CreateAccountAssignment ends SUCCEEDED without a
                    // second assignment; moto would add one
                    return Ok(provision_core::adapter::Applied::already_in_place());
                }
            }
        }
        self.inner.execute(op, account).await
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        self.inner.check(op, account).await
    }
}

/// Issue 12, checked against moto: an error reply carries AWS's request id
/// (`x-amzn-RequestId`, and `RequestId` in the body), and the adapter's error keeps it.
#[tokio::test]
async fn errors_from_moto_keep_the_request_id() {
    let _turn = MOTO_TURN.lock().await;
    let moto = Moto::get();
    let reset = reqwest::Client::new()
        .post(format!("{}/moto-api/reset", moto.url))
        .send()
        .await
        .expect("moto does not answer");
    assert!(reset.status().is_success());
    let config = AwsConfig::builder()
        .region("us-east-1")
        .credentials(StaticCredentials::new("testing", "testing-secret", None))
        .endpoint(moto.url.parse().unwrap())
        .build()
        .unwrap();
    let client = AwsClient::new(&config).unwrap();
    let adapter = AwsAdapter::new(config).unwrap();
    let store = adapter.instance().await.unwrap().identity_store_id.clone();
    let error = client
        .call::<_, Value>(
            Service::IdentityStore,
            "DescribeUser",
            &json!({"IdentityStoreId": store, "UserId": "no-such-user"}),
        )
        .await
        .unwrap_err();
    let id = error
        .request_id
        .clone()
        .expect("moto sends x-amzn-RequestId");
    assert!(!id.is_empty());
    let adapter_error = AdapterError::from(error);
    assert_eq!(adapter_error.class(), "not_found");
    assert!(
        adapter_error
            .to_string()
            .contains(&format!("request id {id}")),
        "{adapter_error}"
    );
}
