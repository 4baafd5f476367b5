//! A stateful fake of a Jira Cloud site and of the Atlassian org user-management API,
//! served by two wiremock servers (two hosts) that share one state. Each host checks
//! its own credential: the site Basic `email:token`, the org a Bearer key.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use base64::Engine;
use provision_jira::{JiraAdapter, JiraConfig};
use provision_testkit::openapi::{OpenApiSpec, shared_spec_path};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const EMAIL: &str = "ops@example.com";
pub const TOKEN: &str = "ATATT-SECRET-site-token-value";
pub const ORG_KEY: &str = "ORG-SECRET-api-key-value";

#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: String,
    pub email: String,
    pub hidden: bool,
    pub active: bool,
    pub managed: bool,
    pub kind: String,
    pub title: Option<String>,
    pub department: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FakeGroup {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct State {
    pub users: Vec<FakeUser>,
    pub groups: Vec<FakeGroup>,
    /// group id → member account ids
    pub members: BTreeMap<String, BTreeSet<String>>,
    /// product key → (all groups, default groups)
    pub products: BTreeMap<String, (Vec<String>, Vec<String>)>,
    pub roles: BTreeMap<u64, String>,
    /// (project, role id) → actors
    pub actors: BTreeMap<(String, u64), BTreeSet<String>>,
    pub projects: BTreeSet<String>,
    pub licences_exhausted: bool,
    pub next: u64,
    /// `/users/search` drops the rows of each page that the caller may not browse
    /// *after* slicing `[startAt, startAt + maxResults)` (JRACLOUD-74454, "not a bug"):
    /// pages are short while more users follow. Account ids listed here are dropped.
    pub unbrowsable: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Every request: 429, Retry-After 30, ISO reset, RateLimit-Reason.
    Throttled,
    /// Not a Jira site: 404 HTML.
    NotASite,
}

#[derive(Clone)]
pub struct FakeJira {
    pub state: Arc<Mutex<State>>,
    mode: Arc<Mutex<Mode>>,
}

impl Default for FakeJira {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeJira {
    pub fn new() -> Self {
        let fake = Self {
            state: Arc::new(Mutex::new(State::default())),
            mode: Arc::new(Mutex::new(Mode::Normal)),
        };
        {
            let mut s = fake.state.lock().unwrap();
            for (id, name) in [
                (10002, "Administrator"),
                (10001, "Developer"),
                (10003, "Reporter"),
                (10000, "User"),
            ] {
                s.roles.insert(id, name.to_owned());
            }
        }
        let sw = fake.add_group("jira-software-users");
        let sd = fake.add_group("jira-servicemanagement-users");
        let sw_admins = fake.add_group("jira-software-admins");
        {
            let mut s = fake.state.lock().unwrap();
            s.products.insert(
                "jira-software".into(),
                (vec![sw.clone(), sw_admins], vec![sw]),
            );
            s.products
                .insert("jira-servicedesk".into(), (vec![sd.clone()], vec![sd]));
        }
        fake
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn add_user(&self, email: &str) -> String {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        let id = format!("5b10ac8d82e05b22cc7d{:04}", s.next);
        s.users.push(FakeUser {
            id: id.clone(),
            email: email.to_owned(),
            hidden: false,
            active: true,
            managed: true,
            kind: "atlassian".into(),
            title: None,
            department: None,
        });
        id
    }

    pub fn edit_user(&self, id: &str, f: impl FnOnce(&mut FakeUser)) {
        let mut s = self.state.lock().unwrap();
        f(s.users.iter_mut().find(|u| u.id == id).unwrap());
    }

    pub fn user(&self, id: &str) -> FakeUser {
        let s = self.state.lock().unwrap();
        s.users.iter().find(|u| u.id == id).unwrap().clone()
    }

    pub fn add_group(&self, name: &str) -> String {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        let id = format!("{:08x}-5b5b-4d04-bb32-44d383afc4b2", s.next);
        s.groups.push(FakeGroup {
            id: id.clone(),
            name: name.to_owned(),
        });
        s.members.insert(id.clone(), BTreeSet::new());
        id
    }

    pub fn group_id(&self, name: &str) -> String {
        let s = self.state.lock().unwrap();
        s.groups.iter().find(|g| g.name == name).unwrap().id.clone()
    }

    pub fn add_member(&self, group_id: &str, account: &str) {
        let mut s = self.state.lock().unwrap();
        s.members
            .get_mut(group_id)
            .unwrap()
            .insert(account.to_owned());
    }

    pub fn add_project(&self, key: &str) {
        self.state.lock().unwrap().projects.insert(key.to_owned());
    }

    pub fn add_actor(&self, project: &str, role: u64, account: &str) {
        let mut s = self.state.lock().unwrap();
        s.actors
            .entry((project.to_owned(), role))
            .or_default()
            .insert(account.to_owned());
    }

    pub fn actors(&self, project: &str, role: u64) -> BTreeSet<String> {
        let s = self.state.lock().unwrap();
        s.actors
            .get(&(project.to_owned(), role))
            .cloned()
            .unwrap_or_default()
    }

    pub fn members(&self, group_id: &str) -> BTreeSet<String> {
        self.state.lock().unwrap().members[group_id].clone()
    }

    fn user_json(u: &FakeUser, s: &State, expand_roles: bool) -> Value {
        let mut v = json!({
            "accountId": u.id, "accountType": u.kind, "active": u.active,
            "displayName": u.email.split('@').next().unwrap_or_default(),
            "self": format!("https://example.atlassian.net/rest/api/3/user?accountId={}", u.id),
        });
        if !u.hidden {
            v["emailAddress"] = Value::from(u.email.clone());
        }
        if expand_roles {
            let items: Vec<Value> = Self::products_of(s, &u.id)
                .into_iter()
                .map(|k| json!({"key": k, "name": k}))
                .collect();
            v["applicationRoles"] = json!({"size": items.len(), "items": items});
        }
        v
    }

    fn products_of(s: &State, id: &str) -> Vec<String> {
        s.products
            .iter()
            .filter(|(_, (all, _))| all.iter().any(|g| s.members[g].contains(id)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn group_json(s: &State, id: &str) -> Value {
        let g = s.groups.iter().find(|g| g.id == id).unwrap();
        json!({"name": g.name, "groupId": g.id})
    }

    fn error(status: u16, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(status)
            .set_body_json(json!({"errorMessages": [message], "errors": {}}))
    }

    fn role_json(s: &State, project: &str, rid: u64) -> Value {
        let actors: Vec<Value> = s
            .actors
            .get(&(project.to_owned(), rid))
            .into_iter()
            .flatten()
            .map(|a| json!({"id": 1, "type": "atlassian-user-role-actor", "actorUser": {"accountId": a}}))
            .collect();
        json!({"id": rid, "name": s.roles[&rid], "actors": actors,
               "self": format!("https://example.atlassian.net/rest/api/3/project/{project}/role/{rid}")})
    }

    fn site(&self, req: &Request, path: &[&str], q: &BTreeMap<String, String>) -> ResponseTemplate {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"))
        );
        if header(req, "authorization").as_deref() != Some(expected.as_str()) {
            return Self::error(401, "Client must be authenticated to access this resource.");
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let num = |k: &str, d: u64| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        let mut s = self.state.lock().unwrap();
        let method = req.method.as_str();
        match (method, path) {
            ("GET", ["users", "search"]) => {
                let (start, max) = (
                    num("startAt", 0) as usize,
                    num("maxResults", 50).min(1000) as usize,
                );
                let all: Vec<Value> = s
                    .users
                    .iter()
                    .map(|u| Self::user_json(u, &s, false))
                    .collect();
                let page: Vec<Value> = all
                    .into_iter()
                    .skip(start)
                    .take(max)
                    // Filtered after the slice: a short page, and more follow.
                    .filter(|u| {
                        !u["accountId"]
                            .as_str()
                            .is_some_and(|id| s.unbrowsable.contains(id))
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(page)
            }
            ("GET", ["user", "search"]) => {
                let query = q.get("query").cloned().unwrap_or_default().to_lowercase();
                let found: Vec<Value> = s
                    .users
                    .iter()
                    .filter(|u| u.active && u.email.to_lowercase().starts_with(&query))
                    .map(|u| Self::user_json(u, &s, false))
                    .collect();
                ResponseTemplate::new(200).set_body_json(found)
            }
            ("GET", ["user"]) => {
                let id = q.get("accountId").cloned().unwrap_or_default();
                match s.users.iter().find(|u| u.id == id) {
                    Some(u) => {
                        let expand = q
                            .get("expand")
                            .is_some_and(|e| e.contains("applicationRoles"));
                        ResponseTemplate::new(200).set_body_json(Self::user_json(u, &s, expand))
                    }
                    None => Self::error(
                        404,
                        &format!("The user with account ID '{id}' does not exist"),
                    ),
                }
            }
            ("POST", ["user"]) => {
                let email = body["emailAddress"].as_str().unwrap_or_default().to_owned();
                let products: Vec<String> = body["products"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(u) = s
                    .users
                    .iter()
                    .find(|u| u.email.eq_ignore_ascii_case(&email))
                    .cloned()
                {
                    if Self::products_of(&s, &u.id).is_empty() {
                        return Self::error(
                            400,
                            "The user already exists but does not have access to Jira.",
                        );
                    }
                    // Jira's quirk: 201 for an existing user with access.
                    return ResponseTemplate::new(201)
                        .set_body_json(Self::user_json(&u, &s, false));
                }
                if s.licences_exhausted {
                    return Self::error(
                        400,
                        "You have exceeded your licence limit for jira-software.",
                    );
                }
                s.next += 1;
                let id = format!("5b10ac8d82e05b22cc7d{:04}", s.next);
                let u = FakeUser {
                    id: id.clone(),
                    email,
                    hidden: false,
                    active: true,
                    managed: true,
                    kind: "atlassian".into(),
                    title: None,
                    department: None,
                };
                s.users.push(u.clone());
                for p in products {
                    let Some((_, defaults)) = s.products.get(&p).cloned() else {
                        return Self::error(400, &format!("Unknown product {p}"));
                    };
                    for g in defaults {
                        s.members.get_mut(&g).unwrap().insert(id.clone());
                    }
                }
                ResponseTemplate::new(201).set_body_json(Self::user_json(&u, &s, false))
            }
            ("DELETE", ["user"]) => {
                let id = q.get("accountId").cloned().unwrap_or_default();
                let before = s.users.len();
                s.users.retain(|u| u.id != id);
                if s.users.len() == before {
                    return Self::error(404, "The user does not exist");
                }
                for m in s.members.values_mut() {
                    m.remove(&id);
                }
                ResponseTemplate::new(204)
            }
            ("GET", ["user", "groups"]) => {
                let id = q.get("accountId").cloned().unwrap_or_default();
                if !s.users.iter().any(|u| u.id == id) {
                    return Self::error(404, "The user does not exist");
                }
                let groups: Vec<Value> = s
                    .members
                    .iter()
                    .filter(|(_, m)| m.contains(&id))
                    .map(|(g, _)| Self::group_json(&s, g))
                    .collect();
                ResponseTemplate::new(200).set_body_json(groups)
            }
            ("GET", ["group", "bulk"]) => {
                let all: Vec<Value> = s
                    .groups
                    .iter()
                    .filter(|g| q.get("groupName").is_none_or(|n| *n == g.name))
                    .filter(|g| q.get("groupId").is_none_or(|n| *n == g.id))
                    .map(|g| json!({"name": g.name, "groupId": g.id}))
                    .collect();
                let (start, max) = (num("startAt", 0) as usize, num("maxResults", 50) as usize);
                let total = all.len();
                let values: Vec<Value> = all.into_iter().skip(start).take(max).collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "startAt": start, "maxResults": max, "total": total,
                    "isLast": start + values.len() >= total, "values": values
                }))
            }
            ("GET", ["group", "member"]) => {
                let gid = q.get("groupId").cloned().unwrap_or_default();
                let Some(members) = s.members.get(&gid) else {
                    return Self::error(404, "Specified group does not exist.");
                };
                let (start, max) = (
                    num("startAt", 0) as usize,
                    num("maxResults", 50).min(50) as usize,
                );
                let total = members.len();
                let values: Vec<Value> = members
                    .iter()
                    .skip(start)
                    .take(max)
                    .filter_map(|id| s.users.iter().find(|u| &u.id == id))
                    .map(|u| Self::user_json(u, &s, false))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "startAt": start, "maxResults": max, "total": total,
                    "isLast": start + max >= total, "values": values
                }))
            }
            ("POST", ["group", "user"]) => {
                let gid = q.get("groupId").cloned().unwrap_or_default();
                let id = body["accountId"].as_str().unwrap_or_default().to_owned();
                if !s.members.contains_key(&gid) {
                    return Self::error(404, "Specified group does not exist.");
                }
                if !s.users.iter().any(|u| u.id == id) {
                    return Self::error(404, "The user does not exist");
                }
                if !s.members.get_mut(&gid).unwrap().insert(id) {
                    return Self::error(
                        400,
                        "Cannot add user. User is already a member of the group.",
                    );
                }
                ResponseTemplate::new(201).set_body_json(Self::group_json(&s, &gid))
            }
            ("DELETE", ["group", "user"]) => {
                let gid = q.get("groupId").cloned().unwrap_or_default();
                let id = q.get("accountId").cloned().unwrap_or_default();
                let Some(m) = s.members.get_mut(&gid) else {
                    return Self::error(404, "Specified group does not exist.");
                };
                if !m.remove(&id) {
                    return Self::error(
                        404,
                        "Cannot remove user from group: the user is not a member.",
                    );
                }
                // Jira's quirk: 200, not 204.
                ResponseTemplate::new(200)
            }
            ("GET", ["applicationrole"]) => {
                let roles: Vec<Value> = s
                    .products
                    .iter()
                    .map(|(k, (all, defaults))| {
                        let details = |ids: &Vec<String>| -> Vec<Value> { ids.iter().map(|g| Self::group_json(&s, g)).collect() };
                        json!({"key": k, "name": k, "groupDetails": details(all), "defaultGroupsDetails": details(defaults),
                               "groups": [], "defaultGroups": []})
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(roles)
            }
            ("GET", ["role"]) => {
                let roles: Vec<Value> = s
                    .roles
                    .iter()
                    .map(|(id, n)| json!({"id": id, "name": n}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(roles)
            }
            ("GET", ["project", key, "role"]) => {
                if !s.projects.contains(*key) {
                    return Self::error(
                        404,
                        &format!("No project could be found with key '{key}'."),
                    );
                }
                let roles: serde_json::Map<String, Value> = s
                    .roles
                    .iter()
                    .map(|(id, n)| {
                        (
                            n.clone(),
                            Value::from(format!(
                                "https://example.atlassian.net/rest/api/3/project/{key}/role/{id}"
                            )),
                        )
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(Value::Object(roles))
            }
            (_, ["project", key, "role", rid]) => {
                let key = (*key).to_owned();
                let Some(rid) = rid.parse::<u64>().ok().filter(|r| s.roles.contains_key(r)) else {
                    return Self::error(404, "No project role with that id");
                };
                if !s.projects.contains(&key) {
                    return Self::error(
                        404,
                        &format!("No project could be found with key '{key}'."),
                    );
                }
                match method {
                    "GET" => {
                        ResponseTemplate::new(200).set_body_json(Self::role_json(&s, &key, rid))
                    }
                    "POST" => {
                        let users: Vec<String> = body["user"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|u| u.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        let set = s.actors.entry((key.clone(), rid)).or_default();
                        for u in users {
                            if !set.insert(u) {
                                return Self::error(
                                    400,
                                    "The user is already a member of the project role.",
                                );
                            }
                        }
                        ResponseTemplate::new(200).set_body_json(Self::role_json(&s, &key, rid))
                    }
                    "DELETE" => {
                        let user = q.get("user").cloned().unwrap_or_default();
                        if !s.actors.entry((key, rid)).or_default().remove(&user) {
                            return Self::error(404, "The actor is not in the project role.");
                        }
                        ResponseTemplate::new(204)
                    }
                    _ => Self::error(405, "method not allowed"),
                }
            }
            _ => Self::error(404, "no such endpoint in the fake"),
        }
    }

    fn org(&self, req: &Request, path: &[&str]) -> ResponseTemplate {
        if header(req, "authorization").as_deref() != Some(format!("Bearer {ORG_KEY}").as_str()) {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"code": 401, "message": "Unauthorized"}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let mut s = self.state.lock().unwrap();
        let method = req.method.as_str();
        let id = path.get(1).copied().unwrap_or_default().to_owned();
        let Some(u) = s.users.iter_mut().find(|u| u.id == id) else {
            return ResponseTemplate::new(404)
                .set_body_json(json!({"code": 404, "message": "Not Found"}));
        };
        match (method, &path[2..]) {
            ("GET", ["manage"]) => {
                let rule = if u.managed {
                    json!({"allowed": true})
                } else {
                    json!({"allowed": false, "reason": {"key": "not-managed", "message": "The user's account is not managed by your organization."}})
                };
                ResponseTemplate::new(200)
                    .set_body_json(json!({"lifecycle.enablement": rule, "profile.write": {}}))
            }
            ("GET" | "PATCH", ["manage", "profile"]) => {
                // The user management API answers only for managed accounts
                // (unverified: the code for an unmanaged one; 403 is assumed).
                if !u.managed {
                    return ResponseTemplate::new(403).set_body_json(
                        json!({"code": 403, "message": "The target user is not managed by this organization"}),
                    );
                }
                if method == "PATCH" {
                    if !u.managed {
                        return ResponseTemplate::new(403)
                            .set_body_json(json!({"code": 403, "message": "Forbidden"}));
                    }
                    if let Some(t) = body["extended_profile"]["job_title"].as_str() {
                        u.title = Some(t.to_owned());
                    }
                    if let Some(d) = body["extended_profile"]["department"].as_str() {
                        u.department = Some(d.to_owned());
                    }
                }
                ResponseTemplate::new(200).set_body_json(json!({"account": {
                    "account_id": u.id, "account_type": "atlassian", "name": "n", "nickname": "n", "picture": "",
                    "account_status": if u.active { "active" } else { "inactive" },
                    "email": u.email,
                    "extended_profile": {"job_title": u.title, "department": u.department}
                }}))
            }
            ("POST", ["manage", "lifecycle", action @ ("disable" | "enable")]) => {
                if !u.managed {
                    return ResponseTemplate::new(403).set_body_json(json!({"code": 403, "message": "The target user is not managed by this organization"}));
                }
                u.active = *action == "enable";
                ResponseTemplate::new(204)
            }
            _ => ResponseTemplate::new(404)
                .set_body_json(json!({"code": 404, "message": "Not Found"})),
        }
    }
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl Respond for FakeJira {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match *self.mode.lock().unwrap() {
            Mode::Throttled => {
                let reset = (chrono::Utc::now() + chrono::Duration::seconds(30))
                    .format("%Y-%m-%dT%H:%MZ")
                    .to_string();
                return ResponseTemplate::new(429)
                    .insert_header("retry-after", "30")
                    .insert_header("x-ratelimit-limit", "100")
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset.as_str())
                    .insert_header("ratelimit-reason", "jira-burst-based")
                    .set_body_string("");
            }
            Mode::NotASite => {
                return ResponseTemplate::new(404).set_body_string(
                    "<html><body>Your Atlassian Cloud site is currently unavailable.</body></html>",
                );
            }
            Mode::Normal => {}
        }
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let segments: Vec<String> = req
            .url
            .path_segments()
            .map(|s| s.map(percent).collect())
            .unwrap_or_default();
        let path: Vec<&str> = segments.iter().map(String::as_str).collect();
        match path.as_slice() {
            ["rest", "api", "3", rest @ ..] => self.site(req, rest, &q),
            ["users", ..] => self.org(req, &path),
            _ => Self::error(404, "not found"),
        }
    }
}

fn percent(p: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", p.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The site and the org, two hosts sharing one state.
pub struct Hosts {
    pub site: MockServer,
    pub org: MockServer,
    pub fake: FakeJira,
}

impl Hosts {
    pub async fn start(fake: FakeJira) -> Self {
        let site = MockServer::start().await;
        let org = MockServer::start().await;
        for server in [&site, &org] {
            Mock::given(any())
                .respond_with(fake.clone())
                .with_priority(10)
                .mount(server)
                .await;
        }
        Self { site, org, fake }
    }

    /// A config for the site; with the org key when `org`.
    pub fn config(&self, org: bool) -> provision_jira::config::JiraConfigBuilder {
        let b = JiraConfig::builder(&self.site.uri(), EMAIL, TOKEN);
        if org {
            b.org_api_key(ORG_KEY).org_api_url(&self.org.uri())
        } else {
            b
        }
    }

    pub fn adapter(&self, org: bool) -> JiraAdapter {
        JiraAdapter::new(self.config(org).build().unwrap()).unwrap()
    }
}

/// Every request the site received is an operation of the trimmed Jira spec; returns
/// the operation ids.
pub async fn assert_conform(site: &MockServer) -> Vec<String> {
    let spec = OpenApiSpec::from_path(shared_spec_path(
        env!("CARGO_MANIFEST_DIR"),
        "jira-cloud-platform-v3.trimmed.json",
    ))
    .unwrap();
    let requests = site.received_requests().await.unwrap();
    provision_testkit::assert_requests_conform(&spec, &requests)
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// `METHOD path?query` of every request a host received, in order.
pub async fn log(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{} {}?{q}", r.method, r.url.path()),
            None => format!("{} {}", r.method, r.url.path()),
        })
        .collect()
}

/// Requests a host received that change something.
pub async fn writes(server: &MockServer) -> Vec<String> {
    log(server)
        .await
        .into_iter()
        .filter(|l| !l.starts_with("GET "))
        .collect()
}
