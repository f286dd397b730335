-- Consenters of a purpose page by person: DISTINCT ON (person) in person order, newest record
-- first, read straight from this index from the cursor on, so a page costs the same with ten
-- records for the purpose or a million.
CREATE INDEX consent_records_purpose_person
    ON consent_records (purpose_id, (coalesce(lead_id, contact_id)), seq DESC);

-- Its first column serves everything the purpose-only index did.
DROP INDEX consent_records_purpose;
