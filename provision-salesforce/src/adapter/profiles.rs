//! The profile: every user holds exactly one, set at create and changed in place
//! with one `ProfileId` update. It is never removed, only replaced.

use provision_core::adapter::{AdapterError, Applied, Page};
use provision_core::model::{GrantRecord, ResourceRef};
use serde_json::json;

use super::SalesforceAdapter;
use crate::client::SYSTEM;
use crate::descriptor::KIND_PROFILE;
use crate::model::{UserRow, soql_literal};

impl SalesforceAdapter {
    /// Gives the user the profile `name`: one `PATCH` of `ProfileId`, which replaces
    /// the one they held (idempotent: no read first).
    pub(crate) async fn set_profile(&self, uid: &str, name: &str) -> Result<Applied, AdapterError> {
        let profile_id = self.resource_id(KIND_PROFILE, name).await?;
        let reply = self
            .client
            .patch("User", uid, &json!({"ProfileId": profile_id}))
            .await?;
        Ok(Applied::changed().with_rate_limit(reply.rate_limit))
    }

    /// Takes the profile `name` away: a user cannot be without one, so they move to
    /// the configured fallback profile; without one the revoke is refused, saying so.
    /// A user who does not hold `name` is already done.
    pub(crate) async fn revoke_profile(
        &self,
        uid: &str,
        name: &str,
    ) -> Result<Applied, AdapterError> {
        let profile_id = self.resource_id(KIND_PROFILE, name).await?;
        let soql = format!(
            "SELECT Id, Username, ProfileId FROM User WHERE Id = {}",
            soql_literal(uid)
        );
        let rows: Vec<UserRow> = self.client.query_all(&soql).await?;
        let holds = rows
            .first()
            .is_some_and(|u| u.profile_id.as_deref() == Some(profile_id.as_str()));
        if !holds {
            return Ok(Applied::already_in_place());
        }
        let Some(fallback) = self.config().fallback_profile.clone() else {
            return Err(AdapterError::Unsupported {
                what: format!(
                    "revoking the {SYSTEM} profile {name:?}: a user always holds exactly one \
                     profile; give another in a policy, or set settings.fallback_profile \
                     (e.g. \"Minimum Access - Salesforce\")"
                ),
            });
        };
        if fallback == name {
            return Ok(Applied::already_in_place().with_note(format!(
                "{name:?} is the fallback profile: the user keeps it"
            )));
        }
        let applied = self.set_profile(uid, &fallback).await?;
        Ok(applied.with_note(format!("moved to the fallback profile {fallback:?}")))
    }

    /// One batch of the users who hold a profile.
    pub(crate) async fn profile_holders(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.holders_page(
            resource,
            cursor,
            |id| format!("SELECT Id, Username FROM User WHERE ProfileId = {id} ORDER BY Id"),
            |u: UserRow| Some((u.id, Some(u.username))),
        )
        .await
    }
}
