use liveness_capture::{Keyring, Policy};
use liveness_models::EngineConfig;
use liveness_pipeline::config::{env_or, DatabaseConfig, QueueConfig, StorageConfig};
use liveness_pipeline::pseudonym::PseudonymKey;
use liveness_pipeline::storage::at_rest::StorageKeys;
use liveness_webhooks::DispatcherConfig;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the worker reads from the environment, parsed once at start-up.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub database: DatabaseConfig,
    pub queue: QueueConfig,
    pub storage: StorageConfig,
    /// LIVENESS_CAPTURE_KEYS / LIVENESS_CAPTURE_KEY_DIR: private keys that open packets
    pub capture_keys: Keyring,
    /// LIVENESS_STORAGE_KEYS (required): `KEY_ID=BASE64URL` entries, 32 bytes each, the
    /// current first; they encrypt the selfie the worker keeps (pipeline/src/at_rest.rs)
    pub storage_keys: StorageKeys,
    /// LIVENESS_WEBHOOK_KEYS (required): `KEY_ID=BASE64URL` entries, the current first; they
    /// open the webhook endpoints' sealed signing secrets (webhooks/src/secrets.rs)
    pub webhook_keys: StorageKeys,
    /// LIVENESS_PSEUDONYM_KEY (required): `KEY_ID=BASE64URL`; retention replaces `citizen_id`
    /// and `device` with keyed pseudonyms (pipeline/src/pseudonym.rs)
    pub pseudonym_key: PseudonymKey,
    /// LIVENESS_MODEL_DIR, default models/assets
    pub model_dir: PathBuf,
    /// LIVENESS_THREADS, default 0 (one inference thread per core).
    /// LIVENESS_MODEL_SETS, default empty: model sets (models/manifest.toml) served besides
    /// the default, comma-separated; a tenant whose set this worker does not serve gets a
    /// failed verdict (711) naming it. LIVENESS_ALLOW_RESTRICTED_MODELS, default false: needed
    /// to load a set with a model whose licence is marked restricted (logged as a warning).
    pub engine: EngineConfig,
    /// LIVENESS_PREFETCH, default 0 (= twice the inference threads): jobs in flight at once
    pub prefetch: u16,
    /// LIVENESS_RETRY_HORIZON_SECS, default 900: how long after its first transient failure
    /// (a dependency down) a job keeps being retried through the delay queues
    /// (LIVENESS_RETRY_DELAYS) before it gets a failed verdict (712)
    pub retry_horizon: Duration,
    /// Capture policy. LIVENESS_TEST_TRUSTED_CAMERAS and LIVENESS_TEST_IGNORED_AUTOMATION
    /// (comma-separated; default empty) relax it for end-to-end rigs only: a browser's fake
    /// camera and its automation flag. Never set them in production.
    pub policy: Policy,
    /// WEBHOOK_DISPATCHER, default true: this worker also delivers webhook events (any number
    /// of workers may; see WEBHOOK_* for the dispatcher's own settings)
    pub webhooks: Option<DispatcherConfig>,
    /// RETENTION_INTERVAL_SECS, default 3600 (0 turns it off, e.g. when cron runs
    /// `liveness purge --expired`): how often captures past their retention are purged
    pub retention_interval: Duration,
    /// RETENTION_BATCH, default 500: transactions purged per round trip to the database
    pub retention_batch: i64,
    /// LIVENESS_MAX_JOB_PIXELS, default 48000000 (eight 6-megapixel frames): the frames of one
    /// job decoded at most; later frames, and any whose JPEG header disagrees with the size
    /// the packet declares, are never decoded (capture/src/admission.rs)
    pub max_job_pixels: u64,
    /// LIVENESS_WORKER_LISTEN_ADDR, default 127.0.0.1:9091 (empty: none): `/healthz`,
    /// `/readyz` and `/metrics`
    pub listen_addr: Option<String>,
    /// LIVENESS_RECONCILE_INTERVAL_SECS, default 30 (0 turns it off): how often one worker
    /// looks for stranded transactions and deletes expired sessions and digests
    pub reconcile_interval: Duration,
    /// LIVENESS_RECONCILE_GRACE_SECS, default 60: a `queued` transaction without the broker's
    /// confirm this long after intake gets its job published again
    pub reconcile_grace: Duration,
    /// LIVENESS_STALE_PROCESSING_SECS, default the retry horizon + 300: a `processing`
    /// transaction untouched this long has lost its job, which is published again
    pub stale_processing: Duration,
    /// LIVENESS_SESSION_KEEP_SECS, default 3600: capture sessions are deleted this long after
    /// they expire (and only once no pending capture can need them)
    pub session_keep: Duration,
    /// LIVENESS_DIGEST_KEEP_SECS, default 86400: replay digests are kept this long beyond
    /// the capture-age window plus the allowed clock skew
    pub digest_keep: Duration,
    /// HOUSEKEEPING_BATCH, default 1000: rows deleted or republished per statement
    pub housekeeping_batch: i64,
}

impl WorkerConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let engine = EngineConfig {
            threads: env_or("LIVENESS_THREADS", 0)?,
            model_sets: list("LIVENESS_MODEL_SETS")?,
            allow_restricted_models: env_or("LIVENESS_ALLOW_RESTRICTED_MODELS", false)?,
            ..EngineConfig::default()
        };
        let retry_horizon = secs("LIVENESS_RETRY_HORIZON_SECS", 900)?;
        Ok(Self {
            database: DatabaseConfig::from_env()?,
            queue: QueueConfig::from_env()?,
            storage: StorageConfig::from_env()?,
            capture_keys: Keyring::from_env()?,
            storage_keys: StorageKeys::from_env()?,
            webhook_keys: StorageKeys::from_env_var("LIVENESS_WEBHOOK_KEYS")?,
            pseudonym_key: PseudonymKey::from_env()?,
            model_dir: env_or("LIVENESS_MODEL_DIR", PathBuf::from("models/assets"))?,
            engine,
            prefetch: env_or("LIVENESS_PREFETCH", 0)?,
            retry_horizon,
            policy: Policy {
                trusted_camera_labels: list("LIVENESS_TEST_TRUSTED_CAMERAS")?,
                ignored_automation_flags: list("LIVENESS_TEST_IGNORED_AUTOMATION")?,
                ..Policy::default()
            },
            webhooks: if env_or("WEBHOOK_DISPATCHER", true)? {
                Some(DispatcherConfig::from_env()?)
            } else {
                None
            },
            retention_interval: Duration::from_secs(env_or("RETENTION_INTERVAL_SECS", 3600)?),
            retention_batch: env_or("RETENTION_BATCH", 500)?,
            max_job_pixels: env_or(
                "LIVENESS_MAX_JOB_PIXELS",
                liveness_capture::DEFAULT_MAX_JOB_PIXELS,
            )?,
            listen_addr: Some(env_or(
                "LIVENESS_WORKER_LISTEN_ADDR",
                "127.0.0.1:9091".to_string(),
            )?)
            .filter(|a| !a.is_empty()),
            reconcile_interval: secs("LIVENESS_RECONCILE_INTERVAL_SECS", 30)?,
            reconcile_grace: secs("LIVENESS_RECONCILE_GRACE_SECS", 60)?,
            stale_processing: secs(
                "LIVENESS_STALE_PROCESSING_SECS",
                retry_horizon.as_secs() + 300,
            )?,
            session_keep: secs("LIVENESS_SESSION_KEEP_SECS", 3600)?,
            digest_keep: secs("LIVENESS_DIGEST_KEEP_SECS", 86400)?,
            housekeeping_batch: env_or("HOUSEKEEPING_BATCH", 1000)?,
        })
    }
}

fn secs(name: &'static str, default: u64) -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(env_or(name, default)?))
}

fn list(name: &'static str) -> anyhow::Result<Vec<String>> {
    let text: String = env_or(name, String::new())?;
    Ok(text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}
