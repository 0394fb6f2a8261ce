//! Reads of the reporting views (migrations/20261128000003_reporting.sql, docs/reporting.md),
//! for `liveness report`. Each function takes the same [`Filter`]; the SQL is fixed and every
//! filter is a `$n IS NULL OR ...` clause, since sqlx only takes static queries.
//!
//! Time ranges are half-open, `[since, until)`. Fraud attempts are filtered on `decided_at`;
//! the daily views hold whole UTC days, and a day is kept when it overlaps the range.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRef {
    Id(i64),
    Name(String),
}

impl TenantRef {
    /// A number is an id, anything else a name.
    pub fn parse(text: &str) -> Self {
        text.parse()
            .map(Self::Id)
            .unwrap_or_else(|_| Self::Name(text.to_string()))
    }

    fn id(&self) -> Option<i64> {
        match self {
            Self::Id(id) => Some(*id),
            Self::Name(_) => None,
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Self::Id(_) => None,
            Self::Name(name) => Some(name),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant: Option<TenantRef>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no tenant {0:?}")]
    UnknownTenant(TenantRef),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct FraudAttempt {
    pub transaction_id: i64,
    pub tenant_id: i64,
    pub tenant_name: String,
    pub submitted_at: DateTime<Utc>,
    pub decided_at: DateTime<Utc>,
    /// The capture signal that failed first, or `face_model`.
    pub fired: String,
    pub face_probability: Option<f64>,
    pub capture_score: Option<f64>,
    pub capture_probability: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct DailyOutcome {
    pub day: NaiveDate,
    pub tenant_id: i64,
    pub tenant_name: String,
    /// `live`, `attack`, `rejected_quality` or `service_failure`.
    pub outcome: String,
    pub error_code: Option<i16>,
    pub verdicts: i64,
}

#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct DailyAttackRate {
    pub day: NaiveDate,
    pub tenant_id: i64,
    pub tenant_name: String,
    pub total: i64,
    pub live: i64,
    pub attacks: i64,
    pub rejected_quality: i64,
    pub service_failures: i64,
    pub attack_rate: f64,
}

#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct SignalFrequency {
    pub day: NaiveDate,
    pub tenant_id: i64,
    pub tenant_name: String,
    pub signal: String,
    pub evaluated: i64,
    pub failed: i64,
    pub fired: i64,
    pub failure_rate: f64,
}

#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct DailyLatency {
    pub day: NaiveDate,
    pub tenant_id: i64,
    pub tenant_name: String,
    pub verdicts: i64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub worker_p50_ms: Option<f64>,
    pub worker_p95_ms: Option<f64>,
    pub worker_p99_ms: Option<f64>,
}

/// The filter of the daily views: $1 tenant id, $2 tenant name, $3 since, $4 until.
macro_rules! daily_filter {
    () => {
        " WHERE ($1::bigint IS NULL OR tenant_id = $1)
            AND ($2::text IS NULL OR tenant_name = $2)
            AND ($3::timestamptz IS NULL OR day >= ($3::timestamptz AT TIME ZONE 'UTC')::date)
            AND ($4::timestamptz IS NULL OR day < ($4::timestamptz AT TIME ZONE 'UTC'))"
    };
}

async fn daily<T>(pool: &PgPool, sql: &'static str, filter: &Filter) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let tenant = filter.tenant.as_ref();
    sqlx::query_as::<_, T>(sql)
        .bind(tenant.and_then(TenantRef::id))
        .bind(tenant.and_then(TenantRef::name))
        .bind(filter.since)
        .bind(filter.until)
        .fetch_all(pool)
        .await
}

/// Fails when the filter names a tenant that does not exist, so that a typo does not read
/// as a quiet day.
pub async fn check_tenant(pool: &PgPool, filter: &Filter) -> Result<(), ReportError> {
    let Some(tenant) = &filter.tenant else {
        return Ok(());
    };
    let found: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1 OR name = $2)")
            .bind(tenant.id())
            .bind(tenant.name())
            .fetch_one(pool)
            .await?;
    if found {
        Ok(())
    } else {
        Err(ReportError::UnknownTenant(tenant.clone()))
    }
}

pub async fn fraud_attempts(
    pool: &PgPool,
    filter: &Filter,
) -> Result<Vec<FraudAttempt>, sqlx::Error> {
    let tenant = filter.tenant.as_ref();
    sqlx::query_as::<_, FraudAttempt>(
        "SELECT transaction_id, tenant_id, tenant_name, submitted_at, decided_at, fired,
                face_probability, capture_score, capture_probability
         FROM fraud_attempts
         WHERE ($1::bigint IS NULL OR tenant_id = $1)
           AND ($2::text IS NULL OR tenant_name = $2)
           AND ($3::timestamptz IS NULL OR decided_at >= $3)
           AND ($4::timestamptz IS NULL OR decided_at < $4)
         ORDER BY decided_at, transaction_id",
    )
    .bind(tenant.and_then(TenantRef::id))
    .bind(tenant.and_then(TenantRef::name))
    .bind(filter.since)
    .bind(filter.until)
    .fetch_all(pool)
    .await
}

pub async fn daily_outcomes(
    pool: &PgPool,
    filter: &Filter,
) -> Result<Vec<DailyOutcome>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT day, tenant_id, tenant_name, outcome, error_code, verdicts FROM daily_outcomes",
        daily_filter!(),
        " ORDER BY day, tenant_id, error_code NULLS FIRST"
    );
    daily(pool, SQL, filter).await
}

pub async fn daily_attack_rate(
    pool: &PgPool,
    filter: &Filter,
) -> Result<Vec<DailyAttackRate>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT day, tenant_id, tenant_name, total, live, attacks, rejected_quality,
                service_failures, attack_rate
         FROM daily_attack_rate",
        daily_filter!(),
        " ORDER BY day, tenant_id"
    );
    daily(pool, SQL, filter).await
}

pub async fn capture_signal_frequencies(
    pool: &PgPool,
    filter: &Filter,
) -> Result<Vec<SignalFrequency>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT day, tenant_id, tenant_name, signal, evaluated, failed, fired, failure_rate
         FROM capture_signal_frequencies",
        daily_filter!(),
        " ORDER BY day, tenant_id, failed DESC, signal"
    );
    daily(pool, SQL, filter).await
}

pub async fn daily_latency(
    pool: &PgPool,
    filter: &Filter,
) -> Result<Vec<DailyLatency>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT day, tenant_id, tenant_name, verdicts, latency_p50_ms, latency_p95_ms,
                latency_p99_ms, worker_p50_ms, worker_p95_ms, worker_p99_ms
         FROM daily_latency",
        daily_filter!(),
        " ORDER BY day, tenant_id"
    );
    daily(pool, SQL, filter).await
}
