//! Quickstart: onboard, move and offboard people against sandbox systems named like
//! the real ones, with no credentials and no network.
//!
//! ```sh
//! cargo run -p provision-examples --example quickstart
//! ```
//!
//! With `OKTA_ORG_URL` and `OKTA_API_TOKEN` (or `OKTA_CLIENT_ID` with
//! `OKTA_PRIVATE_KEY` / `OKTA_PRIVATE_KEY_FILE`) set, the `okta` system is your real
//! Okta org; with `GOOGLE_APPLICATION_CREDENTIALS` (or `GOOGLE_SERVICE_ACCOUNT_KEY`)
//! and `GOOGLE_ADMIN_SUBJECT`, `google` is your real Workspace; with
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (or `AWS_DEFAULT_REGION`),
//! `PROVISION_AWS_INSTANCE_ARN` and `PROVISION_AWS_IDENTITY_STORE_ID` (optional:
//! `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL`, `PROVISION_AWS_ACCOUNTS`), `aws` is your
//! real IAM Identity Center. Use test tenants: the scenes create, change and suspend
//! users there.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use provision_examples::{Console, Quickstart, QuickstartError};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain: "Okta connection failed: error sending request: …
            // connection refused", not only the outermost message.
            eprintln!(
                "quickstart stopped: {}",
                provision_core::error_report::error_chain(&e)
            );
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), QuickstartError> {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let run_dir = std::env::temp_dir().join(format!(
        "provision-quickstart-{stamp}-{}",
        std::process::id()
    ));
    let env = |name: &str| std::env::var(name).ok();
    let mut qs = Quickstart::load(examples, &run_dir, &env, Arc::new(Console::stdout())).await?;
    qs.seed_company();
    qs.onboard_sarah().await?;
    qs.move_priya_to_sales().await?;
    qs.offboard_tom().await?;
    qs.detect_and_fix_drift().await?;
    qs.review_access().await?;
    qs.audit_trail().await?;
    qs.write_evidence_bundle().await?;
    Ok(())
}
