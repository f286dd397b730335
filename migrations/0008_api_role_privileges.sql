-- The API runs as a PostgreSQL role of its own that owns nothing; migrations run as the owner.
-- This table says, table by table, what the API role may do. `custodian migrate` grants exactly
-- that (custodian_grant_api_privileges) after applying migrations, so a table a migration adds
-- stays out of the API's reach until the migration states what the API may do with it. A test
-- fails when a table has no row here. No table grants TRUNCATE, and the API role can neither
-- create objects nor alter or disable the triggers of tables it does not own.
CREATE TABLE api_privileges (
    table_name  text PRIMARY KEY,
    privileges  text[] NOT NULL CHECK (privileges <@ ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::text[]),
    -- why the API may not do more (or anything) here
    reason      text
);

INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('schema_migrations', '{SELECT}', 'serve checks that the schema is current; only migrations write it'),
    ('personal_data_map', '{SELECT}', 'export and erasure read it; only migrations write it'),
    ('api_privileges', '{}', 'only migrations read and write it'),
    ('staff', '{SELECT,INSERT,UPDATE}', 'staff members are deactivated, never deleted: other rows name them'),
    ('api_keys', '{SELECT,INSERT,UPDATE}', 'keys are revoked, never deleted'),
    ('customers', '{SELECT,INSERT,UPDATE,DELETE}', NULL),
    ('contacts', '{SELECT,INSERT,UPDATE,DELETE}', NULL),
    ('leads', '{SELECT,INSERT,UPDATE,DELETE}', NULL),
    ('lead_notes', '{SELECT,INSERT}', 'notes are append-only; they go with their record'),
    ('customer_notes', '{SELECT,INSERT}', 'notes are append-only; they go with their record'),
    ('contact_notes', '{SELECT,INSERT}', 'notes are append-only; they go with their record'),
    ('custom_field_definitions', '{SELECT,INSERT,UPDATE}', 'definitions are retired, never deleted'),
    ('consent_purposes', '{SELECT,INSERT,UPDATE,DELETE}', NULL),
    ('consent_purpose_versions', '{SELECT,INSERT,DELETE}', 'a text a person was shown never changes; an unused purpose goes whole'),
    ('consent_records', '{SELECT,INSERT}', 'the consent history is append-only; rows go only with an erased person'),
    ('consent_settings', '{SELECT,UPDATE}', 'one row, created by its migration'),
    ('consent_links', '{SELECT,INSERT,UPDATE,DELETE}', NULL),
    ('rate_limit_hits', '{SELECT,INSERT,UPDATE,DELETE}', NULL);

-- Grants the API role what api_privileges lists and nothing else. Run by `custodian migrate` as
-- the owner; callable again at any time (it starts from nothing each time).
CREATE FUNCTION custodian_grant_api_privileges(api_role name) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    entry record;
BEGIN
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', api_role);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', api_role);
    EXECUTE format('REVOKE CREATE ON SCHEMA public FROM %I', api_role);
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', api_role);
    FOR entry IN SELECT table_name, privileges FROM api_privileges WHERE cardinality(privileges) > 0 LOOP
        EXECUTE format('GRANT %s ON TABLE %I TO %I', array_to_string(entry.privileges, ', '), entry.table_name, api_role);
    END LOOP;
END;
$$;
REVOKE EXECUTE ON FUNCTION custodian_grant_api_privileges(name) FROM PUBLIC;

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('api_privileges', 'table_name', 'not_personal', NULL, 'none', NULL),
    ('api_privileges', 'privileges', 'not_personal', NULL, 'none', NULL),
    ('api_privileges', 'reason', 'not_personal', NULL, 'none', NULL);
