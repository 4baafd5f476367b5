//! The [`Adapter`] implementation: entitlements onto Google's model.
//!
//! * `group` (policy action `add_to_group`): membership of a Google group, addressed
//!   by the group's email; roles `member` (default), `manager`, `owner`. A role change
//!   is one grant with the new role (members.patch), so `role_change_in_place` is true.
//! * `org_unit` (policy action `place_in_org_unit`): the org unit the user sits in,
//!   e.g. `/Engineering`. A user sits in exactly one: granting moves the user there
//!   (users.update `orgUnitPath`); revoking moves the user back to the configured
//!   default org unit, but only while the user is still in the revoked one.
//!
//! Groups are enumerable: [`Adapter::list_resources`] lists the customer's (or the
//! domain's) groups with `groups.list`, and [`Adapter::read_account_grants`] reads
//! every group a user is a direct member of with `groups.list?userKey=` (200 a page),
//! each with the user's role from `members.get`, whether or not a policy names it.
//! The org unit is one per account (a move replaces it), so it is not among a
//! person's grants to revoke.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, ConfigError, Page, ResourceKindDescriptor,
    SystemDescriptor, SystemError,
};
use provision_core::model::{
    AccountProfile, AccountRecord, AccountRef, AccountState, Entitlement, GrantRecord, Operation,
    OperationKind, ResourceRecord, ResourceRef,
};
use provision_core::secret::SecretString;
use provision_http::names::PersonName;
use provision_http::paginate::{next_cursor, next_page_token};
use rand::Rng;
use reqwest::Method;
use serde::Serialize;

use crate::client::{CallKind, DirectoryClient, SYSTEM};
use crate::config::GoogleConfig;
use crate::model::{
    Member, NewUser, Organization, User, UserName, UserUpdate, merge_organizations,
};

/// The `group` resource kind.
pub const KIND_GROUP: &str = "group";
/// The `org_unit` resource kind.
pub const KIND_ORG_UNIT: &str = "org_unit";
/// Group roles as policies write them.
pub const GROUP_ROLES: [&str; 3] = ["member", "manager", "owner"];

/// Account attributes the adapter reads and can update.
pub const ATTRIBUTES: [&str; 5] = [
    "given_name",
    "family_name",
    "department",
    "title",
    "org_unit",
];

/// The Google Workspace adapter.
#[derive(Debug)]
pub struct GoogleAdapter {
    client: DirectoryClient,
    /// The evidence reads, with their own read-only token.
    evidence: crate::evidence::GoogleEvidence,
    descriptor: SystemDescriptor,
    default_org_unit: String,
    delete_leavers: bool,
    system_name: String,
}

impl GoogleAdapter {
    /// An adapter for `config`.
    pub fn new(config: GoogleConfig) -> Result<Self, ConfigError> {
        Ok(GoogleAdapter {
            client: DirectoryClient::new(&config)?,
            evidence: crate::evidence::GoogleEvidence::new(&config)?,
            descriptor: descriptor(),
            default_org_unit: config.default_org_unit,
            delete_leavers: config.delete_leavers,
            system_name: config.system_name,
        })
    }

    /// The HTTP client (for calls the trait does not cover).
    pub fn client(&self) -> &DirectoryClient {
        &self.client
    }

    async fn create_account(&self, profile: &AccountProfile) -> Result<Applied, AdapterError> {
        // the login is the primary email, and the member key of every membership call
        let primary_email = email_login(&profile.login)?.to_owned();
        let body = NewUser {
            primary_email: primary_email.clone(),
            name: name_for(profile),
            password: random_password(),
            change_password_at_next_login: false,
            org_unit_path: self.default_org_unit.clone(),
        };
        let body = to_json(&body)?;
        match self
            .client
            .call::<User>(Method::POST, &["users"], &[], Some(&body), CallKind::Insert)
            .await
        {
            Ok(Some(user)) => Ok(Applied::changed().with_external_id(user.id)),
            Ok(None) => Ok(Applied::changed()),
            Err(AdapterError::AlreadyDone { error }) => {
                // "Entity already exists.": adopt it if it is this person's account; the
                // address may also be another user's alias or a group's address.
                match self.client.get_user(&primary_email).await {
                    Ok(user) if user.primary_email.eq_ignore_ascii_case(&primary_email) => {
                        Ok(Applied::already_in_place().with_external_id(user.id))
                    }
                    Ok(user) => Err(AdapterError::Conflict {
                        error: SystemError::new(
                            error.status,
                            error.code,
                            format!(
                                "{} ({primary_email} is an alias of {})",
                                error.message, user.primary_email
                            ),
                        ),
                    }),
                    Err(AdapterError::NotFound { .. }) => Err(AdapterError::Conflict {
                        error: SystemError::new(
                            error.status,
                            error.code,
                            format!(
                                "{} ({primary_email} is used by something other than a user, e.g. a group)",
                                error.message
                            ),
                        ),
                    }),
                    Err(other) => Err(other),
                }
            }
            Err(other) => Err(other),
        }
    }

    async fn update_user(
        &self,
        user_key: &str,
        update: &UserUpdate,
    ) -> Result<Applied, AdapterError> {
        let body = to_json(update)?;
        self.client
            .call::<User>(
                Method::PUT,
                &["users", user_key],
                &[],
                Some(&body),
                CallKind::Update,
            )
            .await?;
        Ok(Applied::changed())
    }

    /// Suspends or reactivates; a user already so is "already in place" (one read,
    /// no write).
    async fn set_suspended(
        &self,
        user_key: &str,
        suspended: bool,
    ) -> Result<Applied, AdapterError> {
        let user = self.client.get_account(user_key).await?;
        if user.suspended == suspended {
            return Ok(Applied::already_in_place().with_external_id(user.id));
        }
        let update = UserUpdate {
            suspended: Some(suspended),
            ..UserUpdate::default()
        };
        Ok(self
            .update_user(&user.id, &update)
            .await?
            .with_external_id(user.id))
    }

    async fn grant_group(
        &self,
        group: &str,
        member_key: &str,
        role: &str,
    ) -> Result<Applied, AdapterError> {
        let body = to_json(&Member {
            email: Some(member_key.to_owned()),
            role: Some(role.to_owned()),
            ..Member::default()
        })?;
        match self
            .client
            .call::<Member>(
                Method::POST,
                &["groups", group, "members"],
                &[],
                Some(&body),
                CallKind::Insert,
            )
            .await
        {
            Ok(_) => Ok(Applied::changed()),
            Err(AdapterError::AlreadyDone { .. }) => {
                // "Member already exists." whatever the role: set the role if it differs
                let existing = self.client.get_member(group, member_key).await?;
                if existing
                    .role
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(role))
                {
                    return Ok(Applied::already_in_place());
                }
                let body = to_json(&Member {
                    role: Some(role.to_owned()),
                    ..Member::default()
                })?;
                self.client
                    .call::<Member>(
                        Method::PATCH,
                        &["groups", group, "members", member_key],
                        &[],
                        Some(&body),
                        CallKind::Update,
                    )
                    .await?;
                Ok(Applied::changed())
            }
            Err(other) => Err(other),
        }
    }

    async fn revoke_org_unit(
        &self,
        user_key: &str,
        org_unit: &str,
    ) -> Result<Applied, AdapterError> {
        // Single-valued: the move to the new org unit may already have happened (a
        // department change grants the new one and revokes the old one).
        let user = self.client.get_account(user_key).await?;
        let current = user.org_unit_path.clone().unwrap_or_default();
        if !same_org_unit(&current, org_unit) {
            return Ok(Applied::already_in_place().with_external_id(user.id));
        }
        let update = UserUpdate {
            org_unit_path: Some(self.default_org_unit.clone()),
            ..UserUpdate::default()
        };
        Ok(self
            .update_user(&user.id, &update)
            .await?
            .with_external_id(user.id))
    }

    /// The immutable id of the person's own user: an id key as it is, an email key
    /// resolved by [`DirectoryClient::get_account`] (never another user's alias), so
    /// that no write addressed by email lands on the owner of an alias.
    async fn own_user_id(&self, user_key: &str) -> Result<String, AdapterError> {
        if user_key.contains('@') {
            Ok(self.client.get_account(user_key).await?.id)
        } else {
            Ok(user_key.to_owned())
        }
    }
}

#[async_trait]
impl Adapter for GoogleAdapter {
    fn evidence_source(&self) -> Option<&dyn provision_core::adapter::EvidenceSource> {
        Some(&self.evidence)
    }

    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let page = self.client.list_users(cursor, None).await?;
        Ok(Page::new(
            page.users.iter().map(account_record).collect(),
            next_cursor(SYSTEM, cursor, next_page_token(page.next_page_token))?,
        ))
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        match resource.kind.as_str() {
            KIND_GROUP => {
                let page = self.client.list_members(&resource.resource, cursor).await?;
                let items = page
                    .members
                    .into_iter()
                    // nested groups and customer-wide members are not people's grants
                    .filter(|m| m.member_type.as_deref().is_none_or(|t| t == "USER"))
                    .filter_map(|m| {
                        let role = m.role.as_deref().unwrap_or("MEMBER").to_ascii_lowercase();
                        Some(GrantRecord {
                            entitlement: Entitlement {
                                system: resource.system.clone(),
                                kind: KIND_GROUP.into(),
                                resource: resource.resource.clone(),
                                role: Some(role),
                                scope: None,
                            },
                            account_external_id: m.id.clone().or_else(|| m.email.clone())?,
                            login: m.email,
                        })
                    })
                    .collect();
                Ok(Page::new(
                    items,
                    next_cursor(SYSTEM, cursor, next_page_token(page.next_page_token))?,
                ))
            }
            KIND_ORG_UNIT => {
                let ou = resource.resource.trim_end_matches('/');
                let ou = if ou.is_empty() { "/" } else { ou };
                let query = format!("orgUnitPath='{}'", ou.replace('\'', "\\'"));
                let page = self.client.list_users(cursor, Some(&query)).await?;
                let items = page
                    .users
                    .into_iter()
                    // the search includes sub-units; a user sits in exactly one
                    .filter(|u| same_org_unit(u.org_unit_path.as_deref().unwrap_or_default(), ou))
                    .map(|u| GrantRecord {
                        entitlement: Entitlement::new(
                            resource.system.as_str(),
                            KIND_ORG_UNIT,
                            resource.resource.clone(),
                        ),
                        account_external_id: u.id,
                        login: Some(u.primary_email),
                    })
                    .collect();
                Ok(Page::new(
                    items,
                    next_cursor(SYSTEM, cursor, next_page_token(page.next_page_token))?,
                ))
            }
            other => Err(unknown_kind(other)),
        }
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let user_key = account.external_id.as_deref().unwrap_or(&account.login);
        let page = match self.client.list_user_groups(user_key, cursor).await {
            Ok(page) => page,
            // this user does not exist: it holds nothing
            Err(AdapterError::NotFound { .. }) => return Ok(Page::last(Vec::new())),
            Err(e) => return Err(e),
        };
        let mut items = Vec::with_capacity(page.groups.len());
        for group in page.groups {
            // the role is the member's, read from the membership itself
            let role = match self.client.get_member(&group.email, user_key).await {
                Ok(member) => member.role.unwrap_or_else(|| "MEMBER".into()),
                // left the group between the two reads
                Err(AdapterError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            items.push(GrantRecord {
                entitlement: Entitlement::new(self.system_name.as_str(), KIND_GROUP, group.email)
                    .with_role(role.to_ascii_lowercase()),
                account_external_id: account
                    .external_id
                    .clone()
                    .unwrap_or_else(|| account.login.clone()),
                login: Some(account.login.clone()),
            });
        }
        Ok(Page::new(
            items,
            page.next_page_token.filter(|t| !t.is_empty()),
        ))
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        match kind {
            KIND_GROUP => {
                let page = self.client.list_groups(cursor).await?;
                Ok(Page::new(
                    page.groups
                        .into_iter()
                        .map(|g| {
                            let record = ResourceRecord::new(KIND_GROUP, g.email);
                            match g.id {
                                Some(id) => record.with_external_id(id),
                                None => record,
                            }
                        })
                        .collect(),
                    page.next_page_token.filter(|t| !t.is_empty()),
                ))
            }
            other => Err(AdapterError::Invalid {
                error: SystemError::message(format!(
                    "Google cannot list `{other}` resources (listable: {KIND_GROUP})"
                )),
            }),
        }
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        let user_key = account.external_id.as_deref().unwrap_or(&account.login);
        match &op.kind {
            OperationKind::CreateAccount { profile } => self.create_account(profile).await,
            OperationKind::UpdateAccount { attributes } => {
                let mut update = update_from_attributes(attributes)?;
                let id = match update.organizations.take() {
                    // a repeated field is replaced whole: read, merge, write
                    Some(wanted) => {
                        let user = self.client.get_account(user_key).await?;
                        let wanted = wanted.into_iter().next().unwrap_or_default();
                        update.organizations =
                            Some(merge_organizations(user.organizations.as_deref(), &wanted));
                        user.id
                    }
                    None => self.own_user_id(user_key).await?,
                };
                self.update_user(&id, &update).await
            }
            OperationKind::SuspendAccount => self.set_suspended(user_key, true).await,
            OperationKind::ReactivateAccount => self.set_suspended(user_key, false).await,
            OperationKind::RevokeSessions => {
                let id = self.own_user_id(user_key).await?;
                self.client.sign_out(&id).await?;
                Ok(Applied::changed())
            }
            OperationKind::DeleteAccount => {
                if !self.delete_leavers {
                    return Err(AdapterError::Unsupported {
                        what: "delete_account: deletion is not enabled for this Google system (set delete_leavers)".into(),
                    });
                }
                // by id: a DELETE addressed by an alias would delete the alias's owner
                let id = match self.own_user_id(user_key).await {
                    Ok(id) => id,
                    Err(AdapterError::NotFound { .. }) => return Ok(Applied::already_in_place()),
                    Err(e) => return Err(e),
                };
                match self
                    .client
                    .call::<serde_json::Value>(
                        Method::DELETE,
                        &["users", &id],
                        &[],
                        None,
                        CallKind::Remove,
                    )
                    .await
                {
                    Ok(_) => Ok(Applied::changed()),
                    Err(AdapterError::AlreadyDone { .. }) => Ok(Applied::already_in_place()),
                    Err(other) => Err(other),
                }
            }
            OperationKind::Grant { entitlement } => match entitlement.kind.as_str() {
                KIND_GROUP => {
                    let role = google_role(entitlement)?;
                    let member = email_login(&account.login)?;
                    self.grant_group(&entitlement.resource, member, role).await
                }
                KIND_ORG_UNIT => {
                    let ou = org_unit_path(entitlement)?;
                    let update = UserUpdate {
                        org_unit_path: Some(ou),
                        ..UserUpdate::default()
                    };
                    let id = self.own_user_id(user_key).await?;
                    self.update_user(&id, &update).await
                }
                other => Err(unknown_kind(other)),
            },
            OperationKind::Revoke { entitlement } => match entitlement.kind.as_str() {
                KIND_GROUP => match self
                    .client
                    .call::<serde_json::Value>(
                        Method::DELETE,
                        &[
                            "groups",
                            &entitlement.resource,
                            "members",
                            email_login(&account.login)?,
                        ],
                        &[],
                        None,
                        CallKind::Remove,
                    )
                    .await
                {
                    Ok(_) => Ok(Applied::changed()),
                    Err(AdapterError::AlreadyDone { .. }) => Ok(Applied::already_in_place()),
                    Err(other) => Err(other),
                },
                KIND_ORG_UNIT => {
                    let ou = org_unit_path(entitlement)?;
                    self.revoke_org_unit(user_key, &ou).await
                }
                other => Err(unknown_kind(other)),
            },
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
        let user_key = account.external_id.as_deref().unwrap_or(&account.login);
        // the person's own user: one found by an alias is someone else's
        let user = |check: fn(&User) -> bool| async move {
            match self.client.get_account(user_key).await {
                Ok(u) if check(&u) => Ok(CheckStatus::Done {
                    external_id: Some(u.id),
                }),
                Ok(_) | Err(AdapterError::NotFound { .. }) => Ok(CheckStatus::NotDone),
                Err(e) => Err(e),
            }
        };
        match &op.kind {
            OperationKind::CreateAccount { .. } => user(|_| true).await,
            OperationKind::SuspendAccount => user(|u| u.suspended).await,
            OperationKind::ReactivateAccount => user(|u| !u.suspended).await,
            OperationKind::DeleteAccount => match self.client.get_account(user_key).await {
                Err(AdapterError::NotFound { .. }) => Ok(CheckStatus::Done { external_id: None }),
                Ok(_) => Ok(CheckStatus::NotDone),
                Err(e) => Err(e),
            },
            OperationKind::Grant { entitlement } | OperationKind::Revoke { entitlement } => {
                let granting = matches!(op.kind, OperationKind::Grant { .. });
                let holds = match entitlement.kind.as_str() {
                    KIND_GROUP => match self
                        .client
                        .get_member(&entitlement.resource, email_login(&account.login)?)
                        .await
                    {
                        Ok(m) => {
                            let role = google_role(entitlement)?;
                            !granting
                                || m.role
                                    .as_deref()
                                    .is_some_and(|r| r.eq_ignore_ascii_case(role))
                        }
                        Err(AdapterError::NotFound { .. }) => false,
                        Err(e) => return Err(e),
                    },
                    KIND_ORG_UNIT => match self.client.get_account(user_key).await {
                        Ok(u) => same_org_unit(
                            u.org_unit_path.as_deref().unwrap_or_default(),
                            &org_unit_path(entitlement)?,
                        ),
                        Err(AdapterError::NotFound { .. }) => false,
                        Err(e) => return Err(e),
                    },
                    other => return Err(unknown_kind(other)),
                };
                Ok(if holds == granting {
                    CheckStatus::Done { external_id: None }
                } else {
                    CheckStatus::NotDone
                })
            }
            // Google has answered 409 "Entity already exists." to an update that took
            // effect: done when the user now has every attribute asked for
            OperationKind::UpdateAccount { attributes } => {
                match self.client.get_account(user_key).await {
                    Ok(u) => {
                        let now = account_record(&u).attributes;
                        let done = attributes.iter().all(|(key, wanted)| {
                            now.get(key).is_some_and(|have| match key.as_str() {
                                "org_unit" => same_org_unit(have, wanted),
                                _ => have == wanted,
                            })
                        });
                        Ok(if done {
                            CheckStatus::Done {
                                external_id: Some(u.id),
                            }
                        } else {
                            CheckStatus::NotDone
                        })
                    }
                    Err(AdapterError::NotFound { .. }) => Ok(CheckStatus::NotDone),
                    Err(e) => Err(e),
                }
            }
            // sessions leave no trace to read; sending signOut again is harmless
            OperationKind::RevokeSessions => Ok(CheckStatus::NotDone),
            _ => Ok(CheckStatus::NotDone),
        }
    }
}

/// The descriptor: kinds `group` (roles member/manager/owner, default member, role
/// changed in place, enumerable) and `org_unit` (one per account); accounts that can be suspended, signed out and deleted.
pub fn descriptor() -> SystemDescriptor {
    let group = ResourceKindDescriptor::new(KIND_GROUP, &["add_to_group"])
        .with_roles(&GROUP_ROLES, Some("member"))
        .with_role_change_in_place()
        .enumerable();
    let org_unit =
        ResourceKindDescriptor::new(KIND_ORG_UNIT, &["place_in_org_unit"]).one_per_account();
    let mut d = SystemDescriptor::new("google");
    d.kinds = vec![group, org_unit];
    d.has_accounts = true;
    d.accounts_created_on_first_login = false;
    d.can_suspend = true;
    d.can_revoke_sessions = true;
    d.can_delete = true;
    // a suspended Google user keeps its group memberships and org unit
    d.suspension_keeps_grants = true;
    d
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, AdapterError> {
    serde_json::to_value(value).map_err(|e| AdapterError::Invalid {
        error: SystemError::message(format!("cannot encode the request: {e}")),
    })
}

/// The login as Google's user and member key: a Google login is the user's primary
/// email, so a login without `@` is refused, naming the field, before anything is sent
/// (create once used the profile's email for it while membership calls used the
/// login: two different keys for one person).
fn email_login(login: &str) -> Result<&str, AdapterError> {
    if login.contains('@') {
        Ok(login)
    } else {
        Err(AdapterError::Invalid {
            error: SystemError::message(format!(
                "the login `{login}` is not an email address: a Google account's `login` must be its primary email (map the HR email onto `login` for this system)"
            )),
        })
    }
}

fn unknown_kind(kind: &str) -> AdapterError {
    AdapterError::Invalid {
        error: SystemError::message(format!(
            "Google has no resource kind `{kind}` (known: {KIND_GROUP}, {KIND_ORG_UNIT})"
        )),
    }
}

fn google_role(entitlement: &Entitlement) -> Result<&'static str, AdapterError> {
    match entitlement
        .role
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("member") => Ok("MEMBER"),
        Some("manager") => Ok("MANAGER"),
        Some("owner") => Ok("OWNER"),
        Some(other) => Err(AdapterError::Invalid {
            error: SystemError::message(format!(
                "group role `{other}` on {} is not one of member, manager, owner",
                entitlement.resource
            )),
        }),
    }
}

fn org_unit_path(entitlement: &Entitlement) -> Result<String, AdapterError> {
    let path = entitlement.resource.trim();
    if !path.starts_with('/') {
        return Err(AdapterError::Invalid {
            error: SystemError::message(format!(
                "org unit `{path}` must be a path starting with `/`"
            )),
        });
    }
    Ok(path.to_owned())
}

fn same_org_unit(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let t = s.trim().trim_end_matches('/');
        if t.is_empty() {
            "/".to_owned()
        } else {
            t.to_ascii_lowercase()
        }
    };
    norm(a) == norm(b)
}

/// Given and family name by the toolkit's one rule
/// ([`provision_http::names`]: HR fields, else the display name split at its first
/// space), each cut to Google's 60 characters.
fn name_for(profile: &AccountProfile) -> UserName {
    let name = PersonName::from_profile(profile).truncated(60);
    UserName {
        given_name: Some(name.given),
        family_name: Some(name.family),
    }
}

/// A 40-character random password from letters, digits and symbols (OS-seeded CSPRNG).
fn random_password() -> SecretString {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#$%&*+-=?@^_~";
    let mut rng = rand::rng();
    let password: String = (0..40)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect();
    SecretString::from(password)
}

fn update_from_attributes(
    attributes: &BTreeMap<String, String>,
) -> Result<UserUpdate, AdapterError> {
    let mut update = UserUpdate::default();
    let mut name = UserName::default();
    let mut org = Organization {
        primary: Some(true),
        ..Organization::default()
    };
    let mut unknown = Vec::new();
    for (key, value) in attributes {
        match key.as_str() {
            "given_name" => name.given_name = Some(value.clone()),
            "family_name" => name.family_name = Some(value.clone()),
            "department" => org.department = Some(value.clone()),
            "title" => org.title = Some(value.clone()),
            "org_unit" => update.org_unit_path = Some(value.clone()),
            other => unknown.push(other.to_owned()),
        }
    }
    if !unknown.is_empty() {
        return Err(AdapterError::Invalid {
            error: SystemError::message(format!(
                "Google cannot update attribute(s) {}; known: {}",
                unknown.join(", "),
                ATTRIBUTES.join(", ")
            )),
        });
    }
    if name != UserName::default() {
        update.name = Some(name);
    }
    if org.department.is_some() || org.title.is_some() {
        update.organizations = Some(vec![org]);
    }
    Ok(update)
}

fn account_record(user: &User) -> AccountRecord {
    let mut attributes = BTreeMap::new();
    if let Some(name) = &user.name {
        if let Some(g) = &name.given_name {
            attributes.insert("given_name".to_owned(), g.clone());
        }
        if let Some(f) = &name.family_name {
            attributes.insert("family_name".to_owned(), f.clone());
        }
    }
    if let Some(org) = user
        .organizations
        .as_ref()
        .and_then(|o| o.iter().find(|o| o.is_primary()).or_else(|| o.first()))
    {
        if let Some(d) = &org.department {
            attributes.insert("department".to_owned(), d.clone());
        }
        if let Some(t) = &org.title {
            attributes.insert("title".to_owned(), t.clone());
        }
    }
    if let Some(ou) = &user.org_unit_path {
        attributes.insert("org_unit".to_owned(), ou.clone());
    }
    AccountRecord {
        external_id: user.id.clone(),
        login: user.primary_email.clone(),
        state: if user.suspended || user.archived {
            AccountState::Suspended
        } else {
            AccountState::Active
        },
        last_login: user
            .last_login_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            // Google reports the epoch for users who never signed in
            .filter(|t| t.timestamp() > 0),
        attributes,
        correlation: Default::default(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn profile(display: &str, attrs: &[(&str, &str)]) -> AccountProfile {
        AccountProfile {
            login: "sarah@example.com".into(),
            email: "sarah@example.com".into(),
            display_name: display.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn names_come_from_attributes_then_the_display_name() {
        let n = name_for(&profile(
            "Sarah Connor",
            &[("given_name", "Sara"), ("last_name", "C")],
        ));
        assert_eq!(
            (n.given_name.unwrap(), n.family_name.unwrap()),
            ("Sara".into(), "C".into())
        );
        // The workspace's one rule (provision_http::names): the display name splits at
        // its first space, and a single word is both names (it was: last word, and "-").
        let n = name_for(&profile("Mary Ann Smith", &[]));
        assert_eq!(
            (n.given_name.unwrap(), n.family_name.unwrap()),
            ("Mary".into(), "Ann Smith".into())
        );
        let n = name_for(&profile("Cher", &[]));
        assert_eq!(
            (n.given_name.unwrap(), n.family_name.unwrap()),
            ("Cher".into(), "Cher".into())
        );
        let n = name_for(&profile("", &[]));
        assert_eq!(n.given_name.unwrap(), "sarah");
        let long = format!("Ada {}", "L".repeat(80));
        assert_eq!(
            name_for(&profile(&long, &[])).family_name.unwrap().len(),
            60
        );
    }

    #[test]
    fn passwords_are_long_random_and_mixed() {
        use provision_core::secret::ExposeSecret;
        let a = random_password();
        let b = random_password();
        assert_eq!(a.expose_secret().len(), 40);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(!format!("{a:?}").contains(a.expose_secret()));
    }

    #[test]
    fn unknown_attributes_are_refused_by_name() {
        let mut attrs = BTreeMap::new();
        attrs.insert("shoe_size".to_owned(), "44".to_owned());
        let err = update_from_attributes(&attrs).unwrap_err();
        assert!(err.to_string().contains("shoe_size"), "{err}");
    }

    #[test]
    fn never_signed_in_has_no_last_login() {
        let user = User {
            id: "1".into(),
            primary_email: "a@b.com".into(),
            last_login_time: Some("1970-01-01T00:00:00.000Z".into()),
            ..User::default()
        };
        assert_eq!(account_record(&user).last_login, None);
    }
}
