-- The model set (models/manifest.toml [[model_set]]) that judges a tenant's faces; NULL is the
-- engine's default set. Each verdict records the set that ran in
-- transactions.model_versions->>'model_set', so reports can split outcomes by set.
ALTER TABLE tenants ADD COLUMN model_set TEXT
    CHECK (model_set IS NULL OR model_set ~ '^[a-z0-9][a-z0-9-]{0,62}$');
