//! The DET curve PNG: BPCER against APCER, one line per model set, both axes on the normal
//! deviate (probit) scale customary for DET plots, where curves of normally distributed
//! scores become straight lines and the low error rates that matter get room. Text is drawn
//! with the bundled font through ab_glyph, as in `report/chart.rs`: no fontconfig or system
//! fonts.

use super::metrics::DetPoint;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use std::path::Path;

pub const SIZE: (u32, u32) = (800, 600);
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-Latin1.ttf");
/// Opaque, so every pixel a curve fills has exactly its colour (the tests count them). Sets
/// beyond the sixth reuse them in turn.
pub const CURVE_COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
/// Rates of 0 and 1 have no normal deviate: they are drawn at the edge of this range.
const CLAMP: (f64, f64) = (0.001, 0.999);
const TICKS: [f64; 9] = [0.001, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9];

/// The inverse of the standard normal CDF for `p` in (0, 1), by Acklam's rational
/// approximation (relative error below 1.15e-9): std has no erf to invert.
pub fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    const LOW: f64 = 0.02425;
    let poly = |coefficients: &[f64], x: f64| coefficients.iter().fold(0.0, |acc, c| acc * x + c);
    // The tails: a rational function of sqrt(-2 ln p), odd around 0.5.
    let tail = |p: f64| {
        let q = (-2.0 * p.ln()).sqrt();
        poly(&C, q) / (poly(&D, q) * q + 1.0)
    };
    if p < LOW {
        tail(p)
    } else if p > 1.0 - LOW {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    }
}

/// An axis of rates on the normal deviate scale. Values stay rates (ticks and labels are
/// rates too); only the mapping to pixels goes through the probit.
struct ProbitAxis;

impl ProbitAxis {
    /// A little beyond the clamp, so that a curve pinned there does not run along the frame.
    const RANGE: (f64, f64) = (0.0005, 0.9995);
}

impl Ranged for ProbitAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, rate: &f64, limit: (i32, i32)) -> i32 {
        let (low, high) = (probit(Self::RANGE.0), probit(Self::RANGE.1));
        let z = probit(rate.clamp(CLAMP.0, CLAMP.1));
        let fraction = (z - low) / (high - low);
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Only the labelled ticks get a grid line: finer ones would crowd the low rates.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            TICKS.to_vec()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        Self::RANGE.0..Self::RANGE.1
    }
}

type DrawError = Box<dyn std::error::Error + Send + Sync>;

/// One curve per (model set, sweep); an empty sweep (a class without faces) draws no line
/// but keeps its legend entry, so the set is not silently missing.
pub fn draw(path: &Path, curves: &[(String, Vec<DetPoint>)]) -> anyhow::Result<()> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| anyhow::anyhow!("the bundled font does not load"))?;
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    plot(&mut pixels, curves).map_err(anyhow::Error::msg)?;
    image::RgbImage::from_raw(SIZE.0, SIZE.1, pixels)
        .expect("the buffer has the size of the image")
        .save_with_format(path, image::ImageFormat::Png)?;
    Ok(())
}

fn plot(pixels: &mut [u8], curves: &[(String, Vec<DetPoint>)]) -> Result<(), DrawError> {
    let root = BitMapBackend::with_buffer(pixels, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("DET curve", ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(ProbitAxis, ProbitAxis)?;
    let label = |rate: &f64| format!("{}%", super::render::hundredths(*rate));
    chart
        .configure_mesh()
        .x_label_formatter(&label)
        .y_label_formatter(&label)
        .x_desc("APCER (highest over attack types)")
        .y_desc("BPCER")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    for (i, (name, points)) in curves.iter().enumerate() {
        let colour = CURVE_COLOURS[i % CURVE_COLOURS.len()];
        let line = points.iter().map(|p| (p.apcer_max, p.bpcer));
        chart
            .draw_series(LineSeries::new(line, colour.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    // Upper right: a DET curve runs from the upper left to the lower right, bowed towards
    // the origin, so that corner stays clear.
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::metrics::{det_points, tests::hand_run};

    #[test]
    fn probit_matches_known_quantiles() {
        let known = [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.05, -1.6448536269514722),
            (0.001, -3.090232306167813),
            (0.999, 3.090232306167813),
            (0.8413447460685429, 1.0),
            (1e-6, -4.753424308822899),
        ];
        for (p, z) in known {
            assert!(
                (probit(p) - z).abs() < 1e-8,
                "probit({p}) = {} != {z}",
                probit(p)
            );
        }
    }

    #[test]
    fn draws_one_coloured_line_per_set() {
        let path = std::env::temp_dir().join(format!("det-{}.png", std::process::id()));
        let hand = det_points(&hand_run());
        // The same errors as the hand run, shifted: a second, different curve.
        let other = hand
            .iter()
            .map(|p| DetPoint {
                bpcer: p.bpcer * 0.5,
                ..*p
            })
            .collect();
        let curves = [("hand".to_string(), hand), ("other".to_string(), other)];
        draw(&path, &curves).unwrap();
        let image = image::open(&path).unwrap().to_rgb8();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(image.dimensions(), SIZE);
        for colour in &CURVE_COLOURS[..2] {
            let rgb = image::Rgb([colour.0, colour.1, colour.2]);
            let n = image.pixels().filter(|&&p| p == rgb).count();
            assert!(n >= 100, "{colour:?} covers {n} pixels");
        }
    }

    #[test]
    fn an_empty_curve_does_not_panic() {
        let path = std::env::temp_dir().join(format!("det-empty-{}.png", std::process::id()));
        let curves = [
            ("empty".to_string(), vec![]),
            ("hand".to_string(), det_points(&hand_run())),
        ];
        draw(&path, &curves).unwrap();
        draw(&path, &[]).unwrap();
        std::fs::remove_file(&path).unwrap();
    }
}
