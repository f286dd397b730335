-- `q` asks a trigram index (migration 0020) for every trigram of the searched text, and a GIN index
-- reads each trigram's whole list of records. A trigram most records share ("con" when every email
-- starts with "contact") costs a read of nearly the whole table's list and can at most halve what
-- the others found: `q=contact4242.` read 1,370 index pages at 1,000,000 contacts for two rows.
-- The API leaves such trigrams out of what it asks the index and checks the whole text on the
-- rows found (the result is the same by construction: it asks for parts of the text). To know
-- which trigrams are common it needs their frequencies: ANALYZE (and autovacuum) keep them as
-- statistics on each search text's trigrams.
CREATE STATISTICS public.contacts_search_trigrams ON (
    public.show_trgm(public.search_text(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, ''))))
    FROM public.contacts;
CREATE STATISTICS public.leads_search_trigrams ON (
    public.show_trgm(public.search_text(coalesce(name, '') || ' ' || coalesce(company, '') || ' ' || coalesce(email, ''))))
    FROM public.leads;
CREATE STATISTICS public.customers_search_trigrams ON (public.show_trgm(public.search_text(coalesce(company, ''))))
    FROM public.customers;

-- The trigrams in at least half of a table's search texts (by the last ANALYZE's sample); none
-- before the first ANALYZE. Statistics are shown only to the tables' owner, hence security
-- definer; what it returns is shared by half the records, so it tells nothing about a person.
CREATE FUNCTION public.common_search_trigrams(record_table text) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT trigram
    FROM pg_catalog.pg_stats_ext_exprs s,
         unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS e(trigram, frequency)
    WHERE s.schemaname = 'public'
      AND s.statistics_name = record_table || '_search_trigrams'
      AND s.tablename = record_table
      AND record_table IN ('contacts', 'leads', 'customers')
      -- the frequencies array ends with three numbers that are not an element's (min, max, nulls)
      AND e.trigram IS NOT NULL
      AND e.frequency >= 0.5
$$;

ANALYZE public.contacts, public.leads, public.customers;
