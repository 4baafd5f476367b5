//! User groups: `usergroups.users.update` replaces the whole list, so every change is
//! read, modify, write — one write for a batch — and a member added by hand between
//! the read and the write is kept.
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::{Adapter, AdapterError, Effect};
use provision_core::model::{AccountRef, Entitlement, Operation, OperationKind};
use provision_slack::SlackAdapter;
use provision_testkit::conformance;

use support::{FakeSlack, adapter, assert_conform, calls, start};

fn op(adapter: &SlackAdapter, login: &str, grant: bool, handle: &str) -> Operation {
    let entitlement = Entitlement::new("slack", "usergroup", handle);
    conformance::operation(
        adapter,
        login,
        if grant {
            OperationKind::Grant { entitlement }
        } else {
            OperationKind::Revoke { entitlement }
        },
    )
}

fn by_id(login: &str, id: &str) -> AccountRef {
    AccountRef {
        login: login.to_owned(),
        external_id: Some(id.to_owned()),
    }
}

#[tokio::test]
async fn a_grant_keeps_everyone_already_in_the_group() {
    let fake = FakeSlack::new(1000);
    let old = fake.add_user("old@example.com");
    let new = fake.add_user("new@example.com");
    fake.add_group("oncall", &[&old]);
    let server = start(&fake).await;
    let slack = adapter(&server);
    let applied = slack
        .execute(
            &op(&slack, "new@example.com", true, "oncall"),
            &by_id("new@example.com", &new),
        )
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    assert_eq!(fake.group_users("oncall"), vec![old.clone(), new.clone()]);
    // Again: read, nothing to change, no write.
    let again = slack
        .execute(
            &op(&slack, "new@example.com", true, "oncall"),
            &by_id("new@example.com", &new),
        )
        .await
        .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);
    assert_eq!(calls(&server, "usergroups.users.update").await, 1);
    // A revoke of a non-member is already done, without a write.
    let other = fake.add_user("other@example.com");
    let none = slack
        .execute(
            &op(&slack, "other@example.com", false, "oncall"),
            &by_id("other@example.com", &other),
        )
        .await
        .unwrap();
    assert_eq!(none.effect, Effect::AlreadyInPlace);
    assert_eq!(calls(&server, "usergroups.users.update").await, 1);
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_batch_of_changes_to_one_group_is_one_write() {
    let fake = FakeSlack::new(1000);
    let keep = fake.add_user("keep@example.com");
    let leaver = fake.add_user("leaver@example.com");
    fake.add_group("oncall", &[&keep, &leaver]);
    let server = start(&fake).await;
    let slack = adapter(&server);
    let mut batch = vec![(
        op(&slack, "leaver@example.com", false, "oncall"),
        by_id("leaver@example.com", &leaver),
    )];
    let mut joiners = Vec::new();
    for n in 0..5 {
        let login = format!("j{n}@example.com");
        let id = fake.add_user(&login);
        batch.push((op(&slack, &login, true, "oncall"), by_id(&login, &id)));
        joiners.push(id);
    }
    let results = slack.execute_batch(&batch).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(a) if a.effect == Effect::Changed)),
        "{results:?}"
    );
    let mut expected = vec![keep];
    expected.extend(joiners);
    assert_eq!(fake.group_users("oncall"), expected);
    assert_eq!(calls(&server, "usergroups.users.update").await, 1);
    assert_conform(&server).await;
}

#[tokio::test]
async fn a_member_added_by_hand_between_read_and_write_is_kept() {
    let fake = FakeSlack::new(1000);
    let old = fake.add_user("old@example.com");
    let new = fake.add_user("new@example.com");
    let by_hand = fake.add_user("by-hand@example.com");
    let gid = fake.add_group("oncall", &[&old]);
    // Right after the adapter's first read, an admin adds someone in the Slack UI.
    fake.state.lock().unwrap().hand_add_after_list = Some((gid, by_hand.clone()));
    let server = start(&fake).await;
    let slack = adapter(&server);
    let applied = slack
        .execute(
            &op(&slack, "new@example.com", true, "oncall"),
            &by_id("new@example.com", &new),
        )
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    let users = fake.group_users("oncall");
    assert!(
        users.contains(&by_hand),
        "the hand-made member was lost: {users:?}"
    );
    assert!(users.contains(&new) && users.contains(&old), "{users:?}");
    assert_eq!(calls(&server, "usergroups.users.update").await, 1);
    assert_conform(&server).await;
}

#[tokio::test]
async fn removing_the_last_member_is_refused_plainly() {
    let fake = FakeSlack::new(1000);
    let only = fake.add_user("only@example.com");
    fake.add_group("solo", &[&only]);
    let server = start(&fake).await;
    let slack = adapter(&server);
    let e = slack
        .execute(
            &op(&slack, "only@example.com", false, "solo"),
            &by_id("only@example.com", &only),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Permanent { .. }), "{e:?}");
    assert!(e.to_string().contains("solo"), "{e}");
    assert_eq!(calls(&server, "usergroups.users.update").await, 0);
}

#[tokio::test]
async fn an_unknown_group_is_a_configuration_error_naming_it() {
    let fake = FakeSlack::new(1000);
    let a = fake.add_user("a@example.com");
    let server = start(&fake).await;
    let slack = adapter(&server);
    let e = slack
        .execute(
            &op(&slack, "a@example.com", true, "no-such-group"),
            &by_id("a@example.com", &a),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Configuration { .. }), "{e:?}");
    assert!(e.to_string().contains("no-such-group"), "{e}");
    assert_conform(&server).await;
}
