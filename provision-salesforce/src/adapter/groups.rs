//! Public groups: a membership is one `GroupMember` record, created with one `POST`
//! and removed by deleting it, its id looked up by SOQL first.

use provision_core::adapter::{AdapterError, Applied, Page};
use provision_core::model::{GrantRecord, ResourceRef};
use serde_json::json;

use super::SalesforceAdapter;
use crate::client::SYSTEM;
use crate::descriptor::KIND_GROUP;
use crate::model::{CreateReply, GroupMemberRow, IdRow, soql_literal};

/// User ids start with this key prefix; a group's members can be groups too.
const USER_ID_PREFIX: &str = "005";

impl SalesforceAdapter {
    /// Adds the user to (or removes them from) the public group `name`. Adding a
    /// member again (`DUPLICATE_VALUE`) and removing a non-member are successes.
    pub(crate) async fn change_membership(
        &self,
        uid: &str,
        name: &str,
        add: bool,
    ) -> Result<Applied, AdapterError> {
        let group = self.resource_id(KIND_GROUP, name).await?;
        if add {
            let body = json!({"GroupId": group, "UserOrGroupId": uid});
            return match self.client.create("GroupMember", &body).await {
                Ok(reply) => {
                    let created: CreateReply = reply.json(SYSTEM)?;
                    tracing::debug!(membership = %created.id, "added to group");
                    Ok(Applied::changed().with_rate_limit(reply.rate_limit))
                }
                Err(AdapterError::Invalid { error })
                    if error.code.as_deref() == Some("DUPLICATE_VALUE") =>
                {
                    Ok(Applied::already_in_place())
                }
                Err(e) => Err(e),
            };
        }
        let soql = format!(
            "SELECT Id FROM GroupMember WHERE GroupId = {} AND UserOrGroupId = {}",
            soql_literal(&group),
            soql_literal(uid)
        );
        let rows: Vec<IdRow> = self.client.query_all(&soql).await?;
        self.delete_records("GroupMember", &rows).await
    }

    /// One batch of a public group's user members (nested groups are left out).
    pub(crate) async fn members(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        self.holders_page(
            resource,
            cursor,
            |id| {
                format!(
                    "SELECT Id, GroupId, UserOrGroupId FROM GroupMember WHERE GroupId = {id} ORDER BY Id"
                )
            },
            |m: GroupMemberRow| {
                m.user_or_group_id
                    .starts_with(USER_ID_PREFIX)
                    .then_some((m.user_or_group_id, None))
            },
        )
        .await
    }
}
