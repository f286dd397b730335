-- Leads, and notes on leads, customers and contacts.

CREATE TABLE leads (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    company               text CHECK (length(company) <= 200),
    title                 text CHECK (length(title) <= 200),
    email                 text CHECK (length(email) BETWEEN 3 AND 320),
    phone                 text CHECK (length(phone) <= 50),
    website               text CHECK (length(website) <= 500),
    street                text CHECK (length(street) <= 500),
    city                  text CHECK (length(city) <= 100),
    state                 text CHECK (length(state) <= 100),
    zip                   text CHECK (length(zip) <= 20),
    country               text CHECK (country ~ '^[A-Z]{2}$'),
    status                text NOT NULL DEFAULT 'new' CHECK (length(status) BETWEEN 1 AND 50),
    source                text CHECK (length(source) <= 100),
    assigned_to           uuid REFERENCES staff (id),
    description           text CHECK (length(description) <= 10000),
    last_contacted_at     timestamptz,
    converted_customer_id uuid REFERENCES customers (id) ON DELETE SET NULL,
    converted_contact_id  uuid REFERENCES contacts (id) ON DELETE SET NULL,
    converted_at          timestamptz,
    custom_fields         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    revision              bigint NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    created_by            uuid REFERENCES staff (id),
    updated_by            uuid REFERENCES staff (id)
);
CREATE INDEX leads_created_order ON leads (created_at, id);
CREATE INDEX leads_status_order ON leads (status, created_at, id);
CREATE INDEX leads_source_order ON leads (source, created_at, id);
CREATE INDEX leads_assigned_order ON leads (assigned_to, created_at, id);
CREATE INDEX leads_name_prefix ON leads (lower(name) text_pattern_ops);
CREATE INDEX leads_company_prefix ON leads (lower(company) text_pattern_ops);
CREATE INDEX leads_email_prefix ON leads (lower(email) text_pattern_ops);
CREATE TRIGGER leads_touch BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION touch_record();

-- Notes, one table per kind of record, so whose data a note is stays plain (the personal-data
-- map classifies by table); each goes when its record goes.
CREATE TABLE lead_notes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id     uuid NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    author_id   uuid REFERENCES staff (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_notes_order ON lead_notes (lead_id, created_at, id);

CREATE TABLE customer_notes (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    author_id    uuid REFERENCES staff (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_notes_order ON customer_notes (customer_id, created_at, id);

CREATE TABLE contact_notes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contact_id  uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    author_id   uuid REFERENCES staff (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_notes_order ON contact_notes (contact_id, created_at, id);

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('leads', 'id', 'identifier', 'lead', 'delete_row', NULL),
    ('leads', 'name', 'name', 'lead', 'delete_row', NULL),
    ('leads', 'company', 'professional', 'lead', 'delete_row', NULL),
    ('leads', 'title', 'professional', 'lead', 'delete_row', NULL),
    ('leads', 'email', 'contact_data', 'lead', 'delete_row', NULL),
    ('leads', 'phone', 'contact_data', 'lead', 'delete_row', NULL),
    ('leads', 'website', 'contact_data', 'lead', 'delete_row', NULL),
    ('leads', 'street', 'contact_data', 'lead', 'delete_row', NULL),
    ('leads', 'city', 'contact_data', 'lead', 'delete_row', NULL),
    ('leads', 'state', 'contact_data', 'lead', 'delete_row', NULL),
    ('leads', 'zip', 'contact_data', 'lead', 'delete_row', NULL),
    ('leads', 'country', 'contact_data', 'lead', 'delete_row', NULL),
    ('leads', 'status', 'activity', 'lead', 'delete_row', NULL),
    ('leads', 'source', 'activity', 'lead', 'delete_row', NULL),
    ('leads', 'assigned_to', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who handled the lead'),
    ('leads', 'description', 'free_text', 'lead', 'delete_row', NULL),
    ('leads', 'last_contacted_at', 'activity', 'lead', 'delete_row', NULL),
    ('leads', 'converted_customer_id', 'identifier', 'lead', 'delete_row', NULL),
    ('leads', 'converted_contact_id', 'identifier', 'lead', 'delete_row', NULL),
    ('leads', 'converted_at', 'activity', 'lead', 'delete_row', NULL),
    ('leads', 'custom_fields', 'custom_fields', 'lead', 'delete_row', NULL),
    ('leads', 'revision', 'not_personal', NULL, 'none', NULL),
    ('leads', 'created_at', 'activity', 'lead', 'delete_row', NULL),
    ('leads', 'updated_at', 'activity', 'lead', 'delete_row', NULL),
    ('leads', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the record'),
    ('leads', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the record'),

    ('lead_notes', 'id', 'not_personal', NULL, 'none', NULL),
    ('lead_notes', 'lead_id', 'identifier', 'lead', 'delete_row', NULL),
    ('lead_notes', 'body', 'free_text', 'lead', 'delete_row', NULL),
    ('lead_notes', 'author_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the note'),
    ('lead_notes', 'created_at', 'activity', 'lead', 'delete_row', NULL),
    ('customer_notes', 'id', 'not_personal', NULL, 'none', NULL),
    ('customer_notes', 'customer_id', 'identifier', 'customer', 'delete_row', NULL),
    ('customer_notes', 'body', 'free_text', 'customer', 'delete_row', NULL),
    ('customer_notes', 'author_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the note'),
    ('customer_notes', 'created_at', 'activity', 'customer', 'delete_row', NULL),
    ('contact_notes', 'id', 'not_personal', NULL, 'none', NULL),
    ('contact_notes', 'contact_id', 'identifier', 'contact', 'delete_row', NULL),
    ('contact_notes', 'body', 'free_text', 'contact', 'delete_row', NULL),
    ('contact_notes', 'author_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the note'),
    ('contact_notes', 'created_at', 'activity', 'contact', 'delete_row', NULL);
