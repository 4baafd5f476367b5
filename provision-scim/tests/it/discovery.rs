//! Discovery decides the descriptor; a missing or broken discovery endpoint falls
//! back to the settings and says so (a warning in the logs, a note per endpoint).
//!
//! Unverified against a real tenant: the announced capabilities below (no PATCH,
//! `ETag` spelt in another case, a bare `ResourceTypes` array) are shapes the RFC
//! allows and applications are reported to send, not recorded exchanges;
//! scim2-server's own discovery (everything announced) is read in `peer.rs`.

use provision_core::adapter::{Adapter, read_all_accounts};
use provision_scim::ScimAdapter;
use provision_scim::config::Fallback;
use provision_scim::discovery::Origin;
use provision_testkit::secrets::LogCapture;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{catch_all, config, list, plain, scim, user};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// What a real application might announce: no PATCH, ETags, 2 results at most, no
/// enterprise extension, and a User schema without `title` — with `application/json`
/// and member names in other cases.
#[tokio::test]
async fn discovery_decides_what_the_descriptor_declares() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/ServiceProviderConfig"))
        .respond_with(plain(
            200,
            json!({
                "patch": {"supported": false},
                "bulk": {"supported": true, "maxOperations": 10},
                "filter": {"supported": true, "maxResults": 2},
                "ETag": {"supported": true},
            }),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/ResourceTypes"))
        .respond_with(scim(200, list(vec![
            json!({"id": "User", "endpoint": "/Users", "schema": USER}),
            json!({"id": "Group", "endpoint": "/Groups", "schema": "urn:ietf:params:scim:schemas:core:2.0:Group"}),
        ], Some(2))))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Schemas"))
        .respond_with(scim(200, list(vec![json!({
            "id": USER,
            "attributes": [{"name": "userName"}, {"name": "displayName"}, {"name": "active"}],
        })], None)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(query_param("count", "2"))
        .respond_with(scim(200, list(vec![user("1", "a@x.com", true)], Some(1))))
        .expect(1)
        .mount(&server)
        .await;
    let app = ScimAdapter::connect(config(&server, |b| b)).await.unwrap();
    let caps = app.capabilities();
    assert_eq!(caps.origin, Origin::Discovered);
    assert!(!caps.patch && caps.etag && caps.filter && caps.bulk && !caps.enterprise);
    assert!(caps.notes.is_empty(), "{:?}", caps.notes);
    let d = app.descriptor();
    assert!(
        d.kind("group").unwrap().whole_list_membership,
        "no PATCH: groups by PUT"
    );
    assert_eq!(
        d.profile_fields,
        ["display_name"],
        "no title, no enterprise attributes"
    );
    // `filter.maxResults` caps the page size (100 asked in the settings).
    assert_eq!(read_all_accounts(&app).await.unwrap().len(), 1);
    server.verify().await;
}

/// No discovery at all (404 page, 500, garbage): the settings decide, and the
/// adapter says so for each endpoint.
#[tokio::test]
async fn missing_or_broken_discovery_falls_back_to_the_settings_and_says_so() {
    let logs = LogCapture::start();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/ServiceProviderConfig"))
        .respond_with(ResponseTemplate::new(404).set_body_raw("<html>nope</html>", "text/html"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/ResourceTypes"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Schemas"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("not json", "application/json"))
        .mount(&server)
        .await;
    let app = ScimAdapter::connect(config(&server, |b| {
        b.fallback(Fallback {
            patch: false,
            enterprise: false,
            ..Fallback::default()
        })
    }))
    .await
    .unwrap();
    let caps = app.capabilities();
    assert_eq!(caps.origin, Origin::Settings);
    assert_eq!(caps.notes.len(), 3, "{:?}", caps.notes);
    assert!(
        caps.notes[0].starts_with("ServiceProviderConfig"),
        "{:?}",
        caps.notes
    );
    assert!(caps.notes[0].contains("settings"), "{:?}", caps.notes);
    assert!(!caps.patch && !caps.enterprise);
    let d = app.descriptor();
    assert!(d.kind("group").unwrap().whole_list_membership);
    assert_eq!(d.profile_fields, ["display_name", "title"]);
    let text = logs.text();
    assert!(
        text.contains("SCIM discovery") && text.contains("ServiceProviderConfig"),
        "{text}"
    );
}

/// `discovery: false`: no request at all.
#[tokio::test]
async fn discovery_off_sends_nothing() {
    let server = MockServer::start().await;
    let app = ScimAdapter::connect(config(&server, |b| b.discovery(false)))
        .await
        .unwrap();
    assert_eq!(app.capabilities().origin, Origin::Settings);
    assert!(server.received_requests().await.unwrap().is_empty());
}
