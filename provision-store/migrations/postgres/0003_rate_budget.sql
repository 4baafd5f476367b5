-- provision store, schema version 3 (PostgreSQL): rate budgets shared by instances.
-- (Version 2 is another feature's; versions are applied in order, each once.)

-- One row per instance sharing the systems' rate budgets: live while lease_until is
-- ahead of the database's clock. Each instance paces at limit / live instances.
CREATE TABLE rate_budget_instances (
    instance    TEXT        NOT NULL PRIMARY KEY,
    lease_until TIMESTAMPTZ NOT NULL
);

-- Server-signalled pauses (a 429's Retry-After or reset), so one instance's 429
-- pauses the others. budget is '' for the system's own budget.
CREATE TABLE rate_budget_pauses (
    system       TEXT        NOT NULL,
    budget       TEXT        NOT NULL,
    paused_until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system, budget)
);
