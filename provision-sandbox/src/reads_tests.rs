//! The reads that see everything an account holds: `read_account_grants` and
//! `list_resources`, paginated, for enumerable kinds only.

use provision_core::adapter::{
    Adapter, AdapterError, ResourceKindDescriptor, SystemDescriptor, list_all_resources,
    read_all_account_grants,
};
use provision_core::model::{AccountRef, AccountState, Entitlement, ResourceRecord, SystemName};

use super::{SandboxConfig, SandboxSystem};

fn system() -> SandboxSystem {
    let descriptor = SystemDescriptor::new("sandbox")
        .with_accounts()
        .with_kind(ResourceKindDescriptor::new("group", &["add_to_group"]).enumerable())
        .with_kind(ResourceKindDescriptor::new("app", &["assign_app"]));
    SandboxSystem::new(
        "idp",
        descriptor,
        SandboxConfig {
            page_size: 2,
            ..SandboxConfig::default()
        },
    )
}

#[tokio::test]
async fn an_accounts_grants_are_read_on_every_enumerable_resource() {
    let idp = system();
    let id = idp.with_account("sarah", AccountState::Active);
    idp.with_account("bob", AccountState::Active);
    for g in ["eng", "hand-made-1", "hand-made-2"] {
        idp.with_grant("sarah", Entitlement::new("idp", "group", g));
    }
    idp.with_grant("sarah", Entitlement::new("idp", "app", "crm"));
    idp.with_grant("bob", Entitlement::new("idp", "group", "sales"));
    let name = SystemName::new("idp");

    let by_id = AccountRef {
        login: "ignored".into(),
        external_id: Some(id.clone()),
    };
    let grants = read_all_account_grants(&idp, &name, &by_id).await.unwrap();
    let mut names: Vec<&str> = grants
        .iter()
        .map(|g| g.entitlement.resource.as_str())
        .collect();
    names.sort_unstable();
    // Three groups over two pages; the app kind is not enumerable.
    assert_eq!(names, vec!["eng", "hand-made-1", "hand-made-2"]);
    assert!(grants.iter().all(|g| g.account_external_id == id));

    let unknown = AccountRef {
        login: "nobody".into(),
        external_id: Some("u999".into()),
    };
    assert!(
        read_all_account_grants(&idp, &name, &unknown)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn resources_are_listed_with_their_parents_and_only_for_enumerable_kinds() {
    let idp = system();
    idp.with_account("sarah", AccountState::Active);
    idp.with_resource(ResourceRecord::new("group", "eng"));
    idp.with_resource(ResourceRecord::new("group", "eng-backend").with_parent("eng"));
    idp.with_grant("sarah", Entitlement::new("idp", "group", "sales"));
    let name = SystemName::new("idp");
    let listed = list_all_resources(&idp, &name, "group").await.unwrap();
    let shown: Vec<(&str, Option<&str>)> = listed
        .iter()
        .map(|r| (r.resource.as_str(), r.parent.as_deref()))
        .collect();
    assert_eq!(
        shown,
        vec![("eng", None), ("eng-backend", Some("eng")), ("sales", None)]
    );
    assert!(matches!(
        idp.list_resources("app", None).await,
        Err(AdapterError::Unsupported { .. })
    ));
}
