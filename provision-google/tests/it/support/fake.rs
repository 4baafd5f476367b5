//! A stateful Directory API fake for wiremock: users, groups and memberships of one
//! customer (`my_customer`, domain `example.com`), answering as Google does:
//!
//! * `users.list` / `groups.list` with another customer id: 400 `badRequest`
//!   ("Bad Request"); with another domain: 404 `notFound` ("Domain not found."); a
//!   customer the admin may not see (`C0forbidden`): 403 `forbidden` ("Not Authorized
//!   to access this resource/api");
//! * a missing user, group or member: 404 `notFound` ("Resource Not Found: userKey");
//! * inserting what exists: 409 `duplicate` ("Entity already exists." / "Member
//!   already exists.");
//! * pages of at most `page_size` whatever `maxResults` asks, `nextPageToken` opaque;
//! * `throttle()`: every call 429 with `Retry-After: 9`;
//! * `users.get` (and every `userKey`) resolves a user's aliases as well as its
//!   primary email, and inserting an alias address is 409 `duplicate`;
//! * `users.update` replaces a repeated field (`organizations`) whole when the body
//!   has it;
//! * `conflict_after_next_update()`: the next update takes effect, then answers 409.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::google_error;

/// The customer id the fake's admin belongs to, besides `my_customer`.
pub const CUSTOMER: &str = "C01234abc";
/// The fake tenant's domain.
pub const DOMAIN: &str = "example.com";

#[derive(Debug, Clone)]
struct FakeUser {
    email: String,
    given: String,
    family: String,
    suspended: bool,
    org_unit: String,
    /// Other addresses of this user: `users.get` resolves them like the primary one.
    aliases: Vec<String>,
    /// `organizations`, a repeated field: `users.update` replaces it whole.
    organizations: Value,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    users: BTreeMap<String, FakeUser>,
    // group email -> (group id, members: member email -> role)
    groups: BTreeMap<String, (String, BTreeMap<String, String>)>,
    throttled: bool,
    /// The next `users.update` takes effect, then answers 409 "Entity already exists."
    /// (reported by Google users: re-read before treating it as a failure).
    conflict_after_next_update: bool,
}

impl State {
    fn user_id(&self, key: &str) -> Option<String> {
        if self.users.contains_key(key) {
            return Some(key.to_owned());
        }
        self.users
            .iter()
            .find(|(_, u)| {
                u.email.eq_ignore_ascii_case(key)
                    || u.aliases.iter().any(|a| a.eq_ignore_ascii_case(key))
            })
            .map(|(id, _)| id.clone())
    }

    fn user_json(&self, id: &str) -> Value {
        let u = &self.users[id];
        let mut user = json!({"id": id, "primaryEmail": u.email, "suspended": u.suspended,
            "orgUnitPath": u.org_unit, "name": {"givenName": u.given, "familyName": u.family},
            "lastLoginTime": "1970-01-01T00:00:00.000Z"});
        if !u.aliases.is_empty() {
            user["aliases"] = json!(u.aliases);
        }
        if !u.organizations.is_null() {
            user["organizations"] = u.organizations.clone();
        }
        user
    }

    /// The member email a member key (email or user id) stands for.
    fn member_email(&self, key: &str) -> String {
        match self.users.get(key) {
            Some(u) => u.email.to_ascii_lowercase(),
            None => key.to_ascii_lowercase(),
        }
    }
}

/// The fake; clone it to keep a handle on its state.
#[derive(Clone, Debug)]
pub struct GoogleFake {
    state: Arc<Mutex<State>>,
    page_size: usize,
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
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found(what: &str) -> ResponseTemplate {
    google_error(404, "notFound", &format!("Resource Not Found: {what}"))
}

impl GoogleFake {
    /// An empty tenant paging `page_size` items at most.
    pub fn new(page_size: usize) -> Self {
        Self {
            state: Arc::default(),
            page_size,
        }
    }

    /// Mounts the fake as the catch-all of `server`.
    pub async fn mount(&self, server: &MockServer) {
        Mock::given(wiremock::matchers::path_regex("^/admin/directory/v1/"))
            .respond_with(self.clone())
            .mount(server)
            .await;
    }

    fn next(state: &mut State) -> String {
        state.next_id += 1;
        format!("1{:020}", state.next_id)
    }

    /// Adds a user; returns its id.
    pub fn add_user(&self, email: &str) -> String {
        let mut s = self.state.lock().unwrap();
        let id = Self::next(&mut s);
        s.users.insert(
            id.clone(),
            FakeUser {
                email: email.to_owned(),
                given: "Existing".into(),
                family: "User".into(),
                suspended: false,
                org_unit: "/".into(),
                aliases: Vec::new(),
                organizations: Value::Null,
            },
        );
        id
    }

    /// Gives user `id` another address (`users.aliases.insert`).
    pub fn add_alias(&self, id: &str, alias: &str) {
        let mut s = self.state.lock().unwrap();
        s.users.get_mut(id).unwrap().aliases.push(alias.to_owned());
    }

    /// Sets user `id`'s `organizations` as an admin would by hand.
    pub fn set_organizations(&self, id: &str, organizations: Value) {
        let mut s = self.state.lock().unwrap();
        s.users.get_mut(id).unwrap().organizations = organizations;
    }

    /// User `id` as `users.get` answers it.
    pub fn user(&self, id: &str) -> Value {
        self.state.lock().unwrap().user_json(id)
    }

    /// The user id a key (id, primary email or alias) resolves to.
    pub fn user_id(&self, key: &str) -> Option<String> {
        self.state.lock().unwrap().user_id(key)
    }

    /// The next `users.update` takes effect and then answers 409 `duplicate`.
    pub fn conflict_after_next_update(&self) {
        self.state.lock().unwrap().conflict_after_next_update = true;
    }

    /// Adds a group.
    pub fn add_group(&self, email: &str) {
        let mut s = self.state.lock().unwrap();
        let id = Self::next(&mut s);
        s.groups
            .insert(email.to_ascii_lowercase(), (id, BTreeMap::new()));
    }

    /// Adds a member straight in the group (a hand-made grant).
    pub fn add_member(&self, group: &str, email: &str, role: &str) {
        let mut s = self.state.lock().unwrap();
        s.groups
            .get_mut(&group.to_ascii_lowercase())
            .unwrap()
            .1
            .insert(email.to_ascii_lowercase(), role.to_owned());
    }

    /// The groups a member is in, with the role.
    pub fn groups_of(&self, email: &str) -> Vec<(String, String)> {
        let s = self.state.lock().unwrap();
        s.groups
            .iter()
            .filter_map(|(g, (_, m))| {
                m.get(&email.to_ascii_lowercase())
                    .map(|r| (g.clone(), r.clone()))
            })
            .collect()
    }

    /// Every call answers 429 from now on.
    pub fn throttle(&self) {
        self.state.lock().unwrap().throttled = true;
    }

    fn page(
        &self,
        items: Vec<Value>,
        query: &BTreeMap<String, String>,
        key: &str,
    ) -> ResponseTemplate {
        let start: usize = query
            .get("pageToken")
            .and_then(|t| t.strip_prefix('p'))
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let max: usize = query
            .get("maxResults")
            .and_then(|m| m.parse().ok())
            .unwrap_or(100);
        let end = (start + max.min(self.page_size)).min(items.len());
        let mut body = json!({ "kind": "admin#directory#list" });
        if start < end {
            body[key] = json!(items[start..end].to_vec());
        }
        if end < items.len() {
            body["nextPageToken"] = json!(format!("p{end}"));
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// Checks the customer or domain a scoped list names.
    fn scope_error(query: &BTreeMap<String, String>) -> Option<ResponseTemplate> {
        match (query.get("customer"), query.get("domain")) {
            (Some(c), _) if c == "C0forbidden" => Some(google_error(
                403,
                "forbidden",
                "Not Authorized to access this resource/api",
            )),
            (Some(c), _) if c != "my_customer" && c != CUSTOMER => {
                Some(google_error(400, "badRequest", "Bad Request"))
            }
            (None, Some(d)) if d != DOMAIN => {
                Some(google_error(404, "notFound", "Domain not found."))
            }
            (None, None) => Some(google_error(400, "badRequest", "Bad Request")),
            _ => None,
        }
    }

    fn route(
        &self,
        method: &str,
        segments: &[String],
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (method, seg.as_slice()) {
            ("GET", ["users"]) => {
                if let Some(e) = Self::scope_error(query) {
                    return e;
                }
                let ou = query.get("query").and_then(|q| {
                    q.strip_prefix("orgUnitPath='")
                        .and_then(|q| q.strip_suffix('\''))
                        .map(str::to_owned)
                });
                let ids: Vec<String> = s
                    .users
                    .iter()
                    .filter(|(_, u)| {
                        ou.as_ref()
                            .is_none_or(|o| u.org_unit.starts_with(o.as_str()))
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                let items = ids.iter().map(|id| s.user_json(id)).collect();
                drop(s);
                self.page(items, query, "users")
            }
            ("POST", ["users"]) => {
                let email = body["primaryEmail"].as_str().unwrap_or_default().to_owned();
                if s.user_id(&email).is_some() {
                    return google_error(409, "duplicate", "Entity already exists.");
                }
                let id = Self::next(&mut s);
                s.users.insert(
                    id.clone(),
                    FakeUser {
                        email,
                        given: body["name"]["givenName"]
                            .as_str()
                            .unwrap_or_default()
                            .into(),
                        family: body["name"]["familyName"]
                            .as_str()
                            .unwrap_or_default()
                            .into(),
                        suspended: false,
                        org_unit: body["orgUnitPath"].as_str().unwrap_or("/").into(),
                        aliases: Vec::new(),
                        organizations: body["organizations"].clone(),
                    },
                );
                ResponseTemplate::new(200).set_body_json(s.user_json(&id))
            }
            (_, ["users", key, rest @ ..]) => {
                let Some(id) = s.user_id(key) else {
                    return not_found("userKey");
                };
                match (method, rest) {
                    ("GET", []) => ResponseTemplate::new(200).set_body_json(s.user_json(&id)),
                    ("PUT", []) => {
                        let u = s.users.get_mut(&id).unwrap();
                        if let Some(v) = body["suspended"].as_bool() {
                            u.suspended = v;
                        }
                        if let Some(v) = body["orgUnitPath"].as_str() {
                            u.org_unit = v.into();
                        }
                        if let Some(v) = body["name"]["givenName"].as_str() {
                            u.given = v.into();
                        }
                        if let Some(v) = body["name"]["familyName"].as_str() {
                            u.family = v.into();
                        }
                        // a repeated field present in the body replaces the stored one whole
                        if let Some(orgs) = body.get("organizations") {
                            u.organizations = orgs.clone();
                        }
                        if std::mem::take(&mut s.conflict_after_next_update) {
                            return google_error(409, "duplicate", "Entity already exists.");
                        }
                        ResponseTemplate::new(200).set_body_json(s.user_json(&id))
                    }
                    ("DELETE", []) => {
                        let email = s.users.remove(&id).unwrap().email.to_ascii_lowercase();
                        for (_, members) in s.groups.values_mut() {
                            members.remove(&email);
                        }
                        ResponseTemplate::new(204)
                    }
                    ("POST", ["signOut"]) => ResponseTemplate::new(204),
                    _ => ResponseTemplate::new(405),
                }
            }
            ("GET", ["groups"]) => {
                let items: Vec<Value> = match query.get("userKey") {
                    Some(key) => {
                        if s.user_id(key).is_none() {
                            return not_found("userKey");
                        }
                        let email = s.member_email(&s.user_id(key).unwrap());
                        s.groups
                            .iter()
                            .filter(|(_, (_, m))| m.contains_key(&email))
                            .map(|(g, (id, _))| json!({"id": id, "email": g}))
                            .collect()
                    }
                    None => {
                        if let Some(e) = Self::scope_error(query) {
                            return e;
                        }
                        s.groups
                            .iter()
                            .map(|(g, (id, _))| json!({"id": id, "email": g}))
                            .collect()
                    }
                };
                drop(s);
                self.page(items, query, "groups")
            }
            (_, ["groups", group, "members", rest @ ..]) => {
                let group = group.to_ascii_lowercase();
                if !s.groups.contains_key(&group) {
                    return not_found("groupKey");
                }
                let member_key = rest.first().map(|m| s.member_email(m));
                let user_id = |s: &State, email: &str| s.user_id(email);
                match (method, member_key) {
                    ("GET", None) => {
                        let members: Vec<(String, String)> = s.groups[&group]
                            .1
                            .iter()
                            .map(|(e, r)| (e.clone(), r.clone()))
                            .collect();
                        let items = members
                            .iter()
                            .map(|(e, r)| {
                                json!({"email": e, "role": r, "type": "USER",
                                "id": user_id(&s, e)})
                            })
                            .collect();
                        drop(s);
                        self.page(items, query, "members")
                    }
                    ("POST", None) => {
                        let email = s.member_email(body["email"].as_str().unwrap_or_default());
                        let members = &mut s.groups.get_mut(&group).unwrap().1;
                        if members.contains_key(&email) {
                            return google_error(409, "duplicate", "Member already exists.");
                        }
                        let role = body["role"].as_str().unwrap_or("MEMBER").to_owned();
                        members.insert(email.clone(), role.clone());
                        ResponseTemplate::new(200)
                            .set_body_json(json!({"email": email, "role": role, "type": "USER"}))
                    }
                    (_, Some(email)) => {
                        let members = &mut s.groups.get_mut(&group).unwrap().1;
                        let Some(role) = members.get(&email).cloned() else {
                            return not_found("memberKey");
                        };
                        match method {
                            "GET" => ResponseTemplate::new(200).set_body_json(
                                json!({"email": email, "role": role, "type": "USER"}),
                            ),
                            "PATCH" | "PUT" => {
                                let role = body["role"].as_str().unwrap_or("MEMBER").to_owned();
                                members.insert(email.clone(), role.clone());
                                ResponseTemplate::new(200)
                                    .set_body_json(json!({"email": email, "role": role}))
                            }
                            "DELETE" => {
                                members.remove(&email);
                                ResponseTemplate::new(204)
                            }
                            _ => ResponseTemplate::new(405),
                        }
                    }
                    _ => ResponseTemplate::new(405),
                }
            }
            _ => ResponseTemplate::new(404).set_body_string("the Google fake has no such route"),
        }
    }
}

impl Respond for GoogleFake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if self.state.lock().unwrap().throttled {
            return google_error(429, "rateLimitExceeded", "Rate Limit Exceeded")
                .insert_header("retry-after", "9");
        }
        let segments: Vec<String> = request
            .url
            .path()
            .trim_start_matches("/admin/directory/v1/")
            .split('/')
            .map(decode)
            .collect();
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        self.route(request.method.as_str(), &segments, &query, &body)
    }
}
