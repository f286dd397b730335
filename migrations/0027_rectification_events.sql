-- A person's data was corrected: systems that received it are told (GDPR Art. 19), whichever path
-- the correction took (the person through their link or account, staff through the API), because
-- the event is written where every correction is: `corrections`. One `subject.rectified` per
-- person and statement, naming the fields, never their values.
CREATE FUNCTION public.corrections_announce() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    WITH events AS (
        INSERT INTO public.webhook_events (type, payload, subject_id)
        SELECT 'subject.rectified',
               jsonb_build_object(
                   'subject_type', a.subject_type,
                   'subject_id', a.subject_id,
                   'fields', jsonb_agg(DISTINCT a.field ORDER BY a.field),
                   'corrected_by', min(a.corrected_by),
                   'corrected_at', to_char(max(a.corrected_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
               a.subject_id
        FROM added a
        GROUP BY a.subject_type, a.subject_id
        RETURNING id
    )
    INSERT INTO public.webhook_deliveries (event_id, endpoint_id)
    SELECT e.id, w.id FROM events e, public.webhook_endpoints w WHERE w.active AND 'subject.rectified' = ANY (w.events);
    RETURN NULL;
END;
$$;
CREATE TRIGGER corrections_announce AFTER INSERT ON public.corrections
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION public.corrections_announce();
