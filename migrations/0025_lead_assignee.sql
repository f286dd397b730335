-- One name for one idea: the staff member who owns a lead is `assignee_id`, as on request cases
-- (the API said `assigned_to` for leads and `assignee_id` for requests). The API writes a record's
-- fields under its column names, so the column is renamed, with its index and its entry in the
-- personal-data map. Every instance must run the new release once this has run (README, Changes).

ALTER TABLE public.leads RENAME COLUMN assigned_to TO assignee_id;
ALTER INDEX public.leads_assigned_order RENAME TO leads_assignee_order;

UPDATE public.personal_data_map
SET column_name = 'assignee_id'
WHERE table_name = 'leads' AND column_name = 'assigned_to';
