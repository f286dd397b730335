-- Foundation: what every later table relies on.

-- Every table with an updated_at column attaches this trigger, so the database keeps the time of
-- the last write honest whatever code path (API, CLI, a DBA's psql session) made it.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
