//! Users: finding them (`userName eq "…"`, escaped), reading them page by page,
//! creating (a 409 `uniqueness` adopts the existing user), deactivating and
//! reactivating (`active`), updating profile attributes, and deleting where
//! `delete_leavers` is set.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{AccountProfile, AccountRecord, AccountRef};
use provision_http::client::HttpResponse;
use provision_http::paginate::ScimPage;
use reqwest::Method;
use serde_json::Value;

use super::{IDS_PER_FILTER, ScimAdapter, next_page, parse};
use crate::client::scim_type;
use crate::dialect::{quote, user_name_filter};
use crate::model::{ListResponse, ProfileAttribute, ScimUser, create_body};

/// A user as read with its raw body and ETag (for a PUT that keeps the rest).
pub(super) struct FullUser {
    pub user: ScimUser,
    pub raw: Value,
    pub etag: Option<String>,
}

impl ScimAdapter {
    /// One page of `GET /Users`. Without `totalResults` the read goes on until an
    /// empty page (a short page is not the end).
    pub(super) async fn account_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let page = self.page_at(cursor)?;
        let (list, reply): (ListResponse<ScimUser>, HttpResponse) =
            self.client.get(&["Users"], &page.query()).await?;
        for u in &list.resources {
            self.remember(&u.id, &u.user_name, u.external_id.as_deref());
        }
        self.resolve_managers(&list.resources).await?;
        let next = next_page(&page, list.total_results, list.resources.len());
        let items = list.resources.iter().map(|u| self.record(u)).collect();
        Ok(Page::new(items, next.map(|p| p.to_cursor())).with_rate_limit(reply.rate_limit))
    }

    /// The SDK's view of a user: login = `userName`, state by `active`, the mapped
    /// profile attributes (a manager as their HR id), correlation keys.
    fn record(&self, u: &ScimUser) -> AccountRecord {
        let mut record = AccountRecord::new(&u.id, &u.user_name, u.state());
        for (hr, attr) in &self.profile {
            let value = match attr {
                ProfileAttribute::Manager => u
                    .profile_value(*attr)
                    .and_then(|id| self.known_user(&id))
                    .and_then(|(_, hr_id)| hr_id),
                other => u.profile_value(*other),
            };
            if let Some(v) = value {
                record.attributes.insert(hr.clone(), v);
            }
        }
        let mut keys = BTreeMap::new();
        if let Some(email) = u.email() {
            keys.insert("email".to_owned(), email.to_owned());
        }
        keys.insert("username".to_owned(), u.user_name.clone());
        keys.insert("user_id".to_owned(), u.id.clone());
        if let Some(n) = u.enterprise_value(ProfileAttribute::EmployeeNumber) {
            keys.insert("employee_id".to_owned(), n);
        }
        record.correlation = keys;
        record
    }

    /// Reads the managers a page names that have not been read yet, in one
    /// `id eq … or id eq …` filter per 50, so their HR ids are known.
    async fn resolve_managers(&self, users: &[ScimUser]) -> Result<(), AdapterError> {
        if !self
            .profile
            .iter()
            .any(|(_, a)| *a == ProfileAttribute::Manager)
            || !self.filters()
        {
            return Ok(());
        }
        let missing: BTreeSet<String> = users
            .iter()
            .filter_map(|u| u.enterprise_value(ProfileAttribute::Manager))
            .filter(|id| self.known_user(id).is_none())
            .collect();
        let missing: Vec<String> = missing.into_iter().collect();
        for chunk in missing.chunks(IDS_PER_FILTER) {
            let filter = chunk
                .iter()
                .map(|id| format!("id eq {}", quote(id)))
                .collect::<Vec<_>>()
                .join(" or ");
            if let Some(found) = self.search(&filter).await? {
                for u in found {
                    self.remember(&u.id, &u.user_name, u.external_id.as_deref());
                }
            }
        }
        Ok(())
    }

    /// Users matching `filter`, or `None` when the application refuses filters it
    /// announced (then filters are not used again: the adapter scans instead).
    pub(super) async fn search(&self, filter: &str) -> Result<Option<Vec<ScimUser>>, AdapterError> {
        if !self.filters() {
            return Ok(None);
        }
        let query = [
            ("filter", filter.to_owned()),
            ("count", self.page_size().to_string()),
        ];
        match self
            .client
            .get::<ListResponse<ScimUser>>(&["Users"], &query)
            .await
        {
            Ok((list, _)) => Ok(Some(list.resources)),
            Err(e) if filter_refused(&e) => {
                self.filter_refused.store(true, Ordering::Relaxed);
                tracing::warn!(
                    system = self.system(),
                    "the application refused a filter its ServiceProviderConfig announced \
                     ({e}); users are found by reading the list from now on"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The user whose `userName` is `login` (compared case-insensitively, RFC 7643
    /// §4.1.1): a filter, or a scan where filters are not available.
    pub(super) async fn find_user(&self, login: &str) -> Result<Option<ScimUser>, AdapterError> {
        let matches = |u: &ScimUser| u.user_name.eq_ignore_ascii_case(login);
        let found = match self.search(&user_name_filter(login)).await? {
            Some(list) => list.into_iter().find(matches),
            None => self.scan_users(matches).await?,
        };
        if let Some(u) = &found {
            self.remember(&u.id, &u.user_name, u.external_id.as_deref());
        }
        Ok(found)
    }

    /// Reads the user list to the end for the first user `matches` accepts.
    async fn scan_users(
        &self,
        matches: impl Fn(&ScimUser) -> bool,
    ) -> Result<Option<ScimUser>, AdapterError> {
        let mut page = ScimPage::first(self.page_size());
        loop {
            let (list, _): (ListResponse<ScimUser>, _) =
                self.client.get(&["Users"], &page.query()).await?;
            let returned = list.resources.len();
            if let Some(u) = list.resources.into_iter().find(&matches) {
                return Ok(Some(u));
            }
            match next_page(&page, list.total_results, returned) {
                Some(n) => page = n,
                None => return Ok(None),
            }
        }
    }

    /// The account's SCIM id: as given, else from the cache, else found by user name.
    pub(super) async fn user_id(
        &self,
        account: &AccountRef,
    ) -> Result<Option<String>, AdapterError> {
        if let Some(id) = &account.external_id {
            return Ok(Some(id.clone()));
        }
        if let Some(id) = self.users.get(&account.login.to_lowercase()) {
            return Ok(Some(id));
        }
        Ok(self.find_user(&account.login).await?.map(|u| u.id))
    }

    /// `GET /Users/{id}`; `None` when the application says there is no such user.
    pub(super) async fn get_user(&self, id: &str) -> Result<Option<FullUser>, AdapterError> {
        match self
            .client
            .call(Method::GET, &["Users", id], &[], None, None)
            .await
        {
            Ok(reply) => {
                let raw: Value = parse(self.system(), &reply)?;
                let user: ScimUser =
                    serde_json::from_value(raw.clone()).map_err(|e| AdapterError::Permanent {
                        error: SystemError::new(
                            Some(reply.status),
                            None,
                            format!("unexpected user from {}: {e}", self.system()),
                        ),
                    })?;
                let etag = etag_of(&reply, &raw);
                Ok(Some(FullUser { user, raw, etag }))
            }
            Err(AdapterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The manager's SCIM id from their HR id: the user whose `externalId` it is (the
    /// adapter writes HR ids there), else whose `userName` it is.
    async fn manager_id(&self, hr_value: &str) -> Result<Option<String>, AdapterError> {
        let cached = self.known.lock().ok().and_then(|known| {
            known
                .iter()
                .find(|(_, (user_name, hr))| {
                    hr.as_deref() == Some(hr_value) || user_name.eq_ignore_ascii_case(hr_value)
                })
                .map(|(id, _)| id.clone())
        });
        if cached.is_some() {
            return Ok(cached);
        }
        let by_external = format!("externalId eq {}", quote(hr_value));
        match self.search(&by_external).await? {
            Some(list) => {
                if let Some(u) = list
                    .into_iter()
                    .find(|u| u.external_id.as_deref() == Some(hr_value))
                {
                    self.remember(&u.id, &u.user_name, u.external_id.as_deref());
                    return Ok(Some(u.id));
                }
                Ok(self.find_user(hr_value).await?.map(|u| u.id))
            }
            None => Ok(self
                .scan_users(|u| u.external_id.as_deref() == Some(hr_value))
                .await?
                .map(|u| u.id)),
        }
    }

    /// The SCIM values of `attributes` (HR attribute → value) the application accepts,
    /// and notes on what was left out.
    async fn scim_values(
        &self,
        attributes: impl Iterator<Item = (&str, &str)>,
    ) -> Result<(BTreeMap<ProfileAttribute, String>, Vec<String>), AdapterError> {
        let mut values = BTreeMap::new();
        let mut notes = Vec::new();
        for (hr, value) in attributes {
            let Some((_, attr)) = self.profile.iter().find(|(h, _)| h == hr) else {
                continue;
            };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if *attr == ProfileAttribute::Manager {
                match self.manager_id(value).await? {
                    Some(id) => {
                        values.insert(*attr, id);
                    }
                    None => notes.push(format!(
                        "manager {value} has no account in {} yet: manager left unset",
                        self.system()
                    )),
                }
            } else {
                values.insert(*attr, value.to_owned());
            }
        }
        Ok((values, notes))
    }

    /// `POST /Users` with the person's HR id as `externalId` and the mapped profile
    /// attributes. A 409 (`uniqueness`) adopts the user of the same `userName` —
    /// reactivated if it was deactivated — unless it carries another person's HR id.
    pub(super) async fn create(
        &self,
        profile: &AccountProfile,
        hr_id: &str,
    ) -> Result<Applied, AdapterError> {
        let mut hr: Vec<(&str, &str)> = vec![
            ("display_name", profile.display_name.as_str()),
            ("email", profile.email.as_str()),
        ];
        hr.extend(
            profile
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let (values, notes) = self.scim_values(hr.into_iter()).await?;
        let body = create_body(
            profile,
            &profile.login,
            hr_id,
            &values,
            self.caps.enterprise,
        )
        .map_err(|e| AdapterError::Invalid {
            error: SystemError::message(format!("cannot encode the user: {e}")),
        })?;
        let applied = match self
            .client
            .call(Method::POST, &["Users"], &[], Some(&body), None)
            .await
        {
            Ok(reply) => {
                let id = match serde_json::from_slice::<ScimUser>(&reply.body) {
                    Ok(u) => u.id,
                    // A 201 without the resource (allowed by nothing, seen in practice):
                    // find what was made.
                    Err(_) => self
                        .find_user(&profile.login)
                        .await?
                        .map(|u| u.id)
                        .ok_or_else(|| AdapterError::Permanent {
                            error: SystemError::new(
                                Some(reply.status),
                                None,
                                format!(
                                    "{} accepted the user but returned no id, and it cannot be \
                                     found by userName",
                                    self.system()
                                ),
                            ),
                        })?,
                };
                self.remember(&id, &profile.login, Some(hr_id));
                Applied::changed()
                    .with_external_id(id)
                    .with_rate_limit(reply.rate_limit)
            }
            Err(e @ AdapterError::Conflict { .. }) => self.adopt(profile, hr_id, e).await?,
            Err(e) => return Err(e),
        };
        Ok(if notes.is_empty() {
            applied
        } else {
            applied.with_note(notes.join("; "))
        })
    }

    async fn adopt(
        &self,
        profile: &AccountProfile,
        hr_id: &str,
        conflict: AdapterError,
    ) -> Result<Applied, AdapterError> {
        let Some(existing) = self.find_user(&profile.login).await? else {
            return Err(conflict);
        };
        if let Some(other) = existing
            .external_id
            .as_deref()
            .filter(|e| !e.is_empty() && !hr_id.is_empty() && *e != hr_id)
        {
            let error = conflict.system_error().cloned().unwrap_or_default();
            return Err(AdapterError::Conflict {
                error: SystemError::new(
                    error.status,
                    error.code,
                    format!(
                        "{} — user {} exists in {} with externalId {other}, not {hr_id}: \
                         not adopted (another person, or an HR id that changed)",
                        error.message,
                        profile.login,
                        self.system()
                    ),
                ),
            });
        }
        let id = existing.id.clone();
        if existing.active == Some(false) {
            self.write_active(&id, true, None).await?;
            return Ok(Applied::already_in_place().with_external_id(id).with_note(
                "an existing deactivated user of that userName was adopted and reactivated",
            ));
        }
        Ok(Applied::already_in_place().with_external_id(id))
    }

    /// Deactivation (`active: false`) and reactivation: read, then one PATCH when the
    /// state differs (an account already so is already done).
    pub(super) async fn set_active(
        &self,
        account: &AccountRef,
        active: bool,
    ) -> Result<Applied, AdapterError> {
        let id = self
            .user_id(account)
            .await?
            .ok_or_else(|| self.no_user(account))?;
        let Some(full) = self.get_user(&id).await? else {
            return Err(self.no_user(account));
        };
        if full.user.active.unwrap_or(true) == active {
            return Ok(Applied::already_in_place().with_external_id(id));
        }
        self.write_active(&id, active, Some(full)).await
    }

    /// One write setting `active`: PATCH in the configured dialect, or — where PATCH
    /// is not offered, or refused with 501/405 — a PUT of the user as read.
    async fn write_active(
        &self,
        id: &str,
        active: bool,
        read: Option<FullUser>,
    ) -> Result<Applied, AdapterError> {
        if self.caps.patch {
            let body = self.config.dialect.set_active(active);
            match self
                .client
                .call(Method::PATCH, &["Users", id], &[], Some(&body), None)
                .await
            {
                Ok(reply) => {
                    return Ok(Applied::changed()
                        .with_external_id(id)
                        .with_rate_limit(reply.rate_limit));
                }
                Err(e) if !patch_refused(&e) => return Err(e),
                Err(_) => {}
            }
        }
        self.put_user(id, read, |raw| {
            raw["active"] = Value::Bool(active);
        })
        .await
    }

    /// A PUT of the user as read with `change` applied, `If-Match` where ETags are
    /// supported.
    async fn put_user(
        &self,
        id: &str,
        read: Option<FullUser>,
        change: impl Fn(&mut Value),
    ) -> Result<Applied, AdapterError> {
        let full = match read {
            Some(f) => f,
            None => self
                .get_user(id)
                .await?
                .ok_or_else(|| AdapterError::NotFound {
                    error: SystemError::message(format!("{}: no user {id}", self.system())),
                })?,
        };
        let mut body = full.raw;
        if let Some(map) = body.as_object_mut() {
            map.remove("meta");
        }
        change(&mut body);
        let etag = full.etag.filter(|_| self.caps.etag);
        let reply = self
            .client
            .call(
                Method::PUT,
                &["Users", id],
                &[],
                Some(&body),
                etag.as_deref(),
            )
            .await?;
        Ok(Applied::changed()
            .with_external_id(id)
            .with_rate_limit(reply.rate_limit))
    }

    /// A mover's changed profile attributes in one PATCH (one `replace` per
    /// attribute), or one PUT where PATCH is not offered.
    pub(super) async fn update(
        &self,
        account: &AccountRef,
        attributes: &BTreeMap<String, String>,
    ) -> Result<Applied, AdapterError> {
        let id = self
            .user_id(account)
            .await?
            .ok_or_else(|| self.no_user(account))?;
        let (values, notes) = self
            .scim_values(attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .await?;
        if values.is_empty() {
            let applied = Applied::already_in_place().with_external_id(id);
            return Ok(if notes.is_empty() {
                applied
            } else {
                applied.with_note(notes.join("; "))
            });
        }
        let mut applied = None;
        if self.caps.patch {
            let changes = values
                .iter()
                .map(|(a, v)| (a.patch_path(), Value::String(v.clone())))
                .collect();
            let body = self.config.dialect.replace(changes);
            match self
                .client
                .call(Method::PATCH, &["Users", &id], &[], Some(&body), None)
                .await
            {
                Ok(reply) => {
                    applied = Some(
                        Applied::changed()
                            .with_external_id(&id)
                            .with_rate_limit(reply.rate_limit),
                    );
                }
                Err(e) if !patch_refused(&e) => return Err(e),
                Err(_) => {}
            }
        }
        let applied = match applied {
            Some(a) => a,
            None => {
                self.put_user(&id, None, |raw| set_profile(raw, &values))
                    .await?
            }
        };
        Ok(if notes.is_empty() {
            applied
        } else {
            applied.with_note(notes.join("; "))
        })
    }

    /// `DELETE /Users/{id}`, only where `delete_leavers` is set; an absent user is
    /// already deleted.
    pub(super) async fn delete(&self, account: &AccountRef) -> Result<Applied, AdapterError> {
        if !self.config.delete_leavers {
            return Err(AdapterError::Unsupported {
                what: format!(
                    "delete_account: {} deletes users only with `delete_leavers: true`",
                    self.system()
                ),
            });
        }
        let Some(id) = self.user_id(account).await? else {
            return Ok(Applied::already_in_place());
        };
        match self
            .client
            .call(Method::DELETE, &["Users", &id], &[], None, None)
            .await
        {
            Ok(reply) => {
                self.forget(&id);
                Ok(Applied::changed()
                    .with_external_id(id)
                    .with_rate_limit(reply.rate_limit))
            }
            Err(AdapterError::NotFound { .. }) => {
                self.forget(&id);
                Ok(Applied::already_in_place())
            }
            Err(e) => Err(e),
        }
    }

    pub(super) fn no_user(&self, account: &AccountRef) -> AdapterError {
        AdapterError::NotFound {
            error: SystemError::message(format!(
                "{} has no user with userName {}",
                self.system(),
                account.login
            )),
        }
    }
}

/// Sets mapped profile attributes on a user's JSON (for a PUT).
fn set_profile(raw: &mut Value, values: &BTreeMap<ProfileAttribute, String>) {
    for (attr, value) in values {
        if attr.is_enterprise() {
            let ext = &mut raw[crate::model::ENTERPRISE_SCHEMA];
            if !ext.is_object() {
                *ext = Value::Object(serde_json::Map::new());
            }
            if *attr == ProfileAttribute::Manager {
                ext["manager"] = serde_json::json!({ "value": value });
            } else {
                ext[attr.name()] = Value::String(value.clone());
            }
            if let Some(schemas) = raw["schemas"].as_array_mut()
                && !schemas
                    .iter()
                    .any(|s| s.as_str() == Some(crate::model::ENTERPRISE_SCHEMA))
            {
                schemas.push(Value::String(crate::model::ENTERPRISE_SCHEMA.to_owned()));
            }
        } else {
            raw[attr.name()] = Value::String(value.clone());
        }
    }
}

/// The ETag of a reply: the `ETag` header, else `meta.version`.
pub(super) fn etag_of(reply: &HttpResponse, body: &Value) -> Option<String> {
    reply
        .headers
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            body.pointer("/meta/version")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
}

/// The application does not do PATCH (501 Not Implemented, 405 Method Not Allowed).
pub(super) fn patch_refused(e: &AdapterError) -> bool {
    e.system_error()
        .and_then(|s| s.status)
        .is_some_and(|s| s == 501 || s == 405)
}

/// The application refuses filters: 501, or 400 `invalidFilter` for a filter that
/// is valid (the adapter escapes every value).
fn filter_refused(e: &AdapterError) -> bool {
    let status = e.system_error().and_then(|s| s.status);
    status == Some(501)
        || status == Some(403) && scim_type(e) == Some("invalidFilter")
        || status == Some(400)
            && scim_type(e).is_some_and(|t| t.eq_ignore_ascii_case("invalidFilter"))
}
