-- `q` asks a trigram index (migration 0020) for every trigram of the searched text, and a GIN index
-- reads each trigram's whole list of records. A trigram many records share ("con" when every
-- email starts with "contact") costs a read of a list that long and filters out little:
-- `q=contact4242.` read 1,370 index pages at 1,000,000 contacts for two rows.
-- The API leaves such trigrams out of what it asks the index and checks the whole text on the
-- rows found (the result is the same by construction: it asks for parts of the text), when what
-- it still asks is rare enough. To know, it needs the trigrams' frequencies: ANALYZE (and
-- autovacuum) keep them as statistics on each search text's trigrams.
CREATE STATISTICS public.contacts_search_trigrams ON (
    public.show_trgm(public.search_text(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, ''))))
    FROM public.contacts;
CREATE STATISTICS public.leads_search_trigrams ON (
    public.show_trgm(public.search_text(coalesce(name, '') || ' ' || coalesce(company, '') || ' ' || coalesce(email, ''))))
    FROM public.leads;
CREATE STATISTICS public.customers_search_trigrams ON (public.show_trgm(public.search_text(coalesce(company, ''))))
    FROM public.customers;
-- Three times the default detail (a 90,000-row sample, up to 3,000 trigrams): a trigram the
-- statistics do not list is taken to be as common as the rarest they do, and with the default
-- that bound (1% of 10,000 contacts) was too coarse to leave anything out. ANALYZE of 1,000,000
-- contacts takes 1.9 s instead of 0.6 s.
ALTER STATISTICS public.contacts_search_trigrams SET STATISTICS 300;
ALTER STATISTICS public.leads_search_trigrams SET STATISTICS 300;
ALTER STATISTICS public.customers_search_trigrams SET STATISTICS 300;

-- The trigrams the last ANALYZE found most often in a table's search texts, with the share of
-- texts holding each (pg_stats_ext_exprs' most common elements, from the sample above); nothing
-- before the first ANALYZE. Statistics are shown only to the
-- tables' owner, hence security definer. They are parts of the texts the API's role reads anyway.
CREATE FUNCTION public.search_trigram_frequencies(record_table text) RETURNS TABLE (trigram text, frequency real)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT e.trigram, e.frequency
    FROM pg_catalog.pg_stats_ext_exprs s,
         unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS e(trigram, frequency)
    WHERE s.schemaname = 'public'
      AND s.statistics_name = record_table || '_search_trigrams'
      AND s.tablename = record_table
      AND record_table IN ('contacts', 'leads', 'customers')
      -- the frequencies array ends with three numbers that are not an element's (min, max, nulls)
      AND e.trigram IS NOT NULL
$$;

ANALYZE public.contacts, public.leads, public.customers;
