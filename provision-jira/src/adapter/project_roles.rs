//! Project roles: actors added and removed one by one (never the whole-list
//! `PUT`), in the projects the deployment manages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{Entitlement, GrantRecord, ResourceRecord};
use reqwest::Method;
use serde_json::{Value, json};

use super::{JiraAdapter, parse_offset};
use crate::descriptor::KIND_PROJECT_ROLE;
use crate::model::{ProjectRole, RoleRef};

/// How long a role's actors read for the per-account reads are kept within a run.
pub const RUN_CACHE_TTL: Duration = Duration::from_secs(120);

/// Each (project, role id)'s actors as read for the per-account reads of one run:
/// one `GET /project/{key}/role/{id}` per role and project, not per account. Dropped
/// when a run starts (the first page of the account listing), for a role whose
/// actors the adapter changes, and after [`RUN_CACHE_TTL`].
#[derive(Debug, Default)]
pub(super) struct RunActors(Mutex<HashMap<RoleKey, (Instant, Arc<ProjectRole>)>>);

/// A project's key and a role id.
type RoleKey = (String, u64);

impl RunActors {
    fn get(&self, project: &str, role_id: u64) -> Option<Arc<ProjectRole>> {
        let kept = self.0.lock().ok()?;
        let (at, role) = kept.get(&(project.to_owned(), role_id))?;
        (at.elapsed() < RUN_CACHE_TTL).then(|| role.clone())
    }

    fn keep(&self, project: &str, role_id: u64, role: Arc<ProjectRole>) {
        if let Ok(mut kept) = self.0.lock() {
            kept.insert((project.to_owned(), role_id), (Instant::now(), role));
        }
    }

    fn forget(&self, project: &str, role_id: u64) {
        if let Ok(mut kept) = self.0.lock() {
            kept.remove(&(project.to_owned(), role_id));
        }
    }

    /// Drops everything: a new run reads afresh.
    pub(super) fn clear(&self) {
        if let Ok(mut kept) = self.0.lock() {
            kept.clear();
        }
    }
}

impl JiraAdapter {
    /// A role's actors for the per-account reads: read once per run
    /// ([`RunActors`]).
    pub(super) async fn run_role_actors(
        &self,
        project: &str,
        role_id: u64,
    ) -> Result<Arc<ProjectRole>, AdapterError> {
        if let Some(role) = self.run_actors.get(project, role_id) {
            return Ok(role);
        }
        let role = Arc::new(self.role_actors(project, role_id).await?);
        self.run_actors.keep(project, role_id, role.clone());
        Ok(role)
    }

    /// Role name → id (`GET /role`), once per run.
    pub(super) async fn role_id(&self, name: &str) -> Result<u64, AdapterError> {
        let ids = self
            .role_ids
            .get_or_try_init(|| async {
                let url = self.client.site_url(&["role"], &[]);
                let (roles, _): (Vec<RoleRef>, _) = self.client.site_get(url).await?;
                Ok::<_, AdapterError>(roles.into_iter().map(|r| (r.name, r.id)).collect())
            })
            .await?;
        ids.get(name)
            .copied()
            .ok_or_else(|| AdapterError::Configuration {
                error: SystemError::message(format!("Jira has no project role named {name:?}")),
            })
    }

    /// The actors of one role in one project; a missing project is a configuration
    /// error.
    pub(super) async fn role_actors(
        &self,
        project: &str,
        role_id: u64,
    ) -> Result<ProjectRole, AdapterError> {
        let rid = role_id.to_string();
        let url = self
            .client
            .site_url(&["project", project, "role", &rid], &[]);
        match self.client.site_get(url).await {
            Ok((role, _)) => Ok(role),
            Err(AdapterError::NotFound { error }) => Err(AdapterError::Configuration {
                error: SystemError::new(
                    error.status,
                    error.code,
                    format!(
                        "project {project:?} (or role {role_id} in it) does not exist: {}",
                        error.message
                    ),
                ),
            }),
            Err(e) => Err(e),
        }
    }

    /// `POST /project/{key}/role/{id}` `{"user":[accountId]}`; never the whole-list
    /// `PUT`. A refusal is done when a read shows the actor is there.
    pub(super) async fn add_role_actor(
        &self,
        id: &str,
        project: &str,
        role: &str,
    ) -> Result<Applied, AdapterError> {
        let role_id = self.role_id(role).await?;
        let rid = role_id.to_string();
        let url = self
            .client
            .site_url(&["project", project, "role", &rid], &[]);
        let body = json!({ "user": [id] });
        self.run_actors.forget(project, role_id);
        match self.client.site(Method::POST, url, Some(&body)).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(
                e @ (AdapterError::Invalid { .. }
                | AdapterError::NotFound { .. }
                | AdapterError::Conflict { .. }),
            ) => {
                let actors = self.role_actors(project, role_id).await?;
                if actors.user_ids().any(|a| a == id) {
                    return Ok(Applied::already_in_place());
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE /project/{key}/role/{id}?user=` (204). Not an actor is done.
    pub(super) async fn remove_role_actor(
        &self,
        id: &str,
        project: &str,
        role: &str,
    ) -> Result<Applied, AdapterError> {
        let role_id = self.role_id(role).await?;
        let rid = role_id.to_string();
        let url = self
            .client
            .site_url(&["project", project, "role", &rid], &[("user", id)]);
        self.run_actors.forget(project, role_id);
        match self.client.site(Method::DELETE, url, None).await {
            Ok(reply) => Ok(Applied::changed().with_rate_limit(reply.rate_limit)),
            Err(
                e @ (AdapterError::Invalid { .. }
                | AdapterError::NotFound { .. }
                | AdapterError::Conflict { .. }),
            ) => {
                let actors = self.role_actors(project, role_id).await?;
                if actors.user_ids().any(|a| a == id) {
                    return Err(e);
                }
                Ok(Applied::already_in_place())
            }
            Err(e) => Err(e),
        }
    }

    /// The roles of one project that policies may name, with their ids.
    pub(super) async fn project_roles(&self) -> Result<Vec<(String, u64)>, AdapterError> {
        let mut out = Vec::new();
        for name in &self.config.project_roles {
            match self.role_id(name).await {
                Ok(id) => out.push((name.clone(), id)),
                Err(AdapterError::Configuration { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The actors of one of `project`'s roles a page, as grants of that role.
    pub(super) async fn project_role_grants(
        &self,
        project: &str,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        // One role of the project per page (each role's actors come whole).
        let roles = self.project_roles().await?;
        let index = parse_offset(cursor)? as usize;
        let Some((name, rid)) = roles.get(index) else {
            return Ok(Page::last(Vec::new()));
        };
        let actors = self.role_actors(project, *rid).await?;
        let e = self
            .entitlement(KIND_PROJECT_ROLE, project)
            .with_role(name.as_str());
        let items = actors
            .user_ids()
            .map(|id| GrantRecord {
                entitlement: e.clone(),
                account_external_id: id.to_owned(),
                login: None,
            })
            .collect();
        let next = (index + 1 < roles.len()).then(|| (index + 1).to_string());
        Ok(Page::new(items, next))
    }

    /// The configured projects, each looked up: a missing one is a configuration
    /// error, not an empty listing.
    pub(super) async fn project_role_resources(
        &self,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        let mut items = Vec::new();
        let mut rate_limit = None;
        for p in &self.config.projects {
            let url = self.client.site_url(&["project", p, "role"], &[]);
            match self.client.site_get::<Value>(url).await {
                Ok((_, rl)) => rate_limit = rl,
                Err(AdapterError::NotFound { error }) => {
                    return Err(AdapterError::Configuration {
                        error: SystemError::new(
                            error.status,
                            error.code,
                            format!("configured project {p:?} does not exist: {}", error.message),
                        ),
                    });
                }
                Err(e) => return Err(e),
            }
            items.push(ResourceRecord::new(KIND_PROJECT_ROLE, p));
        }
        Ok(Page::last(items).with_rate_limit(rate_limit))
    }
}

pub(super) fn role_of(entitlement: &Entitlement) -> Result<&str, AdapterError> {
    entitlement
        .role
        .as_deref()
        .ok_or_else(|| AdapterError::Invalid {
            error: SystemError::message(format!("{entitlement}: a project role needs a role name")),
        })
}
