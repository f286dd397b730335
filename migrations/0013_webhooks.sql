-- Events other systems must hear about, written to an outbox in the same transaction as the change
-- that caused them, and delivered to the webhook endpoints that want them, signed (Standard
-- Webhooks), at least once, retried for a day.

CREATE TABLE webhook_endpoints (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url               text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    events            text[] NOT NULL CHECK (cardinality(events) >= 1),
    description       text CHECK (length(description) <= 500),
    -- the signing secret, sealed (AES-GCM) with the server's secret key: the server must be able
    -- to sign, so it cannot keep only a hash; the database alone cannot read it
    sealed_secret     bytea NOT NULL,
    secret_key_id     text NOT NULL,
    active            boolean NOT NULL DEFAULT true,
    revision          bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    created_by        uuid REFERENCES staff (id),
    updated_by        uuid REFERENCES staff (id)
);
CREATE INDEX webhook_endpoints_order ON webhook_endpoints (created_at, id);
CREATE TRIGGER webhook_endpoints_touch BEFORE UPDATE ON webhook_endpoints FOR EACH ROW EXECUTE FUNCTION touch_record();

-- The outbox. Payloads hold ids, kinds and dates; `subject_id` names the person an event is
-- about, so that an erasure can remove payloads still waiting to go out.
CREATE TABLE webhook_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type        text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    payload     jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    subject_id  uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_subject ON webhook_events (subject_id) WHERE subject_id IS NOT NULL;

-- One delivery per event and endpoint that wants it. Dispatchers claim due deliveries with
-- FOR UPDATE SKIP LOCKED and a lease (`next_attempt_at` pushed ahead), so several server instances
-- share the work and each delivery is attempted by one at a time.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id);

-- Every attempt, for `GET /v1/webhooks/{id}/deliveries`.
CREATE TABLE webhook_attempts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    delivery_id     uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at    timestamptz NOT NULL DEFAULT now(),
    response_status integer,
    -- what went wrong, in the dispatcher's words (a timeout, a refused connection); never the body
    error           text CHECK (length(error) <= 500),
    duration_ms     integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempted_at);

INSERT INTO api_privileges (table_name, privileges, reason) VALUES
    ('webhook_endpoints', '{SELECT,INSERT,UPDATE,DELETE}', NULL),
    ('webhook_events', '{SELECT,INSERT,DELETE}', 'events are not changed; an erasure removes those still pending'),
    ('webhook_deliveries', '{SELECT,INSERT,UPDATE,DELETE}', NULL),
    ('webhook_attempts', '{SELECT,INSERT}', 'a record of what happened');

INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES
    ('webhook_endpoints', 'id', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'url', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'events', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'description', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'sealed_secret', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'secret_key_id', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'active', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'revision', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'updated_at', 'not_personal', NULL, 'none', NULL),
    ('webhook_endpoints', 'created_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who registered the endpoint'),
    ('webhook_endpoints', 'updated_by', 'identifier', 'staff', 'keep', 'accountability (GDPR Art. 5(2)): who changed the endpoint'),
    ('webhook_events', 'id', 'not_personal', NULL, 'none', NULL),
    ('webhook_events', 'type', 'not_personal', NULL, 'none', NULL),
    ('webhook_events', 'payload', 'identifier', 'person', 'delete_row', NULL),
    ('webhook_events', 'subject_id', 'identifier', 'person', 'delete_row', NULL),
    ('webhook_events', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('webhook_deliveries', 'id', 'not_personal', NULL, 'none', NULL),
    ('webhook_deliveries', 'event_id', 'not_personal', NULL, 'none', NULL),
    ('webhook_deliveries', 'endpoint_id', 'not_personal', NULL, 'none', NULL),
    ('webhook_deliveries', 'status', 'not_personal', NULL, 'none', NULL),
    ('webhook_deliveries', 'attempts', 'not_personal', NULL, 'none', NULL),
    ('webhook_deliveries', 'next_attempt_at', 'not_personal', NULL, 'none', NULL),
    ('webhook_deliveries', 'delivered_at', 'not_personal', NULL, 'none', NULL),
    ('webhook_deliveries', 'created_at', 'not_personal', NULL, 'none', NULL),
    ('webhook_attempts', 'id', 'not_personal', NULL, 'none', NULL),
    ('webhook_attempts', 'delivery_id', 'not_personal', NULL, 'none', NULL),
    ('webhook_attempts', 'attempted_at', 'not_personal', NULL, 'none', NULL),
    ('webhook_attempts', 'response_status', 'not_personal', NULL, 'none', NULL),
    ('webhook_attempts', 'error', 'not_personal', NULL, 'none', NULL),
    ('webhook_attempts', 'duration_ms', 'not_personal', NULL, 'none', NULL);
