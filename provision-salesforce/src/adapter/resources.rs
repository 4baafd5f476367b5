//! The names policies use, resolved to record ids (cached), the resource listings,
//! and the one SOQL pager every listing shares.

use std::time::Duration;

use provision_core::adapter::{AdapterError, Page, RateLimitInfo, SystemError};
use provision_core::model::{GrantRecord, ResourceRecord, ResourceRef};
use provision_http::paginate::next_cursor;
use serde::de::DeserializeOwned;

use super::SalesforceAdapter;
use crate::client::SYSTEM;
use crate::descriptor::{
    KIND_GROUP, KIND_PERMISSION_SET, KIND_PERMISSION_SET_GROUP, KIND_PERMISSION_SET_LICENSE,
    KIND_PROFILE,
};
use crate::model::{NamedRow, soql_literal};

/// How long a resource's id is reused before its name is looked up again (a
/// permission set deleted and made again under its name gets a new id).
pub const RESOURCE_ID_TTL: Duration = Duration::from_secs(15 * 60);

/// Where one kind's resources live: the object, the field policies name them by, and
/// the filter that keeps only what policies can grant.
struct KindObject {
    object: &'static str,
    name_field: &'static str,
    filter: Option<&'static str>,
}

fn kind_object(kind: &str) -> Result<KindObject, AdapterError> {
    let (object, name_field, filter) = match kind {
        KIND_PROFILE => ("Profile", "Name", None),
        // Every profile and every permission set group has a permission set of its own
        // behind it: those are not assignable and are left out.
        KIND_PERMISSION_SET => (
            "PermissionSet",
            "Name",
            Some("IsOwnedByProfile = false AND PermissionSetGroupId = null"),
        ),
        KIND_PERMISSION_SET_GROUP => ("PermissionSetGroup", "DeveloperName", None),
        KIND_PERMISSION_SET_LICENSE => ("PermissionSetLicense", "DeveloperName", None),
        // Public groups only: roles, queues and territories are groups too.
        KIND_GROUP => ("Group", "DeveloperName", Some("Type = 'Regular'")),
        other => {
            return Err(AdapterError::Unsupported {
                what: format!("Salesforce has no resource kind {other:?}"),
            });
        }
    };
    Ok(KindObject {
        object,
        name_field,
        filter,
    })
}

impl SalesforceAdapter {
    /// The record id of the `kind` resource policies call `name`: cached, else one
    /// SOQL lookup. A name that does not exist is [`AdapterError::Invalid`] (a policy
    /// naming a resource the org lacks), never "not found", which a revoke would take
    /// for "already done".
    pub(crate) async fn resource_id(&self, kind: &str, name: &str) -> Result<String, AdapterError> {
        let key = format!("{kind}/{name}");
        if let Some(id) = self.ids.get(&key) {
            return Ok(id);
        }
        let o = kind_object(kind)?;
        let mut soql = format!(
            "SELECT Id FROM {} WHERE {} = {}",
            o.object,
            o.name_field,
            soql_literal(name)
        );
        if let Some(filter) = o.filter {
            soql.push_str(" AND ");
            soql.push_str(filter);
        }
        let rows: Vec<crate::model::IdRow> = self.client.query_all(&soql).await?;
        match rows.as_slice() {
            [row] => {
                self.ids.insert(key, row.id.clone());
                Ok(row.id.clone())
            }
            [] => Err(AdapterError::Invalid {
                error: SystemError::message(format!(
                    "{SYSTEM} has no {kind} named {name:?} ({}.{})",
                    o.object, o.name_field
                )),
            }),
            _ => Err(AdapterError::Invalid {
                error: SystemError::message(format!(
                    "{SYSTEM} has {} {kind}s named {name:?}: the name is ambiguous",
                    rows.len()
                )),
            }),
        }
    }

    /// Forgets a cached id (Salesforce said the record is gone).
    pub(crate) fn forget_resource(&self, kind: &str, name: &str) {
        self.ids.remove(&format!("{kind}/{name}"));
    }

    /// One batch of a SOQL query: the first when `cursor` is `None`, else the batch at
    /// the `nextRecordsUrl` the previous one named.
    pub(crate) async fn soql_page<T: DeserializeOwned>(
        &self,
        soql: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<T>, Option<String>, Option<RateLimitInfo>), AdapterError> {
        let (reply, rate) = match cursor {
            None => self.client.query::<T>(soql).await?,
            Some(next) => self.client.query_more::<T>(next).await?,
        };
        let next = if reply.done {
            None
        } else {
            Some(
                reply
                    .next_records_url
                    .ok_or_else(|| AdapterError::Permanent {
                        error: SystemError::message(format!(
                            "{SYSTEM} said the query is not done but gave no nextRecordsUrl"
                        )),
                    })?,
            )
        };
        let next = next_cursor(SYSTEM, cursor, next)?;
        Ok((reply.records, next, rate))
    }

    /// One batch of the holders of `resource`: on the first batch its id is resolved
    /// and `soql` given it (quoted); `holder` turns a row into the holder's id and
    /// login, or `None` for a row that is no user's.
    pub(crate) async fn holders_page<T: DeserializeOwned>(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
        soql: impl FnOnce(&str) -> String,
        holder: impl Fn(T) -> Option<(String, Option<String>)>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let soql = match cursor {
            Some(_) => String::new(),
            None => {
                let id = self.resource_id(&resource.kind, &resource.resource).await?;
                soql(&soql_literal(&id))
            }
        };
        let (rows, next, rate) = self.soql_page::<T>(&soql, cursor).await?;
        let items = rows
            .into_iter()
            .filter_map(&holder)
            .map(|(account_external_id, login)| GrantRecord {
                entitlement: self.entitlement(&resource.kind, &resource.resource),
                account_external_id,
                login,
            })
            .collect();
        Ok(Page::new(items, next).with_rate_limit(rate))
    }

    /// One batch of the resources of `kind`, with their ids.
    pub(crate) async fn resource_page(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        let o = kind_object(kind)?;
        let mut soql = format!("SELECT Id, {} FROM {}", o.name_field, o.object);
        if let Some(filter) = o.filter {
            soql.push_str(" WHERE ");
            soql.push_str(filter);
        }
        soql.push_str(&format!(" ORDER BY {}", o.name_field));
        let (rows, next, rate) = self.soql_page::<NamedRow>(&soql, cursor).await?;
        let items = rows
            .into_iter()
            .filter_map(|row| {
                let name = row.policy_name()?.to_owned();
                self.ids.insert(format!("{kind}/{name}"), row.id.clone());
                let mut record = ResourceRecord::new(kind, name);
                record.external_id = Some(row.id);
                Some(record)
            })
            .collect();
        Ok(Page::new(items, next).with_rate_limit(rate))
    }
}
