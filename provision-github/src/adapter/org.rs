//! Organization membership as the account on a plain (non-EMU) organization: a join
//! is an invitation, pending until accepted and re-checked (never re-sent); a leaver
//! is removed from the organization.

use provision_core::adapter::{AdapterError, Applied, CheckStatus, Page, SystemError};
use provision_core::model::{AccountProfile, AccountRecord, AccountRef, AccountState};
use reqwest::Method;
use serde_json::json;
use url::Url;

use super::{GithubAdapter, invitation_budget, missing_is_configuration, unresolved};
use crate::client::{ListPage, PER_PAGE, SYSTEM};
use crate::descriptor::INVITATION_RECHECK;
use crate::model::{Invitation, OrgMembership, SimpleUser};

/// A read of the organization itself: a 404 means the organization named does not
/// exist or the token cannot see it, which is configuration, never "no members".
pub(crate) fn org_read<T>(
    read: Result<ListPage<T>, AdapterError>,
    org: &str,
) -> Result<ListPage<T>, AdapterError> {
    read.map_err(|e| {
        missing_is_configuration(
            e,
            &format!(
                "the organization `{org}` does not exist or the token cannot see it (check \
                 settings.org and the token's organization access)"
            ),
        )
    })
}

/// What the membership read says about a person.
enum Membership {
    Active,
    Pending,
    None,
}

impl GithubAdapter {
    fn membership_url(&self, username: &str) -> Url {
        self.client
            .url(&["orgs", &self.config().org, "memberships", username])
    }

    async fn membership(&self, username: &str) -> Result<Membership, AdapterError> {
        match self
            .client
            .get::<OrgMembership>(self.membership_url(username))
            .await
        {
            Ok(m) if m.state == "active" => Ok(Membership::Active),
            Ok(_) => Ok(Membership::Pending),
            Err(AdapterError::NotFound { .. }) => Ok(Membership::None),
            Err(e) => Err(e),
        }
    }

    fn profile_username(&self, profile: &AccountProfile) -> Result<String, AdapterError> {
        let attribute = &self.config().username_attribute;
        profile
            .attributes
            .get(attribute)
            .map(|u| u.trim().trim_start_matches('@').to_owned())
            .filter(|u| !u.is_empty() && !u.contains('@'))
            .ok_or_else(|| unresolved(&profile.login, attribute))
    }

    fn pending_invitation(username: &str, org: &str) -> AdapterError {
        AdapterError::Pending {
            recheck_after: INVITATION_RECHECK,
            error: SystemError::message(format!(
                "{username} is invited to {org} and has not accepted yet: the invitation is \
                 re-checked, not re-sent"
            )),
        }
    }

    /// A joiner: re-check the membership first (an open invitation is never sent
    /// again, and each one spends the daily invitation budget), then one write: `PUT
    /// /orgs/{org}/memberships/{username}` (role member), or for a rehire `POST
    /// /orgs/{org}/invitations` with role `reinstate`, which gives back the teams and
    /// repositories GitHub kept for three months. Either is pending until accepted.
    pub(super) async fn invite(&self, profile: &AccountProfile) -> Result<Applied, AdapterError> {
        let username = self.profile_username(profile)?;
        let org = &self.config().org;
        match self.membership(&username).await? {
            Membership::Active => {
                return Ok(Applied::already_in_place()
                    .with_external_id(username)
                    .with_rate_limit(invitation_budget(None)));
            }
            Membership::Pending => return Err(Self::pending_invitation(&username, org)),
            Membership::None => {}
        }
        let rehire = profile
            .attributes
            .get(&self.config().rehire_attribute)
            .is_some_and(|v| {
                v.eq_ignore_ascii_case("true") || v == "1" || v.eq_ignore_ascii_case("yes")
            });
        if rehire {
            match self.reinstate(&username).await {
                Err(AdapterError::Invalid { error }) => {
                    tracing::info!(
                        username,
                        error = %error,
                        "GitHub refused to reinstate (not a former member?): inviting afresh"
                    );
                }
                other => return other,
            }
        }
        let reply = self
            .client
            .send(
                Method::PUT,
                self.membership_url(&username),
                Some(&json!({ "role": "member" })),
            )
            .await?;
        let membership: OrgMembership = reply.json(SYSTEM)?;
        if membership.state == "active" {
            // EMU-style organizations and members who were in already: no invitation.
            return Ok(Applied::changed()
                .with_external_id(username)
                .with_rate_limit(invitation_budget(reply.rate_limit)));
        }
        Err(Self::pending_invitation(&username, org))
    }

    async fn reinstate(&self, username: &str) -> Result<Applied, AdapterError> {
        let user: SimpleUser = self
            .client
            .get(self.client.url(&["users", username]))
            .await?;
        let body = json!({ "invitee_id": user.id, "role": "reinstate" });
        self.client
            .send(
                Method::POST,
                self.client
                    .url(&["orgs", &self.config().org, "invitations"]),
                Some(&body),
            )
            .await?;
        Err(Self::pending_invitation(username, &self.config().org))
    }

    /// Whether an invitation was accepted: active is done (with the username as the
    /// account id), pending stays pending, gone (declined or expired) is not done.
    pub(super) async fn check_invitation(
        &self,
        profile: &AccountProfile,
    ) -> Result<CheckStatus, AdapterError> {
        let username = match self.profile_username(profile) {
            Ok(u) => u,
            Err(_) => {
                return Ok(CheckStatus::Pending {
                    recheck_after: INVITATION_RECHECK,
                });
            }
        };
        Ok(match self.membership(&username).await? {
            Membership::Active => CheckStatus::Done {
                external_id: Some(username),
            },
            Membership::Pending => CheckStatus::Pending {
                recheck_after: INVITATION_RECHECK,
            },
            Membership::None => CheckStatus::NotDone,
        })
    }

    /// A leaver: `DELETE /orgs/{org}/memberships/{username}` (one write) removes the
    /// person from every team and repository of the organization and cancels an open
    /// invitation. Someone who is not a member is done.
    pub(super) async fn remove_from_org(
        &self,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let Some(username) = self.username_of(account) else {
            return Ok(Applied::already_in_place());
        };
        self.remove(self.membership_url(&username)).await
    }

    /// One page of members, then of open invitations (staged accounts).
    pub(super) async fn read_org_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let org = &self.config().org;
        let invitations_first = || {
            self.client.url_with(
                &["orgs", org, "invitations"],
                &[("per_page", PER_PAGE.to_string())],
            )
        };
        let url = match cursor {
            Some(c) => self.client.cursor_url(c)?,
            None => self.client.url_with(
                &["orgs", org, "members"],
                &[("per_page", PER_PAGE.to_string())],
            ),
        };
        if url.path().ends_with("/invitations") {
            let (invitations, next, rate) =
                org_read(self.client.get_page::<Invitation>(url).await, org)?;
            let items = invitations
                .iter()
                .filter_map(|i| {
                    let login = i.login.as_deref()?;
                    Some(
                        AccountRecord::new(login, login, AccountState::Staged)
                            .with_correlation("username", login),
                    )
                })
                .collect();
            return Ok(Page::new(items, next.map(String::from)).with_rate_limit(rate));
        }
        let (members, next, rate) = org_read(self.client.get_page::<SimpleUser>(url).await, org)?;
        let items = members
            .iter()
            .map(|m| {
                AccountRecord::new(&m.login, &m.login, AccountState::Active)
                    .with_correlation("username", &m.login)
                    .with_correlation("user_id", m.id.to_string())
            })
            .collect();
        let next = next.unwrap_or_else(invitations_first);
        Ok(Page::new(items, Some(next.to_string())).with_rate_limit(rate))
    }
}
