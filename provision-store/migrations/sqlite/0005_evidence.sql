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

-- One system's evidence in one run: staleness is measured from the latest.
CREATE TABLE evidence_collections (
    collection_id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT    NOT NULL,
    system        TEXT    NOT NULL,
    collected_us  INTEGER NOT NULL,
    controls_json TEXT    NOT NULL,
    row_count     INTEGER NOT NULL,
    new_rows      INTEGER NOT NULL
);
CREATE INDEX evidence_collections_by_time ON evidence_collections (collected_us);

-- Which rows each collection saw (a period's evidence is every row seen in it).
CREATE TABLE evidence_sightings (
    collection_id INTEGER NOT NULL REFERENCES evidence_collections (collection_id),
    fingerprint   TEXT    NOT NULL REFERENCES evidence_rows (fingerprint),
    PRIMARY KEY (collection_id, fingerprint)
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
-- (which has no update or delete) or from SQL; attachments and sightings are
-- append-only.
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
CREATE TRIGGER evidence_sightings_no_update BEFORE UPDATE ON evidence_sightings
BEGIN
    SELECT RAISE(ABORT, 'evidence_sightings is append-only');
END;
CREATE TRIGGER evidence_collections_no_update BEFORE UPDATE ON evidence_collections
BEGIN
    SELECT RAISE(ABORT, 'evidence_collections is append-only');
END;
