//! The suite agrees with the executor on `NotFound`, and catches an adapter that
//! depends on its system's name. A small in-memory adapter, in the default build (no
//! `http-mocks` feature).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, Effect, Page, ResourceKindDescriptor, SystemDescriptor,
    SystemError,
};
use provision_core::model::{
    AccountRecord, AccountRef, Entitlement, GrantRecord, Operation, OperationKind, ResourceRef,
};
use provision_testkit::conformance::{self, named_by_the_deployment};

/// Members of spaces, by login. `strict_name`: only grants in a system named `notes`
/// are made (the bug a custom adapter had: it matched on its own type).
struct Notes {
    descriptor: SystemDescriptor,
    members: Mutex<BTreeSet<(String, String)>>,
    strict_name: bool,
}

impl Notes {
    fn new(strict_name: bool) -> Self {
        Self {
            descriptor: SystemDescriptor::new("notes")
                .with_kind(ResourceKindDescriptor::new("space", &["add_to_space"])),
            members: Mutex::new(BTreeSet::new()),
            strict_name,
        }
    }
}

#[async_trait]
impl Adapter for Notes {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    async fn read_accounts(
        &self,
        _cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        Ok(Page::last(Vec::new()))
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        _cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let members = self.members.lock().unwrap();
        Ok(Page::last(
            members
                .iter()
                .filter(|(_, space)| space == &resource.resource)
                .map(|(login, space)| GrantRecord {
                    entitlement: Entitlement::new("notes", "space", space.clone()),
                    account_external_id: login.clone(),
                    login: Some(login.clone()),
                })
                .collect(),
        ))
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        let mut members = self.members.lock().unwrap();
        match &op.kind {
            OperationKind::Grant { entitlement } => {
                if self.strict_name && entitlement.system.as_str() != "notes" {
                    return Ok(Applied::already_in_place());
                }
                members.insert((account.login.clone(), entitlement.resource.clone()));
                Ok(Applied::changed())
            }
            OperationKind::Revoke { entitlement } => {
                // "No such member" is the vendor's 404: the executor calls it done.
                if members.remove(&(account.login.clone(), entitlement.resource.clone())) {
                    Ok(Applied::changed())
                } else {
                    Err(AdapterError::NotFound {
                        error: SystemError::new(Some(404), None, "no such member"),
                    })
                }
            }
            other => Err(AdapterError::Unsupported {
                what: other.verb().to_owned(),
            }),
        }
    }
}

fn ada() -> AccountRef {
    AccountRef::by_login("ada@example.com")
}

#[tokio::test]
async fn a_revoke_answered_not_found_is_done_as_the_executor_says() {
    let notes = Notes::new(false);
    let space = Entitlement::new("notes", "space", "eng");
    let effect = conformance::run(&notes, &ada(), OperationKind::Revoke { entitlement: space })
        .await
        .unwrap();
    assert_eq!(effect, Effect::AlreadyInPlace);
    // A grant answered NotFound stays an error.
    let grant = conformance::run(
        &notes,
        &ada(),
        OperationKind::Grant {
            entitlement: Entitlement::new("notes", "space", "eng"),
        },
    )
    .await;
    assert_eq!(grant.unwrap(), Effect::Changed);
}

#[tokio::test]
async fn an_adapter_that_ignores_its_deployment_name_passes_named_by_the_deployment() {
    let notes = Notes::new(false);
    named_by_the_deployment(&notes, &ada(), &Entitlement::new("notes", "space", "eng")).await;
}

#[tokio::test]
#[should_panic(expected = "named_by_the_deployment: ada@example.com does not hold")]
async fn an_adapter_that_matches_on_its_type_fails_named_by_the_deployment() {
    let notes = Notes::new(true);
    named_by_the_deployment(&notes, &ada(), &Entitlement::new("notes", "space", "eng")).await;
}
