-- `q` finds a part of a name, a company or an email anywhere in it, whatever its case and
-- accents ("müll" finds "Zoë Müller-Lüdenscheidt", "ller" too), not only a prefix: trigram
-- indexes over one search text per record. Both extensions are trusted, so the schema's owner
-- may create them without being a superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is only STABLE (its dictionary could change); pinned to the dictionary, the result
-- depends on the text alone, which an index needs. Accents go first: lower() in the C locale
-- changes only ASCII letters.
CREATE FUNCTION search_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN lower(public.unaccent('public.unaccent'::regdictionary, value));

CREATE INDEX contacts_search ON contacts USING gin (
    search_text(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '')) gin_trgm_ops);
CREATE INDEX leads_search ON leads USING gin (
    search_text(coalesce(name, '') || ' ' || coalesce(company, '') || ' ' || coalesce(email, '')) gin_trgm_ops);
CREATE INDEX customers_search ON customers USING gin (search_text(coalesce(company, '')) gin_trgm_ops);

-- The prefix indexes served the prefix search only.
DROP INDEX contacts_first_name_prefix, contacts_last_name_prefix, contacts_email_prefix,
    leads_name_prefix, leads_company_prefix, leads_email_prefix, customers_company_prefix;
