//! The error and paging dialect: 409 `uniqueness` (its `status` a string), 1-based
//! `startIndex` and `Resources`, a missing `totalResults`, `application/json` replies,
//! 429 with `Retry-After`, filter values escaped, filters refused.
//!
//! Answer shapes: the 409 body (string `status`, `scimType: uniqueness`), 1-based
//! paging and `Resources` are RFC 7644's and scim2-server answers them so (see
//! `peer.rs`). Unverified against a real tenant: a `ListResponse` without
//! `totalResults` with short pages before the end, `application/json` replies, 429
//! with `Retry-After` (Slack's and GitHub's documented behaviour, `apis/scim.md`
//! [2nd]), and a filter announced then refused with 400 `invalidFilter`.

use std::time::Duration;

use provision_core::adapter::{Adapter, AdapterError, Applied, Effect, read_all_accounts};
use provision_core::model::{AccountRef, AccountState, OperationKind};
use provision_testkit::conformance;
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer};

use crate::support::{adapter, catch_all, error, list, plain, scim, user};

/// Creates ada@example.com through an adapter on `server`.
async fn create_ada(server: &MockServer) -> Result<Applied, AdapterError> {
    let app = adapter(server, |b| b);
    let op = conformance::operation(
        &app,
        "ada@example.com",
        OperationKind::CreateAccount {
            profile: conformance::profile("ada@example.com", "Ada Lovelace"),
        },
    );
    app.execute(&op, &AccountRef::by_login("ada@example.com"))
        .await
}

#[tokio::test]
async fn a_uniqueness_conflict_adopts_the_same_person_and_reactivates_them() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    Mock::given(method("POST"))
        .and(path("/scim/v2/Users"))
        .respond_with(plain(
            409,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "409", "scimType": "uniqueness", "detail": "userName exists",
            }),
        ))
        .mount(&server)
        .await;
    let mut existing = user("u7", "ADA@example.com", false);
    existing["externalId"] = json!("ada@example.com");
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(query_param("filter", "userName eq \"ada@example.com\""))
        .respond_with(plain(200, json!({"Resources": [existing]})))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/scim/v2/Users/u7"))
        .respond_with(wiremock::ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let applied = create_ada(&server).await.unwrap();
    assert_eq!(applied.effect, Effect::AlreadyInPlace);
    assert_eq!(applied.external_id.as_deref(), Some("u7"));
    assert!(applied.note.unwrap().contains("reactivated"));
    server.verify().await;
}

#[tokio::test]
async fn a_uniqueness_conflict_with_another_persons_hr_id_is_not_adopted() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    Mock::given(method("POST"))
        .and(path("/scim/v2/Users"))
        .respond_with(error(409, Some("uniqueness"), "userName exists"))
        .mount(&server)
        .await;
    let mut existing = user("u7", "ada@example.com", true);
    existing["externalId"] = json!("e0042");
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(query_param("filter", "userName eq \"ada@example.com\""))
        .respond_with(scim(200, list(vec![existing], Some(1))))
        .mount(&server)
        .await;
    let e = create_ada(&server).await.unwrap_err();
    assert_eq!(e.class(), "conflict");
    let se = e.system_error().unwrap();
    assert_eq!(
        (se.status, se.code.as_deref()),
        (Some(409), Some("uniqueness"))
    );
    assert!(se.message.contains("e0042"), "{se}");
}

/// No `totalResults`, short pages before the end, `application/json`: the read goes
/// on until an empty page, with 1-based `startIndex`.
#[tokio::test]
async fn pages_without_total_results_are_read_to_an_empty_page() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    let page = |start: &str, users: Vec<serde_json::Value>| {
        Mock::given(method("GET"))
            .and(path("/scim/v2/Users"))
            .and(query_param("startIndex", start))
            .and(query_param("count", "2"))
            .respond_with(plain(200, list(users, None)))
            .expect(1)
    };
    page(
        "1",
        vec![user("1", "a@x.com", true), user("2", "b@x.com", false)],
    )
    .mount(&server)
    .await;
    page("3", vec![user("3", "c@x.com", true)])
        .mount(&server)
        .await;
    page("4", vec![]).mount(&server).await;
    let app = adapter(&server, |b| b.page_size(2));
    let accounts = read_all_accounts(&app).await.unwrap();
    let logins: Vec<&str> = accounts.iter().map(|a| a.login.as_str()).collect();
    assert_eq!(logins, ["a@x.com", "b@x.com", "c@x.com"]);
    assert_eq!(accounts[1].state, AccountState::Suspended);
    server.verify().await;
}

#[tokio::test]
async fn pages_with_total_results_stop_at_the_total() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(query_param("startIndex", "1"))
        .respond_with(scim(
            200,
            list(
                vec![user("1", "a@x.com", true), user("2", "b@x.com", true)],
                Some(3),
            ),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(query_param("startIndex", "3"))
        .respond_with(scim(200, list(vec![user("3", "c@x.com", true)], Some(3))))
        .expect(1)
        .mount(&server)
        .await;
    let app = adapter(&server, |b| b.page_size(2));
    assert_eq!(read_all_accounts(&app).await.unwrap().len(), 3);
    server.verify().await;
}

#[tokio::test]
async fn a_429_says_when_to_come_back() {
    let server = crate::support::throttled().await;
    let app = adapter(&server, |b| b);
    let e = app.read_accounts(None).await.unwrap_err();
    let AdapterError::RateLimited { info, error } = e else {
        panic!("{e:?}")
    };
    assert_eq!(info.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(error.status, Some(429));
}

/// A login with `"` and `\` cannot close the filter's literal.
#[tokio::test]
async fn a_user_name_is_escaped_in_the_filter() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    let hostile = r#"x" or userName pr or "\@example.com"#;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(query_param(
            "filter",
            r#"userName eq "x\" or userName pr or \"\\@example.com""#,
        ))
        .respond_with(scim(200, list(vec![], Some(0))))
        .expect(1)
        .mount(&server)
        .await;
    let app = adapter(&server, |b| b);
    let held = app
        .read_account_grants(&AccountRef::by_login(hostile), None)
        .await
        .unwrap();
    assert!(held.items.is_empty());
    server.verify().await;
}

/// Filters announced, then refused (400 `invalidFilter`): the user is found by
/// reading the list, and filters are not tried again.
#[tokio::test]
async fn a_refused_filter_falls_back_to_reading_the_list() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(query_param("filter", "userName eq \"b@x.com\""))
        .respond_with(error(
            400,
            Some("invalidFilter"),
            "filtering is not supported",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(query_param_is_missing("filter"))
        .respond_with(scim(
            200,
            list(
                vec![user("1", "a@x.com", true), user("2", "B@x.com", true)],
                Some(2),
            ),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users/2"))
        .respond_with(scim(200, user("2", "B@x.com", true)))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/scim/v2/Users/2"))
        .respond_with(wiremock::ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let app = adapter(&server, |b| b);
    let effect = conformance::run(
        &app,
        &AccountRef::by_login("b@x.com"),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::Changed);
    server.verify().await;
}
