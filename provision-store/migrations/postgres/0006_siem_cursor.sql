-- provision store, schema version 6 (PostgreSQL): SIEM delivery cursors.
-- One row per sink: the seq and hash of the last audit record the sink
-- acknowledged. The store never moves a cursor backwards.

CREATE TABLE siem_cursors (
    sink       TEXT   NOT NULL PRIMARY KEY,
    seq        BIGINT NOT NULL CHECK (seq >= 0),
    hash       TEXT   NOT NULL,
    updated_us BIGINT NOT NULL
);
