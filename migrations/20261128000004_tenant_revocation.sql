-- A tenant disabled (or re-enabled) by any means, the CLI or plain SQL, is announced at once,
-- so that producers stop honouring its access tokens before they expire.
CREATE FUNCTION notify_tenant_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('liveness_tenants', NEW.id::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenants_disabled_changed
    AFTER UPDATE OF disabled_at ON tenants
    FOR EACH ROW
    WHEN (OLD.disabled_at IS DISTINCT FROM NEW.disabled_at)
    EXECUTE FUNCTION notify_tenant_change();
