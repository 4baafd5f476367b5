//! The [`Adapter`] implementation: entitlements and lifecycle onto Salesforce's
//! objects.
//!
//! The code is split by what it acts on: `accounts` (users, deactivation and
//! freezing, sessions), `profiles` (the one profile per user), `assignments`
//! (permission sets, permission set groups and licences) and `groups` (public
//! groups). `resources` resolves the names policies use to record ids. This module
//! holds the adapter and the trait impl, which sends each operation to its kind.

mod accounts;
mod assignments;
mod groups;
mod profiles;
mod resources;

use async_trait::async_trait;
use provision_core::adapter::{Adapter, AdapterError, Applied, Page, SystemDescriptor};
use provision_core::model::{
    AccountRecord, AccountRef, Entitlement, GrantRecord, Operation, OperationKind, ResourceRecord,
    ResourceRef,
};
use provision_http::names::NameCache;
use serde_json::Value;
use tracing::Instrument;

use crate::client::SalesforceClient;
use crate::config::{ConfigError, SalesforceConfig};
use crate::descriptor::{
    KIND_GROUP, KIND_PERMISSION_SET, KIND_PERMISSION_SET_GROUP, KIND_PERMISSION_SET_LICENSE,
    KIND_PROFILE, salesforce_descriptor,
};

pub use resources::RESOURCE_ID_TTL;

/// The Salesforce adapter.
#[derive(Debug)]
pub struct SalesforceAdapter {
    client: SalesforceClient,
    descriptor: SystemDescriptor,
    /// The system's name in the deployment (entitlements read carry it).
    system: String,
    /// `kind/name` → record id, resolved once per [`RESOURCE_ID_TTL`].
    ids: NameCache,
}

impl SalesforceAdapter {
    /// An adapter for the configured org.
    pub fn new(config: SalesforceConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            client: SalesforceClient::new(config)?,
            descriptor: salesforce_descriptor(),
            system: "salesforce".to_owned(),
            ids: NameCache::new(RESOURCE_ID_TTL),
        })
    }

    /// Builder-style: the system's name in the deployment, carried by the entitlements
    /// [`Adapter::read_account_grants`] reads (default `salesforce`).
    pub fn with_system_name(mut self, name: impl Into<String>) -> Self {
        self.system = name.into();
        self
    }

    /// The HTTP client (for reads the trait does not cover).
    pub fn client(&self) -> &SalesforceClient {
        &self.client
    }

    fn config(&self) -> &SalesforceConfig {
        self.client.config()
    }

    fn entitlement(&self, kind: &str, resource: &str) -> Entitlement {
        Entitlement::new(self.system.as_str(), kind, resource)
    }

    async fn grant(
        &self,
        account: &AccountRef,
        e: &Entitlement,
        add: bool,
    ) -> Result<Applied, AdapterError> {
        let uid = match self.user_id(account).await {
            Ok(uid) => uid,
            // No user with this login holds anything: the revoke is already done. (A
            // wrong instance is a `Configuration` error, never this `NotFound`.)
            Err(AdapterError::NotFound { .. }) if !add => return Ok(Applied::already_in_place()),
            Err(e) => return Err(e),
        };
        match (e.kind.as_str(), add) {
            (KIND_PROFILE, true) => self.set_profile(&uid, &e.resource).await,
            (KIND_PROFILE, false) => self.revoke_profile(&uid, &e.resource).await,
            (KIND_PERMISSION_SET | KIND_PERMISSION_SET_GROUP | KIND_PERMISSION_SET_LICENSE, _) => {
                self.change_assignment(&uid, &e.kind, &e.resource, add)
                    .await
            }
            (KIND_GROUP, _) => self.change_membership(&uid, &e.resource, add).await,
            (other, _) => Err(AdapterError::Unsupported {
                what: format!(
                    "Salesforce has no resource kind {other:?} (profile, permission_set, \
                     permission_set_group, permission_set_license, group)"
                ),
            }),
        }
    }
}

/// A string field of a query row, following relationship paths (`Assignee.Username`).
pub(crate) fn field<'a>(row: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.')
        .try_fold(row, |v, key| v.get(key))
        .and_then(Value::as_str)
}

#[async_trait]
impl Adapter for SalesforceAdapter {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// Every standard user, active or not, in SOQL batches (`nextRecordsUrl`); each
    /// batch's frozen users are found with one `UserLogin` query.
    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        self.account_page(cursor).await
    }

    /// The holders of one profile, permission set, permission set group, licence or
    /// public group, in SOQL batches.
    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        match resource.kind.as_str() {
            KIND_PROFILE => self.profile_holders(resource, cursor).await,
            KIND_PERMISSION_SET | KIND_PERMISSION_SET_GROUP | KIND_PERMISSION_SET_LICENSE => {
                self.assignees(resource, cursor).await
            }
            KIND_GROUP => self.members(resource, cursor).await,
            other => Err(AdapterError::Unsupported {
                what: format!("Salesforce has no resource kind {other:?}"),
            }),
        }
    }

    /// What one user holds: permission set and group assignments, public groups, then
    /// licences (last, so revoking in the order read never takes a licence from under
    /// a permission set that needs it).
    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.account_grants(account, cursor).await
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        self.resource_page(kind, cursor).await
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        let span = tracing::info_span!(
            "salesforce",
            op = %op.id,
            verb = op.kind.verb(),
            identity = %op.identity
        );
        self.run(op, account).instrument(span).await
    }
}

impl SalesforceAdapter {
    async fn run(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        match &op.kind {
            OperationKind::CreateAccount { profile } => self.create_user(profile).await,
            OperationKind::SuspendAccount => self.suspend(account).await,
            OperationKind::ReactivateAccount => self.reactivate(account).await,
            OperationKind::RevokeSessions => self.revoke_sessions(account).await,
            OperationKind::Grant { entitlement } => self.grant(account, entitlement, true).await,
            OperationKind::Revoke { entitlement } => self.grant(account, entitlement, false).await,
            OperationKind::DeleteAccount => Err(AdapterError::Unsupported {
                what: "delete_account: Salesforce users cannot be deleted; they are \
                       deactivated (suspend) instead"
                    .to_owned(),
            }),
            other => Err(AdapterError::Unsupported {
                what: other.verb().to_owned(),
            }),
        }
    }
}
