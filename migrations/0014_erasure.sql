-- Erasure driven by the personal-data map. The map gains what an erasure needs: how each table's
-- rows belong to a person (an owner column naming their id), and when a kept value stops being
-- kept (a condition). Erasing leaves a tombstone (the proof, with counts and the consent chain's
-- head) and a keyed hash of each email, so the person is not entered again by mistake.

-- How rows of a table belong to a person: `owner_column` holds the id of a `subject`
-- ('lead', 'contact', 'customer', or 'person' for any of them); with `kind_column`, only rows
-- whose kind_column equals the subject's kind. A table whose personal columns have no owner
-- here cannot be erased per person; a test fails for any such table.
CREATE TABLE personal_data_owners (
    table_name    text NOT NULL,
    subject       text NOT NULL CHECK (subject IN ('lead', 'contact', 'customer', 'person')),
    owner_column  text NOT NULL,
    kind_column   text,
    PRIMARY KEY (table_name, subject, owner_column)
);

INSERT INTO personal_data_owners (table_name, subject, owner_column, kind_column) VALUES
    ('leads', 'lead', 'id', NULL),
    ('lead_notes', 'lead', 'lead_id', NULL),
    ('customers', 'customer', 'id', NULL),
    ('customer_notes', 'customer', 'customer_id', NULL),
    ('contacts', 'contact', 'id', NULL),
    ('contact_notes', 'contact', 'contact_id', NULL),
    ('consent_records', 'lead', 'lead_id', NULL),
    ('consent_records', 'contact', 'contact_id', NULL),
    ('consent_links', 'lead', 'lead_id', NULL),
    ('consent_links', 'contact', 'contact_id', NULL),
    ('request_cases', 'person', 'subject_id', 'subject_type'),
    ('idempotency_keys', 'person', 'subject_id', NULL),
    ('webhook_events', 'person', 'subject_id', NULL);

-- A kept value is kept while this holds for its row (SQL over the row's table, written by
-- migrations only); NULL: always. Billing data, say, only while invoices reference it.
ALTER TABLE personal_data_map ADD COLUMN keep_condition text;
ALTER TABLE personal_data_map ADD CONSTRAINT personal_data_map_condition_for_keep
    CHECK (keep_condition IS NULL OR erasure = 'keep');

-- Rate-limit counters hold a keyed hash of a client address, which no erasure can tie to a
-- person; they are gone within minutes anyway.
UPDATE personal_data_map SET erasure = 'keep',
    legal_basis = 'not linkable to a person (a hash of a client address); deleted by housekeeping within five minutes'
WHERE table_name = 'rate_limit_hits' AND column_name = 'bucket';

-- The tombstone: which case, what was removed (counts per table), and the consent chain's head,
-- so a receipt the person holds can still be checked against it. No personal value.
ALTER TABLE erasure_tombstones ADD COLUMN request_id uuid REFERENCES request_cases (id);
ALTER TABLE erasure_tombstones ADD COLUMN counts jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(counts) = 'object');
ALTER TABLE erasure_tombstones ADD COLUMN chain_seq bigint;
ALTER TABLE erasure_tombstones ADD COLUMN chain_hash bytea;
CREATE INDEX erasure_tombstones_request ON erasure_tombstones (request_id);

-- Keyed hashes (HMAC-SHA256 with the server's secret key) of erased people's emails: staff who
-- enter such an email again are told; the database alone cannot test an email against them.
CREATE TABLE erasure_suppressions (
    email_hash  bytea PRIMARY KEY CHECK (length(email_hash) = 32),
    key_id      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

UPDATE api_privileges SET privileges = '{SELECT,INSERT,UPDATE,DELETE}', reason = 'an erasure removes a person''s notes'
WHERE table_name IN ('lead_notes', 'customer_notes', 'contact_notes');
UPDATE api_privileges SET privileges = '{SELECT,INSERT,UPDATE,DELETE}', reason = 'links end; an erasure removes them'
WHERE table_name = 'consent_links';
UPDATE api_privileges SET privileges = '{SELECT,INSERT,DELETE}',
    reason = 'append-only; rows go only in the transaction that writes the person''s tombstone (a trigger checks)'
WHERE table_name = 'consent_records';
INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('personal_data_owners', '{SELECT}', 'erasure reads it; only migrations write it'),
    ('erasure_suppressions', '{SELECT,INSERT}', 'an erased person stays suppressed');
UPDATE api_privileges SET privileges = '{SELECT}', reason = 'erasure reads the map; only migrations write it'
WHERE table_name = 'personal_data_map';

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('personal_data_map', 'keep_condition', 'not_personal', NULL, 'none', NULL),
    ('personal_data_owners', 'table_name', 'not_personal', NULL, 'none', NULL),
    ('personal_data_owners', 'subject', 'not_personal', NULL, 'none', NULL),
    ('personal_data_owners', 'owner_column', 'not_personal', NULL, 'none', NULL),
    ('personal_data_owners', 'kind_column', 'not_personal', NULL, 'none', NULL),
    ('erasure_tombstones', 'request_id', 'not_personal', NULL, 'none', NULL),
    ('erasure_tombstones', 'counts', 'not_personal', NULL, 'none', NULL),
    ('erasure_tombstones', 'chain_seq', 'not_personal', NULL, 'none', NULL),
    ('erasure_tombstones', 'chain_hash', 'not_personal', NULL, 'none', NULL),
    ('erasure_suppressions', 'email_hash', 'contact_data', 'person', 'keep',
        'GDPR Art. 17, 21: a keyed hash that keeps the erased person from being entered again; it reveals no address'),
    ('erasure_suppressions', 'key_id', 'not_personal', NULL, 'none', NULL),
    ('erasure_suppressions', 'created_at', 'not_personal', NULL, 'none', NULL);

-- A refused or extended case must keep a reason (the table's checks say so): erasing the person
-- replaces those texts with a marker instead of clearing them.
UPDATE personal_data_map SET erasure = 'anonymise'
WHERE table_name = 'request_cases' AND column_name IN ('refusal_reason', 'extension_reason');

-- Anonymising writes a fixed marker, which only text can hold.
CREATE FUNCTION personal_data_map_anonymise_text() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.erasure = 'anonymise' AND NOT EXISTS (
        SELECT 1 FROM information_schema.columns c
        WHERE c.table_schema = 'public' AND c.table_name = NEW.table_name AND c.column_name = NEW.column_name
          AND c.data_type = 'text'
    ) THEN
        RAISE EXCEPTION 'only a text column can be anonymised'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'personal_data_map_anonymise_text';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER personal_data_map_anonymise_text BEFORE INSERT OR UPDATE ON personal_data_map
    FOR EACH ROW EXECUTE FUNCTION personal_data_map_anonymise_text();

-- The case history records the erasure that completed a case.
ALTER TABLE request_events DROP CONSTRAINT request_events_action_check;
ALTER TABLE request_events ADD CONSTRAINT request_events_action_check CHECK (action IN ('received', 'updated', 'erased'));

-- The consent history's guard on DELETE checks a whole statement's rows at once (one set
-- difference against the tombstones) instead of one lookup per row: an erasure of a person with 100,000
-- records is one statement. UPDATE stays refused row by row.
DROP TRIGGER consent_records_append_only ON consent_records;
CREATE TRIGGER consent_records_append_only BEFORE UPDATE ON consent_records
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_history();

CREATE FUNCTION consent_records_erasure_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A set difference, not a correlated lookup: a transition table has no statistics, and a
    -- nested loop over 100,000 rows would cost seconds.
    IF EXISTS (
        SELECT CASE WHEN lead_id IS NOT NULL THEN 'lead' ELSE 'contact' END, coalesce(lead_id, contact_id) FROM gone
        EXCEPT
        SELECT subject_type, subject_id FROM erasure_tombstones WHERE erasing_xact = pg_current_xact_id()
    ) THEN
        RAISE EXCEPTION 'consent records are append-only'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'consent_records_append_only';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER consent_records_erasure_only AFTER DELETE ON consent_records
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION consent_records_erasure_only();
DROP FUNCTION consent_records_append_only();

-- Erasing or deleting a contact or customer finds the leads converted into it by index.
CREATE INDEX leads_converted_contact ON leads (converted_contact_id) WHERE converted_contact_id IS NOT NULL;
CREATE INDEX leads_converted_customer ON leads (converted_customer_id) WHERE converted_customer_id IS NOT NULL;
