//! Reads at the floor (issue 27 §1, the Slack part): a reconcile reads every
//! account's grants, and what one list answers for all of them — the user groups with
//! their members (`usergroups.list?include_users=true`, Tier 2, about 20 a minute) —
//! is read once per run, not once per account. Counted from the requests wiremock
//! received; `--nocapture` prints the figure.
#![allow(clippy::unwrap_used)]

use crate::support;

use provision_core::adapter::Adapter;
use provision_core::model::{Entitlement, ResourceRef, SystemName};
use provision_core::planner::read_system;

use support::{FakeSlack, adapter, calls, start};

#[tokio::test]
async fn the_user_group_list_is_read_once_per_run_for_every_account() {
    let fake = FakeSlack::new(1000);
    let users: Vec<String> = (0..50)
        .map(|i| fake.add_user(&format!("p{i}@example.com")))
        .collect();
    for g in 0..5 {
        let members: Vec<&str> = users
            .iter()
            .skip(g)
            .step_by(5)
            .map(String::as_str)
            .collect();
        fake.add_group(&format!("team{g}"), &members);
    }
    fake.add_channel("eng");
    let server = start(&fake).await;
    let slack = adapter(&server);
    assert!(
        slack.descriptor().has_accounts,
        "grants are read per account"
    );
    let system = SystemName::new("slack");
    let named: Vec<ResourceRef> =
        vec![Entitlement::new("slack", "usergroup", "team0").resource_ref()];

    let read = read_system(&slack, &system, &named).await.unwrap();
    let held = read
        .snapshot
        .grants
        .iter()
        .filter(|g| g.entitlement.kind == "usergroup")
        .count();
    assert_eq!(held, 50, "every account's one group");
    let lists = calls(&server, "usergroups.list").await;
    let floor = 1;
    println!(
        "figure: 50 accounts, 5 user groups: {lists} usergroups.list call(s) per reconcile read \
         (floor {floor}; {:.2}x)",
        lists as f64 / floor as f64
    );
    assert!(lists as f64 <= 1.1 * floor as f64, "{lists} calls");

    // The next run reads it afresh (a group changed by hand in between is seen).
    fake.add_group("late", &[users[0].as_str()]);
    let read = read_system(&slack, &system, &named).await.unwrap();
    assert!(
        read.snapshot
            .grants
            .iter()
            .any(|g| g.entitlement.resource == "late"),
        "the second run saw the new group"
    );
    assert_eq!(calls(&server, "usergroups.list").await, 2);
}
