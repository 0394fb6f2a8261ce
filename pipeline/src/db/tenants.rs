//! Tenants (API clients): credentials and per-tenant settings.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tenant {
    pub id: i64,
    pub name: String,
    pub client_id: String,
    pub face_threshold: f64,
    pub retention_days: i32,
    pub webhook_allowed_hosts: Vec<String>,
    /// Web origins whose pages may use capture tokens (CORS).
    pub allowed_origins: Vec<String>,
    /// The model set judging the tenant's faces; `None` is the engine's default set.
    pub model_set: Option<String>,
}

/// Enabled tenants matching `$filter` (a string literal: the query macros take only literals,
/// joined with `+`).
macro_rules! select_enabled {
    ($filter:literal, $($arg:expr),+ $(,)?) => {
        sqlx::query_as!(
            Tenant,
            "SELECT id, name, client_id, face_threshold, retention_days, webhook_allowed_hosts, allowed_origins, model_set
             FROM tenants WHERE " + $filter + " AND disabled_at IS NULL",
            $($arg),+
        )
    };
}

/// A new tenant and its secret, which is stored only as a hash: show it once.
pub struct Created {
    pub tenant: Tenant,
    pub client_secret: String,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub async fn create(
    pool: &PgPool,
    name: &str,
    face_threshold: f64,
) -> Result<Created, sqlx::Error> {
    let client_id = format!("lvc_{}", random_token(12));
    let client_secret = format!("lvs_{}", random_token(24));
    let secret = client_secret.clone();
    let hash = tokio::task::spawn_blocking(move || hash_secret(&secret))
        .await
        .expect("hashing task does not panic");
    let tenant = sqlx::query_as!(
        Tenant,
        "INSERT INTO tenants (name, client_id, secret_hash, face_threshold) VALUES ($1, $2, $3, $4)
         RETURNING id, name, client_id, face_threshold, retention_days, webhook_allowed_hosts, allowed_origins, model_set",
        name,
        client_id,
        hash,
        face_threshold
    )
    .fetch_one(pool)
    .await?;
    Ok(Created {
        tenant,
        client_secret,
    })
}

/// A client secret's PHC hash (Argon2, default parameters). Slow on purpose: call it off the
/// async threads.
pub fn hash_secret(secret: &str) -> String {
    let salt =
        SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 hashing of a short secret")
        .to_string()
}

/// Whether `secret` matches a hash of [`hash_secret`]. As slow as hashing.
pub fn verify_secret(hash: &str, secret: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

/// What a login is checked against: the current secret's hash and, during a rotation's
/// grace, the previous one's.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredSecret {
    pub id: i64,
    pub hash: String,
    pub previous_hash: Option<String>,
}

impl StoredSecret {
    /// Whether `secret` is the current secret or, within its grace, the previous one. As slow
    /// as hashing (twice during a grace, for a wrong secret): call it off the async threads.
    pub fn verify(&self, secret: &str) -> bool {
        verify_secret(&self.hash, secret)
            || self
                .previous_hash
                .as_deref()
                .is_some_and(|previous| verify_secret(previous, secret))
    }
}

/// The secrets of the enabled tenant with this client id.
pub async fn secret_hash(
    pool: &PgPool,
    client_id: &str,
) -> Result<Option<StoredSecret>, sqlx::Error> {
    sqlx::query_as!(
        StoredSecret,
        "SELECT id, secret_hash AS hash,
                CASE WHEN previous_secret_expires_at > now() THEN previous_secret_hash END AS previous_hash
         FROM tenants WHERE client_id = $1 AND disabled_at IS NULL",
        client_id
    )
    .fetch_optional(pool)
    .await
}

/// The tenant whose credentials these are, if they are valid and the tenant is enabled.
pub async fn authenticate(
    pool: &PgPool,
    client_id: &str,
    secret: &str,
) -> Result<Option<Tenant>, sqlx::Error> {
    let Some(stored) = secret_hash(pool, client_id).await? else {
        return Ok(None);
    };
    let secret = secret.to_string();
    let id = stored.id;
    // Argon2 is deliberately slow: keep it off the async threads.
    let ok = tokio::task::spawn_blocking(move || stored.verify(&secret))
        .await
        .expect("verification task does not panic");
    if ok {
        get(pool, id).await
    } else {
        Ok(None)
    }
}

/// Gives the tenant a new client secret (returned: show it once). The old one keeps working
/// for `grace` (none when zero), then never again; a second rotation ends the first one's
/// grace. Access tokens already issued stay valid until they expire (disable the tenant to
/// end them at once).
pub async fn rotate_secret(
    pool: &PgPool,
    id: i64,
    grace: std::time::Duration,
) -> Result<String, sqlx::Error> {
    let client_secret = format!("lvs_{}", random_token(24));
    let secret = client_secret.clone();
    let hash = tokio::task::spawn_blocking(move || hash_secret(&secret))
        .await
        .expect("hashing task does not panic");
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let rotated = sqlx::query!(
        "UPDATE tenants SET
             previous_secret_hash = CASE WHEN $3 > interval '0' THEN secret_hash END,
             previous_secret_expires_at = CASE WHEN $3 > interval '0' THEN now() + $3 END,
             secret_hash = $2
         WHERE id = $1",
        id,
        hash,
        // chrono's Duration encodes as an INTERVAL; the macros only name PgInterval for one.
        grace as _,
    )
    .execute(pool)
    .await?;
    if rotated.rows_affected() == 0 {
        return Err(sqlx::Error::RowNotFound);
    }
    Ok(client_secret)
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Tenant>, sqlx::Error> {
    select_enabled!("id = $1", id).fetch_optional(pool).await
}

pub async fn by_name(pool: &PgPool, name: &str) -> Result<Option<Tenant>, sqlx::Error> {
    select_enabled!("name = $1", name)
        .fetch_optional(pool)
        .await
}

/// Disables or re-enables the tenant named `name`; its id, if there is one. A trigger
/// announces the change on [`crate::db::TENANT_CHANNEL`].
pub async fn set_disabled(
    pool: &PgPool,
    name: &str,
    disabled: bool,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE tenants SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
         WHERE name = $1 RETURNING id",
        name,
        disabled
    )
    .fetch_optional(pool)
    .await
}

/// Every disabled tenant's id.
pub async fn disabled_ids(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM tenants WHERE disabled_at IS NOT NULL")
        .fetch_all(pool)
        .await
}

/// Hosts a per-request `webhook_url` may target; stored lower case, compared exactly.
pub async fn set_webhook_allowed_hosts(
    pool: &PgPool,
    id: i64,
    hosts: &[String],
) -> Result<(), sqlx::Error> {
    let hosts: Vec<String> = hosts
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    sqlx::query!(
        "UPDATE tenants SET webhook_allowed_hosts = $2 WHERE id = $1",
        id,
        &hosts
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Chooses the tenant's model set (`None`: the default set) and the P(real) threshold its
/// faces must reach, together: a set's scores are only meaningful against its own threshold.
pub async fn set_model_set(
    pool: &PgPool,
    id: i64,
    model_set: Option<&str>,
    face_threshold: f64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE tenants SET model_set = $2, face_threshold = $3 WHERE id = $1",
        id,
        model_set,
        face_threshold
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_face_threshold(pool: &PgPool, id: i64, threshold: f64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE tenants SET face_threshold = $2 WHERE id = $1",
        id,
        threshold
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_retention_days(pool: &PgPool, id: i64, days: i32) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE tenants SET retention_days = $2 WHERE id = $1",
        id,
        days
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Replaces the web origins allowed to use this tenant's capture tokens; `origins` must
/// already be in their canonical form ([`crate::db::origins::canonical`]).
pub async fn set_allowed_origins(
    pool: &PgPool,
    id: i64,
    origins: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE tenants SET allowed_origins = $2 WHERE id = $1",
        id,
        origins
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether any enabled tenant lets pages of this origin in: a CORS preflight carries no
/// token, so it can only be answered for the union of the lists (the request that follows
/// is checked against its own tenant's list).
pub async fn origin_allowed_by_any(pool: &PgPool, origin: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM tenants WHERE $1 = ANY (allowed_origins) AND disabled_at IS NULL) AS "allowed!""#,
        origin
    )
    .fetch_one(pool)
    .await
}
