//! Permission sets, permission set groups and permission set licences: each grant is
//! one assignment record, created with one `POST` and revoked by deleting it, its id
//! looked up by SOQL first (Salesforce deletes assignments by id only). Also a
//! user's whole set of grants, read phase by phase.

use provision_core::adapter::{AdapterError, Applied, Page, SystemError};
use provision_core::model::{AccountRef, GrantRecord, ResourceRef};
use reqwest::Method;
use serde_json::{Value, json};

use super::{SalesforceAdapter, field};
use crate::client::SYSTEM;
use crate::descriptor::{
    KIND_GROUP, KIND_PERMISSION_SET, KIND_PERMISSION_SET_GROUP, KIND_PERMISSION_SET_LICENSE,
};
use crate::model::{AssignmentRow, CreateReply, IdRow, is_record_id, soql_literal};

/// The assignment object of a kind and the field naming what is assigned.
fn assignment_object(kind: &str) -> (&'static str, &'static str) {
    match kind {
        KIND_PERMISSION_SET_GROUP => ("PermissionSetAssignment", "PermissionSetGroupId"),
        KIND_PERMISSION_SET_LICENSE => ("PermissionSetLicenseAssign", "PermissionSetLicenseId"),
        _ => ("PermissionSetAssignment", "PermissionSetId"),
    }
}

/// The phases of a user's grants, in the order they are read (licences last).
const PHASES: [&str; 3] = ["assignments", "groups", "licences"];

impl SalesforceAdapter {
    /// Grants (`add`) or revokes one permission set, group or licence. Granting what
    /// is held already (`DUPLICATE_VALUE`) and revoking what is not held are successes.
    pub(crate) async fn change_assignment(
        &self,
        uid: &str,
        kind: &str,
        name: &str,
        add: bool,
    ) -> Result<Applied, AdapterError> {
        let target = self.resource_id(kind, name).await?;
        let (object, target_field) = assignment_object(kind);
        if add {
            let body = json!({"AssigneeId": uid, target_field: target});
            return match self.client.create(object, &body).await {
                Ok(reply) => {
                    let created: CreateReply = reply.json(SYSTEM)?;
                    tracing::debug!(assignment = %created.id, success = created.success, "assigned");
                    Ok(Applied::changed().with_rate_limit(reply.rate_limit))
                }
                Err(AdapterError::Invalid { error })
                    if error.code.as_deref() == Some("DUPLICATE_VALUE") =>
                {
                    Ok(Applied::already_in_place())
                }
                Err(AdapterError::Invalid { error })
                    if error.code.as_deref() == Some("INVALID_CROSS_REFERENCE_KEY") =>
                {
                    // The cached id may name a record deleted since: look it up afresh
                    // next time.
                    self.forget_resource(kind, name);
                    Err(AdapterError::Invalid { error })
                }
                Err(e) => Err(e),
            };
        }
        let soql = format!(
            "SELECT Id FROM {object} WHERE AssigneeId = {} AND {target_field} = {}",
            soql_literal(uid),
            soql_literal(&target)
        );
        let rows: Vec<IdRow> = self.client.query_all(&soql).await?;
        self.delete_records(object, &rows).await
    }

    /// Deletes records by id, one `DELETE` each (an assignment or membership is one
    /// record); none is already done, and so is one deleted meanwhile.
    pub(crate) async fn delete_records(
        &self,
        object: &str,
        rows: &[IdRow],
    ) -> Result<Applied, AdapterError> {
        let mut applied = Applied::already_in_place();
        for row in rows {
            if !is_record_id(&row.id) {
                return Err(AdapterError::Permanent {
                    error: SystemError::message(format!(
                        "{SYSTEM} returned {:?} as a {object} id",
                        row.id
                    )),
                });
            }
            match self
                .client
                .send(Method::DELETE, &["sobjects", object, &row.id], &[], None)
                .await
            {
                Ok(reply) => applied = Applied::changed().with_rate_limit(reply.rate_limit),
                Err(AdapterError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(applied)
    }

    /// One batch of the holders of a permission set, group or licence.
    pub(crate) async fn assignees(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let (object, target_field) = assignment_object(&resource.kind);
        self.holders_page(
            resource,
            cursor,
            |id| {
                format!(
                    "SELECT Id, AssigneeId, Assignee.Username FROM {object} WHERE {target_field} = {id} ORDER BY Id"
                )
            },
            |r: AssignmentRow| Some((r.assignee_id, r.assignee.and_then(|a| a.username))),
        )
        .await
    }

    /// One batch of what one user holds. The cursor is `phase|nextRecordsUrl|user id`.
    pub(crate) async fn account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let (phase, next, uid) = match cursor {
            None => {
                let uid = match self.user_id(account).await {
                    Ok(uid) => uid,
                    // An unknown account holds nothing.
                    Err(AdapterError::NotFound { .. }) => return Ok(Page::last(Vec::new())),
                    Err(e) => return Err(e),
                };
                (0, None, uid)
            }
            Some(c) => parse_grants_cursor(c)?,
        };
        let soql = match PHASES[phase] {
            "assignments" => format!(
                "SELECT Id, PermissionSetId, PermissionSet.Name, PermissionSetGroupId, \
                 PermissionSetGroup.DeveloperName FROM PermissionSetAssignment WHERE AssigneeId = {} \
                 AND PermissionSet.IsOwnedByProfile = false",
                soql_literal(&uid)
            ),
            "groups" => format!(
                "SELECT Id, GroupId, Group.DeveloperName FROM GroupMember WHERE UserOrGroupId = {} \
                 AND Group.Type = 'Regular'",
                soql_literal(&uid)
            ),
            _ => format!(
                "SELECT Id, PermissionSetLicenseId, PermissionSetLicense.DeveloperName FROM \
                 PermissionSetLicenseAssign WHERE AssigneeId = {}",
                soql_literal(&uid)
            ),
        };
        let (rows, more, rate) = self.soql_page::<Value>(&soql, next.as_deref()).await?;
        let items = rows
            .iter()
            .filter_map(|row| {
                let (kind, name) = match PHASES[phase] {
                    "assignments" => match field(row, "PermissionSetGroup.DeveloperName") {
                        Some(group) => (KIND_PERMISSION_SET_GROUP, group),
                        None => (KIND_PERMISSION_SET, field(row, "PermissionSet.Name")?),
                    },
                    "groups" => (KIND_GROUP, field(row, "Group.DeveloperName")?),
                    _ => (
                        KIND_PERMISSION_SET_LICENSE,
                        field(row, "PermissionSetLicense.DeveloperName")?,
                    ),
                };
                Some(GrantRecord {
                    entitlement: self.entitlement(kind, name),
                    account_external_id: uid.clone(),
                    login: Some(account.login.clone()),
                })
            })
            .collect();
        let next = match more {
            Some(url) => Some(format!("{phase}|{url}|{uid}")),
            None if phase + 1 < PHASES.len() => Some(format!("{}||{uid}", phase + 1)),
            None => None,
        };
        Ok(Page::new(items, next).with_rate_limit(rate))
    }
}

fn parse_grants_cursor(cursor: &str) -> Result<(usize, Option<String>, String), AdapterError> {
    let bad = || AdapterError::Invalid {
        error: SystemError::message(format!("not a {SYSTEM} account-grants cursor: {cursor:?}")),
    };
    let mut parts = cursor.splitn(3, '|');
    let phase: usize = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let next = parts.next().ok_or_else(bad)?;
    let uid = parts.next().filter(|u| is_record_id(u)).ok_or_else(bad)?;
    if phase >= PHASES.len() {
        return Err(bad());
    }
    Ok((
        phase,
        (!next.is_empty()).then(|| next.to_owned()),
        uid.to_owned(),
    ))
}
