-- provision store, schema version 8 (PostgreSQL): access review campaigns closed
-- (issue 30). One row per campaign, append-only like the other governance tables:
-- a closed campaign takes no more decisions.

CREATE TABLE gov_campaign_closures (
    campaign_id TEXT   NOT NULL PRIMARY KEY REFERENCES gov_campaigns (id),
    closed_us   BIGINT NOT NULL,
    record_json TEXT   NOT NULL
);

CREATE TRIGGER gov_campaign_closures_append_only BEFORE UPDATE OR DELETE ON gov_campaign_closures
    FOR EACH ROW EXECUTE FUNCTION provision_governance_append_only();
