//! Team memberships: member or maintainer, written with `PUT` (one write for a grant
//! and for a role change), removed with `DELETE`. A team synced from the identity
//! provider answers 403 to every write: a configuration finding, never retried.

use provision_core::adapter::{AdapterError, Applied, CheckStatus, Page, SystemError};
use provision_core::model::{AccountRef, Entitlement, GrantRecord, Operation};
use reqwest::Method;
use serde_json::json;
use url::Url;

use super::{GithubAdapter, missing_is_configuration};
use crate::client::{PER_PAGE, SYSTEM};
use crate::descriptor::{INVITATION_RECHECK, TEAM, TEAM_ROLES};
use crate::model::{SimpleUser, TeamMembership};

fn team_role(e: &Entitlement) -> Result<&str, AdapterError> {
    let role = e.role.as_deref().unwrap_or("member");
    TEAM_ROLES
        .iter()
        .find(|r| r.eq_ignore_ascii_case(role))
        .copied()
        .ok_or_else(|| AdapterError::Invalid {
            error: SystemError::message(format!(
                "a GitHub team has no role `{role}` (known: member, maintainer)"
            )),
        })
}

/// A write to a team refused with 403 (and no rate-limit signal): the team is
/// synced from the identity provider (GitHub refuses every API write to it), or the
/// token cannot manage it. Either way a person must change the configuration;
/// retrying cannot help.
fn team_write_refused(team: &str, e: AdapterError) -> AdapterError {
    match e {
        AdapterError::Unauthorized { error } if error.status == Some(403) => {
            AdapterError::Configuration {
                error: SystemError::new(
                    error.status,
                    error.code,
                    format!(
                        "{} — GitHub refused to change team `{team}`: a team synced with the \
                         identity provider (team synchronization) can only be changed there; \
                         otherwise the token needs to be an organization owner or the team's \
                         maintainer. Manage this team in the IdP or remove it from the policies.",
                        error.message
                    ),
                ),
            }
        }
        other => other,
    }
}

impl GithubAdapter {
    fn team_membership_url(&self, team: &str, username: &str) -> Url {
        self.client.url(&[
            "orgs",
            &self.config().org,
            "teams",
            team,
            "memberships",
            username,
        ])
    }

    /// `PUT /orgs/{org}/teams/{team}/memberships/{username}` with the role: one write
    /// for a grant and for a role change. A `pending` answer (the person has not
    /// accepted the organization's invitation) is pending.
    pub(super) async fn grant_team(
        &self,
        _op: &Operation,
        e: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let role = team_role(e)?;
        let username = self.required_username(account)?;
        let reply = self
            .client
            .send(
                Method::PUT,
                self.team_membership_url(&e.resource, &username),
                Some(&json!({ "role": role })),
            )
            .await
            .map_err(|err| team_write_refused(&e.resource, err))?;
        let membership: TeamMembership = reply.json(SYSTEM)?;
        if membership.state == "pending" {
            return Err(AdapterError::Pending {
                recheck_after: INVITATION_RECHECK,
                error: SystemError::message(format!(
                    "{username} is in team {} once they accept the organization's invitation",
                    e.resource
                )),
            });
        }
        Ok(Applied::changed().with_rate_limit(reply.rate_limit))
    }

    /// `DELETE /orgs/{org}/teams/{team}/memberships/{username}`; a person who is no
    /// member (404) is done.
    pub(super) async fn revoke_team(
        &self,
        e: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let Some(username) = self.username_of(account) else {
            return Ok(Applied::already_in_place());
        };
        self.remove(self.team_membership_url(&e.resource, &username))
            .await
            .map_err(|err| team_write_refused(&e.resource, err))
    }

    /// The membership read back: done when active with the role asked for.
    pub(super) async fn check_team(
        &self,
        e: &Entitlement,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        let role = team_role(e)?;
        let Some(username) = self.username_of(account) else {
            return Ok(CheckStatus::Pending {
                recheck_after: INVITATION_RECHECK,
            });
        };
        match self
            .client
            .get::<TeamMembership>(self.team_membership_url(&e.resource, &username))
            .await
        {
            Ok(m) if m.state == "pending" => Ok(CheckStatus::Pending {
                recheck_after: INVITATION_RECHECK,
            }),
            Ok(m) if m.role == role => Ok(CheckStatus::Done { external_id: None }),
            Ok(_) | Err(AdapterError::NotFound { .. }) => Ok(CheckStatus::NotDone),
            Err(err) => Err(err),
        }
    }

    /// One page of a team's members with their roles (`role=all`, 100 a page); members
    /// who are in only through a child team are left out (the grant is the child's).
    /// A team that does not exist is a configuration error.
    pub(super) async fn read_team(
        &self,
        team: &str,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let url = match cursor {
            Some(c) => self.client.cursor_url(c)?,
            None => self.client.url_with(
                &["orgs", &self.config().org, "teams", team, "members"],
                &[
                    ("role", "all".to_owned()),
                    ("per_page", PER_PAGE.to_string()),
                ],
            ),
        };
        let (members, next, rate) = self.client.get_page::<SimpleUser>(url).await.map_err(|e| {
            missing_is_configuration(
                e,
                &format!(
                    "team `{team}` does not exist in {} (check the policy's team slug)",
                    self.config().org
                ),
            )
        })?;
        let items = members
            .iter()
            .filter(|m| !m.inherited)
            .map(|m| GrantRecord {
                entitlement: Entitlement::new(self.system.as_str(), TEAM, team)
                    .with_role(m.role.as_deref().unwrap_or("member")),
                // Accounts are keyed by username (EMU: the managed handle).
                account_external_id: m.login.clone(),
                login: Some(m.login.clone()),
            })
            .collect();
        Ok(Page::new(items, next.map(String::from)).with_rate_limit(rate))
    }
}
