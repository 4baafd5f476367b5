//! A user's personal access tokens (administrators only): listed and revoked when a
//! leaver is deactivated rather than blocked, because GitLab reactivates a
//! deactivated user on their next sign-in and the old tokens would work again.
//!
//! `GET /personal_access_tokens?user_id=…&state=active` and
//! `DELETE /personal_access_tokens/:id` are not in GitLab's OpenAPI description; they
//! follow the REST documentation (`api/personal_access_tokens.md`).

use provision_core::adapter::{AdapterError, RateLimitInfo};
use reqwest::Method;
use serde::Deserialize;

use crate::client::{GitlabClient, PER_PAGE};

/// One personal access token, as listed (only the fields the adapter reads).
#[derive(Debug, Clone, Deserialize)]
pub struct PersonalAccessToken {
    /// The token's id.
    pub id: u64,
    /// Whether it still works (not revoked, not expired).
    #[serde(default)]
    pub active: bool,
}

/// The user's active personal access tokens, every page.
pub async fn active_tokens(
    client: &GitlabClient,
    user: u64,
) -> Result<Vec<PersonalAccessToken>, AdapterError> {
    let url = client.url_with(
        &["personal_access_tokens"],
        &[
            ("user_id", user.to_string()),
            ("state", "active".to_owned()),
            ("per_page", PER_PAGE.to_string()),
        ],
    );
    let tokens: Vec<PersonalAccessToken> = client.get_all(url).await?;
    Ok(tokens.into_iter().filter(|t| t.active).collect())
}

/// Revokes every active personal access token of the user; how many it revoked and
/// the last reply's rate-limit headers. A token gone meanwhile (404) is done.
pub async fn revoke_all(
    client: &GitlabClient,
    user: u64,
) -> Result<(usize, Option<RateLimitInfo>), AdapterError> {
    let mut revoked = 0;
    let mut rate = None;
    for token in active_tokens(client, user).await? {
        let url = client.url(&["personal_access_tokens", &token.id.to_string()]);
        match client.send(Method::DELETE, url, None).await {
            Ok(reply) => {
                revoked += 1;
                rate = reply.rate_limit;
            }
            Err(AdapterError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((revoked, rate))
}
