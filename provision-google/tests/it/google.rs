//! The Google adapter against a mocked Directory API and token endpoint. Every test
//! also checks that each request conforms to the trimmed discovery document.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::adapter::{
    Adapter, AdapterError, CheckStatus, Effect, read_all_accounts, read_all_grants,
};
use provision_core::model::{AccountProfile, AccountRef, AccountState, OperationKind};
use provision_testkit::conformance;
use serde_json::{Value, json};
use support::*;
use wiremock::matchers::{
    body_json, body_partial_json, header, method, path, path_regex, query_param,
    query_param_is_missing,
};
use wiremock::{Mock, ResponseTemplate};

fn user_json(id: &str, email: &str, suspended: bool, last_login: &str, ou: &str) -> Value {
    json!({"kind":"admin#directory#user","id":id,"primaryEmail":email,"name":{"givenName":"G","familyName":"F","fullName":"G F"},
           "suspended":suspended,"lastLoginTime":last_login,"orgUnitPath":ou})
}

#[tokio::test]
async fn the_assertion_impersonates_the_admin_with_the_scopes_used() {
    let env = Env::new().await;
    // an email key is resolved to the user's own id first (never an alias's owner)
    mount_active_user(&env, "sarah@example.com").await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/users/sarah@example.com/signOut")))
        // signOut's own token: the second one (users.get used the first)
        .and(header("authorization", "Bearer ya29.token-2"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&env.api)
        .await;
    let applied = env
        .adapter
        .execute(&op(OperationKind::RevokeSessions), &sarah())
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);

    let assertions = env.assertions.lock().unwrap().clone();
    assert_eq!(assertions.len(), 2, "one token per scope set");
    let (header, claims, grant_type) = &assertions[0];
    assert_eq!(grant_type, "urn:ietf:params:oauth:grant-type:jwt-bearer");
    assert_eq!(header.kid.as_deref(), Some("test-key-id-1"));
    assert_eq!(claims["iss"], SERVICE_ACCOUNT);
    assert_eq!(
        claims["sub"], ADMIN,
        "domain-wide delegation: sub is the admin"
    );
    assert_eq!(claims["aud"], token_url(&env.token));
    let scopes: Vec<&str> = claims["scope"].as_str().unwrap().split(' ').collect();
    assert!(scopes.contains(&"https://www.googleapis.com/auth/admin.directory.user"));
    assert!(scopes.contains(&"https://www.googleapis.com/auth/admin.directory.group.member"));
    // groups.list (a user's groups, every group) needs a group scope: read only
    assert!(scopes.contains(&"https://www.googleapis.com/auth/admin.directory.group.readonly"));
    assert_eq!(
        scopes.len(),
        3,
        "only the scopes the adapter uses: {scopes:?}"
    );
    // signOut needs the user.security scope, which admin.directory.user does not
    // cover: on a token of its own, so a delegation without it breaks only sign-out
    assert_eq!(
        assertions[1].1["scope"],
        "https://www.googleapis.com/auth/admin.directory.user.security"
    );
    assert_eq!(assertions[1].1["sub"], ADMIN);
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(exp > iat && exp - iat <= 3600, "iat {iat} exp {exp}");
    assert_eq!(
        env.assert_conform().await,
        ["directory.users.get", "directory.users.signOut"]
    );
}

#[tokio::test]
async fn one_token_serves_many_calls_and_a_new_one_comes_near_expiry() {
    let env = Env::new().await;
    mount_active_user(&env, "sarah@example.com").await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/users/sarah@example.com/signOut")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&env.api)
        .await;
    for _ in 0..5 {
        env.adapter
            .execute(&op(OperationKind::RevokeSessions), &sarah())
            .await
            .unwrap();
    }
    assert_eq!(
        env.issued.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one token request per scope set for five calls"
    );

    // a token that lives 2 s, replaced 1 s before expiry
    let env = Env::with(2, |b| b.token_refresh_margin(Duration::from_secs(1))).await;
    mount_active_user(&env, "sarah@example.com").await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/users/sarah@example.com/signOut")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&env.api)
        .await;
    env.adapter
        .execute(&op(OperationKind::RevokeSessions), &sarah())
        .await
        .unwrap();
    env.adapter
        .execute(&op(OperationKind::RevokeSessions), &sarah())
        .await
        .unwrap();
    assert_eq!(env.issued.load(std::sync::atomic::Ordering::SeqCst), 2);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    env.adapter
        .execute(&op(OperationKind::RevokeSessions), &sarah())
        .await
        .unwrap();
    assert_eq!(
        env.issued.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "new tokens after the old ones neared expiry"
    );
    let auths: Vec<String> = env
        .requests()
        .await
        .iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        auths,
        // each sign-out is a users.get (the login resolved to the user's id, on the
        // directory token) and the signOut itself (on the sign-out token)
        [
            "Bearer ya29.token-1",
            "Bearer ya29.token-2",
            "Bearer ya29.token-1",
            "Bearer ya29.token-2",
            "Bearer ya29.token-3",
            "Bearer ya29.token-4"
        ]
    );
    // Every request this test made conforms to the discovery document.
    env.assert_conform().await;
}

#[tokio::test]
async fn a_rejected_assertion_is_unauthorized_with_googles_reason() {
    let env = Env::new().await;
    env.token.reset().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}),
        ))
        .mount(&env.token)
        .await;
    let err = env
        .adapter
        .execute(&op(OperationKind::SuspendAccount), &sarah())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unauthorized { .. }), "{err:?}");
    assert_eq!(
        err.system_error().unwrap().code.as_deref(),
        Some("unauthorized_client")
    );
    assert!(
        env.requests().await.is_empty(),
        "no API call without a token"
    );
    // Every request this test made conforms to the discovery document.
    env.assert_conform().await;
}

/// Three pages of users (one each), each answered exactly once.
async fn mount_three_user_pages(env: &Env) {
    let pages = [
        (
            None,
            json!({"users":[user_json("1","a@example.com",false,"2025-03-01T10:00:00.000Z","/")],"nextPageToken":"p2"}),
        ),
        (
            Some("p2"),
            json!({"users":[user_json("2","b@example.com",true,"1970-01-01T00:00:00.000Z","/Sales")],"nextPageToken":"p3"}),
        ),
        (
            Some("p3"),
            json!({"users":[user_json("3","c@example.com",false,"2025-01-01T00:00:00.000Z","/")]}),
        ),
    ];
    for (token, body) in pages {
        let mock = Mock::given(method("GET"))
            .and(path(format!("{DIR}/users")))
            .and(query_param("customer", "my_customer"))
            .and(query_param("maxResults", "500"));
        let mock = match token {
            Some(t) => mock.and(query_param("pageToken", t)),
            None => mock.and(query_param_is_missing("pageToken")),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&env.api)
            .await;
    }
}

#[tokio::test]
async fn users_list_carries_customer_uses_500_per_page_and_reads_three_pages() {
    let env = Env::new().await;
    mount_three_user_pages(&env).await;
    let accounts = read_all_accounts(&env.adapter).await.unwrap();
    assert_eq!(
        accounts
            .iter()
            .map(|a| a.login.as_str())
            .collect::<Vec<_>>(),
        ["a@example.com", "b@example.com", "c@example.com"]
    );
    assert_eq!(accounts[0].state, AccountState::Active);
    assert_eq!(accounts[1].state, AccountState::Suspended);
    assert_eq!(
        accounts[0].last_login.unwrap().to_rfc3339(),
        "2025-03-01T10:00:00+00:00"
    );
    assert_eq!(
        accounts[1].last_login, None,
        "the epoch means never signed in"
    );
    assert_eq!(accounts[1].attributes["org_unit"], "/Sales");
    assert_eq!(accounts[1].external_id, "2");
    assert_eq!(env.assert_conform().await.len(), 3);
}

#[tokio::test]
async fn users_list_uses_the_domain_when_configured() {
    let env = Env::with(3600, |b| b.domain("example.com")).await;
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users")))
        .and(query_param("domain", "example.com"))
        .and(query_param_is_missing("customer"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users":[]})))
        .expect(1)
        .mount(&env.api)
        .await;
    assert!(read_all_accounts(&env.adapter).await.unwrap().is_empty());
    env.assert_conform().await;
}

/// Three pages of members of engineering@example.com (four members, one of them a
/// nested group), each answered exactly once.
async fn mount_three_member_pages(env: &Env) {
    let member = |id: &str, email: &str, role: &str, kind: &str| json!({"kind":"admin#directory#member","id":id,"email":email,"role":role,"type":kind,"status":"ACTIVE"});
    let pages = [
        (
            None,
            json!({"members":[member("1","a@example.com","OWNER","USER"), member("g","nested@example.com","MEMBER","GROUP")],"nextPageToken":"m2"}),
        ),
        (
            Some("m2"),
            json!({"members":[member("2","b@example.com","MANAGER","USER")],"nextPageToken":"m3"}),
        ),
        (
            Some("m3"),
            json!({"members":[member("3","c@example.com","MEMBER","USER")]}),
        ),
    ];
    for (token, body) in pages {
        let mock = Mock::given(method("GET"))
            .and(path(format!(
                "{DIR}/groups/engineering@example.com/members"
            )))
            .and(query_param("maxResults", "200"));
        let mock = match token {
            Some(t) => mock.and(query_param("pageToken", t)),
            None => mock.and(query_param_is_missing("pageToken")),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&env.api)
            .await;
    }
}

#[tokio::test]
async fn members_use_200_per_page_over_three_pages_with_roles_lowercased() {
    let env = Env::new().await;
    mount_three_member_pages(&env).await;
    let resource = group("engineering@example.com", None).resource_ref();
    let grants = read_all_grants(&env.adapter, &resource).await.unwrap();
    let seen: Vec<(&str, &str)> = grants
        .iter()
        .map(|g| {
            (
                g.login.as_deref().unwrap(),
                g.entitlement.role.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("a@example.com", "owner"),
            ("b@example.com", "manager"),
            ("c@example.com", "member")
        ],
        "nested groups are not people's grants"
    );
    assert_eq!(env.assert_conform().await, ["directory.members.list"; 3]);
}

#[tokio::test]
async fn shared_pagination_scenarios_read_every_page_once() {
    let env = Env::new().await;
    mount_three_user_pages(&env).await;
    mount_three_member_pages(&env).await;
    assert_eq!(
        conformance::accounts_paginate_to_the_end(&env.adapter, 3, 3).await,
        3
    );
    let resource = group("engineering@example.com", None).resource_ref();
    // The nested group on the first page is not a grant: 3 grants over 3 pages.
    assert_eq!(
        conformance::grants_paginate_to_the_end(&env.adapter, &resource, 3, 3).await,
        3
    );
    env.assert_conform().await;
}

/// `users.get` answering an active user (suspension reads the user first).
async fn mount_active_user(env: &Env, key: &str) {
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users/{key}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            key,
            "sarah@example.com",
            false,
            "2025-01-01T00:00:00Z",
            "/",
        )))
        .mount(&env.api)
        .await;
}

#[tokio::test]
async fn rate_limits_in_both_dialects_are_rate_limited() {
    let env = Env::new().await;
    let cases = [
        (403, "userRateLimitExceeded", "User Rate Limit Exceeded"),
        (403, "rateLimitExceeded", "Rate Limit Exceeded"),
        (
            403,
            "quotaExceeded",
            "Quota exceeded for quota metric 'Queries'",
        ),
        (429, "rateLimitExceeded", "Too Many Requests"),
    ];
    for (status, reason, message) in cases {
        env.reset().await;
        mount_active_user(&env, "sarah@example.com").await;
        let mut reply = google_error(status, reason, message);
        if status == 429 {
            reply = reply.insert_header("retry-after", "7");
        }
        Mock::given(method("PUT"))
            .and(path(format!("{DIR}/users/sarah@example.com")))
            .respond_with(reply)
            .expect(1)
            .mount(&env.api)
            .await;
        let err = env
            .adapter
            .execute(&op(OperationKind::SuspendAccount), &sarah())
            .await
            .unwrap_err();
        match &err {
            AdapterError::RateLimited { info, error } => {
                assert_eq!(error.status, Some(status));
                assert_eq!(error.code.as_deref(), Some(reason));
                assert_eq!(
                    info.retry_after,
                    (status == 429).then_some(Duration::from_secs(7))
                );
            }
            other => panic!("{status} {reason}: expected rate limited, got {other:?}"),
        }
        env.assert_conform().await;
    }
}

#[tokio::test]
async fn other_403s_are_unauthorized_naming_the_reason() {
    let env = Env::new().await;
    mount_active_user(&env, "sarah@example.com").await;
    Mock::given(method("PUT"))
        .and(path(format!("{DIR}/users/sarah@example.com")))
        .and(body_partial_json(json!({"suspended": true})))
        .respond_with(google_error(
            403,
            "forbidden",
            "Not Authorized to access this resource/api",
        ))
        .mount(&env.api)
        .await;
    let err = env
        .adapter
        .execute(&op(OperationKind::SuspendAccount), &sarah())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unauthorized { .. }), "{err:?}");
    assert!(
        err.to_string().contains("forbidden") && err.to_string().contains("Not Authorized"),
        "{err}"
    );
    // Every request this test made conforms to the discovery document.
    env.assert_conform().await;
}

#[tokio::test]
async fn server_errors_and_backend_errors_are_transient() {
    let env = Env::new().await;
    for (status, reason) in [(500, "backendError"), (503, "backendError"), (502, "")] {
        env.reset().await;
        Mock::given(method("POST"))
            .and(path(format!("{DIR}/groups/eng@example.com/members")))
            .respond_with(google_error(status, reason, "Backend Error"))
            .mount(&env.api)
            .await;
        let err = env
            .adapter
            .execute(
                &op(OperationKind::Grant {
                    entitlement: group("eng@example.com", None),
                }),
                &sarah(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, AdapterError::Transient { .. }),
            "{status}: {err:?}"
        );
        assert!(err.is_retryable());
    }
    // a user created a moment ago may not be usable yet: retry, not fail
    env.reset().await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/groups/eng@example.com/members")))
        .respond_with(google_error(
            412,
            "conditionNotMet",
            "User creation is not complete.",
        ))
        .mount(&env.api)
        .await;
    let err = env
        .adapter
        .execute(
            &op(OperationKind::Grant {
                entitlement: group("eng@example.com", None),
            }),
            &sarah(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Transient { .. }), "{err:?}");
    env.assert_conform().await;
}

fn new_sarah() -> OperationKind {
    OperationKind::CreateAccount {
        profile: AccountProfile {
            login: "sarah@example.com".into(),
            email: "sarah@example.com".into(),
            display_name: "Sarah Connor".into(),
            attributes: [("department".to_owned(), "Engineering".to_owned())].into(),
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn create_sends_one_insert_with_a_random_password_and_no_forced_change() {
    let env = Env::new().await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/users")))
        .and(body_partial_json(json!({
            "primaryEmail": "sarah@example.com",
            "name": {"givenName": "Sarah", "familyName": "Connor"},
            "changePasswordAtNextLogin": false,
            "orgUnitPath": "/"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            "u-42",
            "sarah@example.com",
            false,
            "1970-01-01T00:00:00.000Z",
            "/",
        )))
        .expect(1)
        .mount(&env.api)
        .await;
    let applied = env
        .adapter
        .execute(&op(new_sarah()), &sarah())
        .await
        .unwrap();
    assert_eq!(
        (applied.effect, applied.external_id.as_deref()),
        (Effect::Changed, Some("u-42"))
    );
    let body: Value = env.requests().await[0].body_json().unwrap();
    let password = body["password"].as_str().unwrap();
    assert!(
        password.len() >= 32,
        "a strong password: {}",
        password.len()
    );
    assert_eq!(env.assert_conform().await, ["directory.users.insert"]);
}

#[tokio::test]
async fn create_of_an_existing_user_is_already_done_with_its_id() {
    let env = Env::new().await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/users")))
        .respond_with(google_error(409, "duplicate", "Entity already exists."))
        .mount(&env.api)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users/sarah@example.com")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            "u-42",
            "sarah@example.com",
            false,
            "2025-01-01T00:00:00Z",
            "/",
        )))
        .mount(&env.api)
        .await;
    let applied = env
        .adapter
        .execute(&op(new_sarah()), &sarah())
        .await
        .unwrap();
    assert_eq!(
        (applied.effect, applied.external_id.as_deref()),
        (Effect::AlreadyInPlace, Some("u-42"))
    );
    env.assert_conform().await;
}

#[tokio::test]
async fn shared_adoption_scenario_creating_an_existing_user_adds_no_duplicate() {
    let env = Env::new().await;
    let sarah_json = user_json(
        "u-42",
        "sarah@example.com",
        false,
        "2025-01-01T00:00:00Z",
        "/",
    );
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users": [sarah_json]})))
        .expect(2)
        .mount(&env.api)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/users")))
        .respond_with(google_error(409, "duplicate", "Entity already exists."))
        .expect(1)
        .mount(&env.api)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users/sarah@example.com")))
        .respond_with(ResponseTemplate::new(200).set_body_json(sarah_json))
        .mount(&env.api)
        .await;
    let account = AccountRef {
        login: "sarah@example.com".into(),
        external_id: Some("u-42".into()),
    };
    let OperationKind::CreateAccount { profile } = new_sarah() else {
        unreachable!("new_sarah is a create")
    };
    conformance::create_again_adopts(&env.adapter, &account, profile).await;
    env.assert_conform().await;
}

#[tokio::test]
async fn create_when_the_address_belongs_to_a_group_is_a_conflict() {
    let env = Env::new().await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/users")))
        .respond_with(google_error(409, "duplicate", "Entity already exists."))
        .mount(&env.api)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{DIR}/users/[^/]+$")))
        .respond_with(google_error(404, "notFound", "Resource Not Found: userKey"))
        .mount(&env.api)
        .await;
    let err = env
        .adapter
        .execute(&op(new_sarah()), &sarah())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("Entity already exists."), "{err}");
    // Every request this test made conforms to the discovery document.
    env.assert_conform().await;
}

#[tokio::test]
async fn grant_is_one_insert_with_the_google_role() {
    let env = Env::new().await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/groups/eng@example.com/members")))
        .and(body_json(
            json!({"email":"sarah@example.com","role":"MANAGER"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id":"u-42","email":"sarah@example.com","role":"MANAGER","type":"USER"}),
        ))
        .expect(1)
        .mount(&env.api)
        .await;
    let applied = env
        .adapter
        .execute(
            &op(OperationKind::Grant {
                entitlement: group("eng@example.com", Some("manager")),
            }),
            &sarah(),
        )
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    assert_eq!(env.assert_conform().await, ["directory.members.insert"]);
}

#[tokio::test]
async fn member_already_exists_is_already_done_or_a_role_change() {
    let env = Env::new().await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/groups/eng@example.com/members")))
        .respond_with(google_error(409, "duplicate", "Member already exists."))
        .mount(&env.api)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "{DIR}/groups/eng@example.com/members/sarah@example.com"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id":"u-42","email":"sarah@example.com","role":"MEMBER","type":"USER"}),
        ))
        .mount(&env.api)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!(
            "{DIR}/groups/eng@example.com/members/sarah@example.com"
        )))
        .and(body_json(json!({"role":"OWNER"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id":"u-42","email":"sarah@example.com","role":"OWNER"})),
        )
        .expect(1)
        .mount(&env.api)
        .await;
    // same role: nothing to do
    let applied = env
        .adapter
        .execute(
            &op(OperationKind::Grant {
                entitlement: group("eng@example.com", None),
            }),
            &sarah(),
        )
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::AlreadyInPlace);
    // another role: patched in place
    let applied = env
        .adapter
        .execute(
            &op(OperationKind::Grant {
                entitlement: group("eng@example.com", Some("owner")),
            }),
            &sarah(),
        )
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    assert_eq!(
        env.assert_conform().await,
        [
            "directory.members.insert",
            "directory.members.get",
            "directory.members.insert",
            "directory.members.get",
            "directory.members.patch"
        ]
    );
}

#[tokio::test]
async fn removing_a_non_member_and_deleting_a_missing_user_are_already_done() {
    let env = Env::with(3600, |b| b.delete_leavers(true)).await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "{DIR}/groups/eng@example.com/members/sarah@example.com"
        )))
        .respond_with(google_error(
            404,
            "notFound",
            "Resource Not Found: memberKey",
        ))
        .expect(1)
        .mount(&env.api)
        .await;
    // the login is resolved to the user's own id first: there is none
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users/sarah@example.com")))
        .respond_with(google_error(404, "notFound", "Resource Not Found: userKey"))
        .expect(1)
        .mount(&env.api)
        .await;
    let revoke = OperationKind::Revoke {
        entitlement: group("eng@example.com", None),
    };
    conformance::already_done_is_success(&env.adapter, &sarah(), revoke).await;
    conformance::already_done_is_success(&env.adapter, &sarah(), OperationKind::DeleteAccount)
        .await;
    assert_eq!(
        env.assert_conform().await,
        ["directory.members.delete", "directory.users.get"]
    );
}

#[tokio::test]
async fn suspending_a_missing_user_is_not_found_and_delete_needs_configuration() {
    let env = Env::new().await;
    Mock::given(method("PUT"))
        .and(path_regex(format!("^{DIR}/users/[^/]+$")))
        .and(body_partial_json(json!({"suspended": true})))
        .respond_with(google_error(404, "notFound", "Resource Not Found: userKey"))
        .mount(&env.api)
        .await;
    let err = env
        .adapter
        .execute(&op(OperationKind::SuspendAccount), &sarah())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::NotFound { .. }), "{err:?}");
    let err = env
        .adapter
        .execute(&op(OperationKind::DeleteAccount), &sarah())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unsupported { .. }), "{err:?}");
    assert_eq!(
        env.requests().await.len(),
        1,
        "no delete request when deletion is off"
    );
    // Every request this test made conforms to the discovery document.
    env.assert_conform().await;
}

#[tokio::test]
async fn a_leaver_is_signed_out_before_being_suspended() {
    let env = Env::new().await;
    mount_active_user(&env, "u-42").await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/users/u-42/signOut")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&env.api)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{DIR}/users/u-42")))
        .and(body_json(json!({"suspended": true})))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            "u-42",
            "sarah@example.com",
            true,
            "2025-01-01T00:00:00Z",
            "/",
        )))
        .expect(1)
        .mount(&env.api)
        .await;
    let account = provision_core::model::AccountRef {
        login: "sarah@example.com".into(),
        external_id: Some("u-42".into()),
    };
    env.adapter
        .execute(&op(OperationKind::RevokeSessions), &account)
        .await
        .unwrap();
    env.adapter
        .execute(&op(OperationKind::SuspendAccount), &account)
        .await
        .unwrap();
    assert_eq!(
        env.assert_conform().await,
        [
            "directory.users.signOut",
            "directory.users.get",
            "directory.users.update"
        ],
        "sign-out, then suspension (read, then one update)"
    );
}

#[tokio::test]
async fn a_department_change_moves_the_org_unit_once() {
    let env = Env::new().await;
    Mock::given(method("PUT"))
        .and(path(format!("{DIR}/users/u-42")))
        .and(body_json(json!({"orgUnitPath": "/Sales"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            "u-42",
            "sarah@example.com",
            false,
            "2025-01-01T00:00:00Z",
            "/Sales",
        )))
        .expect(1)
        .mount(&env.api)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users/sarah@example.com")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            "u-42",
            "sarah@example.com",
            false,
            "2025-01-01T00:00:00Z",
            "/Sales",
        )))
        .mount(&env.api)
        .await;
    // the planner's department change: grant the new unit, revoke the old
    let grant = op(OperationKind::Grant {
        entitlement: org_unit("/Sales"),
    });
    let revoke = op(OperationKind::Revoke {
        entitlement: org_unit("/Engineering"),
    });
    assert_eq!(
        env.adapter.execute(&grant, &sarah()).await.unwrap().effect,
        Effect::Changed
    );
    assert_eq!(
        env.adapter.execute(&revoke, &sarah()).await.unwrap().effect,
        Effect::AlreadyInPlace,
        "the user already left /Engineering"
    );
    assert_eq!(
        env.assert_conform().await,
        [
            "directory.users.get",
            "directory.users.update",
            "directory.users.get"
        ]
    );
    assert!(matches!(
        env.adapter.check(&grant, &sarah()).await.unwrap(),
        CheckStatus::Done { .. }
    ));
}

#[tokio::test]
async fn revoking_the_current_org_unit_returns_the_user_to_the_default() {
    let env = Env::with(3600, |b| b.default_org_unit("/Staff")).await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{DIR}/users/[^/]+$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            "u-42",
            "sarah@example.com",
            false,
            "2025-01-01T00:00:00Z",
            "/Engineering",
        )))
        .mount(&env.api)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{DIR}/users/u-42")))
        .and(body_json(json!({"orgUnitPath": "/Staff"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            "u-42",
            "sarah@example.com",
            false,
            "2025-01-01T00:00:00Z",
            "/Staff",
        )))
        .expect(1)
        .mount(&env.api)
        .await;
    let revoke = op(OperationKind::Revoke {
        entitlement: org_unit("/Engineering"),
    });
    assert_eq!(
        env.adapter.execute(&revoke, &sarah()).await.unwrap().effect,
        Effect::Changed
    );
    env.assert_conform().await;
}

#[tokio::test]
async fn org_unit_members_are_read_by_search_and_exact_path() {
    let env = Env::new().await;
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users")))
        .and(query_param("customer", "my_customer"))
        .and(query_param("query", "orgUnitPath='/Engineering'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users":[
            user_json("1","a@example.com",false,"2025-01-01T00:00:00Z","/Engineering"),
            user_json("2","b@example.com",false,"2025-01-01T00:00:00Z","/Engineering/Platform")]})))
        .expect(1)
        .mount(&env.api)
        .await;
    let grants = read_all_grants(&env.adapter, &org_unit("/Engineering").resource_ref())
        .await
        .unwrap();
    assert_eq!(grants.len(), 1, "sub-units are other org units");
    assert_eq!(grants[0].login.as_deref(), Some("a@example.com"));
    env.assert_conform().await;
}

#[tokio::test]
async fn profile_updates_are_one_update_call() {
    let env = Env::new().await;
    Mock::given(method("GET"))
        .and(path(format!("{DIR}/users/sarah@example.com")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            "u-42",
            "sarah@example.com",
            false,
            "2025-01-01T00:00:00Z",
            "/",
        )))
        .mount(&env.api)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{DIR}/users/u-42")))
        .and(body_json(json!({"name":{"familyName":"Reese"},"organizations":[{"department":"Sales","title":"AE","primary":true}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json("u-42", "sarah@example.com", false, "2025-01-01T00:00:00Z", "/")))
        .expect(1)
        .mount(&env.api)
        .await;
    let attributes = [
        ("family_name", "Reese"),
        ("department", "Sales"),
        ("title", "AE"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.adapter
        .execute(&op(OperationKind::UpdateAccount { attributes }), &sarah())
        .await
        .unwrap();
    env.assert_conform().await;
}

#[tokio::test]
async fn secrets_stay_out_of_debug_errors_and_logs() {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    let env = Env::new().await;
    Mock::given(method("POST"))
        .and(path(format!("{DIR}/users")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(
            "u-42",
            "sarah@example.com",
            false,
            "1970-01-01T00:00:00.000Z",
            "/",
        )))
        .mount(&env.api)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(format!("^{DIR}/users/[^/]+$")))
        .respond_with(google_error(
            403,
            "forbidden",
            "Not Authorized to access this resource/api",
        ))
        .mount(&env.api)
        .await;
    env.adapter
        .execute(&op(new_sarah()), &sarah())
        .await
        .unwrap();
    let err = env
        .adapter
        .execute(&op(OperationKind::SuspendAccount), &sarah())
        .await
        .unwrap_err();

    let password = env.requests().await[0].body_json::<Value>().unwrap()["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let key: Value = serde_json::from_str(KEY_JSON).unwrap();
    let private_key = key["private_key"].as_str().unwrap();
    let key_body = private_key.lines().nth(1).unwrap(); // a line of the key's base64
    let assertion_fragment = "eyJ"; // any JWT (header base64 starts so)
    let config = provision_google::GoogleConfig::builder()
        .service_account_key_json(KEY_JSON.to_owned())
        .admin_subject(ADMIN)
        .build()
        .unwrap();
    let texts = [
        ("logs", logs.text()),
        ("error", format!("{err} {err:?}")),
        ("adapter debug", format!("{:?}", env.adapter)),
        ("config debug", format!("{config:?}")),
    ];
    assert!(
        logs.text().contains("Directory API error"),
        "the logs were captured: {}",
        logs.text()
    );
    for (what, text) in texts {
        for secret in [
            "ya29.token-1",
            password.as_str(),
            key_body,
            assertion_fragment,
        ] {
            assert!(
                !text.contains(secret),
                "{what} contains a secret ({secret}): {text}"
            );
        }
    }
    // Every request this test made conforms to the discovery document.
    env.assert_conform().await;
}

#[test]
fn configuration_errors_name_the_missing_piece_without_the_key() {
    use provision_google::GoogleConfig;
    let err = GoogleConfig::from_lookup(|name| {
        (name == "GOOGLE_SERVICE_ACCOUNT_KEY").then(|| KEY_JSON.to_owned())
    })
    .unwrap_err();
    assert!(err.to_string().contains("GOOGLE_ADMIN_SUBJECT"), "{err}");
    let err = GoogleConfig::from_lookup(|_| None).unwrap_err();
    assert!(
        err.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{err}"
    );
    let broken = KEY_JSON.replacen("\"client_email\"", "\"client_mail\"", 1);
    let err = GoogleConfig::builder()
        .service_account_key_json(broken)
        .admin_subject(ADMIN)
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("service_account_key")
            && text.contains("client_email")
            && !text.contains("BEGIN PRIVATE KEY"),
        "{text}"
    );
    let err = GoogleConfig::builder()
        .service_account_key_file("/nonexistent/key.json")
        .admin_subject(ADMIN)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/key.json"), "{err}");
}

#[test]
fn system_config_reads_credentials_settings_and_delete_switch() {
    use provision_core::config::{CredentialRef, SystemConfig};
    let mut system = SystemConfig::new("google");
    system.credentials.insert(
        "service_account_key".into(),
        CredentialRef::Env {
            env: "MY_GOOGLE_KEY".into(),
        },
    );
    system.settings.insert("admin_subject".into(), ADMIN.into());
    system
        .settings
        .insert("default_org_unit".into(), "/Staff".into());
    system.delete_leavers = true;
    let config = provision_google::GoogleConfig::from_system_config_with(&system, |name| {
        (name == "MY_GOOGLE_KEY").then(|| KEY_JSON.to_owned())
    })
    .unwrap();
    assert_eq!(config.admin_subject(), ADMIN);
    assert_eq!(config.default_org_unit(), "/Staff");
    let err =
        provision_google::GoogleConfig::from_system_config_with(&system, |_| None).unwrap_err();
    assert!(err.to_string().contains("MY_GOOGLE_KEY"), "{err}");
}

#[test]
fn the_descriptor_declares_kinds_roles_and_capabilities() {
    let d = provision_google::adapter::descriptor();
    let group = d.kind_for_action("add_to_group").unwrap();
    assert_eq!(group.roles, ["member", "manager", "owner"]);
    assert_eq!(group.default_role.as_deref(), Some("member"));
    assert!(group.role_change_in_place);
    assert_eq!(
        d.kind_for_action("place_in_org_unit").unwrap().kind,
        "org_unit"
    );
    assert!(d.has_accounts && d.can_suspend && d.can_revoke_sessions && d.can_delete);
}

#[tokio::test]
async fn a_timeout_after_sending_is_transient_and_maybe_applied() {
    let env = Env::with(3600, |b| b.timeout(Duration::from_millis(300))).await;
    mount_active_user(&env, "sarah@example.com").await;
    Mock::given(method("PUT"))
        .and(path(format!("{DIR}/users/sarah@example.com")))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&env.api)
        .await;
    let err = env
        .adapter
        .execute(&op(OperationKind::SuspendAccount), &sarah())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Transient {
                maybe_applied: true,
                ..
            }
        ),
        "{err:?}"
    );
    // Every request this test made conforms to the discovery document.
    env.assert_conform().await;
}
