//! A stateful fake of the GitHub REST endpoints the adapter uses, written from
//! GitHub's docs and its OpenAPI description, unkind first: an organization join is an
//! invitation that stays `pending` until the fake is told the person accepted; a team
//! synced with the IdP answers 403 to every write; the collaborator `PUT` answers 204
//! for "no change" and "role changed" alike and 201 (an invitation) for an outsider;
//! the primary limit is a **403** with `x-ratelimit-remaining: 0`; a secondary limit
//! is a 403 with a message and no `retry-after`; lists are short pages with
//! `Link: rel="next"`.
//!
//! Answer shapes marked UNVERIFIED below follow the docs/description only and were
//! not checked against a real organization or enterprise: the 422 for a `reinstate`
//! of a non-former member; the 404 for removing a non-member (organization and team);
//! the 403 body of an IdP-synced team (the adapter does not depend on its text); the
//! body of a secondary limit; a team `PUT` for a pending organization member
//! answering `state: pending`; the EMU SCIM `filter` on `externalId`, `PATCH` with a
//! boolean `value` (the description's schema says string, its own example sends
//! `false`), and a suspended user's `userName` being obfuscated.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use provision_github::{GithubAdapter, GithubConfig};
use provision_testkit::openapi::{OpenApiSpec, shared_spec_path};
use provision_testkit::{ApiSpec, MatchedOperation, SpecViolation};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "github_pat_SECRET_token_value";
pub const ORG: &str = "acme";
pub const RESET_EPOCH: u64 = 4_102_444_800; // 2100-01-01

/// How the fake answers every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Normal,
    /// The primary limit: 403 with `x-ratelimit-remaining: 0` and a reset.
    PrimaryLimit,
    /// A secondary limit: 403 with a message, no `retry-after` (UNVERIFIED body).
    SecondaryLimit,
    /// A secondary limit with `retry-after: 30`.
    SecondaryRetryAfter,
    /// Not GitHub: an HTML 404 for everything.
    NotGithub,
}

/// A team: IdP-synced, and username → (role, state).
pub type FakeTeam = (bool, BTreeMap<String, (String, String)>);

#[derive(Debug, Default)]
pub struct State {
    /// Every GitHub user: username → id.
    pub users: BTreeMap<String, u64>,
    /// Organization members: username → state (`active` / `pending`).
    pub members: BTreeMap<String, String>,
    /// Former members GitHub would reinstate.
    pub former: BTreeSet<String>,
    /// Teams: slug → (IdP-synced, username → (role, state)).
    pub teams: BTreeMap<String, FakeTeam>,
    /// Repositories `owner/repo` → username → permission.
    pub repos: BTreeMap<String, BTreeMap<String, String>>,
    /// Open repository invitations `owner/repo` → usernames.
    pub repo_invites: BTreeMap<String, BTreeSet<String>>,
    /// Invitations sent (count), by kind of write.
    pub invitations_sent: u32,
    /// EMU SCIM users: (scim id, userName, externalId, active).
    pub scim: Vec<(String, String, String, bool)>,
    /// Suspension obfuscates the user name (UNVERIFIED: GitHub says the handle and
    /// primary email are obfuscated; whether SCIM's userName is, is not documented).
    pub obfuscate_on_suspend: bool,
    pub page: usize,
    pub mode: Mode,
    pub base: String,
    pub next_id: u64,
}

#[derive(Clone, Default)]
pub struct FakeGithub {
    pub state: Arc<Mutex<State>>,
}

impl FakeGithub {
    pub fn new(page: usize) -> Self {
        let fake = Self::default();
        {
            let mut s = fake.state.lock().unwrap();
            s.page = page;
            s.next_id = 1000;
        }
        fake
    }

    pub fn add_user(&self, username: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.users.insert(username.to_owned(), id);
        id
    }

    pub fn add_member(&self, username: &str) {
        self.add_user(username);
        self.state
            .lock()
            .unwrap()
            .members
            .insert(username.to_owned(), "active".into());
    }

    /// The person accepts the organization's invitation (and pending team seats).
    pub fn accept(&self, username: &str) {
        let mut s = self.state.lock().unwrap();
        s.members.insert(username.to_owned(), "active".into());
        for (_, (_, m)) in s.teams.iter_mut() {
            if let Some(entry) = m.get_mut(username) {
                entry.1 = "active".into();
            }
        }
    }

    pub fn add_team(&self, slug: &str, idp_synced: bool) {
        self.state
            .lock()
            .unwrap()
            .teams
            .insert(slug.to_owned(), (idp_synced, BTreeMap::new()));
    }

    pub fn add_repo(&self, full: &str) {
        self.state
            .lock()
            .unwrap()
            .repos
            .insert(full.to_owned(), BTreeMap::new());
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn member_state(&self, username: &str) -> Option<String> {
        self.state.lock().unwrap().members.get(username).cloned()
    }

    pub fn team_role(&self, team: &str, username: &str) -> Option<(String, String)> {
        let s = self.state.lock().unwrap();
        s.teams
            .get(team)
            .and_then(|(_, m)| m.get(username).cloned())
    }

    pub fn repo_permission(&self, repo: &str, username: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.repos.get(repo).and_then(|m| m.get(username).cloned())
    }
}

fn json_reply(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json")
        .insert_header("x-ratelimit-limit", "5000")
        .insert_header("x-ratelimit-remaining", "4990")
        .insert_header("x-ratelimit-reset", RESET_EPOCH.to_string().as_str())
        .insert_header("x-ratelimit-resource", "core")
        .set_body_json(body)
}

fn message(status: u16, text: &str) -> ResponseTemplate {
    json_reply(
        status,
        json!({"message": text, "documentation_url": "https://docs.github.com/rest"}),
    )
}

fn empty(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-ratelimit-limit", "5000")
        .insert_header("x-ratelimit-remaining", "4990")
        .insert_header("x-ratelimit-reset", RESET_EPOCH.to_string().as_str())
}

fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// One page of `items` with a `Link rel="next"` when more follow.
fn paged(state: &State, req: &Request, items: Vec<Value>) -> ResponseTemplate {
    let per_page: usize = query(req, "per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .min(100)
        .min(state.page);
    let page: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let start = (page - 1) * per_page;
    let slice: Vec<Value> = items.iter().skip(start).take(per_page).cloned().collect();
    let mut reply = json_reply(200, Value::Array(slice));
    if start + per_page < items.len() {
        let mut next = req.url.clone();
        let pairs: Vec<(String, String)> = req
            .url
            .query_pairs()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        next.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("page", &(page + 1).to_string());
        let next = format!(
            "{}{}?{}",
            state.base,
            next.path(),
            next.query().unwrap_or("")
        );
        reply = reply.insert_header("link", format!("<{next}>; rel=\"next\"").as_str());
    }
    reply
}

fn user_json(login: &str, id: u64) -> Value {
    json!({"login": login, "id": id, "node_id": "U_x", "type": "User", "site_admin": false})
}

impl Respond for FakeGithub {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        match s.mode {
            Mode::Normal => {}
            Mode::PrimaryLimit => {
                return ResponseTemplate::new(403)
                    .insert_header("content-type", "application/json")
                    .insert_header("x-ratelimit-limit", "5000")
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", RESET_EPOCH.to_string().as_str())
                    .set_body_json(json!({"message": "API rate limit exceeded for user ID 1."}));
            }
            Mode::SecondaryLimit => {
                return message(
                    403,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                );
            }
            Mode::SecondaryRetryAfter => {
                return message(429, "You have exceeded a secondary rate limit.")
                    .insert_header("retry-after", "30");
            }
            Mode::NotGithub => {
                return ResponseTemplate::new(404)
                    .insert_header("content-type", "text/html")
                    .set_body_string("<html><body>404 nginx</body></html>");
            }
        }
        let path: Vec<String> = req
            .url
            .path_segments()
            .map(|p| p.map(urldecode).collect())
            .unwrap_or_default();
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let method = req.method.as_str();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match (method, p.as_slice()) {
            ("GET", ["users", u]) => match s.users.get(*u) {
                Some(id) => json_reply(200, user_json(u, *id)),
                None => message(404, "Not Found"),
            },
            ("GET", ["orgs", org, "members"]) if *org == ORG => {
                let items = s
                    .members
                    .iter()
                    .filter(|(_, st)| *st == "active")
                    .map(|(u, _)| user_json(u, s.users[u]))
                    .collect();
                paged(&s, req, items)
            }
            ("GET", ["orgs", _, "members"]) => message(404, "Not Found"),
            ("GET", ["orgs", org, "invitations"]) if *org == ORG => {
                let items = s
                    .members
                    .iter()
                    .filter(|(_, st)| *st == "pending")
                    .map(|(u, _)| {
                        json!({"id": s.users[u] + 5_000_000, "login": u, "email": null,
                               "role": "direct_member", "created_at": "2026-12-01T00:00:00Z",
                               "inviter": user_json("admin", 1), "team_count": 0,
                               "node_id": "OI_x", "invitation_teams_url": "https://x"})
                    })
                    .collect();
                paged(&s, req, items)
            }
            ("GET", ["orgs", _, "memberships", u]) => match s.members.get(*u) {
                Some(state) => json_reply(200, json!({"state": state, "role": "member"})),
                None => message(404, "Not Found"),
            },
            ("PUT", ["orgs", _, "memberships", u]) => {
                if !s.users.contains_key(*u) {
                    return message(404, "Not Found");
                }
                let state = s
                    .members
                    .entry((*u).to_owned())
                    .or_insert_with(|| "pending".into())
                    .clone();
                if state == "pending" {
                    s.invitations_sent += 1;
                }
                json_reply(200, json!({"state": state, "role": "member"}))
            }
            ("DELETE", ["orgs", _, "memberships", u]) => {
                // UNVERIFIED: removing a non-member answers 404.
                if s.members.remove(*u).is_none() {
                    return message(404, "Not Found");
                }
                s.former.insert((*u).to_owned());
                for (_, (_, m)) in s.teams.iter_mut() {
                    m.remove(*u);
                }
                for (_, m) in s.repos.iter_mut() {
                    m.remove(*u);
                }
                empty(204)
            }
            ("POST", ["orgs", _, "invitations"]) => {
                let id = body.get("invitee_id").and_then(Value::as_u64);
                let Some(login) = s
                    .users
                    .iter()
                    .find(|(_, i)| Some(**i) == id)
                    .map(|(u, _)| u.clone())
                else {
                    return message(404, "Not Found");
                };
                if body.get("role").and_then(Value::as_str) == Some("reinstate")
                    && !s.former.contains(&login)
                {
                    // UNVERIFIED text.
                    return json_reply(
                        422,
                        json!({"message": "Validation Failed",
                               "errors": [{"resource": "OrganizationInvitation", "code": "custom",
                                           "message": "Invitee was not previously a member"}]}),
                    );
                }
                s.members.insert(login.clone(), "pending".into());
                s.invitations_sent += 1;
                json_reply(
                    201,
                    json!({"id": id, "login": login, "role": "direct_member"}),
                )
            }
            ("GET", ["orgs", _, "teams", t, "members"]) => match s.teams.get(*t) {
                Some((_, m)) => {
                    let items = m
                        .iter()
                        .filter(|(_, (_, st))| st == "active")
                        .map(|(u, (role, _))| {
                            let mut v = user_json(u, s.users[u]);
                            v["role"] = json!(role);
                            v
                        })
                        .collect();
                    paged(&s, req, items)
                }
                None => message(404, "Not Found"),
            },
            ("GET", ["orgs", _, "teams", t, "memberships", u]) => {
                match s.teams.get(*t).and_then(|(_, m)| m.get(*u)) {
                    Some((role, st)) => {
                        json_reply(200, json!({"role": role, "state": st, "url": "https://x"}))
                    }
                    None => message(404, "Not Found"),
                }
            }
            // UNVERIFIED: a pending organization member gets `state: pending`.
            ("PUT", ["orgs", _, "teams", t, "memberships", u]) => {
                let role = body
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or("member")
                    .to_owned();
                let member_state = s.members.get(*u).cloned();
                let known = s.users.contains_key(*u);
                let Some((synced, m)) = s.teams.get_mut(*t) else {
                    return message(404, "Not Found");
                };
                if *synced {
                    // UNVERIFIED body.
                    return message(
                        403,
                        "This team is synchronized with an identity provider; team membership must be managed there.",
                    );
                }
                if !known {
                    return message(404, "Not Found");
                }
                let st = match member_state.as_deref() {
                    Some("active") => "active",
                    _ => "pending",
                };
                m.insert((*u).to_owned(), (role.clone(), st.to_owned()));
                if member_state.is_none() {
                    s.members.insert((*u).to_owned(), "pending".into());
                    s.invitations_sent += 1;
                }
                json_reply(200, json!({"role": role, "state": st, "url": "https://x"}))
            }
            ("DELETE", ["orgs", _, "teams", t, "memberships", u]) => {
                let Some((synced, m)) = s.teams.get_mut(*t) else {
                    return message(404, "Not Found");
                };
                if *synced {
                    return message(
                        403,
                        "This team is synchronized with an identity provider; team membership must be managed there.",
                    );
                }
                match m.remove(*u) {
                    Some(_) => empty(204),
                    None => message(404, "Not Found"),
                }
            }
            ("PUT", ["repos", o, r, "collaborators", u]) => {
                let full = format!("{o}/{r}");
                let perm = body
                    .get("permission")
                    .and_then(Value::as_str)
                    .unwrap_or("push")
                    .to_owned();
                let is_member = s.members.get(*u).is_some_and(|st| st == "active");
                let Some(m) = s.repos.get_mut(&full) else {
                    return message(404, "Not Found");
                };
                if is_member || m.contains_key(*u) {
                    // 204 for "no change" and for "role changed" alike.
                    m.insert((*u).to_owned(), perm);
                    empty(204)
                } else {
                    s.repo_invites
                        .entry(full.clone())
                        .or_default()
                        .insert((*u).to_owned());
                    json_reply(
                        201,
                        json!({"id": 1, "permissions": perm, "invitee": user_json(u, 1)}),
                    )
                }
            }
            ("GET", ["repos", o, r, "collaborators", u]) => {
                let full = format!("{o}/{r}");
                match s.repos.get(&full).and_then(|m| m.get(*u)) {
                    Some(_) => empty(204),
                    None => message(404, "Not Found"),
                }
            }
            ("DELETE", ["repos", o, r, "collaborators", u]) => {
                let full = format!("{o}/{r}");
                match s.repos.get_mut(&full) {
                    Some(m) => {
                        m.remove(*u);
                        empty(204)
                    }
                    None => message(404, "Not Found"),
                }
            }
            ("GET", ["scim", "v2", "enterprises", _, "Users"]) => {
                let filter = query(req, "filter").unwrap_or_default();
                let start: usize = query(req, "startIndex")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                let count: usize = query(req, "count")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(30)
                    .min(s.page);
                let matching: Vec<Value> = s
                    .scim
                    .iter()
                    .filter(|(_, user_name, external, _)| {
                        filter.is_empty()
                            || filter == format!("userName eq \"{user_name}\"")
                            || filter == format!("externalId eq \"{external}\"")
                    })
                    .map(|(id, user_name, external, active)| {
                        scim_json(id, user_name, external, *active)
                    })
                    .collect();
                let total = matching.len();
                let page: Vec<Value> = matching.into_iter().skip(start - 1).take(count).collect();
                scim_reply(
                    200,
                    json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                        "totalResults": total, "itemsPerPage": page.len(), "startIndex": start,
                        "Resources": page,
                    }),
                )
            }
            ("POST", ["scim", "v2", "enterprises", _, "Users"]) => {
                let user_name = body["userName"].as_str().unwrap_or_default().to_owned();
                let external = body["externalId"].as_str().unwrap_or_default().to_owned();
                if s.scim.iter().any(|(_, u, _, _)| *u == user_name) {
                    return scim_reply(
                        409,
                        json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                        "status": "409", "scimType": "uniqueness",
                        "detail": "Duplicate record detected"}),
                    );
                }
                s.next_id += 1;
                let id = format!("scim-{}", s.next_id);
                s.scim
                    .push((id.clone(), user_name.clone(), external.clone(), true));
                // The managed user exists on GitHub and is in the organization.
                let handle = provision_github::adapter::emu_handle(&user_name, "acme");
                let n = s.next_id;
                s.users.insert(handle.clone(), n);
                s.members.insert(handle, "active".into());
                scim_reply(201, scim_json(&id, &user_name, &external, true))
            }
            ("PATCH", ["scim", "v2", "enterprises", _, "Users", id]) => {
                let active = body["Operations"][0]["value"].as_bool();
                let obfuscate = s.obfuscate_on_suspend;
                match s.scim.iter_mut().find(|(i, ..)| i == id) {
                    Some(user) => {
                        if let Some(a) = active {
                            user.3 = a;
                            if !a && obfuscate {
                                user.1 = format!("obfuscated-{}", user.0);
                            }
                        }
                        let (i, u, e, a) = user.clone();
                        scim_reply(200, scim_json(&i, &u, &e, a))
                    }
                    None => scim_reply(
                        404,
                        json!({"status": "404", "detail": "Resource not found"}),
                    ),
                }
            }
            ("DELETE", ["scim", "v2", "enterprises", _, "Users", id]) => {
                let before = s.scim.len();
                s.scim.retain(|(i, ..)| i != id);
                if s.scim.len() < before {
                    empty(204)
                } else {
                    scim_reply(
                        404,
                        json!({"status": "404", "detail": "Resource not found"}),
                    )
                }
            }
            _ => message(404, "Not Found"),
        }
    }
}

fn scim_json(id: &str, user_name: &str, external: &str, active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id, "externalId": external, "userName": user_name, "active": active,
        "displayName": user_name,
        "emails": [{"value": user_name, "primary": true, "type": "work"}],
        "meta": {"resourceType": "User"},
    })
}

fn scim_reply(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/scim+json")
        .set_body_json(body)
}

pub fn emu_adapter(server: &MockServer, delete_leavers: bool) -> GithubAdapter {
    GithubAdapter::new(
        GithubConfig::builder(ORG)
            .api_url(&server.uri())
            .token(TOKEN)
            .emu("acme-emu", "acme", None)
            .delete_leavers(delete_leavers)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn urldecode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub async fn start(fake: &FakeGithub) -> MockServer {
    let server = MockServer::start().await;
    fake.state.lock().unwrap().base = server.uri();
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    server
}

pub fn config(server: &MockServer) -> GithubConfig {
    GithubConfig::builder(ORG)
        .api_url(&server.uri())
        .token(TOKEN)
        .build()
        .unwrap()
}

pub fn adapter(server: &MockServer) -> GithubAdapter {
    GithubAdapter::new(config(server)).unwrap()
}

/// GitHub's trimmed OpenAPI description.
pub fn spec() -> OpenApiSpec {
    OpenApiSpec::from_path(shared_spec_path(
        env!("CARGO_MANIFEST_DIR"),
        "github-ghec.trimmed.json",
    ))
    .unwrap()
}

/// Every request the server received conforms to GitHub's description.
pub async fn assert_conform(server: &MockServer) -> Vec<MatchedOperation> {
    let requests = server.received_requests().await.unwrap_or_default();
    provision_testkit::assert_requests_conform(&spec(), &requests)
}

/// The requests received, as `METHOD /path`.
pub async fn requests(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

#[allow(unused)]
fn _unused(_: &dyn ApiSpec, _: SpecViolation) {}
