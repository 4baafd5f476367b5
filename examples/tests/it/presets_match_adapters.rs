//! The sandbox presets of systems that have a real adapter carry that adapter's
//! credential-free descriptor: a policy that validates against the sandbox validates
//! against the real system, and a plan made against the sandbox is the plan the real
//! system gets.
//!
//! The real adapters' descriptors come from their factories' credential-free
//! `descriptor(spec)` — what `validate` sees in CI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use provision_core::adapter::{Adapter, AdapterFactory, SystemDescriptor, SystemSpec};
use provision_core::config::SystemConfig;
use provision_core::model::SystemName;
use provision_sandbox::presets;

/// A factory's descriptor for a system with no settings and no credentials.
fn factory_descriptor(factory: &dyn AdapterFactory) -> SystemDescriptor {
    let name = SystemName::new(factory.adapter_type());
    let config = SystemConfig::new(factory.adapter_type());
    factory
        .descriptor(SystemSpec {
            name: &name,
            config: &config,
        })
        .unwrap()
}

fn okta_descriptor() -> SystemDescriptor {
    factory_descriptor(provision_okta::factory().as_ref())
}

#[test]
fn the_okta_preset_is_the_okta_adapter() {
    assert_eq!(presets::okta().descriptor, okta_descriptor());
}

#[test]
fn the_google_preset_is_the_google_adapter() {
    assert_eq!(
        presets::google().descriptor,
        factory_descriptor(provision_google::factory().as_ref())
    );
}

#[test]
fn the_aws_preset_is_the_aws_adapter() {
    assert_eq!(
        presets::aws().descriptor,
        factory_descriptor(provision_aws::factory().as_ref())
    );
}

#[test]
fn the_scim_preset_is_the_scim_adapter() {
    assert_eq!(
        presets::scim().descriptor,
        factory_descriptor_with(
            provision_scim::factory().as_ref(),
            &[("base_url", "https://app.example.com/scim/v2/")]
        )
    );
}

/// As [`factory_descriptor`], with settings.
fn factory_descriptor_with(
    factory: &dyn AdapterFactory,
    settings: &[(&str, &str)],
) -> SystemDescriptor {
    let name = SystemName::new(factory.adapter_type());
    let mut config = SystemConfig::new(factory.adapter_type());
    for (k, v) in settings {
        config.settings.insert((*k).to_owned(), (*v).to_owned());
    }
    factory
        .descriptor(SystemSpec {
            name: &name,
            config: &config,
        })
        .unwrap()
}

#[test]
fn the_github_preset_is_the_github_adapter_on_a_plain_organization() {
    assert_eq!(
        presets::github().descriptor,
        factory_descriptor(provision_github::factory().as_ref())
    );
}

#[test]
fn the_org_unit_action_has_one_name() {
    let google = factory_descriptor(provision_google::factory().as_ref());
    assert_eq!(
        google
            .kind_for_action(presets::PLACE_IN_ORG_UNIT)
            .unwrap()
            .kind,
        "org_unit"
    );
    assert_eq!(
        presets::google()
            .descriptor
            .kind_for_action(presets::PLACE_IN_ORG_UNIT)
            .unwrap()
            .kind,
        "org_unit"
    );
}

#[test]
fn the_salesforce_preset_is_the_salesforce_adapter() {
    assert_eq!(
        presets::salesforce().descriptor,
        factory_descriptor(provision_salesforce::factory().as_ref())
    );
}

#[test]
fn the_salesforce_preset_cannot_delete_users() {
    let salesforce = presets::salesforce().descriptor;
    assert!(
        !salesforce.can_delete,
        "Salesforce deactivates, it never deletes users"
    );
    assert!(salesforce.can_suspend);
}

#[tokio::test]
async fn the_salesforce_sandbox_refuses_to_delete_a_user() {
    use provision_core::model::{
        AccountState, IdentityId, Operation, OperationId, OperationKind, Reason, ReasonKind,
        SystemName,
    };
    let salesforce = presets::salesforce().sandbox("salesforce", Default::default());
    salesforce.with_account("lee@company.com", AccountState::Active);
    let delete = Operation {
        id: OperationId("e1/salesforce/delete_account".to_owned()),
        identity: IdentityId::new("e1"),
        login: "lee@company.com".to_owned(),
        system: SystemName::new("salesforce"),
        kind: OperationKind::DeleteAccount,
        reason: Reason {
            kind: ReasonKind::Termination,
            policies: Vec::new(),
            event: None,
            detail: "a leaver".to_owned(),
            valid_until: None,
        },
        priority: Default::default(),
    };
    let err = salesforce
        .execute(
            &delete,
            &provision_core::model::AccountRef::by_login("lee@company.com"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), "unsupported", "{err}");
    assert!(
        salesforce
            .snapshot()
            .accounts
            .contains_key("lee@company.com"),
        "the user is still there"
    );
}
