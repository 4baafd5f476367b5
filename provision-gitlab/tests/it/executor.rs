//! The GitLab adapter under the executor (through the `Engine`): what a run does when
//! gitlab.com's edge answers 429 without any rate-limit header — exponential backoff,
//! then success — and when GitLab says when to come back.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::{Duration, Instant};

use provision_core::engine::Engine;
use provision_core::executor::{OperationOutcome, RetryConfig};
use provision_core::model::Identity;
use support::{FakeGitlab, Src, TOKEN, assert_conform, start};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const POLICIES: &str = "\
policies:
  - name: Engineering
    triggers:
      - department: Engineering
    provisions:
      - {system: gitlab, action: add_to_group, target: acme/engineering, role: developer}
";

async fn engine(name: &str, url: &str, retry: RetryConfig) -> Engine {
    let dir = std::env::temp_dir().join(format!("gitlab-exec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let text = format!(
        "systems:\n  gitlab:\n    adapter: gitlab\n    settings:\n      base_url: {url}\n      group: acme\n      deployment: self_managed\n    credentials:\n      token: {{file: {}}}\n",
        token.display()
    );
    std::fs::write(dir.join("provision.yaml"), text).unwrap();
    std::fs::write(dir.join("policies/gitlab.yaml"), POLICIES).unwrap();
    let engine = Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        .factories([provision_gitlab::factory()])
        .retry(retry)
        .build()
        .await
        .unwrap();
    // Everything is loaded and the token read: the folder (with the token) goes.
    let _ = std::fs::remove_dir_all(&dir);
    engine
}

#[tokio::test]
async fn a_bare_429_is_retried_with_growing_delays_until_it_goes_through() {
    let fake = FakeGitlab::new(100);
    fake.add_group("acme");
    fake.add_group("acme/engineering");
    let sarah = fake.add_user("sarah", "sarah@example.com");
    let server = start(&fake).await;
    // The first three adds meet the edge's 429 with no header at all.
    Mock::given(method("POST"))
        .and(path("/api/v4/groups/acme%2Fengineering/members"))
        .respond_with(ResponseTemplate::new(429).set_body_string("Retry later"))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    let retry = RetryConfig {
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        jitter: false,
        // A fixed pause (what a headerless RateLimited would get) would be this long.
        default_rate_limit_wait: Duration::from_secs(60),
        ..RetryConfig::default()
    };
    let engine = engine("bare429", &server.uri(), retry).await;
    let roster = [Identity::new("e1", "sarah@example.com", "Sarah")
        .with_attribute("department", "Engineering")];
    let plan = engine
        .plan(&roster, "join")
        .await
        .unwrap()
        .approve()
        .unwrap();
    let started = Instant::now();
    let report = engine.apply(&plan).await.unwrap();
    let took = started.elapsed();
    let grant = &report.operations[0];
    assert_eq!(grant.outcome, OperationOutcome::Succeeded, "{report}");
    assert_eq!(grant.attempts, 4, "{report}");
    assert_eq!(fake.level(Src::Group, "acme/engineering", sarah), Some(30));
    // 100 + 200 + 400 ms of backoff, not a minute's pause.
    assert!(took >= Duration::from_millis(700), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_conform(&server).await;
}
