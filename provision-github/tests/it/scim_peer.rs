//! The EMU SCIM part against scim2-server (python-scim, a SCIM 2.0 service provider
//! nobody here wrote): create → adopt on 409 → suspend (`active:false`) → reactivate
//! (a rehire) → delete (only with `delete_leavers`), read back through SCIM.
//!
//! The server: `PROVISION_TEST_SCIM_URL` when set (token `peer-test-token`),
//! otherwise the test starts `shared/peers/start-scim.sh` on a free port with a pid
//! file in a temporary folder and stops it by that pid file at the end. If it cannot
//! start (no Python 3.11, no network for the first install) the test fails saying so.

use std::path::PathBuf;
use std::process::Command;

use provision_core::adapter::{Adapter, Effect, read_all_accounts};
use provision_core::model::{AccountRef, AccountState, OperationKind};
use provision_github::{GithubAdapter, GithubConfig};
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
        let dir =
            std::env::temp_dir().join(format!("provision-github-scim-{}", std::process::id()));
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

fn emu(peer: &Peer, delete_leavers: bool) -> GithubAdapter {
    GithubAdapter::new(
        GithubConfig::builder("acme")
            .api_url("http://127.0.0.1:9")
            .token("github_pat_unused_here")
            .emu("acme-emu", "acme", Some("peer-test-token".into()))
            .scim_url(&format!("{}/", peer.url))
            .delete_leavers(delete_leavers)
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn create_suspend_rehire_delete_against_scim2_server() {
    let peer = Peer::get();
    let github = emu(&peer, true);
    let suffix = std::process::id();
    let login = format!("ada{suffix}@example.com");
    let create = OperationKind::CreateAccount {
        profile: conformance::profile(&login, "Ada Lovelace"),
    };
    let made = github
        .execute(
            &conformance::operation(&github, &login, create.clone()),
            &AccountRef::by_login(&login),
        )
        .await
        .unwrap();
    assert_eq!(made.effect, Effect::Changed);
    let handle = made.external_id.clone().unwrap();
    assert_eq!(
        handle,
        format!("ada{suffix}_acme"),
        "the managed user's handle"
    );

    // The same person again: scim2-server says 409 uniqueness; adopted, same handle.
    let again = github
        .execute(
            &conformance::operation(&github, &login, create),
            &AccountRef::by_login(&login),
        )
        .await
        .unwrap();
    assert_eq!(again.effect, Effect::AlreadyInPlace);
    assert_eq!(again.external_id.as_deref(), Some(handle.as_str()));

    let accounts = read_all_accounts(&github).await.unwrap();
    let ada = accounts.iter().find(|a| a.login == login).unwrap();
    assert_eq!(ada.external_id, handle);
    assert_eq!(ada.state, AccountState::Active);
    assert_eq!(
        ada.correlation.get("email").map(String::as_str),
        Some(login.as_str())
    );

    let account = AccountRef {
        login: login.clone(),
        external_id: Some(handle.clone()),
    };
    // Leaver: suspended, not deleted; a rehire gets the same account back.
    conformance::suspend_then_state(&github, &account).await;
    assert_eq!(
        conformance::state_of(&github, &login).await,
        Some(AccountState::Suspended)
    );
    conformance::reactivate_then_state(&github, &account).await;
    // Deletion: refused without delete_leavers, done with it.
    let refused = emu(&peer, false)
        .execute(
            &conformance::operation(&github, &login, OperationKind::DeleteAccount),
            &account,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.class(), "unsupported", "{refused}");
    assert!(conformance::state_of(&github, &login).await.is_some());
    conformance::delete_then_gone(&github, &account).await;
}
