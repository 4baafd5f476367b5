//! A termination cancels the person's pending work: a GitLab account created by a
//! reconcile waits for its first login (GitLab makes accounts on SSO sign-in); the
//! person is terminated meanwhile; when the account then appears, the grants that
//! waited on it are never sent — nothing is granted to someone who has left.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::journal::RunId;
use support::{World, eventually, listener, login, post_signed, termination};

#[tokio::test]
async fn a_pending_account_that_appears_after_its_owner_left_gets_nothing() {
    let world = World::new(Duration::from_millis(2));
    let service = world.service("pending").await;
    // Everyone's accounts; GitLab's wait for the first login, their grants behind them.
    service.reconcile(&RunId("joiners".into())).await.unwrap();
    let gitlab = &world.systems["gitlab"];
    let grants_of = |who: &str| {
        gitlab
            .snapshot()
            .grants
            .iter()
            .filter(|(l, _)| l == &login(who))
            .count()
    };
    assert_eq!(
        grants_of("ana"),
        0,
        "nothing in GitLab before the first login"
    );

    let running = service.clone().spawn_on(listener().await).unwrap();
    let (status, json) = post_signed(running.addr, &termination("evt-1", "e1", None)).await;
    assert_eq!(status, 202, "{json}");
    assert!(
        eventually(Duration::from_secs(30), || world
            .locked_out_everywhere(&login("ana")))
        .await
    );

    // Everyone signs in to GitLab; the accounts appear. The re-check of the joiners'
    // run (every second) finishes Ben's and Cy's grants and skips Ana's.
    for who in ["ana", "ben", "cy"] {
        gitlab.sso_login(&login(who));
    }
    assert!(
        eventually(Duration::from_secs(30), || grants_of("ben") > 0).await,
        "ben, still employed, gets his GitLab grants"
    );
    // Every re-check done (no pending run left to resume), then: nothing for Ana.
    let store = service.store().clone();
    assert!(
        support::eventually_async(Duration::from_secs(30), || {
            let store = store.clone();
            async move {
                store
                    .schedule_open()
                    .await
                    .unwrap()
                    .iter()
                    .all(|j| !j.key.starts_with("resume:"))
            }
        })
        .await,
        "the joiners' run is finished"
    );
    assert_eq!(grants_of("ana"), 0, "nothing granted to ana after she left");
    running.shutdown().await.unwrap();
}
