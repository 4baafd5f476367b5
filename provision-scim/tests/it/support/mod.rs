//! Wiremock helpers: SCIM-shaped replies, as real applications send them (some with
//! `application/json`, some without `totalResults`), a server over its rate limit,
//! and a URL that is not a SCIM service.
#![allow(dead_code)]

use provision_scim::config::ScimConfigBuilder;
use provision_scim::{ScimAdapter, ScimConfig};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const TOKEN: &str = "SECRET-scim-bearer-token";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A reply with the SCIM media type.
pub fn scim(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/scim+json")
}

/// A reply with plain `application/json` (common in practice).
pub fn plain(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

/// A SCIM error; `status` is a string, as RFC 7644 §3.12 has it.
pub fn error(status: u16, scim_type: Option<&str>, detail: &str) -> ResponseTemplate {
    let mut body =
        json!({"schemas": [ERROR_SCHEMA], "status": status.to_string(), "detail": detail});
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    scim(status, body)
}

pub fn user(id: &str, user_name: &str, active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "userName": user_name,
        "active": active,
        "emails": [{"value": user_name, "primary": true}],
        "meta": {"resourceType": "User", "version": "W/\"1\""},
    })
}

/// A `ListResponse`; `total: None` leaves `totalResults` out.
pub fn list(resources: Vec<Value>, total: Option<u64>) -> Value {
    let mut body = json!({"schemas": [LIST_SCHEMA], "Resources": resources});
    if let Some(t) = total {
        body["totalResults"] = json!(t);
    }
    body
}

/// An adapter on `server` from the settings (no discovery request), bearer [`TOKEN`].
pub fn adapter(
    server: &MockServer,
    f: impl FnOnce(ScimConfigBuilder) -> ScimConfigBuilder,
) -> ScimAdapter {
    ScimAdapter::new(config(server, f)).unwrap()
}

pub fn config(
    server: &MockServer,
    f: impl FnOnce(ScimConfigBuilder) -> ScimConfigBuilder,
) -> ScimConfig {
    f(ScimConfig::builder()
        .system_name("app")
        .base_url(format!("{}/scim/v2/", server.uri()))
        .bearer(TOKEN))
    .build()
    .unwrap()
}

/// Over its limit: every request gets 429 with `Retry-After: 30`.
pub async fn throttled() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(error(429, None, "Too many requests").insert_header("retry-after", "30"))
        .mount(&server)
        .await;
    server
}

/// Not a SCIM service: a 404 HTML page for every path (a wrong base URL).
pub async fn not_scim() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw("<html><body>Not Found</body></html>", "text/html"),
        )
        .mount(&server)
        .await;
    server
}

/// Anything not expected: a 400 naming the request, so a test fails on it.
pub async fn catch_all(server: &MockServer) {
    Mock::given(any())
        .respond_with(error(
            400,
            Some("invalidSyntax"),
            "unexpected request in this test",
        ))
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}
