-- The database's guards, audits and erasure helpers name their tables with their schema and run
-- with a search_path of their own, so no session can put a table of its own in their way.
--
-- Before this, a session of the API role could CREATE TEMP TABLE erasure_tombstones, insert a
-- "tombstone" for a person with its own transaction id, and delete that person's consent history:
-- the guard read `erasure_tombstones` unqualified, and pg_temp is searched first for tables. The
-- same held for the chain trigger (a temp consent_records forged the previous hash), the
-- corrections audit, policy acceptances and the feed.
--
-- `pg_temp` is named last on purpose: a search_path that leaves it out still searches it first for
-- tables. The API role also loses TEMP on the database (custodian_grant_api_privileges below), and
-- `serve` refuses a role that has it; each of the three holds on its own.

CREATE OR REPLACE FUNCTION consent_records_chain() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    previous public.consent_records;
    original public.consent_records;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('consent:' || coalesce(NEW.lead_id, NEW.contact_id)::text, 0));
    IF NEW.carried_from IS NULL THEN
        NEW.recorded_at := pg_catalog.now();
        IF NEW.channel = 'consent_link' AND NEW.link_id IS NULL THEN
            RAISE EXCEPTION 'a decision made through a consent link names the link'
                USING ERRCODE = 'not_null_violation', CONSTRAINT = 'consent_records_link_named';
        END IF;
    ELSE
        SELECT * INTO original FROM public.consent_records WHERE id = NEW.carried_from;
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
    SELECT * INTO previous FROM public.consent_records
    WHERE (NEW.lead_id IS NOT NULL AND lead_id = NEW.lead_id) OR (NEW.contact_id IS NOT NULL AND contact_id = NEW.contact_id)
    ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(previous.seq, 0) + 1;
    NEW.prev_hash := previous.hash;
    NEW.hash_version := 2;
    SELECT public.consent_purpose_text_hash(v.name, v.description, v.lawful_basis) INTO NEW.purpose_text_hash
    FROM public.consent_purpose_versions v WHERE v.purpose_id = NEW.purpose_id AND v.version = NEW.purpose_version;
    NEW.hash := public.consent_record_hash(NEW);
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION consent_records_erasure_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- A set difference, not a correlated lookup: a transition table has no statistics, and a
    -- nested loop over 100,000 rows would cost seconds.
    IF EXISTS (
        SELECT CASE WHEN lead_id IS NOT NULL THEN 'lead' ELSE 'contact' END, coalesce(lead_id, contact_id) FROM gone
        EXCEPT
        SELECT subject_type, subject_id FROM public.erasure_tombstones WHERE erasing_xact = pg_catalog.pg_current_xact_id()
    ) THEN
        RAISE EXCEPTION 'consent records are append-only'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'consent_records_append_only';
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION policy_acceptances_erasure_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF EXISTS (
        SELECT subject_type, subject_id FROM gone
        EXCEPT
        SELECT subject_type, subject_id FROM public.erasure_tombstones WHERE erasing_xact = pg_catalog.pg_current_xact_id()
    ) THEN
        RAISE EXCEPTION 'policy acceptances are append-only'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'policy_acceptances_append_only';
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION corrections_erasure_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM gone g
        WHERE NOT EXISTS (SELECT 1 FROM public.erasure_tombstones t
                          WHERE t.erasing_xact = pg_catalog.pg_current_xact_id()
                            AND t.subject_type = g.subject_type AND t.subject_id = g.subject_id)
          AND (EXISTS (SELECT 1 FROM public.leads WHERE id = g.subject_id)
               OR EXISTS (SELECT 1 FROM public.contacts WHERE id = g.subject_id))
    ) THEN
        RAISE EXCEPTION 'corrections are append-only'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'corrections_append_only';
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION delete_history_of_deleted_record() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM public.erasure_tombstones WHERE erasing_xact = pg_catalog.pg_current_xact_id() AND subject_id = OLD.id
    ) THEN
        DELETE FROM public.corrections WHERE subject_id = OLD.id;
        DELETE FROM public.exports WHERE subject_id = OLD.id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION record_corrections() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    person_kind text := CASE TG_TABLE_NAME WHEN 'leads' THEN 'lead' ELSE 'contact' END;
    before jsonb := to_jsonb(OLD);
    after jsonb := to_jsonb(NEW);
    by_staff boolean := NEW.updated_by IS NOT NULL;
BEGIN
    INSERT INTO public.corrections (subject_type, subject_id, field, old_value, new_value, corrected_by, staff_id)
    SELECT person_kind, NEW.id, m.column_name, before ->> m.column_name, after ->> m.column_name,
           CASE WHEN by_staff THEN 'staff' ELSE 'person' END, NEW.updated_by
    FROM public.personal_data_map m
    WHERE m.table_name = TG_TABLE_NAME AND m.category IN ('name', 'contact_data', 'professional', 'free_text')
      AND (before -> m.column_name) IS DISTINCT FROM (after -> m.column_name);
    INSERT INTO public.corrections (subject_type, subject_id, field, old_value, new_value, corrected_by, staff_id)
    SELECT person_kind, NEW.id, 'custom_fields.' || k.key, before -> 'custom_fields' ->> k.key, after -> 'custom_fields' ->> k.key,
           CASE WHEN by_staff THEN 'staff' ELSE 'person' END, NEW.updated_by
    FROM (SELECT jsonb_object_keys(OLD.custom_fields) AS key UNION SELECT jsonb_object_keys(NEW.custom_fields)) k
    WHERE (OLD.custom_fields -> k.key) IS DISTINCT FROM (NEW.custom_fields -> k.key);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION contacts_require_primary() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
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
        IF EXISTS (SELECT 1 FROM public.contacts WHERE customer_id = affected)
           AND NOT EXISTS (SELECT 1 FROM public.contacts WHERE customer_id = affected AND is_primary) THEN
            RAISE EXCEPTION 'customer % has contacts but no primary contact', affected
                USING ERRCODE = 'check_violation', CONSTRAINT = 'contacts_require_primary';
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION feed_note_changes() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO public.feed_changes (entity, record_id) SELECT DISTINCT TG_TABLE_NAME, id FROM changed;
    RETURN NULL;
END;
$$;

-- Grants the API role what api_privileges lists and nothing else, and takes from it (and from
-- PUBLIC, whose privileges every role has) what would let it put objects of its own in the way:
-- temporary tables, schemas, objects in public.
CREATE OR REPLACE FUNCTION custodian_grant_api_privileges(api_role name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    entry record;
BEGIN
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', api_role);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', api_role);
    EXECUTE format('REVOKE CREATE ON SCHEMA public FROM PUBLIC, %I', api_role);
    EXECUTE format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM PUBLIC, %I', current_database(), api_role);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), api_role);
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', api_role);
    FOR entry IN SELECT table_name, privileges FROM public.api_privileges WHERE cardinality(privileges) > 0 LOOP
        EXECUTE format('GRANT %s ON TABLE public.%I TO %I', array_to_string(entry.privileges, ', '), entry.table_name, api_role);
    END LOOP;
END;
$$;
REVOKE EXECUTE ON FUNCTION custodian_grant_api_privileges(name) FROM PUBLIC;

-- The rest read no table; their path is pinned all the same, so that a test can demand it of every
-- trigger function a later migration adds.
ALTER FUNCTION personal_data_map_anonymise_text() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION erasure_tombstones_stamp() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION refuse_rewriting_history() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION request_cases_rules() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION set_updated_at() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION touch_record() SET search_path = pg_catalog, public, pg_temp;
