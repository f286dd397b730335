-- Restriction of processing (GDPR Art. 18): while a lead, contact or customer is restricted, their
-- data is stored and not processed. The database holds that, not each route:
--   - `restrictions` is the history (set with a ground and a reason, lifted with a reason); at most
--     one is in force per record; rows are never rewritten, and go only with an erasure.
--   - A record in force may not be changed or deleted, nor gain notes, consent decisions, links,
--     acceptances or invitations that staff make. What the person does themselves through their
--     link or account still works (the API says so per transaction with `custodian.acting_person`,
--     or the row says so: its channel or context), and so does an erasure.
--   - `custodian.acting_person` is a setting the API's own role can make: a restriction is a rule
--     the API keeps against its staff, not a guarantee against that role itself (the consent
--     history's guard is one).
--   - Each record carries `restricted`, kept by the restrictions' triggers, so that lists, searches
--     and feeds leave restricted people out at the cost of reading a column. Flipping it is no
--     change of the record (no new revision), but the feeds see it and send a `restricted` line.

CREATE TABLE public.restrictions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_type  text NOT NULL CHECK (subject_type IN ('lead', 'contact', 'customer')),
    subject_id    uuid NOT NULL,
    ground        text NOT NULL
        CHECK (ground IN ('accuracy_contested', 'unlawful_processing', 'legal_claims', 'objection_pending')),
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    request_id    uuid REFERENCES public.request_cases (id),
    set_by        uuid REFERENCES public.staff (id),
    set_at        timestamptz NOT NULL DEFAULT now(),
    lifted_by     uuid REFERENCES public.staff (id),
    lifted_at     timestamptz,
    lift_reason   text CHECK (length(lift_reason) BETWEEN 1 AND 2000),
    CHECK ((lifted_at IS NULL) = (lift_reason IS NULL))
);
CREATE UNIQUE INDEX restrictions_one_in_force ON public.restrictions (subject_id) WHERE lifted_at IS NULL;
CREATE INDEX restrictions_subject ON public.restrictions (subject_id, set_at, id);

-- The history is kept: a restriction is lifted once (its three lift columns, from empty), and
-- nothing else of it ever changes.
CREATE FUNCTION public.restrictions_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF OLD.lifted_at IS NULL AND NEW.lifted_at IS NOT NULL
       AND (to_jsonb(NEW) - ARRAY['lifted_by', 'lifted_at', 'lift_reason'])
           = (to_jsonb(OLD) - ARRAY['lifted_by', 'lifted_at', 'lift_reason']) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a restriction is lifted once and never rewritten'
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'restrictions_append_only';
END;
$$;
CREATE TRIGGER restrictions_append_only BEFORE UPDATE ON public.restrictions
    FOR EACH ROW EXECUTE FUNCTION public.restrictions_append_only();
CREATE TRIGGER restrictions_no_truncate BEFORE TRUNCATE ON public.restrictions
    FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_rewriting_history();

-- Rows about a person (with subject_type and subject_id) that only an erasure of the person
-- deletes: the transaction must have written each one's tombstone. One function for every such
-- history from here on; the trigger's argument names the constraint an error reports.
CREATE FUNCTION public.deleted_only_by_erasure() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF EXISTS (
        SELECT subject_type, subject_id FROM gone
        EXCEPT
        SELECT subject_type, subject_id FROM public.erasure_tombstones WHERE erasing_xact = pg_catalog.pg_current_xact_id()
    ) THEN
        RAISE EXCEPTION '% rows go only with an erasure of their person', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation', CONSTRAINT = TG_ARGV[0];
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER restrictions_erasure_only AFTER DELETE ON public.restrictions
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION public.deleted_only_by_erasure('restrictions_append_only');

ALTER TABLE public.leads ADD COLUMN restricted boolean NOT NULL DEFAULT false;
ALTER TABLE public.contacts ADD COLUMN restricted boolean NOT NULL DEFAULT false;
ALTER TABLE public.customers ADD COLUMN restricted boolean NOT NULL DEFAULT false;

-- The record's `restricted` follows its restrictions: true while one is in force. The feeds'
-- triggers on the record note the flip, so they serve `restricted`, then `upsert` once lifted.
CREATE FUNCTION public.restrictions_mark_record() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    kind text;
    record uuid;
    in_force boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        kind := OLD.subject_type;
        record := OLD.subject_id;
    ELSE
        kind := NEW.subject_type;
        record := NEW.subject_id;
    END IF;
    in_force := public.restriction_in_force(record) IS NOT NULL;
    CASE kind
        WHEN 'lead' THEN
            UPDATE public.leads SET restricted = in_force WHERE id = record AND restricted <> in_force;
        WHEN 'contact' THEN
            UPDATE public.contacts SET restricted = in_force WHERE id = record AND restricted <> in_force;
        ELSE
            UPDATE public.customers SET restricted = in_force WHERE id = record AND restricted <> in_force;
    END CASE;
    RETURN NULL;
END;
$$;

-- A change of nothing but `restricted` is no new revision of the record: its ETag stays.
DROP TRIGGER leads_touch ON public.leads;
CREATE TRIGGER leads_touch BEFORE UPDATE ON public.leads FOR EACH ROW
    WHEN (OLD.restricted = NEW.restricted) EXECUTE FUNCTION public.touch_record();
DROP TRIGGER contacts_touch ON public.contacts;
CREATE TRIGGER contacts_touch BEFORE UPDATE ON public.contacts FOR EACH ROW
    WHEN (OLD.restricted = NEW.restricted) EXECUTE FUNCTION public.touch_record();
DROP TRIGGER customers_touch ON public.customers;
CREATE TRIGGER customers_touch BEFORE UPDATE ON public.customers FOR EACH ROW
    WHEN (OLD.restricted = NEW.restricted) EXECUTE FUNCTION public.touch_record();

-- The restriction in force for a record, if any.
CREATE FUNCTION public.restriction_in_force(record uuid) RETURNS uuid
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT id FROM public.restrictions WHERE subject_id = record AND lifted_at IS NULL
$$;

-- Whether this transaction erases the record (it wrote the record's tombstone).
CREATE FUNCTION public.erasing(record uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM public.erasure_tombstones WHERE erasing_xact = pg_catalog.pg_current_xact_id() AND subject_id = record)
$$;

CREATE FUNCTION public.refuse_while_restricted(restriction uuid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'the person''s data is restricted (GDPR Art. 18): stored, not processed'
        USING ERRCODE = 'object_not_in_prerequisite_state', CONSTRAINT = 'restricted', DETAIL = restriction::text;
END;
$$;

-- On leads, contacts and customers: no change or deletion while restricted, except the person's
-- own (custodian.acting_person), an erasure, and a change of nothing but bookkeeping: the
-- primary-contact flag (it moves when another contact of the customer goes) and `restricted`. A record with a restriction history is
-- not deleted "as a mistake": it goes with an erasure.
CREATE FUNCTION public.records_restriction_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    in_force uuid;
    bookkeeping constant text[] := ARRAY['is_primary', 'restricted', 'revision', 'updated_at', 'updated_by'];
BEGIN
    IF public.erasing(OLD.id) THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    in_force := public.restriction_in_force(OLD.id);
    IF TG_OP = 'DELETE' THEN
        IF in_force IS NOT NULL THEN
            PERFORM public.refuse_while_restricted(in_force);
        END IF;
        IF EXISTS (SELECT 1 FROM public.restrictions WHERE subject_id = OLD.id) THEN
            RAISE EXCEPTION 'a record with a restriction history goes only with an erasure'
                USING ERRCODE = 'restrict_violation', CONSTRAINT = 'restrictions_history';
        END IF;
        RETURN OLD;
    END IF;
    IF in_force IS NULL
       OR pg_catalog.current_setting('custodian.acting_person', true) = OLD.id::text
       OR (to_jsonb(NEW) - bookkeeping) = (to_jsonb(OLD) - bookkeeping) THEN
        RETURN NEW;
    END IF;
    PERFORM public.refuse_while_restricted(in_force);
    RETURN NULL;
END;
$$;
CREATE TRIGGER leads_restriction_guard BEFORE UPDATE OR DELETE ON public.leads
    FOR EACH ROW EXECUTE FUNCTION public.records_restriction_guard();
CREATE TRIGGER contacts_restriction_guard BEFORE UPDATE OR DELETE ON public.contacts
    FOR EACH ROW EXECUTE FUNCTION public.records_restriction_guard();
CREATE TRIGGER customers_restriction_guard BEFORE UPDATE OR DELETE ON public.customers
    FOR EACH ROW EXECUTE FUNCTION public.records_restriction_guard();

CREATE TRIGGER restrictions_mark_record AFTER INSERT OR UPDATE OR DELETE ON public.restrictions
    FOR EACH ROW EXECUTE FUNCTION public.restrictions_mark_record();

-- On what staff add about a person: refused while the person is restricted, unless the person
-- does it themselves (a consent decision through their link, account or unsubscribe token (the
-- channel migration 0028 adds), an acceptance in the
-- privacy centre, the customer area or at registration, a password reset) or says so
-- (custodian.acting_person). The trigger's arguments name the columns holding the person's id.
CREATE FUNCTION public.processing_restriction_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    row_json constant jsonb := to_jsonb(NEW);
    owner_column text;
    owner uuid;
    in_force uuid;
BEGIN
    IF (TG_TABLE_NAME = 'consent_records' AND row_json ->> 'channel' IN ('consent_link', 'customer_area', 'unsubscribe'))
       OR (TG_TABLE_NAME = 'policy_acceptances' AND row_json ->> 'context' IN ('privacy_centre', 'customer_area', 'registration'))
       OR (TG_TABLE_NAME = 'portal_tokens' AND row_json ->> 'purpose' = 'password_reset') THEN
        RETURN NEW;
    END IF;
    FOREACH owner_column IN ARRAY TG_ARGV LOOP
        owner := (row_json ->> owner_column)::uuid;
        CONTINUE WHEN owner IS NULL OR pg_catalog.current_setting('custodian.acting_person', true) = owner::text;
        in_force := public.restriction_in_force(owner);
        IF in_force IS NOT NULL THEN
            PERFORM public.refuse_while_restricted(in_force);
        END IF;
    END LOOP;
    RETURN NEW;
END;
$$;
CREATE TRIGGER lead_notes_restriction_guard BEFORE INSERT ON public.lead_notes
    FOR EACH ROW EXECUTE FUNCTION public.processing_restriction_guard('lead_id');
CREATE TRIGGER contact_notes_restriction_guard BEFORE INSERT ON public.contact_notes
    FOR EACH ROW EXECUTE FUNCTION public.processing_restriction_guard('contact_id');
CREATE TRIGGER customer_notes_restriction_guard BEFORE INSERT ON public.customer_notes
    FOR EACH ROW EXECUTE FUNCTION public.processing_restriction_guard('customer_id');
CREATE TRIGGER consent_records_restriction_guard BEFORE INSERT ON public.consent_records
    FOR EACH ROW EXECUTE FUNCTION public.processing_restriction_guard('lead_id', 'contact_id');
CREATE TRIGGER consent_links_restriction_guard BEFORE INSERT ON public.consent_links
    FOR EACH ROW EXECUTE FUNCTION public.processing_restriction_guard('lead_id', 'contact_id');
CREATE TRIGGER policy_acceptances_restriction_guard BEFORE INSERT ON public.policy_acceptances
    FOR EACH ROW EXECUTE FUNCTION public.processing_restriction_guard('subject_id');
CREATE TRIGGER portal_tokens_restriction_guard BEFORE INSERT ON public.portal_tokens
    FOR EACH ROW EXECUTE FUNCTION public.processing_restriction_guard('contact_id');

-- Completing a restriction case names its ground.
ALTER TABLE public.request_cases ADD COLUMN restriction_ground text
    CHECK (restriction_ground IN ('accuracy_contested', 'unlawful_processing', 'legal_claims', 'objection_pending'));

INSERT INTO public.personal_data_owners (table_name, subject, owner_column, kind_column) VALUES
    ('restrictions', 'person', 'subject_id', 'subject_type');

INSERT INTO public.api_privileges (table_name, privileges, reason) VALUES
    ('restrictions', '{SELECT,INSERT,UPDATE,DELETE}', 'lifted once (a trigger allows nothing else); only an erasure deletes');

INSERT INTO public.personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported, subject_visible) VALUES
    ('leads', 'restricted', 'not_personal', NULL, 'none', NULL, true, false),
    ('contacts', 'restricted', 'not_personal', NULL, 'none', NULL, true, false),
    ('customers', 'restricted', 'not_personal', NULL, 'none', NULL, true, false),
    ('restrictions', 'id', 'not_personal', NULL, 'none', NULL, true, false),
    ('restrictions', 'subject_type', 'not_personal', NULL, 'none', NULL, true, false),
    ('restrictions', 'subject_id', 'identifier', 'person', 'delete_row', NULL, true, false),
    ('restrictions', 'ground', 'activity', 'person', 'delete_row', NULL, true, true),
    ('restrictions', 'reason', 'free_text', 'person', 'delete_row', NULL, true, false),
    ('restrictions', 'request_id', 'identifier', 'person', 'delete_row', NULL, true, false),
    ('restrictions', 'set_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who restricted the processing', true, false),
    ('restrictions', 'set_at', 'activity', 'person', 'delete_row', NULL, true, true),
    ('restrictions', 'lifted_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who lifted the restriction', true, false),
    ('restrictions', 'lifted_at', 'activity', 'person', 'delete_row', NULL, true, true),
    ('restrictions', 'lift_reason', 'free_text', 'person', 'delete_row', NULL, true, false),
    ('request_cases', 'restriction_ground', 'activity', 'person', 'keep', 'accountability (GDPR Art. 5(2), 18): why processing was restricted', true, false);
