//! Evidence reads against a fake org that answers like Okta: `Link` pagination, a
//! 429 with `X-Rate-Limit-*` and `Date` headers, a 503, a bounded System Log query,
//! factor replies that carry a TOTP shared secret and a phone number; every request
//! checked against the Okta spec.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use provision_core::adapter::{Adapter, AdapterError, CollectedEvidence};
use provision_http::read_retry::ReadRetry;
use provision_okta::OktaAdapter;
use provision_okta::config::OktaConfig;
use provision_okta::evidence::{EVIDENCE_SCOPES, deprovisioning_filter};
use provision_testkit::openapi::{OpenApiSpec, shared_spec_path};
use provision_testkit::{ApiSpec, MatchedOperation, SpecViolation};
use serde_json::{Value, json};
use support::{FakeOkta, start};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn okta_error(status: u16, code: &str, summary: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "errorCode": code, "errorSummary": summary, "errorLink": code,
        "errorId": "oae3iIwnKq9R3WTnqf2dAAAAA", "errorCauses": []
    }))
}

/// The evidence endpoints of the org.
struct EvidenceOrg {
    base: String,
    /// user id → factors as Okta lists them.
    factors: BTreeMap<String, Value>,
    /// Users whose first factor read draws a 429 (the minute's budget spent).
    throttle_once: Mutex<BTreeSet<String>>,
    /// The first policy read answers 503.
    policies_503_once: Mutex<bool>,
    /// Every log read answers 500 (an outage).
    logs_down: bool,
    policies: Vec<Value>,
    events: Vec<Value>,
    /// Server-side page cap (Okta's own is the `limit`; lowered here to get pages).
    page_cap: usize,
    /// When set, the bearer token evidence reads must carry, and its scopes.
    token: Option<(String, Vec<String>)>,
}

impl EvidenceOrg {
    fn ok(body: Value) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .set_body_json(body)
            .insert_header("x-rate-limit-limit", "600")
            .insert_header("x-rate-limit-remaining", "598")
            .insert_header("x-rate-limit-reset", (now_secs() + 60).to_string().as_str())
    }

    /// Items from the `after` cursor, with `Link: rel="next"` when more remain.
    fn page(&self, req: &Request, items: &[Value], force_next: bool) -> ResponseTemplate {
        let query: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        let start: usize = query
            .iter()
            .find(|(k, _)| k == "after")
            .map(|(_, v)| v.trim_start_matches("cur").parse().unwrap())
            .unwrap_or(0);
        let end = (start + self.page_cap).min(items.len());
        let mut reply = Self::ok(Value::Array(items[start.min(end)..end].to_vec()));
        if end < items.len() || force_next {
            let mut next = url::Url::parse(&format!("{}{}", self.base, req.url.path())).unwrap();
            next.query_pairs_mut()
                .extend_pairs(query.iter().filter(|(k, _)| k != "after"))
                .append_pair("after", &format!("cur{end}"));
            reply = reply.insert_header(
                "link",
                format!("<{}>; rel=\"self\", <{next}>; rel=\"next\"", req.url).as_str(),
            );
        }
        reply
    }

    fn logs(&self, req: &Request) -> ResponseTemplate {
        if self.logs_down {
            return okta_error(500, "E0000009", "Internal Server Error");
        }
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let time = |k: &str| {
            q.get(k)
                .map(|v| DateTime::parse_from_rfc3339(v).unwrap().with_timezone(&Utc))
        };
        let (since, until) = (time("since"), time("until"));
        let Some(filter) = q.get("filter") else {
            return okta_error(400, "E0000001", "Api validation failed: filter");
        };
        let types: BTreeSet<&str> = filter
            .split(" or ")
            .map(|c| {
                c.strip_prefix("eventType eq \"")
                    .and_then(|c| c.strip_suffix('"'))
                    .unwrap_or("?")
            })
            .collect();
        if types.contains("?") {
            return okta_error(400, "E0000031", "Invalid search criteria.");
        }
        let events: Vec<Value> = self
            .events
            .iter()
            .filter(|e| types.contains(e["eventType"].as_str().unwrap()))
            .filter(|e| {
                let at = DateTime::parse_from_rfc3339(e["published"].as_str().unwrap()).unwrap();
                since.is_none_or(|s| at >= s) && until.is_none_or(|u| at < u)
            })
            .cloned()
            .collect();
        // A query without `until` is a polling query: Okta always hands out a next link.
        self.page(req, &events, until.is_none())
    }
}

impl Respond for EvidenceOrg {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req.headers.get("authorization").unwrap().to_str().unwrap();
        let needed = match req.url.path() {
            p if p.ends_with("/factors") => "okta.users.read",
            "/api/v1/policies" => "okta.policies.read",
            _ => "okta.logs.read",
        };
        if let Some((token, scopes)) = &self.token
            && (auth != format!("Bearer {token}") || !scopes.iter().any(|s| s == needed))
        {
            return okta_error(
                403,
                "E0000006",
                "You do not have permission to perform the requested action",
            );
        }
        let segments: Vec<&str> = req.url.path_segments().unwrap().collect();
        match segments.as_slice() {
            ["api", "v1", "users", id, "factors"] => {
                if self.throttle_once.lock().unwrap().remove(*id) {
                    let date = httpdate::fmt_http_date(SystemTime::now());
                    return okta_error(
                        429,
                        "E0000047",
                        "API call exceeded rate limit due to too many requests.",
                    )
                    .insert_header("x-rate-limit-limit", "100")
                    .insert_header("x-rate-limit-remaining", "0")
                    .insert_header("x-rate-limit-reset", (now_secs() + 1).to_string().as_str())
                    .insert_header("date", date.as_str());
                }
                match self.factors.get(*id) {
                    Some(f) => Self::ok(f.clone()),
                    None => okta_error(
                        404,
                        "E0000007",
                        &format!("Not found: Resource not found: {id} (User)"),
                    ),
                }
            }
            ["api", "v1", "policies"] => {
                if std::mem::take(&mut *self.policies_503_once.lock().unwrap()) {
                    return ResponseTemplate::new(503).set_body_string("Service Unavailable");
                }
                let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
                let Some(kind) = q.get("type") else {
                    return okta_error(400, "E0000001", "Api validation failed: type");
                };
                let of_type: Vec<Value> = self
                    .policies
                    .iter()
                    .filter(|p| p["type"] == kind.as_str())
                    .cloned()
                    .collect();
                self.page(req, &of_type, false)
            }
            ["api", "v1", "logs"] => self.logs(req),
            _ => okta_error(
                404,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
            ),
        }
    }
}

fn ago(days: i64) -> String {
    (Utc::now() - ChronoDuration::days(days)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn event(uuid: &str, event_type: &str, days_ago: i64, target: &str) -> Value {
    json!({
        "uuid": uuid,
        "published": ago(days_ago),
        "eventType": event_type,
        "displayMessage": "lifecycle change",
        "severity": "INFO",
        "actor": {"id": "00uADMIN", "type": "User", "alternateId": "hr-sync@example.com", "displayName": "HR sync"},
        "client": {"ipAddress": "10.0.0.1", "userAgent": {"rawUserAgent": "provision"}},
        "outcome": {"result": "SUCCESS", "reason": null},
        "target": [{"id": "00uTARGET", "type": "User", "alternateId": target, "displayName": target}]
    })
}

fn policy(id: &str, kind: &str, name: &str, priority: u32) -> Value {
    json!({
        "id": id, "type": kind, "name": name, "status": "ACTIVE", "priority": priority,
        "system": priority == 99, "created": "2025-01-01T00:00:00.000Z",
        "lastUpdated": "2026-06-01T00:00:00.000Z",
        "conditions": {"people": {"groups": {"include": ["00gEVERYONE"]}}},
        "settings": {"password": {"complexity": {"minLength": 14}, "age": {"historyCount": 24}}},
        "_links": {"self": {"href": format!("https://acme.okta.com/api/v1/policies/{id}")}}
    })
}

struct Org {
    server: MockServer,
    fake: FakeOkta,
    ids: BTreeMap<&'static str, String>,
}

async fn org(logs_down: bool, token: Option<(String, Vec<String>)>) -> Org {
    // Two users per page: the three active users come over two `Link` pages.
    let fake = FakeOkta::new(2);
    let mut ids = BTreeMap::new();
    for (login, status) in [
        ("ada@example.com", "ACTIVE"),
        ("bob@example.com", "ACTIVE"),
        ("dee@example.com", "SUSPENDED"),
        ("cy@example.com", "ACTIVE"),
        ("eve@example.com", "STAGED"),
    ] {
        ids.insert(login, fake.add_user(login, login, status));
    }
    let server = start(&fake).await;
    let factors = BTreeMap::from([
        (
            ids["ada@example.com"].clone(),
            json!([
                {"id": "sms2gt8gzgEBPUWBIFHN", "factorType": "sms", "provider": "OKTA", "status": "ACTIVE",
                 "created": "2026-01-27T20:27:26.000Z", "lastUpdated": "2026-01-27T20:27:26.000Z",
                 "profile": {"phoneNumber": "+1-555-415-1337"}},
                {"id": "ostf2gsyictRQDSGTDZE", "factorType": "token:software:totp", "provider": "OKTA",
                 "status": "PENDING_ACTIVATION", "created": "2026-06-27T20:27:33.000Z",
                 "lastUpdated": "2026-06-27T20:27:33.000Z", "profile": {"credentialId": "ada@example.com"},
                 "_embedded": {"activation": {"timeStep": 30, "sharedSecret": "HE64TMLL2IUZW2ZLB", "encoding": "base32", "keyLength": 16}}}
            ]),
        ),
        (ids["bob@example.com"].clone(), json!([])),
        (
            ids["cy@example.com"].clone(),
            json!([{"id": "opf3hkfocI4JTLAju0g4", "factorType": "push", "provider": "OKTA",
                    "status": "ACTIVE", "created": "2026-03-01T00:00:00.000Z",
                    "lastUpdated": "2026-03-01T00:00:00.000Z",
                    "profile": {"deviceType": "SmartPhone_IPhone", "name": "Cy's iPhone"}}]),
        ),
    ]);
    let evidence = EvidenceOrg {
        base: server.uri(),
        factors,
        throttle_once: Mutex::new(BTreeSet::from([ids["cy@example.com"].clone()])),
        policies_503_once: Mutex::new(true),
        logs_down,
        policies: vec![
            policy("00p1PASSWORD", "PASSWORD", "Engineering passwords", 1),
            policy("00p2PASSWORD", "PASSWORD", "Default Policy", 99),
            policy("00p3OKTASIGNON", "OKTA_SIGN_ON", "Default Policy", 99),
            policy("00p4MFA", "MFA_ENROLL", "Default Policy", 99),
        ],
        events: vec![
            event("e-old", "user.lifecycle.deactivate", 40, "old@example.com"),
            event("e-1", "user.lifecycle.deactivate", 20, "tom@example.com"),
            event("e-2", "user.lifecycle.suspend", 10, "lee@example.com"),
            event("e-x", "user.session.start", 5, "ada@example.com"),
            event("e-3", "user.session.clear", 2, "tom@example.com"),
            event("e-4", "user.lifecycle.deactivate", 1, "kim@example.com"),
        ],
        page_cap: 1,
        token,
    };
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v1/(users/[^/]+/factors|policies|logs)$"))
        .respond_with(evidence)
        .with_priority(1)
        .mount(&server)
        .await;
    Org { server, fake, ids }
}

fn quick() -> ReadRetry {
    ReadRetry::new(4, Duration::from_secs(10), Duration::from_millis(20))
}

fn of_kind<'a>(evidence: &'a [CollectedEvidence], kind: &str) -> Vec<&'a CollectedEvidence> {
    evidence.iter().filter(|e| e.kind == kind).collect()
}

/// Every request conforms to the trimmed spec, the adapter's supplement or the
/// evidence supplement (OAuth token requests excluded, as in the other tests).
async fn assert_conform(server: &MockServer) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let specs = Specs(vec![
        OpenApiSpec::from_path(shared_spec_path(
            env!("CARGO_MANIFEST_DIR"),
            "okta-management.trimmed.yaml",
        ))
        .unwrap(),
        OpenApiSpec::from_path(dir.join("okta-management.supplement.yaml")).unwrap(),
        OpenApiSpec::from_path(dir.join("okta-management.evidence.yaml")).unwrap(),
    ]);
    let requests: Vec<Request> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() != "/oauth2/v1/token")
        .collect();
    provision_testkit::assert_requests_conform(&specs, &requests)
        .into_iter()
        .map(|m| m.name)
        .collect()
}

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

#[tokio::test]
async fn evidence_of_active_users_policies_and_thirty_days_of_deprovisioning() {
    let org = org(false, None).await;
    let okta = OktaAdapter::new(
        OktaConfig::builder(&org.server.uri())
            .api_token("00SECRET-api-token-value")
            .build()
            .unwrap(),
    )
    .unwrap();
    let source = okta.evidence_source().expect("Okta offers evidence reads");
    assert_eq!(
        source.evidence_kinds(),
        [
            "okta.mfa_enrollment",
            "okta.password_policy",
            "okta.sign_on_policy",
            "okta.deprovisioning_event"
        ]
    );
    let started = std::time::Instant::now();
    let evidence = okta.collect_evidence_with(&quick()).await.unwrap();

    // MFA: the three ACTIVE users (over two pages), not the suspended or staged one.
    let mfa = of_kind(&evidence, "okta.mfa_enrollment");
    let by_login: BTreeMap<&str, &Value> = mfa
        .iter()
        .map(|e| (e.subject.as_deref().unwrap(), &e.data))
        .collect();
    assert_eq!(
        by_login.keys().copied().collect::<Vec<_>>(),
        ["ada@example.com", "bob@example.com", "cy@example.com"]
    );
    assert_eq!(by_login["ada@example.com"]["mfa_enrolled"], true);
    assert_eq!(by_login["ada@example.com"]["active_factors"], 1);
    assert_eq!(
        by_login["ada@example.com"]["factors"][1]["status"],
        "PENDING_ACTIVATION"
    );
    assert_eq!(by_login["bob@example.com"]["mfa_enrolled"], false);
    assert_eq!(
        by_login["cy@example.com"]["factors"][0]["factor_type"],
        "push"
    );
    assert!(mfa.iter().all(|e| e.system.as_str() == "okta"));

    // Nothing secret or personal from the factors' replies.
    let text = serde_json::to_string(&evidence).unwrap();
    for leak in [
        "HE64TMLL2IUZW2ZLB",
        "sharedSecret",
        "+1-555-415-1337",
        "Cy's iPhone",
        "10.0.0.1",
    ] {
        assert!(!text.contains(leak), "{leak} reached the evidence");
    }

    // Policies: both password policies (two pages, after a 503), the sign-on one.
    let password = of_kind(&evidence, "okta.password_policy");
    assert_eq!(
        password
            .iter()
            .map(|e| e.subject.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["00p1PASSWORD", "00p2PASSWORD"]
    );
    assert_eq!(
        password[0].data["settings"]["password"]["complexity"]["minLength"],
        14
    );
    assert!(password[0].data.get("_links").is_none());
    let sign_on = of_kind(&evidence, "okta.sign_on_policy");
    assert_eq!(sign_on.len(), 1);
    assert_eq!(sign_on[0].data["type"], "OKTA_SIGN_ON");

    // The System Log: the four deprovisioning events of the last 30 days, one per
    // page, oldest first, each at its publication time and about its target.
    let events = of_kind(&evidence, "okta.deprovisioning_event");
    assert_eq!(
        events
            .iter()
            .map(|e| e.data["uuid"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["e-1", "e-2", "e-3", "e-4"]
    );
    assert_eq!(events[0].subject.as_deref(), Some("tom@example.com"));
    assert_eq!(
        events[1]
            .collected_at
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        events[1].data["published"].as_str().unwrap()
    );

    // The 429 on Cy's factors was waited out (its reset is 1 s away), then read again.
    let requests = org.server.received_requests().await.unwrap();
    let cy_reads = requests
        .iter()
        .filter(|r| r.url.path() == format!("/api/v1/users/{}/factors", org.ids["cy@example.com"]))
        .count();
    assert_eq!(cy_reads, 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the reset was not waited for"
    );
    for user in ["dee@example.com", "eve@example.com"] {
        assert!(
            !requests
                .iter()
                .any(|r| r.url.path().contains(&org.ids[user]) && r.url.path().ends_with("factors")),
            "{user} is not active: their factors are not evidence"
        );
    }
    // The log query is bounded (`until`), filtered on the three event types.
    let log_query: BTreeMap<String, String> = requests
        .iter()
        .find(|r| r.url.path() == "/api/v1/logs")
        .unwrap()
        .url
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(log_query["filter"], deprovisioning_filter());
    let since = DateTime::parse_from_rfc3339(&log_query["since"]).unwrap();
    let until = DateTime::parse_from_rfc3339(&log_query["until"]).unwrap();
    assert_eq!((until - since).num_days(), 30);
    assert_eq!(log_query["sortOrder"], "ASCENDING");

    let operations = assert_conform(&org.server).await;
    for op in ["listFactors", "listPolicies", "listLogEvents"] {
        assert!(
            operations.iter().any(|o| o == op),
            "{op} not exercised: {operations:?}"
        );
    }
}

#[tokio::test]
async fn evidence_reads_use_a_token_with_only_the_read_only_scopes() {
    let token = "EVIDENCE-TOKEN-1".to_owned();
    let scopes: Vec<String> = EVIDENCE_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    let org = org(false, Some((token.clone(), scopes.clone()))).await;
    org.fake
        .state
        .lock()
        .unwrap()
        .tokens
        .insert(token.clone(), scopes);
    let requested = Arc::new(Mutex::new(Vec::<String>::new()));
    struct TokenEndpoint(Arc<Mutex<Vec<String>>>, String);
    impl Respond for TokenEndpoint {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let form: BTreeMap<String, String> = url::form_urlencoded::parse(&req.body)
                .into_owned()
                .collect();
            self.0.lock().unwrap().push(form["scope"].clone());
            ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "expires_in": 3600,
                "access_token": self.1, "scope": form["scope"]
            }))
        }
    }
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(TokenEndpoint(requested.clone(), token))
        .with_priority(1)
        .mount(&org.server)
        .await;
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-key.pem"),
    )
    .unwrap();
    let okta = OktaAdapter::new(
        OktaConfig::builder(&org.server.uri())
            .private_key_jwt("0oaSERVICEAPP", pem)
            .key_id("kid-1")
            .build()
            .unwrap(),
    )
    .unwrap();
    let evidence = okta.collect_evidence_with(&quick()).await.unwrap();
    assert_eq!(of_kind(&evidence, "okta.mfa_enrollment").len(), 3);
    assert_eq!(
        *requested.lock().unwrap(),
        ["okta.users.read okta.policies.read okta.logs.read"],
        "one token, read-only scopes only"
    );
}

#[tokio::test]
async fn a_system_log_outage_is_an_error_with_oktas_own_words() {
    let org = org(true, None).await;
    let okta = OktaAdapter::new(
        OktaConfig::builder(&org.server.uri())
            .api_token("00SECRET-api-token-value")
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = okta.collect_evidence_with(&quick()).await.unwrap_err();
    assert!(matches!(err, AdapterError::Transient { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("Internal Server Error") && text.contains("oae3iIwnKq9R3WTnqf2dAAAAA"),
        "{text}"
    );
    assert!(!text.contains("00SECRET"), "{text}");
    let log_reads = org
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/v1/logs")
        .count();
    assert_eq!(
        log_reads, 4,
        "tried as often as the policy allows, then gave up"
    );
}
