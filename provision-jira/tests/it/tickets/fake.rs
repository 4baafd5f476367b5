//! A stateful fake of the Jira issue endpoints a ticket adapter uses, written from
//! Atlassian's REST v3 reference (`specs/jira-issues.trimmed.json`): create
//! (`POST /issue`, 201 `{id,key,self}`), edit (`PUT /issue/{key}`, 204), read
//! (`GET /issue/{key}`), comments (`GET /issue/{key}/comment`) and the enhanced search
//! (`GET /search/jql`, `nextPageToken` pages).
//!
//! Unkind on purpose: search pages are short (two issues whatever `maxResults` asks)
//! with more to come; the first request can be a 429 with `Retry-After`; a person
//! moves issues through statuses and resolutions behind the adapter's back.
//!
//! UNVERIFIED against a real tenant (shapes from the spec and the docs only): the
//! `properties` object of a search hit, `statusCategory.key` values, the comment
//! order with `orderBy=-created`, and that JQL `labels = "x"` matches a label exactly.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{EMAIL, TOKEN};

#[derive(Debug, Clone)]
pub struct FakeIssue {
    pub key: String,
    pub project: String,
    pub summary: String,
    pub description: Value,
    pub labels: Vec<String>,
    pub properties: BTreeMap<String, Value>,
    pub status: String,
    pub category: String,
    pub resolution: Option<String>,
    pub created: DateTime<Utc>,
    pub resolved: Option<DateTime<Utc>>,
    /// (author, text), oldest first.
    pub comments: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct TicketState {
    pub issues: Vec<FakeIssue>,
    pub next: u64,
    /// 429s still to answer before serving.
    pub throttle: u32,
    pub now: Option<DateTime<Utc>>,
}

#[derive(Clone, Default)]
pub struct FakeTickets {
    pub state: Arc<Mutex<TicketState>>,
}

const PAGE: usize = 2;

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"errorMessages": [message], "errors": {}}))
}

fn text_of(doc: &Value) -> String {
    provision_jira::tickets::issue::adf_text(doc)
}

impl FakeTickets {
    pub fn now(&self) -> DateTime<Utc> {
        self.state.lock().unwrap().now.unwrap_or_else(Utc::now)
    }

    pub fn set_now(&self, at: DateTime<Utc>) {
        self.state.lock().unwrap().now = Some(at);
    }

    pub fn issues(&self) -> Vec<FakeIssue> {
        self.state.lock().unwrap().issues.clone()
    }

    pub fn issue(&self, key: &str) -> FakeIssue {
        self.issues().into_iter().find(|i| i.key == key).unwrap()
    }

    /// A person finishes the work and resolves the issue as Done.
    pub fn resolve(&self, key: &str) {
        let now = self.now();
        let mut s = self.state.lock().unwrap();
        let i = s.issues.iter_mut().find(|i| i.key == key).unwrap();
        i.status = "Done".into();
        i.category = "done".into();
        i.resolution = Some("Done".into());
        i.resolved = Some(now);
    }

    /// A person refuses: resolution, with a comment saying why.
    pub fn reject(&self, key: &str, resolution: &str, author: &str, comment: &str) {
        let now = self.now();
        let mut s = self.state.lock().unwrap();
        let i = s.issues.iter_mut().find(|i| i.key == key).unwrap();
        i.comments.push((author.into(), comment.into()));
        i.status = "Done".into();
        i.category = "done".into();
        i.resolution = Some(resolution.into());
        i.resolved = Some(now);
    }

    /// A person starts on it.
    pub fn start(&self, key: &str) {
        let mut s = self.state.lock().unwrap();
        let i = s.issues.iter_mut().find(|i| i.key == key).unwrap();
        i.status = "In Progress".into();
        i.category = "indeterminate".into();
    }

    pub async fn mount(&self, server: &MockServer) {
        Mock::given(any())
            .respond_with(self.clone())
            .mount(server)
            .await;
    }

    fn issue_json(i: &FakeIssue, with_properties: bool) -> Value {
        let mut v = json!({
            "id": i.key.trim_start_matches(|c: char| !c.is_ascii_digit()),
            "key": i.key,
            "self": format!("https://acme.atlassian.net/rest/api/3/issue/{}", i.key),
            "fields": {
                "status": {"name": i.status, "statusCategory": {"key": i.category}},
                "resolution": i.resolution.as_ref().map(|r| json!({"name": r})),
                "resolutiondate": i.resolved.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()),
                "created": i.created.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
                "labels": i.labels,
            }
        });
        if with_properties {
            v["properties"] = json!(i.properties);
        }
        v
    }

    fn handle(&self, req: &Request) -> ResponseTemplate {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"))
        );
        if req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            != Some(&expected)
        {
            return error(401, "Client must be authenticated to access this resource.");
        }
        {
            let mut s = self.state.lock().unwrap();
            if s.throttle > 0 {
                s.throttle -= 1;
                return ResponseTemplate::new(429)
                    .insert_header("Retry-After", "7")
                    .insert_header("RateLimit-Reason", "jira-burst-based")
                    .set_body_string("");
            }
        }
        let path = req.url.path().trim_start_matches("/rest/api/3/").to_owned();
        let query: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let parts: Vec<&str> = path.split('/').collect();
        let method = req.method.as_str();
        match (method, parts.as_slice()) {
            ("POST", ["issue"]) => self.create(req),
            ("PUT", ["issue", key]) => self.edit(key, req),
            ("GET", ["issue", key]) => {
                let s = self.state.lock().unwrap();
                match s.issues.iter().find(|i| i.key == *key) {
                    Some(i) => ResponseTemplate::new(200)
                        .set_body_json(Self::issue_json(i, query.contains_key("properties"))),
                    None => error(
                        404,
                        "Issue does not exist or you do not have permission to see it.",
                    ),
                }
            }
            ("GET", ["issue", key, "comment"]) => {
                let s = self.state.lock().unwrap();
                let Some(i) = s.issues.iter().find(|i| i.key == *key) else {
                    return error(
                        404,
                        "Issue does not exist or you do not have permission to see it.",
                    );
                };
                let mut comments: Vec<Value> = i
                    .comments
                    .iter()
                    .enumerate()
                    .map(|(n, (a, t))| {
                        json!({"id": n.to_string(), "author": {"displayName": a},
                               "body": provision_jira::tickets::issue::adf(std::slice::from_ref(t))})
                    })
                    .collect();
                if query.get("orderBy").map(String::as_str) == Some("-created") {
                    comments.reverse();
                }
                let max: usize = query
                    .get("maxResults")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(50);
                let total = comments.len();
                comments.truncate(max);
                ResponseTemplate::new(200).set_body_json(
                    json!({"comments": comments, "startAt": 0, "maxResults": max, "total": total}),
                )
            }
            ("GET", ["search", "jql"]) => self.search(&query),
            _ => error(404, "No such endpoint in the fake"),
        }
    }

    fn create(&self, req: &Request) -> ResponseTemplate {
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return error(400, "Unexpected character in the body"),
        };
        let fields = &body["fields"];
        let Some(project) = fields["project"]["key"].as_str() else {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"errorMessages": [], "errors": {"project": "Specify a valid project ID or key"}}));
        };
        if project != "PAY" {
            return ResponseTemplate::new(400).set_body_json(
                json!({"errorMessages": [], "errors": {"project": "valid project is required"}}),
            );
        }
        if fields["issuetype"]["name"].as_str().is_none() {
            return ResponseTemplate::new(400).set_body_json(
                json!({"errorMessages": [], "errors": {"issuetype": "Specify an issue type"}}),
            );
        }
        let Some(summary) = fields["summary"].as_str() else {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}));
        };
        let now = self.now();
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        let key = format!("PAY-{}", s.next);
        let mut properties = BTreeMap::new();
        for p in body["properties"].as_array().cloned().unwrap_or_default() {
            properties.insert(p["key"].as_str().unwrap().to_owned(), p["value"].clone());
        }
        s.issues.push(FakeIssue {
            key: key.clone(),
            project: project.into(),
            summary: summary.into(),
            description: fields["description"].clone(),
            labels: fields["labels"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            properties,
            status: "To Do".into(),
            category: "new".into(),
            resolution: None,
            created: now,
            resolved: None,
            comments: Vec::new(),
        });
        ResponseTemplate::new(201).set_body_json(json!({
            "id": s.next.to_string(), "key": key,
            "self": format!("https://acme.atlassian.net/rest/api/3/issue/{}", s.next)
        }))
    }

    fn edit(&self, key: &str, req: &Request) -> ResponseTemplate {
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return error(400, "Unexpected character in the body"),
        };
        let mut s = self.state.lock().unwrap();
        let Some(i) = s.issues.iter_mut().find(|i| i.key == key) else {
            return error(
                404,
                "Issue does not exist or you do not have permission to see it.",
            );
        };
        if let Some(d) = body["fields"].get("description") {
            i.description = d.clone();
        }
        for op in body["update"]["labels"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if let Some(l) = op["add"].as_str()
                && !i.labels.iter().any(|x| x == l)
            {
                i.labels.push(l.to_owned());
            }
        }
        for p in body["properties"].as_array().cloned().unwrap_or_default() {
            i.properties
                .insert(p["key"].as_str().unwrap().to_owned(), p["value"].clone());
        }
        ResponseTemplate::new(204)
    }

    /// JQL: `project = "X" AND labels = "y" ORDER BY created ASC` (the adapter's only
    /// shape); anything else is a 400 as Jira gives for a query it cannot parse.
    fn search(&self, query: &BTreeMap<String, String>) -> ResponseTemplate {
        let jql = query.get("jql").cloned().unwrap_or_default();
        let quoted = |after: &str| -> Option<String> {
            let at = jql.find(after)? + after.len();
            let rest = jql[at..].trim_start().strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_owned())
        };
        let (Some(project), Some(label)) = (quoted("project ="), quoted("labels =")) else {
            return error(400, &format!("Error in the JQL Query: {jql}"));
        };
        let with_properties = query.contains_key("properties");
        let s = self.state.lock().unwrap();
        let hits: Vec<&FakeIssue> = s
            .issues
            .iter()
            .filter(|i| i.project == project && i.labels.contains(&label))
            .collect();
        let start: usize = query
            .get("nextPageToken")
            .and_then(|t| t.strip_prefix("tok-"))
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = hits
            .iter()
            .skip(start)
            .take(PAGE)
            .map(|i| Self::issue_json(i, with_properties))
            .collect();
        let more = start + PAGE < hits.len();
        let mut body = json!({"issues": page, "isLast": !more});
        if more {
            body["nextPageToken"] = json!(format!("tok-{}", start + PAGE));
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

impl Respond for FakeTickets {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.handle(req)
    }
}

/// The spec of the issue endpoints (`provision-jira/specs/jira-issues.trimmed.json`).
pub fn issue_spec() -> provision_testkit::openapi::OpenApiSpec {
    provision_testkit::openapi::OpenApiSpec::from_path(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/jira-issues.trimmed.json"),
    )
    .unwrap()
}

/// Every request `server` received is an operation of the issue spec.
pub async fn assert_conform(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap();
    provision_testkit::assert_requests_conform(&issue_spec(), &requests)
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// The text of an issue's description.
pub fn description(i: &FakeIssue) -> String {
    text_of(&i.description)
}
