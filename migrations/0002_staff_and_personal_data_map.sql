-- Staff members, their API keys, and the personal-data map that classifies every column.

-- Every record with a revision (its ETag) and updated_at gets this trigger: the database, not the
-- application, keeps both honest, whichever code path wrote the row.
CREATE FUNCTION touch_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE staff (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       text CHECK (length(email) BETWEEN 3 AND 320),
    role        text NOT NULL CHECK (role IN ('admin', 'staff', 'readonly')),
    active      boolean NOT NULL DEFAULT true,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    created_by  uuid REFERENCES staff (id),
    updated_by  uuid REFERENCES staff (id)
);
CREATE UNIQUE INDEX staff_email_unique ON staff (lower(email));
CREATE INDEX staff_created_order ON staff (created_at, id);
CREATE TRIGGER staff_touch BEFORE UPDATE ON staff FOR EACH ROW EXECUTE FUNCTION touch_record();

-- Keys are shown once; only their SHA-256 is stored. `prefix` lets people tell keys apart.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id      uuid NOT NULL REFERENCES staff (id),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    uuid REFERENCES staff (id),
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    revoked_by    uuid REFERENCES staff (id)
);
CREATE INDEX api_keys_staff ON api_keys (staff_id, created_at, id);
CREATE INDEX api_keys_created_order ON api_keys (created_at, id);

-- The personal-data map: one row per column of every table, written by the migration that adds
-- the column. Export and erasure are driven by it; a test fails when a column is missing here or
-- a row names a column that does not exist. `subject` names whose data the value is: for the
-- *_by columns that is the staff member who acted, not the person the row is about.
CREATE TABLE personal_data_map (
    table_name   text NOT NULL,
    column_name  text NOT NULL,
    -- what kind of data the column holds
    category     text NOT NULL CHECK (category IN (
        'not_personal',       -- nothing about a person
        'identifier',         -- singles a person out: ids, foreign keys to a person's row
        'name',
        'contact_data',       -- email, phone, postal address, website
        'professional',       -- company, job title
        'free_text',          -- notes, descriptions: may hold anything
        'custom_fields',      -- values of custom fields, classified per field definition
        'credential',         -- password and key hashes
        'online_identifier',  -- IP addresses, user agents
        'activity'            -- when the person did or was subject to something
    )),
    -- whose data it is: the row belongs to a person of this kind
    subject      text CHECK (subject IN ('lead', 'contact', 'customer', 'staff')),
    -- what an erasure of that person does with the value
    erasure      text NOT NULL CHECK (erasure IN ('none', 'delete_row', 'clear', 'anonymise', 'keep')),
    -- why a value is kept despite an erasure (required for 'keep')
    legal_basis  text,
    PRIMARY KEY (table_name, column_name),
    CHECK ((category = 'not_personal') = (subject IS NULL)),
    CHECK ((category = 'not_personal') = (erasure = 'none')),
    CHECK (erasure <> 'keep' OR legal_basis IS NOT NULL)
);

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('schema_migrations', 'version', 'not_personal', NULL, 'none', NULL),
    ('schema_migrations', 'name', 'not_personal', NULL, 'none', NULL),
    ('schema_migrations', 'checksum', 'not_personal', NULL, 'none', NULL),
    ('schema_migrations', 'applied_at', 'not_personal', NULL, 'none', NULL),

    ('personal_data_map', 'table_name', 'not_personal', NULL, 'none', NULL),
    ('personal_data_map', 'column_name', 'not_personal', NULL, 'none', NULL),
    ('personal_data_map', 'category', 'not_personal', NULL, 'none', NULL),
    ('personal_data_map', 'subject', 'not_personal', NULL, 'none', NULL),
    ('personal_data_map', 'erasure', 'not_personal', NULL, 'none', NULL),
    ('personal_data_map', 'legal_basis', 'not_personal', NULL, 'none', NULL),

    ('staff', 'id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): other rows name the staff member who wrote them'),
    ('staff', 'name', 'name', 'staff', 'anonymise', NULL),
    ('staff', 'email', 'contact_data', 'staff', 'clear', NULL),
    ('staff', 'role', 'not_personal', NULL, 'none', NULL),
    ('staff', 'active', 'not_personal', NULL, 'none', NULL),
    ('staff', 'revision', 'not_personal', NULL, 'none', NULL),
    ('staff', 'created_at', 'activity', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): when access was granted'),
    ('staff', 'updated_at', 'activity', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): when access was changed'),
    ('staff', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who granted access'),
    ('staff', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed access'),

    ('api_keys', 'id', 'not_personal', NULL, 'none', NULL),
    ('api_keys', 'staff_id', 'identifier', 'staff', 'delete_row', NULL),
    ('api_keys', 'name', 'not_personal', NULL, 'none', NULL),
    ('api_keys', 'prefix', 'not_personal', NULL, 'none', NULL),
    ('api_keys', 'key_hash', 'credential', 'staff', 'delete_row', NULL),
    ('api_keys', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('api_keys', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who issued the key'),
    ('api_keys', 'last_used_at', 'activity', 'staff', 'delete_row', NULL),
    ('api_keys', 'revoked_at', 'not_personal', NULL, 'none', NULL),
    ('api_keys', 'revoked_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who revoked the key');
