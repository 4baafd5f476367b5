-- provision store, schema version 7 (PostgreSQL): the operations still open.
-- One row per operation whose last journal entry is not final (in flight or
-- pending), kept by a trigger as entries are inserted, so that drift asks for
-- what is open without reading every run ever applied.

CREATE TABLE open_operations (
    run_id       TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    PRIMARY KEY (run_id, operation_id)
);

INSERT INTO open_operations (run_id, operation_id)
SELECT run_id, operation_id FROM (
    SELECT DISTINCT ON (run_id, operation_id) run_id, operation_id, state
    FROM journal_entries
    ORDER BY run_id, operation_id, id DESC
) last
WHERE state IN ('in_flight', 'pending');

CREATE FUNCTION provision_track_open_operations() RETURNS trigger AS $$
BEGIN
    IF NEW.state IN ('in_flight', 'pending') THEN
        INSERT INTO open_operations (run_id, operation_id)
        VALUES (NEW.run_id, NEW.operation_id)
        ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM open_operations
        WHERE run_id = NEW.run_id AND operation_id = NEW.operation_id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER journal_entries_track_open AFTER INSERT ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION provision_track_open_operations();
