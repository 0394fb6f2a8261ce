-- Webhooks (Standard Webhooks: one message per event and endpoint, one row per delivery
-- attempt) and data retention (captures are deleted, verdicts keep what reporting needs).

-- Endpoints replace the single URL/secret columns of the first schema, which nothing used.
ALTER TABLE tenants
    DROP COLUMN webhook_url,
    DROP COLUMN webhook_secret,
    -- Hosts a per-request `webhook_url` may point at (exact host names, lower case).
    ADD COLUMN webhook_allowed_hosts TEXT[] NOT NULL DEFAULT '{}',
    -- Sealed captures and identifying metadata are purged this long after the verdict.
    ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 3650);

CREATE TABLE webhook_endpoints (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           BIGINT NOT NULL REFERENCES tenants (id),
    url                 TEXT NOT NULL,
    -- `whsec_` + base64 key. During a rotation the previous secret also signs until it expires.
    secret              TEXT NOT NULL,
    previous_secret     TEXT,
    previous_expires_at TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when a receiver answers 410 Gone (or by the tenant): no more deliveries.
    disabled_at         TIMESTAMPTZ,
    disabled_reason     TEXT,
    UNIQUE (tenant_id, url)
);

-- A per-request override of where the events of one transaction go.
ALTER TABLE transactions
    ADD COLUMN webhook_url TEXT,
    ADD COLUMN purged_at TIMESTAMPTZ;
CREATE INDEX transactions_unpurged ON transactions (created_at) WHERE purged_at IS NULL;

CREATE TYPE webhook_message_status AS ENUM ('pending', 'delivered', 'failed');

-- The outbox: written in the same database transaction as the verdict, so an event exists
-- exactly when a verdict does. `id` is the `webhook-id` header, the same on every attempt.
CREATE TABLE webhook_messages (
    id              TEXT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id),
    transaction_id  BIGINT NOT NULL REFERENCES transactions (id),
    endpoint_id     BIGINT NOT NULL REFERENCES webhook_endpoints (id),
    url             TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    -- The exact bytes that are signed and sent.
    body            TEXT NOT NULL,
    status          webhook_message_status NOT NULL DEFAULT 'pending',
    -- Attempts in the current retry schedule, which starts at `retry_from` (the event, or the
    -- last redelivery on demand); every attempt ever made is a row in webhook_attempts.
    attempts        INTEGER NOT NULL DEFAULT 0,
    retry_from      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When a dispatcher may next take it; a claim pushes it forward by a lease, so a
    -- dispatcher that dies mid-delivery leaves the message to be taken again.
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ,
    last_error      TEXT,
    UNIQUE (transaction_id, endpoint_id)
);
CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_messages_tenant_time ON webhook_messages (tenant_id, created_at);

CREATE TABLE webhook_attempts (
    id              BIGSERIAL PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES webhook_messages (id),
    attempted_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    url             TEXT NOT NULL,
    -- NULL when no response came (timeout, refused connection, blocked address).
    status_code     SMALLINT,
    latency_ms      DOUBLE PRECISION NOT NULL,
    error           TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed', 'endpoint_disabled'))
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, attempted_at);

-- What retention (or a data-subject request) removed, and when: the audit trail.
CREATE TABLE purges (
    transaction_id  BIGINT PRIMARY KEY REFERENCES transactions (id),
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id),
    reason          TEXT NOT NULL CHECK (reason IN ('retention', 'request')),
    objects_deleted INTEGER NOT NULL,
    purged_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
