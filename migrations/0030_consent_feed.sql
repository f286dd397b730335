-- The consents feed (GDPR Art. 7(3), 19): each person's consent state per purpose, with the
-- record feeds' cursor guarantees. A person's line changes with every record of their chain (a
-- decision, a carried-over history, an erasure removing the chain), when their processing is
-- restricted or the restriction lifted, and when a lead is converted (its consent lives on the
-- contact from then on).
ALTER TABLE public.feed_changes DROP CONSTRAINT feed_changes_entity_check;
ALTER TABLE public.feed_changes ADD CONSTRAINT feed_changes_entity_check
    CHECK (entity IN ('leads', 'contacts', 'customers', 'consents'));

CREATE FUNCTION public.feed_note_consent_changes() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO public.feed_changes (entity, record_id)
    SELECT DISTINCT 'consents', coalesce(lead_id, contact_id) FROM changed;
    RETURN NULL;
END;
$$;
CREATE TRIGGER consent_records_feed_insert AFTER INSERT ON public.consent_records REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION public.feed_note_consent_changes();
CREATE TRIGGER consent_records_feed_delete AFTER DELETE ON public.consent_records REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION public.feed_note_consent_changes();

-- Row triggers: a column list and transition tables do not go together, and these changes are rare.
CREATE FUNCTION public.feed_note_consent_subject() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO public.feed_changes (entity, record_id) VALUES ('consents', NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER leads_consent_feed AFTER UPDATE OF restricted, converted_at ON public.leads FOR EACH ROW
    WHEN (OLD.restricted IS DISTINCT FROM NEW.restricted OR OLD.converted_at IS DISTINCT FROM NEW.converted_at)
    EXECUTE FUNCTION public.feed_note_consent_subject();
CREATE TRIGGER contacts_consent_feed AFTER UPDATE OF restricted ON public.contacts FOR EACH ROW
    WHEN (OLD.restricted IS DISTINCT FROM NEW.restricted)
    EXECUTE FUNCTION public.feed_note_consent_subject();
