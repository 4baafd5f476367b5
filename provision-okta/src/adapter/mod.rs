//! The [`Adapter`] implementation: entitlements and lifecycle onto Okta's API.
//!
//! The code is split by what it acts on: `accounts` (users and their lifecycle),
//! `groups` (memberships) and `apps` (assignments). This module holds the adapter
//! and the trait impl, which sends each operation to its kind.

mod accounts;
mod apps;
mod groups;

use std::time::Duration;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountRecord, AccountRef, Entitlement, GrantRecord, Operation, OperationKind, ResourceRecord,
    ResourceRef,
};
use provision_http::names::NameCache;
use url::Url;

use crate::client::{OktaClient, Response};
use crate::config::ConfigError;
use crate::config::{ActivationDelivery, LeaverAction, OktaConfig};
use crate::descriptor::okta_descriptor;
use accounts::is_same_person;

/// Users per page: the largest `limit` `GET /api/v1/users` allows.
pub const USERS_PAGE_SIZE: u32 = 200;
/// Group members per page: the largest `limit` `GET /api/v1/groups/{id}/users` allows.
pub const GROUP_MEMBERS_PAGE_SIZE: u32 = 1000;
/// App assignments per page: the spec's maximum for `GET /api/v1/apps/{id}/users`.
pub const APP_USERS_PAGE_SIZE: u32 = 500;
/// Groups per page of the group listing (Okta recommends at most 200).
pub const GROUPS_PAGE_SIZE: u32 = 200;
/// Apps per page: the largest `limit` `GET /api/v1/apps` allows.
pub const APPS_PAGE_SIZE: u32 = 200;

/// When to look again at an activation waiting for the person (rehire with
/// [`ActivationDelivery::Pending`]).
pub const ACTIVATION_RECHECK: Duration = Duration::from_secs(60 * 60);

/// The account-grants cursor: phase 1 the user's groups, phase 2 their app links.
const GRANTS_GROUPS: &str = "groups|";
const GRANTS_APPS: &str = "apps|";

/// How long a group's id is reused before its name is looked up again (a group
/// deleted and created again under its name gets a new id).
pub const GROUP_ID_TTL: Duration = Duration::from_secs(15 * 60);

/// The Okta adapter.
#[derive(Debug)]
pub struct OktaAdapter {
    client: OktaClient,
    descriptor: SystemDescriptor,
    /// The system's name in the deployment (entitlements read carry it).
    pub(crate) system: String,
    /// Group name → id, resolved once per [`GROUP_ID_TTL`].
    group_ids: NameCache,
}

impl OktaAdapter {
    /// An adapter for the configured org.
    pub fn new(config: OktaConfig) -> Result<Self, ConfigError> {
        let descriptor = okta_descriptor(
            config.leaver_action,
            config.manage_apps,
            config.profile_mapping.values().map(String::as_str),
        );
        Ok(Self {
            client: OktaClient::new(config)?,
            descriptor,
            system: "okta".to_owned(),
            group_ids: NameCache::new(GROUP_ID_TTL),
        })
    }

    /// Builder-style: the system's name in the deployment (`okta-contractors`), carried
    /// by the entitlements [`Adapter::read_account_grants`] reads (default `okta`).
    pub fn with_system_name(mut self, name: impl Into<String>) -> Self {
        self.system = name.into();
        self
    }

    /// The HTTP client (for reads the trait does not cover).
    pub fn client(&self) -> &OktaClient {
        &self.client
    }

    fn config(&self) -> &OktaConfig {
        self.client.config()
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
            // wrong org URL is a `Configuration` error, never this `NotFound`.)
            Err(AdapterError::NotFound { .. }) if !add => return Ok(Applied::already_in_place()),
            Err(e) => return Err(e),
        };
        match e.kind.as_str() {
            "group" => self.change_membership(uid, &e.resource, add).await,
            "app" if self.config().manage_apps => {
                self.change_assignment(uid, &e.resource, add).await
            }
            other => Err(AdapterError::Unsupported {
                what: format!("Okta has no resource kind {other:?} (group, app)"),
            }),
        }
    }
}

#[async_trait]
impl Adapter for OktaAdapter {
    fn evidence_source(&self) -> Option<&dyn provision_core::adapter::EvidenceSource> {
        Some(self)
    }

    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// Every user: the plain listing (which omits `DEPROVISIONED` users), then a
    /// search for the `DEPROVISIONED` ones, both paged by the `Link` header.
    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        self.account_page(cursor).await
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        match resource.kind.as_str() {
            "group" => self.read_group_members(resource, cursor).await,
            "app" => self.read_app_users(resource, cursor).await,
            other => Err(AdapterError::Unsupported {
                what: format!("Okta has no resource kind {other:?} (group, app)"),
            }),
        }
    }

    /// A user's `OKTA_GROUP` memberships (`Link` paged), then their own app
    /// assignments; an unknown user has none.
    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let Some(uid) = self.user_id_for_read(account).await? else {
            return Ok(Page::last(Vec::new()));
        };
        match cursor {
            None => self.read_user_groups(&uid, None, account).await,
            Some(c) if c == GRANTS_APPS => self.read_user_apps(&uid, account).await,
            Some(c) => match c.strip_prefix(GRANTS_GROUPS) {
                Some(url) => {
                    self.read_user_groups(&uid, Some(parse_cursor(url)?), account)
                        .await
                }
                None => Err(AdapterError::Invalid {
                    error: SystemError::message("not an Okta account-grants cursor"),
                }),
            },
        }
    }

    /// Every `OKTA_GROUP`, or every app, `Link` paged.
    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        match kind {
            "group" => self.group_resources(cursor).await,
            "app" if self.config().manage_apps => self.app_resources(cursor).await,
            other => Err(AdapterError::Unsupported {
                what: format!("list_resources: Okta lists groups and apps, not {other:?}"),
            }),
        }
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        match &op.kind {
            OperationKind::CreateAccount { profile } => self.create_account(profile).await,
            OperationKind::UpdateAccount { attributes } => {
                self.update_account(account, attributes).await
            }
            OperationKind::SuspendAccount => self.suspend_account(account).await,
            OperationKind::ReactivateAccount => self.reactivate_account(account).await,
            OperationKind::RevokeSessions => self.revoke_sessions(account).await,
            OperationKind::DeleteAccount => self.delete_account(account).await,
            OperationKind::Grant { entitlement } => self.grant(account, entitlement, true).await,
            OperationKind::Revoke { entitlement } => self.grant(account, entitlement, false).await,
            other => Err(AdapterError::Unsupported {
                what: other.verb().to_owned(),
            }),
        }
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        let user = match &account.external_id {
            Some(id) => match self.get_user(id).await {
                Ok(u) => Some(u),
                Err(AdapterError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            None => self.find_user_by_login(&account.login).await?,
        };
        let done = |id: &str| CheckStatus::Done {
            external_id: Some(id.to_owned()),
        };
        Ok(match (&op.kind, user) {
            (OperationKind::DeleteAccount, None) => CheckStatus::Done { external_id: None },
            (_, None) => CheckStatus::NotDone,
            // A user with this login is "the account" only when it is the same person:
            // otherwise the executor would adopt someone else's account after a conflict.
            (OperationKind::CreateAccount { profile }, Some(u)) => {
                if is_same_person(&u, profile) {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            (OperationKind::SuspendAccount, Some(u)) => {
                let target: &[&str] = match self.config().leaver_action {
                    LeaverAction::Suspend => &["SUSPENDED", "DEPROVISIONED"],
                    LeaverAction::Deactivate => &["DEPROVISIONED"],
                };
                if target.contains(&u.status.as_str()) {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            (OperationKind::ReactivateAccount, Some(u)) => {
                if u.status == "PROVISIONED"
                    && self.config().activation == ActivationDelivery::Pending
                {
                    CheckStatus::Pending {
                        recheck_after: ACTIVATION_RECHECK,
                    }
                } else if u.state().is_enabled() {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            (
                OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement },
                Some(u),
            ) if entitlement.kind == "group" => {
                let member = self.is_member(&u.id, &entitlement.resource).await?;
                let granting = matches!(op.kind, OperationKind::Grant { .. });
                if member == granting {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            (
                OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement },
                Some(u),
            ) if entitlement.kind == "app" => {
                let assigned = self.is_assigned(&u.id, &entitlement.resource).await?;
                let granting = matches!(op.kind, OperationKind::Grant { .. });
                if assigned == granting {
                    done(&u.id)
                } else {
                    CheckStatus::NotDone
                }
            }
            // Sessions and profile updates cannot be checked cheaply: send again (idempotent).
            _ => CheckStatus::NotDone,
        })
    }
}

fn changed(id: String, r: Response) -> Applied {
    Applied::changed()
        .with_external_id(id)
        .with_rate_limit(r.rate_limit)
}

/// Quotes a value for an Okta search/filter expression.
fn escape_filter(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

fn parse_cursor(cursor: &str) -> Result<Url, AdapterError> {
    Url::parse(cursor).map_err(|e| AdapterError::Invalid {
        error: SystemError::message(format!("not an Okta pagination cursor: {e}")),
    })
}
