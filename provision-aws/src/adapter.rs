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
//! AWS's `FailureReason`.
//!
//! Identity Center cannot suspend a user or end sessions: the descriptor says so, so the
//! planner revokes a leaver's assignments and memberships, then deletes the user when
//! the deployment sets `delete_leavers`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, ResourceKindDescriptor, SystemDescriptor,
    SystemError,
};
use provision_core::model::{
    AccountProfile, AccountRecord, AccountRef, AccountState, Entitlement, GrantRecord, Operation,
    OperationId, OperationKind, ResourceRef,
};
use serde_json::json;
use tokio::sync::OnceCell;
use tracing::{Instrument, info, info_span};

use crate::client::{AwsClient, Service};
use crate::config::AwsConfig;
use crate::model::*;

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
enum Principal {
    /// The person's own user.
    User,
    /// A group the person is a member of (by display name).
    Group(String),
}

/// A permission-set entitlement, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AssignmentTarget {
    permission_set: String,
    principal: Principal,
    account_id: String,
}

/// An asynchronous assignment request the adapter is waiting on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingRequest {
    deletion: bool,
    request_id: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn invalid(message: impl Into<String>) -> AdapterError {
    AdapterError::Invalid {
        error: SystemError::message(message),
    }
}

/// The AWS IAM Identity Center adapter.
///
/// One value serves one run: names (groups, permission sets) are resolved once and
/// cached; build a new adapter (or call [`AwsAdapter::reset_caches`]) for the next run.
#[derive(Debug)]
pub struct AwsAdapter {
    config: AwsConfig,
    client: AwsClient,
    descriptor: SystemDescriptor,
    instance: OnceCell<Instance>,
    permission_sets: OnceCell<HashMap<String, String>>,
    groups: Mutex<HashMap<String, String>>,
    user_ids: Mutex<HashMap<String, String>>,
    user_logins: Mutex<HashMap<String, String>>,
    memberships: Mutex<HashMap<(String, String), String>>,
    pending: Mutex<HashMap<OperationId, PendingRequest>>,
}

impl AwsAdapter {
    /// An adapter for the configured instance (discovered on first use when not configured).
    pub fn new(config: AwsConfig) -> Result<Self, AdapterError> {
        let client = AwsClient::new(&config)?;
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
            user_ids: Mutex::default(),
            user_logins: Mutex::default(),
            memberships: Mutex::default(),
            pending: Mutex::default(),
        })
    }

    /// What Identity Center understands: groups, and permission sets scoped by account;
    /// accounts (users) that can be deleted but neither suspended nor signed out.
    pub fn system_descriptor() -> SystemDescriptor {
        let mut d = SystemDescriptor::new("aws");
        d.kinds
            .push(ResourceKindDescriptor::new(KIND_GROUP, &["add_to_group"]));
        d.kinds.push(
            ResourceKindDescriptor::new(KIND_PERMISSION_SET, &["assign_permission_set"])
                .with_scope("account"),
        );
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
        lock(&self.user_ids).clear();
        lock(&self.user_logins).clear();
        lock(&self.memberships).clear();
    }

    /// The instance in use: configured, or the only one `ListInstances` returns.
    pub async fn instance(&self) -> Result<&Instance, AdapterError> {
        self.instance
            .get_or_try_init(|| async {
                let mut found = Vec::new();
                let mut token = None;
                loop {
                    let page: ListInstancesResponse = self
                        .client
                        .call(
                            Service::SsoAdmin,
                            "ListInstances",
                            &ListInstancesRequest {
                                max_results: PAGE_SIZE,
                                next_token: token.take(),
                            },
                        )
                        .await?;
                    found.extend(page.instances.into_iter().filter_map(|i| {
                        Some(Instance {
                            instance_arn: i.instance_arn?,
                            identity_store_id: i.identity_store_id?,
                        })
                    }));
                    match page.next_token {
                        Some(t) if !t.is_empty() => token = Some(t),
                        _ => break,
                    }
                }
                match found.len() {
                    1 => Ok(found.remove(0)),
                    0 => Err(invalid(
                        "ListInstances returned no IAM Identity Center instance; configure instance_arn and identity_store_id",
                    )),
                    n => Err(invalid(format!(
                        "ListInstances returned {n} IAM Identity Center instances; configure instance_arn and identity_store_id to choose one"
                    ))),
                }
            })
            .await
    }

    async fn store_id(&self) -> Result<String, AdapterError> {
        Ok(self.instance().await?.identity_store_id.clone())
    }

    async fn instance_arn(&self) -> Result<String, AdapterError> {
        Ok(self.instance().await?.instance_arn.clone())
    }

    fn remember_user(&self, login: &str, id: &str) {
        lock(&self.user_ids).insert(login.to_owned(), id.to_owned());
        lock(&self.user_logins).insert(id.to_owned(), login.to_owned());
    }

    /// The user id of a login, `None` when there is no such user.
    async fn find_user(&self, login: &str) -> Result<Option<String>, AdapterError> {
        if let Some(id) = lock(&self.user_ids).get(login) {
            return Ok(Some(id.clone()));
        }
        let request = GetUserIdRequest {
            identity_store_id: self.store_id().await?,
            alternate_identifier: AlternateIdentifier {
                unique_attribute: UniqueAttribute {
                    attribute_path: "userName".into(),
                    attribute_value: login.to_owned(),
                },
            },
        };
        match self
            .client
            .call::<_, GetUserIdResponse>(Service::IdentityStore, "GetUserId", &request)
            .await
        {
            Ok(r) => {
                self.remember_user(login, &r.user_id);
                Ok(Some(r.user_id))
            }
            Err(e) if e.is("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The user id of an account: the known external id, else a look-up by login.
    async fn known_user_id(&self, account: &AccountRef) -> Result<Option<String>, AdapterError> {
        match &account.external_id {
            Some(id) => Ok(Some(id.clone())),
            None => self.find_user(&account.login).await,
        }
    }

    async fn user_id(&self, account: &AccountRef) -> Result<String, AdapterError> {
        if let Some(id) = &account.external_id {
            return Ok(id.clone());
        }
        self.find_user(&account.login)
            .await?
            .ok_or_else(|| AdapterError::NotFound {
                error: SystemError::message(format!(
                    "no identity-store user with user name '{}'",
                    account.login
                )),
            })
    }

    /// A group's id by display name, resolved once per run.
    async fn group_id(&self, name: &str) -> Result<String, AdapterError> {
        if let Some(id) = lock(&self.groups).get(name) {
            return Ok(id.clone());
        }
        let request = GetGroupIdRequest {
            identity_store_id: self.store_id().await?,
            alternate_identifier: AlternateIdentifier {
                unique_attribute: UniqueAttribute {
                    attribute_path: "displayName".into(),
                    attribute_value: name.to_owned(),
                },
            },
        };
        let r: GetGroupIdResponse = self
            .client
            .call(Service::IdentityStore, "GetGroupId", &request)
            .await
            .map_err(|e| {
                if e.is("ResourceNotFoundException") {
                    invalid(format!(
                        "the identity store has no group named '{name}' (policies name groups by display name)"
                    ))
                } else {
                    e.into()
                }
            })?;
        lock(&self.groups).insert(name.to_owned(), r.group_id.clone());
        Ok(r.group_id)
    }

    /// Permission-set name → ARN, resolved once per run.
    async fn permission_set_arn(&self, name: &str) -> Result<String, AdapterError> {
        let map = self
            .permission_sets
            .get_or_try_init(|| async {
                let instance_arn = self.instance_arn().await?;
                let mut arns = Vec::new();
                let mut token = None;
                loop {
                    let page: ListPermissionSetsResponse = self
                        .client
                        .call(
                            Service::SsoAdmin,
                            "ListPermissionSets",
                            &ListPermissionSetsRequest {
                                instance_arn: instance_arn.clone(),
                                max_results: PAGE_SIZE,
                                next_token: token.take(),
                            },
                        )
                        .await?;
                    arns.extend(page.permission_sets);
                    match page.next_token {
                        Some(t) if !t.is_empty() => token = Some(t),
                        _ => break,
                    }
                }
                let mut map = HashMap::new();
                for arn in arns {
                    let d: DescribePermissionSetResponse = self
                        .client
                        .call(
                            Service::SsoAdmin,
                            "DescribePermissionSet",
                            &DescribePermissionSetRequest {
                                instance_arn: instance_arn.clone(),
                                permission_set_arn: arn.clone(),
                            },
                        )
                        .await?;
                    if let Some(n) = d.permission_set.name {
                        map.insert(n, arn);
                    }
                }
                Ok::<_, AdapterError>(map)
            })
            .await?;
        map.get(name).cloned().ok_or_else(|| {
            invalid(format!(
                "no permission set named '{name}' in the Identity Center instance"
            ))
        })
    }

    /// Parses a `permission_set` entitlement's resource and scope.
    fn assignment_target(
        &self,
        resource: &str,
        scope: Option<&str>,
    ) -> Result<AssignmentTarget, AdapterError> {
        let scope = scope.ok_or_else(|| {
            invalid(format!(
                "permission set '{resource}' needs a scope 'account:<name or 12-digit id>'"
            ))
        })?;
        let account = scope.strip_prefix("account:").ok_or_else(|| {
            invalid(format!(
                "scope '{scope}' of permission set '{resource}' must be 'account:<name or 12-digit id>'"
            ))
        })?;
        let account_id = self.config.account_id(account).ok_or_else(|| {
            invalid(format!(
                "account '{account}' is neither a 12-digit id nor a configured name (settings accounts.{account} = <id>)"
            ))
        })?;
        let (permission_set, principal) = match resource.strip_prefix(GROUP_PRINCIPAL_PREFIX) {
            Some(rest) => {
                let (group, ps) = rest.rsplit_once('/').ok_or_else(|| {
                    invalid(format!(
                        "resource '{resource}' must be 'group:<group>/<permission set>'"
                    ))
                })?;
                if group.is_empty() || ps.is_empty() {
                    return Err(invalid(format!(
                        "resource '{resource}' must be 'group:<group>/<permission set>'"
                    )));
                }
                (ps.to_owned(), Principal::Group(group.to_owned()))
            }
            None => (resource.to_owned(), Principal::User),
        };
        Ok(AssignmentTarget {
            permission_set,
            principal,
            account_id,
        })
    }

    async fn assignment_request(
        &self,
        target: &AssignmentTarget,
        principal_type: &str,
        principal_id: String,
    ) -> Result<AccountAssignmentRequest, AdapterError> {
        Ok(AccountAssignmentRequest {
            instance_arn: self.instance_arn().await?,
            target_id: target.account_id.clone(),
            target_type: "AWS_ACCOUNT".into(),
            permission_set_arn: self.permission_set_arn(&target.permission_set).await?,
            principal_type: principal_type.into(),
            principal_id,
        })
    }

    /// The membership id of (group, user), `None` when the user is not a member.
    async fn membership_id(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> Result<Option<String>, AdapterError> {
        let key = (group_id.to_owned(), user_id.to_owned());
        if let Some(id) = lock(&self.memberships).get(&key) {
            return Ok(Some(id.clone()));
        }
        let request = GroupMemberRequest {
            identity_store_id: self.store_id().await?,
            group_id: group_id.to_owned(),
            member_id: MemberId {
                user_id: Some(user_id.to_owned()),
            },
        };
        match self
            .client
            .call::<_, MembershipIdResponse>(
                Service::IdentityStore,
                "GetGroupMembershipId",
                &request,
            )
            .await
        {
            Ok(r) => {
                lock(&self.memberships).insert(key, r.membership_id.clone());
                Ok(Some(r.membership_id))
            }
            Err(e) if e.is("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn add_membership(&self, group: &str, user_id: &str) -> Result<Applied, AdapterError> {
        let group_id = self.group_id(group).await?;
        let request = GroupMemberRequest {
            identity_store_id: self.store_id().await?,
            group_id: group_id.clone(),
            member_id: MemberId {
                user_id: Some(user_id.to_owned()),
            },
        };
        match self
            .client
            .call::<_, MembershipIdResponse>(
                Service::IdentityStore,
                "CreateGroupMembership",
                &request,
            )
            .await
        {
            Ok(r) => {
                lock(&self.memberships).insert((group_id, user_id.to_owned()), r.membership_id);
                Ok(Applied::changed())
            }
            // Already a member: the change is in place.
            Err(e)
                if e.is("ConflictException")
                    && e.reason.as_deref() != Some("CONCURRENT_MODIFICATION") =>
            {
                Ok(Applied::already_in_place())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn remove_membership(&self, group: &str, user_id: &str) -> Result<Applied, AdapterError> {
        let group_id = self.group_id(group).await?;
        let Some(membership_id) = self.membership_id(&group_id, user_id).await? else {
            return Ok(Applied::already_in_place());
        };
        let request = DeleteGroupMembershipRequest {
            identity_store_id: self.store_id().await?,
            membership_id,
        };
        let result = self
            .client
            .call::<_, Empty>(Service::IdentityStore, "DeleteGroupMembership", &request)
            .await;
        lock(&self.memberships).remove(&(group_id, user_id.to_owned()));
        match result {
            Ok(_) => Ok(Applied::changed()),
            Err(e) if e.is("ResourceNotFoundException") => Ok(Applied::already_in_place()),
            Err(e) => Err(e.into()),
        }
    }

    /// Turns an assignment status into the operation's outcome, remembering a request
    /// still in progress for [`Adapter::check`].
    fn assignment_outcome(
        &self,
        op: &OperationId,
        deletion: bool,
        status: AssignmentOperationStatus,
    ) -> Result<Applied, AdapterError> {
        let what = if deletion { "deletion" } else { "creation" };
        match status.status.as_deref() {
            Some("SUCCEEDED") => {
                lock(&self.pending).remove(op);
                Ok(Applied::changed())
            }
            Some("FAILED") => {
                lock(&self.pending).remove(op);
                Err(AdapterError::Permanent {
                    error: SystemError::new(
                        None,
                        Some("FAILED".into()),
                        format!(
                            "account assignment {what} request {} failed: {}",
                            status.request_id.as_deref().unwrap_or("(no id)"),
                            status
                                .failure_reason
                                .as_deref()
                                .unwrap_or("no reason given")
                        ),
                    ),
                })
            }
            other => {
                let Some(request_id) = status.request_id else {
                    return Err(AdapterError::Permanent {
                        error: SystemError::message(format!(
                            "account assignment {what} status {} without a request id",
                            other.unwrap_or("(none)")
                        )),
                    });
                };
                lock(&self.pending).insert(
                    op.clone(),
                    PendingRequest {
                        deletion,
                        request_id: request_id.clone(),
                    },
                );
                Err(AdapterError::Pending {
                    recheck_after: self.config.recheck_after,
                    error: SystemError::new(
                        None,
                        Some(other.unwrap_or("IN_PROGRESS").to_owned()),
                        format!("account assignment {what} request {request_id} in progress"),
                    ),
                })
            }
        }
    }

    async fn create_assignment(
        &self,
        op: &OperationId,
        request: &AccountAssignmentRequest,
    ) -> Result<Applied, AdapterError> {
        let r: CreationStatusResponse = self
            .client
            .call(Service::SsoAdmin, "CreateAccountAssignment", request)
            .await?;
        self.assignment_outcome(op, false, r.account_assignment_creation_status)
    }

    async fn delete_assignment(
        &self,
        op: &OperationId,
        request: &AccountAssignmentRequest,
    ) -> Result<Applied, AdapterError> {
        match self
            .client
            .call::<_, DeletionStatusResponse>(
                Service::SsoAdmin,
                "DeleteAccountAssignment",
                request,
            )
            .await
        {
            Ok(r) => self.assignment_outcome(op, true, r.account_assignment_deletion_status),
            // The assignment is not there (instance and permission set were resolved).
            Err(e) if e.is("ResourceNotFoundException") => Ok(Applied::already_in_place()),
            Err(e) => Err(e.into()),
        }
    }

    /// One page of an (account, permission set) pair's assignments.
    async fn list_assignments(
        &self,
        target: &AssignmentTarget,
        cursor: Option<&str>,
    ) -> Result<ListAccountAssignmentsResponse, AdapterError> {
        let request = ListAccountAssignmentsRequest {
            instance_arn: self.instance_arn().await?,
            account_id: target.account_id.clone(),
            permission_set_arn: self.permission_set_arn(&target.permission_set).await?,
            max_results: PAGE_SIZE,
            next_token: cursor.map(str::to_owned),
        };
        Ok(self
            .client
            .call(Service::SsoAdmin, "ListAccountAssignments", &request)
            .await?)
    }

    /// Whether a principal holds an assignment (reads every page).
    async fn holds_assignment(
        &self,
        target: &AssignmentTarget,
        principal_type: &str,
        principal_id: &str,
    ) -> Result<bool, AdapterError> {
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list_assignments(target, cursor.as_deref()).await?;
            if page.account_assignments.iter().any(|a| {
                a.principal_type.as_deref() == Some(principal_type)
                    && a.principal_id.as_deref() == Some(principal_id)
            }) {
                return Ok(true);
            }
            match page.next_token {
                Some(t) if !t.is_empty() && Some(&t) != cursor.as_ref() => cursor = Some(t),
                _ => return Ok(false),
            }
        }
    }

    async fn group_members_page(
        &self,
        group: &str,
        entitlement: &Entitlement,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let group_id = self.group_id(group).await?;
        let request = ListGroupMembershipsRequest {
            identity_store_id: self.store_id().await?,
            group_id: group_id.clone(),
            max_results: PAGE_SIZE,
            next_token: cursor.map(str::to_owned),
        };
        let page: ListGroupMembershipsResponse = self
            .client
            .call(Service::IdentityStore, "ListGroupMemberships", &request)
            .await?;
        let mut items = Vec::new();
        for m in page.group_memberships {
            let Some(user_id) = m.member_id.and_then(|m| m.user_id) else {
                continue;
            };
            if let Some(mid) = m.membership_id {
                lock(&self.memberships).insert((group_id.clone(), user_id.clone()), mid);
            }
            items.push(GrantRecord {
                entitlement: entitlement.clone(),
                login: lock(&self.user_logins).get(&user_id).cloned(),
                account_external_id: user_id,
            });
        }
        Ok(Page::new(items, page.next_token.filter(|t| !t.is_empty())))
    }

    async fn create_user(&self, profile: &AccountProfile) -> Result<Applied, AdapterError> {
        let (given, family) = name_parts(profile);
        let display_name = if profile.display_name.trim().is_empty() {
            format!("{given} {family}")
        } else {
            profile.display_name.clone()
        };
        let request = CreateUserRequest {
            identity_store_id: self.store_id().await?,
            user_name: profile.login.clone(),
            display_name,
            name: Name {
                given_name: Some(given),
                family_name: Some(family),
                formatted: None,
            },
            emails: vec![Email {
                value: Some(profile.email.clone()),
                r#type: Some("work".into()),
                primary: Some(true),
            }],
        };
        match self
            .client
            .call::<_, CreateUserResponse>(Service::IdentityStore, "CreateUser", &request)
            .await
        {
            Ok(r) => {
                self.remember_user(&profile.login, &r.user_id);
                Ok(Applied::changed().with_external_id(r.user_id))
            }
            // The user name is taken: that user is this person's account; adopt it.
            Err(e)
                if e.is("ConflictException")
                    && e.reason.as_deref() != Some("CONCURRENT_MODIFICATION") =>
            {
                match self.find_user(&profile.login).await? {
                    Some(id) => Ok(Applied::already_in_place().with_external_id(id)),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn update_user(
        &self,
        account: &AccountRef,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<Applied, AdapterError> {
        let mut operations = Vec::new();
        for (key, value) in attributes {
            let path = match key.as_str() {
                "display_name" => "displayName",
                "given_name" => "name.givenName",
                "family_name" => "name.familyName",
                "title" => "title",
                "nick_name" => "nickName",
                other => {
                    return Err(invalid(format!(
                        "attribute '{other}' cannot be set on an identity-store user (known: display_name, given_name, family_name, title, nick_name)"
                    )));
                }
            };
            operations.push(json!({"AttributePath": path, "AttributeValue": value}));
        }
        if operations.is_empty() {
            return Ok(Applied::already_in_place());
        }
        let user_id = self.user_id(account).await?;
        let request = json!({
            "IdentityStoreId": self.store_id().await?,
            "UserId": user_id,
            "Operations": operations,
        });
        self.client
            .call::<_, Empty>(Service::IdentityStore, "UpdateUser", &request)
            .await?;
        Ok(Applied::changed())
    }

    async fn delete_user(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        if !self.config.delete_users {
            return Err(AdapterError::Unsupported {
                what: "DeleteUser is not enabled for this system (set delete_leavers: true)".into(),
            });
        }
        let user_id = match &account.external_id {
            Some(id) => id.clone(),
            None => match self.find_user(&account.login).await? {
                Some(id) => id,
                None => return Ok(Applied::already_in_place()),
            },
        };
        let request = UserRef {
            identity_store_id: self.store_id().await?,
            user_id: user_id.clone(),
        };
        let result = self
            .client
            .call::<_, Empty>(Service::IdentityStore, "DeleteUser", &request)
            .await;
        lock(&self.user_ids).remove(&account.login);
        lock(&self.user_logins).remove(&user_id);
        match result {
            Ok(_) => Ok(Applied::changed()),
            Err(e) if e.is("ResourceNotFoundException") => Ok(Applied::already_in_place()),
            Err(e) => Err(e.into()),
        }
    }

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

    async fn check_assignment(
        &self,
        op: &Operation,
        entitlement: &Entitlement,
        account: &AccountRef,
        granting: bool,
    ) -> Result<CheckStatus, AdapterError> {
        let pending = lock(&self.pending).get(&op.id).cloned();
        if let Some(p) = pending {
            let instance_arn = self.instance_arn().await?;
            let status = if p.deletion {
                let r: DeletionStatusResponse = self
                    .client
                    .call(
                        Service::SsoAdmin,
                        "DescribeAccountAssignmentDeletionStatus",
                        &DescribeDeletionStatusRequest {
                            instance_arn,
                            account_assignment_deletion_request_id: p.request_id.clone(),
                        },
                    )
                    .await?;
                r.account_assignment_deletion_status
            } else {
                let r: CreationStatusResponse = self
                    .client
                    .call(
                        Service::SsoAdmin,
                        "DescribeAccountAssignmentCreationStatus",
                        &DescribeCreationStatusRequest {
                            instance_arn,
                            account_assignment_creation_request_id: p.request_id.clone(),
                        },
                    )
                    .await?;
                r.account_assignment_creation_status
            };
            let status = AssignmentOperationStatus {
                request_id: status.request_id.or(Some(p.request_id)),
                ..status
            };
            return match self.assignment_outcome(&op.id, p.deletion, status) {
                Ok(_) => Ok(CheckStatus::Done { external_id: None }),
                Err(AdapterError::Pending { recheck_after, .. }) => {
                    Ok(CheckStatus::Pending { recheck_after })
                }
                Err(e) => Err(e),
            };
        }
        // Nothing under way that we know of (e.g. after a restart): look at the state.
        let target = self.assignment_target(&entitlement.resource, entitlement.scope.as_deref())?;
        let Some(user_id) = self.known_user_id(account).await? else {
            return Ok(if granting {
                CheckStatus::NotDone
            } else {
                CheckStatus::Done { external_id: None }
            });
        };
        let present = match &target.principal {
            Principal::User => self.holds_assignment(&target, "USER", &user_id).await?,
            Principal::Group(group) => {
                let group_id = self.group_id(group).await?;
                self.membership_id(&group_id, &user_id).await?.is_some()
                    && (!granting || self.holds_assignment(&target, "GROUP", &group_id).await?)
            }
        };
        Ok(if present == granting {
            CheckStatus::Done { external_id: None }
        } else {
            CheckStatus::NotDone
        })
    }
}

/// Given and family names: from the attributes `given_name`/`first_name` and
/// `family_name`/`last_name`, else split from the display name (first word, the
/// rest), else the login's local part for both (Identity Center requires both).
fn name_parts(profile: &AccountProfile) -> (String, String) {
    let attr = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| profile.attributes.get(*k))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut words = profile.display_name.split_whitespace();
    let first_word = words.next().map(str::to_owned);
    let rest: Vec<&str> = words.collect();
    let local = profile
        .login
        .split('@')
        .next()
        .unwrap_or(profile.login.as_str())
        .to_owned();
    let given = attr(&["given_name", "first_name", "givenName"])
        .or_else(|| first_word.clone())
        .unwrap_or_else(|| local.clone());
    let family = attr(&["family_name", "last_name", "familyName", "surname"])
        .or_else(|| (!rest.is_empty()).then(|| rest.join(" ")))
        .or(first_word)
        .unwrap_or(local);
    (given, family)
}

fn state_of(status: Option<&str>) -> AccountState {
    match status {
        Some("DISABLED") => AccountState::Suspended,
        _ => AccountState::Active,
    }
}

#[async_trait]
impl Adapter for AwsAdapter {
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

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        let span = info_span!(
            "aws_execute",
            system = %op.system,
            operation = %op.id,
            identity = %op.identity,
            verb = op.kind.verb()
        );
        async {
            let result = match &op.kind {
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
            };
            match &result {
                Ok(a) => info!(effect = ?a.effect, "applied"),
                Err(e) => info!(class = e.class(), error = %e, "not applied"),
            }
            result
        }
        .instrument(span)
        .await
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
