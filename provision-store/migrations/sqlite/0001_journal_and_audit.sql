-- provision store, schema version 1 (SQLite).

CREATE TABLE runs (
    run_id     TEXT    NOT NULL PRIMARY KEY,
    plan_json  TEXT    NOT NULL,
    created_us INTEGER NOT NULL
);

CREATE TABLE journal_entries (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT    NOT NULL REFERENCES runs (run_id),
    operation_id TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    entry_json   TEXT    NOT NULL,
    at_us        INTEGER NOT NULL
);
CREATE INDEX journal_entries_by_run ON journal_entries (run_id, id);

-- The audit log. event_json is what the hash covers; the other columns copy
-- fields of the event for the queries (verify checks they agree with it).
CREATE TABLE audit_log (
    seq          INTEGER NOT NULL PRIMARY KEY,
    at_us        INTEGER NOT NULL,
    run_id       TEXT    NOT NULL,
    identity_id  TEXT    NOT NULL,
    system       TEXT    NOT NULL,
    operation_id TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    event_json   TEXT    NOT NULL,
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE
);
CREATE INDEX audit_log_by_identity ON audit_log (identity_id, seq);
CREATE INDEX audit_log_by_run ON audit_log (run_id, seq);
CREATE INDEX audit_log_by_system_time ON audit_log (system, at_us);

-- Append-only: the API never updates or deletes; these refuse it from SQL too
-- (someone with file access can drop them; the hash chain then still shows it).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
