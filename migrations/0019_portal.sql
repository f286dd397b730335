-- The customer area (Perfex's client portal): contacts log in with an email and a password and
-- see and correct what is held on them, as a personal link lets them. Off until an admin turns
-- it on. Passwords are bcrypt hashes; sessions and one-time links are stored as SHA-256 hashes.

CREATE TABLE portal_settings (
    singleton                      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    enabled                        boolean NOT NULL DEFAULT false,
    registration_enabled           boolean NOT NULL DEFAULT false,
    -- which documents a registration must accept; a login after a new version of one asks again
    registration_requires_terms    boolean NOT NULL DEFAULT true,
    registration_requires_privacy  boolean NOT NULL DEFAULT true,
    session_hours                  integer NOT NULL DEFAULT 12 CHECK (session_hours BETWEEN 1 AND 720),
    -- failed logins in a row before an account is locked; each further lock lasts twice as long
    max_failed_logins              integer NOT NULL DEFAULT 5 CHECK (max_failed_logins BETWEEN 1 AND 100),
    lockout_minutes                integer NOT NULL DEFAULT 15 CHECK (lockout_minutes BETWEEN 1 AND 1440),
    revision                       bigint NOT NULL DEFAULT 1,
    updated_at                     timestamptz NOT NULL DEFAULT now(),
    updated_by                     uuid REFERENCES staff (id)
);
CREATE TRIGGER portal_settings_touch BEFORE UPDATE ON portal_settings FOR EACH ROW EXECUTE FUNCTION touch_record();
INSERT INTO portal_settings DEFAULT VALUES;

-- A contact's account. No password yet: invited, the invitation not taken up.
CREATE TABLE portal_accounts (
    contact_id           uuid PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    password_hash        text CHECK (length(password_hash) BETWEEN 20 AND 100),
    password_changed_at  timestamptz,
    failed_logins        integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    lockouts             integer NOT NULL DEFAULT 0 CHECK (lockouts >= 0),
    locked_until         timestamptz,
    last_login_at        timestamptz,
    invited_by           uuid REFERENCES staff (id),
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE portal_sessions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contact_id  uuid NOT NULL REFERENCES portal_accounts (contact_id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    ip          text CHECK (length(ip) <= 64),
    user_agent  text CHECK (length(user_agent) <= 1000)
);
CREATE INDEX portal_sessions_contact ON portal_sessions (contact_id);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);

-- One-time links for the mailer: a password reset, or a staff member's invitation.
CREATE TABLE portal_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    contact_id  uuid NOT NULL REFERENCES portal_accounts (contact_id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('password_reset', 'invitation')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX portal_tokens_contact ON portal_tokens (contact_id);
CREATE INDEX portal_tokens_expiry ON portal_tokens (expires_at);

-- What a logged-in contact does is recorded as done in the customer area.
ALTER TABLE request_cases DROP CONSTRAINT request_cases_channel_check;
ALTER TABLE request_cases ADD CONSTRAINT request_cases_channel_check
    CHECK (channel IN ('staff', 'link', 'customer_area', 'email', 'phone', 'letter', 'in_person'));
ALTER TABLE policy_acceptances DROP CONSTRAINT policy_acceptances_context_check;
ALTER TABLE policy_acceptances ADD CONSTRAINT policy_acceptances_context_check
    CHECK (context IN ('privacy_centre', 'registration', 'customer_area', 'web_form', 'staff'));

INSERT INTO personal_data_owners (table_name, subject, owner_column, kind_column) VALUES
    ('portal_accounts', 'contact', 'contact_id', NULL),
    ('portal_sessions', 'contact', 'contact_id', NULL),
    ('portal_tokens', 'contact', 'contact_id', NULL);

INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('portal_settings', '{SELECT,UPDATE}', 'one row, created by its migration'),
    ('portal_accounts', '{SELECT,INSERT,UPDATE,DELETE}', 'failed logins and locks are counted on the account; an erasure removes it'),
    ('portal_sessions', '{SELECT,INSERT,UPDATE,DELETE}', 'logout and password changes revoke; housekeeping removes expired ones'),
    ('portal_tokens', '{SELECT,INSERT,UPDATE,DELETE}', 'a link is marked used; housekeeping removes expired ones');

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, exported) VALUES
    ('portal_settings', 'singleton', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'enabled', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'registration_enabled', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'registration_requires_terms', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'registration_requires_privacy', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'session_hours', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'max_failed_logins', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'lockout_minutes', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'revision', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'updated_at', 'not_personal', NULL, 'none', NULL, true),
    ('portal_settings', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the settings', true),
    ('portal_accounts', 'contact_id', 'identifier', 'contact', 'delete_row', NULL, true),
    ('portal_accounts', 'password_hash', 'credential', 'contact', 'delete_row', NULL, false),
    ('portal_accounts', 'password_changed_at', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_accounts', 'failed_logins', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_accounts', 'lockouts', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_accounts', 'locked_until', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_accounts', 'last_login_at', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_accounts', 'invited_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who invited the contact', true),
    ('portal_accounts', 'created_at', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_sessions', 'id', 'identifier', 'contact', 'delete_row', NULL, true),
    ('portal_sessions', 'contact_id', 'identifier', 'contact', 'delete_row', NULL, true),
    ('portal_sessions', 'token_hash', 'credential', 'contact', 'delete_row', NULL, false),
    ('portal_sessions', 'created_at', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_sessions', 'expires_at', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_sessions', 'revoked_at', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_sessions', 'ip', 'online_identifier', 'contact', 'delete_row', NULL, true),
    ('portal_sessions', 'user_agent', 'online_identifier', 'contact', 'delete_row', NULL, true),
    ('portal_tokens', 'token_hash', 'credential', 'contact', 'delete_row', NULL, false),
    ('portal_tokens', 'contact_id', 'identifier', 'contact', 'delete_row', NULL, true),
    ('portal_tokens', 'purpose', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_tokens', 'created_at', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_tokens', 'expires_at', 'activity', 'contact', 'delete_row', NULL, true),
    ('portal_tokens', 'used_at', 'activity', 'contact', 'delete_row', NULL, true);
