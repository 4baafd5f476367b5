-- Numbering only: SQLite has no TRUNCATE (a DELETE without WHERE fires the row
-- triggers the append-only tables already have).
SELECT 1;
