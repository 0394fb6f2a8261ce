-- Leases that state updates check, and the in-flight count behind the per-endpoint cap.

ALTER TABLE webhook_messages
    -- Bumped by every claim: the lease token. A dispatcher writes the outcome of its attempt
    -- only while the message still carries the number its claim set, so one whose lease ran
    -- out (and was claimed again) cannot overwrite a newer state. Redelivery on demand and
    -- disabling the endpoint bump it too, which voids the leases in flight.
    ADD COLUMN claims BIGINT NOT NULL DEFAULT 0,
    -- Until when the current claim holds the message; NULL once its attempt is recorded.
    -- `next_attempt_at` alone cannot tell a message in flight from one waiting for a retry.
    ADD COLUMN leased_until TIMESTAMPTZ;

-- Messages in flight per receiver URL, counted by every claim.
CREATE INDEX webhook_messages_leased ON webhook_messages (url)
    WHERE status = 'pending' AND leased_until IS NOT NULL;

-- An attempt whose lease had passed to a later claim: the request was made (so it is kept),
-- but it changed nothing.
ALTER TABLE webhook_attempts ADD COLUMN superseded BOOLEAN NOT NULL DEFAULT false;
