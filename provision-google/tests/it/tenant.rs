//! What a real Google Workspace tenant does that a kind fake did not (issue 12), each
//! case answered by the stateful fake (`support/fake.rs`) the way Google answers it:
//! aliases resolved by `users.get`, repeated fields replaced whole by `users.update`,
//! a 409 on an update that took effect, a missing group's 404, a delegation that
//! lacks the sign-out scope.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use provision_core::adapter::{Adapter, AdapterError, CheckStatus};
use provision_core::config::SystemConfig;
use provision_core::executor::{Executor, OperationOutcome, RetryConfig};
use provision_core::journal::RunId;
use provision_core::model::{AccountProfile, AccountRef, OperationKind, Plan};
use provision_core::planner::ApprovedPlan;
use provision_google::{GoogleAdapter, GoogleConfig};
use serde_json::{Value, json};
use support::fake::{DOMAIN, GoogleFake};
use support::{ADMIN, KEY_JSON, PUBLIC_KEY, group, op};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The token endpoint: verifies each assertion, and refuses those asking for a scope
/// the delegation does not grant as Google does (`unauthorized_client`).
struct Delegation {
    refused_scope: Option<&'static str>,
}

impl Respond for Delegation {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        let claims = match jsonwebtoken::decode::<Value>(
            form.get("assertion")
                .map(String::as_str)
                .unwrap_or_default(),
            &key,
            &validation,
        ) {
            Ok(data) => data.claims,
            Err(e) => {
                return ResponseTemplate::new(400).set_body_json(
                    json!({"error": "invalid_grant", "error_description": e.to_string()}),
                );
            }
        };
        let scopes = claims["scope"].as_str().unwrap_or_default();
        if let Some(refused) = self.refused_scope
            && scopes.split(' ').any(|s| s == refused)
        {
            return ResponseTemplate::new(401).set_body_json(json!({
                "error": "unauthorized_client",
                "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."
            }));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("ya29.{}", scopes.len()),
            "expires_in": 3600,
            "token_type": "Bearer"
        }))
    }
}

struct Tenant {
    _api: MockServer,
    _token: MockServer,
    fake: GoogleFake,
    adapter: Arc<GoogleAdapter>,
}

impl Tenant {
    async fn start(refused_scope: Option<&'static str>) -> Self {
        let api = MockServer::start().await;
        let token = MockServer::start().await;
        Mock::given(wiremock::matchers::path("/token"))
            .respond_with(Delegation { refused_scope })
            .mount(&token)
            .await;
        let fake = GoogleFake::new(100);
        fake.add_group(&format!("eng@{DOMAIN}"));
        fake.mount(&api).await;
        let config = GoogleConfig::builder()
            .service_account_key_json(KEY_JSON.to_owned())
            .admin_subject(ADMIN)
            .base_url(api.uri())
            .token_url(format!("{}/token", token.uri()))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Tenant {
            _api: api,
            _token: token,
            fake,
            adapter: Arc::new(GoogleAdapter::new(config).unwrap()),
        }
    }

    /// Applies `kinds` (for sarah@example.com) through the executor; the outcomes.
    async fn apply(&self, kinds: Vec<OperationKind>) -> Vec<OperationOutcome> {
        let executor = Executor::builder()
            .system(
                "google",
                self.adapter.clone() as Arc<dyn Adapter>,
                SystemConfig::new("google"),
            )
            .retry(RetryConfig {
                initial_delay: Duration::from_millis(1),
                jitter: false,
                ..RetryConfig::default()
            })
            .build()
            .unwrap();
        let plan = Plan {
            operations: kinds.into_iter().map(op).collect(),
            dependencies: Vec::new(),
        };
        let report = executor
            .apply(&RunId("issue-12".into()), &approved(&plan))
            .await
            .unwrap();
        report.operations.into_iter().map(|o| o.outcome).collect()
    }
}

fn sarah_profile(login: &str) -> AccountProfile {
    AccountProfile {
        login: login.into(),
        email: format!("sarah@{DOMAIN}"),
        display_name: "Sarah Connor".into(),
        ..AccountProfile::default()
    }
}

/// A hand-built test plan, confirmed (as a person reviewing it would) for every
/// identity it takes access from.
fn approved(plan: &Plan) -> ApprovedPlan {
    let identities: std::collections::BTreeSet<_> = plan
        .operations
        .iter()
        .filter(|op| op.kind.is_removal())
        .map(|op| &op.identity)
        .collect();
    ApprovedPlan::confirmed(plan.clone(), identities.len(), identities.len()).unwrap()
}

// --- alias adoption -----------------------------------------------------------------

/// sarah@ is an alias of another person's account: creating Sarah's account must not
/// adopt it, neither on the insert's 409 nor in the executor's confirming check.
#[tokio::test]
async fn an_alias_of_another_user_is_never_adopted_through_the_executor() {
    let tenant = Tenant::start(None).await;
    let other = tenant.fake.add_user(&format!("sconnor@{DOMAIN}"));
    tenant.fake.add_alias(&other, &format!("sarah@{DOMAIN}"));

    let outcomes = tenant
        .apply(vec![OperationKind::CreateAccount {
            profile: sarah_profile(&format!("sarah@{DOMAIN}")),
        }])
        .await;
    match &outcomes[0] {
        OperationOutcome::Failed { error } => {
            assert!(error.to_string().contains("alias"), "{error}");
        }
        other => panic!("adopted another person's account: {other:?}"),
    }

    // The check alone (a restart after an interrupted insert) says "not done".
    let check = tenant
        .adapter
        .check(
            &op(OperationKind::CreateAccount {
                profile: sarah_profile(&format!("sarah@{DOMAIN}")),
            }),
            &AccountRef::by_login(format!("sarah@{DOMAIN}")),
        )
        .await
        .unwrap();
    assert_eq!(check, CheckStatus::NotDone);
}

/// The account read for a person by login (`read_account`) is the one whose primary
/// email is the login, never the owner of an alias.
#[tokio::test]
async fn suspending_by_an_alias_login_does_not_touch_the_alias_owner() {
    let tenant = Tenant::start(None).await;
    let other = tenant.fake.add_user(&format!("sconnor@{DOMAIN}"));
    tenant.fake.add_alias(&other, &format!("sarah@{DOMAIN}"));

    let outcomes = tenant.apply(vec![OperationKind::SuspendAccount]).await;
    assert!(
        matches!(&outcomes[0], OperationOutcome::Failed { .. }),
        "{outcomes:?}"
    );
    assert_eq!(tenant.fake.user(&other)["suspended"], json!(false));
}

// --- repeated fields ----------------------------------------------------------------

/// Changing only the department keeps the title, the cost centre and the other
/// organizations entries: `users.update` replaces `organizations` whole.
#[tokio::test]
async fn a_department_change_keeps_every_other_organizations_entry_and_field() {
    let tenant = Tenant::start(None).await;
    let id = tenant.fake.add_user(&format!("sarah@{DOMAIN}"));
    tenant.fake.set_organizations(
        &id,
        json!([
            {"name": "Acme", "title": "Engineer", "department": "R&D",
             "costCenter": "CC-42", "primary": true, "type": "work"},
            {"name": "Volunteer Corps", "title": "Treasurer", "primary": false}
        ]),
    );

    let outcomes = tenant
        .apply(vec![OperationKind::UpdateAccount {
            attributes: [("department".to_owned(), "Platform".to_owned())].into(),
        }])
        .await;
    assert!(outcomes[0].is_success(), "{outcomes:?}");
    assert_eq!(
        tenant.fake.user(&id)["organizations"],
        json!([
            {"name": "Acme", "title": "Engineer", "department": "Platform",
             "costCenter": "CC-42", "primary": true, "type": "work"},
            {"name": "Volunteer Corps", "title": "Treasurer", "primary": false}
        ])
    );
}

// --- 409 on an update that took effect --------------------------------------------

#[tokio::test]
async fn a_409_on_an_update_that_took_effect_is_confirmed_by_the_check() {
    let tenant = Tenant::start(None).await;
    let id = tenant.fake.add_user(&format!("sarah@{DOMAIN}"));
    tenant.fake.conflict_after_next_update();

    let outcomes = tenant
        .apply(vec![OperationKind::UpdateAccount {
            attributes: [("title".to_owned(), "Staff Engineer".to_owned())].into(),
        }])
        .await;
    assert!(outcomes[0].is_success(), "{outcomes:?}");
    assert_eq!(
        tenant.fake.user(&id)["organizations"][0]["title"],
        json!("Staff Engineer")
    );
}

#[tokio::test]
async fn a_409_on_an_update_that_did_not_take_effect_stays_a_failure() {
    let tenant = Tenant::start(None).await;
    tenant.fake.add_user(&format!("sarah@{DOMAIN}"));
    let check = tenant
        .adapter
        .check(
            &op(OperationKind::UpdateAccount {
                attributes: [("title".to_owned(), "Staff Engineer".to_owned())].into(),
            }),
            &AccountRef::by_login(format!("sarah@{DOMAIN}")),
        )
        .await
        .unwrap();
    assert_eq!(check, CheckStatus::NotDone);
}

// --- a missing group --------------------------------------------------------------

/// Removing Sarah from a group that does not exist is a configuration error naming
/// the group, never "already removed".
#[tokio::test]
async fn a_missing_group_is_a_configuration_error_naming_it() {
    let tenant = Tenant::start(None).await;
    tenant.fake.add_user(&format!("sarah@{DOMAIN}"));
    let missing = format!("no-such-group@{DOMAIN}");

    let revoke = op(OperationKind::Revoke {
        entitlement: group(&missing, None),
    });
    let err = tenant
        .adapter
        .execute(&revoke, &AccountRef::by_login(format!("sarah@{DOMAIN}")))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Configuration { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing), "{err}");

    let err = tenant
        .adapter
        .check(&revoke, &AccountRef::by_login(format!("sarah@{DOMAIN}")))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Configuration { .. }), "{err:?}");

    // a missing member of an existing group is already removed
    let outcomes = tenant
        .apply(vec![OperationKind::Revoke {
            entitlement: group(&format!("eng@{DOMAIN}"), None),
        }])
        .await;
    assert!(outcomes[0].is_success(), "{outcomes:?}");
}

// --- logins without `@` -----------------------------------------------------------

/// A login without `@` is refused with an error naming the field, by create and by
/// membership calls alike, before anything is sent.
#[tokio::test]
async fn a_login_without_at_is_refused_naming_the_field() {
    let tenant = Tenant::start(None).await;
    let create = op(OperationKind::CreateAccount {
        profile: sarah_profile("sarah"),
    });
    let err = tenant
        .adapter
        .execute(&create, &AccountRef::by_login("sarah"))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("login"), "{err}");

    let grant = op(OperationKind::Grant {
        entitlement: group(&format!("eng@{DOMAIN}"), None),
    });
    let err = tenant
        .adapter
        .execute(&grant, &AccountRef::by_login("sarah"))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("login"), "{err}");
    assert!(tenant.fake.user_id(&format!("sarah@{DOMAIN}")).is_none());
    assert!(tenant.fake.groups_of("sarah").is_empty());
}

// --- per-scope tokens -------------------------------------------------------------

/// The delegation lacks `admin.directory.user.security`: every other operation works,
/// and sign-out is reported unsupported, naming the scope.
#[tokio::test]
async fn a_delegation_without_the_sign_out_scope_breaks_only_sign_out() {
    let tenant = Tenant::start(Some(provision_google::config::SCOPE_USER_SECURITY)).await;
    let id = tenant.fake.add_user(&format!("sarah@{DOMAIN}"));

    let outcomes = tenant.apply(vec![OperationKind::SuspendAccount]).await;
    assert!(outcomes[0].is_success(), "{outcomes:?}");
    assert_eq!(tenant.fake.user(&id)["suspended"], json!(true));

    let err = tenant
        .adapter
        .execute(
            &op(OperationKind::RevokeSessions),
            &AccountRef::by_login(format!("sarah@{DOMAIN}")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unsupported { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(provision_google::config::SCOPE_USER_SECURITY),
        "{err}"
    );
}
