-- provision store, schema version 4 (SQLite): governance records (issue 18).
-- Every table is append-only: a change is a new row (a renewal is a new exception,
-- a decision on a request is a new event), and triggers refuse UPDATE and DELETE.
-- record_json is the record as the core serializes it; the other columns copy its
-- fields for queries.

CREATE TABLE gov_exceptions (
    id          TEXT    NOT NULL PRIMARY KEY,
    identity_id TEXT    NOT NULL,
    expires_us  INTEGER NOT NULL,
    recorded_us INTEGER NOT NULL,
    record_json TEXT    NOT NULL
);
CREATE INDEX gov_exceptions_by_expiry ON gov_exceptions (expires_us);

CREATE TABLE gov_requests (
    id           TEXT    NOT NULL PRIMARY KEY,
    beneficiary  TEXT    NOT NULL,
    requested_us INTEGER NOT NULL,
    record_json  TEXT    NOT NULL
);

CREATE TABLE gov_request_events (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    request_id TEXT    NOT NULL REFERENCES gov_requests (id),
    at_us      INTEGER NOT NULL,
    event_json TEXT    NOT NULL
);
CREATE INDEX gov_request_events_by_request ON gov_request_events (request_id, seq);

CREATE TABLE gov_campaigns (
    id          TEXT    NOT NULL PRIMARY KEY,
    opened_us   INTEGER NOT NULL,
    record_json TEXT    NOT NULL
);

CREATE TABLE gov_decisions (
    seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    campaign_id TEXT    NOT NULL REFERENCES gov_campaigns (id),
    item_id     TEXT    NOT NULL,
    reviewer    TEXT    NOT NULL,
    decided_us  INTEGER NOT NULL,
    record_json TEXT    NOT NULL,
    UNIQUE (campaign_id, item_id)
);

CREATE TABLE gov_events (
    seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at_us       INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    identity_id TEXT,
    event_json  TEXT    NOT NULL
);

CREATE TRIGGER gov_exceptions_no_update BEFORE UPDATE ON gov_exceptions
BEGIN SELECT RAISE(ABORT, 'gov_exceptions is append-only'); END;
CREATE TRIGGER gov_exceptions_no_delete BEFORE DELETE ON gov_exceptions
BEGIN SELECT RAISE(ABORT, 'gov_exceptions is append-only'); END;
CREATE TRIGGER gov_requests_no_update BEFORE UPDATE ON gov_requests
BEGIN SELECT RAISE(ABORT, 'gov_requests is append-only'); END;
CREATE TRIGGER gov_requests_no_delete BEFORE DELETE ON gov_requests
BEGIN SELECT RAISE(ABORT, 'gov_requests is append-only'); END;
CREATE TRIGGER gov_request_events_no_update BEFORE UPDATE ON gov_request_events
BEGIN SELECT RAISE(ABORT, 'gov_request_events is append-only'); END;
CREATE TRIGGER gov_request_events_no_delete BEFORE DELETE ON gov_request_events
BEGIN SELECT RAISE(ABORT, 'gov_request_events is append-only'); END;
CREATE TRIGGER gov_campaigns_no_update BEFORE UPDATE ON gov_campaigns
BEGIN SELECT RAISE(ABORT, 'gov_campaigns is append-only'); END;
CREATE TRIGGER gov_campaigns_no_delete BEFORE DELETE ON gov_campaigns
BEGIN SELECT RAISE(ABORT, 'gov_campaigns is append-only'); END;
CREATE TRIGGER gov_decisions_no_update BEFORE UPDATE ON gov_decisions
BEGIN SELECT RAISE(ABORT, 'gov_decisions is append-only'); END;
CREATE TRIGGER gov_decisions_no_delete BEFORE DELETE ON gov_decisions
BEGIN SELECT RAISE(ABORT, 'gov_decisions is append-only'); END;
CREATE TRIGGER gov_events_no_update BEFORE UPDATE ON gov_events
BEGIN SELECT RAISE(ABORT, 'gov_events is append-only'); END;
CREATE TRIGGER gov_events_no_delete BEFORE DELETE ON gov_events
BEGIN SELECT RAISE(ABORT, 'gov_events is append-only'); END;
