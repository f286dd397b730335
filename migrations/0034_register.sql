-- The register of processing activities (GDPR Art. 30) and what people are told (Art. 13, 14).
-- Only what the data cannot say is typed: the controller's details (its name is the one consent
-- settings hold already, shown on every page and receipt), and per activity its
-- purpose, lawful basis (or the consent purpose it is), whose data, transfers and measures. The
-- categories of data come from the personal-data map, the recipients from the webhook endpoints
-- and integration keys, the retention from the policies: the register is always current.

CREATE TABLE public.controller_settings (
    singleton                   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    address                     text CHECK (length(address) BETWEEN 1 AND 1000),
    email                       text CHECK (length(email) BETWEEN 3 AND 320),
    phone                       text CHECK (length(phone) BETWEEN 1 AND 50),
    dpo_name                    text CHECK (length(dpo_name) BETWEEN 1 AND 200),
    dpo_email                   text CHECK (length(dpo_email) BETWEEN 3 AND 320),
    eu_representative           text CHECK (length(eu_representative) BETWEEN 1 AND 1000),
    supervisory_authority_name  text CHECK (length(supervisory_authority_name) BETWEEN 1 AND 300),
    supervisory_authority_url   text CHECK (supervisory_authority_url ~ '^https?://' AND length(supervisory_authority_url) <= 500),
    revision                    bigint NOT NULL DEFAULT 1,
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    updated_by                  uuid REFERENCES public.staff (id)
);
CREATE TRIGGER controller_settings_touch BEFORE UPDATE ON public.controller_settings
    FOR EACH ROW EXECUTE FUNCTION public.touch_record();
INSERT INTO public.controller_settings DEFAULT VALUES;

CREATE TABLE public.processing_activities (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    purpose             text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 2000),
    -- the consent purpose this activity is, whose lawful basis it then has
    consent_purpose_id  uuid REFERENCES public.consent_purposes (id),
    lawful_basis        text CHECK (lawful_basis IN
                            ('consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests')),
    -- whose data: leads, contacts, customers
    subject_types       text[] NOT NULL CHECK (cardinality(subject_types) BETWEEN 1 AND 3
                            AND subject_types <@ ARRAY['lead', 'contact', 'customer']),
    -- the tables it uses (NULL: all the map says those people own); categories come from the map
    tables              text[] CHECK (cardinality(tables) BETWEEN 1 AND 100),
    -- recipients beyond the webhook endpoints and integration keys, named by the controller
    other_recipients    text[] NOT NULL DEFAULT '{}' CHECK (cardinality(other_recipients) <= 50),
    -- [{"country": "US", "safeguard": "standard contractual clauses"}]
    transfers           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(transfers) = 'array'),
    security_measures   text[] NOT NULL DEFAULT '{}' CHECK (cardinality(security_measures) <= 50),
    active              boolean NOT NULL DEFAULT true,
    created_by          uuid REFERENCES public.staff (id),
    updated_by          uuid REFERENCES public.staff (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    revision            bigint NOT NULL DEFAULT 1,
    CHECK (lawful_basis IS NOT NULL OR consent_purpose_id IS NOT NULL)
);
CREATE INDEX processing_activities_order ON public.processing_activities (created_at, id);
CREATE TRIGGER processing_activities_touch BEFORE UPDATE ON public.processing_activities
    FOR EACH ROW EXECUTE FUNCTION public.touch_record();

INSERT INTO public.api_privileges (table_name, privileges, reason) VALUES
    ('controller_settings', '{SELECT,UPDATE}', 'one row of settings'),
    ('processing_activities', '{SELECT,INSERT,UPDATE}', 'the register keeps activities; they are switched off, not deleted');

-- The controller's and the data protection officer's details are published (Art. 13(1)(a), (b),
-- 37(7)): values of the company and of its officer in that role, kept.
INSERT INTO public.personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported, subject_visible) VALUES
    ('controller_settings', 'singleton', 'not_personal', NULL, 'none', NULL, false, false),
    ('controller_settings', 'address', 'not_personal', NULL, 'none', NULL, false, false),
    ('controller_settings', 'email', 'not_personal', NULL, 'none', NULL, false, false),
    ('controller_settings', 'phone', 'not_personal', NULL, 'none', NULL, false, false),
    ('controller_settings', 'dpo_name', 'name', 'staff', 'keep', 'GDPR Art. 37(7): the data protection officer''s contact details are published', false, false),
    ('controller_settings', 'dpo_email', 'contact_data', 'staff', 'keep', 'GDPR Art. 37(7): the data protection officer''s contact details are published', false, false),
    ('controller_settings', 'eu_representative', 'not_personal', NULL, 'none', NULL, false, false),
    ('controller_settings', 'supervisory_authority_name', 'not_personal', NULL, 'none', NULL, false, false),
    ('controller_settings', 'supervisory_authority_url', 'not_personal', NULL, 'none', NULL, false, false),
    ('controller_settings', 'revision', 'not_personal', NULL, 'none', NULL, false, false),
    ('controller_settings', 'updated_at', 'not_personal', NULL, 'none', NULL, false, false),
    ('controller_settings', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the controller''s details', false, false),
    ('processing_activities', 'id', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'name', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'purpose', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'consent_purpose_id', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'lawful_basis', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'subject_types', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'tables', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'other_recipients', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'transfers', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'security_measures', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'active', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the activity', false, false),
    ('processing_activities', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the activity', false, false),
    ('processing_activities', 'created_at', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'updated_at', 'not_personal', NULL, 'none', NULL, false, false),
    ('processing_activities', 'revision', 'not_personal', NULL, 'none', NULL, false, false);
