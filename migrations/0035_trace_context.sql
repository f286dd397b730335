-- W3C Trace Context: an event remembers the trace of the request that caused it, so that its
-- webhook deliveries carry it on (`traceparent`) and a receiver's work joins the same trace.
ALTER TABLE public.webhook_events ADD COLUMN trace_id text CHECK (trace_id ~ '^[0-9a-f]{32}$');
ALTER TABLE public.webhook_events ADD COLUMN trace_sampled boolean NOT NULL DEFAULT false;

INSERT INTO public.personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported, subject_visible) VALUES
    ('webhook_events', 'trace_id', 'not_personal', NULL, 'none', NULL, false, false),
    ('webhook_events', 'trace_sampled', 'not_personal', NULL, 'none', NULL, false, false);
