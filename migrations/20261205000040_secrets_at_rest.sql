-- Webhook signing secrets are kept encrypted (AES-256-GCM under LIVENESS_WEBHOOK_KEYS, see
-- webhooks/src/secrets.rs). The key is not in the database, so existing rows cannot be
-- encrypted here: the plaintext columns stay for rows written before, and every producer and
-- worker seals those rows at start-up (and nulls the plaintext) before serving.
ALTER TABLE webhook_endpoints
    ALTER COLUMN secret DROP NOT NULL,
    ADD COLUMN secret_sealed BYTEA,
    ADD COLUMN previous_secret_sealed BYTEA,
    -- The LIVENESS_WEBHOOK_KEYS key id both sealed secrets are under, so a key rotation
    -- (`liveness keys rotate-webhook-key`) finds the rows it still has to reseal.
    ADD COLUMN secret_key_id TEXT,
    ADD CONSTRAINT webhook_endpoints_secret_present
        CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL),
    ADD CONSTRAINT webhook_endpoints_sealed_with_key
        CHECK (secret_sealed IS NULL OR secret_key_id IS NOT NULL);

COMMENT ON COLUMN webhook_endpoints.secret IS
    'legacy plaintext, NULL once sealed into secret_sealed';
COMMENT ON COLUMN webhook_endpoints.previous_secret IS
    'legacy plaintext, NULL once sealed into previous_secret_sealed';

-- Purged transactions from before keyed pseudonyms hold unkeyed digests (`sha256:`), which
-- the worker's retention round replaces (pipeline/src/retention.rs); this finds what is left.
CREATE INDEX transactions_legacy_pseudonyms ON transactions (id)
    WHERE purged_at IS NOT NULL AND (citizen_id LIKE 'sha256:%' OR device LIKE 'sha256:%');
