//! Groups: finding them by `displayName`, reading members (one `GET /Groups/{id}`
//! per group), listing them, and writing membership — PATCH `members` in the
//! application's dialect, or, for PUT-only groups, one read and one PUT of the whole
//! list per batch, with `If-Match` where ETags are offered.

use std::sync::atomic::Ordering;

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{AccountRef, Entitlement, GrantRecord, ResourceRecord, ResourceRef};
use reqwest::Method;
use serde_json::Value;

use super::users::{etag_of, patch_refused};
use super::{PUT_ATTEMPTS, ScimAdapter, next_page, parse};
use crate::client::scim_type;
use crate::descriptor::KIND_GROUP;
use crate::dialect::quote;
use crate::model::{ListResponse, ScimGroup};

impl ScimAdapter {
    /// A group's id by the name policies use: the configured id, the cache, a
    /// `displayName eq "…"` filter, or a scan of the group list. A group that does not
    /// exist is a configuration error naming it (a policy names a group the
    /// application does not have), never "absent".
    pub(super) async fn group_id(&self, name: &str) -> Result<String, AdapterError> {
        if let Some(id) = self.groups.get(name) {
            return Ok(id);
        }
        let found = if self.filters() {
            let query = [
                ("filter", format!("displayName eq {}", quote(name))),
                ("attributes", "displayName".to_owned()),
            ];
            match self
                .client
                .get::<ListResponse<ScimGroup>>(&["Groups"], &query)
                .await
            {
                Ok((list, _)) => pick(list.resources, name),
                Err(e)
                    if scim_type(&e).is_some_and(|t| t.eq_ignore_ascii_case("invalidFilter"))
                        || e.system_error().and_then(|s| s.status) == Some(501) =>
                {
                    self.filter_refused.store(true, Ordering::Relaxed);
                    self.scan_groups(name).await?
                }
                Err(e) => return Err(e),
            }
        } else {
            self.scan_groups(name).await?
        };
        match found {
            Some(id) => {
                self.groups.insert(name, &id);
                Ok(id)
            }
            None => Err(AdapterError::Configuration {
                error: SystemError::message(format!(
                    "{} has no group named {name:?}: create it, or give its id as \
                     settings.group.{name}",
                    self.system()
                )),
            }),
        }
    }

    async fn scan_groups(&self, name: &str) -> Result<Option<String>, AdapterError> {
        let mut cursor: Option<String> = None;
        let mut all = Vec::new();
        loop {
            let (list, next) = self
                .group_list(cursor.as_deref(), Some(without_members()))
                .await?;
            all.extend(list);
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(pick(all, name)),
            }
        }
    }

    /// One page of `GET /Groups`, with `extra` in the query (a filter, or
    /// `attributes=displayName` to leave members out).
    async fn group_list(
        &self,
        cursor: Option<&str>,
        extra: Option<(&'static str, String)>,
    ) -> Result<(Vec<ScimGroup>, Option<String>), AdapterError> {
        let page = self.page_at(cursor)?;
        let mut query: Vec<(&str, String)> = page.query().into_iter().collect();
        query.extend(extra);
        let (list, _): (ListResponse<ScimGroup>, _) = self.client.get(&["Groups"], &query).await?;
        let next = next_page(&page, list.total_results, list.resources.len());
        Ok((list.resources, next.map(|p| p.to_cursor())))
    }

    /// Every group as a resource, by `displayName`.
    pub(super) async fn group_resources(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        let (groups, next) = self.group_list(cursor, Some(without_members())).await?;
        let items = groups
            .into_iter()
            .map(|g| {
                self.groups.insert(&g.display_name, &g.id);
                ResourceRecord::new(KIND_GROUP, g.display_name).with_external_id(g.id)
            })
            .collect();
        Ok(Page::new(items, next))
    }

    /// The group's members, from one `GET /Groups/{id}` (nested groups left out).
    pub(super) async fn group_members_page(
        &self,
        resource: &ResourceRef,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let (group, _, _, rate) = self.read_group(&resource.resource).await?;
        let items = group
            .members
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.is_user() && !m.value.is_empty())
            .map(|m| GrantRecord {
                entitlement: Entitlement::new(
                    resource.system.as_str(),
                    KIND_GROUP,
                    &resource.resource,
                ),
                login: self.known_user(&m.value).map(|(login, _)| login),
                account_external_id: m.value,
            })
            .collect();
        Ok(Page::last(items).with_rate_limit(rate))
    }

    /// `GET /Groups/{id}` of the group policies call `name`: the group, its raw body,
    /// its ETag. A group deleted since its id was cached is looked up again once.
    async fn read_group(
        &self,
        name: &str,
    ) -> Result<
        (
            ScimGroup,
            Value,
            Option<String>,
            Option<provision_core::adapter::RateLimitInfo>,
        ),
        AdapterError,
    > {
        let mut id = self.group_id(name).await?;
        for attempt in 0..2 {
            match self
                .client
                .call(Method::GET, &["Groups", &id], &[], None, None)
                .await
            {
                Ok(reply) => {
                    let raw: Value = parse(self.system(), &reply)?;
                    let group: ScimGroup = serde_json::from_value(raw.clone()).map_err(|e| {
                        AdapterError::Permanent {
                            error: SystemError::message(format!(
                                "unexpected group from {}: {e}",
                                self.system()
                            )),
                        }
                    })?;
                    let etag = etag_of(&reply, &raw);
                    return Ok((group, raw, etag, reply.rate_limit));
                }
                Err(AdapterError::NotFound { .. })
                    if attempt == 0 && !self.config.groups.contains_key(name) =>
                {
                    self.groups.remove(name);
                    id = self.group_id(name).await?;
                }
                Err(AdapterError::NotFound { error }) => {
                    return Err(AdapterError::Configuration {
                        error: SystemError::new(
                            error.status,
                            error.code,
                            format!("{} — group {name:?} ({id}) does not exist", error.message),
                        ),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(super::internal("group read loop"))
    }

    /// The groups user `id` is in: `filter=members[value eq "…"]`, or every group's
    /// members where filters are refused.
    pub(super) async fn groups_of_user(
        &self,
        id: &str,
        login: &str,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let filter = self
            .filters()
            .then(|| format!("members[value eq {}]", quote(id)));
        let result = self
            .group_list(cursor, filter.clone().map(|f| ("filter", f)))
            .await;
        let (groups, next) = match result {
            Err(e)
                if filter.is_some()
                    && scim_type(&e).is_some_and(|t| t.eq_ignore_ascii_case("invalidFilter"))
                    || filter.is_some() && e_status(&e) == Some(501) =>
            {
                self.filter_refused.store(true, Ordering::Relaxed);
                self.group_list(cursor, None).await?
            }
            Err(e) => return Err(e),
            Ok(ok) if filter.is_some() => ok,
            Ok(_) => self.group_list(cursor, None).await?,
        };
        let system = self.system().to_owned();
        let items = groups
            .into_iter()
            .filter(|g| match &g.members {
                // The members say, when they came (a filter the application ignored
                // must not make the user a member of every group).
                Some(members) => members.iter().any(|m| m.value == id),
                // A filtered list without members holds only the user's groups.
                None => filter.is_some() && !self.filter_refused.load(Ordering::Relaxed),
            })
            .map(|g| {
                self.groups.insert(&g.display_name, &g.id);
                GrantRecord {
                    entitlement: Entitlement::new(&system, KIND_GROUP, g.display_name),
                    account_external_id: id.to_owned(),
                    login: Some(login.to_owned()),
                }
            })
            .collect();
        Ok(Page::new(items, next))
    }

    /// One PATCH adding or removing one member, in the application's dialect. Adding a
    /// member already there (409) and removing one who is not (`noTarget`, 404) are
    /// already done. A 501/405 to a PATCH discovery announced switches this adapter to
    /// PUT for groups, and the change is made that way.
    pub(super) async fn patch_member(
        &self,
        group: &str,
        grant: bool,
        account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        let Some(user) = self.user_id(account).await? else {
            return if grant {
                Err(self.no_user(account))
            } else {
                Ok(Applied::already_in_place())
            };
        };
        let id = self.group_id(group).await?;
        let dialect = &self.config.dialect;
        let body = if grant {
            dialect.add_member(&user)
        } else {
            dialect.remove_member(&user)
        };
        match self
            .client
            .call(Method::PATCH, &["Groups", &id], &[], Some(&body), None)
            .await
        {
            Ok(reply) => Ok(Applied::changed()
                .with_external_id(user)
                .with_rate_limit(reply.rate_limit)),
            Err(AdapterError::Conflict { .. }) if grant => {
                Ok(Applied::already_in_place().with_external_id(user))
            }
            Err(AdapterError::NotFound { .. }) if !grant => Ok(Applied::already_in_place()),
            Err(e)
                if !grant && scim_type(&e).is_some_and(|t| t.eq_ignore_ascii_case("noTarget")) =>
            {
                Ok(Applied::already_in_place())
            }
            Err(e) if patch_refused(&e) => {
                self.patch_refused.store(true, Ordering::Relaxed);
                tracing::warn!(
                    system = self.system(),
                    group,
                    "the application refused a group PATCH ({e}); group membership is \
                     written by PUT from now on"
                );
                self.put_members(group, &[(grant, account.clone())])
                    .await
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| Err(super::internal("no answer")))
            }
            Err(e) => Err(e),
        }
    }

    /// Changes to one PUT-only group: one read, then one PUT of the whole member list
    /// (with `If-Match` where ETags are offered) when anything changes. A 412 (the
    /// group changed in between) starts over, up to [`PUT_ATTEMPTS`] times. Returns
    /// one result per change, in order.
    pub(super) async fn put_members(
        &self,
        group: &str,
        changes: &[(bool, AccountRef)],
    ) -> Vec<Result<Applied, AdapterError>> {
        let mut results: Vec<Option<Result<Applied, AdapterError>>> = vec![None; changes.len()];
        // Resolve each person's id; an unknown person is settled here.
        let mut wanted: Vec<(usize, bool, String)> = Vec::new();
        for (i, (grant, account)) in changes.iter().enumerate() {
            match self.user_id(account).await {
                Ok(Some(id)) => wanted.push((i, *grant, id)),
                Ok(None) if *grant => results[i] = Some(Err(self.no_user(account))),
                Ok(None) => results[i] = Some(Ok(Applied::already_in_place())),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        if !wanted.is_empty() {
            let outcome = self.put_attempts(group, &wanted).await;
            match outcome {
                Ok(changed) => {
                    for ((i, _, id), did) in wanted.iter().zip(changed) {
                        let applied = if did {
                            Applied::changed()
                        } else {
                            Applied::already_in_place()
                        };
                        results[*i] = Some(Ok(applied.with_external_id(id)));
                    }
                }
                Err(e) => {
                    for (i, _, _) in &wanted {
                        results[*i] = Some(Err(e.clone()));
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(super::internal("no answer for this change"))))
            .collect()
    }

    /// Read, change, PUT; again on 412. Returns per wanted change whether it changed
    /// the list.
    async fn put_attempts(
        &self,
        group: &str,
        wanted: &[(usize, bool, String)],
    ) -> Result<Vec<bool>, AdapterError> {
        let mut last = None;
        for _ in 0..PUT_ATTEMPTS {
            let (read, mut raw, etag, _) = self.read_group(group).await?;
            let mut members: Vec<Value> = raw
                .get("members")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let holds = |ms: &[Value], id: &str| {
                ms.iter()
                    .any(|m| m.get("value").and_then(Value::as_str) == Some(id))
            };
            let mut changed = Vec::with_capacity(wanted.len());
            for (_, grant, id) in wanted {
                let has = holds(&members, id);
                if *grant && !has {
                    members.push(serde_json::json!({ "value": id }));
                    changed.push(true);
                } else if !*grant && has {
                    members.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
                    changed.push(true);
                } else {
                    changed.push(false);
                }
            }
            if !changed.iter().any(|c| *c) {
                return Ok(changed);
            }
            if let Some(map) = raw.as_object_mut() {
                map.remove("meta");
                map.insert("members".to_owned(), Value::Array(members));
            }
            let if_match = etag.filter(|_| self.caps.etag);
            match self
                .client
                .call(
                    Method::PUT,
                    &["Groups", &read.id],
                    &[],
                    Some(&raw),
                    if_match.as_deref(),
                )
                .await
            {
                Ok(_) => return Ok(changed),
                Err(e) if e_status(&e) == Some(412) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| super::internal("no PUT attempt made")))
    }
}

/// `attributes=displayName`: a group list without its (possibly long) member lists.
fn without_members() -> (&'static str, String) {
    ("attributes", "displayName".to_owned())
}

fn e_status(e: &AdapterError) -> Option<u16> {
    e.system_error().and_then(|s| s.status)
}

/// The id of the group named `name`: an exact `displayName` match, else a
/// case-insensitive one (RFC 7643: `displayName` is not case-exact).
fn pick(groups: Vec<ScimGroup>, name: &str) -> Option<String> {
    groups
        .iter()
        .find(|g| g.display_name == name)
        .or_else(|| {
            groups
                .iter()
                .find(|g| g.display_name.eq_ignore_ascii_case(name))
        })
        .map(|g| g.id.clone())
}
