-- Portability (GDPR Art. 15, 20) and integrator feeds. What a person's export holds comes from the
-- personal-data map, as erasure does; every export is recorded; an export made for an access or
-- portability case is kept with the case for a while; integrators follow changes to leads,
-- contacts and customers through feeds that also carry erasures downstream (Art. 19).

-- Whether a column goes into the person's export: new columns do unless their migration says
-- otherwise; credentials never do. Replay caches and the outbox hold copies and ids only.
ALTER TABLE personal_data_map ADD COLUMN exported boolean NOT NULL DEFAULT true;
UPDATE personal_data_map SET exported = false WHERE category = 'credential';
UPDATE personal_data_map SET exported = false WHERE table_name IN ('idempotency_keys', 'webhook_events');
ALTER TABLE personal_data_map ADD CONSTRAINT personal_data_map_credentials_not_exported
    CHECK (NOT (exported AND category = 'credential'));

-- Which sections each audience's export leaves out (the export's header names them), and how
-- long an export attached to a closed request case is kept.
CREATE TABLE export_settings (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    staff_left_out   text[] NOT NULL DEFAULT '{}',
    person_left_out  text[] NOT NULL DEFAULT '{}',
    attachment_days  integer NOT NULL DEFAULT 30 CHECK (attachment_days BETWEEN 1 AND 3650),
    revision         bigint NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       uuid REFERENCES staff (id)
);
CREATE TRIGGER export_settings_touch BEFORE UPDATE ON export_settings FOR EACH ROW EXECUTE FUNCTION touch_record();
INSERT INTO export_settings DEFAULT VALUES;

-- Every export made: for whom, by whom (NULL: the person through their link), what it held.
CREATE TABLE exports (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_type  text NOT NULL CHECK (subject_type IN ('lead', 'contact')),
    subject_id    uuid NOT NULL,
    audience      text NOT NULL CHECK (audience IN ('staff', 'person')),
    exported_by   uuid REFERENCES staff (id),
    request_id    uuid REFERENCES request_cases (id),
    sections      text[] NOT NULL,
    left_out      text[] NOT NULL,
    byte_size     bigint NOT NULL CHECK (byte_size >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((audience = 'staff') = (exported_by IS NOT NULL))
);
CREATE INDEX exports_subject ON exports (subject_id, created_at, id);

-- The export made when an access or portability case completed, kept until `expires_at`.
CREATE TABLE request_attachments (
    case_id     uuid PRIMARY KEY REFERENCES request_cases (id),
    subject_id  uuid NOT NULL,
    export_id   uuid NOT NULL REFERENCES exports (id) ON DELETE CASCADE,
    body        bytea NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX request_attachments_subject ON request_attachments (subject_id);
CREATE INDEX request_attachments_expiry ON request_attachments (expires_at);

-- Every change to a lead, contact or customer, in the transaction that made it. Feeds serve a
-- change once its transaction is visible, and a cursor is the snapshot a poll was served from,
-- so a change committed late (after changes with later ids) is neither missed nor repeated.
CREATE TABLE feed_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity      text NOT NULL CHECK (entity IN ('leads', 'contacts', 'customers')),
    record_id   uuid NOT NULL,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feed_changes_entity_xid ON feed_changes (entity, xid);
CREATE INDEX feed_changes_changed_at ON feed_changes (changed_at);

-- Changes older than the feeds keep are purged; a cursor from before `purged_below` is too old.
CREATE TABLE feed_horizon (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    purged_below  xid8 NOT NULL DEFAULT '0'
);
INSERT INTO feed_horizon DEFAULT VALUES;

CREATE FUNCTION feed_note_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_changes (entity, record_id) SELECT DISTINCT TG_TABLE_NAME, id FROM changed;
    RETURN NULL;
END;
$$;
CREATE TRIGGER leads_feed_insert AFTER INSERT ON leads REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION feed_note_changes();
CREATE TRIGGER leads_feed_update AFTER UPDATE ON leads REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION feed_note_changes();
CREATE TRIGGER leads_feed_delete AFTER DELETE ON leads REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION feed_note_changes();
CREATE TRIGGER contacts_feed_insert AFTER INSERT ON contacts REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION feed_note_changes();
CREATE TRIGGER contacts_feed_update AFTER UPDATE ON contacts REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION feed_note_changes();
CREATE TRIGGER contacts_feed_delete AFTER DELETE ON contacts REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION feed_note_changes();
CREATE TRIGGER customers_feed_insert AFTER INSERT ON customers REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION feed_note_changes();
CREATE TRIGGER customers_feed_update AFTER UPDATE ON customers REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION feed_note_changes();
CREATE TRIGGER customers_feed_delete AFTER DELETE ON customers REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION feed_note_changes();

-- A role for integrations: it reads feeds and nothing else.
ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check CHECK (role IN ('admin', 'staff', 'readonly', 'integration'));

INSERT INTO personal_data_owners (table_name, subject, owner_column, kind_column) VALUES
    ('exports', 'person', 'subject_id', 'subject_type'),
    ('request_attachments', 'person', 'subject_id', NULL);

INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('export_settings', '{SELECT,UPDATE}', 'one row, created by its migration'),
    ('exports', '{SELECT,INSERT,DELETE}', 'a record of what was exported; an erasure removes it'),
    ('request_attachments', '{SELECT,INSERT,DELETE}', 'kept until it expires or the person is erased'),
    ('feed_changes', '{SELECT,INSERT,DELETE}', 'written by triggers; housekeeping purges old changes'),
    ('feed_horizon', '{SELECT,UPDATE}', 'one row, moved by the purge');

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported) VALUES
    ('personal_data_map', 'exported', 'not_personal', NULL, 'none', NULL, true),
    ('export_settings', 'singleton', 'not_personal', NULL, 'none', NULL, true),
    ('export_settings', 'staff_left_out', 'not_personal', NULL, 'none', NULL, true),
    ('export_settings', 'person_left_out', 'not_personal', NULL, 'none', NULL, true),
    ('export_settings', 'attachment_days', 'not_personal', NULL, 'none', NULL, true),
    ('export_settings', 'revision', 'not_personal', NULL, 'none', NULL, true),
    ('export_settings', 'updated_at', 'not_personal', NULL, 'none', NULL, true),
    ('export_settings', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the settings', true),
    ('exports', 'id', 'not_personal', NULL, 'none', NULL, true),
    ('exports', 'subject_type', 'not_personal', NULL, 'none', NULL, true),
    ('exports', 'subject_id', 'identifier', 'person', 'delete_row', NULL, true),
    ('exports', 'audience', 'activity', 'person', 'delete_row', NULL, true),
    ('exports', 'exported_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who exported', true),
    ('exports', 'request_id', 'not_personal', NULL, 'none', NULL, true),
    ('exports', 'sections', 'not_personal', NULL, 'none', NULL, true),
    ('exports', 'left_out', 'not_personal', NULL, 'none', NULL, true),
    ('exports', 'byte_size', 'not_personal', NULL, 'none', NULL, true),
    ('exports', 'created_at', 'activity', 'person', 'delete_row', NULL, true),
    ('request_attachments', 'case_id', 'not_personal', NULL, 'none', NULL, false),
    ('request_attachments', 'subject_id', 'identifier', 'person', 'delete_row', NULL, false),
    ('request_attachments', 'export_id', 'not_personal', NULL, 'none', NULL, false),
    ('request_attachments', 'body', 'free_text', 'person', 'delete_row', NULL, false),
    ('request_attachments', 'expires_at', 'not_personal', NULL, 'none', NULL, false),
    ('request_attachments', 'created_at', 'not_personal', NULL, 'none', NULL, false),
    ('feed_changes', 'id', 'not_personal', NULL, 'none', NULL, false),
    ('feed_changes', 'entity', 'not_personal', NULL, 'none', NULL, false),
    ('feed_changes', 'record_id', 'identifier', 'person', 'keep',
        'GDPR Art. 19: recipients of the data learn of its erasure through the feed; the id alone, with nothing else of the person', false),
    ('feed_changes', 'xid', 'not_personal', NULL, 'none', NULL, false),
    ('feed_changes', 'changed_at', 'not_personal', NULL, 'none', NULL, false),
    ('feed_horizon', 'singleton', 'not_personal', NULL, 'none', NULL, false),
    ('feed_horizon', 'purged_below', 'not_personal', NULL, 'none', NULL, false);
