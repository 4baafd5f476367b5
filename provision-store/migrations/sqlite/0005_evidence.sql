-- provision store, schema version 5 (SQLite): audit evidence.

-- One row per distinct piece of evidence, keyed by its fingerprint (SHA-256 of
-- its canonical JSON): the same evidence collected again is stored once.
CREATE TABLE evidence_rows (
    fingerprint   TEXT    NOT NULL PRIMARY KEY,
    kind          TEXT    NOT NULL,
    system        TEXT    NOT NULL,
    subject       TEXT,
    controls_json TEXT    NOT NULL,
    collected_us  INTEGER NOT NULL,
    run_id        TEXT    NOT NULL,
    data_json     TEXT    NOT NULL
);
CREATE INDEX evidence_rows_by_kind ON evidence_rows (kind, system);

-- A stream: the collections of one system with the same set of row kinds (an
-- hourly listing of Okta, a drift run). Each stream is a sequence of collections,
-- and each collection replaces the picture its stream's previous one gave.
CREATE TABLE evidence_streams (
    stream_id  INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    system     TEXT NOT NULL,
    kinds_json TEXT NOT NULL,
    UNIQUE (system, kinds_json)
);

-- One system's evidence in one run: staleness is measured from the latest.
CREATE TABLE evidence_collections (
    collection_id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    stream_id     INTEGER   NOT NULL REFERENCES evidence_streams (stream_id),
    run_id        TEXT    NOT NULL,
    system        TEXT    NOT NULL,
    collected_us  INTEGER NOT NULL,
    controls_json TEXT    NOT NULL,
    row_count     INTEGER NOT NULL,
    new_rows      INTEGER NOT NULL
);
CREATE INDEX evidence_collections_by_time ON evidence_collections (collected_us);
CREATE INDEX evidence_collections_by_stream ON evidence_collections (stream_id, collection_id);

-- When each row was seen: one interval per unbroken run of a stream's collections
-- that saw it, from first_collection_id to last_collection_id inclusive; an open
-- interval (last NULL) runs to the stream's latest collection. An unchanged
-- collection writes no interval; a row that vanished is closed at the stream's
-- previous collection, and one that comes back opens a new interval. The rows seen
-- by collection C of stream S are those of S's intervals with first <= C <= last.
CREATE TABLE evidence_presence (
    stream_id           INTEGER NOT NULL REFERENCES evidence_streams (stream_id),
    fingerprint         TEXT NOT NULL REFERENCES evidence_rows (fingerprint),
    first_collection_id INTEGER NOT NULL REFERENCES evidence_collections (collection_id),
    last_collection_id  INTEGER REFERENCES evidence_collections (collection_id),
    PRIMARY KEY (stream_id, fingerprint, first_collection_id)
) WITHOUT ROWID;

CREATE TABLE evidence_assessments (
    assessment_id TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    from_us       INTEGER NOT NULL,
    to_us         INTEGER NOT NULL,
    created_us    INTEGER NOT NULL
);

CREATE TABLE evidence_attachments (
    assessment_id TEXT    NOT NULL REFERENCES evidence_assessments (assessment_id),
    fingerprint   TEXT    NOT NULL REFERENCES evidence_rows (fingerprint),
    attached_us   INTEGER NOT NULL,
    PRIMARY KEY (assessment_id, fingerprint)
);
CREATE INDEX evidence_attachments_by_row ON evidence_attachments (fingerprint);

-- Evidence attached to an assessment cannot be changed or removed, from the API
-- (which has no update or delete) or from SQL; attachments, assessments and streams
-- are append-only, collections cannot be changed, and a presence interval can only
-- be closed, once. An attached row's content is fixed for good; it may still be
-- seen by later collections (its presence grows), which changes nothing in it.
CREATE TRIGGER evidence_rows_attached_no_update BEFORE UPDATE ON evidence_rows
WHEN EXISTS (SELECT 1 FROM evidence_attachments WHERE fingerprint = OLD.fingerprint)
BEGIN
    SELECT RAISE(ABORT, 'evidence row is attached to an assessment and cannot be changed');
END;
CREATE TRIGGER evidence_rows_attached_no_delete BEFORE DELETE ON evidence_rows
WHEN EXISTS (SELECT 1 FROM evidence_attachments WHERE fingerprint = OLD.fingerprint)
BEGIN
    SELECT RAISE(ABORT, 'evidence row is attached to an assessment and cannot be changed');
END;
CREATE TRIGGER evidence_attachments_no_update BEFORE UPDATE ON evidence_attachments
BEGIN
    SELECT RAISE(ABORT, 'evidence_attachments is append-only');
END;
CREATE TRIGGER evidence_attachments_no_delete BEFORE DELETE ON evidence_attachments
BEGIN
    SELECT RAISE(ABORT, 'evidence_attachments is append-only');
END;
CREATE TRIGGER evidence_assessments_no_update BEFORE UPDATE ON evidence_assessments
BEGIN
    SELECT RAISE(ABORT, 'evidence_assessments is append-only');
END;
CREATE TRIGGER evidence_assessments_no_delete BEFORE DELETE ON evidence_assessments
BEGIN
    SELECT RAISE(ABORT, 'evidence_assessments is append-only');
END;
CREATE TRIGGER evidence_presence_close_once BEFORE UPDATE ON evidence_presence
WHEN NOT (OLD.last_collection_id IS NULL AND NEW.last_collection_id IS NOT NULL
          AND NEW.last_collection_id >= OLD.first_collection_id
          AND NEW.stream_id = OLD.stream_id AND NEW.fingerprint = OLD.fingerprint
          AND NEW.first_collection_id = OLD.first_collection_id)
BEGIN
    SELECT RAISE(ABORT, 'evidence_presence is append-only: an open interval can only be closed, once');
END;
CREATE TRIGGER evidence_presence_no_delete BEFORE DELETE ON evidence_presence
BEGIN
    SELECT RAISE(ABORT, 'evidence_presence is append-only');
END;
CREATE TRIGGER evidence_streams_no_update BEFORE UPDATE ON evidence_streams
BEGIN
    SELECT RAISE(ABORT, 'evidence_streams is append-only');
END;
CREATE TRIGGER evidence_streams_no_delete BEFORE DELETE ON evidence_streams
BEGIN
    SELECT RAISE(ABORT, 'evidence_streams is append-only');
END;
CREATE TRIGGER evidence_collections_no_update BEFORE UPDATE ON evidence_collections
BEGIN
    SELECT RAISE(ABORT, 'evidence_collections is append-only');
END;
