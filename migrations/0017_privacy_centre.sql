-- Access and rectification (GDPR Art. 15, 16) for the person: which columns they see through
-- their personal link, which they may correct themselves, and a record of every correction of
-- their data, by them or by staff.

-- Whether the person sees the column in their privacy centre (their export holds everything).
ALTER TABLE personal_data_map ADD COLUMN subject_visible boolean NOT NULL DEFAULT false;
UPDATE personal_data_map SET subject_visible = true
WHERE (table_name = 'leads' AND column_name IN
          ('name', 'company', 'title', 'email', 'phone', 'website', 'street', 'city', 'state', 'zip', 'country', 'source'))
   OR (table_name = 'contacts' AND column_name IN ('first_name', 'last_name', 'email', 'phone', 'title'));

-- Which fields the person may correct, and what they are told about how long data is kept.
CREATE TABLE privacy_settings (
    singleton            boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    lead_correctable     text[] NOT NULL DEFAULT '{name,company,title,email,phone}',
    contact_correctable  text[] NOT NULL DEFAULT '{first_name,last_name,title,email,phone}',
    retention            text NOT NULL DEFAULT
        'We keep your data while we are in contact with you, and afterwards only as long as the law requires.'
        CHECK (length(retention) BETWEEN 1 AND 2000),
    revision             bigint NOT NULL DEFAULT 1,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    updated_by           uuid REFERENCES staff (id)
);
CREATE TRIGGER privacy_settings_touch BEFORE UPDATE ON privacy_settings FOR EACH ROW EXECUTE FUNCTION touch_record();
INSERT INTO privacy_settings DEFAULT VALUES;

-- Every change of a personal value of a lead or contact: the field, the value before and after,
-- when, and who (the person through their link, or the staff member). Written by a trigger, so
-- no path that changes a record can skip it.
CREATE TABLE corrections (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_type  text NOT NULL CHECK (subject_type IN ('lead', 'contact')),
    subject_id    uuid NOT NULL,
    field         text NOT NULL,
    old_value     text,
    new_value     text,
    corrected_at  timestamptz NOT NULL DEFAULT now(),
    corrected_by  text NOT NULL CHECK (corrected_by IN ('person', 'staff')),
    staff_id      uuid REFERENCES staff (id),
    CHECK ((corrected_by = 'staff') = (staff_id IS NOT NULL))
);
CREATE INDEX corrections_subject ON corrections (subject_id, corrected_at, id);
CREATE TRIGGER corrections_append_only BEFORE UPDATE ON corrections
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_history();
CREATE TRIGGER corrections_no_truncate BEFORE TRUNCATE ON corrections
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewriting_history();

-- Corrections go with their person: in an erasure (the transaction that wrote the tombstone), or
-- with a record deleted as entered by mistake.
CREATE FUNCTION corrections_erasure_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM gone g
        WHERE NOT EXISTS (SELECT 1 FROM erasure_tombstones t
                          WHERE t.erasing_xact = pg_current_xact_id() AND t.subject_type = g.subject_type AND t.subject_id = g.subject_id)
          AND (EXISTS (SELECT 1 FROM leads WHERE id = g.subject_id) OR EXISTS (SELECT 1 FROM contacts WHERE id = g.subject_id))
    ) THEN
        RAISE EXCEPTION 'corrections are append-only'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'corrections_append_only';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER corrections_erasure_only AFTER DELETE ON corrections
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION corrections_erasure_only();

-- A record deleted as entered by mistake takes its corrections and the log of its exports along
-- (an erasure removes them itself, as its plan counted them).
CREATE FUNCTION delete_history_of_deleted_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM erasure_tombstones WHERE erasing_xact = pg_current_xact_id() AND subject_id = OLD.id) THEN
        DELETE FROM corrections WHERE subject_id = OLD.id;
        DELETE FROM exports WHERE subject_id = OLD.id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER leads_delete_history AFTER DELETE ON leads FOR EACH ROW EXECUTE FUNCTION delete_history_of_deleted_record();
CREATE TRIGGER contacts_delete_history AFTER DELETE ON contacts FOR EACH ROW EXECUTE FUNCTION delete_history_of_deleted_record();

-- The person's own values: names, contact data, professional data, free texts and custom fields
-- (each custom field by key). `updated_by` says who: a staff member, or nobody (the person).
CREATE FUNCTION record_corrections() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    person_kind text := CASE TG_TABLE_NAME WHEN 'leads' THEN 'lead' ELSE 'contact' END;
    before jsonb := to_jsonb(OLD);
    after jsonb := to_jsonb(NEW);
    by_staff boolean := NEW.updated_by IS NOT NULL;
BEGIN
    INSERT INTO corrections (subject_type, subject_id, field, old_value, new_value, corrected_by, staff_id)
    SELECT person_kind, NEW.id, m.column_name, before ->> m.column_name, after ->> m.column_name,
           CASE WHEN by_staff THEN 'staff' ELSE 'person' END, NEW.updated_by
    FROM personal_data_map m
    WHERE m.table_name = TG_TABLE_NAME AND m.category IN ('name', 'contact_data', 'professional', 'free_text')
      AND (before -> m.column_name) IS DISTINCT FROM (after -> m.column_name);
    INSERT INTO corrections (subject_type, subject_id, field, old_value, new_value, corrected_by, staff_id)
    SELECT person_kind, NEW.id, 'custom_fields.' || k.key, before -> 'custom_fields' ->> k.key, after -> 'custom_fields' ->> k.key,
           CASE WHEN by_staff THEN 'staff' ELSE 'person' END, NEW.updated_by
    FROM (SELECT jsonb_object_keys(OLD.custom_fields) AS key UNION SELECT jsonb_object_keys(NEW.custom_fields)) k
    WHERE (OLD.custom_fields -> k.key) IS DISTINCT FROM (NEW.custom_fields -> k.key);
    RETURN NULL;
END;
$$;
CREATE TRIGGER leads_corrections AFTER UPDATE ON leads FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION record_corrections();
CREATE TRIGGER contacts_corrections AFTER UPDATE ON contacts FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION record_corrections();

INSERT INTO personal_data_owners (table_name, subject, owner_column, kind_column) VALUES
    ('corrections', 'person', 'subject_id', 'subject_type');

INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('privacy_settings', '{SELECT,UPDATE}', 'one row, created by its migration'),
    ('corrections', '{SELECT,INSERT,DELETE}', 'append-only, written by a trigger; only an erasure deletes');

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('personal_data_map', 'subject_visible', 'not_personal', NULL, 'none', NULL),
    ('privacy_settings', 'singleton', 'not_personal', NULL, 'none', NULL),
    ('privacy_settings', 'lead_correctable', 'not_personal', NULL, 'none', NULL),
    ('privacy_settings', 'contact_correctable', 'not_personal', NULL, 'none', NULL),
    ('privacy_settings', 'retention', 'not_personal', NULL, 'none', NULL),
    ('privacy_settings', 'revision', 'not_personal', NULL, 'none', NULL),
    ('privacy_settings', 'updated_at', 'not_personal', NULL, 'none', NULL),
    ('privacy_settings', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the settings'),
    ('corrections', 'id', 'not_personal', NULL, 'none', NULL),
    ('corrections', 'subject_type', 'not_personal', NULL, 'none', NULL),
    ('corrections', 'subject_id', 'identifier', 'person', 'delete_row', NULL),
    ('corrections', 'field', 'not_personal', NULL, 'none', NULL),
    ('corrections', 'old_value', 'free_text', 'person', 'delete_row', NULL),
    ('corrections', 'new_value', 'free_text', 'person', 'delete_row', NULL),
    ('corrections', 'corrected_at', 'activity', 'person', 'delete_row', NULL),
    ('corrections', 'corrected_by', 'activity', 'person', 'delete_row', NULL),
    ('corrections', 'staff_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who corrected the data');
