//! Least privilege on PostgreSQL: the schema belongs to an owner role that runs the
//! migrations ([`PostgresStore::migrate`](crate::PostgresStore::migrate)), and the
//! service connects as a role that may only read and append to the append-only tables
//! ([`service_role_grants`]) and never owns a table, so it can neither delete audit
//! records nor drop or disable the triggers that guard them
//! ([`PostgresStore::connect_migrated`](crate::PostgresStore::connect_migrated)).

use crate::StoreError;

/// Tables the service reads and appends to, and never changes: `SELECT, INSERT`.
/// (`evidence_streams` also gets `UPDATE` for the row lock a collection takes; its
/// trigger refuses every update.)
pub const APPEND_ONLY_TABLES: &[&str] = &[
    "audit_log",
    "gov_exceptions",
    "gov_requests",
    "gov_request_events",
    "gov_campaigns",
    "gov_campaign_closures",
    "gov_decisions",
    "gov_events",
    "evidence_attachments",
    "evidence_assessments",
    "evidence_streams",
];

/// Tables the service keeps current (journal, inbox, schedule, leases, cursors):
/// `SELECT, INSERT, UPDATE, DELETE`.
pub const WORKING_TABLES: &[&str] = &[
    "runs",
    "journal_entries",
    "operation_claims",
    "inbox",
    "schedule",
    "rate_budget_instances",
    "rate_budget_pauses",
    "evidence_rows",
    "evidence_collections",
    "evidence_presence",
    "siem_cursors",
    "open_operations",
];

/// The `GRANT` statements that give `role` what the service needs on a schema the
/// owner migrated, and nothing more: run them as the owner after each migration.
/// `role` must be a plain lower-case identifier.
pub fn service_role_grants(role: &str) -> Result<String, StoreError> {
    let plain = role
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain || role.len() > 63 {
        return Err(StoreError::InvalidRoleName(role.to_owned()));
    }
    let append_only = APPEND_ONLY_TABLES
        .iter()
        .filter(|t| **t != "evidence_streams")
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let working = WORKING_TABLES.join(", ");
    Ok(format!(
        "GRANT USAGE ON SCHEMA public TO {role};\n\
         GRANT SELECT ON _sqlx_migrations TO {role};\n\
         GRANT SELECT, INSERT ON {append_only} TO {role};\n\
         GRANT SELECT, INSERT, UPDATE ON evidence_streams TO {role};\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON {working} TO {role};\n\
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};\n"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_grants_never_let_the_service_change_the_audit_log() {
        let sql = service_role_grants("provision_service").unwrap();
        for line in sql.lines().filter(|l| l.contains("audit_log")) {
            assert!(
                !line.contains("UPDATE") && !line.contains("DELETE"),
                "{line}"
            );
        }
        assert!(
            !sql.contains("TRUNCATE") && !sql.contains("ALL PRIVILEGES"),
            "{sql}"
        );
        for bad in ["svc; DROP TABLE audit_log", "Provision", "", "1svc"] {
            assert!(service_role_grants(bad).is_err(), "{bad}");
        }
    }
}
