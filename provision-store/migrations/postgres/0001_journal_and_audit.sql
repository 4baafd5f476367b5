-- provision store, schema version 1 (PostgreSQL).

CREATE TABLE runs (
    run_id     TEXT   NOT NULL PRIMARY KEY,
    plan_json  TEXT   NOT NULL,
    created_us BIGINT NOT NULL
);

CREATE TABLE journal_entries (
    id           BIGSERIAL NOT NULL PRIMARY KEY,
    run_id       TEXT      NOT NULL REFERENCES runs (run_id),
    operation_id TEXT      NOT NULL,
    state        TEXT      NOT NULL,
    entry_json   TEXT      NOT NULL,
    at_us        BIGINT    NOT NULL
);
CREATE INDEX journal_entries_by_run ON journal_entries (run_id, id);

-- One row per operation of a run: which instance holds it, until when.
-- Instances claim work with SELECT ... FOR UPDATE SKIP LOCKED.
CREATE TABLE operation_claims (
    run_id       TEXT    NOT NULL REFERENCES runs (run_id),
    operation_id TEXT    NOT NULL,
    position     INTEGER NOT NULL,
    done         BOOLEAN NOT NULL DEFAULT FALSE,
    owner        TEXT,
    lease_until  TIMESTAMPTZ,
    PRIMARY KEY (run_id, operation_id)
);
CREATE INDEX operation_claims_open ON operation_claims (run_id, position) WHERE NOT done;

CREATE TABLE audit_log (
    seq          BIGINT NOT NULL PRIMARY KEY,
    at_us        BIGINT NOT NULL,
    run_id       TEXT   NOT NULL,
    identity_id  TEXT   NOT NULL,
    system       TEXT   NOT NULL,
    operation_id TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    event_json   TEXT   NOT NULL,
    prev_hash    TEXT   NOT NULL,
    hash         TEXT   NOT NULL UNIQUE
);
CREATE INDEX audit_log_by_identity ON audit_log (identity_id, seq);
CREATE INDEX audit_log_by_run ON audit_log (run_id, seq);
CREATE INDEX audit_log_by_system_time ON audit_log (system, at_us);

CREATE FUNCTION provision_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION provision_audit_append_only();
