-- `liveness tenant rotate-secret`: the secret before the last rotation keeps working until
-- `previous_secret_expires_at`, so a client can switch without a window of refused logins.
ALTER TABLE tenants ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE tenants ADD COLUMN previous_secret_expires_at TIMESTAMPTZ;
