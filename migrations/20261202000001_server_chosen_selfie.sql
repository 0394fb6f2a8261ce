-- The selfie is the server's choice now: the middle sealed frame, which the worker keeps
-- encrypted at rest (pipeline/src/at_rest.rs) for the tenant's back end to fetch. A `selfie`
-- form field is only compared with it, by digest, and no longer stored.
-- Objects that clients sent as `selfie` before this change keep their key here until
-- retention or a data-subject request deletes them with the rest of the capture.
ALTER TABLE transactions RENAME COLUMN selfie_key TO legacy_selfie_key;
-- The worker's sealed copy of the chosen frame (NULL until judged, or when the packet did
-- not open).
ALTER TABLE transactions ADD COLUMN selfie_key TEXT;
-- SHA-256 of the `selfie` form field, when one was sent.
ALTER TABLE transactions ADD COLUMN selfie_sha256 BYTEA;
