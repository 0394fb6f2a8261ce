//! Reads of the reporting views (migrations/20261128000003_reporting.sql, docs/reporting.md),
//! for `liveness report`. Each function takes the same [`Filter`]; the SQL is fixed and every
//! filter is a `$n IS NULL OR ...` clause, so that sqlx checks each query at compile time.
//! View columns are all nullable to PostgreSQL: `"col!"` marks those the views never leave
//! NULL.
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

/// One daily view's rows: `$select` (its columns and `FROM`) and `$order` are string literals
/// around the filter, $1 tenant id, $2 tenant name, $3 since, $4 until.
macro_rules! daily {
    ($pool:expr, $filter:expr, $out:path, $select:literal, $order:literal) => {{
        let tenant = $filter.tenant.as_ref();
        sqlx::query_as!(
            $out,
            $select
                + " WHERE ($1::bigint IS NULL OR tenant_id = $1)
                     AND ($2::text IS NULL OR tenant_name = $2)
                     AND ($3::timestamptz IS NULL OR day >= ($3::timestamptz AT TIME ZONE 'UTC')::date)
                     AND ($4::timestamptz IS NULL OR day < ($4::timestamptz AT TIME ZONE 'UTC'))"
                + $order,
            tenant.and_then(TenantRef::id),
            tenant.and_then(TenantRef::name),
            $filter.since,
            $filter.until,
        )
        .fetch_all($pool)
        .await
    }};
}

/// Fails when the filter names a tenant that does not exist, so that a typo does not read
/// as a quiet day.
pub async fn check_tenant(pool: &PgPool, filter: &Filter) -> Result<(), ReportError> {
    let Some(tenant) = &filter.tenant else {
        return Ok(());
    };
    let found = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1 OR name = $2) AS "found!""#,
        tenant.id(),
        tenant.name()
    )
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
    sqlx::query_as!(
        FraudAttempt,
        r#"SELECT transaction_id AS "transaction_id!", tenant_id AS "tenant_id!",
                  tenant_name AS "tenant_name!", submitted_at AS "submitted_at!",
                  decided_at AS "decided_at!", fired AS "fired!",
                  face_probability, capture_score, capture_probability
           FROM fraud_attempts
           WHERE ($1::bigint IS NULL OR tenant_id = $1)
             AND ($2::text IS NULL OR tenant_name = $2)
             AND ($3::timestamptz IS NULL OR decided_at >= $3)
             AND ($4::timestamptz IS NULL OR decided_at < $4)
           ORDER BY decided_at, transaction_id"#,
        tenant.and_then(TenantRef::id),
        tenant.and_then(TenantRef::name),
        filter.since,
        filter.until,
    )
    .fetch_all(pool)
    .await
}

pub async fn daily_outcomes(
    pool: &PgPool,
    filter: &Filter,
) -> Result<Vec<DailyOutcome>, sqlx::Error> {
    daily!(
        pool,
        filter,
        DailyOutcome,
        r#"SELECT day AS "day!", tenant_id AS "tenant_id!", tenant_name AS "tenant_name!",
                  outcome AS "outcome!", error_code, verdicts AS "verdicts!"
           FROM daily_outcomes"#,
        " ORDER BY day, tenant_id, error_code NULLS FIRST"
    )
}

pub async fn daily_attack_rate(
    pool: &PgPool,
    filter: &Filter,
) -> Result<Vec<DailyAttackRate>, sqlx::Error> {
    daily!(
        pool,
        filter,
        DailyAttackRate,
        r#"SELECT day AS "day!", tenant_id AS "tenant_id!", tenant_name AS "tenant_name!",
                  total AS "total!", live AS "live!", attacks AS "attacks!",
                  rejected_quality AS "rejected_quality!", service_failures AS "service_failures!",
                  attack_rate AS "attack_rate!"
           FROM daily_attack_rate"#,
        " ORDER BY day, tenant_id"
    )
}

pub async fn capture_signal_frequencies(
    pool: &PgPool,
    filter: &Filter,
) -> Result<Vec<SignalFrequency>, sqlx::Error> {
    daily!(
        pool,
        filter,
        SignalFrequency,
        r#"SELECT day AS "day!", tenant_id AS "tenant_id!", tenant_name AS "tenant_name!",
                  signal AS "signal!", evaluated AS "evaluated!", failed AS "failed!",
                  fired AS "fired!", failure_rate AS "failure_rate!"
           FROM capture_signal_frequencies"#,
        " ORDER BY day, tenant_id, failed DESC, signal"
    )
}

pub async fn daily_latency(
    pool: &PgPool,
    filter: &Filter,
) -> Result<Vec<DailyLatency>, sqlx::Error> {
    daily!(
        pool,
        filter,
        DailyLatency,
        r#"SELECT day AS "day!", tenant_id AS "tenant_id!", tenant_name AS "tenant_name!",
                  verdicts AS "verdicts!", latency_p50_ms AS "latency_p50_ms!",
                  latency_p95_ms AS "latency_p95_ms!", latency_p99_ms AS "latency_p99_ms!",
                  worker_p50_ms, worker_p95_ms, worker_p99_ms
           FROM daily_latency"#,
        " ORDER BY day, tenant_id"
    )
}
