-- The right to be informed (GDPR Art. 13): terms and privacy policy as immutable, versioned
-- documents in German and English, and a record of every acceptance of a version.

-- Which language a person gets when the one asked for has no text.
CREATE TABLE policy_settings (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    default_language  text NOT NULL DEFAULT 'en' CHECK (default_language IN ('de', 'en')),
    revision          bigint NOT NULL DEFAULT 1,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    updated_by        uuid REFERENCES staff (id)
);
CREATE TRIGGER policy_settings_touch BEFORE UPDATE ON policy_settings FOR EACH ROW EXECUTE FUNCTION touch_record();
INSERT INTO policy_settings DEFAULT VALUES;

-- A version of a document, in each language it was published in; never changed once published.
CREATE TABLE policy_versions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind          text NOT NULL CHECK (kind IN ('terms', 'privacy')),
    version       integer NOT NULL CHECK (version >= 1),
    language      text NOT NULL CHECK (language IN ('de', 'en')),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body          text NOT NULL CHECK (length(body) BETWEEN 1 AND 100000),
    effective_at  timestamptz NOT NULL,
    published_by  uuid REFERENCES staff (id),
    published_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, version, language)
);
CREATE INDEX policy_versions_current ON policy_versions (kind, effective_at, version);
CREATE TRIGGER policy_versions_immutable BEFORE UPDATE OR DELETE ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_history();
CREATE TRIGGER policy_versions_no_truncate BEFORE TRUNCATE ON policy_versions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewriting_history();

-- Every acceptance of a version: who, which version in which language, when, where, from which
-- address and browser. Append-only; only an erasure of the person removes their rows.
CREATE TABLE policy_acceptances (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_type  text NOT NULL CHECK (subject_type IN ('lead', 'contact')),
    subject_id    uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('terms', 'privacy')),
    version       integer NOT NULL,
    language      text NOT NULL,
    accepted_at   timestamptz NOT NULL DEFAULT now(),
    context       text NOT NULL CHECK (context IN ('privacy_centre', 'registration', 'web_form', 'staff')),
    context_id    uuid,
    ip            text CHECK (length(ip) <= 64),
    user_agent    text CHECK (length(user_agent) <= 1000),
    staff_id      uuid REFERENCES staff (id),
    FOREIGN KEY (kind, version, language) REFERENCES policy_versions (kind, version, language),
    CHECK ((context = 'staff') = (staff_id IS NOT NULL))
);
CREATE INDEX policy_acceptances_subject ON policy_acceptances (subject_id, accepted_at, id);
CREATE TRIGGER policy_acceptances_append_only BEFORE UPDATE ON policy_acceptances
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_history();
CREATE TRIGGER policy_acceptances_no_truncate BEFORE TRUNCATE ON policy_acceptances
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewriting_history();

CREATE FUNCTION policy_acceptances_erasure_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT subject_type, subject_id FROM gone
        EXCEPT
        SELECT subject_type, subject_id FROM erasure_tombstones WHERE erasing_xact = pg_current_xact_id()
    ) THEN
        RAISE EXCEPTION 'policy acceptances are append-only'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'policy_acceptances_append_only';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER policy_acceptances_erasure_only AFTER DELETE ON policy_acceptances
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION policy_acceptances_erasure_only();

INSERT INTO personal_data_owners (table_name, subject, owner_column, kind_column) VALUES
    ('policy_acceptances', 'person', 'subject_id', 'subject_type');

INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('policy_settings', '{SELECT,UPDATE}', 'one row, created by its migration'),
    ('policy_versions', '{SELECT,INSERT}', 'a published version never changes'),
    ('policy_acceptances', '{SELECT,INSERT,DELETE}', 'append-only; a trigger lets only an erasure delete');

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported) VALUES
    ('policy_settings', 'singleton', 'not_personal', NULL, 'none', NULL, true),
    ('policy_settings', 'default_language', 'not_personal', NULL, 'none', NULL, true),
    ('policy_settings', 'revision', 'not_personal', NULL, 'none', NULL, true),
    ('policy_settings', 'updated_at', 'not_personal', NULL, 'none', NULL, true),
    ('policy_settings', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the settings', true),
    ('policy_versions', 'id', 'not_personal', NULL, 'none', NULL, true),
    ('policy_versions', 'kind', 'not_personal', NULL, 'none', NULL, true),
    ('policy_versions', 'version', 'not_personal', NULL, 'none', NULL, true),
    ('policy_versions', 'language', 'not_personal', NULL, 'none', NULL, true),
    ('policy_versions', 'title', 'not_personal', NULL, 'none', NULL, true),
    ('policy_versions', 'body', 'not_personal', NULL, 'none', NULL, true),
    ('policy_versions', 'effective_at', 'not_personal', NULL, 'none', NULL, true),
    ('policy_versions', 'published_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who published the version', true),
    ('policy_versions', 'published_at', 'not_personal', NULL, 'none', NULL, true),
    ('policy_acceptances', 'id', 'not_personal', NULL, 'none', NULL, true),
    ('policy_acceptances', 'subject_type', 'not_personal', NULL, 'none', NULL, true),
    ('policy_acceptances', 'subject_id', 'identifier', 'person', 'delete_row', NULL, true),
    ('policy_acceptances', 'kind', 'not_personal', NULL, 'none', NULL, true),
    ('policy_acceptances', 'version', 'not_personal', NULL, 'none', NULL, true),
    ('policy_acceptances', 'language', 'not_personal', NULL, 'none', NULL, true),
    ('policy_acceptances', 'accepted_at', 'activity', 'person', 'delete_row', NULL, true),
    ('policy_acceptances', 'context', 'activity', 'person', 'delete_row', NULL, true),
    ('policy_acceptances', 'context_id', 'not_personal', NULL, 'none', NULL, true),
    ('policy_acceptances', 'ip', 'online_identifier', 'person', 'delete_row', NULL, true),
    ('policy_acceptances', 'user_agent', 'online_identifier', 'person', 'delete_row', NULL, true),
    ('policy_acceptances', 'staff_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who recorded the acceptance', true);
