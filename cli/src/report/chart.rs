//! The `--chart` PNG: verdicts per day as bars (left axis), attack rate as a line (right
//! axis). Text is drawn with a bundled font (assets/, DejaVu Sans subset) through ab_glyph,
//! so rendering needs no fontconfig or system fonts.

use chrono::{Days, NaiveDate, Utc};
use liveness_pipeline::db::reports::{DailyAttackRate, Filter};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

const SIZE: (u32, u32) = (1000, 500);
const BAND: i32 = 64;
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-Latin1.ttf");
// Opaque colours, exact in every pixel they fill (cli/tests/report.rs measures the bars).
const BARS: RGBColor = RGBColor(120, 165, 205);
const LINE: RGBColor = RGBColor(200, 30, 45);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day {
    pub day: NaiveDate,
    pub total: i64,
    pub attacks: i64,
}

impl Day {
    fn rate_percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.attacks as f64 / self.total as f64
        }
    }
}

/// Every tenant summed per day, with the days between that had no verdicts as zeros so that
/// the time axis is even. Without data, the range's first day (or today) stands alone.
pub fn per_day(rows: &[DailyAttackRate], filter: &Filter) -> Vec<Day> {
    let mut sums: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
    for row in rows {
        let sum = sums.entry(row.day).or_default();
        sum.0 += row.total;
        sum.1 += row.attacks;
    }
    let fallback = filter.since.unwrap_or_else(Utc::now).date_naive();
    let first = sums.keys().next().copied().unwrap_or(fallback);
    let last = sums.keys().next_back().copied().unwrap_or(first);
    let mut days = Vec::new();
    let mut day = first;
    while day <= last {
        let (total, attacks) = sums.get(&day).copied().unwrap_or_default();
        days.push(Day {
            day,
            total,
            attacks,
        });
        day = day + Days::new(1);
    }
    days
}

type DrawError = Box<dyn std::error::Error + Send + Sync>;

pub fn draw(path: &Path, title: &str, days: &[Day]) -> anyhow::Result<()> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| anyhow::anyhow!("the bundled font does not load"))?;
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    plot(&mut pixels, title, days).map_err(anyhow::Error::msg)?;
    image::RgbImage::from_raw(SIZE.0, SIZE.1, pixels)
        .expect("the buffer has the size of the image")
        .save_with_format(path, image::ImageFormat::Png)?;
    Ok(())
}

fn plot(pixels: &mut [u8], title: &str, days: &[Day]) -> Result<(), DrawError> {
    let root = BitMapBackend::with_buffer(pixels, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    // Title and legend get a band of their own above the plot, where no bar or point can
    // run under them.
    let (band, body) = root.split_vertically(BAND);
    band.draw(&Text::new(title, (16, 10), ("sans-serif", 20).into_font()))?;
    let key =
        |x: i32, text: &str| Text::new(text.to_string(), (x, 38), ("sans-serif", 14).into_font());
    band.draw(&Rectangle::new([(16, 38), (30, 50)], BARS.filled()))?;
    band.draw(&key(36, "verdicts (left axis)"))?;
    band.draw(&PathElement::new(
        [(190, 44), (204, 44)],
        LINE.stroke_width(2),
    ))?;
    band.draw(&key(210, "attack rate (right axis)"))?;

    let n = days.len() as i32;
    let max_total = days.iter().map(|d| d.total).max().unwrap_or(0).max(1);
    let max_rate = days.iter().map(Day::rate_percent).fold(0.0, f64::max);
    // Headroom above the tallest bar and the highest rate, so neither touches the frame.
    let rate_top = (max_rate * 1.1).clamp(5.0, 100.0);
    let mut chart = ChartBuilder::on(&body)
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .right_y_label_area_size(56)
        .build_cartesian_2d(
            (0..n - 1).into_segmented(),
            0..(max_total + max_total / 10 + 1),
        )?
        .set_secondary_coord((0..n - 1).into_segmented(), 0.0..rate_top);
    let label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => days
            .get(*i as usize)
            .map(|d| d.day.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(days.len().min(10))
        .x_label_formatter(&label)
        .y_desc("verdicts")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("attack rate (%)")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let bars = Histogram::vertical(&*chart)
        .style(BARS.filled())
        // About an eighth of each day's slot of the ~850 px plot stays white on either side.
        .margin((850 / (8 * days.len().max(1))).min(8) as u32)
        .data(days.iter().enumerate().map(|(i, d)| (i as i32, d.total)));
    chart.draw_series(bars)?;
    // A day without verdicts has no rate (not a rate of 0): the line skips it.
    let points: Vec<(SegmentValue<i32>, f64)> = days
        .iter()
        .enumerate()
        .filter(|(_, d)| d.total > 0)
        .map(|(i, d)| (SegmentValue::CenterOf(i as i32), d.rate_percent()))
        .collect();
    chart.draw_secondary_series(LineSeries::new(points.clone(), LINE.stroke_width(2)))?;
    chart.draw_secondary_series(points.into_iter().map(|p| Circle::new(p, 3, LINE.filled())))?;
    root.present()?;
    Ok(())
}
