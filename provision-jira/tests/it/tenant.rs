//! What a real Jira tenant does that the first fake did not (issue 28, items 13 and
//! 14): `/users/search` pages that are short while more users follow
//! (JRACLOUD-74454), and a leaver whose Atlassian account the organization does not
//! manage (a partner, a contractor on their own domain).
//!
//! Answer shapes not verified against a real tenant: which rows JRACLOUD-74454 drops
//! (the fake drops accounts the caller may not browse, after slicing the page); the org
//! API's answers for an unmanaged account (`GET …/manage` with `allowed: false`, a 403
//! on `lifecycle/disable` and on the profile read).
#![allow(clippy::unwrap_used)]

use crate::support;
use provision_core::adapter::read_all_accounts;
use support::{FakeJira, Hosts, assert_conform, log};

#[tokio::test]
async fn users_search_pages_short_while_more_follow_are_read_to_the_empty_page() {
    let fake = FakeJira::new();
    let ids: Vec<String> = (0..7)
        .map(|n| fake.add_user(&format!("p{n}@example.com")))
        .collect();
    // The first page (0..3) loses a row it may not show; so does the second.
    fake.state
        .lock()
        .unwrap()
        .unbrowsable
        .extend([ids[0].clone(), ids[4].clone()]);
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false).with_users_page_size(3);
    let accounts = read_all_accounts(&jira).await.unwrap();
    let mut logins: Vec<String> = accounts.into_iter().map(|a| a.login).collect();
    logins.sort();
    assert_eq!(
        logins,
        [
            "p1@example.com",
            "p2@example.com",
            "p3@example.com",
            "p5@example.com",
            "p6@example.com"
        ],
        "every browsable user, although the first page was short"
    );
    let pages = log(&hosts.site).await;
    let starts: Vec<&str> = pages
        .iter()
        .filter_map(|p| p.split("startAt=").nth(1))
        .map(|q| q.split('&').next().unwrap_or_default())
        .collect();
    assert_eq!(
        starts,
        ["0", "3", "6", "9"],
        "startAt advances by maxResults, and only the empty page ends it"
    );
    assert_conform(&hosts.site).await;
}
