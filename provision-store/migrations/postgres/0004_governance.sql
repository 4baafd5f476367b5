-- provision store, schema version 4 (PostgreSQL): governance records (issue 18).
-- Every table is append-only: a change is a new row (a renewal is a new exception,
-- a decision on a request is a new event), and a trigger refuses UPDATE and DELETE.
-- record_json is the record as the core serializes it; the other columns copy its
-- fields for queries.

CREATE TABLE gov_exceptions (
    id          TEXT   NOT NULL PRIMARY KEY,
    identity_id TEXT   NOT NULL,
    expires_us  BIGINT NOT NULL,
    recorded_us BIGINT NOT NULL,
    record_json TEXT   NOT NULL
);
CREATE INDEX gov_exceptions_by_expiry ON gov_exceptions (expires_us);

CREATE TABLE gov_requests (
    id           TEXT   NOT NULL PRIMARY KEY,
    beneficiary  TEXT   NOT NULL,
    requested_us BIGINT NOT NULL,
    record_json  TEXT   NOT NULL
);

CREATE TABLE gov_request_events (
    seq        BIGSERIAL PRIMARY KEY,
    request_id TEXT   NOT NULL REFERENCES gov_requests (id),
    at_us      BIGINT NOT NULL,
    event_json TEXT   NOT NULL
);
CREATE INDEX gov_request_events_by_request ON gov_request_events (request_id, seq);

CREATE TABLE gov_campaigns (
    id          TEXT   NOT NULL PRIMARY KEY,
    opened_us   BIGINT NOT NULL,
    record_json TEXT   NOT NULL
);

CREATE TABLE gov_decisions (
    seq         BIGSERIAL PRIMARY KEY,
    campaign_id TEXT   NOT NULL REFERENCES gov_campaigns (id),
    item_id     TEXT   NOT NULL,
    reviewer    TEXT   NOT NULL,
    decided_us  BIGINT NOT NULL,
    record_json TEXT   NOT NULL,
    UNIQUE (campaign_id, item_id)
);

CREATE TABLE gov_events (
    seq         BIGSERIAL PRIMARY KEY,
    at_us       BIGINT NOT NULL,
    kind        TEXT   NOT NULL,
    identity_id TEXT,
    event_json  TEXT   NOT NULL
);

CREATE FUNCTION provision_governance_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER gov_exceptions_append_only BEFORE UPDATE OR DELETE ON gov_exceptions
    FOR EACH ROW EXECUTE FUNCTION provision_governance_append_only();
CREATE TRIGGER gov_requests_append_only BEFORE UPDATE OR DELETE ON gov_requests
    FOR EACH ROW EXECUTE FUNCTION provision_governance_append_only();
CREATE TRIGGER gov_request_events_append_only BEFORE UPDATE OR DELETE ON gov_request_events
    FOR EACH ROW EXECUTE FUNCTION provision_governance_append_only();
CREATE TRIGGER gov_campaigns_append_only BEFORE UPDATE OR DELETE ON gov_campaigns
    FOR EACH ROW EXECUTE FUNCTION provision_governance_append_only();
CREATE TRIGGER gov_decisions_append_only BEFORE UPDATE OR DELETE ON gov_decisions
    FOR EACH ROW EXECUTE FUNCTION provision_governance_append_only();
CREATE TRIGGER gov_events_append_only BEFORE UPDATE OR DELETE ON gov_events
    FOR EACH ROW EXECUTE FUNCTION provision_governance_append_only();
