-- Personal consent links, consent settings, and the counters behind public rate limits.

-- One row: the settings of the consent feature.
CREATE TABLE consent_settings (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    controller_name     text NOT NULL DEFAULT 'Custodian' CHECK (length(controller_name) BETWEEN 1 AND 200),
    contacts_enabled    boolean NOT NULL DEFAULT true,
    leads_enabled       boolean NOT NULL DEFAULT true,
    page_text           text NOT NULL DEFAULT '' CHECK (length(page_text) <= 10000),
    -- NULL: links never expire
    link_lifetime_days  integer CHECK (link_lifetime_days BETWEEN 1 AND 3650),
    revision            bigint NOT NULL DEFAULT 1,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          uuid REFERENCES staff (id)
);
CREATE TRIGGER consent_settings_touch BEFORE UPDATE ON consent_settings FOR EACH ROW EXECUTE FUNCTION touch_record();
INSERT INTO consent_settings DEFAULT VALUES;

-- At most one live link per person; issuing again replaces it, revoking deletes it. Only the
-- token's SHA-256 is stored.
CREATE TABLE consent_links (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id     uuid UNIQUE REFERENCES leads (id) ON DELETE CASCADE,
    contact_id  uuid UNIQUE REFERENCES contacts (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  uuid REFERENCES staff (id),
    expires_at  timestamptz,
    CHECK (num_nonnulls(lead_id, contact_id) = 1)
);

-- Fixed-window counters per client address and endpoint group, kept for minutes only; shared by
-- every API instance.
CREATE TABLE rate_limit_hits (
    bucket        text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('consent_settings', 'singleton', 'not_personal', NULL, 'none', NULL),
    ('consent_settings', 'controller_name', 'not_personal', NULL, 'none', NULL),
    ('consent_settings', 'contacts_enabled', 'not_personal', NULL, 'none', NULL),
    ('consent_settings', 'leads_enabled', 'not_personal', NULL, 'none', NULL),
    ('consent_settings', 'page_text', 'not_personal', NULL, 'none', NULL),
    ('consent_settings', 'link_lifetime_days', 'not_personal', NULL, 'none', NULL),
    ('consent_settings', 'revision', 'not_personal', NULL, 'none', NULL),
    ('consent_settings', 'updated_at', 'not_personal', NULL, 'none', NULL),
    ('consent_settings', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the settings'),
    ('consent_links', 'id', 'not_personal', NULL, 'none', NULL),
    ('consent_links', 'lead_id', 'identifier', 'lead', 'delete_row', NULL),
    ('consent_links', 'contact_id', 'identifier', 'contact', 'delete_row', NULL),
    ('consent_links', 'token_hash', 'credential', 'person', 'delete_row', NULL),
    ('consent_links', 'created_at', 'activity', 'person', 'delete_row', NULL),
    ('consent_links', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who issued the link'),
    ('consent_links', 'expires_at', 'activity', 'person', 'delete_row', NULL),
    ('rate_limit_hits', 'bucket', 'online_identifier', 'person', 'delete_row', NULL),
    ('rate_limit_hits', 'window_start', 'not_personal', NULL, 'none', NULL),
    ('rate_limit_hits', 'hits', 'not_personal', NULL, 'none', NULL);
