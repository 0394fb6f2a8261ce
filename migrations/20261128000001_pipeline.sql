-- Tenants, capture sessions, transactions and verdicts: the pipeline's state, and the
-- reporting surface (plain SQL over `verdicts`).

CREATE TABLE tenants (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    client_id       TEXT NOT NULL UNIQUE,
    -- Argon2id PHC string of the client secret; the secret itself is shown once, at creation.
    secret_hash     TEXT NOT NULL,
    -- Fused face P(real) below this is an attack (715); the contract's default is 0.5.
    face_threshold  DOUBLE PRECISION NOT NULL DEFAULT 0.5 CHECK (face_threshold BETWEEN 0 AND 1),
    webhook_url     TEXT,
    webhook_secret  TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    disabled_at     TIMESTAMPTZ
);

-- Single-use nonces handed to capture libraries; sealed into the packet.
CREATE TABLE capture_sessions (
    nonce           TEXT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ,
    used_by         BIGINT
);
CREATE INDEX capture_sessions_expiry ON capture_sessions (expires_at);

CREATE TYPE transaction_status AS ENUM ('queued', 'processing', 'done', 'failed');

CREATE TABLE transactions (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           BIGINT NOT NULL REFERENCES tenants (id),
    status              transaction_status NOT NULL DEFAULT 'queued',
    s3_bucket           TEXT NOT NULL,
    packet_key          TEXT NOT NULL,
    selfie_key          TEXT,
    packet_sha256       BYTEA NOT NULL,
    packet_bytes        INTEGER NOT NULL,
    citizen_id          TEXT,
    device              TEXT,
    idempotency_key     TEXT,
    -- SHA-256 over the request's fields, to tell a retried request from a reused key.
    request_fingerprint BYTEA,
    attempts            INTEGER NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX transactions_tenant_time ON transactions (tenant_id, created_at);

CREATE TABLE verdicts (
    transaction_id      BIGINT PRIMARY KEY REFERENCES transactions (id),
    tenant_id           BIGINT NOT NULL REFERENCES tenants (id),
    valid               BOOLEAN NOT NULL,
    error_code          SMALLINT CHECK (error_code BETWEEN 700 AND 715),
    message             TEXT,
    error_details       JSONB,
    face_probability    DOUBLE PRECISION,
    capture_score       DOUBLE PRECISION,
    capture_probability DOUBLE PRECISION,
    -- The first capture signal that failed (NULL when all passed): what fired, for reports.
    failed_signal       TEXT,
    -- Every capture signal with weight, outcome and detail. Never sent to clients.
    capture_signals     JSONB NOT NULL DEFAULT '[]',
    -- Per frame: faces, gates, model scores, timings.
    frames              JSONB NOT NULL DEFAULT '[]',
    model_versions      JSONB NOT NULL DEFAULT '{}',
    timings_ms          JSONB NOT NULL DEFAULT '{}',
    decided_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX verdicts_time_code ON verdicts (decided_at, error_code);
CREATE INDEX verdicts_tenant_time ON verdicts (tenant_id, decided_at);

-- Digests of packets and frames already submitted (replay detection), first owner kept.
CREATE TABLE capture_digests (
    kind            TEXT NOT NULL CHECK (kind IN ('packet', 'frame')),
    digest          BYTEA NOT NULL,
    transaction_id  BIGINT NOT NULL,
    first_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, digest)
);
