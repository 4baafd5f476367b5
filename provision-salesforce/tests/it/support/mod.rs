//! A stateful fake of a Salesforce org, written from Salesforce's REST API, SOQL and
//! object reference guides (there is no official machine-readable spec), served by
//! two wiremock servers: the login host (`/services/oauth2/token`) and the instance
//! the token reply names (`/services/data/v62.0/...`). It is as unkind as the
//! real one where the docs say how:
//!
//! * SOQL answers come in short batches with `nextRecordsUrl` (2 rows here);
//! * every profile has a permission set of its own behind it, and every user an
//!   assignment of it; permission set groups have an aggregate permission set; a role
//!   group shares a name with a public group;
//! * errors are JSON arrays `[{message, errorCode, fields}]`; limits are
//!   `REQUEST_LIMIT_EXCEEDED` with HTTP 403, never 429;
//! * every reply carries `Sforce-Limit-Info: api-usage=<used>/<limit>`;
//! * a token can be revoked behind the adapter's back (401 `INVALID_SESSION_ID`);
//! * a user can be a default workflow user, whose deactivation is refused;
//! * usernames are unique across all orgs: some are taken elsewhere;
//! * a permission set can need a permission set licence the user must hold first.
//!
//! Shapes marked `[U]` in comments are unverified against a real org (no recorded
//! reply); the rest are as the documentation prints them.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use provision_salesforce::{SalesforceAdapter, SalesforceConfig};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const CONSUMER_KEY: &str = "3MVG9-consumer-key";
pub const RUN_AS: &str = "integration@acme.com";
pub const CLIENT_SECRET: &str = "SF-SECRET-consumer-secret-value";
pub const API: &str = "v62.0";
pub const PAGE: usize = 2;

pub fn private_key() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/test-key.pem"
    ))
    .unwrap()
}

fn public_key() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/test-key.pub.pem"
    ))
    .unwrap()
}

#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: String,
    pub username: String,
    pub email: String,
    pub active: bool,
    pub profile_id: String,
    pub login_id: String,
    pub frozen: bool,
    /// The default workflow user: Salesforce refuses to deactivate them.
    pub default_workflow_user: bool,
    pub body: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Every API request: 403 REQUEST_LIMIT_EXCEEDED, TotalRequests.
    DailyLimit,
    /// Every API request: 403 REQUEST_LIMIT_EXCEEDED, ConcurrentPerOrgLongTxn.
    LongRunning,
    /// The instance is no Salesforce org: 404 HTML for every API path.
    NotAnInstance,
}

#[derive(Debug, Default)]
pub struct State {
    pub users: Vec<FakeUser>,
    pub profiles: Vec<(String, String)>,
    /// (id, Name, owned by profile id, group id)
    pub permission_sets: Vec<(String, String, Option<String>, Option<String>)>,
    /// permission set id → the licence id it needs
    pub needs_licence: BTreeMap<String, String>,
    pub groups_of_sets: Vec<(String, String)>,
    pub licences: Vec<(String, String)>,
    /// (id, DeveloperName, Type)
    pub groups: Vec<(String, String, String)>,
    /// (id, assignee, permission set id, permission set group id)
    pub assignments: Vec<(String, String, String, Option<String>)>,
    /// (id, assignee, licence id)
    pub licence_assignments: Vec<(String, String, String)>,
    /// (id, group, member)
    pub members: Vec<(String, String, String)>,
    /// (id, user)
    pub sessions: Vec<(String, String)>,
    /// Usernames held by users of other orgs.
    pub taken_elsewhere: Vec<String>,
    pub tokens: Vec<String>,
    pub tokens_issued: u32,
    pub locators: HashMap<String, Vec<Value>>,
    pub next: u64,
    pub used: u64,
    pub limit: u64,
}

#[derive(Clone)]
pub struct FakeSalesforce {
    pub state: Arc<Mutex<State>>,
    mode: Arc<Mutex<Mode>>,
    instance_url: Arc<Mutex<String>>,
}

fn id(prefix: &str, n: u64) -> String {
    format!("{prefix}{n:0>12}AAA")
}

impl FakeSalesforce {
    pub fn new() -> Self {
        let fake = Self {
            state: Arc::new(Mutex::new(State {
                limit: 100_000,
                used: 10_000,
                ..State::default()
            })),
            mode: Arc::new(Mutex::new(Mode::Normal)),
            instance_url: Arc::new(Mutex::new(String::new())),
        };
        for p in [
            "System Administrator",
            "Standard User",
            "Sales User",
            "Sales Engineer",
            "Minimum Access - Salesforce",
        ] {
            fake.add_profile(p);
        }
        fake
    }

    fn next_id(&self, prefix: &str) -> String {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        id(prefix, s.next)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn add_profile(&self, name: &str) -> String {
        let pid = self.next_id("00e");
        let psid = self.next_id("0PS");
        let mut s = self.state.lock().unwrap();
        s.profiles.push((pid.clone(), name.to_owned()));
        // Every profile has a permission set of its own, named like this [doc].
        s.permission_sets
            .push((psid, format!("X00e{}", &pid[3..]), Some(pid.clone()), None));
        pid
    }

    pub fn profile_id(&self, name: &str) -> String {
        let s = self.state.lock().unwrap();
        s.profiles
            .iter()
            .find(|(_, n)| n == name)
            .unwrap()
            .0
            .clone()
    }

    pub fn add_permission_set(&self, name: &str) -> String {
        let psid = self.next_id("0PS");
        self.state.lock().unwrap().permission_sets.push((
            psid.clone(),
            name.to_owned(),
            None,
            None,
        ));
        psid
    }

    pub fn add_licence(&self, name: &str) -> String {
        let lid = self.next_id("0PL");
        self.state
            .lock()
            .unwrap()
            .licences
            .push((lid.clone(), name.to_owned()));
        lid
    }

    /// A permission set that can only be assigned to holders of `licence`.
    pub fn needs_licence(&self, set: &str, licence: &str) {
        let mut s = self.state.lock().unwrap();
        let ps = s
            .permission_sets
            .iter()
            .find(|p| p.1 == set)
            .unwrap()
            .0
            .clone();
        let l = s
            .licences
            .iter()
            .find(|p| p.1 == licence)
            .unwrap()
            .0
            .clone();
        s.needs_licence.insert(ps, l);
    }

    pub fn add_permission_set_group(&self, name: &str) -> String {
        let gid = self.next_id("0PG");
        let psid = self.next_id("0PS");
        let mut s = self.state.lock().unwrap();
        s.groups_of_sets.push((gid.clone(), name.to_owned()));
        // The group's aggregate permission set [doc].
        s.permission_sets
            .push((psid, format!("{name}_aggregate"), None, Some(gid.clone())));
        gid
    }

    pub fn add_group(&self, name: &str) -> String {
        let gid = self.next_id("00G");
        let role = self.next_id("00G");
        let mut s = self.state.lock().unwrap();
        s.groups
            .push((gid.clone(), name.to_owned(), "Regular".into()));
        // A role's group with the same developer name: not a public group.
        s.groups.push((role, name.to_owned(), "Role".into()));
        gid
    }

    pub fn add_user(&self, username: &str, profile: &str) -> String {
        let uid = self.next_id("005");
        let lid = self.next_id("05X");
        let pid = self.profile_id(profile);
        let mut s = self.state.lock().unwrap();
        s.users.push(FakeUser {
            id: uid.clone(),
            username: username.to_owned(),
            email: username.to_owned(),
            active: true,
            profile_id: pid.clone(),
            login_id: lid,
            frozen: false,
            default_workflow_user: false,
            body: Value::Null,
        });
        Self::assign_profile_set(&mut s, &uid, &pid);
        uid
    }

    fn assign_profile_set(s: &mut State, uid: &str, pid: &str) {
        s.assignments
            .retain(|a| !(a.1 == uid && s_owned_by_profile(&s.permission_sets, &a.2)));
        let ps = s
            .permission_sets
            .iter()
            .find(|p| p.2.as_deref() == Some(pid))
            .unwrap()
            .0
            .clone();
        s.next += 1;
        let aid = id("0Pa", s.next);
        s.assignments.push((aid, uid.to_owned(), ps, None));
    }

    pub fn user(&self, username: &str) -> FakeUser {
        let s = self.state.lock().unwrap();
        s.users
            .iter()
            .find(|u| u.username == username)
            .unwrap()
            .clone()
    }

    pub fn edit_user(&self, username: &str, f: impl FnOnce(&mut FakeUser)) {
        let mut s = self.state.lock().unwrap();
        f(s.users.iter_mut().find(|u| u.username == username).unwrap());
    }

    pub fn add_session(&self, uid: &str) -> String {
        let sid = self.next_id("0Ak");
        self.state
            .lock()
            .unwrap()
            .sessions
            .push((sid.clone(), uid.to_owned()));
        sid
    }

    pub fn sessions_of(&self, uid: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .sessions
            .iter()
            .filter(|s| s.1 == uid)
            .count()
    }

    pub fn assign_set(&self, uid: &str, set: &str) {
        let mut s = self.state.lock().unwrap();
        let ps = s
            .permission_sets
            .iter()
            .find(|p| p.1 == set)
            .unwrap()
            .0
            .clone();
        s.next += 1;
        let aid = id("0Pa", s.next);
        s.assignments.push((aid, uid.to_owned(), ps, None));
    }

    /// Revokes every token issued so far (an admin revoked the app's sessions).
    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }

    pub fn tokens_issued(&self) -> u32 {
        self.state.lock().unwrap().tokens_issued
    }

    pub fn set_usage(&self, used: u64, limit: u64) {
        let mut s = self.state.lock().unwrap();
        s.used = used;
        s.limit = limit;
    }

    // ---- rows, as SOQL returns them ----

    fn rows(&self, s: &State, object: &str) -> Vec<Value> {
        let username = |uid: &str| {
            s.users
                .iter()
                .find(|u| u.id == uid)
                .map(|u| u.username.clone())
        };
        let ps = |psid: &str| s.permission_sets.iter().find(|p| p.0 == psid).cloned();
        match object {
            "User" => s
                .users
                .iter()
                .map(|u| {
                    json!({"Id": u.id, "Username": u.username, "Email": u.email,
                        "IsActive": u.active, "ProfileId": u.profile_id, "UserType": "Standard",
                        "LastLoginDate": "2026-11-30T09:30:00.000+0000",
                        "FederationIdentifier": null, "EmployeeNumber": null})
                })
                .chain(std::iter::once(json!({
                    // An automated-process user: no one's account.
                    "Id": id("005", 999_999), "Username": "autoproc@00d.example",
                    "Email": "autoproc@00d.example", "IsActive": true,
                    "ProfileId": s.profiles[0].0, "UserType": "AutomatedProcess"
                })))
                .collect(),
            "UserLogin" => s
                .users
                .iter()
                .map(|u| json!({"Id": u.login_id, "UserId": u.id, "IsFrozen": u.frozen}))
                .collect(),
            "Profile" => s
                .profiles
                .iter()
                .map(|(i, n)| json!({"Id": i, "Name": n}))
                .collect(),
            "PermissionSet" => s
                .permission_sets
                .iter()
                .map(|(i, n, owner, group)| {
                    json!({"Id": i, "Name": n, "IsOwnedByProfile": owner.is_some(),
                        "PermissionSetGroupId": group})
                })
                .collect(),
            "PermissionSetGroup" => s
                .groups_of_sets
                .iter()
                .map(|(i, n)| json!({"Id": i, "DeveloperName": n, "MasterLabel": n}))
                .collect(),
            "PermissionSetLicense" => s
                .licences
                .iter()
                .map(|(i, n)| json!({"Id": i, "DeveloperName": n, "MasterLabel": n}))
                .collect(),
            "Group" => s
                .groups
                .iter()
                .map(|(i, n, t)| json!({"Id": i, "DeveloperName": n, "Name": n, "Type": t}))
                .collect(),
            "PermissionSetAssignment" => s
                .assignments
                .iter()
                .map(|(i, who, psid, group)| {
                    let set = ps(psid).unwrap();
                    json!({"Id": i, "AssigneeId": who, "PermissionSetId": psid,
                        "PermissionSetGroupId": group,
                        "Assignee": {"Username": username(who)},
                        "PermissionSet": {"Name": set.1, "IsOwnedByProfile": set.2.is_some()},
                        "PermissionSetGroup": group.as_ref().map(|g| json!({"DeveloperName":
                            s.groups_of_sets.iter().find(|x| &x.0 == g).unwrap().1}))})
                })
                .collect(),
            "PermissionSetLicenseAssign" => s
                .licence_assignments
                .iter()
                .map(|(i, who, lid)| {
                    json!({"Id": i, "AssigneeId": who, "PermissionSetLicenseId": lid,
                        "Assignee": {"Username": username(who)},
                        "PermissionSetLicense": {"DeveloperName":
                            s.licences.iter().find(|l| &l.0 == lid).unwrap().1}})
                })
                .collect(),
            "GroupMember" => s
                .members
                .iter()
                .map(|(i, g, m)| {
                    let group = s.groups.iter().find(|x| &x.0 == g).unwrap();
                    json!({"Id": i, "GroupId": g, "UserOrGroupId": m,
                        "Group": {"DeveloperName": group.1, "Type": group.2}})
                })
                .collect(),
            "AuthSession" => s
                .sessions
                .iter()
                .map(|(i, u)| json!({"Id": i, "UsersId": u}))
                .collect(),
            _ => Vec::new(),
        }
    }

    // ---- the HTTP side ----

    fn token(&self, req: &Request) -> ResponseTemplate {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        let refuse = |desc: &str| {
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_grant", "error_description": desc}))
        };
        match form.get("grant_type").map(String::as_str) {
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                let Some(assertion) = form.get("assertion") else {
                    return refuse("invalid assertion");
                };
                let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public_key()).unwrap();
                let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
                v.set_audience(&["https://login.salesforce.com"]);
                v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
                let Ok(data) = jsonwebtoken::decode::<Value>(assertion, &key, &v) else {
                    return refuse("invalid assertion");
                };
                if data.claims["iss"] != CONSUMER_KEY {
                    return ResponseTemplate::new(400).set_body_json(
                        json!({"error": "invalid_client_id", "error_description": "client identifier invalid"}),
                    );
                }
                if data.claims["sub"] != RUN_AS {
                    return refuse("user hasn't approved this consumer");
                }
            }
            Some("client_credentials") => {
                if form.get("client_id").map(String::as_str) != Some(CONSUMER_KEY)
                    || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
                {
                    return ResponseTemplate::new(400).set_body_json(
                        json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
                    );
                }
            }
            _ => return refuse("unsupported grant type"),
        }
        let mut s = self.state.lock().unwrap();
        s.tokens_issued += 1;
        let token = format!("00D!SECRET-ACCESS-TOKEN-{}", s.tokens_issued);
        s.tokens.push(token.clone());
        let instance = self.instance_url.lock().unwrap().clone();
        // The documented reply: no expires_in [doc]; `signature` and `issued_at` [doc].
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token,
            "scope": "api",
            "instance_url": instance,
            "id": format!("https://login.salesforce.com/id/00D000000000001AAA/{}", id("005", 1)),
            "token_type": "Bearer",
            "issued_at": "1765100000000",
            "signature": "SECRET-SIGNATURE-VALUE"
        }))
    }

    fn error(status: u16, code: &str, message: &str, fields: &[&str]) -> ResponseTemplate {
        ResponseTemplate::new(status)
            .set_body_json(json!([{"message": message, "errorCode": code, "fields": fields}]))
    }

    fn api(&self, req: &Request) -> ResponseTemplate {
        let reply = self.api_inner(req);
        let mut s = self.state.lock().unwrap();
        s.used += 1;
        let header = format!("api-usage={}/{}", s.used, s.limit);
        reply.insert_header("sforce-limit-info", header.as_str())
    }

    fn api_inner(&self, req: &Request) -> ResponseTemplate {
        match *self.mode.lock().unwrap() {
            Mode::NotAnInstance => {
                return ResponseTemplate::new(404)
                    .set_body_string("<html><body>URL No Longer Exists</body></html>");
            }
            // [U] status and text: the docs give the code, not the reply.
            Mode::DailyLimit => {
                return Self::error(
                    403,
                    "REQUEST_LIMIT_EXCEEDED",
                    "TotalRequests Limit exceeded.",
                    &[],
                );
            }
            Mode::LongRunning => {
                return Self::error(
                    403,
                    "REQUEST_LIMIT_EXCEEDED",
                    "ConcurrentPerOrgLongTxn Limit exceeded.",
                    &[],
                );
            }
            Mode::Normal => {}
        }
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let valid = auth.is_some_and(|t| self.state.lock().unwrap().tokens.contains(&t));
        if !valid {
            return Self::error(401, "INVALID_SESSION_ID", "Session expired or invalid", &[]);
        }
        let segments: Vec<String> = req
            .url
            .path_segments()
            .map(|s| s.map(percent).collect())
            .unwrap_or_default();
        let path: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = req.method.as_str();
        match (method, path.as_slice()) {
            ("GET", ["services", "data", API, "query"]) => {
                let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
                match q.get("q") {
                    Some(soql) => self.query(soql),
                    None => Self::error(400, "MALFORMED_QUERY", "no query", &[]),
                }
            }
            ("GET", ["services", "data", API, "query", locator]) => self.more(locator),
            ("POST", ["services", "data", API, "sobjects", object]) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                self.create(object, body)
            }
            ("PATCH", ["services", "data", API, "sobjects", object, rid]) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                self.update(object, rid, body)
            }
            ("DELETE", ["services", "data", API, "sobjects", object, rid]) => {
                self.delete(object, rid)
            }
            ("DELETE", ["services", "data", API, "composite", "sobjects"]) => {
                let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
                let ids: Vec<String> = q
                    .get("ids")
                    .map(|v| v.split(',').map(str::to_owned).collect())
                    .unwrap_or_default();
                if ids.len() > 200 {
                    return Self::error(400, "INVALID_FIELD", "too many ids", &[]);
                }
                let results: Vec<Value> = ids
                    .iter()
                    .map(|i| {
                        let mut s = self.state.lock().unwrap();
                        let before = s.sessions.len();
                        s.sessions.retain(|x| &x.0 != i);
                        if s.sessions.len() < before {
                            json!({"id": i, "success": true, "errors": []})
                        } else {
                            // [U] the composite error item shape for a missing record.
                            json!({"success": false, "errors": [{"statusCode": "ENTITY_IS_DELETED",
                                "message": "entity is deleted", "fields": []}]})
                        }
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(results)
            }
            _ => Self::error(
                404,
                "NOT_FOUND",
                "The requested resource does not exist",
                &[],
            ),
        }
    }

    fn page(&self, mut rows: Vec<Value>, total: usize) -> ResponseTemplate {
        let rest = if rows.len() > PAGE {
            rows.split_off(PAGE)
        } else {
            Vec::new()
        };
        let mut body = json!({"totalSize": total, "done": rest.is_empty(), "records": rows});
        if !rest.is_empty() {
            let mut s = self.state.lock().unwrap();
            s.next += 1;
            let locator = format!("01g{:0>15}-{}", s.next, PAGE);
            s.locators.insert(locator.clone(), rest);
            body["nextRecordsUrl"] = Value::from(format!("/services/data/{API}/query/{locator}"));
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    fn more(&self, locator: &str) -> ResponseTemplate {
        let rows = self.state.lock().unwrap().locators.remove(locator);
        match rows {
            Some(rows) => {
                let total = rows.len();
                self.page(rows, total)
            }
            // [U] an expired query locator's reply.
            None => Self::error(400, "INVALID_QUERY_LOCATOR", "invalid query locator", &[]),
        }
    }

    fn query(&self, soql: &str) -> ResponseTemplate {
        let Some(q) = Soql::parse(soql) else {
            return Self::error(
                400,
                "MALFORMED_QUERY",
                &format!("cannot parse: {soql}"),
                &[],
            );
        };
        let rows = {
            let s = self.state.lock().unwrap();
            self.rows(&s, &q.object)
        };
        if rows.is_empty() && !KNOWN.contains(&q.object.as_str()) {
            return Self::error(
                400,
                "INVALID_TYPE",
                &format!("sObject type '{}' is not supported.", q.object),
                &[],
            );
        }
        let mut out: Vec<Value> = rows
            .into_iter()
            .filter(|r| q.matches(r))
            .map(|r| q.project(&r))
            .collect();
        if let Some(order) = &q.order_by {
            out.sort_by(|a, b| {
                lookup(a, order)
                    .map(|v| v.to_string())
                    .cmp(&lookup(b, order).map(|v| v.to_string()))
            });
        }
        let total = out.len();
        self.page(out, total)
    }

    fn create(&self, object: &str, body: Value) -> ResponseTemplate {
        let str_of = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        match object {
            "User" => {
                let required = [
                    "Username",
                    "LastName",
                    "Email",
                    "Alias",
                    "ProfileId",
                    "TimeZoneSidKey",
                    "LocaleSidKey",
                    "EmailEncodingKey",
                    "LanguageLocaleKey",
                ];
                let missing: Vec<&str> = required
                    .iter()
                    .copied()
                    .filter(|f| str_of(f).is_none())
                    .collect();
                if !missing.is_empty() {
                    return Self::error(
                        400,
                        "REQUIRED_FIELD_MISSING",
                        &format!("Required fields are missing: [{}]", missing.join(", ")),
                        &missing,
                    );
                }
                if str_of("Alias").unwrap().chars().count() > 8 {
                    return Self::error(
                        400,
                        "STRING_TOO_LONG",
                        "Alias: data value too large",
                        &["Alias"],
                    );
                }
                let username = str_of("Username").unwrap();
                let mut s = self.state.lock().unwrap();
                // [U] the exact text; the code is documented.
                if s.users
                    .iter()
                    .any(|u| u.username.eq_ignore_ascii_case(&username))
                    || s.taken_elsewhere.contains(&username)
                {
                    return Self::error(
                        400,
                        "DUPLICATE_USERNAME",
                        "Duplicate Username.<br>The username already exists in this or another Salesforce organization.",
                        &["Username"],
                    );
                }
                let pid = str_of("ProfileId").unwrap();
                if !s.profiles.iter().any(|p| p.0 == pid) {
                    return Self::error(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        "invalid cross reference id",
                        &["ProfileId"],
                    );
                }
                s.next += 1;
                let uid = id("005", s.next);
                s.next += 1;
                let lid = id("05X", s.next);
                s.users.push(FakeUser {
                    id: uid.clone(),
                    username,
                    email: str_of("Email").unwrap(),
                    active: true,
                    profile_id: pid.clone(),
                    login_id: lid,
                    frozen: false,
                    default_workflow_user: false,
                    body: body.clone(),
                });
                Self::assign_profile_set(&mut s, &uid, &pid);
                ResponseTemplate::new(201)
                    .set_body_json(json!({"id": uid, "success": true, "errors": []}))
            }
            "PermissionSetAssignment" => {
                let who = str_of("AssigneeId").unwrap_or_default();
                let mut s = self.state.lock().unwrap();
                if !s.users.iter().any(|u| u.id == who) {
                    return Self::error(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        "invalid cross reference id",
                        &["AssigneeId"],
                    );
                }
                let (psid, group) =
                    match (str_of("PermissionSetId"), str_of("PermissionSetGroupId")) {
                        (Some(ps), None) => (ps, None),
                        (None, Some(g)) => {
                            let Some(agg) = s
                                .permission_sets
                                .iter()
                                .find(|p| p.3.as_deref() == Some(g.as_str()))
                            else {
                                return Self::error(
                                    400,
                                    "INVALID_CROSS_REFERENCE_KEY",
                                    "invalid cross reference id",
                                    &["PermissionSetGroupId"],
                                );
                            };
                            (agg.0.clone(), Some(g))
                        }
                        _ => {
                            return Self::error(
                                400,
                                "FIELD_INTEGRITY_EXCEPTION",
                                "PermissionSetId or PermissionSetGroupId, not both",
                                &[],
                            );
                        }
                    };
                if !s.permission_sets.iter().any(|p| p.0 == psid) {
                    return Self::error(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        "invalid cross reference id",
                        &["PermissionSetId"],
                    );
                }
                if let Some(licence) = s.needs_licence.get(&psid)
                    && !s
                        .licence_assignments
                        .iter()
                        .any(|l| l.1 == who && &l.2 == licence)
                {
                    // [U] code and text of a permission set whose licence is missing.
                    return Self::error(
                        400,
                        "FIELD_INTEGRITY_EXCEPTION",
                        "The user license doesn't allow the permission: the user needs the permission set license first",
                        &["PermissionSetId"],
                    );
                }
                if s.assignments.iter().any(|a| a.1 == who && a.2 == psid) {
                    // [U] the duplicate's text; the code is the one clients handle.
                    return Self::error(
                        400,
                        "DUPLICATE_VALUE",
                        "duplicate value found: AssigneeId duplicates value on record",
                        &["AssigneeId"],
                    );
                }
                s.next += 1;
                let aid = id("0Pa", s.next);
                s.assignments.push((aid.clone(), who, psid, group));
                ResponseTemplate::new(201)
                    .set_body_json(json!({"id": aid, "success": true, "errors": []}))
            }
            "PermissionSetLicenseAssign" => {
                let who = str_of("AssigneeId").unwrap_or_default();
                let lid = str_of("PermissionSetLicenseId").unwrap_or_default();
                let mut s = self.state.lock().unwrap();
                if s.licence_assignments
                    .iter()
                    .any(|a| a.1 == who && a.2 == lid)
                {
                    // [U]
                    return Self::error(
                        400,
                        "DUPLICATE_VALUE",
                        "duplicate value found",
                        &["AssigneeId"],
                    );
                }
                s.next += 1;
                let aid = id("2LA", s.next);
                s.licence_assignments.push((aid.clone(), who, lid));
                ResponseTemplate::new(201)
                    .set_body_json(json!({"id": aid, "success": true, "errors": []}))
            }
            "GroupMember" => {
                let g = str_of("GroupId").unwrap_or_default();
                let who = str_of("UserOrGroupId").unwrap_or_default();
                let mut s = self.state.lock().unwrap();
                if s.members.iter().any(|m| m.1 == g && m.2 == who) {
                    // [U] whether a duplicate membership is refused, and how.
                    return Self::error(
                        400,
                        "DUPLICATE_VALUE",
                        "duplicate value found",
                        &["UserOrGroupId"],
                    );
                }
                s.next += 1;
                let mid = id("011", s.next);
                s.members.push((mid.clone(), g, who));
                ResponseTemplate::new(201)
                    .set_body_json(json!({"id": mid, "success": true, "errors": []}))
            }
            _ => Self::error(
                404,
                "NOT_FOUND",
                "The requested resource does not exist",
                &[],
            ),
        }
    }

    fn update(&self, object: &str, rid: &str, body: Value) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        match object {
            "User" => {
                let Some(i) = s.users.iter().position(|u| u.id == rid) else {
                    return Self::error(
                        404,
                        "NOT_FOUND",
                        "The requested resource does not exist",
                        &[],
                    );
                };
                if body.get("IsActive") == Some(&Value::Bool(false))
                    && s.users[i].default_workflow_user
                {
                    // [U] code and text; the refusal itself is documented.
                    return Self::error(
                        400,
                        "FIELD_INTEGRITY_EXCEPTION",
                        "You cannot deactivate a user who is the default workflow user.",
                        &[],
                    );
                }
                if let Some(active) = body.get("IsActive").and_then(Value::as_bool) {
                    s.users[i].active = active;
                }
                if let Some(pid) = body.get("ProfileId").and_then(Value::as_str) {
                    if !s.profiles.iter().any(|p| p.0 == pid) {
                        return Self::error(
                            400,
                            "INVALID_CROSS_REFERENCE_KEY",
                            "invalid cross reference id",
                            &["ProfileId"],
                        );
                    }
                    s.users[i].profile_id = pid.to_owned();
                    let uid = s.users[i].id.clone();
                    Self::assign_profile_set(&mut s, &uid, pid);
                }
                ResponseTemplate::new(204)
            }
            "UserLogin" => {
                let Some(u) = s.users.iter_mut().find(|u| u.login_id == rid) else {
                    return Self::error(
                        404,
                        "NOT_FOUND",
                        "The requested resource does not exist",
                        &[],
                    );
                };
                if let Some(f) = body.get("IsFrozen").and_then(Value::as_bool) {
                    u.frozen = f;
                }
                ResponseTemplate::new(204)
            }
            _ => Self::error(
                404,
                "NOT_FOUND",
                "The requested resource does not exist",
                &[],
            ),
        }
    }

    fn delete(&self, object: &str, rid: &str) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        let removed = match object {
            "PermissionSetAssignment" => remove(&mut s.assignments, |a| a.0 == rid),
            "PermissionSetLicenseAssign" => {
                let who = s
                    .licence_assignments
                    .iter()
                    .find(|a| a.0 == rid)
                    .map(|a| (a.1.clone(), a.2.clone()));
                if let Some((who, lid)) = who {
                    let needed = s
                        .assignments
                        .iter()
                        .any(|a| a.1 == who && s.needs_licence.get(&a.2) == Some(&lid));
                    if needed {
                        // [U] the refusal to remove a licence still needed.
                        return Self::error(
                            400,
                            "FIELD_INTEGRITY_EXCEPTION",
                            "the permission set license is needed by an assigned permission set",
                            &[],
                        );
                    }
                }
                remove(&mut s.licence_assignments, |a| a.0 == rid)
            }
            "GroupMember" => remove(&mut s.members, |a| a.0 == rid),
            "AuthSession" => remove(&mut s.sessions, |a| a.0 == rid),
            "User" => {
                return Self::error(400, "DELETE_FAILED", "Users cannot be deleted", &[]);
            }
            _ => false,
        };
        if removed {
            ResponseTemplate::new(204)
        } else {
            Self::error(
                404,
                "NOT_FOUND",
                "The requested resource does not exist",
                &[],
            )
        }
    }
}

impl Default for FakeSalesforce {
    fn default() -> Self {
        Self::new()
    }
}

const KNOWN: [&str; 11] = [
    "User",
    "UserLogin",
    "Profile",
    "PermissionSet",
    "PermissionSetGroup",
    "PermissionSetLicense",
    "Group",
    "PermissionSetAssignment",
    "PermissionSetLicenseAssign",
    "GroupMember",
    "AuthSession",
];

fn s_owned_by_profile(
    sets: &[(String, String, Option<String>, Option<String>)],
    psid: &str,
) -> bool {
    sets.iter().any(|p| p.0 == psid && p.2.is_some())
}

fn remove<T>(v: &mut Vec<T>, f: impl Fn(&T) -> bool) -> bool {
    let before = v.len();
    v.retain(|x| !f(x));
    v.len() < before
}

fn percent(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn lookup<'a>(row: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(row, |v, k| v.get(k))
}

/// The slice of SOQL the adapter speaks: `SELECT f, g.h FROM O [WHERE c AND c ...]
/// [ORDER BY f]`, conditions `f = 'lit' | true | false | null` and `f IN ('a', 'b')`.
/// Anything else is MALFORMED_QUERY, so the adapter cannot send SOQL the fake does
/// not understand.
#[derive(Debug)]
struct Soql {
    fields: Vec<String>,
    object: String,
    conditions: Vec<(String, Vec<Value>)>,
    order_by: Option<String>,
}

impl Soql {
    fn parse(text: &str) -> Option<Self> {
        let rest = text.trim().strip_prefix("SELECT ")?;
        let (fields, rest) = rest.split_once(" FROM ")?;
        let fields = fields.split(',').map(|f| f.trim().to_owned()).collect();
        let (before_order, order_by) = match rest.split_once(" ORDER BY ") {
            Some((a, b)) => (a, Some(b.trim().to_owned())),
            None => (rest, None),
        };
        let (object, where_) = match before_order.split_once(" WHERE ") {
            Some((o, w)) => (o.trim().to_owned(), Some(w)),
            None => (before_order.trim().to_owned(), None),
        };
        let mut conditions = Vec::new();
        if let Some(w) = where_ {
            let mut chars = w.trim();
            loop {
                let (field, after) = chars.split_once(' ')?;
                let after = after.trim_start();
                let (values, rest) = if let Some(r) = after.strip_prefix("= ") {
                    let (v, rest) = literal(r)?;
                    (vec![v], rest)
                } else if let Some(r) = after.strip_prefix("IN (") {
                    let mut vals = Vec::new();
                    let mut r = r;
                    loop {
                        let (v, rest) = literal(r.trim_start())?;
                        vals.push(v);
                        let rest = rest.trim_start();
                        if let Some(rest) = rest.strip_prefix(',') {
                            r = rest;
                        } else {
                            r = rest.strip_prefix(')')?;
                            break;
                        }
                    }
                    (vals, r)
                } else {
                    return None;
                };
                conditions.push((field.to_owned(), values));
                let rest = rest.trim();
                if rest.is_empty() {
                    break;
                }
                chars = rest.strip_prefix("AND ")?;
            }
        }
        Some(Self {
            fields,
            object,
            conditions,
            order_by,
        })
    }

    fn matches(&self, row: &Value) -> bool {
        self.conditions.iter().all(|(field, values)| {
            let have = lookup(row, field).cloned().unwrap_or(Value::Null);
            values.contains(&have)
        })
    }

    fn project(&self, row: &Value) -> Value {
        let mut out = json!({"attributes": {"type": self.object,
            "url": format!("/services/data/{API}/sobjects/{}/{}", self.object,
                row.get("Id").and_then(Value::as_str).unwrap_or_default())}});
        for f in &self.fields {
            let parts: Vec<&str> = f.split('.').collect();
            match parts.as_slice() {
                [one] => {
                    out[*one] = row.get(*one).cloned().unwrap_or(Value::Null);
                }
                [rel, leaf] => {
                    let v = lookup(row, f).cloned().unwrap_or(Value::Null);
                    if row.get(*rel).is_some_and(Value::is_null) {
                        out[*rel] = Value::Null;
                    } else {
                        if !out.get(*rel).is_some_and(Value::is_object) {
                            out[*rel] = json!({"attributes": {"type": rel}});
                        }
                        out[*rel][*leaf] = v;
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// A SOQL literal at the start of `text` and what follows it.
fn literal(text: &str) -> Option<(Value, &str)> {
    if let Some(rest) = text.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    let (_, e) = chars.next()?;
                    out.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        other => other,
                    });
                }
                '\'' => return Some((Value::from(out), &rest[i + 1..])),
                other => out.push(other),
            }
        }
        return None;
    }
    for (word, v) in [
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("null", Value::Null),
    ] {
        if let Some(rest) = text.strip_prefix(word) {
            return Some((v, rest));
        }
    }
    None
}

impl Respond for FakeSalesforce {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match (req.method.as_str(), req.url.path()) {
            ("POST", "/services/oauth2/token") => self.token(req),
            _ => self.api(req),
        }
    }
}

/// The two hosts: login (token endpoint) and instance (API), one fake behind both.
pub struct Org {
    pub fake: FakeSalesforce,
    pub login: MockServer,
    pub instance: MockServer,
}

impl Org {
    pub async fn start(fake: FakeSalesforce) -> Self {
        let login = MockServer::start().await;
        let instance = MockServer::start().await;
        *fake.instance_url.lock().unwrap() = instance.uri();
        Mock::given(any())
            .respond_with(fake.clone())
            .mount(&login)
            .await;
        Mock::given(any())
            .respond_with(fake.clone())
            .mount(&instance)
            .await;
        Self {
            fake,
            login,
            instance,
        }
    }

    /// The JWT bearer flow against the login host, with the production audience.
    pub fn config(&self) -> provision_salesforce::config::SalesforceConfigBuilder {
        SalesforceConfig::builder(&self.login.uri())
            .jwt_bearer(CONSUMER_KEY, RUN_AS, private_key())
            .audience("https://login.salesforce.com")
            .fallback_profile("Minimum Access - Salesforce")
    }

    pub fn adapter(&self) -> SalesforceAdapter {
        SalesforceAdapter::new(self.config().build().unwrap()).unwrap()
    }

    /// Requests the instance received: (method, path, decoded `q` when a query).
    pub async fn api_requests(&self) -> Vec<(String, String, Option<String>)> {
        self.instance
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let q = r
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "q")
                    .map(|(_, v)| v.into_owned());
                (r.method.to_string(), r.url.path().to_owned(), q)
            })
            .collect()
    }

    /// Writes the instance received (POST, PATCH, DELETE).
    pub async fn writes(&self) -> Vec<(String, String)> {
        self.api_requests()
            .await
            .into_iter()
            .filter(|(m, _, _)| m != "GET")
            .map(|(m, p, _)| (m, p))
            .collect()
    }

    pub async fn clear(&self) {
        self.instance.reset().await;
        Mock::given(any())
            .respond_with(self.fake.clone())
            .mount(&self.instance)
            .await;
    }
}
