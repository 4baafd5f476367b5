//! The [`Adapter`] implementation: entitlements onto IAM Identity Center.
//!
//! | entitlement | meaning | grant | revoke |
//! | --- | --- | --- | --- |
//! | `group` / `<display name>` | identity-store group membership | `CreateGroupMembership` | `DeleteGroupMembership` by `MembershipId` (from the read, or `GetGroupMembershipId`) |
//! | `permission_set` / `<name>`, scope `account:<name or id>` | the permission set assigned to the person's user on the account | `CreateAccountAssignment` (`USER`) | `DeleteAccountAssignment` (`USER`) |
//! | `permission_set` / `group:<group>/<name>`, scope `account:<name or id>` | the person holds the permission set through a group that has it | membership in `<group>` plus `CreateAccountAssignment` (`GROUP`) | the membership only: the group's assignment stays, other members keep it |
//!
//! Account assignments are asynchronous: while AWS reports `IN_PROGRESS` the adapter
//! answers [`AdapterError::Pending`] (its system error carries the request id) and
//! [`Adapter::check`] polls `DescribeAccountAssignment{Creation,Deletion}Status`:
//! `IN_PROGRESS` → pending, `SUCCEEDED` → done, `FAILED` → a permanent error with
//! AWS's `FailureReason` — except a deletion that ends `FAILED` while the assignment is
//! gone (listed again), which is done. A pending request's id goes into the journal
//! ([`Adapter::pending_resume_token`]) so that a check after a restart reads its status.
//!
//! An Identity Store `ConflictException` is "already done" only with the documented
//! `UNIQUENESS_CONSTRAINT_VIOLATION`; without a `Reason` (the model sets one only for
//! KMS errors) it may be a concurrent modification, so it is a conflict to confirm
//! with the check (`CreateGroupMembership` reads the membership itself). A
//! `CreateUser` conflict with no user of that name to adopt is never success.
//!
//! Identity Center cannot suspend a user or end sessions: the descriptor says so, so the
//! planner revokes a leaver's assignments and memberships, then deletes the user when
//! the deployment sets `delete_leavers`.
//!
//! Both kinds are enumerable: [`Adapter::list_resources`] lists every group
//! (`ListGroups`) and every permission set (`ListPermissionSets` +
//! `DescribePermissionSet`), and [`Adapter::read_account_grants`] reads everything a
//! user holds — group memberships (`ListGroupMembershipsForMember`) then direct
//! account assignments (`ListAccountAssignmentsForPrincipal`) — whether or not a
//! policy names it, so a leaver can be left with nothing.
//!
//! The code is split by job: [`names`](self) resolves names to ids (instance, users,
//! groups, permission sets, accounts), `groups` handles memberships, `assignments`
//! the asynchronous account assignments, `users` the identity-store users.

mod assignments;
mod groups;
mod names;
mod users;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, ConfigError, Page, PendingDeadline,
    ResourceKindDescriptor, SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountProfile, AccountRecord, AccountRef, AccountState, Entitlement, GrantRecord, Operation,
    OperationId, OperationKind, ResourceRecord, ResourceRef, SystemName,
};
use serde_json::json;
use tokio::sync::OnceCell;

use crate::client::{AwsClient, Service};
use crate::config::AwsConfig;
use crate::model::*;
use users::state_of;

/// The largest page the APIs allow.
pub const PAGE_SIZE: u32 = 100;

/// The entitlement kind for identity-store groups.
pub const KIND_GROUP: &str = "group";
/// The entitlement kind for permission sets on accounts.
pub const KIND_PERMISSION_SET: &str = "permission_set";
/// The prefix of a permission-set resource held through a group.
pub const GROUP_PRINCIPAL_PREFIX: &str = "group:";

/// The Identity Center instance in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `arn:aws:sso:::instance/ssoins-…`.
    pub instance_arn: String,
    /// `d-…`.
    pub identity_store_id: String,
}

/// Who holds a permission-set assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// The person's own user.
    User,
    /// A group the person is a member of (by display name).
    Group(String),
}

/// A permission-set entitlement, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssignmentTarget {
    permission_set: String,
    principal: Principal,
    account_id: String,
}

/// An asynchronous assignment request the adapter is waiting on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingRequest {
    deletion: bool,
    request_id: String,
}

impl PendingRequest {
    /// The journal's form: `creation:<request id>` or `deletion:<request id>`.
    fn token(&self) -> String {
        let what = if self.deletion {
            "deletion"
        } else {
            "creation"
        };
        format!("{what}:{}", self.request_id)
    }

    /// Reads [`PendingRequest::token`]'s form back.
    fn from_token(token: &str) -> Option<Self> {
        let (what, request_id) = token.split_once(':')?;
        let deletion = match what {
            "deletion" => true,
            "creation" => false,
            _ => return None,
        };
        (!request_id.is_empty()).then(|| PendingRequest {
            deletion,
            request_id: request_id.to_owned(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn invalid(message: impl Into<String>) -> AdapterError {
    AdapterError::Invalid {
        error: SystemError::message(message),
    }
}

/// Where [`Adapter::read_account_grants`] is: the user's group memberships first, then
/// the account assignments made to the user, each with AWS's own page token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AccountGrantsCursor {
    /// `ListGroupMembershipsForMember`, at this token.
    Memberships(Option<String>),
    /// `ListAccountAssignmentsForPrincipal`, at this token.
    Assignments(Option<String>),
}

impl AccountGrantsCursor {
    fn parse(cursor: Option<&str>) -> Result<Self, AdapterError> {
        let Some(cursor) = cursor else {
            return Ok(Self::Memberships(None));
        };
        let token = |t: &str| (!t.is_empty()).then(|| t.to_owned());
        if let Some(t) = cursor.strip_prefix("memberships:") {
            Ok(Self::Memberships(token(t)))
        } else if let Some(t) = cursor.strip_prefix("assignments:") {
            Ok(Self::Assignments(token(t)))
        } else {
            Err(invalid(format!(
                "'{cursor}' is not a cursor of read_account_grants"
            )))
        }
    }

    fn render(&self) -> String {
        match self {
            Self::Memberships(t) => format!("memberships:{}", t.as_deref().unwrap_or_default()),
            Self::Assignments(t) => format!("assignments:{}", t.as_deref().unwrap_or_default()),
        }
    }
}

/// The AWS IAM Identity Center adapter.
///
/// One value serves one run: names (groups, permission sets) are resolved once and
/// cached; build a new adapter (or call [`AwsAdapter::reset_caches`]) for the next run.
#[derive(Debug)]
pub struct AwsAdapter {
    pub(crate) config: AwsConfig,
    pub(crate) client: AwsClient,
    descriptor: SystemDescriptor,
    instance: OnceCell<Instance>,
    permission_sets: OnceCell<HashMap<String, String>>,
    groups: Mutex<HashMap<String, String>>,
    group_names: Mutex<HashMap<String, String>>,
    permission_set_names: Mutex<HashMap<String, String>>,
    user_ids: Mutex<HashMap<String, String>>,
    user_logins: Mutex<HashMap<String, String>>,
    memberships: Mutex<HashMap<(String, String), String>>,
    pending: Mutex<HashMap<OperationId, PendingRequest>>,
}

impl AwsAdapter {
    /// An adapter for the configured instance (discovered on first use when not configured).
    pub fn new(config: AwsConfig) -> Result<Self, ConfigError> {
        let client = AwsClient::new(&config).map_err(|e| ConfigError::Other {
            system: config.system_name.clone(),
            message: e.to_string(),
        })?;
        let instance = OnceCell::new();
        if let (Some(arn), Some(store)) = (&config.instance_arn, &config.identity_store_id) {
            let _ = instance.set(Instance {
                instance_arn: arn.clone(),
                identity_store_id: store.clone(),
            });
        }
        Ok(Self {
            config,
            client,
            descriptor: Self::system_descriptor(),
            instance,
            permission_sets: OnceCell::new(),
            groups: Mutex::default(),
            group_names: Mutex::default(),
            permission_set_names: Mutex::default(),
            user_ids: Mutex::default(),
            user_logins: Mutex::default(),
            memberships: Mutex::default(),
            pending: Mutex::default(),
        })
    }

    /// What Identity Center understands: groups, and permission sets scoped by account;
    /// accounts (users) that can be deleted but neither suspended nor signed out.
    pub fn system_descriptor() -> SystemDescriptor {
        let mut d = SystemDescriptor::new("aws")
            .with_kind(ResourceKindDescriptor::new(KIND_GROUP, &["add_to_group"]).enumerable())
            .with_kind(
                ResourceKindDescriptor::new(KIND_PERMISSION_SET, &["assign_permission_set"])
                    .with_scope("account")
                    .enumerable(),
            )
            // assignments usually settle in seconds; two minutes cover a busy instance
            .with_pending_deadline(PendingDeadline::After {
                wait: std::time::Duration::from_secs(120),
            });
        d.has_accounts = true;
        d.accounts_created_on_first_login = false;
        // No suspension in the API: a leaver's access ends by revoking every assignment
        // and membership (then DeleteUser where configured).
        d.can_suspend = false;
        // Neither service can end portal or role sessions.
        d.can_revoke_sessions = false;
        d.can_delete = true;
        d.suspension_keeps_grants = false;
        d
    }

    /// Forgets every name resolved so far (for a new run with the same adapter).
    pub fn reset_caches(&mut self) {
        self.permission_sets = OnceCell::new();
        lock(&self.groups).clear();
        lock(&self.group_names).clear();
        lock(&self.permission_set_names).clear();
        lock(&self.user_ids).clear();
        lock(&self.user_logins).clear();
        lock(&self.memberships).clear();
    }
}

impl AwsAdapter {
    async fn grant(
        &self,
        op: &Operation,
        entitlement: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        match entitlement.kind.as_str() {
            KIND_GROUP => {
                let user_id = self.user_id(account).await?;
                self.add_membership(&entitlement.resource, &user_id).await
            }
            KIND_PERMISSION_SET => {
                let target =
                    self.assignment_target(&entitlement.resource, entitlement.scope.as_deref())?;
                let user_id = self.user_id(account).await?;
                match &target.principal {
                    Principal::User => {
                        let request = self.assignment_request(&target, "USER", user_id).await?;
                        self.create_assignment(&op.id, &request).await
                    }
                    Principal::Group(group) => {
                        // The person joins the group, and the group holds the assignment.
                        self.add_membership(group, &user_id).await?;
                        let group_id = self.group_id(group).await?;
                        let request = self.assignment_request(&target, "GROUP", group_id).await?;
                        self.create_assignment(&op.id, &request).await
                    }
                }
            }
            other => Err(invalid(format!("unknown AWS entitlement kind '{other}'"))),
        }
    }

    async fn revoke(
        &self,
        op: &Operation,
        entitlement: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let Some(user_id) = self.known_user_id(account).await? else {
            // No user, so no grant.
            return Ok(Applied::already_in_place());
        };
        match entitlement.kind.as_str() {
            KIND_GROUP => {
                self.remove_membership(&entitlement.resource, &user_id)
                    .await
            }
            KIND_PERMISSION_SET => {
                let target =
                    self.assignment_target(&entitlement.resource, entitlement.scope.as_deref())?;
                match &target.principal {
                    Principal::User => {
                        let request = self.assignment_request(&target, "USER", user_id).await?;
                        self.delete_assignment(&op.id, &request).await
                    }
                    // The group keeps its assignment for its other members; this person
                    // loses it by leaving the group.
                    Principal::Group(group) => self.remove_membership(group, &user_id).await,
                }
            }
            other => Err(invalid(format!("unknown AWS entitlement kind '{other}'"))),
        }
    }
}

#[async_trait]
impl Adapter for AwsAdapter {
    fn evidence_source(&self) -> Option<&dyn provision_core::adapter::EvidenceSource> {
        Some(self)
    }

    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let request = ListUsersRequest {
            identity_store_id: self.store_id().await?,
            max_results: PAGE_SIZE,
            next_token: cursor.map(str::to_owned),
        };
        let page: ListUsersResponse = self
            .client
            .call(Service::IdentityStore, "ListUsers", &request)
            .await?;
        let mut items = Vec::with_capacity(page.users.len());
        for u in page.users {
            let Some(login) = u.user_name.clone() else {
                continue;
            };
            self.remember_user(&login, &u.user_id);
            let mut attributes = std::collections::BTreeMap::new();
            if let Some(d) = u.display_name {
                attributes.insert("display_name".to_owned(), d);
            }
            if let Some(email) = u
                .emails
                .iter()
                .find(|e| e.primary == Some(true))
                .or(u.emails.first())
                .and_then(|e| e.value.clone())
            {
                attributes.insert("email".to_owned(), email);
            }
            items.push(AccountRecord {
                external_id: u.user_id,
                login,
                state: state_of(u.user_status.as_deref()),
                last_login: None,
                attributes,
                correlation: Default::default(),
            });
        }
        Ok(Page::new(items, page.next_token.filter(|t| !t.is_empty())))
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let entitlement = Entitlement {
            system: resource.system.clone(),
            kind: resource.kind.clone(),
            resource: resource.resource.clone(),
            role: None,
            scope: resource.scope.clone(),
        };
        match resource.kind.as_str() {
            KIND_GROUP => {
                self.group_members_page(&resource.resource, &entitlement, cursor)
                    .await
            }
            KIND_PERMISSION_SET => {
                let target =
                    self.assignment_target(&resource.resource, resource.scope.as_deref())?;
                match &target.principal {
                    Principal::User => {
                        let page = self.list_assignments(&target, cursor).await?;
                        let items = page
                            .account_assignments
                            .into_iter()
                            .filter(|a| a.principal_type.as_deref() == Some("USER"))
                            .filter_map(|a| a.principal_id)
                            .map(|id| GrantRecord {
                                entitlement: entitlement.clone(),
                                login: lock(&self.user_logins).get(&id).cloned(),
                                account_external_id: id,
                            })
                            .collect();
                        Ok(Page::new(items, page.next_token.filter(|t| !t.is_empty())))
                    }
                    // Held through a group: the group's members hold it when the group
                    // has the assignment. The cursor pages through the members.
                    Principal::Group(group) => {
                        if cursor.is_none() {
                            let group_id = self.group_id(group).await?;
                            if !self.holds_assignment(&target, "GROUP", &group_id).await? {
                                return Ok(Page::last(Vec::new()));
                            }
                        }
                        self.group_members_page(group, &entitlement, cursor).await
                    }
                }
            }
            other => Err(invalid(format!("unknown AWS entitlement kind '{other}'"))),
        }
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let Some(user_id) = self.known_user_id(account).await? else {
            return Ok(Page::last(Vec::new()));
        };
        let system = SystemName::new(self.config.system_name.clone());
        let result = async {
            match AccountGrantsCursor::parse(cursor)? {
                AccountGrantsCursor::Memberships(token) => {
                    let (items, next) = self
                        .user_memberships_page(&system, &user_id, &account.login, token.as_deref())
                        .await?;
                    let next = match next {
                        Some(t) => AccountGrantsCursor::Memberships(Some(t)),
                        None => AccountGrantsCursor::Assignments(None),
                    };
                    Ok(Page::new(items, Some(next.render())))
                }
                AccountGrantsCursor::Assignments(token) => {
                    let (items, next) = self
                        .user_assignments_page(&system, &user_id, &account.login, token.as_deref())
                        .await?;
                    Ok(Page::new(
                        items,
                        next.map(|t| AccountGrantsCursor::Assignments(Some(t)).render()),
                    ))
                }
            }
        }
        .await;
        match result {
            // the user is gone: it holds nothing
            Err(AdapterError::NotFound { .. }) => Ok(Page::last(Vec::new())),
            other => other,
        }
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        match kind {
            KIND_GROUP => self.groups_page(cursor).await,
            KIND_PERMISSION_SET => self.permission_sets_page(cursor).await,
            other => Err(invalid(format!("unknown AWS entitlement kind '{other}'"))),
        }
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        match &op.kind {
            OperationKind::CreateAccount { profile } => self.create_user(profile).await,
            OperationKind::UpdateAccount { attributes } => {
                self.update_user(account, attributes).await
            }
            OperationKind::DeleteAccount => self.delete_user(account).await,
            OperationKind::Grant { entitlement } => self.grant(op, entitlement, account).await,
            OperationKind::Revoke { entitlement } => {
                self.revoke(op, entitlement, account).await
            }
            OperationKind::SuspendAccount => Err(AdapterError::Unsupported {
                what: "IAM Identity Center cannot suspend a user; revoke the assignments and memberships instead".into(),
            }),
            OperationKind::ReactivateAccount => Err(AdapterError::Unsupported {
                what: "IAM Identity Center users are never suspended by this adapter, so there is nothing to reactivate".into(),
            }),
            OperationKind::RevokeSessions => Err(AdapterError::Unsupported {
                what: "IAM Identity Center has no API to end a user's sessions".into(),
            }),
            other => Err(AdapterError::Unsupported {
                what: other.verb().to_owned(),
            }),
        }
    }

    /// A pending assignment's request (`creation:<id>` / `deletion:<id>`), kept in the
    /// journal so that a check after a restart reads that request's status (and its
    /// failure reason) instead of sending the assignment again.
    fn pending_resume_token(&self, op: &OperationId) -> Option<String> {
        lock(&self.pending).get(op).map(PendingRequest::token)
    }

    fn resume_pending(&self, op: &OperationId, token: &str) {
        match PendingRequest::from_token(token) {
            Some(request) => {
                lock(&self.pending).insert(op.clone(), request);
            }
            None => {
                tracing::warn!(operation = %op, "unreadable pending assignment token in the journal; checking the assignments instead")
            }
        }
    }

    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        match &op.kind {
            OperationKind::CreateAccount { profile } => {
                Ok(match self.find_user(&profile.login).await? {
                    Some(id) => CheckStatus::Done {
                        external_id: Some(id),
                    },
                    None => CheckStatus::NotDone,
                })
            }
            OperationKind::DeleteAccount => Ok(match self.find_user(&account.login).await? {
                Some(_) => CheckStatus::NotDone,
                None => CheckStatus::Done { external_id: None },
            }),
            OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement } => {
                let granting = matches!(op.kind, OperationKind::Grant { .. });
                match entitlement.kind.as_str() {
                    KIND_PERMISSION_SET => {
                        self.check_assignment(op, entitlement, account, granting)
                            .await
                    }
                    KIND_GROUP => {
                        let present = match self.known_user_id(account).await? {
                            Some(user_id) => {
                                let group_id = self.group_id(&entitlement.resource).await?;
                                self.membership_id(&group_id, &user_id).await?.is_some()
                            }
                            None => false,
                        };
                        Ok(if present == granting {
                            CheckStatus::Done { external_id: None }
                        } else {
                            CheckStatus::NotDone
                        })
                    }
                    other => Err(invalid(format!("unknown AWS entitlement kind '{other}'"))),
                }
            }
            _ => Ok(CheckStatus::NotDone),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use provision_http::names::PersonName;

    fn profile(display: &str, attrs: &[(&str, &str)]) -> AccountProfile {
        AccountProfile {
            login: "sarah.chen@example.com".into(),
            email: "sarah.chen@example.com".into(),
            display_name: display.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        }
    }

    fn name_parts(profile: &AccountProfile) -> (String, String) {
        let PersonName { given, family } = PersonName::from_profile(profile);
        (given, family)
    }

    /// AWS's own expectations, now met by the toolkit's one rule.
    #[test]
    fn names_come_from_attributes_then_display_name_then_login() {
        assert_eq!(
            name_parts(&profile(
                "Sarah Chen",
                &[("given_name", "Sarah"), ("family_name", "Chen-Li")]
            )),
            ("Sarah".into(), "Chen-Li".into())
        );
        assert_eq!(
            name_parts(&profile("Sarah van der Berg", &[])),
            ("Sarah".into(), "van der Berg".into())
        );
        assert_eq!(
            name_parts(&profile("Cher", &[])),
            ("Cher".into(), "Cher".into())
        );
        assert_eq!(
            name_parts(&profile("  ", &[])),
            ("sarah.chen".into(), "sarah.chen".into())
        );
    }

    #[test]
    fn descriptor_says_no_suspend_no_sessions_but_delete() {
        let d = AwsAdapter::system_descriptor();
        assert!(!d.can_suspend && !d.can_revoke_sessions && d.can_delete && d.has_accounts);
        assert_eq!(
            d.kind("permission_set").and_then(|k| k.scope.as_deref()),
            Some("account")
        );
        assert!(d.kind("group").is_some());
    }
}
