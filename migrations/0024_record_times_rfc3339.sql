-- A CRM record's times are written as RFC 3339 (`2026-11-29T15:44:48.123Z`), which has no
-- `infinity`, no BC year and no year past 9999; PostgreSQL holds all three. A record with one
-- could be stored by SQL outside the API (an import, a script, the owner) and then not be read
-- at all: its single read, its list page, its feed and its export would fail. The tables refuse
-- such a time instead, whoever writes it; the API already refuses them as input (422).
--
-- Adding a constraint checks the rows already there: a database holding such a time stops this
-- migration with the constraint's name, and the rows to correct are found with, for example,
--   SELECT id FROM leads WHERE NOT (last_contacted_at >= '0001-01-01T00:00:00Z' AND last_contacted_at < '10000-01-01T00:00:00Z');

ALTER TABLE public.leads
    ADD CONSTRAINT leads_last_contacted_at_in_rfc3339_range
        CHECK (last_contacted_at >= '0001-01-01T00:00:00Z' AND last_contacted_at < '10000-01-01T00:00:00Z'),
    ADD CONSTRAINT leads_converted_at_in_rfc3339_range
        CHECK (converted_at >= '0001-01-01T00:00:00Z' AND converted_at < '10000-01-01T00:00:00Z'),
    ADD CONSTRAINT leads_created_at_in_rfc3339_range
        CHECK (created_at >= '0001-01-01T00:00:00Z' AND created_at < '10000-01-01T00:00:00Z'),
    ADD CONSTRAINT leads_updated_at_in_rfc3339_range
        CHECK (updated_at >= '0001-01-01T00:00:00Z' AND updated_at < '10000-01-01T00:00:00Z');

ALTER TABLE public.contacts
    ADD CONSTRAINT contacts_created_at_in_rfc3339_range
        CHECK (created_at >= '0001-01-01T00:00:00Z' AND created_at < '10000-01-01T00:00:00Z'),
    ADD CONSTRAINT contacts_updated_at_in_rfc3339_range
        CHECK (updated_at >= '0001-01-01T00:00:00Z' AND updated_at < '10000-01-01T00:00:00Z');

ALTER TABLE public.customers
    ADD CONSTRAINT customers_created_at_in_rfc3339_range
        CHECK (created_at >= '0001-01-01T00:00:00Z' AND created_at < '10000-01-01T00:00:00Z'),
    ADD CONSTRAINT customers_updated_at_in_rfc3339_range
        CHECK (updated_at >= '0001-01-01T00:00:00Z' AND updated_at < '10000-01-01T00:00:00Z');
