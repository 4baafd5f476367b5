//! The SCIM part against scim2-server (python-scim, a SCIM 2.0 service provider
//! nobody here wrote): create → adopt on 409 → deactivate → reactivate, and 1-based
//! paging, read back through SCIM.
//!
//! The server: `PROVISION_TEST_SCIM_URL` when set (token `peer-test-token`),
//! otherwise the test starts `shared/peers/start-scim.sh` on a free port with a pid
//! file in a temporary folder and stops it by that pid file at the end. If it cannot
//! start (no Python 3.11, no network for the first install) the test fails saying so.
//!
//! scim2-server's `DELETE` really deletes (RFC 7644), where Slack's deactivates; so
//! this run deactivates the generic way (`scim_deactivation: patch`, `active: false`),
//! and Slack's `DELETE` is covered by the wiremock tests (`accounts.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use provision_core::adapter::{Adapter, Effect, read_all_accounts};
use provision_core::model::{AccountRef, AccountState, OperationKind};
use provision_slack::config::ScimDeactivation;
use provision_slack::{SlackAdapter, SlackConfig};
use provision_testkit::botocore::find_shared_dir;
use provision_testkit::conformance;

struct Peer {
    url: String,
    pidfile: Option<(PathBuf, PathBuf)>,
}

impl Peer {
    fn get() -> Peer {
        if let Ok(url) = std::env::var("PROVISION_TEST_SCIM_URL")
            && !url.trim().is_empty()
        {
            return Peer {
                url: url.trim().trim_end_matches('/').to_owned(),
                pidfile: None,
            };
        }
        let shared = find_shared_dir(env!("CARGO_MANIFEST_DIR")).expect(
            "cannot find shared/ (with peers/start-scim.sh) beside the repository; set PROVISION_SHARED_DIR or PROVISION_TEST_SCIM_URL",
        );
        let dir = std::env::temp_dir().join(format!("provision-slack-scim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("scim.pid");
        let out = Command::new(shared.join("peers/start-scim.sh"))
            .env("SCIM_PORT", "0")
            .env("SCIM_PIDFILE", &pidfile)
            .env("SCIM_TOKEN", "peer-test-token")
            .env_remove("SCIM_TENANTS")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}/peers/start-scim.sh: {e}", shared.display()));
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && url.starts_with("http://"),
            "scim2-server did not start (it needs Python >= 3.11 and, on first use, pip \
             access); start-scim.sh said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Peer {
            url,
            pidfile: Some((shared.join("peers/stop.sh"), pidfile)),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some((stop, pidfile)) = &self.pidfile {
            let _ = Command::new(stop).arg(pidfile).status();
            if let Some(dir) = pidfile.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

#[tokio::test]
async fn create_deactivate_reactivate_against_scim2_server() {
    let peer = Peer::get();
    let slack = SlackAdapter::new(
        SlackConfig::builder()
            .scim_url(format!("{}/", peer.url))
            .scim_token("peer-test-token")
            .scim_page_size(1)
            .scim_deactivation(ScimDeactivation::PatchInactive)
            .build()
            .unwrap(),
    )
    .unwrap();
    let suffix = std::process::id();
    let login = format!("ada{suffix}@example.com");
    let create = OperationKind::CreateAccount {
        profile: conformance::profile(&login, "Ada Lovelace"),
    };
    let made = slack
        .execute(
            &conformance::operation(&slack, &login, create.clone()),
            &AccountRef::by_login(&login),
        )
        .await
        .unwrap();
    assert_eq!(made.effect, Effect::Changed);
    let id = made.external_id.clone().unwrap();
    // A second person, so the accounts come in more than one page of one.
    let other = format!("grace{suffix}@example.com");
    conformance::run(
        &slack,
        &AccountRef::by_login(&other),
        OperationKind::CreateAccount {
            profile: conformance::profile(&other, "Grace Hopper"),
        },
    )
    .await
    .unwrap();

    // The same person again: scim2-server says 409 uniqueness; adopted, same id.
    let again = slack
        .execute(
            &conformance::operation(&slack, &login, create),
            &AccountRef::by_login(&login),
        )
        .await
        .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);
    assert_eq!(again.external_id.as_deref(), Some(id.as_str()));

    let accounts = read_all_accounts(&slack).await.unwrap();
    assert!(accounts.len() >= 2);
    let ada = accounts.iter().find(|a| a.login == login).unwrap();
    assert_eq!(ada.external_id, id);
    assert_eq!(ada.state, AccountState::Active);

    let account = AccountRef {
        login: login.clone(),
        external_id: Some(id.clone()),
    };
    conformance::suspend_then_state(&slack, &account).await;
    assert_eq!(
        conformance::state_of(&slack, &login).await,
        Some(AccountState::Deprovisioned)
    );
    conformance::reactivate_then_state(&slack, &account).await;
    assert_eq!(
        conformance::state_of(&slack, &login).await,
        Some(AccountState::Active)
    );
}
