-- Consent: purposes with versioned texts, and an append-only, hash-chained history of every
-- give and withdraw per person.

CREATE TABLE consent_purposes (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description      text NOT NULL CHECK (length(description) BETWEEN 1 AND 10000),
    lawful_basis     text NOT NULL CHECK (lawful_basis IN
                         ('consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests')),
    applies_to       text NOT NULL CHECK (applies_to IN ('leads', 'contacts', 'both')),
    active           boolean NOT NULL DEFAULT true,
    current_version  integer NOT NULL DEFAULT 1,
    revision         bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    created_by       uuid REFERENCES staff (id),
    updated_by       uuid REFERENCES staff (id)
);
CREATE INDEX consent_purposes_order ON consent_purposes (created_at, id);
CREATE TRIGGER consent_purposes_touch BEFORE UPDATE ON consent_purposes FOR EACH ROW EXECUTE FUNCTION touch_record();

-- Every text a person was ever shown: a consent record names the exact version.
CREATE TABLE consent_purpose_versions (
    purpose_id    uuid NOT NULL REFERENCES consent_purposes (id),
    version       integer NOT NULL CHECK (version >= 1),
    name          text NOT NULL,
    description   text NOT NULL,
    lawful_basis  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    uuid REFERENCES staff (id),
    PRIMARY KEY (purpose_id, version)
);

CREATE TABLE consent_records (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id          uuid REFERENCES leads (id) ON DELETE CASCADE,
    contact_id       uuid REFERENCES contacts (id) ON DELETE CASCADE,
    -- position in the person's chain: 1, 2, 3, ...
    seq              bigint NOT NULL,
    purpose_id       uuid NOT NULL,
    purpose_version  integer NOT NULL,
    action           text NOT NULL CHECK (action IN ('give', 'withdraw')),
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    channel          text NOT NULL CHECK (channel IN ('consent_link', 'staff', 'customer_area', 'web_form', 'api')),
    ip               text CHECK (length(ip) <= 64),
    user_agent       text CHECK (length(user_agent) <= 1000),
    staff_id         uuid REFERENCES staff (id),
    note             text CHECK (length(note) <= 2000),
    -- for rows carried over from a lead to the contact it became: the original row
    carried_from     uuid,
    prev_hash        bytea,
    hash             bytea NOT NULL,
    CHECK (num_nonnulls(lead_id, contact_id) = 1),
    FOREIGN KEY (purpose_id, purpose_version) REFERENCES consent_purpose_versions (purpose_id, version)
);
CREATE UNIQUE INDEX consent_records_lead_chain ON consent_records (lead_id, seq) WHERE lead_id IS NOT NULL;
CREATE UNIQUE INDEX consent_records_contact_chain ON consent_records (contact_id, seq) WHERE contact_id IS NOT NULL;
CREATE INDEX consent_records_lead_purpose ON consent_records (lead_id, purpose_id, seq DESC) WHERE lead_id IS NOT NULL;
CREATE INDEX consent_records_contact_purpose ON consent_records (contact_id, purpose_id, seq DESC) WHERE contact_id IS NOT NULL;
CREATE INDEX consent_records_purpose ON consent_records (purpose_id);

-- The hash of a record: SHA-256 over a canonical JSON array of its content and the previous
-- record's hash, so changing, removing or reordering any row breaks every later link.
CREATE FUNCTION consent_record_hash(r consent_records) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(jsonb_build_array(
        r.id, r.lead_id, r.contact_id, r.seq, r.purpose_id, r.purpose_version, r.action,
        to_char(r.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        r.channel, r.ip, r.user_agent, r.staff_id, r.note, r.carried_from, encode(r.prev_hash, 'hex')
    )::text, 'UTF8'))
$$;

-- Chains are built by the database, one person at a time (an advisory lock per person), so two
-- concurrent writes can never fork a chain whatever the application does.
CREATE FUNCTION consent_records_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    previous consent_records;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('consent:' || coalesce(NEW.lead_id, NEW.contact_id)::text, 0));
    SELECT * INTO previous FROM consent_records
    WHERE (NEW.lead_id IS NOT NULL AND lead_id = NEW.lead_id) OR (NEW.contact_id IS NOT NULL AND contact_id = NEW.contact_id)
    ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(previous.seq, 0) + 1;
    NEW.prev_hash := previous.hash;
    NEW.recorded_at := coalesce(NEW.recorded_at, now());
    NEW.hash := consent_record_hash(NEW);
    RETURN NEW;
END;
$$;
CREATE TRIGGER consent_records_chain BEFORE INSERT ON consent_records FOR EACH ROW EXECUTE FUNCTION consent_records_chain();

-- Append-only: no UPDATE ever, and DELETE only inside an erasure of the person, which sets
-- custodian.erasure for its own transaction.
CREATE FUNCTION consent_records_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('custodian.erasure', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'consent records are append-only'
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'consent_records_append_only';
END;
$$;
CREATE TRIGGER consent_records_append_only BEFORE UPDATE OR DELETE ON consent_records
    FOR EACH ROW EXECUTE FUNCTION consent_records_append_only();

-- A consent record belongs to a lead or a contact, whichever of lead_id and contact_id is set:
-- the map names that owner 'person'.
ALTER TABLE personal_data_map DROP CONSTRAINT personal_data_map_subject_check;
ALTER TABLE personal_data_map ADD CONSTRAINT personal_data_map_subject_check
    CHECK (subject IN ('lead', 'contact', 'customer', 'staff', 'person'));

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('consent_purposes', 'id', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'name', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'description', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'lawful_basis', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'applies_to', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'active', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'current_version', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'revision', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'updated_at', 'not_personal', NULL, 'none', NULL),
    ('consent_purposes', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the purpose'),
    ('consent_purposes', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the purpose'),
    ('consent_purpose_versions', 'purpose_id', 'not_personal', NULL, 'none', NULL),
    ('consent_purpose_versions', 'version', 'not_personal', NULL, 'none', NULL),
    ('consent_purpose_versions', 'name', 'not_personal', NULL, 'none', NULL),
    ('consent_purpose_versions', 'description', 'not_personal', NULL, 'none', NULL),
    ('consent_purpose_versions', 'lawful_basis', 'not_personal', NULL, 'none', NULL),
    ('consent_purpose_versions', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('consent_purpose_versions', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the text'),
    ('consent_records', 'id', 'identifier', 'person', 'delete_row', NULL),
    ('consent_records', 'lead_id', 'identifier', 'lead', 'delete_row', NULL),
    ('consent_records', 'contact_id', 'identifier', 'contact', 'delete_row', NULL),
    ('consent_records', 'seq', 'not_personal', NULL, 'none', NULL),
    ('consent_records', 'purpose_id', 'not_personal', NULL, 'none', NULL),
    ('consent_records', 'purpose_version', 'not_personal', NULL, 'none', NULL),
    ('consent_records', 'action', 'activity', 'person', 'delete_row', NULL),
    ('consent_records', 'recorded_at', 'activity', 'person', 'delete_row', NULL),
    ('consent_records', 'channel', 'activity', 'person', 'delete_row', NULL),
    ('consent_records', 'ip', 'online_identifier', 'person', 'delete_row', NULL),
    ('consent_records', 'user_agent', 'online_identifier', 'person', 'delete_row', NULL),
    ('consent_records', 'staff_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who recorded it on the person''s behalf'),
    ('consent_records', 'note', 'free_text', 'person', 'delete_row', NULL),
    ('consent_records', 'carried_from', 'identifier', 'person', 'delete_row', NULL),
    ('consent_records', 'prev_hash', 'not_personal', NULL, 'none', NULL),
    ('consent_records', 'hash', 'not_personal', NULL, 'none', NULL);
