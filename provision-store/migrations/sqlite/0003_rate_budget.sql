-- provision store, schema version 3 (SQLite): rate budgets shared by instances.
-- Sharing rate budgets between instances is PostgreSQL's job (several instances on
-- one database); an SQLite store serves one instance, whose limiters are already the
-- whole budget. This version only keeps the numbering aligned with PostgreSQL.
SELECT 1;
