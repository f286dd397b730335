-- What the consent history promises, held by the database against every role that is not its
-- owner: rows go only with an erased person, purpose texts never change, the record's hash
-- covers the text the person was shown and the link they used, and links keep their history.

-- One row per erasure: the proof it happened, with no personal value. The transaction that
-- writes it (and only that one) may delete the person's consent history.
CREATE TABLE erasure_tombstones (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_type  text NOT NULL CHECK (subject_type IN ('lead', 'contact', 'customer')),
    subject_id    uuid NOT NULL,
    erased_at     timestamptz NOT NULL DEFAULT now(),
    erased_by     uuid REFERENCES staff (id),
    -- set by the database: the transaction that erased
    erasing_xact  xid8 NOT NULL
);
CREATE INDEX erasure_tombstones_subject ON erasure_tombstones (subject_id);

CREATE FUNCTION erasure_tombstones_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Nobody picks these: a tombstone written for a later transaction would open its door early.
    NEW.erasing_xact := pg_current_xact_id();
    NEW.erased_at := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER erasure_tombstones_stamp BEFORE INSERT ON erasure_tombstones
    FOR EACH ROW EXECUTE FUNCTION erasure_tombstones_stamp();

-- For tables whose rows are history: no UPDATE, no DELETE, no TRUNCATE, whoever asks.
CREATE FUNCTION refuse_rewriting_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation', CONSTRAINT = TG_TABLE_NAME || '_append_only';
END;
$$;
CREATE TRIGGER erasure_tombstones_append_only BEFORE UPDATE OR DELETE ON erasure_tombstones
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_history();
CREATE TRIGGER erasure_tombstones_no_truncate BEFORE TRUNCATE ON erasure_tombstones
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewriting_history();

-- The history guard no longer reads a setting any session can change: a person's rows may go
-- only in the transaction that wrote that person's tombstone.
CREATE OR REPLACE FUNCTION consent_records_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM erasure_tombstones t
        WHERE t.erasing_xact = pg_current_xact_id()
          AND ((t.subject_type = 'lead' AND t.subject_id = OLD.lead_id)
               OR (t.subject_type = 'contact' AND t.subject_id = OLD.contact_id))
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'consent records are append-only'
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'consent_records_append_only';
END;
$$;
CREATE TRIGGER consent_records_no_truncate BEFORE TRUNCATE ON consent_records
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewriting_history();

-- A text a person may have been shown never changes; an unused version may go with its purpose
-- (the foreign key from consent_records keeps every used one).
CREATE TRIGGER consent_purpose_versions_immutable BEFORE UPDATE ON consent_purpose_versions
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_history();
CREATE TRIGGER consent_purpose_versions_no_truncate BEFORE TRUNCATE ON consent_purpose_versions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewriting_history();

CREATE FUNCTION consent_purpose_text_hash(name text, description text, lawful_basis text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(jsonb_build_array(name, description, lawful_basis)::text, 'UTF8'))
$$;

-- Links keep their rows: a rotated or revoked link loses its token hash (it can never work
-- again) but keeps who issued it, when, and how it ended, so every decision made through it
-- stays attributable.
ALTER TABLE consent_links ALTER COLUMN token_hash DROP NOT NULL;
ALTER TABLE consent_links ADD COLUMN ended_at timestamptz;
ALTER TABLE consent_links ADD COLUMN ended_by uuid REFERENCES staff (id);
ALTER TABLE consent_links ADD COLUMN end_reason text CHECK (end_reason IN ('rotated', 'revoked', 'converted'));
ALTER TABLE consent_links ADD CONSTRAINT consent_links_ended_without_token
    CHECK ((ended_at IS NULL) = (token_hash IS NOT NULL) AND (ended_at IS NULL) = (end_reason IS NULL));
ALTER TABLE consent_links DROP CONSTRAINT consent_links_lead_id_key;
ALTER TABLE consent_links DROP CONSTRAINT consent_links_contact_id_key;
CREATE UNIQUE INDEX consent_links_one_live_per_lead ON consent_links (lead_id) WHERE lead_id IS NOT NULL AND ended_at IS NULL;
CREATE UNIQUE INDEX consent_links_one_live_per_contact ON consent_links (contact_id) WHERE contact_id IS NOT NULL AND ended_at IS NULL;
CREATE INDEX consent_links_lead ON consent_links (lead_id, created_at);
CREATE INDEX consent_links_contact ON consent_links (contact_id, created_at);

-- A converted lead is its contact now: its live link moves there (one person, one state), unless
-- the contact has a link of its own, and then it ends.
CREATE TEMPORARY TABLE moving_links ON COMMIT DROP AS
    SELECT k.id, k.token_hash, k.created_by, k.expires_at, l.converted_contact_id AS contact_id
    FROM consent_links k JOIN leads l ON l.id = k.lead_id
    WHERE l.converted_contact_id IS NOT NULL AND k.ended_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM consent_links c WHERE c.contact_id = l.converted_contact_id);
UPDATE consent_links k SET token_hash = NULL, ended_at = now(), end_reason = 'converted'
FROM leads l
WHERE l.id = k.lead_id AND l.converted_contact_id IS NOT NULL AND k.ended_at IS NULL;
INSERT INTO consent_links (contact_id, token_hash, created_by, expires_at)
    SELECT contact_id, token_hash, created_by, expires_at FROM moving_links;

-- Links expire unless an admin decided otherwise: 90 days by default, and links issued under the
-- old never-expiring default (the settings were never changed) get 90 days from now.
ALTER TABLE consent_settings ALTER COLUMN link_lifetime_days SET DEFAULT 90;
UPDATE consent_links SET expires_at = now() + interval '90 days'
WHERE ended_at IS NULL AND expires_at IS NULL
  AND EXISTS (SELECT 1 FROM consent_settings WHERE link_lifetime_days IS NULL AND updated_by IS NULL);
UPDATE consent_settings SET link_lifetime_days = 90 WHERE link_lifetime_days IS NULL AND updated_by IS NULL;

-- Records hashed from now on (hash_version 2) also cover the hash of the purpose text the person
-- acted on and the link they used. Existing rows keep version 1 and their hashes.
ALTER TABLE consent_records ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2));
ALTER TABLE consent_records ALTER COLUMN hash_version SET DEFAULT 2;
ALTER TABLE consent_records ADD COLUMN purpose_text_hash bytea;
ALTER TABLE consent_records ADD COLUMN link_id uuid REFERENCES consent_links (id);
CREATE INDEX consent_records_link ON consent_records (link_id) WHERE link_id IS NOT NULL;

CREATE OR REPLACE FUNCTION consent_record_hash(r consent_records) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE r.hash_version
        WHEN 1 THEN sha256(convert_to(jsonb_build_array(
            r.id, r.lead_id, r.contact_id, r.seq, r.purpose_id, r.purpose_version, r.action,
            to_char(r.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            r.channel, r.ip, r.user_agent, r.staff_id, r.note, r.carried_from, encode(r.prev_hash, 'hex')
        )::text, 'UTF8'))
        ELSE sha256(convert_to(jsonb_build_array(
            'v2', r.id, r.lead_id, r.contact_id, r.seq, r.purpose_id, r.purpose_version,
            encode(r.purpose_text_hash, 'hex'), r.action,
            to_char(r.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            r.channel, r.ip, r.user_agent, r.staff_id, r.note, r.carried_from, r.link_id, encode(r.prev_hash, 'hex')
        )::text, 'UTF8'))
    END
$$;

-- The chain trigger now also fixes what the caller must not choose: the hash version, the text
-- hash, the time (now), and for a copy carried over from a lead everything but the owner, taken
-- from the original.
CREATE OR REPLACE FUNCTION consent_records_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    previous consent_records;
    original consent_records;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('consent:' || coalesce(NEW.lead_id, NEW.contact_id)::text, 0));
    IF NEW.carried_from IS NULL THEN
        NEW.recorded_at := now();
        IF NEW.channel = 'consent_link' AND NEW.link_id IS NULL THEN
            RAISE EXCEPTION 'a decision made through a consent link names the link'
                USING ERRCODE = 'not_null_violation', CONSTRAINT = 'consent_records_link_named';
        END IF;
    ELSE
        SELECT * INTO original FROM consent_records WHERE id = NEW.carried_from;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'a carried-over consent record names an existing original'
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'consent_records_carried_from';
        END IF;
        NEW.purpose_id := original.purpose_id;
        NEW.purpose_version := original.purpose_version;
        NEW.action := original.action;
        NEW.recorded_at := original.recorded_at;
        NEW.channel := original.channel;
        NEW.ip := original.ip;
        NEW.user_agent := original.user_agent;
        NEW.staff_id := original.staff_id;
        NEW.note := original.note;
        NEW.link_id := original.link_id;
    END IF;
    SELECT * INTO previous FROM consent_records
    WHERE (NEW.lead_id IS NOT NULL AND lead_id = NEW.lead_id) OR (NEW.contact_id IS NOT NULL AND contact_id = NEW.contact_id)
    ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(previous.seq, 0) + 1;
    NEW.prev_hash := previous.hash;
    NEW.hash_version := 2;
    SELECT consent_purpose_text_hash(v.name, v.description, v.lawful_basis) INTO NEW.purpose_text_hash
    FROM consent_purpose_versions v WHERE v.purpose_id = NEW.purpose_id AND v.version = NEW.purpose_version;
    NEW.hash := consent_record_hash(NEW);
    RETURN NEW;
END;
$$;

-- The servers' Ed25519 public keys, every one that ever signed a consent receipt, so a receipt
-- stays verifiable after its key was rotated. The private keys never reach the database.
CREATE TABLE signing_keys (
    key_id         text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    algorithm      text NOT NULL CHECK (algorithm = 'Ed25519'),
    public_key     bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    first_used_at  timestamptz NOT NULL DEFAULT now()
);

-- A deactivated staff member's keys are revoked (reactivating them must not bring keys back).
UPDATE api_keys k SET revoked_at = now()
FROM staff s
WHERE s.id = k.staff_id AND NOT s.active AND k.revoked_at IS NULL;

UPDATE api_privileges SET privileges = '{SELECT,INSERT,UPDATE}', reason = 'links end (rotated, revoked), they are never deleted'
WHERE table_name = 'consent_links';
INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('erasure_tombstones', '{SELECT,INSERT}', 'proof of erasures: append-only'),
    ('signing_keys', '{SELECT,INSERT}', 'each server records the public key it signs with');

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('erasure_tombstones', 'id', 'not_personal', NULL, 'none', NULL),
    ('erasure_tombstones', 'subject_type', 'not_personal', NULL, 'none', NULL),
    ('erasure_tombstones', 'subject_id', 'identifier', 'person', 'keep', 'accountability (GDPR Art. 5(2), 17): proof that the person was erased, with no other value of theirs'),
    ('erasure_tombstones', 'erased_at', 'activity', 'person', 'keep', 'accountability (GDPR Art. 5(2), 17): when the person was erased'),
    ('erasure_tombstones', 'erased_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who erased'),
    ('erasure_tombstones', 'erasing_xact', 'not_personal', NULL, 'none', NULL),
    ('consent_links', 'ended_at', 'activity', 'person', 'delete_row', NULL),
    ('consent_links', 'ended_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who ended the link'),
    ('consent_links', 'end_reason', 'activity', 'person', 'delete_row', NULL),
    ('consent_records', 'hash_version', 'not_personal', NULL, 'none', NULL),
    ('consent_records', 'purpose_text_hash', 'not_personal', NULL, 'none', NULL),
    ('consent_records', 'link_id', 'identifier', 'person', 'delete_row', NULL),
    ('signing_keys', 'key_id', 'not_personal', NULL, 'none', NULL),
    ('signing_keys', 'algorithm', 'not_personal', NULL, 'none', NULL),
    ('signing_keys', 'public_key', 'not_personal', NULL, 'none', NULL),
    ('signing_keys', 'first_used_at', 'not_personal', NULL, 'none', NULL);
