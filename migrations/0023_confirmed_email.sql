-- The address a customer-area account's owner has shown they read: set when a registration or an
-- invitation is completed through a link mailed there, and when the person confirms a new email.
-- Password resets go only to it, so an address changed without confirmation (by staff, or before
-- confirmation existed) never receives the way into the account.
ALTER TABLE portal_accounts ADD COLUMN confirmed_email text CHECK (length(confirmed_email) <= 320);

-- Accounts from before: their address is taken as confirmed (registration and invitations mailed
-- it); a person whose address was changed by someone else meanwhile is no worse off than before.
UPDATE portal_accounts a SET confirmed_email = c.email
FROM contacts c
WHERE c.id = a.contact_id AND a.password_hash IS NOT NULL;

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported) VALUES
    ('portal_accounts', 'confirmed_email', 'contact_data', 'contact', 'delete_row', NULL, true);
