//! The shared conformance suite (`provision_testkit::conformance::Suite`), all of it,
//! against a stateful fake of the Directory API (`support/fake.rs`) behind the
//! testkit's token endpoint; then the reads that see everything and what `NotFound`
//! means, scenario by scenario. Every request is checked against the discovery
//! document.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use provision_core::adapter::{
    Adapter, AdapterError, Effect, list_all_resources, read_all_account_grants,
};
use provision_core::model::{AccountRef, Entitlement, OperationKind, SystemName};
use provision_google::{GoogleAdapter, GoogleConfig, GoogleConfigBuilder};
use provision_testkit::conformance::{self, Suite};
use provision_testkit::discovery::DiscoverySpec;
use provision_testkit::token_endpoint::{Grant, TokenEndpoint};
use support::fake::{DOMAIN, GoogleFake};
use support::{ADMIN, KEY_JSON, PUBLIC_KEY};
use wiremock::MockServer;

/// A change to the adapter's configuration.
type Configure = Box<dyn Fn(GoogleConfigBuilder) -> GoogleConfigBuilder>;

struct Tenant {
    api: MockServer,
    _token: MockServer,
    endpoint: TokenEndpoint,
    fake: GoogleFake,
}

impl Tenant {
    async fn start(page_size: usize) -> Self {
        let api = MockServer::start().await;
        let token = MockServer::start().await;
        let endpoint = TokenEndpoint::new(Grant::JwtBearer, PUBLIC_KEY)
            .token_prefix("ya29.fake")
            // every call the suite makes shares one token (sign-out has its own)
            .require_scope(&provision_google::config::DIRECTORY_SCOPES.join(" "))
            .mount(&token, "/token")
            .await;
        let fake = GoogleFake::new(page_size);
        for n in 0..4 {
            fake.add_user(&format!("existing{n}@{DOMAIN}"));
        }
        for g in ["eng", "ops", "finance", "legal"] {
            fake.add_group(&format!("{g}@{DOMAIN}"));
        }
        fake.mount(&api).await;
        Self {
            api,
            _token: token,
            endpoint,
            fake,
        }
    }

    fn adapter(
        &self,
        configure: impl FnOnce(GoogleConfigBuilder) -> GoogleConfigBuilder,
    ) -> GoogleAdapter {
        let builder = GoogleConfig::builder()
            .service_account_key_json(KEY_JSON.to_owned())
            .admin_subject(ADMIN)
            .base_url(self.api.uri())
            .token_url(self.endpoint.url())
            .timeout(Duration::from_secs(5));
        GoogleAdapter::new(configure(builder).build().unwrap()).unwrap()
    }

    async fn conform(&self) -> Vec<String> {
        let spec = DiscoverySpec::load_shared("google-admin-directory-v1.trimmed.json").unwrap();
        let requests = self.api.received_requests().await.unwrap();
        provision_testkit::assert_requests_conform(&spec, &requests)
            .into_iter()
            .map(|m| m.name)
            .collect()
    }
}

fn group(name: &str) -> Entitlement {
    Entitlement::new("google", "group", format!("{name}@{DOMAIN}"))
}

#[tokio::test]
async fn the_whole_shared_suite_passes_against_the_fake() {
    let tenant = Tenant::start(2).await;
    let adapter = tenant.adapter(|b| b.delete_leavers(true));
    let wrong = tenant.adapter(|b| b.customer_id("C0other99"));
    let throttled_tenant = Tenant::start(2).await;
    throttled_tenant.fake.throttle();
    let throttled = throttled_tenant.adapter(|b| b);
    let fake = tenant.fake.clone();
    let hand_made: conformance::HandMadeGrant<'_> = Box::new(move |account: AccountRef| {
        let fake = fake.clone();
        Box::pin(async move {
            // straight in the group, on a group no policy names
            fake.add_member(&format!("finance@{DOMAIN}"), &account.login, "OWNER");
            group("finance").with_role("owner")
        }) as Pin<Box<dyn Future<Output = Entitlement> + Send>>
    });

    let report = Suite::new(
        &adapter,
        vec![group("eng"), group("ops").with_role("manager")],
    )
    .create(conformance::profile(
        &format!("ada@{DOMAIN}"),
        "Ada Lovelace",
    ))
    .hand_made(hand_made)
    .min_account_pages(3)
    .misconfigured(&wrong)
    .throttled(
        &throttled,
        OperationKind::Grant {
            entitlement: group("eng"),
        },
    )
    .delete_at_the_end()
    .run()
    .await;
    assert!(report.skipped.is_empty(), "{report:?}");
    assert_eq!(report.passed.len(), 13, "{report:?}");
    let ops = tenant.conform().await;
    for op in [
        "directory.groups.list",
        "directory.members.get",
        "directory.users.delete",
    ] {
        assert!(ops.iter().any(|o| o == op), "{op} never sent");
    }
    throttled_tenant.conform().await;
    // one token served the whole run (cached until near its expiry)
    assert_eq!(
        tenant.endpoint.issued(),
        2,
        "the adapter and the misconfigured one"
    );
    assert!(tenant.endpoint.rejected().is_empty());
}

#[tokio::test]
async fn a_leaver_reads_every_group_with_its_role_and_is_left_with_nothing() {
    let tenant = Tenant::start(1).await;
    let adapter = tenant.adapter(|b| b);
    let system = SystemName::new("google");
    let login = format!("leaver@{DOMAIN}");
    let id = tenant.fake.add_user(&login);
    tenant
        .fake
        .add_member(&format!("eng@{DOMAIN}"), &login, "MEMBER");
    tenant
        .fake
        .add_member(&format!("ops@{DOMAIN}"), &login, "MANAGER");
    tenant
        .fake
        .add_member(&format!("legal@{DOMAIN}"), &login, "OWNER");
    let account = AccountRef {
        login: login.clone(),
        external_id: Some(id.clone()),
    };
    let held = read_all_account_grants(&adapter, &system, &account)
        .await
        .unwrap();
    let mut read: Vec<String> = held.iter().map(|g| g.entitlement.to_string()).collect();
    read.sort();
    let mut expected: Vec<String> = [
        group("eng").with_role("member"),
        group("legal").with_role("owner"),
        group("ops").with_role("manager"),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    expected.sort();
    assert_eq!(read, expected);
    assert!(held.iter().all(|g| g.account_external_id == id));
    for g in &held {
        let effect = conformance::run(
            &adapter,
            &account,
            OperationKind::Revoke {
                entitlement: g.entitlement.clone(),
            },
        )
        .await
        .unwrap();
        assert_eq!(effect, Effect::Changed);
    }
    assert!(
        read_all_account_grants(&adapter, &system, &account)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tenant.fake.groups_of(&login).is_empty());

    let requests = tenant.api.received_requests().await.unwrap();
    let by_user: Vec<_> = requests
        .iter()
        .filter(|r| {
            r.url.path().ends_with("/groups")
                && r.url.query().is_some_and(|q| q.contains("userKey"))
        })
        .collect();
    assert!(
        by_user.len() >= 3,
        "one group a page: {} pages",
        by_user.len()
    );
    for r in &by_user {
        let q: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
        assert!(q.contains(&("maxResults".into(), "200".into())), "{q:?}");
        assert!(
            !q.iter().any(|(k, _)| k == "customer" || k == "domain"),
            "{q:?}"
        );
    }
    tenant.conform().await;
}

#[tokio::test]
async fn groups_are_listed_to_the_last_page_for_the_customer() {
    let tenant = Tenant::start(1).await;
    let adapter = tenant.adapter(|b| b);
    let groups = list_all_resources(&adapter, &SystemName::new("google"), "group")
        .await
        .unwrap();
    let mut names: Vec<&str> = groups.iter().map(|g| g.resource.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "eng@example.com",
            "finance@example.com",
            "legal@example.com",
            "ops@example.com"
        ]
    );
    assert!(groups.iter().all(|g| g.external_id.is_some()));
    let lists: Vec<_> = tenant
        .api
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/groups"))
        .collect();
    assert_eq!(lists.len(), 4);
    assert!(lists.iter().all(|r| {
        r.url
            .query()
            .is_some_and(|q| q.contains("customer=my_customer") && q.contains("maxResults=200"))
    }));
    let e = adapter.list_resources("org_unit", None).await.unwrap_err();
    assert_eq!(e.class(), "invalid");
    let d = adapter.descriptor();
    assert!(d.kind("group").unwrap().enumerable);
    assert!(d.kind("org_unit").unwrap().one_per_account);
    tenant.conform().await;
}

#[tokio::test]
async fn a_bad_customer_or_domain_is_configuration_never_an_empty_tenant() {
    let tenant = Tenant::start(10).await;
    let cases: [(&str, Configure, u16); 3] = [
        (
            "400 Bad Request",
            Box::new(|b| b.customer_id("C0other99")),
            400,
        ),
        (
            "403 forbidden",
            Box::new(|b| b.customer_id("C0forbidden")),
            403,
        ),
        (
            "404 Domain not found.",
            Box::new(|b| b.domain("other.example")),
            404,
        ),
    ];
    for (what, configure, status) in cases {
        let wrong = tenant.adapter(configure);
        for result in [
            wrong.read_accounts(None).await.map(|_| ()),
            wrong.list_resources("group", None).await.map(|_| ()),
        ] {
            match result {
                Err(AdapterError::Configuration { error }) => {
                    assert_eq!(error.status, Some(status), "{what}");
                    assert!(error.message.contains("customer_id"), "{what}: {error}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
    }
    // the same statuses elsewhere keep their meaning: a missing user is NotFound, a
    // missing member on a revoke is already done
    let adapter = tenant.adapter(|b| b);
    let e = adapter
        .execute(
            &conformance::operation(&adapter, "gone@example.com", OperationKind::SuspendAccount),
            &AccountRef::by_login("gone@example.com"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::NotFound { .. }), "{e:?}");
    let effect = conformance::run(
        &adapter,
        &AccountRef::by_login("gone@example.com"),
        OperationKind::Revoke {
            entitlement: group("eng"),
        },
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::AlreadyInPlace);
    assert!(
        adapter
            .read_account_grants(&AccountRef::by_login("gone@example.com"), None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    tenant.conform().await;
}
