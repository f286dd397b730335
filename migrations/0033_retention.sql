-- Retention (GDPR Art. 5(1)(e)): policies that erase people nobody has dealt with for a while,
-- through the same map-driven erasure as an erasure case, and legal holds that exempt a person
-- (or every contact of a customer) until lifted.
--   - A policy is a condition over a lead or a contact and its activity (no change, note or
--     consent decision for `inactive_months`; for leads optionally only some statuses; for
--     contacts optionally the activity of their whole customer) and an action. The action is
--     `erase` only: the map deletes the rows of leads and contacts, so there is nothing it allows
--     to be anonymised in their place.
--   - A policy erasure leaves a tombstone whose reason is the policy (`retention_policy_id`)
--     instead of a case.
--   - A legal hold on a person, or on the customer of a contact, refuses the tombstone, so no
--     erasure (policy or case) can pass it, whoever sends the SQL.

CREATE TABLE public.retention_policies (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    subject_type     text NOT NULL CHECK (subject_type IN ('lead', 'contact')),
    inactive_months  integer NOT NULL CHECK (inactive_months BETWEEN 1 AND 1200),
    -- whose activity counts: the record's own, or (contacts) their customer's and its contacts'
    activity_of      text NOT NULL DEFAULT 'record' CHECK (activity_of IN ('record', 'customer')),
    lead_statuses    text[] CHECK (cardinality(lead_statuses) BETWEEN 1 AND 20),
    action           text NOT NULL DEFAULT 'erase' CHECK (action IN ('erase')),
    -- a policy does nothing until it is made active (after its preview was read)
    active           boolean NOT NULL DEFAULT false,
    last_run_at      timestamptz,
    created_by       uuid REFERENCES public.staff (id),
    updated_by       uuid REFERENCES public.staff (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    revision         bigint NOT NULL DEFAULT 1,
    CHECK (lead_statuses IS NULL OR subject_type = 'lead'),
    CHECK (activity_of = 'record' OR subject_type = 'contact')
);
CREATE INDEX retention_policies_order ON public.retention_policies (created_at, id);
CREATE TRIGGER retention_policies_touch BEFORE UPDATE ON public.retention_policies
    FOR EACH ROW WHEN (OLD.last_run_at IS NOT DISTINCT FROM NEW.last_run_at) EXECUTE FUNCTION public.touch_record();

ALTER TABLE public.erasure_tombstones ADD COLUMN retention_policy_id uuid REFERENCES public.retention_policies (id);
ALTER TABLE public.erasure_tombstones ADD CONSTRAINT erasure_tombstones_one_reason
    CHECK (request_id IS NULL OR retention_policy_id IS NULL);

CREATE TABLE public.legal_holds (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_type  text NOT NULL CHECK (subject_type IN ('lead', 'contact', 'customer')),
    subject_id    uuid NOT NULL,
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    placed_by     uuid REFERENCES public.staff (id),
    placed_at     timestamptz NOT NULL DEFAULT now(),
    lifted_by     uuid REFERENCES public.staff (id),
    lifted_at     timestamptz,
    lift_reason   text CHECK (length(lift_reason) BETWEEN 1 AND 2000),
    CHECK ((lifted_at IS NULL) = (lift_reason IS NULL))
);
CREATE INDEX legal_holds_in_force ON public.legal_holds (subject_id) WHERE lifted_at IS NULL;
CREATE INDEX legal_holds_order ON public.legal_holds (placed_at, id);

-- A restriction or a hold is lifted once (its three lift columns, from empty), and nothing else
-- of it ever changes: one function for both histories (it replaces the restrictions' own copy);
-- the trigger's argument names the constraint an error reports.
CREATE FUNCTION public.lifted_once() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF OLD.lifted_at IS NULL AND NEW.lifted_at IS NOT NULL
       AND (to_jsonb(NEW) - ARRAY['lifted_by', 'lifted_at', 'lift_reason'])
           = (to_jsonb(OLD) - ARRAY['lifted_by', 'lifted_at', 'lift_reason']) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% rows are lifted once and never rewritten', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation', CONSTRAINT = TG_ARGV[0];
END;
$$;
DROP TRIGGER restrictions_append_only ON public.restrictions;
CREATE TRIGGER restrictions_append_only BEFORE UPDATE ON public.restrictions
    FOR EACH ROW EXECUTE FUNCTION public.lifted_once('restrictions_append_only');
DROP FUNCTION public.restrictions_append_only();
CREATE TRIGGER legal_holds_append_only BEFORE UPDATE ON public.legal_holds
    FOR EACH ROW EXECUTE FUNCTION public.lifted_once('legal_holds_append_only');
CREATE TRIGGER legal_holds_no_truncate BEFORE TRUNCATE ON public.legal_holds
    FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_rewriting_history();
CREATE TRIGGER legal_holds_erasure_only AFTER DELETE ON public.legal_holds
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION public.deleted_only_by_erasure('legal_holds_append_only');

-- The hold in force over a record: its own, or (a contact) its customer's.
CREATE FUNCTION public.legal_hold_in_force(kind text, record uuid) RETURNS uuid
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT h.id FROM public.legal_holds h
    WHERE h.lifted_at IS NULL
      AND (h.subject_id = record
           OR (kind = 'contact' AND h.subject_type = 'customer'
               AND h.subject_id = (SELECT c.customer_id FROM public.contacts c WHERE c.id = record)))
    ORDER BY h.placed_at, h.id
    LIMIT 1
$$;

-- No tombstone, so no erasure, for a record under a hold: the erasure's transaction fails whole.
CREATE FUNCTION public.erasure_respects_legal_holds() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    hold uuid := public.legal_hold_in_force(NEW.subject_type, NEW.subject_id);
BEGIN
    IF hold IS NOT NULL THEN
        RAISE EXCEPTION 'the person is under a legal hold: nothing of theirs is erased until it is lifted'
            USING ERRCODE = 'object_not_in_prerequisite_state', CONSTRAINT = 'legal_hold', DETAIL = hold::text;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER erasure_tombstones_legal_holds BEFORE INSERT ON public.erasure_tombstones
    FOR EACH ROW EXECUTE FUNCTION public.erasure_respects_legal_holds();

-- Holds are changes the trail records, like restrictions.
CREATE TRIGGER legal_holds_audit_insert AFTER INSERT ON public.legal_holds REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_changes('subject_id');
CREATE TRIGGER legal_holds_audit_update AFTER UPDATE ON public.legal_holds REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_changes('subject_id');

-- When someone last dealt with a record: its creation or last change, its last note, its last
-- consent decision (a lead: also when it was last contacted). Reads are not activity. Policies
-- compare these with their period; the preview shows them as the reason.
CREATE FUNCTION public.lead_last_activity(record uuid) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT greatest(l.created_at, l.updated_at, l.last_contacted_at,
                    (SELECT max(n.created_at) FROM public.lead_notes n WHERE n.lead_id = l.id),
                    (SELECT max(r.recorded_at) FROM public.consent_records r WHERE r.lead_id = l.id))
    FROM public.leads l WHERE l.id = record
$$;

CREATE FUNCTION public.contact_last_activity(record uuid) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT greatest(c.created_at, c.updated_at,
                    (SELECT max(n.created_at) FROM public.contact_notes n WHERE n.contact_id = c.id),
                    (SELECT max(r.recorded_at) FROM public.consent_records r WHERE r.contact_id = c.id))
    FROM public.contacts c WHERE c.id = record
$$;

-- A customer's: its own, its notes', and each of its contacts'.
CREATE FUNCTION public.customer_last_activity(record uuid) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT greatest(cu.created_at, cu.updated_at,
                    (SELECT max(n.created_at) FROM public.customer_notes n WHERE n.customer_id = cu.id),
                    (SELECT max(public.contact_last_activity(c.id)) FROM public.contacts c WHERE c.customer_id = cu.id))
    FROM public.customers cu WHERE cu.id = record
$$;

INSERT INTO public.personal_data_owners (table_name, subject, owner_column, kind_column) VALUES
    ('legal_holds', 'person', 'subject_id', 'subject_type');

INSERT INTO public.api_privileges (table_name, privileges, reason) VALUES
    ('retention_policies', '{SELECT,INSERT,UPDATE}', 'policies are switched off, never deleted: tombstones name them'),
    ('legal_holds', '{SELECT,INSERT,UPDATE,DELETE}', 'lifted once (a trigger allows nothing else); only an erasure deletes');

INSERT INTO public.personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported, subject_visible) VALUES
    ('retention_policies', 'id', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'name', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'subject_type', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'inactive_months', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'activity_of', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'lead_statuses', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'action', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'active', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'last_run_at', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who wrote the policy', false, false),
    ('retention_policies', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the policy', false, false),
    ('retention_policies', 'created_at', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'updated_at', 'not_personal', NULL, 'none', NULL, false, false),
    ('retention_policies', 'revision', 'not_personal', NULL, 'none', NULL, false, false),
    ('erasure_tombstones', 'retention_policy_id', 'not_personal', NULL, 'none', NULL, true, false),
    ('legal_holds', 'id', 'not_personal', NULL, 'none', NULL, true, false),
    ('legal_holds', 'subject_type', 'not_personal', NULL, 'none', NULL, true, false),
    ('legal_holds', 'subject_id', 'identifier', 'person', 'delete_row', NULL, true, false),
    ('legal_holds', 'reason', 'free_text', 'person', 'delete_row', NULL, true, false),
    ('legal_holds', 'placed_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who placed the hold', true, false),
    ('legal_holds', 'placed_at', 'activity', 'person', 'delete_row', NULL, true, false),
    ('legal_holds', 'lifted_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who lifted the hold', true, false),
    ('legal_holds', 'lifted_at', 'activity', 'person', 'delete_row', NULL, true, false),
    ('legal_holds', 'lift_reason', 'free_text', 'person', 'delete_row', NULL, true, false);
