//! One joiner → leaver run against Prism serving the trimmed Slack spec (Prism
//! validates every request against the document and answers with its examples; a
//! request that breaks the document gets a 4xx instead).
//!
//! Prism is started by the test through `shared/peers/start-prism.sh` on a free port
//! (pid file in a temporary folder, stopped at the end), or taken from
//! `PROVISION_TEST_SLACK_PRISM_URL`.
//!
//! What this run leaves out, and why: methods whose 2021 description requires the
//! `token` as a query parameter or a header named `token` (`users.lookupByEmail`,
//! `usergroups.*`, `admin.*`) — the adapter sends the token only as
//! `Authorization: Bearer`, Slack's preferred form, which keeps it out of URLs; Prism
//! enforces the document's form and refuses them. `conversations.members`, whose
//! example always carries the same `next_cursor` (the adapter reports that as a
//! repeated cursor rather than loop). Those are covered by the wiremock tests, with
//! every request checked against the same document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use provision_core::adapter::Effect;
use provision_core::model::{AccountRef, Entitlement, OperationKind};
use provision_slack::{SlackAdapter, SlackConfig};
use provision_testkit::botocore::find_shared_dir;
use provision_testkit::conformance;

struct Prism {
    url: String,
    pidfile: Option<(PathBuf, PathBuf)>,
}

impl Prism {
    fn get() -> Prism {
        if let Ok(url) = std::env::var("PROVISION_TEST_SLACK_PRISM_URL")
            && !url.trim().is_empty()
        {
            return Prism {
                url: url.trim().trim_end_matches('/').to_owned(),
                pidfile: None,
            };
        }
        let shared = find_shared_dir(env!("CARGO_MANIFEST_DIR")).expect(
            "cannot find shared/ (with peers/start-prism.sh) beside the repository; set PROVISION_SHARED_DIR or PROVISION_TEST_SLACK_PRISM_URL",
        );
        let dir =
            std::env::temp_dir().join(format!("provision-slack-prism-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("prism.pid");
        let out = Command::new(shared.join("peers/start-prism.sh"))
            .arg(shared.join("specs/slack-web-api.trimmed.json"))
            .arg("0")
            .env("PRISM_PIDFILE", &pidfile)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {}/peers/start-prism.sh: {e}", shared.display())
            });
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && url.starts_with("http://"),
            "Prism did not start (it needs node and npm, and on first use the npm \
             registry); start-prism.sh said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Prism {
            url,
            pidfile: Some((shared.join("peers/stop.sh"), pidfile)),
        }
    }
}

impl Drop for Prism {
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
async fn a_joiner_then_leaver_against_prism() {
    let prism = Prism::get();
    let slack = SlackAdapter::new(
        SlackConfig::builder()
            // The document's paths sit at the root on Prism (its basePath is /api).
            .api_url(format!("{}/", prism.url))
            .bot_token("xoxb-prism-test")
            .build()
            .unwrap(),
    )
    .unwrap();
    let account = AccountRef {
        login: "ada@example.com".into(),
        external_id: Some("U012AB3CD".into()),
    };
    let channel = Entitlement::new("slack", "channel", "C012AB3CD");
    let joined = conformance::run(
        &slack,
        &account,
        OperationKind::Grant {
            entitlement: channel.clone(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the joiner's invite was refused by Prism: {e}"));
    assert_eq!(joined, Effect::Changed);
    let left = conformance::run(
        &slack,
        &account,
        OperationKind::Revoke {
            entitlement: channel,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the leaver's kick was refused by Prism: {e}"));
    assert_eq!(left, Effect::Changed);
}
