//! Repository permissions: `pull` < `triage` < `push` < `maintain` < `admin` (plus
//! custom roles), written with `PUT /repos/{owner}/{repo}/collaborators/{username}`.
//!
//! GitHub answers that `PUT` with 204 both when nothing changed and when the role
//! changed, and with 201 when it created an invitation (an outside collaborator):
//! 204 is taken as done without reading back (the write is idempotent); 201 is
//! pending until the person accepts. Only [`Adapter::check`] reads back, when the
//! executor must confirm.
//!
//! [`Adapter::check`]: provision_core::adapter::Adapter::check

use provision_core::adapter::{AdapterError, Applied, CheckStatus, SystemError};
use provision_core::model::{AccountRef, Entitlement};
use reqwest::Method;
use serde_json::json;
use url::Url;

use super::GithubAdapter;
use crate::descriptor::INVITATION_RECHECK;

impl GithubAdapter {
    /// `owner/repo` (a bare `repo` is in the managed organization).
    fn repo_parts<'a>(&'a self, resource: &'a str) -> Result<(&'a str, &'a str), AdapterError> {
        let (owner, repo) = match resource.split_once('/') {
            Some((o, r)) => (o, r),
            None => (self.config().org.as_str(), resource),
        };
        if owner.is_empty() || repo.is_empty() || repo.contains('/') {
            return Err(AdapterError::Invalid {
                error: SystemError::message(format!(
                    "a GitHub repository is `owner/repo` or `repo`, not `{resource}`"
                )),
            });
        }
        Ok((owner, repo))
    }

    fn collaborator_url(&self, resource: &str, username: &str) -> Result<Url, AdapterError> {
        let (owner, repo) = self.repo_parts(resource)?;
        Ok(self
            .client
            .url(&["repos", owner, repo, "collaborators", username]))
    }

    fn repo_role<'a>(&self, e: &'a Entitlement) -> Result<&'a str, AdapterError> {
        let role = e.role.as_deref().unwrap_or("pull");
        let known = self
            .descriptor
            .kind(crate::descriptor::REPOSITORY)
            .is_some_and(|k| k.roles.iter().any(|r| r == role));
        if known {
            Ok(role)
        } else {
            Err(AdapterError::Invalid {
                error: SystemError::message(format!(
                    "GitHub has no repository role `{role}` (pull, triage, push, maintain, \
                     admin, or a custom role named in settings.custom_repo_roles)"
                )),
            })
        }
    }

    /// One `PUT` with the permission: 204 done (no read-back), 201 an invitation
    /// (pending until accepted).
    pub(super) async fn grant_repo(
        &self,
        e: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let role = self.repo_role(e)?;
        let username = self.required_username(account)?;
        let url = self.collaborator_url(&e.resource, &username)?;
        let reply = self
            .client
            .send(Method::PUT, url, Some(&json!({ "permission": role })))
            .await?;
        if reply.status == 201 {
            return Err(AdapterError::Pending {
                recheck_after: INVITATION_RECHECK,
                error: SystemError::message(format!(
                    "GitHub invited {username} to {} as a collaborator ({role}): pending until \
                     they accept",
                    e.resource
                )),
            });
        }
        Ok(Applied::changed().with_rate_limit(reply.rate_limit))
    }

    /// `DELETE …/collaborators/{username}`; 404 (no such collaborator) is done.
    pub(super) async fn revoke_repo(
        &self,
        e: &Entitlement,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let Some(username) = self.username_of(account) else {
            return Ok(Applied::already_in_place());
        };
        self.remove(self.collaborator_url(&e.resource, &username)?)
            .await
    }

    /// Read back with `GET …/collaborators/{username}` (204 a collaborator, 404 not).
    /// GitHub's description gives no role on that answer, so a grant is confirmed as
    /// "has access"; the role was set by the idempotent `PUT`.
    pub(super) async fn check_repo(
        &self,
        e: &Entitlement,
        account: &AccountRef,
        granted: bool,
    ) -> Result<CheckStatus, AdapterError> {
        let Some(username) = self.username_of(account) else {
            return Ok(if granted {
                CheckStatus::Pending {
                    recheck_after: INVITATION_RECHECK,
                }
            } else {
                CheckStatus::Done { external_id: None }
            });
        };
        let url = self.collaborator_url(&e.resource, &username)?;
        let present = match self.client.send(Method::GET, url, None).await {
            Ok(_) => true,
            Err(AdapterError::NotFound { .. }) => false,
            Err(err) => return Err(err),
        };
        Ok(if present == granted {
            CheckStatus::Done { external_id: None }
        } else {
            CheckStatus::NotDone
        })
    }
}
