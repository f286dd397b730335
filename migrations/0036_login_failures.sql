-- Failed portal logins per client address, shared by every API instance: past a few failures an
-- address waits twice as long as before its next attempt, wherever that attempt lands. Before,
-- each process counted on its own, so N instances gave an address N times the free attempts.
-- Like the rate-limit counters, the rows live for minutes and are worthless after a crash
-- (unlogged), and the address is a keyed hash no erasure can tie to a person.
CREATE UNLOGGED TABLE public.login_failures (
    bucket text PRIMARY KEY,
    failures integer NOT NULL CHECK (failures > 0),
    last_failure timestamptz NOT NULL,
    blocked_until timestamptz
);
CREATE INDEX login_failures_last_failure ON public.login_failures (last_failure);

INSERT INTO public.api_privileges (table_name, privileges, reason) VALUES
    ('login_failures', '{SELECT,INSERT,UPDATE,DELETE}', NULL);

INSERT INTO public.personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported, subject_visible) VALUES
    ('login_failures', 'bucket', 'online_identifier', 'person', 'keep',
     'not linkable to a person (a keyed hash of a client address); deleted by housekeeping within an hour', false, false),
    ('login_failures', 'failures', 'not_personal', NULL, 'none', NULL, false, false),
    ('login_failures', 'last_failure', 'not_personal', NULL, 'none', NULL, false, false),
    ('login_failures', 'blocked_until', 'not_personal', NULL, 'none', NULL, false, false);
