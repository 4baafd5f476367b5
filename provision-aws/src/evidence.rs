//! Evidence reads ([`EvidenceSource`]): every identity-store user's account
//! assignments, direct and through groups, as evidence for SOC 2 CC6.3
//! (access granted by role, to the accounts it names).
//!
//! | kind | requests | one row per |
//! | --- | --- | --- |
//! | `aws.account_assignment` | `ListUsers`; per user `ListAccountAssignmentsForPrincipal` (`USER`) and `ListGroupMembershipsForMember`; per group once `ListAccountAssignmentsForPrincipal` (`GROUP`) and `DescribeGroup`; `DescribePermissionSet` per permission set once | (user, account, permission set, held directly or through a group) |
//!
//! Every list follows `NextToken` to the end.
//!
//! ## Read-only access
//!
//! AWS has no OAuth scopes: what the credentials may do is their IAM policy's.
//! Evidence needs only `identitystore:ListUsers`,
//! `identitystore:ListGroupMembershipsForMember`, `identitystore:DescribeGroup`,
//! `sso:ListAccountAssignmentsForPrincipal`, `sso:DescribePermissionSet` (and
//! `sso:ListInstances` when the instance is discovered) — the AWS managed policies
//! `AWSSSOReadOnly` and `AWSSSODirectoryReadOnly` cover them. An evidence-only
//! connection should use such a read-only role.
//!
//! ## Rate limits
//!
//! Evidence reads run outside the executor, so they wait themselves
//! ([`provision_http::read_retry`]): a `ThrottlingException` waits its
//! `RetryAfterSeconds` (or backs off when it has none), a 5xx or
//! `InternalServerException` backs off.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use provision_core::adapter::{Adapter, AdapterError, CollectedEvidence, EvidenceSource};
use provision_core::model::AccountRecord;
use provision_http::read_retry::{ReadRetry, with_read_retries};
use serde_json::{Value, json};

use crate::adapter::{AwsAdapter, PAGE_SIZE};
use crate::client::Service;
use crate::model::{
    AssignmentForPrincipal, ListAssignmentsForPrincipalRequest,
    ListAssignmentsForPrincipalResponse, ListGroupMembershipsForMemberRequest,
    ListGroupMembershipsForMemberResponse, MemberId,
};

/// `aws.account_assignment`.
pub const KIND_ACCOUNT_ASSIGNMENT: &str = "aws.account_assignment";

/// A group's assignments and name, read once per collection.
struct GroupAssignments {
    name: Option<String>,
    assignments: Vec<AssignmentForPrincipal>,
}

impl AwsAdapter {
    /// Every account assignment of every user, with an explicit wait-and-retry
    /// policy (the [`EvidenceSource`] implementation uses [`ReadRetry::default`]).
    pub async fn collect_evidence_with(
        &self,
        retry: &ReadRetry,
    ) -> Result<Vec<CollectedEvidence>, AdapterError> {
        let mut out = Vec::new();
        let mut groups: HashMap<String, GroupAssignments> = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page =
                with_read_retries(retry, "ListUsers", || self.read_accounts(cursor.as_deref()))
                    .await?;
            for user in &page.items {
                self.user_evidence(retry, user, &mut groups, &mut out)
                    .await?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn user_evidence(
        &self,
        retry: &ReadRetry,
        user: &AccountRecord,
        groups: &mut HashMap<String, GroupAssignments>,
        out: &mut Vec<CollectedEvidence>,
    ) -> Result<(), AdapterError> {
        for assignment in self
            .assignments_of(retry, "USER", &user.external_id)
            .await?
        {
            if let Some(row) = self.row(user, &assignment, None).await? {
                out.push(row);
            }
        }
        for group_id in self.groups_of(retry, &user.external_id).await? {
            if !groups.contains_key(&group_id) {
                let assignments = self.assignments_of(retry, "GROUP", &group_id).await?;
                let name = with_read_retries(retry, "DescribeGroup", || self.group_name(&group_id))
                    .await?;
                groups.insert(group_id.clone(), GroupAssignments { name, assignments });
            }
            let Some(group) = groups.get(&group_id) else {
                continue;
            };
            let via = json!({"group_id": group_id, "group": group.name});
            for assignment in &group.assignments {
                if let Some(row) = self.row(user, assignment, Some(via.clone())).await? {
                    out.push(row);
                }
            }
        }
        Ok(())
    }

    /// Every assignment of one principal (`ListAccountAssignmentsForPrincipal`, to the end).
    async fn assignments_of(
        &self,
        retry: &ReadRetry,
        principal_type: &str,
        principal_id: &str,
    ) -> Result<Vec<AssignmentForPrincipal>, AdapterError> {
        let instance_arn = self.instance_arn().await?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = ListAssignmentsForPrincipalRequest {
                instance_arn: instance_arn.clone(),
                principal_id: principal_id.to_owned(),
                principal_type: principal_type.to_owned(),
                max_results: PAGE_SIZE,
                next_token: token.clone(),
            };
            let page: ListAssignmentsForPrincipalResponse =
                with_read_retries(retry, "ListAccountAssignmentsForPrincipal", || async {
                    self.client
                        .call(
                            Service::SsoAdmin,
                            "ListAccountAssignmentsForPrincipal",
                            &request,
                        )
                        .await
                        .map_err(AdapterError::from)
                })
                .await?;
            out.extend(page.account_assignments.into_iter().filter(|a| {
                a.principal_type
                    .as_deref()
                    .is_none_or(|t| t == principal_type)
                    && a.principal_id
                        .as_deref()
                        .is_none_or(|id| id == principal_id)
            }));
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(next) if Some(&next) == token.as_ref() => {
                    return Err(provision_http::paginate::repeated_cursor("AWS", &next));
                }
                Some(next) => token = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// The ids of the groups a user is a direct member of (`ListGroupMembershipsForMember`).
    async fn groups_of(
        &self,
        retry: &ReadRetry,
        user_id: &str,
    ) -> Result<Vec<String>, AdapterError> {
        let store = self.store_id().await?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = ListGroupMembershipsForMemberRequest {
                identity_store_id: store.clone(),
                member_id: MemberId {
                    user_id: Some(user_id.to_owned()),
                },
                max_results: PAGE_SIZE,
                next_token: token.clone(),
            };
            let page: ListGroupMembershipsForMemberResponse =
                with_read_retries(retry, "ListGroupMembershipsForMember", || async {
                    self.client
                        .call(
                            Service::IdentityStore,
                            "ListGroupMembershipsForMember",
                            &request,
                        )
                        .await
                        .map_err(AdapterError::from)
                })
                .await?;
            out.extend(
                page.group_memberships
                    .into_iter()
                    .filter_map(|m| m.group_id),
            );
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(next) if Some(&next) == token.as_ref() => {
                    return Err(provision_http::paginate::repeated_cursor("AWS", &next));
                }
                Some(next) => token = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// One evidence row; `None` for an assignment without an account or permission set.
    async fn row(
        &self,
        user: &AccountRecord,
        assignment: &AssignmentForPrincipal,
        via_group: Option<Value>,
    ) -> Result<Option<CollectedEvidence>, AdapterError> {
        let (Some(account_id), Some(arn)) =
            (&assignment.account_id, &assignment.permission_set_arn)
        else {
            return Ok(None);
        };
        let permission_set = self.permission_set_name(arn).await?;
        let mut data = json!({
            "user_id": user.external_id,
            "user_name": user.login,
            "account_id": account_id,
            "account_name": self.config.account_name(account_id),
            "permission_set_arn": arn,
            "permission_set": permission_set,
            "principal_type": if via_group.is_some() { "GROUP" } else { "USER" },
        });
        if let Some(via) = via_group {
            data["via"] = via;
        }
        Ok(Some(
            CollectedEvidence::new(
                self.config.system_name.as_str(),
                KIND_ACCOUNT_ASSIGNMENT,
                Utc::now(),
                data,
            )
            .about(user.login.as_str()),
        ))
    }
}

#[async_trait]
impl EvidenceSource for AwsAdapter {
    fn evidence_kinds(&self) -> Vec<String> {
        vec![KIND_ACCOUNT_ASSIGNMENT.to_owned()]
    }

    async fn collect_evidence(&self) -> Result<Vec<CollectedEvidence>, AdapterError> {
        self.collect_evidence_with(&ReadRetry::default()).await
    }
}
