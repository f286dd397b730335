-- A staff POST that creates something, sent with an Idempotency-Key, happens once: the answer is
-- stored with the key in the same transaction as the create, so a retry after a lost answer (or
-- a crash around the commit) gets the first answer and creates nothing. Keys live 24 hours.
CREATE TABLE idempotency_keys (
    staff_id          uuid NOT NULL REFERENCES staff (id),
    key               text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the method, path and body: the same key with another request is refused
    request_hash      bytea NOT NULL CHECK (length(request_hash) = 32),
    status            integer NOT NULL,
    response_headers  jsonb NOT NULL,
    response_body     bytea NOT NULL,
    -- whom the answer is about (the record created, or the record it was created on)
    subject_id        uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (staff_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_subject ON idempotency_keys (subject_id) WHERE subject_id IS NOT NULL;

INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('idempotency_keys', '{SELECT,INSERT,UPDATE,DELETE}', NULL);

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('idempotency_keys', 'staff_id', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who sent the request; kept 24 hours'),
    ('idempotency_keys', 'key', 'not_personal', NULL, 'none', NULL),
    ('idempotency_keys', 'request_hash', 'not_personal', NULL, 'none', NULL),
    ('idempotency_keys', 'status', 'not_personal', NULL, 'none', NULL),
    ('idempotency_keys', 'response_headers', 'not_personal', NULL, 'none', NULL),
    ('idempotency_keys', 'response_body', 'free_text', 'person', 'delete_row', NULL),
    ('idempotency_keys', 'subject_id', 'identifier', 'person', 'delete_row', NULL),
    ('idempotency_keys', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('idempotency_keys', 'expires_at', 'not_personal', NULL, 'none', NULL);
