//! The [`Adapter`] implementation, split by what it manages: `org` (organization
//! membership as the account, invitations), `emu` (EMU accounts over SCIM),
//! `teams` and `repos` (grants). This module holds the shared parts: who a person
//! is on GitHub, and the trait's dispatch.

mod emu;
mod org;
mod repos;
mod teams;

use std::sync::Arc;

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, RateLimitInfo, SystemDescriptor, SystemError,
};
use provision_core::clock::{Clock, SystemClock};
use provision_core::model::{
    AccountRecord, AccountRef, GrantRecord, Operation, OperationKind, ResourceRef, SystemName,
};

use crate::client::GithubClient;
use crate::config::{ConfigError, GithubConfig};
use crate::descriptor::{
    BUDGET_INVITATIONS, INVITATION_RECHECK, REPOSITORY, TEAM, github_descriptor,
};

/// The GitHub adapter. See the [crate documentation](crate) for what it does.
#[derive(Debug)]
pub struct GithubAdapter {
    client: GithubClient,
    descriptor: SystemDescriptor,
    system: SystemName,
}

impl GithubAdapter {
    /// An adapter for the configured organization, on the system clock. Makes no
    /// request; [`GithubAdapter::verify_token`] is the check the factory makes.
    pub fn new(config: GithubConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// As [`GithubAdapter::new`], with the clock that dates app JWTs and installation
    /// tokens (tests pass a fixed one).
    pub fn with_clock(config: GithubConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let descriptor = github_descriptor(
            config.emu.is_some(),
            config.delete_leavers,
            &config.custom_repo_roles,
        );
        Ok(Self {
            client: GithubClient::new(config, clock)?,
            descriptor,
            system: SystemName::new("github"),
        })
    }

    /// The system's name in the deployment, used in the grants it reads.
    pub fn with_system_name(mut self, name: impl Into<String>) -> Self {
        self.system = SystemName::new(name.into());
        self
    }

    /// The HTTP client.
    pub fn client(&self) -> &GithubClient {
        &self.client
    }

    fn config(&self) -> &GithubConfig {
        self.client.config()
    }

    fn emu(&self) -> bool {
        self.config().emu.is_some()
    }

    /// Checks the credential and the organization (`GET /orgs/{org}/memberships/…`
    /// is not needed: one page of members shows both): the token is valid and can see
    /// the organization's members.
    pub async fn verify_token(&self) -> Result<(), AdapterError> {
        let url = self.client.url_with(
            &["orgs", &self.config().org, "members"],
            &[("per_page", "1".to_owned())],
        );
        let _ = org::org_read(
            self.client.get_page::<crate::model::SimpleUser>(url).await,
            &self.config().org,
        )?;
        Ok(())
    }

    /// The GitHub username of an account, when it can be known without guessing:
    /// the account's external id (accounts are keyed by username), or in EMU, before
    /// the account is read, the managed handle `{login's local part}_{shortcode}`.
    pub fn username_of(&self, account: &AccountRef) -> Option<String> {
        let known = account
            .external_id
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty() && !u.contains('@'))
            .map(str::to_owned);
        match &self.config().emu {
            Some(emu) => known.or_else(|| Some(emu_handle(&account.login, &emu.shortcode))),
            None => known,
        }
    }

    /// The username, or a pending error that says why it cannot be known.
    fn required_username(&self, account: &AccountRef) -> Result<String, AdapterError> {
        self.username_of(account)
            .ok_or_else(|| unresolved(&account.login, &self.config().username_attribute))
    }
}

/// A person the adapter cannot map onto a GitHub user: pending, with the reason.
pub(crate) fn unresolved(login: &str, attribute: &str) -> AdapterError {
    AdapterError::Pending {
        recheck_after: INVITATION_RECHECK,
        error: SystemError::message(format!(
            "{login} has no known GitHub username: GitHub usernames are not emails, so the \
             roster attribute `{attribute}` must name it (and the system's correlation map \
             `username` to it); until then nothing is sent for this person"
        )),
    }
}

/// The handle GitHub gives a managed user: the IdP user name's part before `@`, with
/// characters GitHub does not allow replaced by `-`, then `_` and the short code.
/// (Unverified against a real enterprise: GitHub documents the rule, not every edge.)
pub fn emu_handle(user_name: &str, shortcode: &str) -> String {
    let local = user_name.split('@').next().unwrap_or(user_name);
    let handle: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}_{shortcode}", handle.trim_matches('-'))
}

/// The rate-limit value that tags an answer with the invitation budget.
pub(crate) fn invitation_budget(info: Option<RateLimitInfo>) -> Option<RateLimitInfo> {
    let mut info = info.unwrap_or_default();
    info.bucket = Some(BUDGET_INVITATIONS.to_owned());
    // The core budget's numbers would be read as the invitation budget's headroom.
    info.limit = None;
    info.remaining = None;
    info.reset_at = None;
    Some(info)
}

/// A 404 on a read of something the configuration or a policy names (the
/// organization, a team, the enterprise's SCIM API): a configuration error with
/// `hint`, never "nothing there". Other errors pass through.
pub(crate) fn missing_is_configuration(e: AdapterError, hint: &str) -> AdapterError {
    match e {
        AdapterError::NotFound { error } => AdapterError::Configuration {
            error: SystemError::new(
                error.status,
                error.code,
                format!("{} — {hint}", error.message),
            ),
        },
        other => other,
    }
}

impl GithubAdapter {
    /// One `DELETE` of a membership; 404 (not a member) is already done.
    pub(crate) async fn remove(&self, url: url::Url) -> Result<Applied, AdapterError> {
        match self.client.send(reqwest::Method::DELETE, url, None).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(AdapterError::NotFound { .. }) => Ok(Applied::already_in_place()),
            Err(e) => Err(e),
        }
    }
}

fn no_kind(kind: &str) -> AdapterError {
    AdapterError::Invalid {
        error: SystemError::message(format!(
            "GitHub has no resource kind `{kind}` (known: team, repository)"
        )),
    }
}

#[async_trait]
impl Adapter for GithubAdapter {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// Plain organization: the members (`GET /orgs/{org}/members`, 100 a page), then
    /// the open invitations (`GET /orgs/{org}/invitations`) as staged accounts. EMU:
    /// the enterprise's SCIM users.
    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        if self.emu() {
            self.read_scim_users(cursor).await
        } else {
            self.read_org_accounts(cursor).await
        }
    }

    /// A team's direct members with their role (one list, 100 a page).
    ///
    /// Repository collaborators cannot be listed within the GitHub description the
    /// adapter is held to (it has only `GET …/collaborators/{username}`), so a
    /// repository reads as an empty page, with a warning: the planner then re-sends
    /// the idempotent `PUT` for each person a policy grants the repository (GitHub
    /// answers 204, changing nothing) and cannot see hand-made collaborators. An error
    /// here would fail the whole GitHub read for every plan naming a repository.
    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        match resource.kind.as_str() {
            TEAM => self.read_team(&resource.resource, cursor).await,
            REPOSITORY => {
                tracing::warn!(
                    repository = %resource.resource,
                    "repository collaborators are not read (the listing is outside the \
                     GitHub description this adapter is held to): grants are re-sent \
                     idempotently and hand-made collaborators are not seen"
                );
                Ok(Page::last(Vec::new()))
            }
            other => Err(no_kind(other)),
        }
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        match &op.kind {
            OperationKind::Grant { entitlement } => match entitlement.kind.as_str() {
                TEAM => self.grant_team(op, entitlement, account).await,
                REPOSITORY => self.grant_repo(entitlement, account).await,
                other => Err(no_kind(other)),
            },
            OperationKind::Revoke { entitlement } => match entitlement.kind.as_str() {
                TEAM => self.revoke_team(entitlement, account).await,
                REPOSITORY => self.revoke_repo(entitlement, account).await,
                other => Err(no_kind(other)),
            },
            OperationKind::CreateAccount { profile } => {
                if self.emu() {
                    self.create_scim_user(profile).await
                } else {
                    self.invite(profile).await
                }
            }
            OperationKind::SuspendAccount => {
                if self.emu() {
                    self.set_scim_active(account, false).await
                } else {
                    self.remove_from_org(account).await
                }
            }
            OperationKind::ReactivateAccount => {
                if self.emu() {
                    self.set_scim_active(account, true).await
                } else {
                    Err(AdapterError::Unsupported {
                        what: "reactivate on a plain organization: a removed member comes back \
                               by a new invitation (with `reinstate` for a rehire)"
                            .into(),
                    })
                }
            }
            OperationKind::DeleteAccount => self.delete_scim_user(account).await,
            OperationKind::RevokeSessions => Err(AdapterError::Unsupported {
                what: "revoke_sessions: GitHub has no API that ends another user's web \
                       sessions; removal from the organization (or EMU suspension) ends access"
                    .into(),
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
            OperationKind::CreateAccount { profile } if !self.emu() => {
                self.check_invitation(profile).await
            }
            OperationKind::CreateAccount { profile } => self.check_scim_user(profile).await,
            OperationKind::Grant { entitlement } if entitlement.kind == TEAM => {
                self.check_team(entitlement, account).await
            }
            OperationKind::Grant { entitlement } if entitlement.kind == REPOSITORY => {
                self.check_repo(entitlement, account, true).await
            }
            OperationKind::Revoke { entitlement } if entitlement.kind == REPOSITORY => {
                self.check_repo(entitlement, account, false).await
            }
            _ => Ok(CheckStatus::NotDone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_handles_come_from_the_idp_user_name() {
        assert_eq!(emu_handle("sarah.chen@acme.com", "acme"), "sarah-chen_acme");
        assert_eq!(emu_handle("ada", "acme"), "ada_acme");
    }
}
