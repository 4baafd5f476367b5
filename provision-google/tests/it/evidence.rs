//! 2-step verification evidence against a mocked Directory API that answers like
//! Google's (`pageToken` pages, a 429 with `Retry-After`, a 503 `backendError`),
//! with its own read-only token; every request checked against the discovery document.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use provision_core::adapter::{Adapter, AdapterError};
use provision_google::GoogleConfig;
use provision_google::evidence::{GoogleEvidence, SCOPE_USER_READONLY, USER_FIELDS};
use provision_http::read_retry::ReadRetry;
use serde_json::{Value, json};
use support::{ADMIN, DIR, Env, KEY_JSON, google_error, token_url};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

/// `users.list` of a tenant with five users, two per page; the first call is
/// throttled and the second page's first call fails with a backend error.
struct Users {
    users: Vec<Value>,
    script: Mutex<Vec<&'static str>>,
}

impl Respond for Users {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        if !q.contains_key("customer") && !q.contains_key("domain") {
            return google_error(400, "badRequest", "Bad Request");
        }
        let start: usize = q
            .get("pageToken")
            .map_or(0, |t| t.trim_start_matches("tok").parse().unwrap());
        let mut script = self.script.lock().unwrap();
        if let Some(next) = script.first().copied() {
            let due = match next {
                "429" => start == 0,
                "503" => start == 2,
                _ => false,
            };
            if due {
                script.remove(0);
                return match next {
                    "429" => google_error(429, "rateLimitExceeded", "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'")
                        .insert_header("retry-after", "1"),
                    _ => google_error(503, "backendError", "Backend Error"),
                };
            }
        }
        let end = (start + 2).min(self.users.len());
        let mut body = json!({"kind": "admin#directory#users", "users": self.users[start..end]});
        if end < self.users.len() {
            body["nextPageToken"] = json!(format!("tok{end}"));
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn user(email: &str, enrolled: bool, enforced: bool, suspended: bool, archived: bool) -> Value {
    json!({
        "id": format!("1{}", email.len()), "primaryEmail": email, "suspended": suspended,
        "archived": archived, "orgUnitPath": "/Engineering",
        "isEnrolledIn2Sv": enrolled, "isEnforcedIn2Sv": enforced
    })
}

fn quick() -> ReadRetry {
    ReadRetry::new(4, Duration::from_secs(10), Duration::from_millis(20))
}

async fn mount_users(env: &Env) {
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users")))
        .respond_with(Users {
            users: vec![
                user("ana@example.com", true, true, false, false),
                user("ben@example.com", false, true, false, false),
                user("cat@example.com", true, true, true, false),
                user("dan@example.com", false, false, false, true),
                user("eli@example.com", true, false, false, false),
            ],
            script: Mutex::new(vec!["429", "503"]),
        })
        .with_priority(1)
        .mount(&env.api)
        .await;
}

#[tokio::test]
async fn two_step_verification_of_users_who_can_sign_in_with_a_read_only_token() {
    let env = Env::new().await;
    mount_users(&env).await;
    let source = env
        .adapter
        .evidence_source()
        .expect("Google offers evidence reads");
    assert_eq!(source.evidence_kinds(), ["google.two_step_verification"]);
    let config = GoogleConfig::builder()
        .service_account_key_json(KEY_JSON.to_owned())
        .admin_subject(ADMIN)
        .base_url(env.api.uri())
        .token_url(token_url(&env.token))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let evidence = GoogleEvidence::new(&config)
        .unwrap()
        .collect_with(&quick())
        .await
        .unwrap();

    let rows: BTreeMap<&str, &Value> = evidence
        .iter()
        .map(|e| (e.subject.as_deref().unwrap(), &e.data))
        .collect();
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        ["ana@example.com", "ben@example.com", "eli@example.com"],
        "suspended and archived users cannot sign in: no 2SV evidence for them"
    );
    assert_eq!(rows["ana@example.com"]["is_enrolled_in_2sv"], true);
    assert_eq!(rows["ben@example.com"]["is_enrolled_in_2sv"], false);
    assert_eq!(rows["ben@example.com"]["is_enforced_in_2sv"], true);
    assert_eq!(rows["eli@example.com"]["is_enforced_in_2sv"], false);
    assert!(
        evidence
            .iter()
            .all(|e| e.kind == "google.two_step_verification" && e.system.as_str() == "google")
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was not waited for"
    );

    // One token, asked with the read-only scope only.
    let assertions = env.assertions.lock().unwrap().clone();
    assert_eq!(assertions.len(), 1);
    assert_eq!(assertions[0].1["scope"], SCOPE_USER_READONLY);
    assert_eq!(assertions[0].1["sub"], ADMIN);

    let requests = env.requests().await;
    assert_eq!(requests.len(), 5, "3 pages, a 429 and a 503 retried");
    for r in &requests {
        let q: BTreeMap<String, String> = r.url.query_pairs().into_owned().collect();
        assert_eq!(q["customer"], "my_customer");
        assert_eq!(q["maxResults"], "500");
        assert_eq!(q["fields"], USER_FIELDS);
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            "Bearer ya29.token-1"
        );
    }
    let operations = env.assert_conform().await;
    assert!(
        operations.iter().all(|o| o.ends_with("users.list")),
        "{operations:?}"
    );
}

#[tokio::test]
async fn a_delegation_without_the_read_only_scope_is_a_configuration_error_naming_it() {
    let env = Env::new().await;
    mount_users(&env).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "unauthorized_client",
            "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."
        })))
        .with_priority(1)
        .mount(&env.token)
        .await;
    let err = env
        .adapter
        .evidence_source()
        .unwrap()
        .collect_evidence()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AdapterError::Configuration { .. }), "{err:?}");
    assert!(
        text.contains(SCOPE_USER_READONLY) && text.contains("unauthorized_client"),
        "{text}"
    );
    assert!(
        env.requests().await.is_empty(),
        "no API call without a token"
    );
}
