-- Web-to-lead forms: admins define what a form asks, which consent purposes it offers and which
-- policies it requires; a submission creates the lead, its acceptances and its consents at once.

CREATE TABLE web_forms (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- the form's public address; not a secret (it is in the page), but not guessable either
    key              text NOT NULL UNIQUE CHECK (key ~ '^[A-Za-z0-9_-]{22}$'),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    fields           text[] NOT NULL CHECK (cardinality(fields) BETWEEN 1 AND 20),
    required_fields  text[] NOT NULL DEFAULT '{}' CHECK (required_fields <@ fields),
    purposes         uuid[] NOT NULL DEFAULT '{}',
    requires_terms   boolean NOT NULL DEFAULT false,
    requires_privacy boolean NOT NULL DEFAULT true,
    thank_you        text NOT NULL DEFAULT 'Thank you. We will be in touch.' CHECK (length(thank_you) BETWEEN 1 AND 2000),
    source           text NOT NULL DEFAULT 'web form' CHECK (length(source) BETWEEN 1 AND 100),
    active           boolean NOT NULL DEFAULT true,
    revision         bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    created_by       uuid REFERENCES staff (id),
    updated_by       uuid REFERENCES staff (id)
);
CREATE INDEX web_forms_order ON web_forms (created_at, id);
CREATE TRIGGER web_forms_touch BEFORE UPDATE ON web_forms FOR EACH ROW EXECUTE FUNCTION touch_record();

-- A submission sent twice (a double click, a retried POST) within ten minutes makes one lead:
-- the same form and the same answers give the same fingerprint.
CREATE TABLE web_form_submissions (
    fingerprint  bytea PRIMARY KEY,
    form_id      uuid NOT NULL REFERENCES web_forms (id),
    lead_id      uuid NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX web_form_submissions_lead ON web_form_submissions (lead_id);
CREATE INDEX web_form_submissions_age ON web_form_submissions (created_at);

INSERT INTO personal_data_owners (table_name, subject, owner_column, kind_column) VALUES
    ('web_form_submissions', 'lead', 'lead_id', NULL);

INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('web_forms', '{SELECT,INSERT,UPDATE}', 'forms are deactivated, never deleted: leads name the form they came from'),
    ('web_form_submissions', '{SELECT,INSERT,DELETE}', 'a duplicate window; housekeeping removes old entries');

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported) VALUES
    ('web_forms', 'id', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'key', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'name', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'fields', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'required_fields', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'purposes', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'requires_terms', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'requires_privacy', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'thank_you', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'source', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'active', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'revision', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'created_at', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'updated_at', 'not_personal', NULL, 'none', NULL, true),
    ('web_forms', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who made the form', true),
    ('web_forms', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the form', true),
    ('web_form_submissions', 'fingerprint', 'identifier', 'lead', 'delete_row', NULL, false),
    ('web_form_submissions', 'form_id', 'not_personal', NULL, 'none', NULL, false),
    ('web_form_submissions', 'lead_id', 'identifier', 'lead', 'delete_row', NULL, false),
    ('web_form_submissions', 'created_at', 'activity', 'lead', 'delete_row', NULL, false);
