//! A stateful fake of the Slack Web API methods and the SCIM endpoints the adapter
//! uses, answering as Slack does (HTTP 200 with `ok:false` and Slack's codes, cursor
//! pages that may be short before the end, 429 with `Retry-After`, 1-based SCIM
//! paging), plus helpers shared by the test files.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use provision_slack::{SlackAdapter, SlackConfig};
use provision_testkit::openapi::{OpenApiSpec, shared_spec_path};
use provision_testkit::{ApiSpec, MatchedOperation, SpecViolation};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const BOT: &str = "xoxb-SECRET-bot-token-value";
pub const ADMIN: &str = "xoxp-SECRET-admin-token-value";
pub const SCIM: &str = "xoxp-SECRET-scim-token-value";

#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: String,
    pub user_name: String,
    pub email: String,
    pub active: bool,
    pub is_bot: bool,
}

#[derive(Debug, Clone)]
pub struct FakeChannel {
    pub id: String,
    pub name: String,
    pub archived: bool,
    pub general: bool,
    pub app_member: bool,
    /// A private channel: the app cannot `conversations.join` it.
    pub private: bool,
    pub members: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FakeGroup {
    pub id: String,
    pub handle: String,
    pub users: Vec<String>,
}

/// How the fake answers every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// As Slack does.
    #[default]
    Slack,
    /// Over the limit: 429 with `Retry-After: 30` and `{"ok":false,"error":"ratelimited"}`.
    Throttled,
    /// The URL is not Slack: a 404 HTML page for every path.
    NotSlack,
}

#[derive(Debug, Default)]
pub struct State {
    pub users: Vec<FakeUser>,
    pub channels: Vec<FakeChannel>,
    pub groups: Vec<FakeGroup>,
    pub next_id: u32,
    /// Server-side page cap; every second page is one item short of it (Slack may
    /// return fewer than asked before the end).
    pub max_page: usize,
    pub mode: Mode,
    /// Whether `conversations.invite` honours `force` (invites the valid users and
    /// lists the others in `errors`) — on, as Slack does.
    pub force_supported: bool,
    /// A user added by hand to a group right after the next `usergroups.users.list`
    /// (the race between the adapter's read and its write): (group id, user id).
    pub hand_add_after_list: Option<(String, String)>,
    /// Users whose invitation Slack refuses (`user_is_restricted`).
    pub restricted: BTreeSet<String>,
    /// The workspace lets only admins remove members from channels: every
    /// `conversations.kick` of the bot answers `restricted_action`.
    pub kick_restricted: bool,
    /// The tokens are an org-wide app's (Enterprise Grid): the listing methods answer
    /// `missing_argument` without `team_id`, and only this workspace's id is known.
    pub org_token_team: Option<String>,
    /// SCIM user writes (`POST /Users`, `PATCH`/`DELETE /Users/{id}`) as Slack limits
    /// them per endpoint: 180/min with a burst of 20 (tokens, last refill); over it,
    /// 429 with `Retry-After: 1`.
    pub scim_user_writes: Option<(f64, std::time::Instant)>,
    /// How many SCIM user writes were refused with a 429.
    pub scim_throttled: usize,
}

#[derive(Clone)]
pub struct FakeSlack {
    pub state: Arc<Mutex<State>>,
}

fn ok(body: Value) -> ResponseTemplate {
    let mut body = body;
    body["ok"] = json!(true);
    ResponseTemplate::new(200).set_body_json(body)
}

fn fail(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": code}))
}

fn scim_error(status: u16, detail: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.to_string(),
        "detail": detail,
    }))
}

impl FakeSlack {
    pub fn new(max_page: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                max_page,
                force_supported: true,
                ..State::default()
            })),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn add_user(&self, email: &str) -> String {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("U{:07}", s.next_id);
        s.users.push(FakeUser {
            id: id.clone(),
            user_name: email.split('@').next().unwrap().to_owned(),
            email: email.to_owned(),
            active: true,
            is_bot: false,
        });
        id
    }

    pub fn add_channel(&self, name: &str) -> String {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("C{:07}", s.next_id);
        s.channels.push(FakeChannel {
            id: id.clone(),
            name: name.to_owned(),
            archived: false,
            general: name == "general",
            app_member: true,
            private: false,
            members: Vec::new(),
        });
        id
    }

    pub fn add_group(&self, handle: &str, users: &[&str]) -> String {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("S{:07}", s.next_id);
        s.groups.push(FakeGroup {
            id: id.clone(),
            handle: handle.to_owned(),
            users: users.iter().map(|u| (*u).to_owned()).collect(),
        });
        id
    }

    pub fn with_channel<R>(&self, name: &str, f: impl FnOnce(&mut FakeChannel) -> R) -> R {
        let mut s = self.state.lock().unwrap();
        let c = s.channels.iter_mut().find(|c| c.name == name).unwrap();
        f(c)
    }

    pub fn members(&self, channel: &str) -> Vec<String> {
        self.with_channel(channel, |c| c.members.clone())
    }

    pub fn group_users(&self, handle: &str) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.groups
            .iter()
            .find(|g| g.handle == handle)
            .unwrap()
            .users
            .clone()
    }

    pub fn user(&self, id: &str) -> FakeUser {
        let s = self.state.lock().unwrap();
        s.users.iter().find(|u| u.id == id).unwrap().clone()
    }

    fn params(req: &Request) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if req.method.as_str() == "POST" {
            out.extend(url::form_urlencoded::parse(&req.body).into_owned());
        }
        out
    }

    fn bearer(req: &Request) -> String {
        req.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned()
    }

    /// One page of `items` from the opaque cursor `o<offset>`.
    fn page<T: Clone>(&self, items: &[T], p: &Param) -> (Vec<T>, String) {
        let max = self.state.lock().unwrap().max_page;
        let limit: usize = p.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
        let start: usize = p
            .get("cursor")
            .and_then(|c| c.strip_prefix('o'))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut size = limit.min(max).max(1);
        // Every second page is short: not the end.
        if (start / size.max(1)) % 2 == 1 && size > 1 {
            size -= 1;
        }
        let end = (start + size).min(items.len());
        let page = items.get(start..end).unwrap_or_default().to_vec();
        let next = if end < items.len() {
            format!("o{end}")
        } else {
            String::new()
        };
        (page, next)
    }

    fn web(&self, req: &Request, method: &str) -> ResponseTemplate {
        let p = Param(Self::params(req));
        let token = Self::bearer(req);
        let wants_admin = method.starts_with("admin.");
        let expected = if wants_admin { ADMIN } else { BOT };
        if token.is_empty() {
            return fail("not_authed");
        }
        if token != expected {
            return fail(if token == BOT || token == ADMIN {
                "not_allowed_token_type"
            } else {
                "invalid_auth"
            });
        }
        let mut s = self.state.lock().unwrap();
        let user_exists = |s: &State, id: &str| s.users.iter().any(|u| u.id == id);
        if let Some(team) = s.org_token_team.clone() {
            let scoped = [
                "conversations.list",
                "users.list",
                "users.conversations",
                "usergroups.list",
                "usergroups.users.list",
                "usergroups.users.update",
            ];
            if scoped.contains(&method) {
                match p.get("team_id") {
                    None => return fail("missing_argument"),
                    Some(t) if t != team => return fail("team_access_not_granted"),
                    Some(_) => {}
                }
            }
        }
        match method {
            "conversations.list" => {
                let exclude = p.get("exclude_archived") == Some("true");
                let list: Vec<Value> = s
                    .channels
                    .iter()
                    .filter(|c| !(exclude && c.archived))
                    .map(|c| json!({"id": c.id, "name": c.name, "is_archived": c.archived}))
                    .collect();
                drop(s);
                let (page, next) = self.page(&list, &p);
                ok(json!({"channels": page, "response_metadata": {"next_cursor": next}}))
            }
            "conversations.members" => {
                let Some(c) = s
                    .channels
                    .iter()
                    .find(|c| Some(c.id.as_str()) == p.get("channel"))
                else {
                    return fail("channel_not_found");
                };
                let members = c.members.clone();
                drop(s);
                let (page, next) = self.page(&members, &p);
                ok(json!({"members": page, "response_metadata": {"next_cursor": next}}))
            }
            "users.conversations" => {
                let user = p.get("user").unwrap_or_default().to_owned();
                let list: Vec<Value> = s
                    .channels
                    .iter()
                    .filter(|c| !c.archived && c.members.contains(&user))
                    .map(|c| json!({"id": c.id, "name": c.name, "is_archived": c.archived}))
                    .collect();
                drop(s);
                let (page, next) = self.page(&list, &p);
                ok(json!({"channels": page, "response_metadata": {"next_cursor": next}}))
            }
            "users.list" => {
                let list: Vec<Value> = s
                    .users
                    .iter()
                    .map(|u| {
                        json!({"id": u.id, "name": u.user_name, "deleted": !u.active,
                               "is_bot": u.is_bot, "profile": {"email": u.email}})
                    })
                    .collect();
                drop(s);
                let (page, next) = self.page(&list, &p);
                ok(json!({"members": page, "response_metadata": {"next_cursor": next}}))
            }
            "users.lookupByEmail" => {
                let email = p.get("email").unwrap_or_default().to_ascii_lowercase();
                match s
                    .users
                    .iter()
                    .find(|u| u.email.eq_ignore_ascii_case(&email))
                {
                    Some(u) => ok(json!({"user": {"id": u.id, "deleted": !u.active,
                                                   "profile": {"email": u.email}}})),
                    None => fail("users_not_found"),
                }
            }
            "conversations.invite" => {
                let Some(c) = s
                    .channels
                    .iter()
                    .find(|c| Some(c.id.as_str()) == p.get("channel"))
                    .cloned()
                else {
                    return fail("channel_not_found");
                };
                if !c.app_member {
                    return fail("not_in_channel");
                }
                if c.archived {
                    return fail("is_archived");
                }
                let users: Vec<String> = p
                    .get("users")
                    .unwrap_or_default()
                    .split(',')
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect();
                if users.is_empty() {
                    return fail("no_user");
                }
                if users.len() > 1000 {
                    return fail("too_many_users");
                }
                let force = p.get("force") == Some("true") && s.force_supported;
                let mut errors = Vec::new();
                let mut valid = Vec::new();
                for u in &users {
                    let code = if !user_exists(&s, u) {
                        Some("user_not_found")
                    } else if c.members.contains(u) {
                        Some("already_in_channel")
                    } else if s.restricted.contains(u) {
                        Some("user_is_restricted")
                    } else {
                        None
                    };
                    match code {
                        Some(code) => errors.push(json!({"user": u, "ok": false, "error": code})),
                        None => valid.push(u.clone()),
                    }
                }
                if errors.is_empty() || force {
                    let ch = s.channels.iter_mut().find(|x| x.id == c.id).unwrap();
                    ch.members.extend(valid);
                }
                if errors.is_empty() {
                    return ok(json!({"channel": {"id": c.id}}));
                }
                let first = errors[0]["error"].as_str().unwrap().to_owned();
                if users.len() == 1 {
                    return fail(&first);
                }
                if force && errors.len() < users.len() {
                    // `force` invited the valid users: `ok` is true and the others are
                    // listed in `errors` (unverified against a real workspace).
                    return ok(json!({"channel": {"id": c.id}, "errors": errors}));
                }
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": false, "error": first, "errors": errors}))
            }
            "admin.conversations.invite" => {
                let Some(c) = s
                    .channels
                    .iter()
                    .find(|c| Some(c.id.as_str()) == p.get("channel_id"))
                    .cloned()
                else {
                    return fail("channel_not_found");
                };
                let users: Vec<String> = p
                    .get("user_ids")
                    .unwrap_or_default()
                    .split(',')
                    .map(str::to_owned)
                    .collect();
                let mut failed = serde_json::Map::new();
                let mut valid = Vec::new();
                for u in &users {
                    if !user_exists(&s, u) {
                        failed.insert(u.clone(), json!("user_not_found"));
                    } else if s.restricted.contains(u) {
                        failed.insert(u.clone(), json!("user_is_restricted"));
                    } else if !c.members.contains(u) {
                        valid.push(u.clone());
                    }
                }
                let ch = s.channels.iter_mut().find(|x| x.id == c.id).unwrap();
                ch.members.extend(valid);
                if failed.is_empty() {
                    ok(json!({}))
                } else {
                    ResponseTemplate::new(200).set_body_json(json!({
                        "ok": false, "error": "failed_for_some_users", "failed_user_ids": failed
                    }))
                }
            }
            "conversations.kick" => {
                let Some(c) = s
                    .channels
                    .iter()
                    .find(|c| Some(c.id.as_str()) == p.get("channel"))
                    .cloned()
                else {
                    return fail("channel_not_found");
                };
                // The caller must be in the channel: `not_in_channel` is about the app
                // first, about the user only when the app is in (slackapi/bolt-js#474).
                if !c.app_member {
                    return fail("not_in_channel");
                }
                if c.general {
                    return fail("cant_kick_from_general");
                }
                if s.kick_restricted {
                    return fail("restricted_action");
                }
                let Some(c) = s
                    .channels
                    .iter_mut()
                    .find(|c| Some(c.id.as_str()) == p.get("channel"))
                else {
                    return fail("channel_not_found");
                };
                let user = p.get("user").unwrap_or_default().to_owned();
                if !c.members.contains(&user) {
                    return fail("not_in_channel");
                }
                c.members.retain(|m| *m != user);
                ok(json!({}))
            }
            "conversations.info" => {
                // A private channel the app is not in is invisible to it.
                let Some(c) = s
                    .channels
                    .iter()
                    .find(|c| Some(c.id.as_str()) == p.get("channel"))
                    .filter(|c| c.app_member || !c.private)
                else {
                    return fail("channel_not_found");
                };
                ok(json!({"channel": {
                    "id": c.id, "name": c.name, "is_archived": c.archived,
                    "is_private": c.private, "is_member": c.app_member,
                    "is_general": c.general,
                }}))
            }
            "conversations.join" => {
                let Some(c) = s
                    .channels
                    .iter_mut()
                    .find(|c| Some(c.id.as_str()) == p.get("channel"))
                else {
                    return fail("channel_not_found");
                };
                if c.private {
                    return fail("method_not_supported_for_channel_type");
                }
                if c.archived {
                    return fail("is_archived");
                }
                c.app_member = true;
                ok(json!({"channel": {"id": c.id, "name": c.name, "is_member": true}}))
            }
            "usergroups.list" => {
                let with_users = p.get("include_users") == Some("true");
                let list: Vec<Value> = s
                    .groups
                    .iter()
                    .map(|g| {
                        let mut v = json!({"id": g.id, "handle": g.handle, "name": g.handle});
                        if with_users {
                            v["users"] = json!(g.users);
                        }
                        v
                    })
                    .collect();
                ok(json!({"usergroups": list}))
            }
            "usergroups.users.list" => {
                let gid = p.get("usergroup").unwrap_or_default().to_owned();
                let Some(g) = s.groups.iter_mut().find(|g| g.id == gid) else {
                    return fail("no_such_subteam");
                };
                let users = g.users.clone();
                if let Some((group, user)) = s.hand_add_after_list.take() {
                    if group == gid {
                        let g = s.groups.iter_mut().find(|g| g.id == gid).unwrap();
                        g.users.push(user);
                    } else {
                        s.hand_add_after_list = Some((group, user));
                    }
                }
                ok(json!({"users": users}))
            }
            "usergroups.users.update" => {
                let gid = p.get("usergroup").unwrap_or_default().to_owned();
                let users: Vec<String> = p
                    .get("users")
                    .unwrap_or_default()
                    .split(',')
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect();
                if users.is_empty() {
                    return fail("no_users_provided");
                }
                if users.iter().any(|u| !user_exists(&s, u)) {
                    return fail("invalid_users");
                }
                let Some(g) = s.groups.iter_mut().find(|g| g.id == gid) else {
                    return fail("no_such_subteam");
                };
                g.users = users;
                ok(json!({"usergroup": {"id": g.id, "handle": g.handle, "users": g.users}}))
            }
            "admin.users.session.reset" => {
                let user = p.get("user_id").unwrap_or_default();
                match s.users.iter().find(|u| u.id == user) {
                    None => fail("user_not_found"),
                    Some(u) if u.is_bot => fail("cannot_reset_bot"),
                    Some(_) => ok(json!({})),
                }
            }
            "admin.users.deactivate" => {
                let user = p.get("user_id").unwrap_or_default().to_owned();
                match s.users.iter_mut().find(|u| u.id == user) {
                    None => fail("user_not_found"),
                    Some(u) if !u.active => fail("user_already_deactivated"),
                    Some(u) => {
                        u.active = false;
                        ok(json!({}))
                    }
                }
            }
            _ => fail("unknown_method"),
        }
    }

    fn scim_user(u: &FakeUser) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": u.id, "userName": u.user_name, "active": u.active,
            "emails": [{"value": u.email, "primary": true}],
        })
    }

    fn scim(&self, req: &Request, rest: &str) -> ResponseTemplate {
        if Self::bearer(req) != SCIM {
            return scim_error(401, "invalid credentials");
        }
        let mut s = self.state.lock().unwrap();
        let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
        if req.method.as_str() != "GET" && segments.first() == Some(&"Users") {
            // 180/min = 3/s, burst 20 (docs.slack.dev/reference/scim-api/rate-limits).
            let now = std::time::Instant::now();
            let (tokens, last) = s.scim_user_writes.unwrap_or((20.0, now));
            let tokens = (tokens + now.duration_since(last).as_secs_f64() * 3.0).min(20.0);
            // 50 ms of slack for the network between the adapter's clock and this
            // one (a first request's connection set-up delays its arrival).
            if tokens < 0.85 {
                s.scim_user_writes = Some((tokens, now));
                s.scim_throttled += 1;
                return ResponseTemplate::new(429)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                        "status": "429", "detail": "rate_limited",
                    }));
            }
            s.scim_user_writes = Some((tokens - 1.0, now));
        }
        match (req.method.as_str(), segments.as_slice()) {
            ("GET", ["Users"]) => {
                let q: Vec<(String, String)> = req
                    .url
                    .query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                let mut users: Vec<&FakeUser> = s.users.iter().filter(|u| !u.is_bot).collect();
                if let Some(filter) = get("filter") {
                    let value = filter.split('"').nth(1).unwrap_or_default().to_owned();
                    if filter.starts_with("emails.value eq") {
                        users.retain(|u| u.email.eq_ignore_ascii_case(&value));
                    } else if filter.starts_with("userName eq") {
                        users.retain(|u| u.user_name.eq_ignore_ascii_case(&value));
                    } else {
                        return scim_error(400, "invalidFilter");
                    }
                }
                let total = users.len();
                let start: usize = get("startIndex").and_then(|v| v.parse().ok()).unwrap_or(1);
                let count: usize = get("count").and_then(|v| v.parse().ok()).unwrap_or(100);
                let count = count.min(s.max_page);
                let page: Vec<Value> = users
                    .iter()
                    .skip(start.saturating_sub(1))
                    .take(count)
                    .map(|u| Self::scim_user(u))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": total, "startIndex": start, "itemsPerPage": page.len(),
                    "Resources": page,
                }))
            }
            ("POST", ["Users"]) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
                let user_name = body["userName"].as_str().unwrap_or_default().to_owned();
                let email = body["emails"][0]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                // One 409 for either uniqueness, as SCIM has it (the detail text is
                // unverified against Slack): `j.smith@acme.com` holds `j.smith`, so
                // `j.smith@acme.co.uk` collides on the user name alone.
                if s.users.iter().any(|u| u.email.eq_ignore_ascii_case(&email)) {
                    return scim_error(409, "email_taken");
                }
                if s.users
                    .iter()
                    .any(|u| u.user_name.eq_ignore_ascii_case(&user_name))
                {
                    return scim_error(409, "username_taken");
                }
                s.next_id += 1;
                let u = FakeUser {
                    id: format!("U{:07}", s.next_id),
                    user_name,
                    email,
                    active: true,
                    is_bot: false,
                };
                s.users.push(u.clone());
                ResponseTemplate::new(201).set_body_json(Self::scim_user(&u))
            }
            ("GET", ["Users", id]) => match s.users.iter().find(|u| u.id == *id) {
                Some(u) => ResponseTemplate::new(200).set_body_json(Self::scim_user(u)),
                None => scim_error(404, "user not found"),
            },
            ("DELETE", ["Users", id]) => match s.users.iter_mut().find(|u| u.id == *id) {
                Some(u) => {
                    u.active = false;
                    ResponseTemplate::new(204)
                }
                None => scim_error(404, "user not found"),
            },
            ("PATCH", ["Users", id]) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
                let active = body["Operations"][0]["value"].as_bool();
                match s.users.iter_mut().find(|u| u.id == *id) {
                    Some(u) => {
                        if let Some(a) = active {
                            u.active = a;
                        }
                        ResponseTemplate::new(200).set_body_json(Self::scim_user(u))
                    }
                    None => scim_error(404, "user not found"),
                }
            }
            _ => scim_error(404, "no such endpoint"),
        }
    }
}

/// Request parameters (query and form).
pub struct Param(Vec<(String, String)>);

impl Param {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

impl Respond for FakeSlack {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match self.state.lock().unwrap().mode {
            Mode::Slack => {}
            Mode::Throttled => {
                return ResponseTemplate::new(429)
                    .insert_header("retry-after", "30")
                    .set_body_json(json!({"ok": false, "error": "ratelimited"}));
            }
            Mode::NotSlack => {
                return ResponseTemplate::new(404)
                    .insert_header("content-type", "text/html")
                    .set_body_string("<html><body><h1>Not Found</h1></body></html>");
            }
        }
        let path = req.url.path().to_owned();
        if let Some(method) = path.strip_prefix("/api/") {
            return self.web(req, method);
        }
        if let Some(rest) = path.strip_prefix("/scim/v2") {
            return self.scim(req, rest);
        }
        ResponseTemplate::new(404)
    }
}

pub async fn start(fake: &FakeSlack) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fake.clone())
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

/// A configuration with all three tokens, pointed at the mock.
pub fn config(server: &MockServer) -> provision_slack::config::SlackConfigBuilder {
    SlackConfig::builder()
        .api_url(format!("{}/api/", server.uri()))
        .scim_url(format!("{}/scim/v2/", server.uri()))
        .bot_token(BOT)
        .admin_token(ADMIN)
        .scim_token(SCIM)
}

/// A configuration with the bot token only (no Enterprise, no SCIM).
pub fn bot_only(server: &MockServer) -> provision_slack::config::SlackConfigBuilder {
    SlackConfig::builder()
        .api_url(format!("{}/api/", server.uri()))
        .scim_url(format!("{}/scim/v2/", server.uri()))
        .bot_token(BOT)
}

/// A configuration with the SCIM token only.
pub fn scim_only(server: &MockServer) -> provision_slack::config::SlackConfigBuilder {
    SlackConfig::builder()
        .api_url(format!("{}/api/", server.uri()))
        .scim_url(format!("{}/scim/v2/", server.uri()))
        .scim_token(SCIM)
}

pub fn adapter(server: &MockServer) -> SlackAdapter {
    SlackAdapter::new(config(server).build().unwrap()).unwrap()
}

/// The Web API requests the server received (SCIM left out).
pub async fn web_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/api/"))
        .collect()
}

/// How many requests called `method`.
pub async fn calls(server: &MockServer, method: &str) -> usize {
    web_requests(server)
        .await
        .iter()
        .filter(|r| r.url.path() == format!("/api/{method}"))
        .count()
}

/// Every Web API request the server received, checked against the trimmed 2021 spec,
/// then the supplement for the methods newer than it (see the fixture's header).
/// Returns the operations matched.
pub async fn assert_conform(server: &MockServer) -> Vec<String> {
    let trimmed = OpenApiSpec::from_path(shared_spec_path(
        env!("CARGO_MANIFEST_DIR"),
        "slack-web-api.trimmed.json",
    ))
    .unwrap();
    let supplement = OpenApiSpec::from_path(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/slack-web-api.supplement.json"),
    )
    .unwrap();
    let spec = Specs(vec![trimmed, supplement]);
    let requests = web_requests(server).await;
    provision_testkit::assert_requests_conform(&spec, &requests)
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// The trimmed spec, then the supplement: a request conforms when one accepts it.
///
/// The spec declares `token` as a query parameter of some reads and a header named
/// `token` of the writes; Slack takes it as `Authorization: Bearer` everywhere (its
/// preferred form, and the only one that keeps the secret out of URLs and logs). A
/// request carrying that header is judged as if it had the `token` where that
/// operation declares it.
struct Specs(Vec<OpenApiSpec>);

impl ApiSpec for Specs {
    fn check_request(&self, request: &Request) -> Result<MatchedOperation, SpecViolation> {
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut headers: BTreeSet<String> = request
            .headers
            .keys()
            .map(|k| k.as_str().to_ascii_lowercase())
            .collect();
        let bearer = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer "));
        assert!(bearer, "{} carried no Bearer token", request.url.path());
        assert!(
            !query.iter().any(|(k, _)| k == "token"),
            "a token in the URL of {}",
            request.url.path()
        );
        headers.insert("token".to_owned());
        let content_type = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        let mut with_token = query.clone();
        with_token.push(("token".to_owned(), "(the Bearer header)".to_owned()));
        let mut first = None;
        for spec in &self.0 {
            for q in [&query, &with_token] {
                match spec.check_parts(
                    request.method.as_str(),
                    request.url.path(),
                    q,
                    &headers,
                    content_type,
                    &request.body,
                ) {
                    Ok(m) => return Ok(m),
                    Err(e) => {
                        first.get_or_insert(e);
                    }
                }
            }
        }
        Err(first.unwrap())
    }
}

/// A plan approved as a person would approve it after review: confirmed for every
/// identity it removes access from.
pub fn approved(plan: &provision_core::model::Plan) -> provision_core::planner::ApprovedPlan {
    let identities: std::collections::BTreeSet<_> = plan
        .operations
        .iter()
        .filter(|op| op.kind.is_removal())
        .map(|op| &op.identity)
        .collect();
    provision_core::planner::ApprovedPlan::confirmed(
        plan.clone(),
        identities.len(),
        identities.len(),
    )
    .expect("a plan confirmed for all it removes is approved")
}

/// A Slack channel entitlement.
pub fn channel(name: &str) -> provision_core::model::Entitlement {
    provision_core::model::Entitlement::new("slack", "channel", name)
}

/// A grant of channel `name` to `login`.
pub fn grant(adapter: &SlackAdapter, login: &str, name: &str) -> provision_core::model::Operation {
    provision_testkit::conformance::operation(
        adapter,
        login,
        provision_core::model::OperationKind::Grant {
            entitlement: channel(name),
        },
    )
}

/// A revoke of channel `name` from `login`.
pub fn revoke(adapter: &SlackAdapter, login: &str, name: &str) -> provision_core::model::Operation {
    provision_testkit::conformance::operation(
        adapter,
        login,
        provision_core::model::OperationKind::Revoke {
            entitlement: channel(name),
        },
    )
}

/// An account known by its Slack id.
pub fn by_id(login: &str, id: &str) -> provision_core::model::AccountRef {
    provision_core::model::AccountRef {
        login: login.to_owned(),
        external_id: Some(id.to_owned()),
    }
}

/// A SCIM account creation for `email`.
pub fn create(email: &str, name: &str) -> provision_core::model::OperationKind {
    provision_core::model::OperationKind::CreateAccount {
        profile: provision_testkit::conformance::profile(email, name),
    }
}
