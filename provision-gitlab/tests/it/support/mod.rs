//! A stateful fake of the GitLab REST API v4 endpoints the adapter uses, answering as
//! GitLab does (status codes, `{"message": …}` bodies, `X-Next-Page`/`X-Total`/`Link`
//! offset pagination with totals dropped above 10,000 rows, keyset pagination for
//! `/users`, `RateLimit-*` headers, inherited members under `/members/all`, the removal
//! of direct memberships below a group, the refusal to deactivate a recently active
//! user), plus helpers shared by the test files.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use provision_gitlab::{Deployment, GitlabAdapter, GitlabConfig};
use provision_testkit::openapi::{OpenApiSpec, shared_spec_path};
use provision_testkit::{ApiSpec, MatchedOperation, SpecViolation};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "glpat-SECRET-token-value";

#[derive(Debug, Clone, Default)]
pub struct FakeUser {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub state: String,
    /// Signed in within the last days: GitLab refuses to deactivate the user.
    pub recently_active: bool,
    /// Personal access tokens: (id, active).
    pub pats: Vec<(u64, bool)>,
    /// The email the user made public (`public_email`), if any.
    pub public_email: Option<String>,
    /// An enterprise user of the top-level group (gitlab.com): its Owners see the
    /// user's email in member lists and can search it under `/enterprise_users`.
    pub enterprise: bool,
    /// The SAML identity (NameID) the group's identity provider gave on the first
    /// SSO login.
    pub saml_uid: Option<String>,
    /// `human` (empty) or a bot's `user_type` (`project_bot`, `service_account`).
    pub user_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Src {
    Group,
    Project,
}

#[derive(Debug, Clone)]
pub struct FakeGroup {
    pub id: u64,
    pub full_path: String,
    pub parent: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct FakeProject {
    pub id: u64,
    pub path: String,
    pub group: u64,
}

/// How the fake answers every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Normal,
    /// 429 `Retry later` with `RateLimit-*` and `Retry-After: 30`.
    Throttled,
    /// 429 `Retry later` without any header (gitlab.com's edge).
    ThrottledBare,
    /// Not GitLab at all: a 404 HTML page for every path.
    NotGitlab,
}

#[derive(Debug)]
pub struct State {
    pub users: Vec<FakeUser>,
    pub groups: Vec<FakeGroup>,
    pub projects: Vec<FakeProject>,
    /// (source, source id, user id) → (access level, expires_at)
    pub members: BTreeMap<(Src, u64, u64), (u32, Option<String>)>,
    /// Memberships waiting for a seat or an Owner's approval (`membership_state:
    /// awaiting`): no access until approved.
    pub awaiting: BTreeSet<(Src, u64, u64)>,
    /// SAML group links per group id: (SAML group name, access level). GitLab
    /// rewrites a linked group's memberships at every sign-in.
    pub saml_links: BTreeMap<u64, Vec<(String, u32)>>,
    /// The group's user cap is reached (or "require approval" is on): every new
    /// membership is `awaiting`.
    pub awaiting_new: bool,
    pub next_id: u64,
    pub max_page: usize,
    pub admin: bool,
    /// Admin Mode is on and the token lacks the `admin_mode` scope: GitLab treats its
    /// administrator as a regular user (`/user` shows no `is_admin`).
    pub admin_mode_unscoped: bool,
    pub mode: Mode,
    /// Send `Link` headers (GitLab does; off to test `X-Next-Page` alone).
    pub link: bool,
    /// Never send `X-Total`/`X-Total-Pages` (as above 10,000 rows).
    pub no_totals: bool,
    /// The server's base URL, for `Link` headers.
    pub base: String,
}

#[derive(Clone)]
pub struct FakeGitlab {
    pub state: Arc<Mutex<State>>,
    pub base: Arc<Mutex<String>>,
}

pub const RESET_EPOCH: u64 = 4_102_444_800; // 2100-01-01T00:00:00Z

impl FakeGitlab {
    pub fn new(max_page: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                users: Vec::new(),
                groups: Vec::new(),
                projects: Vec::new(),
                members: BTreeMap::new(),
                awaiting: BTreeSet::new(),
                saml_links: BTreeMap::new(),
                awaiting_new: false,
                next_id: 100,
                max_page,
                admin: true,
                admin_mode_unscoped: false,
                mode: Mode::Normal,
                link: true,
                no_totals: false,
                base: String::new(),
            })),
            base: Arc::new(Mutex::new(String::new())),
        }
    }

    fn id(&self) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        s.next_id
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn add_user(&self, username: &str, email: &str) -> u64 {
        let id = self.id();
        self.state.lock().unwrap().users.push(FakeUser {
            id,
            username: username.into(),
            email: email.into(),
            name: username.into(),
            state: "active".into(),
            ..FakeUser::default()
        });
        id
    }

    /// The person's first SSO login on gitlab.com: GitLab creates the user (not an
    /// enterprise user unless said so), links the SAML identity (NameID = the email)
    /// and adds the user to the top-level group at minimal access (the SSO default
    /// membership role).
    pub fn first_sso_login(&self, username: &str, email: &str) -> u64 {
        let id = self.add_user(username, email);
        self.set_saml(id, email);
        let top = {
            let s = self.state.lock().unwrap();
            s.groups
                .iter()
                .find(|g| g.parent.is_none())
                .unwrap()
                .full_path
                .clone()
        };
        self.add_member(Src::Group, &top, id, 5);
        id
    }

    /// A SAML group link on the group: members of the identity provider's group
    /// `name` get `level` there at every sign-in.
    pub fn link_saml_group(&self, path: &str, name: &str, level: u32) {
        let id = self.group_id(path);
        self.state
            .lock()
            .unwrap()
            .saml_links
            .entry(id)
            .or_default()
            .push((name.into(), level));
    }

    /// The user's SAML identity (NameID).
    pub fn set_saml(&self, user: u64, uid: &str) {
        let mut s = self.state.lock().unwrap();
        s.users.iter_mut().find(|u| u.id == user).unwrap().saml_uid = Some(uid.into());
    }

    /// The user is an enterprise user of the top-level group.
    pub fn set_enterprise(&self, user: u64) {
        let mut s = self.state.lock().unwrap();
        s.users
            .iter_mut()
            .find(|u| u.id == user)
            .unwrap()
            .enterprise = true;
    }

    /// A group or project access token's bot user (`group_<id>_bot_<hash>`), GitLab's
    /// way of giving a token a membership.
    pub fn add_bot(&self, username: &str) -> u64 {
        let id = self.add_user(username, &format!("{username}@noreply.gitlab.example.com"));
        let mut s = self.state.lock().unwrap();
        s.users.iter_mut().find(|u| u.id == id).unwrap().user_type = "project_bot".into();
        id
    }

    /// A personal access token of `user`, active.
    pub fn add_pat(&self, user: u64) -> u64 {
        let id = self.id();
        let mut s = self.state.lock().unwrap();
        let u = s.users.iter_mut().find(|u| u.id == user).unwrap();
        u.pats.push((id, true));
        id
    }

    /// The user's personal access tokens still active.
    pub fn active_pats(&self, user: u64) -> usize {
        self.user(user).pats.iter().filter(|(_, a)| *a).count()
    }

    /// The person signs in with their password. A deactivated user who signs in is
    /// reactivated by GitLab (its old tokens with it); a blocked or banned one is
    /// refused. Whether the sign-in succeeded.
    pub fn sign_in(&self, user: u64) -> bool {
        let mut s = self.state.lock().unwrap();
        let u = s.users.iter_mut().find(|u| u.id == user).unwrap();
        match u.state.as_str() {
            "active" => true,
            "deactivated" => {
                u.state = "active".into();
                true
            }
            _ => false,
        }
    }

    pub fn user(&self, id: u64) -> FakeUser {
        let s = self.state.lock().unwrap();
        s.users.iter().find(|u| u.id == id).unwrap().clone()
    }

    pub fn set_recently_active(&self, id: u64) {
        let mut s = self.state.lock().unwrap();
        s.users
            .iter_mut()
            .find(|u| u.id == id)
            .unwrap()
            .recently_active = true;
    }

    /// A group by full path; its parent is the path's parent (which must exist).
    pub fn add_group(&self, full_path: &str) -> u64 {
        let id = self.id();
        let mut s = self.state.lock().unwrap();
        let parent = full_path
            .rsplit_once('/')
            .map(|(p, _)| s.groups.iter().find(|g| g.full_path == p).unwrap().id);
        s.groups.push(FakeGroup {
            id,
            full_path: full_path.into(),
            parent,
        });
        id
    }

    pub fn add_project(&self, path: &str) -> u64 {
        let id = self.id();
        let mut s = self.state.lock().unwrap();
        let (ns, _) = path.rsplit_once('/').unwrap();
        let group = s.groups.iter().find(|g| g.full_path == ns).unwrap().id;
        s.projects.push(FakeProject {
            id,
            path: path.into(),
            group,
        });
        id
    }

    pub fn group_id(&self, path: &str) -> u64 {
        let s = self.state.lock().unwrap();
        s.groups.iter().find(|g| g.full_path == path).unwrap().id
    }

    pub fn project_id(&self, path: &str) -> u64 {
        let s = self.state.lock().unwrap();
        s.projects.iter().find(|p| p.path == path).unwrap().id
    }

    /// The end date of a direct membership, set behind the adapter's back.
    pub fn set_expires_at(&self, src: Src, path: &str, user: u64, date: Option<&str>) {
        let id = self.source_id(src, path);
        if let Some(m) = self.state.lock().unwrap().members.get_mut(&(src, id, user)) {
            m.1 = date.map(str::to_owned);
        }
    }

    /// A direct membership, made behind the adapter's back.
    pub fn add_member(&self, src: Src, path: &str, user: u64, level: u32) {
        let id = match src {
            Src::Group => self.group_id(path),
            Src::Project => self.project_id(path),
        };
        self.state
            .lock()
            .unwrap()
            .members
            .insert((src, id, user), (level, None));
    }

    fn source_id(&self, src: Src, path: &str) -> u64 {
        match src {
            Src::Group => self.group_id(path),
            Src::Project => self.project_id(path),
        }
    }

    /// The membership waits for a seat or an approval.
    pub fn set_awaiting(&self, src: Src, path: &str, user: u64) {
        let id = self.source_id(src, path);
        self.state.lock().unwrap().awaiting.insert((src, id, user));
    }

    /// An Owner approves the awaiting membership.
    pub fn approve(&self, src: Src, path: &str, user: u64) {
        let id = self.source_id(src, path);
        self.state.lock().unwrap().awaiting.remove(&(src, id, user));
    }

    /// The direct membership level of `user` in a group or project.
    pub fn level(&self, src: Src, path: &str, user: u64) -> Option<u32> {
        let id = match src {
            Src::Group => self.group_id(path),
            Src::Project => self.project_id(path),
        };
        self.state
            .lock()
            .unwrap()
            .members
            .get(&(src, id, user))
            .map(|m| m.0)
    }

    pub fn expires_at(&self, src: Src, path: &str, user: u64) -> Option<String> {
        let id = match src {
            Src::Group => self.group_id(path),
            Src::Project => self.project_id(path),
        };
        self.state
            .lock()
            .unwrap()
            .members
            .get(&(src, id, user))
            .and_then(|m| m.1.clone())
    }
}

fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&segment[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn message(status: u16, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "message": text }))
}

fn user_json(u: &FakeUser) -> Value {
    json!({
        "id": u.id, "username": u.username, "name": u.name, "state": u.state,
        "email": u.email, "public_email": u.public_email,
        "web_url": format!("https://gitlab.example.com/{}", u.username),
        "bot": u.username.ends_with("_bot") || !u.user_type.is_empty(),
    })
}

/// The member entity. GitLab shows `email` only to administrators and, on gitlab.com,
/// to the group's Owners for enterprise users ("Limitations" in the members API
/// docs); the caller removes it otherwise ([`State::member_view`]). The entity carries
/// no `bot` flag: a bot is known by its username (`group_<id>_bot_…`).
fn member_json(u: &FakeUser, level: u32, expires: Option<&String>) -> Value {
    json!({
        "id": u.id, "username": u.username, "name": u.name, "state": u.state,
        "email": u.email, "public_email": u.public_email,
        "access_level": level, "expires_at": expires,
        "membership_state": "active",
    })
}

impl State {
    /// A member entity as the token's user sees it: `email` only for administrators
    /// and for enterprise users.
    fn member_view(&self, uid: u64, mut v: Value) -> Value {
        let shown = self.admin || self.user(uid).is_some_and(|u| u.enterprise);
        if !shown && let Some(o) = v.as_object_mut() {
            o.remove("email");
        }
        v
    }

    fn group_by(&self, key: &str) -> Option<FakeGroup> {
        self.groups
            .iter()
            .find(|g| g.full_path == key || g.id.to_string() == key)
            .cloned()
    }

    fn project_by(&self, key: &str) -> Option<FakeProject> {
        self.projects
            .iter()
            .find(|p| p.path == key || p.id.to_string() == key)
            .cloned()
    }

    fn descendants(&self, group: u64) -> Vec<FakeGroup> {
        let mut out = Vec::new();
        let mut frontier = vec![group];
        while let Some(g) = frontier.pop() {
            for child in self.groups.iter().filter(|c| c.parent == Some(g)) {
                out.push(child.clone());
                frontier.push(child.id);
            }
        }
        out
    }

    fn ancestors(&self, group: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut at = self
            .groups
            .iter()
            .find(|g| g.id == group)
            .and_then(|g| g.parent);
        while let Some(p) = at {
            out.push(p);
            at = self
                .groups
                .iter()
                .find(|g| g.id == p)
                .and_then(|g| g.parent);
        }
        out
    }

    fn user(&self, id: u64) -> Option<&FakeUser> {
        // Sorted by id in the large fixtures: a binary search first, a scan otherwise.
        match self.users.binary_search_by_key(&id, |u| u.id) {
            Ok(i) => Some(&self.users[i]),
            Err(_) => self.users.iter().find(|u| u.id == id),
        }
    }

    /// An offset page of `items` with GitLab's headers.
    /// The URL of this request on the server's base, with `key` set to `value`.
    fn next_url(&self, req: &Request, key: &str, value: &str) -> String {
        let mut next = url::Url::parse(&format!("{}{}", self.base, req.url.path())).unwrap();
        let pairs: Vec<(String, String)> = req
            .url
            .query_pairs()
            .filter(|(k, _)| k != key)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        next.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair(key, value);
        next.to_string()
    }

    fn offset_page(&self, req: &Request, items: Vec<Value>) -> ResponseTemplate {
        self.offset_page_of(req, items, |v| v.clone())
    }

    fn offset_page_of<T>(
        &self,
        req: &Request,
        items: Vec<T>,
        render: impl Fn(&T) -> Value,
    ) -> ResponseTemplate {
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let per_page: usize = q
            .get("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(20)
            .min(100)
            .min(self.max_page);
        let page: usize = q
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        let total = items.len();
        let start = (page - 1) * per_page;
        let slice: Vec<Value> = items
            .iter()
            .skip(start)
            .take(per_page)
            .map(render)
            .collect();
        let has_next = start + per_page < total;
        let mut r = ResponseTemplate::new(200)
            .insert_header("x-page", page.to_string().as_str())
            .insert_header("x-per-page", per_page.to_string().as_str())
            .insert_header(
                "x-next-page",
                if has_next {
                    (page + 1).to_string()
                } else {
                    String::new()
                }
                .as_str(),
            )
            .insert_header("ratelimit-name", "throttle_authenticated_api")
            .insert_header("ratelimit-limit", "2000")
            .insert_header("ratelimit-remaining", "1999")
            .insert_header("ratelimit-reset", RESET_EPOCH.to_string().as_str());
        if total <= 10_000 && !self.no_totals {
            let pages = total.div_ceil(per_page).max(1);
            r = r
                .insert_header("x-total", total.to_string().as_str())
                .insert_header("x-total-pages", pages.to_string().as_str());
        }
        if self.link && has_next {
            let next = self.next_url(req, "page", &(page + 1).to_string());
            r = r.insert_header("link", format!("<{next}>; rel=\"next\"").as_str());
        }
        r.set_body_json(Value::Array(slice))
    }
}

impl Respond for FakeGitlab {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        match s.mode {
            Mode::Normal => {}
            Mode::Throttled => {
                return ResponseTemplate::new(429)
                    .insert_header("ratelimit-name", "throttle_authenticated_api")
                    .insert_header("ratelimit-limit", "2000")
                    .insert_header("ratelimit-observed", "2001")
                    .insert_header("ratelimit-remaining", "0")
                    .insert_header("ratelimit-reset", RESET_EPOCH.to_string().as_str())
                    .insert_header("retry-after", "30")
                    .set_body_string("Retry later");
            }
            Mode::ThrottledBare => {
                return ResponseTemplate::new(429).set_body_string("Retry later");
            }
            Mode::NotGitlab => {
                return ResponseTemplate::new(404)
                    .insert_header("content-type", "text/html")
                    .set_body_string("<html><body>404 Not Found</body></html>");
            }
        }
        let token = req
            .headers
            .get("private-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                req.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::to_owned)
            });
        if token.as_deref() != Some(TOKEN) {
            return message(401, "401 Unauthorized");
        }
        let segs: Vec<String> = req
            .url
            .path()
            .trim_start_matches('/')
            .split('/')
            .map(decode)
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let method = req.method.as_str();
        if segs.len() < 2 || segs[0] != "api" || segs[1] != "v4" {
            return message(404, "404 Not Found");
        }
        let rest = &segs[2..];
        match (method, rest) {
            ("GET", ["user"]) => {
                let mut me = json!({"id": 1, "username": "root"});
                if s.admin && !s.admin_mode_unscoped {
                    me["is_admin"] = json!(true);
                }
                ResponseTemplate::new(200).set_body_json(me)
            }
            ("GET", ["users"]) => {
                let mut users: Vec<&FakeUser> = s.users.iter().collect();
                if let Some(name) = q.get("username") {
                    users.retain(|u| u.username.eq_ignore_ascii_case(name));
                }
                if let Some(text) = q.get("search") {
                    let t = text.to_lowercase();
                    users.retain(|u| {
                        u.username.to_lowercase().contains(&t)
                            || u.name.to_lowercase().contains(&t)
                            || (s.admin && u.email.to_lowercase() == t)
                    });
                }
                if q.get("pagination").map(String::as_str) == Some("keyset") {
                    let after: u64 = q.get("id_after").and_then(|v| v.parse().ok()).unwrap_or(0);
                    let per_page: usize = q
                        .get("per_page")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(20)
                        .min(s.max_page);
                    users.sort_by_key(|u| u.id);
                    let rest: Vec<&FakeUser> = users.into_iter().filter(|u| u.id > after).collect();
                    let page: Vec<Value> =
                        rest.iter().take(per_page).map(|u| user_json(u)).collect();
                    let mut r = ResponseTemplate::new(200);
                    if rest.len() > per_page {
                        let last = rest[per_page - 1].id;
                        let next = s.next_url(req, "id_after", &last.to_string());
                        r = r.insert_header("link", format!("<{next}>; rel=\"next\"").as_str());
                    }
                    return r.set_body_json(Value::Array(page));
                }
                let items = users.iter().map(|u| user_json(u)).collect();
                s.offset_page(req, items)
            }
            ("POST", ["users"]) => {
                let email = body["email"].as_str().unwrap_or_default().to_owned();
                let username = body["username"].as_str().unwrap_or_default().to_owned();
                if s.users.iter().any(|u| u.email.eq_ignore_ascii_case(&email)) {
                    return message(409, "Email has already been taken");
                }
                if s.users
                    .iter()
                    .any(|u| u.username.eq_ignore_ascii_case(&username))
                {
                    return message(409, "Username has already been taken");
                }
                s.next_id += 1;
                let user = FakeUser {
                    id: s.next_id,
                    username,
                    email,
                    name: body["name"].as_str().unwrap_or_default().to_owned(),
                    state: "active".into(),
                    ..FakeUser::default()
                };
                let json = user_json(&user);
                s.users.push(user);
                ResponseTemplate::new(201).set_body_json(json)
            }
            ("GET", ["users", id]) => match s.users.iter().find(|u| u.id.to_string() == *id) {
                Some(u) => ResponseTemplate::new(200).set_body_json(user_json(u)),
                None => message(404, "404 User Not Found"),
            },
            ("DELETE", ["users", id]) => {
                let before = s.users.len();
                s.users.retain(|u| u.id.to_string() != *id);
                if s.users.len() == before {
                    return message(404, "404 User Not Found");
                }
                let uid: u64 = id.parse().unwrap();
                s.members.retain(|k, _| k.2 != uid);
                ResponseTemplate::new(204)
            }
            ("POST", ["users", id, action]) => {
                let Some(u) = s.users.iter_mut().find(|u| u.id.to_string() == *id) else {
                    return message(404, "404 User Not Found");
                };
                match *action {
                    "block" => u.state = "blocked".into(),
                    "unblock" | "activate" | "unban" => u.state = "active".into(),
                    "deactivate" => {
                        if u.recently_active {
                            return message(
                                403,
                                "403 Forbidden - The user you are trying to deactivate has been active in the past 90 days and cannot be deactivated",
                            );
                        }
                        u.state = "deactivated".into();
                    }
                    _ => return message(404, "404 Not Found"),
                }
                ResponseTemplate::new(201).set_body_json(json!(true))
            }
            ("GET", ["personal_access_tokens"]) => {
                // Administrators list anyone's tokens by `user_id`; others only their own.
                if !s.admin || s.admin_mode_unscoped {
                    return message(401, "401 Unauthorized");
                }
                let user: Option<u64> = q.get("user_id").and_then(|v| v.parse().ok());
                let only_active = q.get("state").map(String::as_str) == Some("active");
                let items: Vec<Value> = s
                    .users
                    .iter()
                    .filter(|u| user.is_none_or(|id| u.id == id))
                    .flat_map(|u| u.pats.iter().map(move |p| (u.id, *p)))
                    .filter(|(_, (_, active))| !only_active || *active)
                    .map(|(uid, (id, active))| {
                        json!({"id": id, "name": format!("token-{id}"), "user_id": uid,
                               "active": active, "revoked": !active, "scopes": ["api"]})
                    })
                    .collect();
                s.offset_page(req, items)
            }
            ("DELETE", ["personal_access_tokens", id]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let pat = s
                    .users
                    .iter_mut()
                    .flat_map(|u| u.pats.iter_mut())
                    .find(|(p, _)| *p == id);
                match pat {
                    Some((_, active)) if *active => {
                        *active = false;
                        ResponseTemplate::new(204)
                    }
                    _ => message(404, "404 Not Found"),
                }
            }
            ("GET", ["groups", key]) => match s.group_by(key) {
                Some(g) => ResponseTemplate::new(200).set_body_json(json!({
                    "id": g.id, "full_path": g.full_path, "parent_id": g.parent,
                    "name": g.full_path.rsplit('/').next(), "path": g.full_path.rsplit('/').next(),
                })),
                None => message(404, "404 Group Not Found"),
            },
            ("GET", ["groups", key, "saml_group_links"]) => {
                let Some(g) = s.group_by(key) else {
                    return message(404, "404 Group Not Found");
                };
                let links: Vec<Value> = s
                    .saml_links
                    .get(&g.id)
                    .into_iter()
                    .flatten()
                    .map(|(name, level)| json!({"name": name, "access_level": level}))
                    .collect();
                // A bare array, not paginated (api/saml.md).
                ResponseTemplate::new(200).set_body_json(Value::Array(links))
            }
            ("GET", ["groups", key, "saml", "identities"]) => {
                if s.group_by(key).is_none() {
                    return message(404, "404 Group Not Found");
                }
                let items = s
                    .users
                    .iter()
                    .filter_map(|u| {
                        let uid = u.saml_uid.as_ref()?;
                        Some(json!({"extern_uid": uid, "user_id": u.id}))
                    })
                    .collect();
                s.offset_page(req, items)
            }
            ("GET", ["groups", key, "saml", uid]) => {
                if s.group_by(key).is_none() {
                    return message(404, "404 Group Not Found");
                }
                // The NameID matches exactly, as the identity provider sent it.
                match s.users.iter().find(|u| u.saml_uid.as_deref() == Some(*uid)) {
                    Some(u) => ResponseTemplate::new(200)
                        .set_body_json(json!({"extern_uid": uid, "user_id": u.id})),
                    None => message(404, "404 Not found"),
                }
            }
            ("GET", ["groups", key, "enterprise_users"]) => {
                // Owners of the top-level group only; `search` matches name, username
                // and the (primary) email.
                if s.group_by(key).is_none_or(|g| g.parent.is_some()) {
                    return message(404, "404 Group Not Found");
                }
                let search = q.get("search").map(|t| t.to_lowercase());
                let items = s
                    .users
                    .iter()
                    .filter(|u| u.enterprise)
                    .filter(|u| {
                        search.as_ref().is_none_or(|t| {
                            u.username.to_lowercase().contains(t)
                                || u.name.to_lowercase().contains(t)
                                || u.email.to_lowercase().contains(t)
                        })
                    })
                    .map(user_json)
                    .collect();
                s.offset_page(req, items)
            }
            ("GET", ["groups", key, "descendant_groups"]) => {
                let Some(g) = s.group_by(key) else {
                    return message(404, "404 Group Not Found");
                };
                let items = s
                    .descendants(g.id)
                    .iter()
                    .map(|d| json!({"id": d.id, "full_path": d.full_path, "parent_id": d.parent}))
                    .collect();
                s.offset_page(req, items)
            }
            ("GET", ["groups", key, "projects"]) => {
                let Some(g) = s.group_by(key) else {
                    return message(404, "404 Group Not Found");
                };
                let mut ids = vec![g.id];
                ids.extend(s.descendants(g.id).iter().map(|d| d.id));
                let items = s
                    .projects
                    .iter()
                    .filter(|p| ids.contains(&p.group))
                    .map(|p| json!({"id": p.id, "path_with_namespace": p.path}))
                    .collect();
                s.offset_page(req, items)
            }
            (_, [coll @ ("groups" | "projects"), key, "members", tail @ ..]) => {
                let (src, id, ancestors) = if *coll == "groups" {
                    let Some(g) = s.group_by(key) else {
                        return message(404, "404 Group Not Found");
                    };
                    (Src::Group, g.id, s.ancestors(g.id))
                } else {
                    let Some(p) = s.project_by(key) else {
                        return message(404, "404 Project Not Found");
                    };
                    let mut a = vec![p.group];
                    a.extend(s.ancestors(p.group));
                    (Src::Project, p.id, a)
                };
                members(&mut s, req, method, src, id, &ancestors, tail, &body)
            }
            _ => message(404, "404 Not Found"),
        }
    }
}

/// The members endpoints of one group or project.
#[allow(clippy::too_many_arguments)]
fn members(
    s: &mut State,
    req: &Request,
    method: &str,
    src: Src,
    id: u64,
    ancestors: &[u64],
    tail: &[&str],
    body: &Value,
) -> ResponseTemplate {
    // Effective members: direct, then inherited from ancestors (highest level wins).
    let effective = |s: &State| -> BTreeMap<u64, (u32, Option<String>)> {
        let mut out: BTreeMap<u64, (u32, Option<String>)> = BTreeMap::new();
        for a in ancestors {
            for ((k, g, u), m) in &s.members {
                if *k == Src::Group && g == a {
                    let e = out.entry(*u).or_insert(m.clone());
                    if m.0 > e.0 {
                        *e = m.clone();
                    }
                }
            }
        }
        for ((k, g, u), m) in &s.members {
            if *k == src && *g == id {
                let e = out.entry(*u).or_insert(m.clone());
                if m.0 > e.0 {
                    *e = m.clone();
                }
            }
        }
        out
    };
    let direct = |s: &State| -> BTreeMap<u64, (u32, Option<String>)> {
        s.members
            .iter()
            .filter(|((k, g, _), _)| *k == src && *g == id)
            .map(|((_, _, u), m)| (*u, m.clone()))
            .collect()
    };
    // A direct membership waiting for a seat or an approval says so.
    let mark = |s: &State, uid: u64, mut v: Value| -> Value {
        if s.awaiting.contains(&(src, id, uid)) {
            v["membership_state"] = json!("awaiting");
        }
        s.member_view(uid, v)
    };
    let render = |s: &State, list: BTreeMap<u64, (u32, Option<String>)>| -> Vec<Value> {
        list.iter()
            .filter_map(|(u, (l, e))| {
                s.user(*u)
                    .map(|user| mark(s, *u, member_json(user, *l, e.as_ref())))
            })
            .collect()
    };
    match (method, tail) {
        ("GET", []) => {
            let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
            if !q.contains_key("query") {
                let list: Vec<(u64, (u32, Option<String>))> = direct(s).into_iter().collect();
                return s.offset_page_of(req, list, |(u, (l, e))| {
                    mark(s, *u, member_json(s.user(*u).unwrap(), *l, e.as_ref()))
                });
            }
            let mut list = render(s, direct(s));
            if let Some(text) = q.get("query") {
                let t = text.to_lowercase();
                // `User.search` without private emails: username, name and the
                // public email only, whoever asks.
                list.retain(|m| {
                    ["username", "name", "public_email"].iter().any(|f| {
                        m[*f]
                            .as_str()
                            .is_some_and(|v| v.to_lowercase().contains(&t))
                    })
                });
            }
            s.offset_page(req, list)
        }
        ("GET", ["all"]) => {
            let list = render(s, effective(s));
            s.offset_page(req, list)
        }
        ("GET", [uid]) | ("GET", ["all", uid]) => {
            let uid: u64 = uid.parse().unwrap_or(0);
            let set = if tail.len() == 2 {
                effective(s)
            } else {
                direct(s)
            };
            match (set.get(&uid), s.user(uid)) {
                (Some((l, e)), Some(u)) => ResponseTemplate::new(200).set_body_json(mark(
                    s,
                    uid,
                    member_json(u, *l, e.as_ref()),
                )),
                _ => message(404, "404 Not found"),
            }
        }
        ("POST", []) => {
            let uid = body["user_id"].as_u64().unwrap_or(0);
            let level = body["access_level"].as_u64().unwrap_or(0) as u32;
            let expires = body["expires_at"].as_str().map(str::to_owned);
            if s.user(uid).is_none() {
                return message(404, "404 User Not Found");
            }
            if s.members.contains_key(&(src, id, uid)) {
                return message(409, "Member already exists");
            }
            // GitLab refuses a direct membership below what the person inherits from
            // an ancestor group.
            let inherited = ancestors
                .iter()
                .filter_map(|a| s.members.get(&(Src::Group, *a, uid)).map(|m| (*a, m.0)))
                .max_by_key(|(_, l)| *l);
            if let Some((from, at)) = inherited
                && level < at
            {
                let role = match at {
                    10 => "Guest",
                    15 => "Planner",
                    20 => "Reporter",
                    30 => "Developer",
                    40 => "Maintainer",
                    _ => "Owner",
                };
                let from = s
                    .groups
                    .iter()
                    .find(|g| g.id == from)
                    .unwrap()
                    .full_path
                    .clone();
                return ResponseTemplate::new(400).set_body_json(json!({"message": {
                    "access_level": [format!(
                        "should be greater than or equal to {role} inherited membership from group {from}"
                    )]
                }}));
            }
            s.members.insert((src, id, uid), (level, expires.clone()));
            if s.awaiting_new {
                s.awaiting.insert((src, id, uid));
            }
            let u = s.user(uid).unwrap().clone();
            ResponseTemplate::new(201).set_body_json(mark(
                s,
                uid,
                member_json(&u, level, expires.as_ref()),
            ))
        }
        ("PUT", [uid]) => {
            let uid: u64 = uid.parse().unwrap_or(0);
            let level = body["access_level"].as_u64().unwrap_or(0) as u32;
            let Some(m) = s.members.get_mut(&(src, id, uid)) else {
                return message(404, "404 Not found");
            };
            // An `expires_at` left out keeps the end date the membership has; an empty
            // one (or null) clears it.
            let expires = match body.get("expires_at") {
                None => m.1.clone(),
                Some(v) => v.as_str().filter(|d| !d.is_empty()).map(str::to_owned),
            };
            *m = (level, expires.clone());
            let u = s.user(uid).unwrap().clone();
            ResponseTemplate::new(200).set_body_json(mark(
                s,
                uid,
                member_json(&u, level, expires.as_ref()),
            ))
        }
        ("DELETE", [uid]) => {
            let uid: u64 = uid.parse().unwrap_or(0);
            if s.members.remove(&(src, id, uid)).is_none() {
                return message(404, "404 Not found");
            }
            s.awaiting.remove(&(src, id, uid));
            let skip = req
                .url
                .query_pairs()
                .any(|(k, v)| k == "skip_subresources" && v == "true");
            if src == Src::Group && !skip {
                // GitLab also removes the direct memberships below the group.
                let mut below: Vec<u64> = s.descendants(id).iter().map(|g| g.id).collect();
                below.push(id);
                let projects: Vec<u64> = s
                    .projects
                    .iter()
                    .filter(|p| below.contains(&p.group))
                    .map(|p| p.id)
                    .collect();
                s.members.retain(|(k, g, u), _| {
                    !(*u == uid
                        && ((*k == Src::Group && below.contains(g))
                            || (*k == Src::Project && projects.contains(g))))
                });
            }
            ResponseTemplate::new(204)
        }
        _ => message(404, "404 Not Found"),
    }
}

/// A mock server answering with the fake.
pub async fn start(fake: &FakeGitlab) -> MockServer {
    let server = MockServer::start().await;
    *fake.base.lock().unwrap() = server.uri();
    fake.state.lock().unwrap().base = server.uri();
    Mock::given(any())
        .respond_with(fake.clone())
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

pub fn config(server: &MockServer, deployment: Deployment) -> GitlabConfig {
    GitlabConfig::builder(&server.uri(), "acme")
        .private_token(TOKEN)
        .deployment(deployment)
        .build()
        .unwrap()
}

pub fn self_managed(server: &MockServer) -> GitlabAdapter {
    GitlabAdapter::new(config(server, Deployment::SelfManaged)).unwrap()
}

pub fn gitlab_com(server: &MockServer) -> GitlabAdapter {
    GitlabAdapter::new(config(server, Deployment::GitlabCom)).unwrap()
}

/// Every request the mock received matches an operation of GitLab's trimmed OpenAPI
/// description (members) or, for the endpoints it does not describe (`/user`,
/// `/users`, `/groups/:id`, descendant groups, group projects), of the supplement
/// written from GitLab's REST documentation (see its header).
pub async fn assert_conform(server: &MockServer) -> Vec<String> {
    let trimmed = OpenApiSpec::from_path(shared_spec_path(
        env!("CARGO_MANIFEST_DIR"),
        "gitlab-openapi-v2.trimmed.yaml",
    ))
    .unwrap();
    let supplement = OpenApiSpec::from_path(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/gitlab-rest.supplement.yaml"),
    )
    .unwrap();
    let spec = Specs(vec![trimmed, supplement]);
    let requests = server.received_requests().await.unwrap();
    provision_testkit::assert_requests_conform(&spec, &requests)
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// The trimmed spec, then the supplement: a request conforms when one accepts it;
/// otherwise the trimmed spec's verdict is reported.
pub struct Specs(pub Vec<OpenApiSpec>);

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

/// How many requests of `method` the mock received.
pub async fn count(server: &MockServer, method: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == method)
        .count()
}

/// An `Engine` over one `adapter: gitlab` system at `url` (top-level group `acme`), its
/// deployment entry given `settings` lines beyond `base_url` and `group` (`deployment:
/// self_managed`), with `enforcement` and the policy file `policies`. The token is
/// written to a file that is gone once the engine is built.
pub async fn engine(
    name: &str,
    url: &str,
    enforcement: &str,
    settings: &[&str],
    policies: &str,
) -> provision_core::engine::Engine {
    let dir = std::env::temp_dir().join(format!("gitlab-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let extra: String = settings.iter().map(|l| format!("      {l}\n")).collect();
    let text = format!(
        "systems:\n  gitlab:\n    adapter: gitlab\n    enforcement: {enforcement}\n    settings:\n      base_url: {url}\n      group: acme\n{extra}    credentials:\n      token: {{file: {}}}\nblast_radius: {{max_identities: 10}}\n",
        token.display()
    );
    std::fs::write(dir.join("provision.yaml"), text).unwrap();
    std::fs::write(dir.join("policies/gitlab.yaml"), policies).unwrap();
    let engine = provision_core::engine::Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        .factories([provision_gitlab::factory()])
        .build()
        .await
        .unwrap();
    // Everything is loaded and the token read: the folder (with the token) goes.
    let _ = std::fs::remove_dir_all(&dir);
    engine
}

/// A self-managed adapter whose leavers are deactivated (not blocked).
pub fn self_managed_deactivating(server: &MockServer) -> GitlabAdapter {
    let config = GitlabConfig::builder(&server.uri(), "acme")
        .private_token(TOKEN)
        .deployment(Deployment::SelfManaged)
        .leaver_action(provision_gitlab::LeaverAction::Deactivate)
        .build()
        .unwrap();
    GitlabAdapter::new(config).unwrap()
}

/// One policy: the Engineering department are developers in `acme/eng`.
pub const ENGINEERING_DEVELOPERS: &str = "\
policies:
  - name: Engineering
    triggers:
      - department: Engineering
    provisions:
      - {system: gitlab, action: add_to_group, target: acme/eng, role: developer}
";
