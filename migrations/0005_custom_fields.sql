-- Custom field definitions. Values live in each record's custom_fields object, keyed by `key`,
-- and are validated against these definitions on every write.

CREATE TABLE custom_field_definitions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    entity              text NOT NULL CHECK (entity IN ('lead', 'customer', 'contact')),
    key                 text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
    label               text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
    type                text NOT NULL CHECK (type IN ('text', 'textarea', 'number', 'date', 'select', 'multiselect', 'checkbox')),
    options             jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(options) = 'array'),
    required            boolean NOT NULL DEFAULT false,
    -- whether the data subject sees the value (customer area, personal link, export)
    visible_to_subject  boolean NOT NULL DEFAULT true,
    -- whether values hold personal data: drives export and erasure of custom_fields
    personal            boolean NOT NULL DEFAULT true,
    active              boolean NOT NULL DEFAULT true,
    revision            bigint NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    created_by          uuid REFERENCES staff (id),
    updated_by          uuid REFERENCES staff (id),
    CONSTRAINT custom_field_definitions_key_unique UNIQUE (entity, key),
    CHECK ((type IN ('select', 'multiselect')) = (jsonb_array_length(options) > 0))
);
CREATE INDEX custom_field_definitions_order ON custom_field_definitions (created_at, id);
CREATE TRIGGER custom_field_definitions_touch BEFORE UPDATE ON custom_field_definitions
    FOR EACH ROW EXECUTE FUNCTION touch_record();

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('custom_field_definitions', 'id', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'entity', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'key', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'label', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'type', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'options', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'required', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'visible_to_subject', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'personal', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'active', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'revision', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'updated_at', 'not_personal', NULL, 'none', NULL),
    ('custom_field_definitions', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who defined the field'),
    ('custom_field_definitions', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the field');
