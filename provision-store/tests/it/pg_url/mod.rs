//! Where the PostgreSQL tests find their server, and what they do without one.
//!
//! `PROVISION_TEST_POSTGRES_URL` names a server. Without it a test prints `SKIPPED`
//! and passes — unless `PROVISION_REQUIRE_POSTGRES=1` (set by `.ci/run` in CI), in
//! which case it fails, so the PostgreSQL tests can never vanish from CI silently.

/// The server's URL, or `None` (after printing SKIPPED) when none is configured and
/// none is required. Panics when one is required and missing.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("PROVISION_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("PROVISION_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{test}: PROVISION_REQUIRE_POSTGRES=1 but PROVISION_TEST_POSTGRES_URL is not set"
            );
            eprintln!(
                "SKIPPED {test}: set PROVISION_TEST_POSTGRES_URL to a PostgreSQL server to run it"
            );
            None
        }
    }
}
