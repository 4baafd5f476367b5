//! Access requests over HTTP: opened by an authenticated requester, refused to
//! anyone but the approver (403, never naming who may decide), unknown (404),
//! approved and granted at once through the executor — the audit record's reason
//! naming requester, approver and request — rejected, and listed.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::audit::AuditLog;
use provision_core::model::Entitlement;
use serde_json::{Value, json};
use support::{World, call, listener, login};

const GOVERNANCE: &str = "governance:\n  default_approver: {owner: sec-lead}\n";

/// The callers of these tests: requesters, the approver, someone who is neither.
fn config_extra() -> String {
    format!(
        "{GOVERNANCE}{}",
        support::auth_section(&[
            ("ben", &["requester"]),
            ("cy", &["requester"]),
            ("sec-lead", &["approver", "requester"]),
            ("mallory", &["requester", "approver"]),
            ("audrey", &["auditor"]),
        ])
    )
}

fn new_request(beneficiary: &str, resource: &str) -> Value {
    let ends = chrono::Utc::now() + chrono::Duration::days(7);
    json!({
        "beneficiary": beneficiary,
        "entitlement": {"system": "okta", "kind": "group", "resource": resource},
        "ends_at": ends.to_rfc3339(),
        "justification": "on-call rotation",
    })
}

#[tokio::test]
async fn an_approved_request_is_granted_and_anyone_but_the_approver_is_refused() {
    let world = World::new(Duration::from_millis(2));
    let service =
        provision_server::Service::start(world.config("req", &config_extra()), world.parts())
            .await
            .unwrap();
    world.provision_everyone(&service).await;
    let running = service.clone().spawn_on(listener().await).unwrap();
    let base = format!("http://{}", running.addr);
    let post = reqwest::Method::POST;

    // Ben asks for Ana to join incident-responders (no policy gives it).
    let (status, opened) = call(
        post.clone(),
        format!("{base}/requests"),
        Some("ben"),
        Some(new_request("e1", "incident-responders")),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(
        opened["grant"],
        Value::Null,
        "nothing granted before approval"
    );
    let id = opened["request"]["id"].as_str().unwrap().to_owned();
    let wanted = Entitlement::new("okta", "group", "incident-responders");
    let holds = |w: &World| {
        w.systems["okta"]
            .snapshot()
            .grants
            .contains(&(login("ana"), wanted.clone()))
    };
    assert!(!holds(&world));

    // A body never says who the requester is: refused, not believed.
    let mut claimed = new_request("e1", "incident-responders");
    claimed["requester"] = json!("sec-lead");
    let (status, body) = call(
        post.clone(),
        format!("{base}/requests"),
        Some("mallory"),
        Some(claimed),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("requester"), "{body}");

    // Someone who is not the approver: 403, not naming who may decide; nothing
    // granted.
    let (status, refused) = call(
        post.clone(),
        format!("{base}/requests/{id}/approve"),
        Some("mallory"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    let reason = refused["error"].as_str().unwrap();
    assert!(
        reason.contains("mallory") && !reason.contains("sec-lead"),
        "{reason}"
    );
    // A requester without the approver role: 403 before anything is looked up.
    let (status, _) = call(
        post.clone(),
        format!("{base}/requests/{id}/approve"),
        Some("ben"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403);
    // Anonymous, naming the approver in a header or the body: 401.
    let forged = reqwest::Client::new()
        .post(format!("{base}/requests/{id}/approve"))
        .header("X-Provision-User", "sec-lead")
        .json(&json!({"by": "sec-lead"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    // The approver, but not as JSON (a form a web page could post): 415.
    let form = reqwest::Client::new()
        .post(format!("{base}/requests/{id}/approve"))
        .bearer_auth(support::token_of("sec-lead"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 415);
    // The approver, from a page on another site: 403.
    let cross = reqwest::Client::new()
        .post(format!("{base}/requests/{id}/approve"))
        .bearer_auth(support::token_of("sec-lead"))
        .header("origin", "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403);
    assert!(!holds(&world));

    // An unknown request: 404.
    let (status, unknown) = call(
        post.clone(),
        format!("{base}/requests/req-nope/approve"),
        Some("sec-lead"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 404, "{unknown}");

    // The approver: granted at once.
    let (status, approved) = call(
        post.clone(),
        format!("{base}/requests/{id}/approve"),
        Some("sec-lead"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    assert!(holds(&world), "ana is in incident-responders");
    let ops = approved["grant"]["operations"].as_array().unwrap();
    assert!(
        ops.iter()
            .any(|op| op["entitlement"]["resource"] == "incident-responders"),
        "{approved}"
    );

    // The grant's audit record says who asked, who approved, and which request.
    let records = AuditLog::records(&**service.store()).await.unwrap();
    let grant = records
        .iter()
        .find(|r| {
            r.event.entitlement.as_ref() == Some(&wanted)
                && r.event.outcome == provision_core::audit::AuditOutcome::Changed
                && r.event.action != "request_approved"
                && r.event.action != "request_opened"
                && r.event.action != "request_provisioned"
        })
        .expect("the grant is audited");
    let detail = &grant.event.reason.detail;
    assert!(
        detail.contains(&id) && detail.contains("ben") && detail.contains("sec-lead"),
        "{detail}"
    );

    // Decided already: 409.
    let (status, _) = call(
        post.clone(),
        format!("{base}/requests/{id}/approve"),
        Some("sec-lead"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 409);

    // A second request, rejected (a rejection needs a reason); never granted.
    let (_, second) = call(
        post.clone(),
        format!("{base}/requests"),
        Some("cy"),
        Some(new_request("e3", "prod-admins")),
    )
    .await;
    let second_id = second["request"]["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        post.clone(),
        format!("{base}/requests/{second_id}/reject"),
        Some("sec-lead"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, rejected) = call(
        post.clone(),
        format!("{base}/requests/{second_id}/reject"),
        Some("sec-lead"),
        Some(json!({"reason": "use break-glass instead"})),
    )
    .await;
    assert_eq!(status, 200, "{rejected}");
    let prod = Entitlement::new("okta", "group", "prod-admins");
    assert!(
        !world.systems["okta"]
            .snapshot()
            .grants
            .contains(&(login("cy"), prod))
    );

    // Four eyes: the approver asking for access they would approve themself: 422,
    // nothing stored.
    let (status, body) = call(
        post.clone(),
        format!("{base}/requests"),
        Some("sec-lead"),
        Some(new_request("e2", "prod-admins")),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("four eyes"), "{body}");

    // A request without a window end is refused, nothing stored.
    let mut endless = new_request("e2", "x");
    endless.as_object_mut().unwrap().remove("ends_at");
    let (status, body) = call(
        post.clone(),
        format!("{base}/requests"),
        Some("ben"),
        Some(endless),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // Nobody anonymous lists requests (they name people and justifications).
    let (status, _) = call(reqwest::Method::GET, format!("{base}/requests"), None, None).await;
    assert_eq!(status, 401);
    // A requester sees their own only.
    let (status, own) = call(
        reqwest::Method::GET,
        format!("{base}/requests"),
        Some("cy"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(own.as_array().unwrap().len(), 1, "{own}");
    // Both requests are listed, with what happened to them, to an auditor.
    let (status, list) = call(
        reqwest::Method::GET,
        format!("{base}/requests"),
        Some("audrey"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let text = Value::Array(list.clone()).to_string();
    assert!(
        text.contains("sec-lead") && text.contains("use break-glass instead"),
        "{text}"
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_approved_grant_is_revoked_when_its_window_ends() {
    let world = World::new(Duration::from_millis(2));
    let service =
        provision_server::Service::start(world.config("end", &config_extra()), world.parts())
            .await
            .unwrap();
    world.provision_everyone(&service).await;
    let running = service.clone().spawn_on(listener().await).unwrap();
    let base = format!("http://{}", running.addr);

    let mut body = new_request("e1", "war-room");
    let ends = chrono::Utc::now() + chrono::Duration::seconds(3);
    body["ends_at"] = json!(ends.to_rfc3339());
    let (status, opened) = call(
        reqwest::Method::POST,
        format!("{base}/requests"),
        Some("ben"),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["request"]["id"].as_str().unwrap().to_owned();
    let (status, approved) = call(
        reqwest::Method::POST,
        format!("{base}/requests/{id}/approve"),
        Some("sec-lead"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    let wanted = Entitlement::new("okta", "group", "war-room");
    let holds = || {
        world.systems["okta"]
            .snapshot()
            .grants
            .contains(&(login("ana"), wanted.clone()))
    };
    assert!(holds(), "granted while the window is open");
    assert!(
        support::eventually(Duration::from_secs(15), || !holds()).await,
        "revoked once the window ended"
    );
    assert!(chrono::Utc::now() >= ends, "not before the window's end");
    assert!(
        world.has_access_everywhere(&login("ana")),
        "policy access kept"
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_request_starting_later_is_granted_at_its_start_not_at_approval() {
    let world = World::new(Duration::from_millis(2));
    let service =
        provision_server::Service::start(world.config("start", &config_extra()), world.parts())
            .await
            .unwrap();
    world.provision_everyone(&service).await;
    let running = service.clone().spawn_on(listener().await).unwrap();
    let base = format!("http://{}", running.addr);

    let mut body = new_request("e2", "release-managers");
    let starts = chrono::Utc::now() + chrono::Duration::seconds(3);
    body["starts_at"] = json!(starts.to_rfc3339());
    let (status, opened) = call(
        reqwest::Method::POST,
        format!("{base}/requests"),
        Some("ben"),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["request"]["id"].as_str().unwrap().to_owned();
    let (status, approved) = call(
        reqwest::Method::POST,
        format!("{base}/requests/{id}/approve"),
        Some("sec-lead"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    let wanted = Entitlement::new("okta", "group", "release-managers");
    let holds = || {
        world.systems["okta"]
            .snapshot()
            .grants
            .contains(&(login("ben"), wanted.clone()))
    };
    assert!(!holds(), "not before its start");
    assert!(
        support::eventually(Duration::from_secs(15), holds).await,
        "granted at its start"
    );
    assert!(
        chrono::Utc::now() >= starts,
        "not before the window's start"
    );
    running.shutdown().await.unwrap();
}

/// Without a `governance:` section the service's plans carry no approved requests (a
/// reconcile could take such a grant back), so requests are not taken at all.
#[tokio::test]
async fn without_a_governance_section_requests_are_refused_and_nothing_is_stored() {
    let world = World::new(Duration::from_millis(2));
    let service = provision_server::Service::start(
        world.config("nogov", &support::auth_section(&[("ben", &["requester"])])),
        world.parts(),
    )
    .await
    .unwrap();
    let running = service.clone().spawn_on(listener().await).unwrap();
    let base = format!("http://{}", running.addr);
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{base}/requests"),
        Some("ben"),
        Some(new_request("e1", "incident-responders")),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.to_string().contains("governance:"), "{body}");
    assert!(service.access_requests().await.unwrap().is_empty());
    running.shutdown().await.unwrap();
}

/// A requester withdraws an approved request and its grant goes at once; someone else
/// cannot withdraw it; an admin ends another early with a reason; both are audited.
#[tokio::test]
async fn a_withdrawn_or_revoked_request_loses_its_grant_at_once() {
    let world = World::new(Duration::from_millis(2));
    let extra = format!(
        "{GOVERNANCE}{}",
        support::auth_section(&[
            ("ben", &["requester"]),
            ("cy", &["requester"]),
            ("sec-lead", &["approver"]),
            ("it-admin", &["admin"]),
        ])
    );
    let service = provision_server::Service::start(world.config("wd", &extra), world.parts())
        .await
        .unwrap();
    world.provision_everyone(&service).await;
    let running = service.clone().spawn_on(listener().await).unwrap();
    let base = format!("http://{}", running.addr);
    let post = reqwest::Method::POST;
    let holds = |resource: &str| {
        world.systems["okta"]
            .snapshot()
            .grants
            .contains(&(login("ana"), Entitlement::new("okta", "group", resource)))
    };
    let mut ids = Vec::new();
    for resource in ["incident-responders", "prod-admins"] {
        let (status, opened) = call(
            post.clone(),
            format!("{base}/requests"),
            Some("ben"),
            Some(new_request("e1", resource)),
        )
        .await;
        assert_eq!(status, 201, "{opened}");
        let id = opened["request"]["id"].as_str().unwrap().to_owned();
        let (status, body) = call(
            post.clone(),
            format!("{base}/requests/{id}/approve"),
            Some("sec-lead"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(holds(resource));
        ids.push(id);
    }

    // Cy did not open it: 403, nothing changes.
    let (status, body) = call(
        post.clone(),
        format!("{base}/requests/{}/withdraw", ids[0]),
        Some("cy"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(holds("incident-responders"));
    // Ben withdraws it: revoked now, not at the window's end.
    let (status, body) = call(
        post.clone(),
        format!("{base}/requests/{}/withdraw", ids[0]),
        Some("ben"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!holds("incident-responders"), "{body}");
    assert!(holds("prod-admins"));

    // Only an admin revokes early, and only with a reason.
    let revoke = format!("{base}/requests/{}/revoke", ids[1]);
    let (status, _) = call(
        post.clone(),
        revoke.clone(),
        Some("sec-lead"),
        Some(json!({"reason": "x"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        post.clone(),
        revoke.clone(),
        Some("it-admin"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, body) = call(
        post.clone(),
        revoke.clone(),
        Some("it-admin"),
        Some(json!({"reason": "audit finding 12"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!holds("prod-admins"));
    assert_eq!(
        body["request"]["events"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["event"],
        "revoked"
    );
    // Closed: a second revocation is 409.
    let (status, _) = call(
        post,
        revoke,
        Some("it-admin"),
        Some(json!({"reason": "again"})),
    )
    .await;
    assert_eq!(status, 409);

    let records = AuditLog::records(&**service.store()).await.unwrap();
    for (action, needle) in [
        ("request_withdrawn", "withdrawn by ben"),
        (
            "request_revoked",
            "revoked early by it-admin: audit finding 12",
        ),
    ] {
        let record = records
            .iter()
            .find(|r| r.event.action == action)
            .unwrap_or_else(|| panic!("no {action} record"));
        assert!(
            record.event.reason.detail.contains(needle),
            "{}",
            record.event.reason.detail
        );
    }
    running.shutdown().await.unwrap();
}

/// A requester past `max_open_requests` (or `max_requests_per_hour`) is refused with
/// 429, naming the limit, and nothing is stored.
#[tokio::test]
async fn a_flood_of_requests_from_one_requester_is_refused() {
    let world = World::new(Duration::from_millis(1));
    let extra = format!(
        "governance:\n  default_approver: {{owner: sec-lead}}\n  max_open_requests: 2\n  \
         max_requests_per_hour: 3\n{}",
        support::auth_section(&[("ben", &["requester"]), ("sec-lead", &["approver"])])
    );
    let service = provision_server::Service::start(world.config("flood", &extra), world.parts())
        .await
        .unwrap();
    let running = service.clone().spawn_on(listener().await).unwrap();
    let base = format!("http://{}", running.addr);
    let post = reqwest::Method::POST;
    let open = |resource: &'static str| {
        call(
            post.clone(),
            format!("{base}/requests"),
            Some("ben"),
            Some(new_request("e1", resource)),
        )
    };
    let (first, one) = open("g1").await;
    assert_eq!(first, 201, "{one}");
    assert_eq!(open("g2").await.0, 201);
    let (status, body) = open("g3").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("max_open_requests"),
        "{body}"
    );
    // Rejecting one frees an open slot; with one open, three were opened this hour.
    let id = one["request"]["id"].as_str().unwrap();
    let (status, _) = call(
        post.clone(),
        format!("{base}/requests/{id}/reject"),
        Some("sec-lead"),
        Some(json!({"reason": "no"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, four) = open("g4").await;
    assert_eq!(status, 201, "{four}");
    let (status, _) = call(
        post.clone(),
        format!(
            "{base}/requests/{}/reject",
            four["request"]["id"].as_str().unwrap()
        ),
        Some("sec-lead"),
        Some(json!({"reason": "no"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = open("g5").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("max_requests_per_hour"),
        "{body}"
    );
    assert_eq!(service.access_requests().await.unwrap().len(), 3);
    running.shutdown().await.unwrap();
}
