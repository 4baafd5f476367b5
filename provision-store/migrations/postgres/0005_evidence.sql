-- provision store, schema version 5 (PostgreSQL): audit evidence.

-- One row per distinct piece of evidence, keyed by its fingerprint (SHA-256 of
-- its canonical JSON): the same evidence collected again is stored once.
CREATE TABLE evidence_rows (
    fingerprint   TEXT   NOT NULL PRIMARY KEY,
    kind          TEXT   NOT NULL,
    system        TEXT   NOT NULL,
    subject       TEXT,
    controls_json TEXT   NOT NULL,
    collected_us  BIGINT NOT NULL,
    run_id        TEXT   NOT NULL,
    data_json     TEXT   NOT NULL
);
CREATE INDEX evidence_rows_by_kind ON evidence_rows (kind, system);

-- One system's evidence in one run: staleness is measured from the latest.
CREATE TABLE evidence_collections (
    collection_id BIGSERIAL NOT NULL PRIMARY KEY,
    run_id        TEXT      NOT NULL,
    system        TEXT      NOT NULL,
    collected_us  BIGINT    NOT NULL,
    controls_json TEXT      NOT NULL,
    row_count     BIGINT    NOT NULL,
    new_rows      BIGINT    NOT NULL
);
CREATE INDEX evidence_collections_by_time ON evidence_collections (collected_us);

-- Which rows each collection saw (a period's evidence is every row seen in it).
CREATE TABLE evidence_sightings (
    collection_id BIGINT NOT NULL REFERENCES evidence_collections (collection_id),
    fingerprint   TEXT   NOT NULL REFERENCES evidence_rows (fingerprint),
    PRIMARY KEY (collection_id, fingerprint)
);

CREATE TABLE evidence_assessments (
    assessment_id TEXT   NOT NULL PRIMARY KEY,
    name          TEXT   NOT NULL,
    from_us       BIGINT NOT NULL,
    to_us         BIGINT NOT NULL,
    created_us    BIGINT NOT NULL
);

CREATE TABLE evidence_attachments (
    assessment_id TEXT   NOT NULL REFERENCES evidence_assessments (assessment_id),
    fingerprint   TEXT   NOT NULL REFERENCES evidence_rows (fingerprint),
    attached_us   BIGINT NOT NULL,
    PRIMARY KEY (assessment_id, fingerprint)
);
CREATE INDEX evidence_attachments_by_row ON evidence_attachments (fingerprint);

-- Evidence attached to an assessment cannot be changed or removed, from the API
-- (which has no update or delete) or from SQL; attachments and sightings are
-- append-only.
CREATE FUNCTION provision_evidence_attached_immutable() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM evidence_attachments WHERE fingerprint = OLD.fingerprint) THEN
        RAISE EXCEPTION 'evidence row is attached to an assessment and cannot be changed';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER evidence_rows_attached_immutable BEFORE UPDATE OR DELETE ON evidence_rows
    FOR EACH ROW EXECUTE FUNCTION provision_evidence_attached_immutable();

CREATE FUNCTION provision_evidence_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER evidence_attachments_append_only BEFORE UPDATE OR DELETE ON evidence_attachments
    FOR EACH ROW EXECUTE FUNCTION provision_evidence_append_only();
CREATE TRIGGER evidence_assessments_append_only BEFORE UPDATE OR DELETE ON evidence_assessments
    FOR EACH ROW EXECUTE FUNCTION provision_evidence_append_only();
CREATE TRIGGER evidence_sightings_no_update BEFORE UPDATE ON evidence_sightings
    FOR EACH ROW EXECUTE FUNCTION provision_evidence_append_only();
CREATE TRIGGER evidence_collections_no_update BEFORE UPDATE ON evidence_collections
    FOR EACH ROW EXECUTE FUNCTION provision_evidence_append_only();
