//! The shared conformance suite (`provision_testkit::conformance::Suite`) against the
//! stateful fake of a Slack Enterprise org (all three tokens): a second fake over its
//! rate limit answers the 429 scenario, a third that is not Slack answers the
//! misconfiguration scenario. Every Web API request each fake received is checked
//! against the spec.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::future::Future;
use std::pin::Pin;

use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_slack::SlackAdapter;
use provision_testkit::conformance::{self, Suite};
use support::{FakeSlack, Mode, assert_conform, config, start};
use wiremock::MockServer;

struct Org {
    server: MockServer,
    fake: FakeSlack,
}

impl Org {
    async fn start(mode: Mode) -> Self {
        let fake = FakeSlack::new(2);
        let mut existing = Vec::new();
        for n in 0..4 {
            existing.push(fake.add_user(&format!("existing{n}@example.com")));
        }
        for name in ["engineering-general", "random", "general"] {
            fake.add_channel(name);
        }
        fake.add_group("oncall", &[&existing[0]]);
        fake.add_group("managers", &[&existing[1]]);
        let server = start(&fake).await;
        fake.set_mode(mode);
        Self { server, fake }
    }

    fn adapter(&self) -> SlackAdapter {
        SlackAdapter::new(
            config(&self.server)
                .page_size(2)
                .scim_page_size(2)
                .build()
                .unwrap(),
        )
        .unwrap()
    }
}

fn hand_made<'a>(fake: &FakeSlack) -> conformance::HandMadeGrant<'a> {
    let fake = fake.clone();
    Box::new(move |account: AccountRef| {
        let fake = fake.clone();
        Box::pin(async move {
            let id = account.external_id.clone().unwrap();
            fake.with_channel("random", |c| c.members.push(id));
            Entitlement::new("slack", "channel", "#random")
        }) as Pin<Box<dyn Future<Output = Entitlement> + Send + 'a>>
    })
}

#[tokio::test]
async fn slack_passes_the_shared_suite() {
    let org = Org::start(Mode::Slack).await;
    let throttled = Org::start(Mode::Throttled).await;
    let not_slack = Org::start(Mode::NotSlack).await;
    let slack = org.adapter();
    let over = throttled.adapter();
    let wrong = not_slack.adapter();
    let report = Suite::new(
        &slack,
        vec![
            Entitlement::new("slack", "channel", "#engineering-general"),
            Entitlement::new("slack", "usergroup", "oncall"),
        ],
    )
    .create(conformance::profile("ada@example.com", "Ada Lovelace"))
    .hand_made(hand_made(&org.fake))
    .throttled(
        &over,
        OperationKind::Grant {
            entitlement: Entitlement::new("slack", "channel", "#engineering-general"),
        },
    )
    .misconfigured(&wrong)
    .min_account_pages(3)
    .run()
    .await;
    assert_eq!(
        report.skipped,
        vec![("delete_then_gone", "deletion not enabled".to_owned())],
        "Slack accounts are never deleted; everything else runs"
    );
    assert!(report.passed.contains(&"leaver_left_with_nothing"));
    assert!(report.passed.contains(&"suspend_then_state"));
    let matched = assert_conform(&org.server).await;
    for op in [
        "conversations_invite",
        "conversations_kick",
        "conversations_members",
        "usergroups_users_update",
        "users_conversations",
    ] {
        assert!(
            matched.iter().any(|m| m == op),
            "{op} not exercised: {matched:?}"
        );
    }
    assert_conform(&throttled.server).await;
}
