//! The [`Adapter`] implementation: entitlements onto GitLab group and project
//! memberships, accounts onto users.

pub mod people;
pub mod tree;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, SystemDescriptor, SystemError,
};
use provision_core::clock::{Clock, SystemClock};
use provision_core::model::{
    AccountProfile, AccountRecord, AccountRef, AccountState, Entitlement, GrantRecord, Operation,
    OperationKind, ReasonKind, ResourceRecord, ResourceRef, SystemName,
};
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use crate::client::{GitlabClient, PER_PAGE, SYSTEM};
use crate::config::ConfigError;
use crate::config::{Deployment, GitlabConfig, LeaverAction};
use crate::descriptor::SAML_NAME_ID;
use crate::descriptor::{
    AWAITING_RECHECK, DEFAULT_ROLE, FIRST_LOGIN_RECHECK, GROUP, PROJECT, access_level,
    gitlab_descriptor, role_of,
};
use crate::model::{Group, Member, Project, TokenUser, User};
use tree::TreeSnapshot;

/// The GitLab adapter. See the [crate documentation](crate) for what it does.
#[derive(Debug)]
pub struct GitlabAdapter {
    client: GitlabClient,
    descriptor: SystemDescriptor,
    system: SystemName,
    /// The time snapshots are taken and aged by.
    clock: Arc<dyn Clock>,
    /// The managed tree as last read ([`tree`]).
    snapshot: Mutex<Option<Arc<TreeSnapshot>>>,
    /// The SAML group links known per group, kept across writes (links change
    /// rarely; every tree read takes them again).
    saml_links: Mutex<tree::SamlLinks>,
}

/// Where a membership lives: `groups` or `projects`, and the resource's full path.
#[derive(Debug, Clone, Copy)]
struct Source<'a> {
    collection: &'static str,
    kind: &'static str,
    path: &'a str,
}

impl<'a> Source<'a> {
    fn of(kind: &str, path: &'a str) -> Result<Self, AdapterError> {
        let (collection, kind) = match kind {
            GROUP => ("groups", GROUP),
            PROJECT => ("projects", PROJECT),
            other => {
                return Err(AdapterError::Invalid {
                    error: SystemError::message(format!(
                        "GitLab has no resource kind `{other}` (known: group, project)"
                    )),
                });
            }
        };
        Ok(Self {
            collection,
            kind,
            path,
        })
    }
}

/// The access level an entitlement asks for (its role, or the default role).
fn level_of(e: &Entitlement) -> Result<u32, AdapterError> {
    let role = e.role.as_deref().unwrap_or(DEFAULT_ROLE);
    access_level(role).ok_or_else(|| AdapterError::Invalid {
        error: SystemError::message(format!(
            "GitLab has no role `{role}` (known: minimal_access, guest, planner, reporter, developer, maintainer, owner)"
        )),
    })
}

impl GitlabAdapter {
    /// An adapter for the configured instance. Makes no request; see
    /// [`GitlabAdapter::verify_token`] for the check the factory makes at build time.
    pub fn new(config: GitlabConfig) -> Result<Self, ConfigError> {
        let descriptor = gitlab_descriptor(config.deployment);
        Ok(Self {
            client: GitlabClient::new(config)?,
            descriptor,
            system: SystemName::new("gitlab"),
            clock: Arc::new(SystemClock),
            snapshot: Mutex::new(None),
            saml_links: Mutex::new(tree::SamlLinks::new()),
        })
    }

    /// The clock the tree snapshot is aged by (default the system clock; tests give a
    /// fixed one). See [`tree::SNAPSHOT_MAX_AGE`].
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The system's name in the deployment (`gitlab`, `gitlab-selfhosted`), used in
    /// the grants it reads.
    pub fn with_system_name(mut self, name: impl Into<String>) -> Self {
        self.system = SystemName::new(name.into());
        self
    }

    /// The HTTP client.
    pub fn client(&self) -> &GitlabClient {
        &self.client
    }

    fn config(&self) -> &GitlabConfig {
        self.client.config()
    }

    fn gitlab_com(&self) -> bool {
        self.config().deployment == Deployment::GitlabCom
    }

    /// Checks the token against the configured deployment (`GET /user`, then the
    /// managed group): on self-managed the token's user must be an instance
    /// administrator (users are created, blocked and deleted); everywhere the managed
    /// group must be visible. The error says what is missing.
    pub async fn verify_token(&self) -> Result<TokenUser, AdapterError> {
        let me: TokenUser = self.client.get(self.client.url(&["user"])).await?;
        if self.config().deployment == Deployment::SelfManaged && !me.is_admin {
            return Err(AdapterError::Configuration {
                error: SystemError::message(format!(
                    "deployment is self_managed, but the token's user `{}` is not an instance \
                     administrator: creating, blocking and deleting users needs an admin token \
                     with the `api` scope, and also the `admin_mode` scope where Admin Mode is \
                     on (without it GitLab treats an administrator's token as a regular \
                     user's); or set deployment: gitlab_com for membership only",
                    me.username
                )),
            });
        }
        let _: Group = self
            .client
            .get(self.client.url(&["groups", &self.config().group]))
            .await?;
        Ok(me)
    }

    /// Finds the user a login names: on self-managed by `GET /users?username=` (or
    /// `?search=` for an email, which matches emails for administrators); on gitlab.com
    /// by SAML identity, enterprise-user email or username (see [`people`]), never by
    /// an email in the members `?query=` (it matches public emails only).
    pub async fn find_user(&self, login: &str) -> Result<Option<User>, AdapterError> {
        let login = login.trim();
        if login.is_empty() {
            return Ok(None);
        }
        if self.gitlab_com() {
            return self.find_user_on_gitlab_com(login).await;
        }
        let url = if login.contains('@') {
            self.client.url_with(
                &["users"],
                &[
                    ("search", login.to_owned()),
                    ("per_page", PER_PAGE.to_string()),
                ],
            )
        } else {
            self.client
                .url_with(&["users"], &[("username", login.to_owned())])
        };
        let (users, _, _) = self.client.get_page::<User>(url).await?;
        Ok(users
            .into_iter()
            .find(|u| !u.is_bot() && u.answers_to(login)))
    }

    /// The numeric user id of an account: its external id, or found by login.
    async fn user_id(&self, account: &AccountRef) -> Result<Option<u64>, AdapterError> {
        if let Some(id) = account
            .external_id
            .as_deref()
            .and_then(|id| id.parse().ok())
        {
            return Ok(Some(id));
        }
        Ok(self.find_user(&account.login).await?.map(|u| u.id))
    }

    fn member_url(&self, source: Source<'_>, user: u64) -> Url {
        self.client
            .url(&[source.collection, source.path, "members", &user.to_string()])
    }

    /// A person's direct membership of a group or project, if any.
    async fn direct_member(
        &self,
        source: Source<'_>,
        user: u64,
    ) -> Result<Option<Member>, AdapterError> {
        match self.client.get(self.member_url(source, user)).await {
            Ok(member) => Ok(Some(member)),
            Err(AdapterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A membership's body. `expires_at` is the grant's end date; an empty one
    /// clears the membership's end date where `clear` (GitLab keeps the end date a
    /// `PUT` leaves out; clearing with an empty value is unverified against a real
    /// tenant).
    /// Whether the person reaches the resource through an ancestor group at `level`
    /// or higher (`GET …/members/all/:user_id`).
    async fn inherits_at_least(
        &self,
        source: Source<'_>,
        user: u64,
        level: u32,
    ) -> Result<bool, AdapterError> {
        if source.kind == GROUP && !source.path.contains('/') {
            return Ok(false);
        }
        let url = self.client.url(&[
            source.collection,
            source.path,
            "members",
            "all",
            &user.to_string(),
        ]);
        match self.client.get::<Member>(url).await {
            Ok(m) => Ok(!m.is_awaiting() && m.access_level.is_some_and(|l| l >= level)),
            Err(AdapterError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn membership_body(level: u32, expires_at: Option<NaiveDate>, clear: bool) -> Value {
        let mut body = json!({ "access_level": level });
        match expires_at {
            Some(date) => body["expires_at"] = json!(date.format("%Y-%m-%d").to_string()),
            None if clear => body["expires_at"] = json!(""),
            None => {}
        }
        body
    }

    /// `POST …/members`: one write. A 409 (already a member) reads the membership:
    /// the same level and end date are already in place, another level or end date is
    /// changed with one `PUT`.
    async fn add_member(
        &self,
        source: Source<'_>,
        user: u64,
        level: u32,
        expires_at: Option<NaiveDate>,
    ) -> Result<Applied, AdapterError> {
        let url = self
            .client
            .url(&[source.collection, source.path, "members"]);
        let mut body = Self::membership_body(level, expires_at, false);
        body["user_id"] = json!(user);
        match self.client.send(Method::POST, url, Some(&body)).await {
            Ok(reply) => {
                let member: Option<Member> = reply.json(SYSTEM).ok();
                if let Some(m) = member.filter(Member::is_awaiting) {
                    return Err(awaiting(source, &m));
                }
                Ok(Applied::changed().with_rate_limit(reply.rate_limit))
            }
            Err(AdapterError::AlreadyDone { error }) => {
                match self.direct_member(source, user).await? {
                    Some(m) if m.is_awaiting() => Err(awaiting(source, &m)),
                    Some(m) if m.access_level == Some(level) && same_end(&m, expires_at) => {
                        Ok(Applied::already_in_place())
                    }
                    Some(m) => {
                        let clear = expires_at.is_none() && end_of(&m).is_some();
                        self.update_member(source, user, level, expires_at, clear)
                            .await
                    }
                    // Refused below an inherited level: the inherited membership is
                    // the grant's effect.
                    None if self.inherits_at_least(source, user, level).await? => {
                        Ok(Applied::already_in_place())
                    }
                    // "Member already exists" but no direct membership: a pending
                    // invitation or a race; the executor confirms with `check`.
                    None => Err(AdapterError::Conflict { error }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `PUT …/members/:user_id`: a role change in one write. For an open-ended grant
    /// the reply tells whether the membership still has an end date (GitLab keeps the
    /// one a `PUT` leaves out): if it does, a second `PUT` clears it, unless `clear`
    /// already did.
    async fn update_member(
        &self,
        source: Source<'_>,
        user: u64,
        level: u32,
        expires_at: Option<NaiveDate>,
        clear: bool,
    ) -> Result<Applied, AdapterError> {
        let body = Self::membership_body(level, expires_at, clear);
        let reply = self
            .client
            .send(Method::PUT, self.member_url(source, user), Some(&body))
            .await?;
        let member: Option<Member> = reply.json(SYSTEM).ok();
        if let Some(m) = member.as_ref().filter(|m| m.is_awaiting()) {
            return Err(awaiting(source, m));
        }
        if expires_at.is_none() && !clear && member.as_ref().and_then(end_of).is_some() {
            let body = Self::membership_body(level, None, true);
            let reply = self
                .client
                .send(Method::PUT, self.member_url(source, user), Some(&body))
                .await?;
            return Ok(Applied::changed()
                .with_rate_limit(reply.rate_limit)
                .with_note("the open-ended grant cleared the membership's end date"));
        }
        Ok(Applied::changed().with_rate_limit(reply.rate_limit))
    }

    async fn grant(
        &self,
        op: &Operation,
        e: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let source = Source::of(&e.kind, &e.resource)?;
        let level = level_of(e)?;
        self.refuse_saml_linked(source, "grant").await?;
        let Some(user) = self.user_id(account).await? else {
            return Err(self.no_account_yet(&account.login));
        };
        // The policies' validity window ends: GitLab enforces it too. It removes the
        // member on that date (UTC), so the date of the end is never later than the end.
        let expires_at = op.reason.valid_until.map(|end| end.date_naive());
        if op.reason.kind == ReasonKind::Replacement {
            // A role change of an ordered kind: one PUT; a membership that is gone
            // meanwhile is added instead.
            match self
                .update_member(source, user, level, expires_at, false)
                .await
            {
                Err(AdapterError::NotFound { .. }) => {}
                other => return other,
            }
        }
        self.add_member(source, user, level, expires_at).await
    }

    /// `DELETE …/members/:user_id`. For a leaver GitLab also removes the person's
    /// direct memberships of the subgroups and projects below; for anyone else
    /// `skip_subresources=true` keeps them (they are other grants). A person who is no
    /// member, or has no account, is already done; a group that does not exist is not.
    ///
    /// In a group with SAML group links only a leaver's membership is removed (see
    /// [`GitlabAdapter::refuse_saml_linked`]).
    async fn revoke(
        &self,
        op: &Operation,
        e: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let source = Source::of(&e.kind, &e.resource)?;
        let leaver = is_leaver_removal(op);
        if !leaver {
            self.refuse_saml_linked(source, "revoke").await?;
        }
        let Some(user) = self.user_id(account).await? else {
            return Ok(Applied::already_in_place());
        };
        let mut url = self.member_url(source, user);
        if source.kind == GROUP && !leaver {
            // Only what was planned: GitLab would also drop the person's direct
            // memberships of the subgroups and projects below.
            url.query_pairs_mut()
                .append_pair("skip_subresources", "true");
        }
        match self.client.send(Method::DELETE, url, None).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(AdapterError::NotFound { .. }) => Ok(Applied::already_in_place()),
            Err(e) => Err(e),
        }
    }

    /// A group with SAML group links belongs to the identity provider: GitLab
    /// rewrites its memberships at every sign-in, so a grant (or a revoke for anyone
    /// but a leaver) there would be undone, or undo the link's work. Refused with an
    /// error naming the links and the fix.
    async fn refuse_saml_linked(&self, source: Source<'_>, verb: &str) -> Result<(), AdapterError> {
        if source.kind != GROUP {
            return Ok(());
        }
        let links = self.saml_links_of(source.path).await?;
        if links.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = links
            .iter()
            .map(|l| match l.access_level.and_then(role_of) {
                Some(role) => format!("`{}` → {role}", l.name),
                None => format!("`{}`", l.name),
            })
            .collect();
        Err(AdapterError::Configuration {
            error: SystemError::message(format!(
                "refusing to {verb} in {}: its members come from SAML group links ({}), which \
                 GitLab applies again at every sign-in; declare the group externally owned \
                 (`external_owners:` in the system's entry: `kind: group`, `resource_prefix:` \
                 the group's path; policies may then not target it) or change the link in \
                 the identity provider instead (a leaver's membership is still removed)",
                source.path,
                names.join(", ")
            )),
        })
    }

    /// What a grant for a person without an account is: pending until the first SSO
    /// login on gitlab.com; on self-managed, not found (the create comes first).
    fn no_account_yet(&self, login: &str) -> AdapterError {
        if self.gitlab_com() {
            AdapterError::Pending {
                recheck_after: FIRST_LOGIN_RECHECK,
                error: SystemError::message(format!(
                    "{login} has no GitLab account yet: gitlab.com creates it on the first SSO \
                     login (SAML/SCIM), then the membership is granted"
                )),
            }
        } else {
            AdapterError::NotFound {
                error: SystemError::message(format!("no GitLab user for {login}")),
            }
        }
    }

    fn lifecycle_unsupported(&self, verb: &str) -> AdapterError {
        AdapterError::Unsupported {
            what: format!(
                "{verb} on gitlab.com: account lifecycle is impossible there (accounts come from \
                 SAML/SCIM and no customer is an instance administrator); a leaver loses every \
                 membership in the managed groups instead"
            ),
        }
    }

    async fn create_account(&self, profile: &AccountProfile) -> Result<Applied, AdapterError> {
        if self.gitlab_com() {
            return match self.find_user(&profile.login).await? {
                Some(user) => Ok(Applied::already_in_place().with_external_id(user.id.to_string())),
                None => Err(self.no_account_yet(&profile.login)),
            };
        }
        let username = profile
            .attributes
            .get("username")
            .cloned()
            .unwrap_or_else(|| username_from(&profile.login));
        let name = if profile.display_name.trim().is_empty() {
            username.clone()
        } else {
            profile.display_name.clone()
        };
        let body = json!({
            "email": profile.email,
            "username": username,
            "name": name,
            "reset_password": true,
            "skip_confirmation": true,
        });
        match self
            .client
            .send(Method::POST, self.client.url(&["users"]), Some(&body))
            .await
        {
            Ok(reply) => {
                let user: User = reply.json(SYSTEM)?;
                Ok(Applied::changed()
                    .with_external_id(user.id.to_string())
                    .with_rate_limit(reply.rate_limit))
            }
            // Email or username taken: adopt the user when it is this person's.
            Err(AdapterError::AlreadyDone { error } | AdapterError::Conflict { error }) => {
                for key in [&profile.login, &profile.email, &username] {
                    if let Some(user) = self.find_user(key).await?
                        && (user.answers_to(&profile.email) || user.answers_to(&profile.login))
                    {
                        return Ok(
                            Applied::already_in_place().with_external_id(user.id.to_string())
                        );
                    }
                }
                Err(AdapterError::Conflict { error })
            }
            Err(e) => Err(e),
        }
    }

    async fn user(&self, id: u64) -> Result<User, AdapterError> {
        self.client
            .get(self.client.url(&["users", &id.to_string()]))
            .await
    }

    async fn user_action(&self, id: u64, action: &str) -> Result<Applied, AdapterError> {
        let reply = self
            .client
            .send(
                Method::POST,
                self.client.url(&["users", &id.to_string(), action]),
                None,
            )
            .await?;
        Ok(Applied::changed().with_rate_limit(reply.rate_limit))
    }

    async fn required_user_id(&self, account: &AccountRef) -> Result<u64, AdapterError> {
        self.user_id(account)
            .await?
            .ok_or_else(|| AdapterError::NotFound {
                error: SystemError::message(format!("no GitLab user for {}", account.login)),
            })
    }

    /// Block (or deactivate) a leaver. The state is read first: a user already
    /// blocked, deactivated or banned is not blocked again.
    ///
    /// * `block` (the default): one write.
    /// * `deactivate`: GitLab reactivates a deactivated user who signs in again, old
    ///   personal access tokens included, so the user's active tokens are revoked too
    ///   (also when the user was already deactivated, so an interrupted attempt
    ///   finishes). GitLab refuses to deactivate a user active in the last days (403);
    ///   the adapter then blocks, and says so in the log and in the run's report
    ///   ([`Applied::note`]).
    async fn suspend(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        let id = self.required_user_id(account).await?;
        let user = self.user(id).await?;
        let state = user.state.as_deref().unwrap_or("active");
        match self.config().leaver_action {
            LeaverAction::Block if state == "active" => self.user_action(id, "block").await,
            LeaverAction::Block => Ok(Applied::already_in_place()),
            LeaverAction::Deactivate => {
                let applied = if state == "active" {
                    match self.user_action(id, "deactivate").await {
                        Err(AdapterError::Unauthorized { error })
                            if error.status == Some(403)
                                && is_deactivation_refusal(&error.message) =>
                        {
                            tracing::warn!(
                                user = id,
                                reason = %error.message,
                                "GitLab refused to deactivate a recently active user: blocked instead"
                            );
                            let note = format!(
                                "GitLab refused to deactivate the user ({}): blocked instead",
                                error.message
                            );
                            // Blocked: tokens stop working with the user.
                            return Ok(self.user_action(id, "block").await?.with_note(note));
                        }
                        other => other?,
                    }
                } else if state == "deactivated" {
                    Applied::already_in_place()
                } else {
                    // Blocked or banned: its tokens already stop working.
                    return Ok(Applied::already_in_place());
                };
                let (revoked, rate) = crate::tokens::revoke_all(&self.client, id).await?;
                if revoked == 0 {
                    return Ok(applied);
                }
                tracing::info!(
                    user = id,
                    revoked,
                    "revoked the deactivated user's personal access tokens"
                );
                Ok(Applied::changed().with_rate_limit(rate).with_note(format!(
                    "deactivated; {revoked} personal access token(s) revoked (GitLab \
                     reactivates a deactivated user who signs in again)"
                )))
            }
        }
    }

    async fn reactivate(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        let id = self.required_user_id(account).await?;
        let user = self.user(id).await?;
        match user.state.as_deref().unwrap_or("active") {
            "active" => Ok(Applied::already_in_place()),
            "deactivated" => self.user_action(id, "activate").await,
            "banned" => self.user_action(id, "unban").await,
            _ => self.user_action(id, "unblock").await,
        }
    }

    async fn delete(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        let Some(id) = self.user_id(account).await? else {
            return Ok(Applied::already_in_place());
        };
        let url = if self.config().hard_delete {
            self.client.url_with(
                &["users", &id.to_string()],
                &[("hard_delete", "true".to_owned())],
            )
        } else {
            self.client.url(&["users", &id.to_string()])
        };
        match self.client.send(Method::DELETE, url, None).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(AdapterError::NotFound { .. }) => Ok(Applied::already_in_place()),
            Err(e) => Err(e),
        }
    }

    /// An account as read. Its login is the email where GitLab shows one, else the
    /// SAML NameID when it is an email (gitlab.com hides non-enterprise users' emails),
    /// else the username; the NameID is also the `saml_name_id` correlation key.
    fn account_record(&self, user: &User) -> AccountRecord {
        let name_id = user
            .group_saml_identity
            .as_ref()
            .and_then(|i| i.extern_uid.as_deref())
            .filter(|n| !n.is_empty());
        let visible_email = user
            .email
            .as_deref()
            .or(user.public_email.as_deref())
            .filter(|e| !e.is_empty());
        let login = visible_email
            .or(name_id.filter(|n| n.contains('@')))
            .unwrap_or(&user.username);
        let mut record = AccountRecord::new(user.id.to_string(), login, user.account_state())
            .with_correlation("username", &user.username);
        if let Some(email) = visible_email {
            record = record.with_correlation("email", email);
        }
        if let Some(name_id) = name_id {
            record = record.with_correlation(SAML_NAME_ID, name_id);
        }
        record.last_login = user
            .last_sign_in_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        record
    }

    /// The grant a membership is, if any: an `awaiting` one gives no access, and a
    /// bot's is no person's.
    fn grant_record(&self, kind: &str, resource: &str, member: &Member) -> Option<GrantRecord> {
        if member.is_awaiting() || member.is_bot() {
            return None;
        }
        let role = role_of(member.access_level?)?;
        Some(GrantRecord {
            entitlement: Entitlement::new(self.system.as_str(), kind, resource).with_role(role),
            account_external_id: member.id.to_string(),
            login: Some(member.user().login().to_owned()),
        })
    }

    fn first_or_cursor(
        &self,
        cursor: Option<&str>,
        first: impl FnOnce() -> Url,
    ) -> Result<Url, AdapterError> {
        match cursor {
            Some(c) => self.client.cursor_url(c),
            None => Ok(first()),
        }
    }

    /// One page of the members of a group or project **including those who inherit
    /// the membership from an ancestor group** (`/members/all`): what people can
    /// actually reach, for drift and access reviews. [`Adapter::read_grants`] reads
    /// the direct members, the memberships the SDK manages.
    pub async fn read_reachable(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let source = Source::of(&resource.kind, &resource.resource)?;
        let url = self.first_or_cursor(cursor, || {
            self.client.url_with(
                &[source.collection, source.path, "members", "all"],
                &[("per_page", PER_PAGE.to_string())],
            )
        })?;
        self.member_page(source, url).await
    }

    async fn member_page(
        &self,
        source: Source<'_>,
        url: Url,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let (members, next, rate) = self.client.get_page::<Member>(url).await?;
        let items = members
            .iter()
            .filter_map(|m| self.grant_record(source.kind, source.path, m))
            .collect();
        Ok(Page::new(items, next.map(String::from)).with_rate_limit(rate))
    }
}

/// Whether a membership ends on the grant's end date (both open-ended, or the same
/// day).
fn same_end(member: &Member, end: Option<NaiveDate>) -> bool {
    end_of(member) == end
}

/// A membership's end date (`YYYY-MM-DD`, or a timestamp starting with one); anything
/// else is none.
fn end_of(member: &Member) -> Option<NaiveDate> {
    let d = member.expires_at.as_deref()?.trim();
    NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok()
}

/// Whether a revoke takes a leaver's access away (the planner's termination, or a
/// drift fix of one).
fn is_leaver_removal(op: &Operation) -> bool {
    op.reason.kind == ReasonKind::Termination
        || (op.reason.kind == ReasonKind::DriftRemediation
            && op.reason.detail.contains("identity terminated"))
}

/// A membership GitLab keeps `awaiting`: pending until a seat frees up or an Owner
/// approves it.
fn awaiting(source: Source<'_>, member: &Member) -> AdapterError {
    AdapterError::Pending {
        recheck_after: AWAITING_RECHECK,
        error: SystemError::message(format!(
            "the membership of {} in {} {} is awaiting (the group's user cap is reached, or \
             new members need approval): no access until an Owner approves it under \
             Manage > Members, or a seat frees up",
            member.username, source.kind, source.path
        )),
    }
}

/// GitLab's answer when a user cannot be deactivated yet (recent activity).
fn is_deactivation_refusal(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("active in the past") || m.contains("cannot be deactivated") || m.contains("recent")
}

/// A GitLab username from a login: the part before `@`, with characters GitLab does
/// not allow replaced by `-`.
pub fn username_from(login: &str) -> String {
    let local = login.split('@').next().unwrap_or(login);
    let name: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.trim_matches(|c| c == '.' || c == '-').to_owned()
}

#[async_trait]
impl Adapter for GitlabAdapter {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// Self-managed: every user of the instance but bots (`GET /users`, keyset
    /// pagination by id). gitlab.com: every person who is a direct member anywhere in
    /// the managed tree (the top-level group, and subgroups and projects for people
    /// who are not in it), bots left out, with their SAML identity: the tree is read
    /// once ([`tree`]) and given as one page.
    ///
    /// The first page starts a new run: the tree is (re)read for the per-account reads
    /// that follow.
    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        if self.gitlab_com() {
            if let Some(c) = cursor {
                return Err(AdapterError::Invalid {
                    error: SystemError::message(format!(
                        "not a GitLab page cursor: {c:?} (gitlab.com accounts come in one page)"
                    )),
                });
            }
            let snapshot = self.snapshot(true).await?;
            return Ok(Page::last(self.accounts_in(&snapshot)));
        }
        if cursor.is_none() {
            self.forget_snapshot();
        }
        let url = self.first_or_cursor(cursor, || {
            self.client.url_with(
                &["users"],
                &[
                    ("pagination", "keyset".to_owned()),
                    ("per_page", PER_PAGE.to_string()),
                    ("order_by", "id".to_owned()),
                    ("sort", "asc".to_owned()),
                ],
            )
        })?;
        let (users, next, rate) = self.client.get_page::<User>(url).await?;
        let items = users
            .iter()
            .filter(|u| !u.is_bot())
            .map(|u| self.account_record(u))
            .collect();
        Ok(Page::new(items, next.map(String::from)).with_rate_limit(rate))
    }

    /// The direct members of a group or project (`/members`, 100 a page, followed to
    /// the last page). Awaiting memberships, bots, and levels no policy can name (a
    /// custom level) are left out.
    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let source = Source::of(&resource.kind, &resource.resource)?;
        let url = self.first_or_cursor(cursor, || {
            self.client.url_with(
                &[source.collection, source.path, "members"],
                &[("per_page", PER_PAGE.to_string())],
            )
        })?;
        self.member_page(source, url).await
    }

    /// The person's direct memberships anywhere in the managed tree (the top-level
    /// group, its subgroups and projects), from the tree read once per run ([`tree`]):
    /// no request per account once the tree is read.
    async fn read_account_grants(
        &self,
        account: &AccountRef,
        _cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let Some(user) = self.user_id(account).await? else {
            return Ok(Page::last(Vec::new()));
        };
        Ok(Page::last(self.snapshot(false).await?.grants_of(user)))
    }

    /// The managed tree: `group` lists the top-level group and its descendants (each
    /// with its parent), `project` the projects in them; from the tree this run already
    /// read when there is one ([`tree`]).
    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        if cursor.is_none()
            && matches!(kind, GROUP | PROJECT)
            && let Some(snapshot) = self.cached_snapshot()
        {
            // The tree this run already read.
            return Ok(Page::last(snapshot.resources(kind)));
        }
        let top = &self.config().group;
        let mut items = Vec::new();
        let url = match (kind, cursor) {
            (GROUP, None) => {
                let root: Group = self.client.get(self.client.url(&["groups", top])).await?;
                items.push(
                    ResourceRecord::new(GROUP, &root.full_path)
                        .with_external_id(root.id.to_string()),
                );
                self.client.url_with(
                    &["groups", top, "descendant_groups"],
                    &[("per_page", PER_PAGE.to_string())],
                )
            }
            (PROJECT, None) => self.client.url_with(
                &["groups", top, "projects"],
                &[
                    ("include_subgroups", "true".to_owned()),
                    ("with_shared", "false".to_owned()),
                    ("per_page", PER_PAGE.to_string()),
                ],
            ),
            (GROUP | PROJECT, Some(c)) => self.client.cursor_url(c)?,
            (other, _) => {
                return Err(AdapterError::Unsupported {
                    what: format!("list_resources({other})"),
                });
            }
        };
        let (next, rate) = if kind == GROUP {
            let (groups, next, rate) = self.client.get_page::<Group>(url).await?;
            items.extend(groups.iter().map(tree::group_record));
            (next, rate)
        } else {
            let (projects, next, rate) = self.client.get_page::<Project>(url).await?;
            items.extend(projects.iter().map(tree::project_record));
            (next, rate)
        };
        Ok(Page::new(items, next.map(String::from)).with_rate_limit(rate))
    }

    /// Makes one change. Any change ends the run's tree snapshot ([`tree`]): what is
    /// read after it is read from GitLab again.
    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        self.forget_snapshot();
        let lifecycle = matches!(
            op.kind,
            OperationKind::SuspendAccount
                | OperationKind::ReactivateAccount
                | OperationKind::DeleteAccount
        );
        if lifecycle && self.gitlab_com() {
            return Err(self.lifecycle_unsupported(op.kind.verb()));
        }
        match &op.kind {
            OperationKind::Grant { entitlement } => self.grant(op, entitlement, account).await,
            OperationKind::Revoke { entitlement } => self.revoke(op, entitlement, account).await,
            OperationKind::CreateAccount { profile } => self.create_account(profile).await,
            OperationKind::SuspendAccount => self.suspend(account).await,
            OperationKind::ReactivateAccount => self.reactivate(account).await,
            OperationKind::DeleteAccount => self.delete(account).await,
            OperationKind::RevokeSessions => Err(AdapterError::Unsupported {
                what: "revoke_sessions: GitLab has no endpoint that ends a user's sessions \
                       (blocking or deactivating the user ends access on self-managed)"
                    .to_owned(),
            }),
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
        match &op.kind {
            OperationKind::CreateAccount { profile } => match self.find_user(&profile.login).await?
            {
                Some(user) => Ok(CheckStatus::Done {
                    external_id: Some(user.id.to_string()),
                }),
                None if self.gitlab_com() => Ok(CheckStatus::Pending {
                    recheck_after: FIRST_LOGIN_RECHECK,
                }),
                None => Ok(CheckStatus::NotDone),
            },
            OperationKind::Grant { entitlement } => {
                let source = Source::of(&entitlement.kind, &entitlement.resource)?;
                let level = level_of(entitlement)?;
                let Some(user) = self.user_id(account).await? else {
                    return Ok(if self.gitlab_com() {
                        CheckStatus::Pending {
                            recheck_after: FIRST_LOGIN_RECHECK,
                        }
                    } else {
                        CheckStatus::NotDone
                    });
                };
                Ok(match self.direct_member(source, user).await? {
                    Some(m) if m.is_awaiting() => CheckStatus::Pending {
                        recheck_after: AWAITING_RECHECK,
                    },
                    Some(m)
                        if m.access_level == Some(level)
                            && same_end(&m, op.reason.valid_until.map(|t| t.date_naive())) =>
                    {
                        CheckStatus::Done { external_id: None }
                    }
                    Some(_) => CheckStatus::NotDone,
                    // No direct membership: GitLab refuses one below what the person
                    // inherits from an ancestor group ("… inherited membership …"), and
                    // that inherited membership is the grant's effect.
                    None if self.inherits_at_least(source, user, level).await? => {
                        CheckStatus::Done { external_id: None }
                    }
                    None => CheckStatus::NotDone,
                })
            }
            OperationKind::Revoke { entitlement } => {
                let source = Source::of(&entitlement.kind, &entitlement.resource)?;
                let Some(user) = self.user_id(account).await? else {
                    return Ok(CheckStatus::Done { external_id: None });
                };
                Ok(match self.direct_member(source, user).await? {
                    None => CheckStatus::Done { external_id: None },
                    Some(_) => CheckStatus::NotDone,
                })
            }
            OperationKind::SuspendAccount if !self.gitlab_com() => {
                let id = self.required_user_id(account).await?;
                let user = self.user(id).await?;
                let tokens_left = self.config().leaver_action == LeaverAction::Deactivate
                    && user.state.as_deref() == Some("deactivated")
                    && !crate::tokens::active_tokens(&self.client, id)
                        .await?
                        .is_empty();
                Ok(
                    if user.account_state() == AccountState::Active || tokens_left {
                        CheckStatus::NotDone
                    } else {
                        CheckStatus::Done { external_id: None }
                    },
                )
            }
            _ => Ok(CheckStatus::NotDone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_the_login() {
        assert_eq!(username_from("sarah.connor@acme.com"), "sarah.connor");
        assert_eq!(username_from("o'brien+x@acme.com"), "o-brien-x");
        assert_eq!(username_from("ada"), "ada");
    }

    #[test]
    fn deactivation_refusals_are_recognised() {
        assert!(is_deactivation_refusal(
            "403 Forbidden - The user you are trying to deactivate has been active in the past 90 days and cannot be deactivated"
        ));
        assert!(!is_deactivation_refusal("403 Forbidden"));
    }
}
