-- provision store, schema version 8 (SQLite): access review campaigns closed
-- (issue 30). One row per campaign, append-only like the other governance tables:
-- a closed campaign takes no more decisions.

CREATE TABLE gov_campaign_closures (
    campaign_id TEXT    NOT NULL PRIMARY KEY REFERENCES gov_campaigns (id),
    closed_us   INTEGER NOT NULL,
    record_json TEXT    NOT NULL
);

CREATE TRIGGER gov_campaign_closures_no_update BEFORE UPDATE ON gov_campaign_closures
BEGIN SELECT RAISE(ABORT, 'gov_campaign_closures is append-only'); END;
CREATE TRIGGER gov_campaign_closures_no_delete BEFORE DELETE ON gov_campaign_closures
BEGIN SELECT RAISE(ABORT, 'gov_campaign_closures is append-only'); END;
