//! Users: the create carries the profile and every required field in one write; a
//! username taken in another org is said so; a leaver whose deactivation Salesforce
//! refuses is frozen and the report says so; sessions end with one query and one
//! composite delete; users are never deleted.

use provision_core::adapter::{Adapter, AdapterError, Effect, read_all_accounts};
use provision_core::model::{AccountRef, AccountState, Entitlement, OperationKind};
use provision_salesforce::{LeaverAction, SalesforceAdapter};
use provision_testkit::conformance::{self, operation};

use crate::support::{FakeSalesforce, Org};

async fn org() -> Org {
    let fake = FakeSalesforce::new();
    Org::start(fake).await
}

fn create(login: &str, name: &str, profile: Option<&str>) -> OperationKind {
    let mut p = conformance::profile(login, name);
    p.attributes
        .insert("time_zone".into(), "Europe/Paris".into());
    p.attributes.insert("employee_id".into(), "E1001".into());
    if let Some(profile) = profile {
        p = p.with_required_grant(Entitlement::new("salesforce", "profile", profile));
    }
    OperationKind::CreateAccount { profile: p }
}

async fn execute(
    adapter: &SalesforceAdapter,
    login: &str,
    id: Option<&str>,
    kind: OperationKind,
) -> Result<provision_core::adapter::Applied, AdapterError> {
    let account = AccountRef {
        login: login.to_owned(),
        external_id: id.map(str::to_owned),
    };
    adapter
        .execute(&operation(adapter, login, kind), &account)
        .await
}

#[tokio::test]
async fn a_create_is_one_write_with_the_profile_and_every_required_field() {
    let org = org().await;
    let adapter = org.adapter();
    let applied = execute(
        &adapter,
        "sarah@acme.com",
        None,
        create(
            "sarah@acme.com",
            "Sarah Connor-Reese",
            Some("Sales Engineer"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    let sarah = org.fake.user("sarah@acme.com");
    assert_eq!(applied.external_id.as_deref(), Some(sarah.id.as_str()));
    assert_eq!(
        org.writes().await,
        [(
            "POST".to_owned(),
            "/services/data/v62.0/sobjects/User".to_owned()
        )]
    );
    let body = &sarah.body;
    assert_eq!(body["ProfileId"], org.fake.profile_id("Sales Engineer"));
    assert_eq!(body["LastName"], "Connor-Reese");
    assert_eq!(body["FirstName"], "Sarah");
    assert_eq!(body["Alias"], "sconnorr");
    assert_eq!(
        body["TimeZoneSidKey"], "Europe/Paris",
        "the HR attribute wins"
    );
    assert_eq!(body["LocaleSidKey"], "en_US");
    assert_eq!(body["EmailEncodingKey"], "UTF-8");
    assert_eq!(body["LanguageLocaleKey"], "en_US");
    assert_eq!(body["EmployeeNumber"], "E1001");
}

#[tokio::test]
async fn without_a_profile_the_create_is_refused_unless_a_default_is_set() {
    let org = org().await;
    let adapter = org.adapter();
    let e = execute(
        &adapter,
        "tom@acme.com",
        None,
        create("tom@acme.com", "Tom Hale", None),
    )
    .await
    .unwrap_err();
    assert_eq!(e.class(), "invalid", "{e}");
    assert!(e.to_string().contains("default_profile"), "{e}");
    assert!(org.writes().await.is_empty(), "nothing was sent");

    let with_default = SalesforceAdapter::new(
        org.config()
            .default_profile("Standard User")
            .build()
            .unwrap(),
    )
    .unwrap();
    execute(
        &with_default,
        "tom@acme.com",
        None,
        create("tom@acme.com", "Tom Hale", None),
    )
    .await
    .unwrap();
    assert_eq!(
        org.fake.user("tom@acme.com").profile_id,
        org.fake.profile_id("Standard User")
    );
}

#[tokio::test]
async fn a_username_taken_in_another_org_is_a_permanent_error_saying_so() {
    let org = org().await;
    org.fake
        .state
        .lock()
        .unwrap()
        .taken_elsewhere
        .push("priya@acme.com".into());
    let e = execute(
        &org.adapter(),
        "priya@acme.com",
        None,
        create("priya@acme.com", "Priya Shah", Some("Standard User")),
    )
    .await
    .unwrap_err();
    assert_eq!(e.class(), "permanent", "{e}");
    let error = e.system_error().unwrap();
    assert_eq!(error.code.as_deref(), Some("DUPLICATE_USERNAME"));
    assert!(error.message.contains("another Salesforce org"), "{e}");
}

#[tokio::test]
async fn the_same_username_with_another_email_is_not_adopted() {
    let org = org().await;
    org.fake.add_user("lee@acme.com", "Standard User");
    org.fake
        .edit_user("lee@acme.com", |u| u.email = "someone.else@acme.com".into());
    let e = execute(
        &org.adapter(),
        "lee@acme.com",
        None,
        create("lee@acme.com", "Lee Park", Some("Standard User")),
    )
    .await
    .unwrap_err();
    assert_eq!(e.class(), "conflict", "{e}");
}

#[tokio::test]
async fn a_refused_deactivation_freezes_the_user_and_says_so() {
    let org = org().await;
    let uid = org.fake.add_user("marcus@acme.com", "Sales User");
    org.fake
        .edit_user("marcus@acme.com", |u| u.default_workflow_user = true);
    let adapter = org.adapter();
    let applied = execute(
        &adapter,
        "marcus@acme.com",
        Some(&uid),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    let note = applied.note.unwrap();
    assert!(
        note.contains("frozen") && note.contains("default workflow user"),
        "{note}"
    );
    let marcus = org.fake.user("marcus@acme.com");
    assert!(marcus.frozen && marcus.active, "frozen, licence kept");
    // One refused deactivation, one freeze.
    let writes = org.writes().await;
    assert_eq!(
        writes,
        [
            (
                "PATCH".to_owned(),
                format!("/services/data/v62.0/sobjects/User/{uid}")
            ),
            (
                "PATCH".to_owned(),
                format!(
                    "/services/data/v62.0/sobjects/UserLogin/{}",
                    marcus.login_id
                )
            ),
        ]
    );
    let accounts = read_all_accounts(&adapter).await.unwrap();
    let read = accounts.iter().find(|a| a.external_id == uid).unwrap();
    assert_eq!(
        read.state,
        AccountState::Suspended,
        "a frozen user reads suspended"
    );

    // Again: deactivation is tried again (the dependency may be gone), the freeze is
    // already in place.
    let again = execute(
        &adapter,
        "marcus@acme.com",
        Some(&uid),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);

    // Back: unfrozen.
    execute(
        &adapter,
        "marcus@acme.com",
        Some(&uid),
        OperationKind::ReactivateAccount,
    )
    .await
    .unwrap();
    assert!(!org.fake.user("marcus@acme.com").frozen);
}

#[tokio::test]
async fn a_deactivated_user_reads_deprovisioned_and_deactivation_is_one_write() {
    let org = org().await;
    let uid = org.fake.add_user("nina@acme.com", "Standard User");
    let adapter = org.adapter();
    execute(
        &adapter,
        "nina@acme.com",
        Some(&uid),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(org.writes().await.len(), 1);
    assert!(!org.fake.user("nina@acme.com").active);
    let accounts = read_all_accounts(&adapter).await.unwrap();
    assert_eq!(
        accounts
            .iter()
            .find(|a| a.external_id == uid)
            .unwrap()
            .state,
        AccountState::Deprovisioned
    );
    assert!(
        !accounts.iter().any(|a| a.login.starts_with("autoproc@")),
        "an automated-process user is no one's account"
    );
}

#[tokio::test]
async fn freeze_as_configured_never_deactivates() {
    let org = org().await;
    let uid = org.fake.add_user("omar@acme.com", "Standard User");
    let adapter = SalesforceAdapter::new(
        org.config()
            .leaver_action(LeaverAction::Freeze)
            .build()
            .unwrap(),
    )
    .unwrap();
    let applied = execute(
        &adapter,
        "omar@acme.com",
        Some(&uid),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert!(applied.note.unwrap().contains("as configured"));
    let omar = org.fake.user("omar@acme.com");
    assert!(omar.frozen && omar.active);
}

#[tokio::test]
async fn sessions_end_with_one_query_and_one_composite_delete_per_200() {
    let org = org().await;
    let uid = org.fake.add_user("lee@acme.com", "Standard User");
    for _ in 0..250 {
        org.fake.add_session(&uid);
    }
    let other = org.fake.add_user("kim@acme.com", "Standard User");
    org.fake.add_session(&other);
    let adapter = org.adapter();
    let applied = execute(
        &adapter,
        "lee@acme.com",
        Some(&uid),
        OperationKind::RevokeSessions,
    )
    .await
    .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    assert_eq!(org.fake.sessions_of(&uid), 0);
    assert_eq!(
        org.fake.sessions_of(&other),
        1,
        "only the leaver's sessions"
    );
    let writes = org.writes().await;
    assert_eq!(writes.len(), 2, "250 sessions: two composite deletes");
    assert!(
        writes
            .iter()
            .all(|(m, p)| m == "DELETE" && p.ends_with("/composite/sobjects"))
    );

    org.clear().await;
    let again = execute(
        &adapter,
        "lee@acme.com",
        Some(&uid),
        OperationKind::RevokeSessions,
    )
    .await
    .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);
    assert!(org.writes().await.is_empty());
}

#[tokio::test]
async fn users_are_never_deleted() {
    let org = org().await;
    let uid = org.fake.add_user("lee@acme.com", "Standard User");
    let e = execute(
        &org.adapter(),
        "lee@acme.com",
        Some(&uid),
        OperationKind::DeleteAccount,
    )
    .await
    .unwrap_err();
    assert_eq!(e.class(), "unsupported", "{e}");
    assert!(org.writes().await.is_empty());
    assert!(!org.adapter().descriptor().can_delete);
}
