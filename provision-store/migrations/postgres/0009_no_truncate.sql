-- TRUNCATE fires no row trigger: the append-only tables refuse it with a statement
-- trigger of their own. (Dropping these triggers needs the tables' owner; the service
-- runs as a role that is not, see the README's PostgreSQL grants.)
CREATE FUNCTION provision_no_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER gov_exceptions_no_truncate BEFORE TRUNCATE ON gov_exceptions
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER gov_requests_no_truncate BEFORE TRUNCATE ON gov_requests
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER gov_request_events_no_truncate BEFORE TRUNCATE ON gov_request_events
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER gov_campaigns_no_truncate BEFORE TRUNCATE ON gov_campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER gov_decisions_no_truncate BEFORE TRUNCATE ON gov_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER gov_campaign_closures_no_truncate BEFORE TRUNCATE ON gov_campaign_closures
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER gov_events_no_truncate BEFORE TRUNCATE ON gov_events
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER evidence_rows_no_truncate BEFORE TRUNCATE ON evidence_rows
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER evidence_attachments_no_truncate BEFORE TRUNCATE ON evidence_attachments
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER evidence_assessments_no_truncate BEFORE TRUNCATE ON evidence_assessments
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
CREATE TRIGGER evidence_streams_no_truncate BEFORE TRUNCATE ON evidence_streams
    FOR EACH STATEMENT EXECUTE FUNCTION provision_no_truncate();
