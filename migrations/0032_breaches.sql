-- Personal data breaches (GDPR Art. 33, 34): when it was detected, what happened, which
-- categories of data, the supervisory authority's 72-hour deadline, and a scope (a key, a
-- customer-area session or a personal link, a time window, optionally objects) whose people the
-- audit trail names, so that those to tell are known within minutes.
CREATE TABLE public.breaches (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    detected_at            timestamptz NOT NULL CHECK (detected_at >= '0001-01-01T00:00:00Z' AND detected_at < '10000-01-01T00:00:00Z'),
    -- what happened, written about the incident, not about a person
    description            text NOT NULL CHECK (length(description) BETWEEN 1 AND 10000),
    categories             text[] NOT NULL DEFAULT '{}',
    status                 text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'authority_notified', 'closed')),
    authority_deadline_at  timestamptz NOT NULL,
    authority_notified_at  timestamptz,
    people_notified_at     timestamptz,
    scope_key_id           uuid,
    scope_session_id       uuid,
    scope_link_id          uuid,
    scope_from             timestamptz,
    scope_before           timestamptz,
    scope_objects          text[],
    due_soon_announced_at  timestamptz,
    overdue_announced_at   timestamptz,
    created_by             uuid REFERENCES public.staff (id),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    revision               bigint NOT NULL DEFAULT 1,
    CHECK (scope_before IS NULL OR scope_from IS NULL OR scope_from < scope_before)
);
CREATE INDEX breaches_order ON public.breaches (created_at, id);
CREATE TRIGGER breaches_touch BEFORE UPDATE ON public.breaches FOR EACH ROW EXECUTE FUNCTION public.touch_record();

-- The authority must be told within 72 hours of detection (Art. 33(1)), whoever writes the row.
CREATE FUNCTION public.breaches_deadline() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    NEW.authority_deadline_at := NEW.detected_at + interval '72 hours';
    RETURN NEW;
END;
$$;
CREATE TRIGGER breaches_deadline BEFORE INSERT OR UPDATE OF detected_at ON public.breaches
    FOR EACH ROW EXECUTE FUNCTION public.breaches_deadline();

INSERT INTO public.api_privileges (table_name, privileges, reason) VALUES
    ('breaches', '{SELECT,INSERT,UPDATE}', 'a breach''s record is kept (GDPR Art. 33(5)): updated, never deleted');

INSERT INTO public.personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported) VALUES
    ('breaches', 'id', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'detected_at', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'description', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'categories', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'status', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'authority_deadline_at', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'authority_notified_at', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'people_notified_at', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'scope_key_id', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'scope_session_id', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'scope_link_id', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'scope_from', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'scope_before', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'scope_objects', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'due_soon_announced_at', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'overdue_announced_at', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 33(5)): who recorded the breach', false),
    ('breaches', 'created_at', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'updated_at', 'not_personal', NULL, 'none', NULL, false),
    ('breaches', 'revision', 'not_personal', NULL, 'none', NULL, false);
