-- Data-subject requests (GDPR Art. 12 to 22): a case per request, with its legal clock and an
-- append-only history of every change.

CREATE TABLE request_cases (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind                   text NOT NULL CHECK (kind IN ('access', 'rectification', 'erasure', 'restriction', 'portability', 'objection')),
    subject_type           text NOT NULL CHECK (subject_type IN ('lead', 'contact', 'customer')),
    -- no foreign key: the case outlives an erasure of its subject
    subject_id             uuid NOT NULL,
    channel                text NOT NULL CHECK (channel IN ('staff', 'link', 'email', 'phone', 'letter', 'in_person')),
    -- the person's own words
    details                text CHECK (length(details) <= 10000),
    status                 text NOT NULL DEFAULT 'received'
                           CHECK (status IN ('received', 'in_progress', 'completed', 'refused', 'cancelled')),
    refusal_code           text CHECK (refusal_code IN (
                               'manifestly_unfounded', 'excessive', 'art17_3_a', 'art17_3_b', 'art17_3_c', 'art17_3_d',
                               'art17_3_e', 'identity_not_verified', 'other')),
    refusal_reason         text CHECK (length(refusal_reason) BETWEEN 1 AND 10000),
    received_at            timestamptz NOT NULL DEFAULT now(),
    -- Art. 12(3): one month, extendable once by up to two more with a reason told to the person
    extension_months       integer NOT NULL DEFAULT 0 CHECK (extension_months BETWEEN 0 AND 2),
    extension_reason       text CHECK (length(extension_reason) BETWEEN 1 AND 10000),
    extension_notified_at  timestamptz,
    -- kept by a trigger: received_at plus 1 + extension_months calendar months (UTC)
    due_at                 timestamptz NOT NULL,
    verified_at            timestamptz,
    verification_method    text CHECK (verification_method IN (
                               'personal_link', 'customer_area', 'id_document', 'email_confirmation', 'phone_callback',
                               'in_person', 'other')),
    assignee_id            uuid REFERENCES staff (id),
    resolution             text CHECK (length(resolution) <= 10000),
    closed_at              timestamptz,
    revision               bigint NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    created_by             uuid REFERENCES staff (id),
    updated_by             uuid REFERENCES staff (id),
    CHECK ((status = 'refused') = (refusal_code IS NOT NULL)),
    CHECK ((refusal_code IS NULL) = (refusal_reason IS NULL)),
    CHECK ((extension_months = 0) = (extension_reason IS NULL)),
    CHECK ((verified_at IS NULL) = (verification_method IS NULL)),
    CHECK ((status IN ('completed', 'refused', 'cancelled')) = (closed_at IS NOT NULL))
);
CREATE INDEX request_cases_order ON request_cases (created_at, id);
CREATE INDEX request_cases_open_due ON request_cases (due_at) WHERE status IN ('received', 'in_progress');
CREATE INDEX request_cases_subject ON request_cases (subject_id, created_at, id);
CREATE INDEX request_cases_assignee ON request_cases (assignee_id, created_at, id);
CREATE TRIGGER request_cases_touch BEFORE UPDATE ON request_cases FOR EACH ROW EXECUTE FUNCTION touch_record();

-- The clock and the one-way status, held by the database whatever writes the row.
CREATE FUNCTION request_cases_rules() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    rank_old integer;
    rank_new integer;
BEGIN
    NEW.due_at := ((NEW.received_at AT TIME ZONE 'UTC') + make_interval(months => 1 + NEW.extension_months)) AT TIME ZONE 'UTC';
    IF TG_OP = 'UPDATE' THEN
        rank_old := CASE OLD.status WHEN 'received' THEN 0 WHEN 'in_progress' THEN 1 ELSE 2 END;
        rank_new := CASE NEW.status WHEN 'received' THEN 0 WHEN 'in_progress' THEN 1 ELSE 2 END;
        IF rank_new < rank_old OR (rank_old = 2 AND NEW.status <> OLD.status) THEN
            RAISE EXCEPTION 'a request case moves forward only'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'request_cases_forward_only';
        END IF;
        IF OLD.extension_months > 0 AND NEW.extension_months <> OLD.extension_months THEN
            RAISE EXCEPTION 'a request case is extended once'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'request_cases_extended_once';
        END IF;
        IF NEW.received_at <> OLD.received_at OR NEW.kind <> OLD.kind OR NEW.subject_id <> OLD.subject_id
           OR NEW.subject_type <> OLD.subject_type THEN
            RAISE EXCEPTION 'what a request case is about does not change'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'request_cases_fixed';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER request_cases_rules BEFORE INSERT OR UPDATE ON request_cases FOR EACH ROW EXECUTE FUNCTION request_cases_rules();

-- Every change of a case: who, when, and which fields went from what to what. Free-text fields
-- are recorded as changed without their text (the case row holds the current text; an erasure
-- clears it there), so the history holds no personal value.
CREATE TABLE request_events (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id      uuid NOT NULL REFERENCES request_cases (id),
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    actor_type   text NOT NULL CHECK (actor_type IN ('staff', 'person', 'system')),
    actor_id     uuid REFERENCES staff (id),
    action       text NOT NULL CHECK (action IN ('received', 'updated')),
    changes      jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'object'),
    CHECK ((actor_type = 'staff') = (actor_id IS NOT NULL))
);
CREATE INDEX request_events_case ON request_events (case_id, recorded_at, id);
CREATE TRIGGER request_events_append_only BEFORE UPDATE OR DELETE ON request_events
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_history();
CREATE TRIGGER request_events_no_truncate BEFORE TRUNCATE ON request_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewriting_history();

-- The request.due_soon and request.overdue events each go out once per case (kept apart from the
-- case, so that announcing a deadline does not change the case's revision under its editors).
CREATE TABLE request_notices (
    case_id  uuid NOT NULL REFERENCES request_cases (id),
    notice   text NOT NULL CHECK (notice IN ('due_soon', 'overdue')),
    sent_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, notice)
);

-- Which kinds of request a person may file through their personal link.
CREATE TABLE request_settings (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    lead_kinds     text[] NOT NULL DEFAULT '{access,rectification,erasure,restriction,portability,objection}'
                   CHECK (lead_kinds <@ '{access,rectification,erasure,restriction,portability,objection}'),
    contact_kinds  text[] NOT NULL DEFAULT '{access,rectification,erasure,restriction,portability,objection}'
                   CHECK (contact_kinds <@ '{access,rectification,erasure,restriction,portability,objection}'),
    revision       bigint NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     uuid REFERENCES staff (id)
);
CREATE TRIGGER request_settings_touch BEFORE UPDATE ON request_settings FOR EACH ROW EXECUTE FUNCTION touch_record();
INSERT INTO request_settings DEFAULT VALUES;

INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('request_cases', '{SELECT,INSERT,UPDATE}', 'cases are closed, never deleted: they prove a request was handled'),
    ('request_events', '{SELECT,INSERT}', 'the history of a case is append-only'),
    ('request_notices', '{SELECT,INSERT}', 'a deadline is announced once'),
    ('request_settings', '{SELECT,UPDATE}', 'one row, created by its migration');

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('request_cases', 'id', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'kind', 'activity', 'person', 'keep', 'accountability (GDPR Art. 5(2), 12): proof that the request was received and handled'),
    ('request_cases', 'subject_type', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'subject_id', 'identifier', 'person', 'keep', 'accountability (GDPR Art. 5(2), 12): which case belongs to the erased person, with no other value of theirs'),
    ('request_cases', 'channel', 'activity', 'person', 'keep', 'accountability (GDPR Art. 5(2), 12): how the request came in'),
    ('request_cases', 'details', 'free_text', 'person', 'clear', NULL),
    ('request_cases', 'status', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'refusal_code', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'refusal_reason', 'free_text', 'person', 'clear', NULL),
    ('request_cases', 'received_at', 'activity', 'person', 'keep', 'accountability (GDPR Art. 12(3)): when the clock started'),
    ('request_cases', 'extension_months', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'extension_reason', 'free_text', 'person', 'clear', NULL),
    ('request_cases', 'extension_notified_at', 'activity', 'person', 'keep', 'accountability (GDPR Art. 12(3)): when the person was told of the extension'),
    ('request_cases', 'due_at', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'verified_at', 'activity', 'person', 'keep', 'accountability (GDPR Art. 12(6)): when identity was checked'),
    ('request_cases', 'verification_method', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'assignee_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who handled the case'),
    ('request_cases', 'resolution', 'free_text', 'person', 'clear', NULL),
    ('request_cases', 'closed_at', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'revision', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'updated_at', 'not_personal', NULL, 'none', NULL),
    ('request_cases', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who opened the case'),
    ('request_cases', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the case'),
    ('request_events', 'id', 'not_personal', NULL, 'none', NULL),
    ('request_events', 'case_id', 'not_personal', NULL, 'none', NULL),
    ('request_events', 'recorded_at', 'not_personal', NULL, 'none', NULL),
    ('request_events', 'actor_type', 'not_personal', NULL, 'none', NULL),
    ('request_events', 'actor_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the case'),
    ('request_events', 'action', 'not_personal', NULL, 'none', NULL),
    ('request_events', 'changes', 'not_personal', NULL, 'none', NULL),
    ('request_notices', 'case_id', 'not_personal', NULL, 'none', NULL),
    ('request_notices', 'notice', 'not_personal', NULL, 'none', NULL),
    ('request_notices', 'sent_at', 'not_personal', NULL, 'none', NULL),
    ('request_settings', 'singleton', 'not_personal', NULL, 'none', NULL),
    ('request_settings', 'lead_kinds', 'not_personal', NULL, 'none', NULL),
    ('request_settings', 'contact_kinds', 'not_personal', NULL, 'none', NULL),
    ('request_settings', 'revision', 'not_personal', NULL, 'none', NULL),
    ('request_settings', 'updated_at', 'not_personal', NULL, 'none', NULL),
    ('request_settings', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the settings');
