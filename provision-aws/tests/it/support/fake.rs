//! A stateful IAM Identity Center fake for wiremock: one identity store and one
//! instance with users, groups, memberships, permission sets and account
//! assignments, answering as AWS does (awsJson 1.1 error dialect):
//!
//! * a wrong `IdentityStoreId` is `ResourceNotFoundException` with `ResourceType`
//!   `IDENTITY_STORE`; a missing user, group or membership is the same exception with
//!   `ResourceType` `USER` / `GROUP` / `GROUP_MEMBERSHIP` (shared/apis/aws.md);
//! * a wrong `InstanceArn` is SSO Admin's `ResourceNotFoundException` naming the
//!   instance;
//! * pages are at most `page_size` long whatever `MaxResults` asks (AWS may return
//!   fewer), with an opaque `NextToken`;
//! * `throttle()` makes every call a `ThrottlingException` with `RetryAfterSeconds`;
//! * every error carries the request id, in `x-amzn-RequestId` and (Identity Store)
//!   the body's `RequestId`;
//! * an Identity Store `ConflictException` has no `Reason`: the model sets it only for
//!   KMS errors, so a duplicate user or membership answers without one;
//! * `conflict_next(op, reason)`: the next call of `op` answers `ConflictException`
//!   (with that `Reason`, usually none) and changes nothing;
//! * `failing_deletions(gone)`: `DeleteAccountAssignment` answers `IN_PROGRESS`, its
//!   status ends `FAILED`, and the assignment is gone or not as `gone` says;
//! * `slow_creations()` / `fail_creations(reason)`: assignment creations stay
//!   `IN_PROGRESS` until they end `FAILED` with that reason;
//! * `clock_ahead(secs)`: the service's clock runs `secs` ahead; a request signed more
//!   than 5 minutes off it is `InvalidSignatureException` ("Signature expired") with
//!   the service's time in `Date`.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{INSTANCE, STORE};

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    users: BTreeMap<String, (String, String)>, // id -> (user name, display name)
    groups: BTreeMap<String, String>,          // id -> display name
    memberships: BTreeMap<String, (String, String)>, // membership id -> (group id, user id)
    permission_sets: BTreeMap<String, String>, // arn -> name
    assignments: Vec<(String, String, String, String)>, // (account, ps arn, principal type, principal id)
    throttled: bool,
    conflict_next: Option<(String, Option<String>)>,
    /// `Some(gone)`: deletions fail (status FAILED), removing the assignment if `gone`.
    failing_deletions: Option<bool>,
    /// Deletion request id -> its status.
    deletions: BTreeMap<String, Value>,
    clock_ahead: Option<i64>,
    /// Creations stay `IN_PROGRESS` (request id -> status) until `fail_creations`.
    slow_creations: bool,
    creations: BTreeMap<String, Value>,
}

static REQUEST_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A fresh request id, as AWS gives each request.
fn request_id() -> String {
    let n = REQUEST_IDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("a1b2c3d4-0000-4000-8000-{n:012}")
}

/// The fake; clone it to keep a handle on its state after mounting.
#[derive(Clone, Debug)]
pub struct AwsFake {
    state: Arc<Mutex<State>>,
    page_size: usize,
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/x-amz-json-1.1")
}

fn err(kind: &str, message: &str, extra: Value) -> ResponseTemplate {
    let id = request_id();
    let mut body = json!({"__type": kind, "Message": message, "RequestId": id});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    ResponseTemplate::new(400)
        .insert_header("x-amzn-errortype", kind)
        .insert_header("x-amzn-requestid", id.as_str())
        .set_body_raw(body.to_string(), "application/x-amz-json-1.1")
}

fn not_found(resource_type: &str, id: &str) -> ResponseTemplate {
    err(
        "ResourceNotFoundException",
        &format!("{resource_type} not found."),
        json!({"ResourceType": resource_type, "ResourceId": id}),
    )
}

impl AwsFake {
    /// An empty store paging `page_size` items at most.
    pub fn new(page_size: usize) -> Self {
        Self {
            state: Arc::default(),
            page_size,
        }
    }

    /// Mounts the fake as the catch-all of `server`.
    pub async fn mount(&self, server: &MockServer) {
        Mock::given(wiremock::matchers::method("POST"))
            .respond_with(self.clone())
            .mount(server)
            .await;
    }

    fn id(state: &mut State, prefix: &str) -> String {
        state.next_id += 1;
        format!("{prefix}-{:08}", state.next_id)
    }

    /// Adds a user; returns its id.
    pub fn add_user(&self, user_name: &str) -> String {
        let mut s = self.state.lock().unwrap();
        let id = Self::id(&mut s, "u");
        s.users
            .insert(id.clone(), (user_name.to_owned(), user_name.to_owned()));
        id
    }

    /// Adds a group; returns its id.
    pub fn add_group(&self, name: &str) -> String {
        let mut s = self.state.lock().unwrap();
        let id = Self::id(&mut s, "g");
        s.groups.insert(id.clone(), name.to_owned());
        id
    }

    /// Adds a permission set; returns its ARN.
    pub fn add_permission_set(&self, name: &str) -> String {
        let mut s = self.state.lock().unwrap();
        let n = Self::id(&mut s, "ps");
        let arn = format!("arn:aws:sso:::permissionSet/ssoins-1111222233334444/{n}");
        s.permission_sets.insert(arn.clone(), name.to_owned());
        arn
    }

    /// Adds a membership straight in the store (a hand-made grant).
    pub fn add_membership(&self, group_id: &str, user_id: &str) {
        let mut s = self.state.lock().unwrap();
        let id = Self::id(&mut s, "m");
        s.memberships
            .insert(id, (group_id.to_owned(), user_id.to_owned()));
    }

    /// The user id of a user name.
    pub fn user_id(&self, user_name: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.users
            .iter()
            .find(|(_, (n, _))| n == user_name)
            .map(|(id, _)| id.clone())
    }

    /// A group's name by id.
    pub fn group_name(&self, group_id: &str) -> Option<String> {
        self.state.lock().unwrap().groups.get(group_id).cloned()
    }

    /// What a user holds: (group names, (account, permission set name) direct assignments).
    pub fn holdings(&self, user_id: &str) -> (Vec<String>, Vec<(String, String)>) {
        let s = self.state.lock().unwrap();
        let groups = s
            .memberships
            .values()
            .filter(|(_, u)| u == user_id)
            .map(|(g, _)| s.groups[g].clone())
            .collect();
        let assignments = s
            .assignments
            .iter()
            .filter(|(_, _, t, p)| t == "USER" && p == user_id)
            .map(|(a, ps, _, _)| (a.clone(), s.permission_sets[ps].clone()))
            .collect();
        (groups, assignments)
    }

    /// Every call answers `ThrottlingException` from now on.
    pub fn throttle(&self) {
        self.state.lock().unwrap().throttled = true;
    }

    /// The next call of `op` answers `ConflictException` (with `reason` as its
    /// `Reason`, usually none) and changes nothing.
    pub fn conflict_next(&self, op: &str, reason: Option<&str>) {
        self.state.lock().unwrap().conflict_next = Some((op.to_owned(), reason.map(str::to_owned)));
    }

    /// Assignment deletions end `FAILED`; the assignment is removed anyway if `gone`.
    pub fn failing_deletions(&self, gone: bool) {
        self.state.lock().unwrap().failing_deletions = Some(gone);
    }

    /// Assignment creations answer `IN_PROGRESS` and stay so (nothing is assigned).
    pub fn slow_creations(&self) {
        self.state.lock().unwrap().slow_creations = true;
    }

    /// Every creation still in progress ends `FAILED` with `reason` (as when the target
    /// account is at its IAM role quota: only the status shows it).
    pub fn fail_creations(&self, reason: &str) {
        let mut s = self.state.lock().unwrap();
        for status in s.creations.values_mut() {
            status["Status"] = json!("FAILED");
            status["FailureReason"] = json!(reason);
        }
    }

    /// The service's clock runs `secs` ahead of this machine's.
    pub fn clock_ahead(&self, secs: i64) {
        self.state.lock().unwrap().clock_ahead = Some(secs);
    }

    /// Adds a direct assignment of a user straight in the instance.
    pub fn add_assignment(&self, account: &str, ps_arn: &str, user_id: &str) {
        self.state.lock().unwrap().assignments.push((
            account.to_owned(),
            ps_arn.to_owned(),
            "USER".to_owned(),
            user_id.to_owned(),
        ));
    }

    fn page(&self, items: Vec<Value>, body: &Value, key: &str) -> ResponseTemplate {
        let start: usize = body["NextToken"]
            .as_str()
            .and_then(|t| t.strip_prefix("tok-"))
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let max = body["MaxResults"].as_u64().unwrap_or(100) as usize;
        let size = max.min(self.page_size);
        let end = (start + size).min(items.len());
        let mut out = json!({ key: items[start.min(end)..end].to_vec() });
        if end < items.len() {
            out["NextToken"] = json!(format!("tok-{end}"));
        }
        ok(out)
    }

    fn identity_store(&self, op: &str, body: &Value) -> ResponseTemplate {
        if body["IdentityStoreId"].as_str() != Some(STORE) {
            return err(
                "ResourceNotFoundException",
                "Identity store not found.",
                json!({"ResourceType": "IDENTITY_STORE",
                    "ResourceId": body["IdentityStoreId"]}),
            );
        }
        let mut s = self.state.lock().unwrap();
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        let attribute = || {
            let u = &body["AlternateIdentifier"]["UniqueAttribute"];
            (
                u["AttributePath"].as_str().unwrap_or_default().to_owned(),
                u["AttributeValue"].as_str().unwrap_or_default().to_owned(),
            )
        };
        match op {
            "CreateUser" => {
                let name = text("UserName");
                if s.users.values().any(|(n, _)| *n == name) {
                    return err("ConflictException", "Duplicate UserName", json!({}));
                }
                let id = Self::id(&mut s, "u");
                s.users.insert(id.clone(), (name, text("DisplayName")));
                ok(json!({"UserId": id, "IdentityStoreId": STORE}))
            }
            "GetUserId" => {
                let (path, value) = attribute();
                assert_eq!(path, "userName");
                match s.users.iter().find(|(_, (n, _))| *n == value) {
                    Some((id, _)) => ok(json!({"UserId": id, "IdentityStoreId": STORE})),
                    None => not_found("USER", &value),
                }
            }
            "ListUsers" => {
                let users = s
                    .users
                    .iter()
                    .map(|(id, (n, d))| {
                        json!({"UserId": id, "UserName": n, "DisplayName": d,
                        "IdentityStoreId": STORE, "UserStatus": "ENABLED"})
                    })
                    .collect();
                drop(s);
                self.page(users, body, "Users")
            }
            "UpdateUser" => match s.users.get_mut(&text("UserId")) {
                Some(_) => ok(json!({})),
                None => not_found("USER", &text("UserId")),
            },
            "DeleteUser" => {
                let id = text("UserId");
                if s.users.remove(&id).is_none() {
                    return not_found("USER", &id);
                }
                s.memberships.retain(|_, (_, u)| *u != id);
                s.assignments.retain(|(_, _, _, p)| *p != id);
                ok(json!({}))
            }
            "GetGroupId" => {
                let (path, value) = attribute();
                assert_eq!(path, "displayName");
                match s.groups.iter().find(|(_, n)| **n == value) {
                    Some((id, _)) => ok(json!({"GroupId": id, "IdentityStoreId": STORE})),
                    None => not_found("GROUP", &value),
                }
            }
            "DescribeGroup" => match s.groups.get(&text("GroupId")) {
                Some(n) => ok(
                    json!({"GroupId": text("GroupId"), "DisplayName": n, "IdentityStoreId": STORE}),
                ),
                None => not_found("GROUP", &text("GroupId")),
            },
            "ListGroups" => {
                let groups = s
                    .groups
                    .iter()
                    .map(|(id, n)| json!({"GroupId": id, "DisplayName": n, "IdentityStoreId": STORE}))
                    .collect();
                drop(s);
                self.page(groups, body, "Groups")
            }
            "CreateGroupMembership" => {
                let (group, user) = (
                    text("GroupId"),
                    body["MemberId"]["UserId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                if !s.groups.contains_key(&group) {
                    return not_found("GROUP", &group);
                }
                if !s.users.contains_key(&user) {
                    return not_found("USER", &user);
                }
                if s.memberships
                    .values()
                    .any(|(g, u)| *g == group && *u == user)
                {
                    return err(
                        "ConflictException",
                        "Member already exists in group",
                        json!({}),
                    );
                }
                let id = Self::id(&mut s, "m");
                s.memberships.insert(id.clone(), (group, user));
                ok(json!({"MembershipId": id, "IdentityStoreId": STORE}))
            }
            "GetGroupMembershipId" => {
                let (group, user) = (
                    text("GroupId"),
                    body["MemberId"]["UserId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                match s
                    .memberships
                    .iter()
                    .find(|(_, (g, u))| *g == group && *u == user)
                {
                    Some((id, _)) => ok(json!({"MembershipId": id, "IdentityStoreId": STORE})),
                    None => not_found("GROUP_MEMBERSHIP", &format!("{group}/{user}")),
                }
            }
            "DeleteGroupMembership" => match s.memberships.remove(&text("MembershipId")) {
                Some(_) => ok(json!({})),
                None => not_found("GROUP_MEMBERSHIP", &text("MembershipId")),
            },
            "ListGroupMemberships" => {
                let group = text("GroupId");
                if !s.groups.contains_key(&group) {
                    return not_found("GROUP", &group);
                }
                let items = s
                    .memberships
                    .iter()
                    .filter(|(_, (g, _))| *g == group)
                    .map(|(id, (g, u))| {
                        json!({"MembershipId": id, "GroupId": g,
                        "MemberId": {"UserId": u}, "IdentityStoreId": STORE})
                    })
                    .collect();
                drop(s);
                self.page(items, body, "GroupMemberships")
            }
            "ListGroupMembershipsForMember" => {
                let user = body["MemberId"]["UserId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if !s.users.contains_key(&user) {
                    return not_found("USER", &user);
                }
                let items = s
                    .memberships
                    .iter()
                    .filter(|(_, (_, u))| *u == user)
                    .map(|(id, (g, u))| {
                        json!({"MembershipId": id, "GroupId": g,
                        "MemberId": {"UserId": u}, "IdentityStoreId": STORE})
                    })
                    .collect();
                drop(s);
                self.page(items, body, "GroupMemberships")
            }
            other => panic!("the AWS fake does not implement AWSIdentityStore.{other}"),
        }
    }

    fn sso_admin(&self, op: &str, body: &Value) -> ResponseTemplate {
        if op != "ListInstances" && body["InstanceArn"].as_str() != Some(INSTANCE) {
            return err(
                "ResourceNotFoundException",
                &format!(
                    "Instance {} does not exist",
                    body["InstanceArn"].as_str().unwrap_or_default()
                ),
                json!({}),
            );
        }
        let mut s = self.state.lock().unwrap();
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        let key = || {
            (
                text("TargetId"),
                text("PermissionSetArn"),
                text("PrincipalType"),
                text("PrincipalId"),
            )
        };
        match op {
            "ListInstances" => ok(json!({"Instances": [
                {"InstanceArn": INSTANCE, "IdentityStoreId": STORE, "Status": "ACTIVE"}]})),
            "ListPermissionSets" => {
                let items = s.permission_sets.keys().map(|a| json!(a)).collect();
                drop(s);
                self.page(items, body, "PermissionSets")
            }
            "DescribePermissionSet" => match s.permission_sets.get(&text("PermissionSetArn")) {
                Some(n) => ok(json!({"PermissionSet": {"Name": n,
                    "PermissionSetArn": text("PermissionSetArn")}})),
                None => err(
                    "ResourceNotFoundException",
                    "Could not find PermissionSet",
                    json!({}),
                ),
            },
            "CreateAccountAssignment" => {
                let k = key();
                if !s.permission_sets.contains_key(&k.1) {
                    return err(
                        "ResourceNotFoundException",
                        "Could not find PermissionSet",
                        json!({}),
                    );
                }
                let id = Self::id(&mut s, "req");
                if s.slow_creations {
                    let status = json!({"Status": "IN_PROGRESS", "RequestId": id});
                    s.creations.insert(id.clone(), status.clone());
                    return ok(json!({"AccountAssignmentCreationStatus": status}));
                }
                if !s.assignments.contains(&k) {
                    s.assignments.push(k);
                }
                ok(
                    json!({"AccountAssignmentCreationStatus": {"Status": "SUCCEEDED", "RequestId": id}}),
                )
            }
            "DeleteAccountAssignment" => {
                let k = key();
                if !s.assignments.contains(&k) {
                    return err(
                        "ResourceNotFoundException",
                        "Could not find the account assignment",
                        json!({}),
                    );
                }
                let id = Self::id(&mut s, "req");
                if let Some(gone) = s.failing_deletions {
                    if gone {
                        s.assignments.retain(|a| *a != k);
                    }
                    s.deletions.insert(
                        id.clone(),
                        json!({"Status": "FAILED", "RequestId": id,
                            "FailureReason": "Received a 404 status error: Not supported policy arn:aws:iam::aws:policy/Gone."}),
                    );
                    return ok(json!({"AccountAssignmentDeletionStatus": {
                        "Status": "IN_PROGRESS", "RequestId": id}}));
                }
                s.assignments.retain(|a| *a != k);
                ok(
                    json!({"AccountAssignmentDeletionStatus": {"Status": "SUCCEEDED", "RequestId": id}}),
                )
            }
            "DescribeAccountAssignmentCreationStatus" => {
                match s.creations.get(&text("AccountAssignmentCreationRequestId")) {
                    Some(status) => ok(json!({"AccountAssignmentCreationStatus": status})),
                    None => err(
                        "ResourceNotFoundException",
                        "Could not find the request",
                        json!({}),
                    ),
                }
            }
            "DescribeAccountAssignmentDeletionStatus" => {
                match s.deletions.get(&text("AccountAssignmentDeletionRequestId")) {
                    Some(status) => ok(json!({"AccountAssignmentDeletionStatus": status})),
                    None => err(
                        "ResourceNotFoundException",
                        "Could not find the request",
                        json!({}),
                    ),
                }
            }
            "ListAccountAssignments" => {
                let (account, ps) = (text("AccountId"), text("PermissionSetArn"));
                let items = s
                    .assignments
                    .iter()
                    .filter(|(a, p, _, _)| *a == account && *p == ps)
                    .map(|(a, p, t, id)| {
                        json!({"AccountId": a, "PermissionSetArn": p,
                        "PrincipalType": t, "PrincipalId": id})
                    })
                    .collect();
                drop(s);
                self.page(items, body, "AccountAssignments")
            }
            "ListAccountAssignmentsForPrincipal" => {
                let (t, id) = (text("PrincipalType"), text("PrincipalId"));
                let items = s
                    .assignments
                    .iter()
                    .filter(|(_, _, pt, pid)| *pt == t && *pid == id)
                    .map(|(a, p, pt, pid)| {
                        json!({"AccountId": a, "PermissionSetArn": p,
                        "PrincipalType": pt, "PrincipalId": pid})
                    })
                    .collect();
                drop(s);
                self.page(items, body, "AccountAssignments")
            }
            other => panic!("the AWS fake does not implement SWBExternalService.{other}"),
        }
    }
}

impl Respond for AwsFake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if self.state.lock().unwrap().throttled {
            return err(
                "ThrottlingException",
                "Rate exceeded",
                json!({"RetryAfterSeconds": 7}),
            );
        }
        let target = request
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if let Some(ahead) = self.state.lock().unwrap().clock_ahead {
            let server_now = chrono::Utc::now() + chrono::Duration::seconds(ahead);
            let signed = request
                .headers
                .get("x-amz-date")
                .and_then(|v| v.to_str().ok())
                .and_then(|d| chrono::NaiveDateTime::parse_from_str(d, "%Y%m%dT%H%M%SZ").ok())
                .map(|d| d.and_utc());
            let off = signed.map(|d| (server_now - d).num_seconds().abs());
            if off.is_none_or(|o| o > 300) {
                let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
                return err(
                    "InvalidSignatureException",
                    &format!(
                        "Signature expired: {} is now earlier than {} ({} - 5 min.)",
                        signed.map(fmt).unwrap_or_default(),
                        fmt(server_now - chrono::Duration::minutes(5)),
                        fmt(server_now)
                    ),
                    json!({}),
                )
                .insert_header(
                    "date",
                    server_now
                        .format("%a, %d %b %Y %H:%M:%S GMT")
                        .to_string()
                        .as_str(),
                );
            }
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let op = target.split_once('.').map(|(_, op)| op.to_owned());
        {
            let mut s = self.state.lock().unwrap();
            if let Some((next, reason)) = s.conflict_next.clone()
                && op.as_deref() == Some(next.as_str())
            {
                s.conflict_next = None;
                return err(
                    "ConflictException",
                    "The request could not be completed: a conflicting operation is in progress",
                    match reason {
                        Some(r) => json!({"Reason": r}),
                        None => json!({}),
                    },
                );
            }
        }
        match target.split_once('.') {
            Some(("AWSIdentityStore", op)) => self.identity_store(op, &body),
            Some(("SWBExternalService", op)) => self.sso_admin(op, &body),
            _ => ResponseTemplate::new(400).set_body_string("unknown target"),
        }
    }
}
