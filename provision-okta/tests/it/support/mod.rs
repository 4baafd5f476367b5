//! A stateful fake of the Okta endpoints the adapter uses, answering as the real API
//! does (status codes, error bodies, Link pagination with opaque cursors, rate-limit
//! headers, the lifecycle rules), plus helpers shared by the test files.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use provision_okta::{OktaAdapter, OktaConfig};
use provision_testkit::openapi::{OpenApiSpec, shared_spec_path};
use provision_testkit::{ApiSpec, MatchedOperation, SpecViolation};
use serde_json::{Map, Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: String,
    pub status: String,
    pub profile: Map<String, Value>,
    /// Whether the user has a password: without one, an activation leaves the user
    /// `PROVISIONED` until the activation link is used.
    pub password: bool,
}

#[derive(Debug, Default)]
pub struct State {
    pub users: Vec<FakeUser>,
    /// (id, name, type)
    pub groups: Vec<(String, String, String)>,
    pub members: BTreeSet<(String, String)>,
    /// (app id, user id) → scope (`USER`, or `GROUP` for an assignment held through a group).
    pub app_users: BTreeMap<(String, String), String>,
    /// The org's apps: (id, label).
    pub apps: Vec<(String, String)>,
    /// (app id, user id) → (`status`, `syncState`) of app users whose provisioning
    /// is not `ACTIVE`/`SYNCHRONIZED` (a push that failed: `ERROR`, `OUT_OF_SYNC`).
    pub app_sync: BTreeMap<(String, String), (String, String)>,
    /// Apps whose provisioning to the target app fails: a new assignment is created
    /// but its push ends `PROVISIONED` / `ERROR` (unverified which `status` a real
    /// org shows beside `syncState: ERROR`).
    pub push_fails: BTreeSet<String>,
    /// OAuth access tokens the token endpoint issued → their scopes. A `Bearer` token
    /// not here is answered 401 (expired or revoked).
    pub tokens: BTreeMap<String, Vec<String>>,
    pub next_id: u32,
    /// Server-side cap on page size (the real one is the `limit`; tests lower it to get pages).
    pub max_page: usize,
    pub remaining: u64,
    /// How the org answers every request (normal, over its rate limit, or not an org).
    pub mode: Mode,
}

/// How the fake answers every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// As an org does.
    #[default]
    Org,
    /// Over the minute's rate limit: 429 `E0000047` with `X-Rate-Limit-Remaining: 0`
    /// and the reset 30 s from now (epoch seconds, on the server's clock).
    Throttled,
    /// The org URL names no Okta org (a mistyped subdomain, a proxy, another
    /// service): a 404 HTML page, without Okta's error body, for every path.
    NotAnOrg,
}

#[derive(Clone)]
pub struct FakeOkta {
    pub state: Arc<Mutex<State>>,
    pub base: Arc<Mutex<String>>,
}

pub const RESET_EPOCH: u64 = 4_102_444_800; // 2100-01-01T00:00:00Z

impl FakeOkta {
    pub fn new(max_page: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                max_page,
                remaining: 600,
                ..State::default()
            })),
            base: Arc::new(Mutex::new(String::new())),
        }
    }

    pub fn add_user(&self, login: &str, email: &str, status: &str) -> String {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("00u{:04}", s.next_id);
        let mut profile = Map::new();
        profile.insert("login".into(), login.into());
        profile.insert("email".into(), email.into());
        s.users.push(FakeUser {
            id: id.clone(),
            status: status.into(),
            profile,
            password: true,
        });
        id
    }

    /// A user who never set a password (imported, or created without credentials).
    pub fn add_user_without_password(&self, login: &str, email: &str, status: &str) -> String {
        let id = self.add_user(login, email, status);
        let mut s = self.state.lock().unwrap();
        if let Some(u) = s.users.iter_mut().find(|u| u.id == id) {
            u.password = false;
        }
        id
    }

    /// An app user's `status` and `syncState` (`ACTIVE` / `SYNCHRONIZED` unless set).
    fn sync_of(s: &State, key: &(String, String)) -> (String, String) {
        s.app_sync
            .get(key)
            .cloned()
            .unwrap_or_else(|| ("ACTIVE".into(), "SYNCHRONIZED".into()))
    }

    pub fn add_app(&self, id: &str, label: &str) {
        self.state
            .lock()
            .unwrap()
            .apps
            .push((id.into(), label.into()));
    }

    /// Assigns an app to a user, directly (`USER`) or through a group (`GROUP`).
    pub fn assign_app(&self, app: &str, uid: &str, scope: &str) {
        self.state
            .lock()
            .unwrap()
            .app_users
            .insert((app.into(), uid.into()), scope.into());
    }

    pub fn add_group(&self, name: &str, kind: &str) -> String {
        let mut s = self.state.lock().unwrap();
        let id = format!("00g{:04}", s.groups.len() + 1);
        s.groups.push((id.clone(), name.into(), kind.into()));
        id
    }

    pub fn add_member(&self, gid: &str, uid: &str) {
        self.state
            .lock()
            .unwrap()
            .members
            .insert((gid.into(), uid.into()));
    }

    /// Answers every request as `mode` says from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// The group's id, by its name.
    pub fn group_id(&self, name: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.groups
            .iter()
            .find(|(_, n, _)| n == name)
            .map(|(id, _, _)| id.clone())
    }

    pub fn status_of(&self, id: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.status.clone())
    }

    fn user_json(u: &FakeUser) -> Value {
        json!({
            "id": u.id, "status": u.status, "created": "2024-01-01T00:00:00.000Z",
            "lastLogin": if u.status == "ACTIVE" { Value::from("2024-05-01T10:00:00.000Z") } else { Value::Null },
            "profile": u.profile,
            "_links": {}
        })
    }

    fn error(status: u16, code: &str, summary: &str, causes: &[&str]) -> ResponseTemplate {
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({ "errorSummary": c }))
            .collect();
        ResponseTemplate::new(status).set_body_json(json!({
            "errorCode": code, "errorSummary": summary, "errorLink": code,
            "errorId": "oae1234", "errorCauses": causes
        }))
    }

    fn not_found(what: &str) -> ResponseTemplate {
        Self::error(
            404,
            "E0000007",
            &format!("Not found: Resource not found: {what} (User)"),
            &[],
        )
    }

    fn wrong_status() -> ResponseTemplate {
        Self::error(
            400,
            "E0000001",
            "Api validation failed: This operation is not allowed in the user's current status.",
            &[],
        )
    }

    /// A page of `items` starting at the opaque cursor, with a Link header for the next.
    fn page(&self, req: &Request, items: Vec<Value>, limit_default: usize) -> ResponseTemplate {
        let query: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        let get = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        let limit = get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(limit_default);
        let max = self.state.lock().unwrap().max_page;
        let size = limit.min(max).max(1);
        let start = match get("after") {
            None => 0,
            Some(c) => match decode_cursor(&c) {
                Some(i) => i,
                None => return Self::error(400, "E0000031", "Invalid search criteria.", &[]),
            },
        };
        let end = (start + size).min(items.len());
        let body: Vec<Value> = items.get(start..end).unwrap_or_default().to_vec();
        let mut t = ResponseTemplate::new(200).set_body_json(Value::Array(body));
        if end < items.len() {
            let mut next = req.url.clone();
            let kept: Vec<(String, String)> =
                query.into_iter().filter(|(k, _)| k != "after").collect();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("after", &encode_cursor(end));
            let base = self.base.lock().unwrap().clone();
            let next = format!("{base}{}?{}", next.path(), next.query().unwrap_or_default());
            t = t.insert_header(
                "link",
                format!("<{}>; rel=\"self\", <{next}>; rel=\"next\"", req.url).as_str(),
            );
        }
        t
    }

    fn route(&self, req: &Request) -> ResponseTemplate {
        let path: Vec<String> = req
            .url
            .path_segments()
            .unwrap()
            .map(percent_decode)
            .collect();
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let method = req.method.as_str();
        let query: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        let q = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        match (method, p.as_slice()) {
            ("GET", ["api", "v1", "users"]) => {
                let users = self.state.lock().unwrap().users.clone();
                let search = q("search").or(q("filter")).unwrap_or_default();
                let items: Vec<Value> = users
                    .iter()
                    .filter(|u| {
                        if search.is_empty() {
                            u.status != "DEPROVISIONED" // the plain listing hides them
                        } else if let Some(status) = search.strip_prefix("status eq ") {
                            status.trim_matches('"') == u.status
                        } else if let Some(login) = search.strip_prefix("profile.login eq ") {
                            u.profile["login"]
                                .as_str()
                                .unwrap()
                                .eq_ignore_ascii_case(login.trim_matches('"'))
                        } else {
                            false
                        }
                    })
                    .map(Self::user_json)
                    .collect();
                self.page(req, items, 200)
            }
            ("POST", ["api", "v1", "users"]) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                let profile = body["profile"].as_object().cloned().unwrap_or_default();
                let login = profile
                    .get("login")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let exists = self.state.lock().unwrap().users.iter().any(|u| {
                    u.profile["login"]
                        .as_str()
                        .unwrap()
                        .eq_ignore_ascii_case(&login)
                });
                if exists {
                    return Self::error(
                        400,
                        "E0000001",
                        "Api validation failed: login",
                        &[
                            "login: An object with this field already exists in the current organization",
                        ],
                    );
                }
                let activate = q("activate").as_deref() != Some("false");
                let email = profile
                    .get("email")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let id = self.add_user(&login, &email, if activate { "ACTIVE" } else { "STAGED" });
                let mut s = self.state.lock().unwrap();
                let u = s.users.iter_mut().find(|u| u.id == id).unwrap();
                u.profile = profile;
                ResponseTemplate::new(200).set_body_json(Self::user_json(u))
            }
            ("GET", ["api", "v1", "users", key]) => {
                let s = self.state.lock().unwrap();
                match s.users.iter().find(|u| {
                    u.id == *key
                        || u.profile["login"]
                            .as_str()
                            .unwrap()
                            .eq_ignore_ascii_case(key)
                }) {
                    Some(u) => ResponseTemplate::new(200).set_body_json(Self::user_json(u)),
                    None => Self::not_found(key),
                }
            }
            ("POST", ["api", "v1", "users", id]) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                let mut s = self.state.lock().unwrap();
                let Some(u) = s.users.iter_mut().find(|u| u.id == *id) else {
                    return Self::not_found(id);
                };
                for (k, v) in body["profile"].as_object().cloned().unwrap_or_default() {
                    u.profile.insert(k, v);
                }
                ResponseTemplate::new(200).set_body_json(Self::user_json(u))
            }
            ("DELETE", ["api", "v1", "users", id]) => {
                let mut s = self.state.lock().unwrap();
                let Some(pos) = s.users.iter().position(|u| u.id == *id) else {
                    return Self::not_found(id);
                };
                if s.users[pos].status == "DEPROVISIONED" {
                    s.users.remove(pos);
                } else {
                    // A DELETE on any other status only deactivates.
                    s.users[pos].status = "DEPROVISIONED".into();
                }
                ResponseTemplate::new(204)
            }
            ("POST", ["api", "v1", "users", id, "lifecycle", action]) => {
                let mut s = self.state.lock().unwrap();
                let Some(u) = s.users.iter_mut().find(|u| u.id == *id) else {
                    return Self::not_found(id);
                };
                // Okta answers a deactivation of a DEPROVISIONED user as if the user
                // were not there.
                if *action == "deactivate" && u.status == "DEPROVISIONED" {
                    return Self::not_found(id);
                }
                let (allowed, to): (&[&str], &str) = match *action {
                    "suspend" => (&["ACTIVE"], "SUSPENDED"),
                    "unsuspend" => (&["SUSPENDED"], "ACTIVE"),
                    "deactivate" => (
                        &[
                            "ACTIVE",
                            "STAGED",
                            "PROVISIONED",
                            "SUSPENDED",
                            "RECOVERY",
                            "LOCKED_OUT",
                            "PASSWORD_EXPIRED",
                        ],
                        "DEPROVISIONED",
                    ),
                    "activate" => (&["STAGED", "DEPROVISIONED"], "ACTIVE"),
                    // Only restarts an unfinished activation.
                    "reactivate" => (&["PROVISIONED", "RECOVERY"], "PROVISIONED"),
                    _ => return Self::not_found(action),
                };
                if !allowed.contains(&u.status.as_str()) {
                    return Self::wrong_status();
                }
                if *action == "activate" {
                    // Without a password the user waits in PROVISIONED for the link.
                    u.status = if u.password { "ACTIVE" } else { "PROVISIONED" }.into();
                    if q("sendEmail").as_deref() == Some("false") {
                        return ResponseTemplate::new(200).set_body_json(json!({
                            "activationUrl": format!("https://fake.okta.com/welcome/ACTIVATION-SECRET-{id}"),
                            "activationToken": format!("ACTIVATION-SECRET-{id}")
                        }));
                    }
                    return ResponseTemplate::new(200).set_body_json(json!({}));
                }
                u.status = to.into();
                ResponseTemplate::new(200).set_body_json(json!({}))
            }
            ("DELETE", ["api", "v1", "users", id, "sessions"]) => {
                if self.status_of(id).is_none() {
                    return Self::not_found(id);
                }
                ResponseTemplate::new(204)
            }
            ("GET", ["api", "v1", "users", id, "groups"]) => {
                let s = self.state.lock().unwrap();
                if !s.users.iter().any(|u| u.id == *id) {
                    return Self::not_found(id);
                }
                let groups: Vec<Value> = s
                    .groups
                    .iter()
                    .filter(|(g, _, t)| {
                        t == "BUILT_IN" || s.members.contains(&(g.clone(), id.to_string()))
                    })
                    .map(|(g, n, t)| json!({"id": g, "type": t, "profile": {"name": n}}))
                    .collect();
                drop(s);
                self.page(req, groups, 10_000)
            }
            ("GET", ["api", "v1", "users", id, "appLinks"]) => {
                let s = self.state.lock().unwrap();
                if !s.users.iter().any(|u| u.id == *id) {
                    return Self::not_found(id);
                }
                // One link per app, whether assigned directly or through a group.
                let links: Vec<Value> = s
                    .app_users
                    .keys()
                    .filter(|(_, u)| u == id)
                    .map(|(a, _)| {
                        let label = s.apps.iter().find(|(i, _)| i == a).map(|(_, l)| l.clone());
                        json!({"id": format!("link-{a}"), "appInstanceId": a, "appName": "bookmark",
                               "label": label, "linkUrl": format!("https://fake.okta.com/home/{a}"),
                               "hidden": false, "sortOrder": 0, "appAssignmentId": format!("0ua-{a}-{id}")})
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(Value::Array(links))
            }
            ("GET", ["api", "v1", "apps"]) => {
                let items: Vec<Value> = self
                    .state
                    .lock()
                    .unwrap()
                    .apps
                    .iter()
                    .map(|(id, label)| json!({"id": id, "label": label, "status": "ACTIVE", "name": "bookmark"}))
                    .collect();
                self.page(req, items, 20)
            }
            ("GET", ["api", "v1", "groups"]) => {
                let search = q("search").unwrap_or_default();
                let (field, value) = search
                    .split_once(" eq ")
                    .map(|(f, v)| (f.to_owned(), v.trim_matches('"').to_owned()))
                    .unwrap_or_default();
                let s = self.state.lock().unwrap();
                let groups: Vec<Value> = s
                    .groups
                    .iter()
                    .filter(|(_, n, t)| match field.as_str() {
                        "profile.name" => *n == value,
                        "type" => *t == value,
                        _ => search.is_empty(),
                    })
                    .map(|(g, n, t)| json!({"id": g, "type": t, "profile": {"name": n}}))
                    .collect();
                drop(s);
                self.page(req, groups, 10_000)
            }
            ("GET", ["api", "v1", "groups", gid, "users"]) => {
                let s = self.state.lock().unwrap();
                if !s.groups.iter().any(|(g, _, _)| g == gid) {
                    return Self::not_found(gid);
                }
                let items: Vec<Value> = s
                    .users
                    .iter()
                    .filter(|u| s.members.contains(&(gid.to_string(), u.id.clone())))
                    .map(Self::user_json)
                    .collect();
                drop(s);
                self.page(req, items, 1000)
            }
            (m @ ("PUT" | "DELETE"), ["api", "v1", "groups", gid, "users", uid]) => {
                let mut s = self.state.lock().unwrap();
                if !s.groups.iter().any(|(g, _, _)| g == gid)
                    || !s.users.iter().any(|u| u.id == *uid)
                {
                    return Self::not_found(uid);
                }
                let key = (gid.to_string(), uid.to_string());
                if m == "PUT" {
                    s.members.insert(key);
                } else if !s.members.remove(&key) {
                    return Self::not_found(uid);
                }
                ResponseTemplate::new(204)
            }
            ("POST", ["api", "v1", "apps", aid, "users"]) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                let uid = body["id"].as_str().unwrap_or_default().to_owned();
                let mut s = self.state.lock().unwrap();
                let key = (aid.to_string(), uid.clone());
                s.app_users.insert(key.clone(), "USER".into());
                if s.push_fails.contains(*aid) {
                    s.app_sync
                        .insert(key.clone(), ("PROVISIONED".into(), "ERROR".into()));
                }
                let (status, sync) = Self::sync_of(&s, &key);
                ResponseTemplate::new(200).set_body_json(json!({"id": uid, "scope": "USER", "status": status, "syncState": sync, "profile": body.get("profile").cloned().unwrap_or(json!({}))}))
            }
            ("GET", ["api", "v1", "apps", aid, "users"]) => {
                let s = self.state.lock().unwrap();
                let items: Vec<Value> = s
                    .app_users
                    .iter()
                    .filter(|((a, _), _)| a == aid)
                    .map(|(key, scope)| {
                        let (status, sync) = Self::sync_of(&s, key);
                        json!({"id": key.1, "scope": scope, "status": status, "syncState": sync, "credentials": {"userName": format!("{}@app", key.1)}})
                    })
                    .collect();
                drop(s);
                self.page(req, items, 50)
            }
            ("GET", ["api", "v1", "apps", aid, "users", uid]) => {
                let s = self.state.lock().unwrap();
                let key = (aid.to_string(), uid.to_string());
                match s.app_users.get(&key).cloned() {
                    Some(scope) => {
                        let (status, sync) = Self::sync_of(&s, &key);
                        ResponseTemplate::new(200).set_body_json(
                            json!({"id": uid, "scope": scope, "status": status, "syncState": sync}),
                        )
                    }
                    None => Self::not_found(uid),
                }
            }
            ("DELETE", ["api", "v1", "apps", aid, "users", uid]) => {
                let mut s = self.state.lock().unwrap();
                let key = (aid.to_string(), uid.to_string());
                match s.app_users.get(&key).map(String::as_str) {
                    // An assignment held through a group stays while the group is
                    // assigned. (The exact reply of a real org is not documented; what
                    // matters is that nothing is removed.)
                    Some("GROUP") => Self::error(400, "E0000001", "Api validation failed.", &[]),
                    Some(_) => {
                        s.app_users.remove(&key);
                        ResponseTemplate::new(204)
                    }
                    None => Self::not_found(uid),
                }
            }
            _ => Self::error(
                404,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
                &[],
            ),
        }
    }
}

impl FakeOkta {
    /// What Okta answers a `Bearer` token it does not know (401), or one without the
    /// scope the endpoint needs (403), each with its `WWW-Authenticate` challenge.
    fn check_token(&self, req: &Request) -> Option<ResponseTemplate> {
        let auth = req.headers.get("authorization")?.to_str().ok()?;
        let token = auth.strip_prefix("Bearer ")?;
        let base = self.base.lock().unwrap().clone();
        let scopes = self.state.lock().unwrap().tokens.get(token).cloned();
        let Some(scopes) = scopes else {
            return Some(
                Self::error(401, "E0000011", "Invalid token provided", &[]).insert_header(
                    "www-authenticate",
                    format!("Bearer authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"{base}\", scope=\"okta.users.read\", error=\"invalid_token\", error_description=\"The token has expired.\", resource=\"{}\"", req.url.path()).as_str(),
                ),
            );
        };
        let needed = if req.url.path().starts_with("/api/v1/apps") {
            if req.method.as_str() == "GET" {
                "okta.apps.read"
            } else {
                "okta.apps.manage"
            }
        } else {
            return None;
        };
        if scopes.iter().any(|s| s == needed) {
            return None;
        }
        Some(
            Self::error(
                403,
                "E0000006",
                "You do not have permission to perform the requested action",
                &[],
            )
            .insert_header(
                "www-authenticate",
                format!("Bearer authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"{base}\", scope=\"{needed}\", error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", resource=\"{}\"", req.url.path()).as_str(),
            ),
        )
    }
}

impl Respond for FakeOkta {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match self.state.lock().unwrap().mode {
            Mode::Org => {}
            Mode::Throttled => {
                let reset = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    + 30;
                return Self::error(
                    429,
                    "E0000047",
                    "API call exceeded rate limit due to too many requests.",
                    &[],
                )
                .insert_header("x-rate-limit-limit", "600")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str());
            }
            Mode::NotAnOrg => {
                return ResponseTemplate::new(404)
                    .insert_header("content-type", "text/html")
                    .set_body_string("<html><body><h1>Not Found</h1></body></html>");
            }
        }
        let remaining = {
            let mut s = self.state.lock().unwrap();
            s.remaining = s.remaining.saturating_sub(1);
            s.remaining
        };
        self.check_token(req)
            .unwrap_or_else(|| self.route(req))
            .insert_header("x-rate-limit-limit", "600")
            .insert_header("x-rate-limit-remaining", remaining.to_string().as_str())
            .insert_header("x-rate-limit-reset", RESET_EPOCH.to_string().as_str())
    }
}

fn encode_cursor(i: usize) -> String {
    // Opaque like Okta's: not a page number a client could build.
    format!("00u{:x}Qz", i * 7919 + 13)
}

fn decode_cursor(c: &str) -> Option<usize> {
    let hex = c.strip_prefix("00u")?.strip_suffix("Qz")?;
    let n = usize::from_str_radix(hex, 16).ok()?;
    (n >= 13 && (n - 13) % 7919 == 0).then(|| (n - 13) / 7919)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len() + 1
            && i + 3 <= bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A mock server with the fake mounted as the fallback (priority 10: specific mocks a
/// test mounts win).
pub async fn start(fake: &FakeOkta) -> MockServer {
    let server = MockServer::start().await;
    *fake.base.lock().unwrap() = server.uri();
    Mock::given(any())
        .respond_with(fake.clone())
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

pub fn config(server: &MockServer) -> provision_okta::config::OktaConfigBuilder {
    OktaConfig::builder(&server.uri()).api_token("00SECRET-api-token-value")
}

pub fn adapter(server: &MockServer) -> OktaAdapter {
    OktaAdapter::new(config(server).build().unwrap()).unwrap()
}

/// Every request the mock received (OAuth token requests excluded: the org
/// authorization server is not part of the management API description) matches
/// an operation of the trimmed Okta spec.
pub async fn assert_conform(server: &MockServer) -> Vec<String> {
    let trimmed = OpenApiSpec::from_path(shared_spec_path(
        env!("CARGO_MANIFEST_DIR"),
        "okta-management.trimmed.yaml",
    ))
    .unwrap();
    let supplement = OpenApiSpec::from_path(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/okta-management.supplement.yaml"),
    )
    .unwrap();
    let spec = Specs(vec![trimmed, supplement]);
    let requests: Vec<Request> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() != "/oauth2/v1/token")
        .collect();
    provision_testkit::assert_requests_conform(&spec, &requests)
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// The trimmed spec, then the supplement (see its header): a request conforms when
/// one of them accepts it; otherwise the trimmed spec's verdict is reported.
struct Specs(Vec<OpenApiSpec>);

impl ApiSpec for Specs {
    fn check_request(&self, request: &Request) -> Result<MatchedOperation, SpecViolation> {
        let mut first = None;
        for spec in &self.0 {
            match spec.check_request(request) {
                Ok(op) => return Ok(op),
                Err(v) => {
                    first.get_or_insert(v);
                }
            }
        }
        Err(first.unwrap())
    }
}

/// `METHOD path` of every request received, in order.
pub async fn log(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

/// A token endpoint that verifies the client assertion like Okta does and counts tokens.
#[derive(Clone)]
pub struct TokenEndpoint {
    token_url: String,
    public_pem: Vec<u8>,
    expires_in: u64,
    issued: Arc<Mutex<Vec<String>>>,
    /// The scopes granted to the service app in the Admin Console.
    granted: Vec<String>,
    /// The org's state, where issued tokens are recorded with their scopes.
    state: Arc<Mutex<State>>,
}

/// The scopes the fake's service app is granted: users, groups and apps.
pub const GRANTED_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.users.manage",
    "okta.groups.read",
    "okta.groups.manage",
    "okta.apps.read",
    "okta.apps.manage",
];

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    jti: String,
}

impl Respond for TokenEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(&req.body)
                .into_owned()
                .collect();
        let bad = |why: &str| {
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "invalid_client", "error_description": why}))
        };
        if form.get("grant_type").map(String::as_str) != Some("client_credentials")
            || form.get("client_assertion_type").map(String::as_str)
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return bad("wrong grant");
        }
        let requested: Vec<String> = form
            .get("scope")
            .map(|s| s.split(' ').map(str::to_owned).collect())
            .unwrap_or_default();
        if requested.is_empty() || requested.iter().any(|s| !self.granted.contains(s)) {
            return ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_scope",
                "error_description": "One or more scopes are not configured for the authorization server resource."
            }));
        }
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(&self.public_pem).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[&self.token_url]);
        validation.set_issuer(&["0oaSERVICEAPP"]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        let Ok(data) = jsonwebtoken::decode::<Claims>(
            form.get("client_assertion").unwrap(),
            &key,
            &validation,
        ) else {
            return bad("assertion rejected");
        };
        let c = data.claims;
        if c.sub != c.iss || c.aud != self.token_url || c.exp <= c.iat || c.exp - c.iat > 3600 {
            return bad("claims");
        }
        if data.header.kid.as_deref() != Some("kid-1") {
            return bad("kid");
        }
        let mut issued = self.issued.lock().unwrap();
        if issued.contains(&c.jti) {
            return bad("jti replayed");
        }
        issued.push(c.jti);
        let token = format!("ACCESS-TOKEN-{}", issued.len());
        self.state
            .lock()
            .unwrap()
            .tokens
            .insert(token.clone(), requested);
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": self.expires_in,
            "access_token": token, "scope": form["scope"]
        }))
    }
}

pub async fn oauth_setup(
    expires_in: u64,
) -> (wiremock::MockServer, OktaAdapter, Arc<Mutex<Vec<String>>>) {
    let fake = FakeOkta::new(200);
    fake.add_user("ada@example.com", "ada@example.com", "ACTIVE");
    let (server, config, issued) = oauth_fake_setup(&fake, expires_in).await;
    (
        server,
        OktaAdapter::new(config.build().unwrap()).unwrap(),
        issued,
    )
}

/// A mock org with an OAuth service app granted [`GRANTED_SCOPES`]: the server, a
/// config builder for the app (key id `kid-1`), and the `jti`s of the tokens issued.
pub async fn oauth_fake_setup(
    fake: &FakeOkta,
    expires_in: u64,
) -> (
    wiremock::MockServer,
    provision_okta::config::OktaConfigBuilder,
    Arc<Mutex<Vec<String>>>,
) {
    let server = start(fake).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let issued = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(TokenEndpoint {
            token_url: format!("{}/oauth2/v1/token", server.uri()),
            public_pem: std::fs::read(dir.join("test-key.pub.pem")).unwrap(),
            expires_in,
            issued: issued.clone(),
            granted: GRANTED_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            state: fake.state.clone(),
        })
        .mount(&server)
        .await;
    let pem = std::fs::read_to_string(dir.join("test-key.pem")).unwrap();
    let config = OktaConfig::builder(&server.uri())
        .private_key_jwt("0oaSERVICEAPP", pem)
        .key_id("kid-1");
    (server, config, issued)
}

/// A hand-built test plan, confirmed (as a person reviewing it would) for every
/// identity it takes access from.
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
