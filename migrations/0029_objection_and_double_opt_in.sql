-- Objection (GDPR Art. 21) and double opt-in, as decisions in the person's hash chain.
--
-- `object`: the person objects to a purpose based on legitimate interests, or to direct
-- marketing (Art. 21(2), absolute: every direct-marketing purpose stops). Only the person can
-- give consent again after it: a `give` recorded by staff or an integration is refused.
-- `request`: a consent given through a web form or a link for a purpose with double opt-in; it
-- counts for nothing until the person confirms it. `confirm`: the confirmation (channel
-- `confirmation`), through a token made from the request and the server's key, never stored.
ALTER TABLE public.consent_purposes
    ADD COLUMN direct_marketing boolean NOT NULL DEFAULT false,
    ADD COLUMN double_opt_in boolean NOT NULL DEFAULT false;

ALTER TABLE public.consent_records DROP CONSTRAINT consent_records_action_check;
ALTER TABLE public.consent_records ADD CONSTRAINT consent_records_action_check
    CHECK (action IN ('give', 'withdraw', 'object', 'request', 'confirm'));
ALTER TABLE public.consent_records DROP CONSTRAINT consent_records_channel_check;
ALTER TABLE public.consent_records ADD CONSTRAINT consent_records_channel_check
    CHECK (channel IN ('consent_link', 'staff', 'customer_area', 'web_form', 'api', 'unsubscribe', 'confirmation'));

-- What each decision may be, whoever writes it. Runs after consent_records_chain (triggers fire
-- in name order), which holds the person's chain lock, so the latest decision read here stays
-- the latest until this transaction ends.
CREATE FUNCTION public.consent_decision_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    purpose public.consent_purposes;
    latest text;
    latest_decided text;
BEGIN
    IF NEW.carried_from IS NOT NULL THEN
        RETURN NEW;  -- a copy of a decision already made (a lead converted)
    END IF;
    SELECT * INTO purpose FROM public.consent_purposes WHERE id = NEW.purpose_id;
    SELECT r.action INTO latest FROM public.consent_records r
    WHERE r.purpose_id = NEW.purpose_id AND coalesce(r.lead_id, r.contact_id) = coalesce(NEW.lead_id, NEW.contact_id)
    ORDER BY r.seq DESC LIMIT 1;
    -- A request does not end an objection; the confirmation of one made by the person does.
    SELECT r.action INTO latest_decided FROM public.consent_records r
    WHERE r.purpose_id = NEW.purpose_id AND coalesce(r.lead_id, r.contact_id) = coalesce(NEW.lead_id, NEW.contact_id)
      AND r.action <> 'request'
    ORDER BY r.seq DESC LIMIT 1;
    IF NEW.action = 'object' AND NOT (purpose.lawful_basis = 'legitimate_interests' OR purpose.direct_marketing) THEN
        RAISE EXCEPTION 'an objection is to a purpose based on legitimate interests or to direct marketing'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'consent_records_objection_basis';
    END IF;
    IF NEW.action IN ('give', 'request') AND NEW.channel IN ('staff', 'api') AND latest_decided = 'object' THEN
        RAISE EXCEPTION 'the person objected to this purpose; only they can give consent again'
            USING ERRCODE = 'object_not_in_prerequisite_state', CONSTRAINT = 'objected';
    END IF;
    IF (NEW.action = 'confirm') <> (NEW.channel = 'confirmation') THEN
        RAISE EXCEPTION 'a confirmation, and only a confirmation, has the channel confirmation'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'consent_records_confirmation_channel';
    END IF;
    IF NEW.action = 'confirm' AND latest IS DISTINCT FROM 'request' THEN
        RAISE EXCEPTION 'a confirmation follows the request it confirms, with no decision between'
            USING ERRCODE = 'object_not_in_prerequisite_state', CONSTRAINT = 'confirmation_superseded';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER consent_records_decision_guard BEFORE INSERT ON public.consent_records
    FOR EACH ROW EXECUTE FUNCTION public.consent_decision_guard();

-- A confirmation is the person's own act, which a restriction of their processing allows.
CREATE OR REPLACE FUNCTION public.processing_restriction_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    row_json constant jsonb := to_jsonb(NEW);
    owner_column text;
    owner uuid;
    in_force uuid;
BEGIN
    IF (TG_TABLE_NAME = 'consent_records' AND row_json ->> 'channel' IN ('consent_link', 'customer_area', 'unsubscribe', 'confirmation'))
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

INSERT INTO public.personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported) VALUES
    ('consent_purposes', 'direct_marketing', 'not_personal', NULL, 'none', NULL, true),
    ('consent_purposes', 'double_opt_in', 'not_personal', NULL, 'none', NULL, true);
