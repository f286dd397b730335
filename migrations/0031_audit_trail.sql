-- The audit trail (GDPR Art. 5(2)): who read and who changed whose data. One entry per read (a
-- record, a page of a list, an export, a feed batch, a view) or per changing statement, with the
-- actor, the action, the persons concerned (ids of leads, contacts, customers), the route
-- pattern, the request id, the time and the client address. Append-only like the consent
-- history; old entries go a month at a time, by dropping a partition.
--
-- Partitions live in their own schema, so that `public` holds only tables the personal-data map
-- classifies; rows reach them only through `public.audit_entries`.
CREATE SCHEMA audit_partitions;

CREATE TABLE public.audit_entries (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_type   text NOT NULL CHECK (actor_type IN ('staff', 'integration', 'portal', 'link', 'person', 'system')),
    staff_id     uuid,
    key_id       uuid,
    session_id   uuid,
    link_id      uuid,
    action       text NOT NULL CHECK (action IN ('read', 'list', 'export', 'feed', 'view', 'create', 'update', 'delete', 'erase')),
    object       text NOT NULL CHECK (length(object) BETWEEN 1 AND 100),
    route        text CHECK (length(route) <= 300),
    request_id   text CHECK (length(request_id) <= 100),
    client_ip    text CHECK (length(client_ip) <= 64),
    subject_ids  uuid[] NOT NULL CHECK (cardinality(subject_ids) BETWEEN 1 AND 10000)
) PARTITION BY RANGE (at);
CREATE INDEX audit_entries_time ON public.audit_entries (at, id);
CREATE INDEX audit_entries_subjects ON public.audit_entries USING gin (subject_ids);
CREATE INDEX audit_entries_key ON public.audit_entries (key_id, at) WHERE key_id IS NOT NULL;
CREATE TABLE audit_partitions.audit_entries_default PARTITION OF public.audit_entries DEFAULT;

-- No UPDATE, no DELETE, no TRUNCATE, whoever asks; only whole expired months go (below).
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON public.audit_entries
    FOR EACH ROW EXECUTE FUNCTION public.refuse_rewriting_history();

-- Makes the month partitions from this month to `months_ahead` months on; run by the migration
-- and daily by housekeeping. Security definer: the API's role creates nothing of its own.
CREATE FUNCTION public.audit_prepare_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    month date := pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC')::date;
    made integer := 0;
    name text;
BEGIN
    FOR step IN 0..least(greatest(months_ahead, 0), 24) LOOP
        name := 'audit_entries_' || pg_catalog.to_char(month, 'YYYY_MM');
        IF pg_catalog.to_regclass('audit_partitions.' || name) IS NULL THEN
            EXECUTE pg_catalog.format(
                'CREATE TABLE audit_partitions.%I PARTITION OF public.audit_entries FOR VALUES FROM (%L) TO (%L)',
                name, (month::timestamp AT TIME ZONE 'UTC'), ((month + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            EXECUTE pg_catalog.format('CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_partitions.%I '
                'FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_rewriting_history()', name);
            made := made + 1;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
    RETURN made;
END;
$$;

-- Drops the month partitions that ended more than `keep_days` days ago: the trail's retention.
-- Entries in the default partition (none, while partitions are made ahead) stay.
CREATE FUNCTION public.audit_expire(keep_days integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    partition record;
    dropped integer := 0;
BEGIN
    IF keep_days < 30 THEN
        RAISE EXCEPTION 'the audit trail is kept at least 30 days' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR partition IN
        SELECT c.relname FROM pg_catalog.pg_inherits i
        JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'public.audit_entries'::regclass AND n.nspname = 'audit_partitions'
          AND c.relname ~ '^audit_entries_[0-9]{4}_[0-9]{2}$'
          AND (pg_catalog.to_date(pg_catalog.substr(c.relname, 15), 'YYYY_MM') + interval '1 month')
              < (pg_catalog.now() AT TIME ZONE 'UTC') - pg_catalog.make_interval(days => keep_days)
    LOOP
        EXECUTE pg_catalog.format('DROP TABLE audit_partitions.%I', partition.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END;
$$;
-- Any role may make the coming months (housekeeping does, as the API's role); only the owner
-- drops old ones (`custodian audit-expire`): a stolen API password cannot shorten the trail.
REVOKE EXECUTE ON FUNCTION public.audit_expire(integer) FROM PUBLIC;

SELECT public.audit_prepare_partitions(2);

-- Changes: one entry per statement that changes a person's rows. The actor is the transaction's
-- `custodian.audit` setting (the API sets it as each of its transactions begins); without it,
-- the change was the system's (housekeeping, a migration, SQL run by the owner).
CREATE FUNCTION public.audit_changes() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor jsonb := NULLIF(pg_catalog.current_setting('custodian.audit', true), '')::jsonb;
    subjects uuid[];
    action text := coalesce(TG_ARGV[1], CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END);
BEGIN
    -- TG_ARGV[0] names the columns holding the person (from this migration, never from input).
    EXECUTE pg_catalog.format(
        'SELECT pg_catalog.array_agg(DISTINCT s) FROM (SELECT coalesce(%s) AS s FROM changed) x WHERE s IS NOT NULL', TG_ARGV[0])
        INTO subjects;
    IF subjects IS NULL THEN
        RETURN NULL;
    END IF;
    -- A bulk change (an import, a seed) is written as entries of at most 10,000 persons each.
    FOR chunk IN 0..(pg_catalog.cardinality(subjects) - 1) / 10000 LOOP
        INSERT INTO public.audit_entries
            (actor_type, staff_id, key_id, session_id, link_id, action, object, route, request_id, client_ip, subject_ids)
        VALUES (
            coalesce(actor ->> 'actor_type', 'system'), (actor ->> 'staff_id')::uuid, (actor ->> 'key_id')::uuid,
            (actor ->> 'session_id')::uuid, (actor ->> 'link_id')::uuid, action, TG_TABLE_NAME,
            actor ->> 'route', actor ->> 'request_id', actor ->> 'client_ip', subjects[chunk * 10000 + 1 : (chunk + 1) * 10000]);
    END LOOP;
    RETURN NULL;
END;
$$;

DO $$
DECLARE
    watched record;
BEGIN
    FOR watched IN SELECT * FROM (VALUES
        ('leads', 'id', NULL), ('contacts', 'id', NULL), ('customers', 'id', NULL),
        ('lead_notes', 'lead_id', NULL), ('contact_notes', 'contact_id', NULL), ('customer_notes', 'customer_id', NULL),
        ('restrictions', 'subject_id', NULL), ('policy_acceptances', 'subject_id', NULL),
        ('consent_records', 'lead_id, contact_id', NULL), ('consent_links', 'lead_id, contact_id', NULL),
        ('erasure_tombstones', 'subject_id', 'erase')
    ) AS w (table_name, owners, action) LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON public.%I REFERENCING NEW TABLE AS changed '
            'FOR EACH STATEMENT EXECUTE FUNCTION public.audit_changes(%s)',
            watched.table_name || '_audit_insert', watched.table_name,
            concat_ws(', ', quote_literal(watched.owners), quote_literal(watched.action)));
        IF watched.action IS NULL THEN
            EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON public.%I REFERENCING NEW TABLE AS changed '
                'FOR EACH STATEMENT EXECUTE FUNCTION public.audit_changes(%L)',
                watched.table_name || '_audit_update', watched.table_name, watched.owners);
            EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON public.%I REFERENCING OLD TABLE AS changed '
                'FOR EACH STATEMENT EXECUTE FUNCTION public.audit_changes(%L)',
                watched.table_name || '_audit_delete', watched.table_name, watched.owners);
        END IF;
    END LOOP;
END;
$$;

INSERT INTO public.api_privileges (table_name, privileges, reason) VALUES
    ('audit_entries', '{SELECT,INSERT}', 'append-only: whole months expire through audit_expire, nothing else goes');

INSERT INTO public.personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported) VALUES
    ('audit_entries', 'id', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'at', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'actor_type', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'staff_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who read or changed the data', false),
    ('audit_entries', 'key_id', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'session_id', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'link_id', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'action', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'object', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'route', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'request_id', 'not_personal', NULL, 'none', NULL, false),
    ('audit_entries', 'client_ip', 'online_identifier', 'person', 'keep',
        'accountability (GDPR Art. 5(2), 33): where a read came from, kept until the trail''s retention ends', false),
    ('audit_entries', 'subject_ids', 'identifier', 'person', 'keep',
        'accountability (GDPR Art. 5(2), 33): whose data was read or changed, ids only, kept until the trail''s retention ends', false);
