//! The PATCH shapes of the big providers, as the application receives them, and
//! PUT-only groups. Each mock matches the exact body; anything else gets a 400 and
//! fails the test.
//!
//! Shapes unverified against a real tenant: the Okta and Azure columns are from the
//! providers' published SCIM provisioning guides (what they send to applications),
//! not from a recorded exchange.

use provision_core::adapter::{Adapter, Effect};
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_scim::config::{Fallback, GroupWrites};
use provision_scim::dialect::Dialect;
use provision_testkit::conformance;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{adapter, catch_all, error, scim, user};

fn ada() -> AccountRef {
    AccountRef {
        login: "ada@example.com".into(),
        external_id: Some("u1".into()),
    }
}

fn engineering() -> Entitlement {
    Entitlement::new("app", "group", "Engineering")
}

async fn expect_patch(
    server: &MockServer,
    at: &str,
    body: serde_json::Value,
    reply: ResponseTemplate,
) {
    Mock::given(method("PATCH"))
        .and(path(at))
        .and(body_json(body))
        .respond_with(reply)
        .expect(1)
        .mount(server)
        .await;
}

/// Grants Engineering to Ada, then revokes it: the two effects.
async fn grant_then_revoke(app: &provision_scim::ScimAdapter) -> (Effect, Effect) {
    let mut effects = Vec::new();
    for kind in [
        OperationKind::Grant {
            entitlement: engineering(),
        },
        OperationKind::Revoke {
            entitlement: engineering(),
        },
    ] {
        effects.push(conformance::run(app, &ada(), kind).await.unwrap());
    }
    (effects[0], effects[1])
}

/// Grant, revoke, deactivate in one dialect; every request's body is exact.
async fn one_dialect(
    dialect: Dialect,
    add: serde_json::Value,
    remove: serde_json::Value,
    deactivate: serde_json::Value,
) {
    let server = MockServer::start().await;
    catch_all(&server).await;
    let patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    expect_patch(
        &server,
        "/scim/v2/Groups/g1",
        json!({"schemas": [patch_op], "Operations": [add]}),
        ResponseTemplate::new(204),
    )
    .await;
    expect_patch(
        &server,
        "/scim/v2/Groups/g1",
        json!({"schemas": [patch_op], "Operations": [remove]}),
        ResponseTemplate::new(204),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users/u1"))
        .respond_with(scim(200, user("u1", "ada@example.com", true)))
        .mount(&server)
        .await;
    // 200 with the resource this time (204 above): both are RFC 7644 §3.5.2.
    expect_patch(
        &server,
        "/scim/v2/Users/u1",
        json!({"schemas": [patch_op], "Operations": [deactivate]}),
        scim(200, user("u1", "ada@example.com", false)),
    )
    .await;
    let app = adapter(&server, |b| b.dialect(dialect).group("Engineering", "g1"));
    assert_eq!(
        grant_then_revoke(&app).await,
        (Effect::Changed, Effect::Changed)
    );
    let off = conformance::run(&app, &ada(), OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(off, Effect::Changed);
    server.verify().await;
}

#[tokio::test]
async fn rfc_dialect_filter_in_the_remove_path() {
    one_dialect(
        Dialect::rfc(),
        json!({"op": "add", "path": "members", "value": [{"value": "u1"}]}),
        json!({"op": "remove", "path": "members[value eq \"u1\"]"}),
        json!({"op": "replace", "path": "active", "value": false}),
    )
    .await;
}

#[tokio::test]
async fn okta_dialect_active_in_a_value_object() {
    one_dialect(
        Dialect::okta(),
        json!({"op": "add", "path": "members", "value": [{"value": "u1"}]}),
        json!({"op": "remove", "path": "members[value eq \"u1\"]"}),
        json!({"op": "replace", "value": {"active": false}}),
    )
    .await;
}

#[tokio::test]
async fn azure_dialect_value_arrays_and_capitalised_ops() {
    one_dialect(
        Dialect::azure(),
        json!({"op": "Add", "path": "members", "value": [{"value": "u1"}]}),
        json!({"op": "Remove", "path": "members", "value": [{"value": "u1"}]}),
        json!({"op": "Replace", "path": "active", "value": false}),
    )
    .await;
}

#[tokio::test]
async fn already_a_member_and_not_a_member_are_already_done() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    Mock::given(method("PATCH"))
        .and(path("/scim/v2/Groups/g1"))
        .and(body_json(Dialect::rfc().add_member("u1")))
        .respond_with(error(409, Some("uniqueness"), "already a member"))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/scim/v2/Groups/g1"))
        .and(body_json(Dialect::rfc().remove_member("u1")))
        .respond_with(error(400, Some("noTarget"), "no such member"))
        .mount(&server)
        .await;
    let app = adapter(&server, |b| b.group("Engineering", "g1"));
    assert_eq!(
        grant_then_revoke(&app).await,
        (Effect::AlreadyInPlace, Effect::AlreadyInPlace)
    );
}

/// A PUT-only group with ETags: a batch of three changes is one read and one PUT
/// with `If-Match`; a 412 (someone changed the group in between) reads again and
/// writes again, keeping the member added by hand meanwhile.
#[tokio::test]
async fn put_only_groups_write_the_whole_list_with_if_match_and_retry_on_412() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r = reads.clone();
    Mock::given(method("GET"))
        .and(path("/scim/v2/Groups/g1"))
        .respond_with(move |_: &Request| {
            let n = r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // The second read sees a member someone added by hand, and a new version.
            let mut members = vec![json!({"value": "u0", "type": "User"}), json!({"value": "nested", "type": "Group"})];
            if n > 0 {
                members.push(json!({"value": "hand", "type": "User"}));
            }
            let version = format!("W/\"{}\"", n + 1);
            scim(200, json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "Engineering", "members": members, "meta": {"version": version}}))
                .insert_header("etag", version.as_str())
        })
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/scim/v2/Groups/g1"))
        .and(header("if-match", "W/\"1\""))
        .respond_with(error(412, None, "version mismatch"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/scim/v2/Groups/g1"))
        .and(header("if-match", "W/\"2\""))
        .respond_with(|req: &Request| scim(200, serde_json::from_slice(&req.body).unwrap()))
        .expect(1)
        .mount(&server)
        .await;
    let app = adapter(&server, |b| {
        b.group("Engineering", "g1")
            .group_writes(GroupWrites::Put)
            .fallback(Fallback {
                etag: true,
                ..Fallback::default()
            })
    });
    assert!(
        app.descriptor()
            .kind("group")
            .unwrap()
            .whole_list_membership
    );
    let op = |login: &str, id: &str, grant: bool| {
        let kind = if grant {
            OperationKind::Grant {
                entitlement: engineering(),
            }
        } else {
            OperationKind::Revoke {
                entitlement: engineering(),
            }
        };
        (
            conformance::operation(&app, login, kind),
            AccountRef {
                login: login.into(),
                external_id: Some(id.into()),
            },
        )
    };
    let batch = vec![
        op("a@x.com", "u1", true),
        op("b@x.com", "u2", true),
        op("c@x.com", "u0", false),
        op("d@x.com", "u9", false),
    ];
    let results = app.execute_batch(&batch).await;
    let effects: Vec<Effect> = results.into_iter().map(|r| r.unwrap().effect).collect();
    assert_eq!(
        effects,
        [
            Effect::Changed,
            Effect::Changed,
            Effect::Changed,
            Effect::AlreadyInPlace
        ]
    );
    server.verify().await;
    let puts: Vec<serde_json::Value> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let last = &puts[1];
    let ids: Vec<&str> = last["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["nested", "hand", "u1", "u2"],
        "the hand-added member and the nested group are kept"
    );
    assert!(last.get("meta").is_none());
    let counts = app.request_counts();
    assert_eq!(
        (counts.reads, counts.writes),
        (2, 2),
        "one read and one write per attempt"
    );
}

/// Discovery announced PATCH; the application answers 501 to it. The change is made
/// by PUT, and groups are written by PUT from then on.
#[tokio::test]
async fn a_patch_announced_but_refused_falls_back_to_put() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    Mock::given(method("PATCH"))
        .and(path("/scim/v2/Groups/g1"))
        .respond_with(error(501, None, "PATCH is not implemented"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/scim/v2/Groups/g1"))
        .respond_with(scim(
            200,
            json!({"id": "g1", "displayName": "Engineering", "members": []}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/scim/v2/Groups/g1"))
        .and(body_json(
            json!({"id": "g1", "displayName": "Engineering", "members": [{"value": "u1"}]}),
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let app = adapter(&server, |b| b.group("Engineering", "g1"));
    assert_eq!(app.group_writes(), GroupWrites::Patch);
    let grant = conformance::run(
        &app,
        &ada(),
        OperationKind::Grant {
            entitlement: engineering(),
        },
    )
    .await
    .unwrap();
    assert_eq!(grant, Effect::Changed);
    assert_eq!(app.group_writes(), GroupWrites::Put);
    server.verify().await;
}
