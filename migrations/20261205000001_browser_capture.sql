-- Browser capture without the tenant's secret (capture tokens), and CORS per tenant.

-- Web origins (scheme://host[:port]) whose pages may call the capture routes with a capture
-- token. Empty: no cross-origin browser access at all.
ALTER TABLE tenants ADD COLUMN allowed_origins TEXT[] NOT NULL DEFAULT '{}';

-- A capture token submits one capture: set when its submission is accepted (cleared again if
-- storing or queueing that submission fails, so the browser may retry).
ALTER TABLE capture_sessions ADD COLUMN submitted_at TIMESTAMPTZ;

-- The session whose capture token made the submission (its nonce; NULL: a tenant token). The
-- worker then accepts only that session's nonce in the packet. No foreign key: sessions are
-- short-lived rows that housekeeping may delete long before the transaction goes.
ALTER TABLE transactions ADD COLUMN capture_session TEXT;
