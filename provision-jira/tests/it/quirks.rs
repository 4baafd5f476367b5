//! One wiremock test per Jira quirk (`shared/apis/README.md`, issue 15): 201 on an
//! existing user, 200 on a member's removal, the ISO 8601 reset, `RateLimit-Reason`,
//! hidden emails, two hosts with two credentials (and the org key missing), plus the
//! plain 400s, "already a member" / "not a member", unmanaged accounts, multi-role
//! projects and the page rules. Every site request is checked against the spec.
#![allow(clippy::unwrap_used)]

use crate::support;
use chrono::{Duration as Chrono, Utc};
use provision_core::adapter::{Adapter, AdapterError, Effect, read_all_grants};
use provision_core::model::{AccountProfile, AccountRef, Entitlement, OperationKind};
use provision_testkit::conformance::{self, run};
use serde_json::json;
use support::{FakeJira, Hosts, assert_conform, log, writes};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn by_id(login: &str, id: &str) -> AccountRef {
    AccountRef {
        login: login.to_owned(),
        external_id: Some(id.to_owned()),
    }
}

fn group(name: &str) -> Entitlement {
    Entitlement::new("jira", "group", name)
}

fn grant(e: Entitlement) -> OperationKind {
    OperationKind::Grant { entitlement: e }
}

fn revoke(e: Entitlement) -> OperationKind {
    OperationKind::Revoke { entitlement: e }
}

fn create(email: &str, products: &[&str]) -> OperationKind {
    let mut profile: AccountProfile = conformance::profile(email, "Someone");
    profile.required_grants = products
        .iter()
        .map(|p| Entitlement::new("jira", "product", *p))
        .collect();
    OperationKind::CreateAccount { profile }
}

async fn execute(
    adapter: &dyn Adapter,
    account: &AccountRef,
    kind: OperationKind,
) -> Result<provision_core::adapter::Applied, AdapterError> {
    let op = conformance::operation(adapter, &account.login, kind);
    adapter.execute(&op, account).await
}

// ----- create ---------------------------------------------------------------------

#[tokio::test]
async fn create_sends_post_user_with_the_products_and_returns_the_account_id() {
    let hosts = Hosts::start(FakeJira::new()).await;
    let jira = hosts.adapter(false);
    let who = AccountRef::by_login("new@example.com");
    let applied = execute(&jira, &who, create("new@example.com", &["jira-software"]))
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    let id = applied.external_id.unwrap();
    let sw = hosts.fake.group_id("jira-software-users");
    assert!(hosts.fake.members(&sw).contains(&id), "no product access");
    let body: serde_json::Value = hosts
        .site
        .received_requests()
        .await
        .unwrap()
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .unwrap();
    assert_eq!(
        body,
        json!({"emailAddress": "new@example.com", "products": ["jira-software"]})
    );
    assert_conform(&hosts.site).await;
}

#[tokio::test]
async fn a_201_for_an_existing_person_with_a_hidden_email_is_adopted_only_when_the_org_confirms() {
    let fake = FakeJira::new();
    let id = fake.add_user("hidden@example.com");
    fake.edit_user(&id, |u| u.hidden = true);
    fake.add_member(&fake.group_id("jira-software-users"), &id);
    let hosts = Hosts::start(fake).await;
    let who = AccountRef::by_login("hidden@example.com");

    // With the org key: Jira's 201 names an account whose email it hides; the org API
    // shows it is this person: adopted, nothing created.
    let with_org = hosts.adapter(true);
    let applied = execute(
        &with_org,
        &who,
        create("hidden@example.com", &["jira-software"]),
    )
    .await
    .unwrap();
    assert_eq!(applied.effect, Effect::AlreadyInPlace);
    assert_eq!(applied.external_id.as_deref(), Some(id.as_str()));
    assert_eq!(hosts.fake.state.lock().unwrap().users.len(), 1);

    // Without it nothing can confirm: a finding naming the account, never a guess.
    let without = hosts.adapter(false);
    let err = execute(
        &without,
        &who,
        create("hidden@example.com", &["jira-software"]),
    )
    .await
    .unwrap_err();
    let AdapterError::Conflict { error } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(error.code.as_deref(), Some("unconfirmed_person"));
    assert!(error.message.contains(&id), "{}", error.message);
    assert_conform(&hosts.site).await;
}

#[tokio::test]
async fn a_201_naming_someone_else_is_not_adopted() {
    let hosts = Hosts::start(FakeJira::new()).await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/user"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "accountId": "5b10a-other", "accountType": "atlassian", "active": true,
            "emailAddress": "someone.else@example.com"
        })))
        .mount(&hosts.site)
        .await;
    let jira = hosts.adapter(false);
    let who = AccountRef::by_login("ada@example.com");
    let err = execute(&jira, &who, create("ada@example.com", &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Conflict { error } if error.message.contains("not the same person")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_existing_visible_account_is_adopted_without_a_write_and_given_its_products() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let who = AccountRef::by_login("ada@example.com");
    let applied = execute(&jira, &who, create("ada@example.com", &["jira-software"]))
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::AlreadyInPlace);
    assert_eq!(applied.external_id.as_deref(), Some(id.as_str()));
    // No POST /user; the missing product was given through its default group.
    let w = writes(&hosts.site).await;
    let sw = hosts.fake.group_id("jira-software-users");
    assert_eq!(w, [format!("POST /rest/api/3/group/user?groupId={sw}")]);
    assert_conform(&hosts.site).await;
}

#[tokio::test]
async fn the_400s_of_create_are_said_plainly() {
    let fake = FakeJira::new();
    let id = fake.add_user("noaccess@example.com");
    fake.edit_user(&id, |u| u.hidden = true);
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let who = AccountRef::by_login("noaccess@example.com");
    let err = execute(
        &jira,
        &who,
        create("noaccess@example.com", &["jira-software"]),
    )
    .await
    .unwrap_err();
    let AdapterError::Invalid { error } = &err else {
        panic!("{err:?}")
    };
    assert!(
        error
            .message
            .contains("already has an Atlassian account without access"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("does not have access to Jira"),
        "Jira's own words kept"
    );

    hosts.fake.state.lock().unwrap().licences_exhausted = true;
    let who = AccountRef::by_login("late@example.com");
    let err = execute(&jira, &who, create("late@example.com", &["jira-software"]))
        .await
        .unwrap_err();
    let AdapterError::Invalid { error } = &err else {
        panic!("{err:?}")
    };
    assert!(
        error.message.contains("no licence left for jira-software"),
        "{}",
        error.message
    );
}

// ----- groups -----------------------------------------------------------------------

#[tokio::test]
async fn removing_a_member_answers_200_and_is_one_change() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    let gid = fake.add_group("engineering");
    fake.add_member(&gid, &id);
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let who = by_id("ada@example.com", &id);
    let applied = execute(&jira, &who, revoke(group("engineering")))
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    assert!(!hosts.fake.members(&gid).contains(&id));
    assert_eq!(
        writes(&hosts.site).await,
        [format!(
            "DELETE /rest/api/3/group/user?groupId={gid}&accountId={id}"
        )],
        "by groupId, one write"
    );
    assert_conform(&hosts.site).await;
}

#[tokio::test]
async fn already_a_member_and_not_a_member_are_done() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    let gid = fake.add_group("engineering");
    fake.add_member(&gid, &id);
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let who = by_id("ada@example.com", &id);
    // The fake answers 400 "already a member" and 404 "not a member".
    assert_eq!(
        run(&jira, &who, grant(group("engineering"))).await.unwrap(),
        Effect::AlreadyInPlace
    );
    hosts
        .fake
        .state
        .lock()
        .unwrap()
        .members
        .get_mut(&gid)
        .unwrap()
        .clear();
    assert_eq!(
        run(&jira, &who, revoke(group("engineering")))
            .await
            .unwrap(),
        Effect::AlreadyInPlace
    );
    assert_conform(&hosts.site).await;
}

#[tokio::test]
async fn a_missing_group_or_project_is_a_configuration_error() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let who = by_id("ada@example.com", &id);
    let err = run(&jira, &who, grant(group("no-such-group")))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Configuration { .. }), "{err:?}");
    let err = run(
        &jira,
        &who,
        grant(Entitlement::new("jira", "project_role", "NOPE").with_role("Developer")),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Configuration { .. }), "{err:?}");
    let err = run(
        &jira,
        &who,
        revoke(Entitlement::new("jira", "project_role", "NOPE").with_role("Developer")),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AdapterError::Configuration { .. }),
        "a revoke from a missing project is not 'already absent': {err:?}"
    );
    assert_conform(&hosts.site).await;
}

// ----- project roles ------------------------------------------------------------------

#[tokio::test]
async fn a_person_holds_several_roles_in_one_project_each_on_its_own() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    fake.add_project("ENG");
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let who = by_id("ada@example.com", &id);
    let dev = Entitlement::new("jira", "project_role", "ENG").with_role("Developer");
    let admin = Entitlement::new("jira", "project_role", "ENG").with_role("Administrator");
    run(&jira, &who, grant(dev.clone())).await.unwrap();
    run(&jira, &who, grant(admin.clone())).await.unwrap();
    assert_eq!(
        run(&jira, &who, grant(dev.clone())).await.unwrap(),
        Effect::AlreadyInPlace
    );
    run(&jira, &who, revoke(admin.clone())).await.unwrap();
    assert!(
        hosts.fake.actors("ENG", 10001).contains(&id),
        "Developer kept"
    );
    assert!(
        !hosts.fake.actors("ENG", 10002).contains(&id),
        "Administrator gone"
    );
    let grants = read_all_grants(&jira, &dev.resource_ref()).await.unwrap();
    let held: Vec<_> = grants
        .iter()
        .map(|g| g.entitlement.role.clone().unwrap())
        .collect();
    assert_eq!(held, ["Developer"]);
    // Role names resolved to ids once; add and delete only, never the whole-list PUT.
    let sent = log(&hosts.site).await;
    assert_eq!(
        sent.iter()
            .filter(|l| l.ends_with("/rest/api/3/role"))
            .count(),
        1,
        "{sent:?}"
    );
    assert!(!sent.iter().any(|l| l.starts_with("PUT ")), "{sent:?}");
    assert_conform(&hosts.site).await;
}

// ----- hidden emails and correlation ---------------------------------------------------

#[tokio::test]
async fn hidden_emails_read_as_an_account_id_and_are_never_guessed() {
    let fake = FakeJira::new();
    let id = fake.add_user("quiet@example.com");
    fake.edit_user(&id, |u| u.hidden = true);
    let app = fake.add_user("bot@example.com");
    fake.edit_user(&app, |u| u.kind = "app".into());
    fake.add_group("engineering");
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let accounts = provision_core::adapter::read_all_accounts(&jira)
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1, "apps are not people: {accounts:?}");
    let quiet = &accounts[0];
    assert_eq!(quiet.login, "", "no email to show");
    assert_eq!(quiet.correlation.get("account_id"), Some(&id));
    assert!(!quiet.correlation.contains_key("email"));

    // Known only by login: the search finds an account whose email is hidden. Not
    // guessed: a finding, and nothing written.
    let err = run(
        &jira,
        &AccountRef::by_login("quiet@example.com"),
        grant(group("engineering")),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Conflict { error } if error.message.contains("hidden")),
        "{err:?}"
    );
    assert!(writes(&hosts.site).await.is_empty());
    // Known by its account id (a correlation rule on `account_id`): it works.
    run(
        &jira,
        &by_id("quiet@example.com", &id),
        grant(group("engineering")),
    )
    .await
    .unwrap();
    assert_conform(&hosts.site).await;
}

#[tokio::test]
async fn a_correlation_rule_on_account_id_attaches_a_hidden_email_account() {
    use provision_core::config::{CorrelationRule, DeploymentConfig, SystemConfig};
    use provision_core::model::{Identity, SystemName, SystemSnapshot};
    let fake = FakeJira::new();
    let id = fake.add_user("quiet@example.com");
    fake.edit_user(&id, |u| u.hidden = true);
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let accounts = provision_core::adapter::read_all_accounts(&jira)
        .await
        .unwrap();

    let mut person = Identity::new("e1", "quiet@example.com", "Quiet Person");
    person
        .attributes
        .insert("jira_account_id".into(), id.clone());
    let system = SystemName::new("jira");
    let mut config = DeploymentConfig::default();
    let mut sc = SystemConfig::new("jira");
    sc.correlation.push(CorrelationRule {
        key: "account_id".into(),
        attribute: "jira_account_id".into(),
    });
    config.systems.insert(system.clone(), sc);
    let snapshot = SystemSnapshot {
        accounts,
        ..Default::default()
    };
    let state = provision_core::planner::correlate_with(
        &[person.clone()],
        &[(system.clone(), snapshot.clone())].into(),
        &config,
    );
    assert_eq!(
        state.identities[&person.id].accounts[&system].external_id,
        id
    );
    // Without the rule, nobody is matched: an orphan, not a guess.
    let state =
        provision_core::planner::correlate(&[person.clone()], &[(system.clone(), snapshot)].into());
    assert!(state.identities[&person.id].accounts.is_empty());
}

// ----- rate limits ----------------------------------------------------------------------

#[tokio::test]
async fn the_iso_8601_reset_and_the_ratelimit_reason_are_read_and_the_site_budget_named() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    fake.add_group("engineering");
    let hosts = Hosts::start(fake).await;
    let reset = (Utc::now() + Chrono::seconds(45))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    Mock::given(method("POST"))
        .and(path("/rest/api/3/group/user"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-limit", "100")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .insert_header("ratelimit-reason", "jira-per-issue-on-write")
                .insert_header("date", date.as_str()),
        )
        .mount(&hosts.site)
        .await;
    let jira = hosts.adapter(true);
    let who = by_id("ada@example.com", &id);
    let expected = chrono::DateTime::parse_from_rfc3339(&reset)
        .unwrap()
        .with_timezone(&Utc);
    conformance::rate_limited_with_reset(&jira, &who, grant(group("engineering")), expected).await;
    let err = run(&jira, &who, grant(group("engineering")))
        .await
        .unwrap_err();
    let AdapterError::RateLimited { info, error } = err else {
        panic!()
    };
    assert_eq!(
        info.bucket.as_deref(),
        Some("site"),
        "the site's budget, not the org's"
    );
    assert_eq!(error.code.as_deref(), Some("jira-per-issue-on-write"));
    assert!(error.message.contains("jira-per-issue-on-write"));
    let wait = info.retry_after.unwrap();
    assert!(
        (40..=46).contains(&wait.as_secs()),
        "wait until the reset: {wait:?}"
    );
    // The org host is another budget: a leaver's deactivation still goes through.
    let applied = execute(&jira, &who, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
}

#[tokio::test]
async fn a_429_or_503_with_retry_after_is_rate_limited_in_the_hosts_budget() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    let hosts = Hosts::start(fake).await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/users/search"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "7"))
        .mount(&hosts.site)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/users/{id}/manage/profile")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "11"))
        .mount(&hosts.org)
        .await;
    let jira = hosts.adapter(true);
    let err = jira.read_accounts(None).await.unwrap_err();
    let AdapterError::RateLimited { info, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(info.retry_after, Some(std::time::Duration::from_secs(7)));
    assert_eq!(info.bucket.as_deref(), Some("site"));
    let err = execute(
        &jira,
        &by_id("ada@example.com", &id),
        OperationKind::SuspendAccount,
    )
    .await
    .unwrap_err();
    let AdapterError::RateLimited { info, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(info.retry_after, Some(std::time::Duration::from_secs(11)));
    assert_eq!(info.bucket.as_deref(), Some("org"));
}

// ----- two hosts, two credentials ------------------------------------------------------

#[tokio::test]
async fn each_host_gets_its_own_credential_only() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    fake.add_group("engineering");
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(true);
    let who = by_id("ada@example.com", &id);
    run(&jira, &who, grant(group("engineering"))).await.unwrap();
    run(&jira, &who, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert!(!hosts.fake.user(&id).active);
    run(&jira, &who, OperationKind::ReactivateAccount)
        .await
        .unwrap();
    assert!(hosts.fake.user(&id).active);
    let auth = |r: &wiremock::Request| {
        r.headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let site = hosts.site.received_requests().await.unwrap();
    let org = hosts.org.received_requests().await.unwrap();
    assert!(!site.is_empty() && !org.is_empty());
    assert!(site.iter().all(|r| auth(r).starts_with("Basic ")));
    assert!(
        org.iter()
            .all(|r| auth(r) == format!("Bearer {}", support::ORG_KEY))
    );
    let disable = org
        .iter()
        .find(|r| r.url.path().ends_with("/lifecycle/disable"))
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&disable.body).unwrap();
    assert!(body["message"].is_string(), "{body}");
    assert_conform(&hosts.site).await;
}

#[tokio::test]
async fn without_the_org_key_accounts_cannot_be_deactivated_and_the_org_is_never_called() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let d = jira.descriptor();
    assert!(!d.can_suspend, "the descriptor says so");
    assert!(d.profile_fields.is_empty());
    assert_eq!(d.rate_budgets.len(), 1);
    let who = by_id("ada@example.com", &id);
    let err = run(&jira, &who, OperationKind::SuspendAccount)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unsupported { .. }), "{err:?}");
    assert!(hosts.fake.user(&id).active);
    assert!(hosts.org.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_account_the_org_does_not_manage_is_stripped_on_suspend_and_never_retried() {
    let fake = FakeJira::new();
    let id = fake.add_user("guest@partner.example");
    fake.edit_user(&id, |u| u.managed = false);
    let eng = fake.add_group("engineering");
    fake.add_member(&eng, &id);
    // A group another engine owns (the IdP's sync) is never ours to revoke.
    let idp = fake.add_group("idp-contractors");
    fake.add_member(&idp, &id);
    let hosts = Hosts::start(fake).await;
    let jira = provision_jira::JiraAdapter::new(
        hosts
            .config(true)
            .external_owners(vec![provision_core::config::ExternalOwnership {
                engine: "idp-sync".into(),
                kind: Some("group".into()),
                resource_prefix: Some("idp-".into()),
            }])
            .build()
            .unwrap(),
    )
    .unwrap();
    let who = by_id("guest@partner.example", &id);
    let applied = execute(&jira, &who, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    let note = applied.note.unwrap_or_default();
    assert!(
        note.contains("not managed by your organization") && note.contains("engineering"),
        "{note}"
    );
    assert!(hosts.fake.members(&eng).is_empty(), "the group is gone");
    assert!(
        hosts.fake.members(&idp).contains(&id) && note.contains("left to their owners"),
        "{note}"
    );
    assert!(hosts.fake.user(&id).active, "the account itself stays");
    let posts = writes(&hosts.org).await;
    assert_eq!(posts.len(), 1, "one attempt: {posts:?}");

    // Re-enabling it is not ours to do either: a finding, never retried.
    let err = execute(&jira, &who, OperationKind::ReactivateAccount)
        .await
        .unwrap_err();
    let AdapterError::Permanent { error } = &err else {
        panic!("{err:?}")
    };
    assert!(!err.is_retryable());
    assert_eq!(error.code.as_deref(), Some("not_managed"));
}

// ----- mover ------------------------------------------------------------------------------

#[tokio::test]
async fn a_movers_title_and_department_reach_the_atlassian_profile() {
    let fake = FakeJira::new();
    let id = fake.add_user("ada@example.com");
    let hosts = Hosts::start(fake).await;
    let jira =
        provision_jira::JiraAdapter::new(hosts.config(true).profile_sync(true).build().unwrap())
            .unwrap();
    assert_eq!(jira.descriptor().profile_fields, ["department", "title"]);
    let attributes = [("title".to_owned(), "Staff Engineer".to_owned())].into();
    let applied = execute(
        &jira,
        &by_id("ada@example.com", &id),
        OperationKind::UpdateAccount { attributes },
    )
    .await
    .unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    assert_eq!(
        hosts.fake.user(&id).title.as_deref(),
        Some("Staff Engineer")
    );
    let patch = hosts
        .org
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "PATCH")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&patch.body).unwrap();
    assert_eq!(
        body,
        json!({"extended_profile": {"job_title": "Staff Engineer"}}),
        "only the changed field"
    );
    // The read carries the profile, so the next plan has nothing left to sync.
    let accounts = provision_core::adapter::read_all_accounts(&jira)
        .await
        .unwrap();
    assert_eq!(
        accounts[0].attributes.get("title").map(String::as_str),
        Some("Staff Engineer")
    );
}

// ----- pages ------------------------------------------------------------------------------

#[tokio::test]
async fn group_members_come_50_at_a_time_until_is_last() {
    let fake = FakeJira::new();
    let gid = fake.add_group("everyone");
    for n in 0..120 {
        let id = fake.add_user(&format!("p{n}@example.com"));
        fake.add_member(&gid, &id);
    }
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false);
    let grants = read_all_grants(&jira, &group("everyone").resource_ref())
        .await
        .unwrap();
    assert_eq!(grants.len(), 120);
    let pages: Vec<String> = log(&hosts.site)
        .await
        .into_iter()
        .filter(|l| l.contains("/group/member"))
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(
        pages.iter().all(|p| p.contains("maxResults=50")),
        "{pages:?}"
    );
    assert_conform(&hosts.site).await;
}

#[tokio::test]
async fn a_bare_array_ends_only_on_an_empty_page() {
    let fake = FakeJira::new();
    for n in 0..5 {
        fake.add_user(&format!("p{n}@example.com"));
    }
    let hosts = Hosts::start(fake).await;
    let jira = hosts.adapter(false).with_users_page_size(2);
    let accounts = provision_core::adapter::read_all_accounts(&jira)
        .await
        .unwrap();
    assert_eq!(accounts.len(), 5);
    let pages = log(&hosts.site).await;
    assert_eq!(
        pages.len(),
        4,
        "2 + 2 + 1, then an empty page ends it (a short page does not: JRACLOUD-74454): {pages:?}"
    );
    assert_conform(&hosts.site).await;
}
