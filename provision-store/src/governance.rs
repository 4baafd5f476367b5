//! Governance records (`provision_governance::GovernanceStore`) in SQLite and
//! PostgreSQL: exceptions, access requests and their events, review campaigns, their
//! decisions and closures (schema version 8), and the governance event log. Every table is append-only (schema
//! version 4): the API only inserts, and triggers refuse UPDATE and DELETE from SQL.
//! A second exception, request or campaign with the same id, or a second decision on
//! one item, is refused as [`GovernanceStoreError::Duplicate`] and changes nothing.

use async_trait::async_trait;
use provision_governance::{
    AccessRequest, Campaign, CampaignClosure, Decision, Exception, GovernanceEvent,
    GovernanceStore, GovernanceStoreError, RequestEvent,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;

use crate::rows::micros;

fn to_json<T: Serialize>(value: &T) -> Result<String, GovernanceStoreError> {
    serde_json::to_string(value).map_err(|e| GovernanceStoreError::Storage(e.to_string()))
}

fn from_json<T: DeserializeOwned>(
    table: &str,
    key: &str,
    text: &str,
) -> Result<T, GovernanceStoreError> {
    serde_json::from_str(text)
        .map_err(|e| GovernanceStoreError::Corrupt(format!("{table} row {key}: {e}")))
}

/// A database error, with a unique-key violation named as a duplicate of `key`.
fn db_error(key: &str) -> impl Fn(sqlx::Error) -> GovernanceStoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            GovernanceStoreError::Duplicate(key.to_owned())
        }
        _ => GovernanceStoreError::Storage(e.to_string()),
    }
}

fn storage(e: sqlx::Error) -> GovernanceStoreError {
    GovernanceStoreError::Storage(e.to_string())
}

/// One implementation for both backends; `$sql` turns the `$1`-style text into the
/// backend's placeholders.
macro_rules! governance_store {
    ($store:ty, $sql:expr) => {
        impl $store {
            /// Every record `sql` selects (columns `k`, its key, and `record_json`),
            /// read back from `table`'s JSON.
            async fn gov_records<T: DeserializeOwned>(
                &self,
                sql: &'static str,
                table: &str,
            ) -> Result<Vec<T>, GovernanceStoreError> {
                let rows = sqlx::query(sql)
                    .fetch_all(self.pool())
                    .await
                    .map_err(storage)?;
                rows.iter()
                    .map(|r| {
                        let key: String = r.try_get("k").map_err(storage)?;
                        let json: String = r.try_get("record_json").map_err(storage)?;
                        from_json(table, &key, &json)
                    })
                    .collect()
            }
        }

        #[async_trait]
        impl GovernanceStore for $store {
            async fn add_exception(&self, e: &Exception) -> Result<(), GovernanceStoreError> {
                sqlx::query(sqlx::AssertSqlSafe($sql(
                    "INSERT INTO gov_exceptions (id, identity_id, expires_us, recorded_us, record_json) \
                     VALUES ($1, $2, $3, $4, $5)",
                )))
                .bind(e.id.as_str())
                .bind(e.identity.as_str())
                .bind(micros(e.expires_at))
                .bind(micros(e.recorded_at))
                .bind(to_json(e)?)
                .execute(self.pool())
                .await
                .map_err(db_error(&e.id))?;
                Ok(())
            }

            async fn exceptions(&self) -> Result<Vec<Exception>, GovernanceStoreError> {
                self.gov_records(
                    "SELECT id AS k, record_json FROM gov_exceptions ORDER BY recorded_us, id",
                    "gov_exceptions",
                )
                .await
            }

            async fn add_request(&self, q: &AccessRequest) -> Result<(), GovernanceStoreError> {
                sqlx::query(sqlx::AssertSqlSafe($sql(
                    "INSERT INTO gov_requests (id, beneficiary, requested_us, record_json) \
                     VALUES ($1, $2, $3, $4)",
                )))
                .bind(q.id.as_str())
                .bind(q.beneficiary.as_str())
                .bind(micros(q.requested_at))
                .bind(to_json(q)?)
                .execute(self.pool())
                .await
                .map_err(db_error(&q.id))?;
                Ok(())
            }

            async fn add_request_event(
                &self,
                id: &str,
                event: &RequestEvent,
            ) -> Result<(), GovernanceStoreError> {
                let known = sqlx::query(sqlx::AssertSqlSafe($sql(
                    "SELECT id FROM gov_requests WHERE id = $1",
                )))
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(storage)?;
                if known.is_none() {
                    return Err(GovernanceStoreError::Storage(format!("no request {id}")));
                }
                sqlx::query(sqlx::AssertSqlSafe($sql(
                    "INSERT INTO gov_request_events (request_id, at_us, event_json) VALUES ($1, $2, $3)",
                )))
                .bind(id)
                .bind(micros(event.at))
                .bind(to_json(event)?)
                .execute(self.pool())
                .await
                .map_err(storage)?;
                Ok(())
            }

            async fn requests(&self) -> Result<Vec<AccessRequest>, GovernanceStoreError> {
                let rows = sqlx::query(
                    "SELECT id, record_json FROM gov_requests ORDER BY requested_us, id",
                )
                .fetch_all(self.pool())
                .await
                .map_err(storage)?;
                let mut out: Vec<AccessRequest> = rows
                    .iter()
                    .map(|r| {
                        let id: String = r.try_get("id").map_err(storage)?;
                        let json: String = r.try_get("record_json").map_err(storage)?;
                        from_json("gov_requests", &id, &json)
                    })
                    .collect::<Result<_, _>>()?;
                let events = sqlx::query(
                    "SELECT seq, request_id, event_json FROM gov_request_events ORDER BY seq",
                )
                .fetch_all(self.pool())
                .await
                .map_err(storage)?;
                for r in &events {
                    let id: String = r.try_get("request_id").map_err(storage)?;
                    let json: String = r.try_get("event_json").map_err(storage)?;
                    let event: RequestEvent = from_json("gov_request_events", &id, &json)?;
                    if let Some(q) = out.iter_mut().find(|q| q.id == id) {
                        q.events.push(event);
                    }
                }
                Ok(out)
            }

            async fn add_campaign(&self, c: &Campaign) -> Result<(), GovernanceStoreError> {
                sqlx::query(sqlx::AssertSqlSafe($sql(
                    "INSERT INTO gov_campaigns (id, opened_us, record_json) VALUES ($1, $2, $3)",
                )))
                .bind(c.id.as_str())
                .bind(micros(c.opened_at))
                .bind(to_json(c)?)
                .execute(self.pool())
                .await
                .map_err(db_error(&c.id))?;
                Ok(())
            }

            async fn campaign(&self, id: &str) -> Result<Option<Campaign>, GovernanceStoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe($sql(
                    "SELECT record_json FROM gov_campaigns WHERE id = $1",
                )))
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(storage)?;
                row.map(|r| {
                    let json: String = r.try_get("record_json").map_err(storage)?;
                    from_json("gov_campaigns", id, &json)
                })
                .transpose()
            }

            async fn campaigns(&self) -> Result<Vec<Campaign>, GovernanceStoreError> {
                self.gov_records(
                    "SELECT id AS k, record_json FROM gov_campaigns ORDER BY opened_us, id",
                    "gov_campaigns",
                )
                .await
            }

            async fn add_closure(&self, c: &CampaignClosure) -> Result<(), GovernanceStoreError> {
                sqlx::query(sqlx::AssertSqlSafe($sql(
                    "INSERT INTO gov_campaign_closures (campaign_id, closed_us, record_json) \
                     VALUES ($1, $2, $3)",
                )))
                .bind(c.campaign.as_str())
                .bind(micros(c.closed_at))
                .bind(to_json(c)?)
                .execute(self.pool())
                .await
                .map_err(db_error(&c.campaign))?;
                Ok(())
            }

            async fn closures(&self) -> Result<Vec<CampaignClosure>, GovernanceStoreError> {
                self.gov_records(
                    "SELECT campaign_id AS k, record_json FROM gov_campaign_closures \
                     ORDER BY closed_us, campaign_id",
                    "gov_campaign_closures",
                )
                .await
            }

            async fn add_decision(&self, d: &Decision) -> Result<(), GovernanceStoreError> {
                let key = format!("{}/{}", d.campaign, d.item);
                sqlx::query(sqlx::AssertSqlSafe($sql(
                    "INSERT INTO gov_decisions (campaign_id, item_id, reviewer, decided_us, record_json) \
                     VALUES ($1, $2, $3, $4, $5)",
                )))
                .bind(d.campaign.as_str())
                .bind(d.item.as_str())
                .bind(d.reviewer.as_str())
                .bind(micros(d.decided_at))
                .bind(to_json(d)?)
                .execute(self.pool())
                .await
                .map_err(db_error(&key))?;
                Ok(())
            }

            async fn decisions(&self, campaign: &str) -> Result<Vec<Decision>, GovernanceStoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe($sql(
                    "SELECT item_id, record_json FROM gov_decisions WHERE campaign_id = $1 ORDER BY seq",
                )))
                .bind(campaign)
                .fetch_all(self.pool())
                .await
                .map_err(storage)?;
                rows.iter()
                    .map(|r| {
                        let item: String = r.try_get("item_id").map_err(storage)?;
                        let json: String = r.try_get("record_json").map_err(storage)?;
                        from_json("gov_decisions", &format!("{campaign}/{item}"), &json)
                    })
                    .collect()
            }

            async fn add_event(&self, e: &GovernanceEvent) -> Result<(), GovernanceStoreError> {
                sqlx::query(sqlx::AssertSqlSafe($sql(
                    "INSERT INTO gov_events (at_us, kind, identity_id, event_json) VALUES ($1, $2, $3, $4)",
                )))
                .bind(micros(e.at))
                .bind(e.kind.as_str())
                .bind(e.identity.as_deref())
                .bind(to_json(e)?)
                .execute(self.pool())
                .await
                .map_err(storage)?;
                Ok(())
            }

            async fn events(&self) -> Result<Vec<GovernanceEvent>, GovernanceStoreError> {
                let rows = sqlx::query("SELECT seq, event_json FROM gov_events ORDER BY seq")
                    .fetch_all(self.pool())
                    .await
                    .map_err(storage)?;
                rows.iter()
                    .map(|r| {
                        let seq: i64 = r.try_get("seq").map_err(storage)?;
                        let json: String = r.try_get("event_json").map_err(storage)?;
                        from_json("gov_events", &seq.to_string(), &json)
                    })
                    .collect()
            }
        }
    };
}

/// SQLite numbers its placeholders `?1`.
fn sqlite_sql(text: &str) -> String {
    text.replace('$', "?")
}

governance_store!(crate::SqliteStore, sqlite_sql);

#[cfg(feature = "postgres")]
governance_store!(crate::PostgresStore, str::to_owned);
