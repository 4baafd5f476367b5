-- provision store, schema version 7 (SQLite): the operations still open.
-- One row per operation whose last journal entry is not final (in flight or
-- pending), kept by triggers as entries are inserted, so that drift asks for
-- what is open without reading every run ever applied.

CREATE TABLE open_operations (
    run_id       TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    PRIMARY KEY (run_id, operation_id)
);

INSERT INTO open_operations (run_id, operation_id)
SELECT e.run_id, e.operation_id
FROM journal_entries e
WHERE e.id = (SELECT max(l.id) FROM journal_entries l
              WHERE l.run_id = e.run_id AND l.operation_id = e.operation_id)
  AND e.state IN ('in_flight', 'pending');

CREATE TRIGGER journal_entries_opened AFTER INSERT ON journal_entries
WHEN NEW.state IN ('in_flight', 'pending')
BEGIN
    INSERT OR IGNORE INTO open_operations (run_id, operation_id)
    VALUES (NEW.run_id, NEW.operation_id);
END;

CREATE TRIGGER journal_entries_closed AFTER INSERT ON journal_entries
WHEN NEW.state NOT IN ('in_flight', 'pending')
BEGIN
    DELETE FROM open_operations
    WHERE run_id = NEW.run_id AND operation_id = NEW.operation_id;
END;
