//! Access reviews over HTTP: a stored campaign listed for auditors and, narrowed to
//! their own items, for reviewers; decisions recorded as the authenticated caller
//! (never a body's), refused for someone else's item or one's own access, a second
//! time, or on an unknown campaign; a revoke executed at once and in the audit log.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::audit::{AuditLog, AuditOutcome};
use provision_core::model::Entitlement;
use provision_governance::{NewCampaign, ReviewScope};
use serde_json::json;
use support::{World, call, listener, login};

/// Slack's owner is `lead` (no one in the roster), Okta's is Ben (e2): nobody in
/// the roster has a manager, so owners review.
fn config_extra() -> String {
    format!(
        "governance:\n  owners:\n    - {{system: slack, owner: lead}}\n    - {{system: okta, owner: e2}}\n{}",
        support::auth_section(&[
            ("lead", &["reviewer"]),
            ("e2", &["reviewer"]),
            ("audrey", &["auditor"]),
            ("mallory", &["requester", "approver"]),
        ])
    )
}

#[tokio::test]
async fn reviewers_decide_only_their_own_items_as_themselves_and_a_revoke_runs_at_once() {
    let world = World::new(Duration::from_millis(2));
    let service =
        provision_server::Service::start(world.config("rev", &config_extra()), world.parts())
            .await
            .unwrap();
    world.provision_everyone(&service).await;
    // By hand: Ana in #random, Ben and Cy in Okta's admins.
    let random = Entitlement::new("slack", "channel", "#random");
    let admins = Entitlement::new("okta", "group", "admins");
    world.systems["slack"].with_grant(&login("ana"), random.clone());
    world.systems["okta"].with_grant(&login("ben"), admins.clone());
    world.systems["okta"].with_grant(&login("cy"), admins.clone());
    let campaign = service
        .open_review(NewCampaign::new(
            "Q1 2027",
            ReviewScope::all(),
            chrono::Utc::now() + chrono::Duration::days(14),
        ))
        .await
        .unwrap();
    assert_eq!(campaign.items.len(), 3, "{:?}", campaign.items);
    let item_of = |login_: &str| {
        campaign
            .items
            .iter()
            .find(|i| i.login == login(login_))
            .unwrap()
            .id
            .clone()
    };
    let (ana, ben, cy) = (item_of("ana"), item_of("ben"), item_of("cy"));
    let running = service.clone().spawn_on(listener().await).unwrap();
    let base = format!("http://{}", running.addr);
    let (get, post) = (reqwest::Method::GET, reqwest::Method::POST);
    let id = campaign.id.clone();

    // Who may list: not anonymous (401), not a requester (403).
    let (status, _) = call(get.clone(), format!("{base}/campaigns"), None, None).await;
    assert_eq!(status, 401);
    let (status, _) = call(
        get.clone(),
        format!("{base}/campaigns"),
        Some("mallory"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, all) = call(
        get.clone(),
        format!("{base}/campaigns"),
        Some("audrey"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all[0]["state"]["items"], 3, "{all}");
    let (status, mine) = call(get.clone(), format!("{base}/campaigns"), Some("lead"), None).await;
    assert_eq!(status, 200, "{mine}");
    let reviewers = mine[0]["state"]["reviewers"].as_object().unwrap();
    assert_eq!(
        reviewers.keys().collect::<Vec<_>>(),
        ["lead"],
        "a reviewer sees only their own progress: {mine}"
    );

    // Items: the caller's own; someone else's only for an auditor.
    let items = format!("{base}/campaigns/{id}/items");
    let (status, list) = call(get.clone(), items.clone(), Some("lead"), None).await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ana.as_str()], "{list}");
    let (status, _) = call(
        get.clone(),
        format!("{items}?reviewer=e2"),
        Some("lead"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, list) = call(
        get.clone(),
        format!("{items}?reviewer=e2"),
        Some("audrey"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");

    let decisions = format!("{base}/campaigns/{id}/decisions");
    let revoke = |item: &str| json!({"item": item, "decision": "revoke", "reason": "not needed"});
    // The body never says who decides: refused, not believed.
    let (status, body) = call(
        post.clone(),
        decisions.clone(),
        Some("lead"),
        Some(json!({"decisions": [revoke(&cy)], "reviewer": "e2"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // Someone else's item: 403, not naming who may decide; nothing recorded.
    let (status, body) = call(
        post.clone(),
        decisions.clone(),
        Some("lead"),
        Some(json!({"decisions": [revoke(&ana), revoke(&cy)]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let refused = body["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{body}");
    assert_eq!(refused[0]["row"], 2);
    assert!(!body.to_string().contains("e2"), "{body}");
    // One's own access: 403.
    let (status, body) = call(
        post.clone(),
        decisions.clone(),
        Some("e2"),
        Some(json!({"decisions": [{"item": ben, "decision": "keep", "reason": "mine"}]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("own access"), "{body}");
    assert!(service.store().decisions(&id).await.unwrap().is_empty());
    assert!(
        world.systems["slack"]
            .snapshot()
            .grants
            .contains(&(login("ana"), random.clone()))
    );

    // Lead revokes Ana's channel: recorded as lead, with how lead authenticated, and
    // executed at once.
    let (status, body) = call(
        post.clone(),
        decisions.clone(),
        Some("lead"),
        Some(json!({"decisions": [revoke(&ana)]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["decisions"][0]["reviewer"], "lead");
    assert_eq!(body["decisions"][0]["via"], "HTTP, API token lead");
    assert!(
        !world.systems["slack"]
            .snapshot()
            .grants
            .contains(&(login("ana"), random.clone())),
        "the revoke ran"
    );
    let records = AuditLog::records(&**service.store()).await.unwrap();
    let executed = records
        .iter()
        .find(|r| {
            r.event.entitlement.as_ref() == Some(&random)
                && r.event.action == "revoke"
                && r.event.reason.event.as_deref() == Some(&format!("access-review:{id}"))
        })
        .expect("the executed revoke is in the audit log");
    assert_eq!(executed.event.outcome, AuditOutcome::Changed);
    assert!(
        executed
            .event
            .reason
            .detail
            .contains("revoke decided by lead")
    );

    // A second decision: 409.
    let (status, _) = call(
        post.clone(),
        decisions.clone(),
        Some("lead"),
        Some(json!({"decisions": [revoke(&ana)]})),
    )
    .await;
    assert_eq!(status, 409);
    // Ben keeps Cy's: an exception until the campaign's expiry.
    let (status, body) = call(
        post.clone(),
        decisions.clone(),
        Some("e2"),
        Some(json!({"decisions": [{"item": cy, "decision": "keep", "reason": "on-call admin"}]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let exceptions = service.store().exceptions().await.unwrap();
    assert_eq!(exceptions.len(), 1);
    assert_eq!(exceptions[0].identity.as_str(), "e3");
    assert_eq!(exceptions[0].approver, "e2");
    assert_eq!(Some(exceptions[0].expires_at), campaign.keep_until);

    // An unknown campaign: 404.
    let (status, _) = call(
        post.clone(),
        format!("{base}/campaigns/rc-nope/decisions"),
        Some("lead"),
        Some(json!({"decisions": [revoke(&ana)]})),
    )
    .await;
    assert_eq!(status, 404);
    running.shutdown().await.unwrap();
}
