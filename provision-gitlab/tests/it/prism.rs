//! One joiner → mover → leaver run against **Prism** serving GitLab's trimmed OpenAPI
//! description (`shared/peers/start-prism.sh`, `--errors` mode): an implementation
//! nobody here wrote validates every request (path, query, body types and required
//! fields) and answers from the description's examples. Prism is stateless and the
//! description covers members only, so the run is the membership calls: grants, a
//! role change as one `PUT`, reads of direct and inherited members, revokes.
//!
//! The test starts Prism itself (on a free port, pid file in a temp folder) and stops
//! it at the end. When Prism cannot start (no node/npm, no network for the first
//! `npm ci`), it prints `SKIPPED` and passes — unless `PROVISION_REQUIRE_PRISM=1`, then
//! it fails, so the check can never vanish from CI silently.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use provision_core::adapter::{Adapter, AdapterError, Effect};
use provision_core::model::{AccountRef, Entitlement, OperationKind, ReasonKind};
use provision_gitlab::{Deployment, GitlabAdapter, GitlabConfig};
use provision_testkit::conformance;
use provision_testkit::openapi::{shared_dir, shared_spec_path};
use reqwest::Method;

const SPEC: &str = "gitlab-openapi-v2.trimmed.yaml";

/// A running Prism, stopped (by its pid file) when dropped.
struct Prism {
    url: String,
    pidfile: PathBuf,
    stop: PathBuf,
    dir: PathBuf,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = Command::new(&self.stop).arg(&self.pidfile).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_prism(test: &str) -> Option<Prism> {
    let required = std::env::var("PROVISION_REQUIRE_PRISM").as_deref() == Ok("1");
    let peers = shared_dir(env!("CARGO_MANIFEST_DIR")).join("peers");
    let spec = shared_spec_path(env!("CARGO_MANIFEST_DIR"), SPEC);
    let dir = std::env::temp_dir().join(format!("gitlab-prism-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("prism.pid");
    let output = Command::new(peers.join("start-prism.sh"))
        .arg(&spec)
        .arg("0")
        .env("PRISM_PIDFILE", &pidfile)
        .output();
    let failure = match output {
        Ok(out) if out.status.success() => {
            let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if url.starts_with("http://") {
                return Some(Prism {
                    url,
                    pidfile,
                    stop: peers.join("stop.sh"),
                    dir,
                });
            }
            format!("start-prism.sh printed no URL: {url:?}")
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            format!(
                "start-prism.sh failed ({}): {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )
        }
        Err(e) => format!("cannot run start-prism.sh: {e}"),
    };
    let _ = Command::new(peers.join("stop.sh")).arg(&pidfile).status();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !required,
        "{test}: PROVISION_REQUIRE_PRISM=1 but Prism could not start: {failure}"
    );
    eprintln!(
        "SKIPPED {test}: Prism could not start ({failure}); it needs node and npm \
         (set PROVISION_REQUIRE_PRISM=1 to make this a failure)"
    );
    None
}

fn group(path: &str, role: &str) -> Entitlement {
    Entitlement::new("gitlab", "group", path).with_role(role)
}

#[tokio::test]
async fn joiner_mover_leaver_against_prism() {
    let Some(prism) = start_prism("joiner_mover_leaver_against_prism") else {
        return;
    };
    let config = GitlabConfig::builder(&prism.url, "acme")
        .private_token("glpat-prism-test")
        .deployment(Deployment::SelfManaged)
        .build()
        .unwrap();
    let adapter = GitlabAdapter::new(config).unwrap();
    let sarah = AccountRef {
        login: "sarah@example.com".into(),
        external_id: Some("42".into()),
    };
    let project =
        Entitlement::new("gitlab", "project", "acme/engineering/api").with_role("reporter");

    // Joiner: developer in a subgroup (addressed by its URL-encoded full path), reporter
    // on a project.
    for e in [group("acme/engineering", "developer"), project.clone()] {
        let effect = conformance::run(
            &adapter,
            &sarah,
            OperationKind::Grant {
                entitlement: e.clone(),
            },
        )
        .await
        .unwrap_or_else(|err| panic!("granting {e}: Prism refused the request: {err}"));
        assert_eq!(effect, Effect::Changed, "{e}");
    }
    // Reads: direct members, inherited members, one member.
    adapter
        .read_grants(&group("acme/engineering", "developer").resource_ref(), None)
        .await
        .unwrap();
    adapter
        .read_reachable(&project.resource_ref(), None)
        .await
        .unwrap();

    // Mover: developer → maintainer is one PUT; the project is revoked.
    let mut op = conformance::operation(
        &adapter,
        &sarah.login,
        OperationKind::Grant {
            entitlement: group("acme/engineering", "maintainer"),
        },
    );
    op.reason.kind = ReasonKind::Replacement;
    let applied = adapter.execute(&op, &sarah).await.unwrap();
    assert_eq!(applied.effect, Effect::Changed);
    adapter.check(&op, &sarah).await.unwrap();
    let effect = conformance::run(
        &adapter,
        &sarah,
        OperationKind::Revoke {
            entitlement: project,
        },
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::Changed);

    // Leaver: the remaining membership is revoked.
    let effect = conformance::run(
        &adapter,
        &sarah,
        OperationKind::Revoke {
            entitlement: group("acme/engineering", "maintainer"),
        },
    )
    .await
    .unwrap();
    assert_eq!(effect, Effect::Changed);

    // Prism does validate: a body that breaks the description is refused (so the
    // successes above mean the adapter's requests conform).
    let client = adapter.client();
    let bad = serde_json::json!({ "user_id": 42, "access_level": "developer" });
    let e = client
        .send(
            Method::POST,
            client.url(&["groups", "acme", "members"]),
            Some(&bad),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AdapterError::Invalid { error } if error.status == Some(422)),
        "{e:?}"
    );
}
