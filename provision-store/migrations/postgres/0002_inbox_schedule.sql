-- provision store, schema version 2 (PostgreSQL): the lifecycle service's durable inbox
-- of HR events and its schedule of dated work.

-- One row per accepted HR event, stored before the sender gets its 2xx.
-- (source, event_id) is unique: a replayed event id is found, not stored twice.
-- state: received (waiting for a worker) | done | scheduled | finding | failed.
CREATE TABLE inbox (
    seq            BIGSERIAL NOT NULL PRIMARY KEY,
    source         TEXT    NOT NULL,
    event_id       TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    identity_id    TEXT    NOT NULL,
    priority       BIGINT NOT NULL,
    payload_json   TEXT    NOT NULL,
    received_us    BIGINT NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'received',
    owner          TEXT,
    lease_until_us BIGINT,
    attempts       BIGINT NOT NULL DEFAULT 0,
    run_id         TEXT,
    in_roster      BIGINT NOT NULL DEFAULT 0,
    note           TEXT,
    finished_us    BIGINT,
    UNIQUE (source, event_id)
);
CREATE INDEX inbox_open ON inbox (state, priority, seq);

-- Dated work: a termination at its effective time, a hire on its start date, a
-- validity window's end, a pending operation's next check, the reconcile cadence.
-- key is unique: scheduling the same thing again moves it.
CREATE TABLE schedule (
    id             BIGSERIAL NOT NULL PRIMARY KEY,
    job_key        TEXT    NOT NULL UNIQUE,
    due_us         BIGINT NOT NULL,
    payload_json   TEXT    NOT NULL,
    done           BIGINT NOT NULL DEFAULT 0,
    owner          TEXT,
    lease_until_us BIGINT,
    fired          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX schedule_due ON schedule (done, due_us);
