//! Rate budgets shared by the instances on one PostgreSQL database: `PostgresStore`
//! implements [`SharedBudget`] (the design and its rules are in
//! `provision_core::executor::BudgetShare`'s module).
//!
//! `rate_budget_instances` holds one lease per instance; a renewal upserts it and, in
//! the same statement, counts the live leases and reads the pauses in force, so a
//! heartbeat is one round trip. Every time is the database's (`now()`): instances'
//! clocks need not agree, and pauses travel as durations.

use std::time::Duration;

use async_trait::async_trait;
use provision_core::executor::{Membership, SharedBudget, SharedBudgetError, SharedPause};
use sqlx::Row;

use crate::PostgresStore;

/// Leases expired this long are deleted by the next renewal.
const FORGET_AFTER_SECONDS: f64 = 3600.0;

/// The upsert of one lease, the count of live ones, and the pauses in force: row
/// `kind = 'live'` carries the count, `kind = 'pause'` rows one pause each.
const RENEW: &str = "
WITH forgotten AS (
    DELETE FROM rate_budget_instances
    WHERE lease_until < now() - make_interval(secs => $3) AND instance <> $1
), renewed AS (
    INSERT INTO rate_budget_instances (instance, lease_until)
    VALUES ($1, now() + make_interval(secs => $2))
    ON CONFLICT (instance) DO UPDATE SET lease_until = EXCLUDED.lease_until
    RETURNING instance
)
SELECT 'live' AS kind, '' AS system, '' AS budget,
       (SELECT count(*) FROM rate_budget_instances
         WHERE lease_until > now() AND instance <> $1)
       + (SELECT count(*) FROM renewed) AS live,
       0::float8 AS remaining_s
UNION ALL
SELECT 'pause', system, budget, 0, EXTRACT(EPOCH FROM (paused_until - now()))::float8
FROM rate_budget_pauses WHERE paused_until > now()";

const PUBLISH_PAUSE: &str = "
INSERT INTO rate_budget_pauses (system, budget, paused_until)
VALUES ($1, $2, now() + make_interval(secs => $3))
ON CONFLICT (system, budget)
DO UPDATE SET paused_until = GREATEST(rate_budget_pauses.paused_until, EXCLUDED.paused_until)";

fn registry_error(error: sqlx::Error) -> SharedBudgetError {
    SharedBudgetError::new(format!("PostgreSQL: {error}"))
}

#[async_trait]
impl SharedBudget for PostgresStore {
    async fn renew(
        &self,
        instance: &str,
        lease: Duration,
    ) -> Result<Membership, SharedBudgetError> {
        let rows = sqlx::query(RENEW)
            .bind(instance)
            .bind(lease.as_secs_f64())
            .bind(FORGET_AFTER_SECONDS)
            .fetch_all(self.pool())
            .await
            .map_err(registry_error)?;
        let mut membership = Membership {
            live_instances: 1,
            pauses: Vec::new(),
        };
        for row in rows {
            let kind: String = row.try_get("kind").map_err(registry_error)?;
            if kind == "live" {
                let live: i64 = row.try_get("live").map_err(registry_error)?;
                membership.live_instances = u32::try_from(live.max(1)).unwrap_or(u32::MAX);
            } else {
                let budget: String = row.try_get("budget").map_err(registry_error)?;
                let remaining: f64 = row.try_get("remaining_s").map_err(registry_error)?;
                membership.pauses.push(SharedPause {
                    system: row.try_get("system").map_err(registry_error)?,
                    budget: (!budget.is_empty()).then_some(budget),
                    remaining: Duration::try_from_secs_f64(remaining).unwrap_or(Duration::ZERO),
                });
            }
        }
        Ok(membership)
    }

    async fn publish_pause(&self, pause: &SharedPause) -> Result<(), SharedBudgetError> {
        sqlx::query(PUBLISH_PAUSE)
            .bind(&pause.system)
            .bind(pause.budget.as_deref().unwrap_or(""))
            .bind(pause.remaining.as_secs_f64())
            .execute(self.pool())
            .await
            .map_err(registry_error)?;
        Ok(())
    }

    async fn leave(&self, instance: &str) -> Result<(), SharedBudgetError> {
        sqlx::query("DELETE FROM rate_budget_instances WHERE instance = $1")
            .bind(instance)
            .execute(self.pool())
            .await
            .map_err(registry_error)?;
        Ok(())
    }
}
