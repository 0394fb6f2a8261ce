-- Nothing stranded: the reconciler finds transactions whose job never reached the broker, or
-- whose worker is gone, and housekeeping deletes sessions and replay digests no pending
-- capture can still need.

-- When the producer had the broker's confirm for the job. NULL on a `queued` row older than
-- the reconciler's grace means the producer died between the insert and the publish.
ALTER TABLE transactions ADD COLUMN published_at TIMESTAMPTZ;
-- Rows from before this column: their job was published (or their row deleted on failure).
UPDATE transactions SET published_at = created_at;
-- When the reconciler last queued the job again. A reconciled capture may have been judged as
-- a replay of the client's own retry (the client never saw this transaction's id): reports
-- can tell such rows by this column.
ALTER TABLE transactions ADD COLUMN reconciled_at TIMESTAMPTZ;

CREATE INDEX transactions_pending ON transactions (created_at)
    WHERE status IN ('queued', 'processing');

CREATE INDEX capture_digests_age ON capture_digests (first_seen_at);

-- A transaction reopened by `liveness jobs redrive --reopen` after a failed verdict gets a
-- second event, `liveness.completed`: one message per event type and endpoint, not one per
-- transaction and endpoint. (A second failure sends no second `liveness.failed`.)
ALTER TABLE webhook_messages DROP CONSTRAINT webhook_messages_transaction_id_endpoint_id_key;
ALTER TABLE webhook_messages ADD CONSTRAINT webhook_messages_one_per_event
    UNIQUE (transaction_id, endpoint_id, event_type);
