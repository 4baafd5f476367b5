//! One joiner → mover → leaver run against **Prism** serving GitHub's trimmed OpenAPI
//! description (`shared/peers/start-prism.sh`, `--errors` mode): an implementation
//! nobody here wrote validates every request (path, query, body types and required
//! fields) and answers from the description's examples. Prism is stateless, so each
//! step gets the description's example answer (an active membership, a 201
//! collaborator invitation), and the test checks the adapter reads each the way the
//! issue says.
//!
//! The test starts Prism itself (`provision_testkit::peers`, a free port, a pid file in a
//! temp folder) and stops it at the end. When Prism cannot start, it prints `SKIPPED` and passes — unless
//! `PROVISION_REQUIRE_PRISM=1`, then it fails, so the check can never vanish from CI
//! silently.

use provision_core::adapter::{Adapter, AdapterError, Effect};
use provision_core::model::{
    AccountRef, Entitlement, OperationKind, ReasonKind, ResourceRef, SystemName,
};
use provision_github::{GithubAdapter, GithubConfig};
use provision_testkit::conformance;
use provision_testkit::peers::Peer;
use reqwest::Method;

const SPEC: &str = "github-ghec.trimmed.json";

#[tokio::test]
async fn joiner_mover_leaver_against_prism() {
    let Some(prism) = Peer::prism(
        env!("CARGO_MANIFEST_DIR"),
        SPEC,
        "github_joiner_mover_leaver_against_prism",
    ) else {
        return;
    };
    let config = GithubConfig::builder("acme")
        .api_url(&prism.url)
        .token("github_pat_prism_test")
        .build()
        .unwrap();
    let adapter = GithubAdapter::new(config).unwrap();
    let sarah = AccountRef {
        login: "sarah@example.com".into(),
        external_id: Some("sarah-gh".into()),
    };

    // Joiner: the organization (the membership is re-checked first), a team, a repo.
    let mut profile = conformance::profile("sarah@example.com", "Sarah Chen");
    profile
        .attributes
        .insert("github_username".into(), "sarah-gh".into());
    let joined = conformance::run(&adapter, &sarah, OperationKind::CreateAccount { profile }).await;
    eprintln!("prism: join → {joined:?}");
    assert!(
        matches!(&joined, Ok(_) | Err(AdapterError::Pending { .. })),
        "{joined:?}"
    );
    let team = Entitlement::new("github", "team", "platform").with_role("member");
    let granted = conformance::run(
        &adapter,
        &sarah,
        OperationKind::Grant {
            entitlement: team.clone(),
        },
    )
    .await;
    eprintln!("prism: team → {granted:?}");
    assert!(
        matches!(&granted, Ok(_) | Err(AdapterError::Pending { .. })),
        "{granted:?}"
    );
    let repo = Entitlement::new("github", "repository", "acme/api").with_role("push");
    let granted = conformance::run(
        &adapter,
        &sarah,
        OperationKind::Grant {
            entitlement: repo.clone(),
        },
    )
    .await;
    eprintln!("prism: repository → {granted:?}");
    // The description's first answer is 201: an invitation, pending.
    assert!(
        matches!(
            &granted,
            Ok(Effect::Changed) | Err(AdapterError::Pending { .. })
        ),
        "{granted:?}"
    );

    // Reads: the organization's members and invitations, the team's members.
    adapter.read_accounts(None).await.unwrap();
    adapter
        .read_grants(
            &ResourceRef {
                system: SystemName::new("github"),
                kind: "team".into(),
                resource: "platform".into(),
                scope: None,
            },
            None,
        )
        .await
        .unwrap();

    // Mover: member → maintainer is one PUT; the repository is revoked.
    let mut op = conformance::operation(
        &adapter,
        &sarah.login,
        OperationKind::Grant {
            entitlement: team.clone().with_role("maintainer"),
        },
    );
    op.reason.kind = ReasonKind::Replacement;
    let moved = adapter.execute(&op, &sarah).await;
    assert!(
        matches!(&moved, Ok(_) | Err(AdapterError::Pending { .. })),
        "{moved:?}"
    );
    adapter.check(&op, &sarah).await.unwrap();
    conformance::run(
        &adapter,
        &sarah,
        OperationKind::Revoke { entitlement: repo },
    )
    .await
    .unwrap();
    conformance::run(
        &adapter,
        &sarah,
        OperationKind::Revoke { entitlement: team },
    )
    .await
    .unwrap();

    // Leaver: removed from the organization.
    let effect = conformance::run(&adapter, &sarah, OperationKind::SuspendAccount)
        .await
        .unwrap();
    assert_eq!(effect, Effect::Changed);

    // The app path: the installation token request conforms too (Prism checks the
    // path and the body; the signature is checked by the wiremock test).
    let key = include_str!("../../../provision-http/tests/fixtures/test-key.pem");
    let app = GithubAdapter::new(
        GithubConfig::builder("acme")
            .api_url(&prism.url)
            .app("4242", 1, key)
            .build()
            .unwrap(),
    )
    .unwrap();
    app.read_accounts(None).await.unwrap();

    // Prism does validate: a body that breaks the description is refused (so the
    // successes above mean the adapter's requests conform).
    let client = adapter.client();
    let bad = serde_json::json!({ "role": "overlord" });
    let e = client
        .send(
            Method::PUT,
            client.url(&["orgs", "acme", "memberships", "sarah-gh"]),
            Some(&bad),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AdapterError::Invalid { error } if error.status == Some(422)),
        "{e:?}"
    );
}
