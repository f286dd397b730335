-- Customers (companies) and their contacts.

CREATE TABLE customers (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company           text NOT NULL CHECK (length(company) BETWEEN 1 AND 200),
    vat_number        text CHECK (length(vat_number) <= 50),
    phone             text CHECK (length(phone) <= 50),
    website           text CHECK (length(website) <= 500),
    billing_street    text CHECK (length(billing_street) <= 500),
    billing_city      text CHECK (length(billing_city) <= 100),
    billing_state     text CHECK (length(billing_state) <= 100),
    billing_zip       text CHECK (length(billing_zip) <= 20),
    billing_country   text CHECK (billing_country ~ '^[A-Z]{2}$'),
    shipping_street   text CHECK (length(shipping_street) <= 500),
    shipping_city     text CHECK (length(shipping_city) <= 100),
    shipping_state    text CHECK (length(shipping_state) <= 100),
    shipping_zip      text CHECK (length(shipping_zip) <= 20),
    shipping_country  text CHECK (shipping_country ~ '^[A-Z]{2}$'),
    country           text CHECK (country ~ '^[A-Z]{2}$'),
    active            boolean NOT NULL DEFAULT true,
    custom_fields     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    revision          bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    created_by        uuid REFERENCES staff (id),
    updated_by        uuid REFERENCES staff (id)
);
CREATE INDEX customers_created_order ON customers (created_at, id);
CREATE INDEX customers_active_order ON customers (active, created_at, id);
CREATE INDEX customers_company_prefix ON customers (lower(company) text_pattern_ops);
CREATE TRIGGER customers_touch BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION touch_record();

CREATE TABLE contacts (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id          uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    first_name           text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
    last_name            text NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
    email                text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    phone                text CHECK (length(phone) <= 50),
    title                text CHECK (length(title) <= 200),
    is_primary           boolean NOT NULL DEFAULT false,
    active               boolean NOT NULL DEFAULT true,
    email_notifications  boolean NOT NULL DEFAULT true,
    custom_fields        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    revision             bigint NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    created_by           uuid REFERENCES staff (id),
    updated_by           uuid REFERENCES staff (id)
);
CREATE UNIQUE INDEX contacts_email_unique ON contacts (lower(email));
-- At most one primary contact per customer...
CREATE UNIQUE INDEX contacts_one_primary ON contacts (customer_id) WHERE is_primary;
CREATE INDEX contacts_created_order ON contacts (created_at, id);
CREATE INDEX contacts_customer_order ON contacts (customer_id, created_at, id);
CREATE INDEX contacts_first_name_prefix ON contacts (lower(first_name) text_pattern_ops);
CREATE INDEX contacts_last_name_prefix ON contacts (lower(last_name) text_pattern_ops);
CREATE INDEX contacts_email_prefix ON contacts (lower(email) text_pattern_ops);
CREATE TRIGGER contacts_touch BEFORE UPDATE ON contacts FOR EACH ROW EXECUTE FUNCTION touch_record();

-- ...and at least one while the customer has any: checked at commit, so a transaction may move
-- the primary flag from one contact to another.
CREATE FUNCTION contacts_require_primary() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    affected uuid;
BEGIN
    FOR affected IN
        SELECT DISTINCT customer_id FROM (
            SELECT NEW.customer_id WHERE TG_OP <> 'DELETE'
            UNION ALL
            SELECT OLD.customer_id WHERE TG_OP <> 'INSERT'
        ) AS changed (customer_id)
    LOOP
        IF EXISTS (SELECT 1 FROM contacts WHERE customer_id = affected)
           AND NOT EXISTS (SELECT 1 FROM contacts WHERE customer_id = affected AND is_primary) THEN
            RAISE EXCEPTION 'customer % has contacts but no primary contact', affected
                USING ERRCODE = 'check_violation', CONSTRAINT = 'contacts_require_primary';
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER contacts_require_primary
    AFTER INSERT OR UPDATE OF is_primary, customer_id OR DELETE ON contacts
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION contacts_require_primary();

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('customers', 'id', 'not_personal', NULL, 'none', NULL),
    ('customers', 'company', 'professional', 'customer', 'keep', 'a company name is not personal data unless it names a sole trader; kept for invoices (retention duty)'),
    ('customers', 'vat_number', 'identifier', 'customer', 'keep', 'tax law: invoices must show it (retention duty)'),
    ('customers', 'phone', 'contact_data', 'customer', 'clear', NULL),
    ('customers', 'website', 'contact_data', 'customer', 'clear', NULL),
    ('customers', 'billing_street', 'contact_data', 'customer', 'keep', 'tax law: the invoice address is kept with the invoices'),
    ('customers', 'billing_city', 'contact_data', 'customer', 'keep', 'tax law: the invoice address is kept with the invoices'),
    ('customers', 'billing_state', 'contact_data', 'customer', 'keep', 'tax law: the invoice address is kept with the invoices'),
    ('customers', 'billing_zip', 'contact_data', 'customer', 'keep', 'tax law: the invoice address is kept with the invoices'),
    ('customers', 'billing_country', 'contact_data', 'customer', 'keep', 'tax law: the invoice address is kept with the invoices'),
    ('customers', 'shipping_street', 'contact_data', 'customer', 'clear', NULL),
    ('customers', 'shipping_city', 'contact_data', 'customer', 'clear', NULL),
    ('customers', 'shipping_state', 'contact_data', 'customer', 'clear', NULL),
    ('customers', 'shipping_zip', 'contact_data', 'customer', 'clear', NULL),
    ('customers', 'shipping_country', 'contact_data', 'customer', 'clear', NULL),
    ('customers', 'country', 'contact_data', 'customer', 'clear', NULL),
    ('customers', 'active', 'not_personal', NULL, 'none', NULL),
    ('customers', 'custom_fields', 'custom_fields', 'customer', 'clear', NULL),
    ('customers', 'revision', 'not_personal', NULL, 'none', NULL),
    ('customers', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('customers', 'updated_at', 'not_personal', NULL, 'none', NULL),
    ('customers', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the record'),
    ('customers', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the record'),

    ('contacts', 'id', 'identifier', 'contact', 'delete_row', NULL),
    ('contacts', 'customer_id', 'identifier', 'contact', 'delete_row', NULL),
    ('contacts', 'first_name', 'name', 'contact', 'delete_row', NULL),
    ('contacts', 'last_name', 'name', 'contact', 'delete_row', NULL),
    ('contacts', 'email', 'contact_data', 'contact', 'delete_row', NULL),
    ('contacts', 'phone', 'contact_data', 'contact', 'delete_row', NULL),
    ('contacts', 'title', 'professional', 'contact', 'delete_row', NULL),
    ('contacts', 'is_primary', 'not_personal', NULL, 'none', NULL),
    ('contacts', 'active', 'not_personal', NULL, 'none', NULL),
    ('contacts', 'email_notifications', 'activity', 'contact', 'delete_row', NULL),
    ('contacts', 'custom_fields', 'custom_fields', 'contact', 'delete_row', NULL),
    ('contacts', 'revision', 'not_personal', NULL, 'none', NULL),
    ('contacts', 'created_at', 'activity', 'contact', 'delete_row', NULL),
    ('contacts', 'updated_at', 'activity', 'contact', 'delete_row', NULL),
    ('contacts', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the record'),
    ('contacts', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the record');
