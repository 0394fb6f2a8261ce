//! `liveness report`: the reporting views (docs/reporting.md) as a table, CSV or JSON, and
//! optionally a chart of attack rate and volume per day.

mod chart;

use anyhow::Context as _;
use chrono::{DateTime, Days, NaiveDate, Utc};
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use liveness_pipeline::config::DatabaseConfig;
use liveness_pipeline::db::reports::{self, Filter, TenantRef};
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Which view to print.
    #[arg(long, value_enum, default_value_t = View::Daily)]
    view: View,
    /// Only this tenant: its id, or its name.
    #[arg(long)]
    tenant: Option<String>,
    /// From this day (UTC) or RFC 3339 instant on, e.g. 2026-11-01.
    #[arg(long, value_parser = since)]
    since: Option<DateTime<Utc>>,
    /// Up to this day (UTC, included) or RFC 3339 instant (excluded).
    #[arg(long, value_parser = until)]
    until: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also draw attack rate and volume per day into this PNG (1000 x 500 px).
    #[arg(long, value_name = "OUT.png")]
    chart: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum View {
    /// Per day and tenant: total, outcomes and attack rate (`daily_attack_rate`).
    Daily,
    /// Per day, tenant, outcome and rejection code (`daily_outcomes`).
    Outcomes,
    /// Every verdict rejected as an attack, with what fired (`fraud_attempts`).
    Fraud,
    /// Per day, tenant and capture signal: evaluated, failed, fired
    /// (`capture_signal_frequencies`).
    Signals,
    /// Per day and tenant: submit-to-verdict and worker percentiles (`daily_latency`).
    Latency,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

fn day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{text:?} is neither a date (2026-11-01) nor RFC 3339"))
}

fn since(text: &str) -> Result<DateTime<Utc>, String> {
    match day(text) {
        Some(d) => Ok(d.and_time(Default::default()).and_utc()),
        None => instant(text),
    }
}

/// A day given as `--until` is included: the range ends at the next midnight.
fn until(text: &str) -> Result<DateTime<Utc>, String> {
    match day(text) {
        Some(d) => Ok(d
            .checked_add_days(Days::new(1))
            .ok_or("date out of range")?
            .and_time(Default::default())
            .and_utc()),
        None => instant(text),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let (Some(s), Some(u)) = (args.since, args.until) {
        anyhow::ensure!(s < u, "--since must come before --until");
    }
    let filter = Filter {
        tenant: args.tenant.as_deref().map(TenantRef::parse),
        since: args.since,
        until: args.until,
    };
    crate::database::runtime()?.block_on(async {
        let db = liveness_pipeline::db::connect(&DatabaseConfig::from_env()?).await?;
        reports::check_tenant(&db, &filter).await?;
        let context = "reading the reporting views (is the database migrated?)";
        let out = match args.view {
            View::Daily => render(
                &reports::daily_attack_rate(&db, &filter)
                    .await
                    .context(context)?,
                args.format,
            ),
            View::Outcomes => render(
                &reports::daily_outcomes(&db, &filter)
                    .await
                    .context(context)?,
                args.format,
            ),
            View::Fraud => render(
                &reports::fraud_attempts(&db, &filter)
                    .await
                    .context(context)?,
                args.format,
            ),
            View::Signals => render(
                &reports::capture_signal_frequencies(&db, &filter)
                    .await
                    .context(context)?,
                args.format,
            ),
            View::Latency => render(
                &reports::daily_latency(&db, &filter)
                    .await
                    .context(context)?,
                args.format,
            ),
        }?;
        std::io::stdout().write_all(out.as_bytes())?;
        if let Some(path) = &args.chart {
            let days = reports::daily_attack_rate(&db, &filter)
                .await
                .context(context)?;
            let title = match &args.tenant {
                Some(t) => format!("Attack rate and volume per day: {t}"),
                None => "Attack rate and volume per day: all tenants".to_string(),
            };
            chart::draw(path, &title, &chart::per_day(&days, &filter))
                .with_context(|| format!("drawing {}", path.display()))?;
        }
        anyhow::Ok(())
    })
}

/// Column names and rows as JSON values: one path for every view and format. The column
/// names come from a default row, so an empty result still has its header.
fn columns<T: Serialize + Default>(rows: &[T]) -> anyhow::Result<(Vec<String>, Vec<Vec<Value>>)> {
    let header = match serde_json::to_value(T::default())? {
        Value::Object(map) => map.keys().cloned().collect::<Vec<_>>(),
        _ => anyhow::bail!("a report row serialises to an object"),
    };
    let rows = rows
        .iter()
        .map(|row| match serde_json::to_value(row) {
            Ok(Value::Object(map)) => Ok(map.into_iter().map(|(_, v)| v).collect()),
            Ok(_) => anyhow::bail!("a report row serialises to an object"),
            Err(e) => Err(e.into()),
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((header, rows))
}

fn render<T: Serialize + Default>(rows: &[T], format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return Ok(serde_json::to_string_pretty(rows)? + "\n");
    }
    let (header, cells) = columns(rows)?;
    if format == Format::Csv {
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record(&header)?;
        for row in &cells {
            csv.write_record(row.iter().map(|v| plain(v, None)))?;
        }
        return Ok(String::from_utf8(csv.into_inner()?)?);
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(&header);
    for row in &cells {
        table.add_row(row.iter().map(|v| plain(v, Some(3))));
    }
    for (i, column) in table.column_iter_mut().enumerate() {
        if cells.iter().any(|row| row[i].is_number()) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    Ok(format!("{table}\n"))
}

/// A cell as text: null is empty; fractions are rounded to `decimals` when given.
fn plain(value: &Value, decimals: Option<usize>) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_f64(), decimals) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(f), Some(d)) => format!("{f:.d$}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}
