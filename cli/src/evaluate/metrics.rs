//! ISO/IEC 30107-3 figures for one model set over a labelled image set. Pure: the caller runs
//! the engine and hands over one [`Sample`] per image.
//!
//! Two views: `pad` judges the presentation attack detector alone (only images where a face
//! was found have a score), `pipeline` judges what a client would see (every image, including
//! those rejected before the models ran). A presentation is bona fide when score >= threshold.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    BonaFide,
    /// The attack type (presentation attack instrument species), e.g. "print", "replay".
    Attack(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Valid,
    /// The rejection code, 700..=715.
    Rejected(u16),
}

impl Outcome {
    /// The key in `pipeline.outcomes`: "valid" or the code ("715"). Codes all have three
    /// digits, so the string order of a BTreeMap is their numeric order.
    pub fn key(&self) -> String {
        match self {
            Outcome::Valid => "valid".to_string(),
            Outcome::Rejected(code) => code.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub file: String,
    pub label: Label,
    /// Fused P(real) of the model set, present when a face was found (PAD-only view); None when
    /// the image had no face or could not be read. A NaN score counts as None.
    pub score: Option<f64>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct SetRun {
    pub model_set: String,
    pub threshold: f64,
    pub samples: Vec<Sample>,
}

/// The APCER operating points reported as `bpcer_at_apcer`.
pub const APCER_TARGETS: [f64; 3] = [0.01, 0.05, 0.10];

/// One value for bona fide and one per attack type (every type in the run, even at zero). A
/// struct rather than one map keyed by label, so bona fide comes first and cannot collide
/// with an attack type's name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Split<T> {
    pub bona_fide: T,
    pub attacks: BTreeMap<String, T>,
}

/// Every figure for one model set. Stable across runs (sorted maps, rounded floats, no
/// timings), so two summaries of the same data diff clean. Rates are rounded to 6 decimals;
/// thresholds are rounded *down* to 6 decimals, so that the sample a threshold was taken from
/// stays accepted and the BPCER reported with it holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub model_set: String,
    pub threshold: f64,
    pub samples: Split<usize>,
    /// Samples with a score: the population of the `pad` view.
    pub faces_found: Split<usize>,
    pub pad: Pad,
    pub pipeline: Pipeline,
}

/// Each rate is None (JSON null) when its denominator is zero, so no NaN reaches the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pad {
    /// Per attack type: attacks with score >= threshold / attacks of the type with a face.
    pub apcer: BTreeMap<String, Option<f64>>,
    /// The highest APCER over the types with a face (ISO 30107-3's APCER_AP).
    pub apcer_max: Option<f64>,
    /// Bona fide with score < threshold / bona fide with a face.
    pub bpcer: Option<f64>,
    /// (apcer_max + bpcer) / 2.
    pub acer: Option<f64>,
    /// With APCER the worst type's: one type the models never catch (six masks, say) keeps
    /// it near that type's APCER whatever the others do.
    pub eer: Eer,
    /// With every attack in one pool, the EER most papers report; it hides a weak type
    /// behind the common ones.
    pub eer_pooled: Eer,
    pub bpcer_at_apcer: Vec<BpcerAtApcer>,
    /// Present when a BPCER target was asked for.
    pub recommended: Option<Recommended>,
}

/// The swept threshold where apcer_max and bpcer are closest (ties: the lower threshold),
/// and `rate` their mean there: scores are discrete, so the two curves rarely meet exactly,
/// and the mean stays between the two errors it stands for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Eer {
    pub rate: Option<f64>,
    pub threshold: Option<f64>,
}

/// The lowest BPCER of any threshold keeping apcer_max <= `apcer_target`, with the highest
/// threshold achieving it (higher lets no more attacks through).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BpcerAtApcer {
    pub apcer_target: f64,
    pub bpcer: Option<f64>,
    pub threshold: Option<f64>,
}

/// The highest threshold whose BPCER <= `bpcer_target`: of the thresholds meeting the target,
/// the highest lets the fewest attacks through.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommended {
    pub bpcer_target: f64,
    pub threshold: Option<f64>,
    pub bpcer: Option<f64>,
    pub apcer_max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    /// Per label, outcome key ("valid", "715") to count.
    pub outcomes: Split<BTreeMap<String, usize>>,
    /// Attacks answered valid / all attacks of the type, with or without a face.
    pub apcer: BTreeMap<String, Option<f64>>,
    pub apcer_max: Option<f64>,
    /// Bona fide not answered valid / all bona fide.
    pub bpcer: Option<f64>,
}

/// One threshold of the sweep behind the DET curve. `apcer_max` is the highest APCER over the
/// attack types at this threshold (APCER_AP), not that of all attacks pooled, so that a type
/// the detector misses is not hidden behind a large, easy one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DetPoint {
    pub threshold: f64,
    pub apcer_max: f64,
    pub bpcer: f64,
}

pub fn summarize(run: &SetRun, bpcer_target: Option<f64>) -> Summary {
    let scores = scores(run);
    let swept = sweep(&scores);
    let eer = equal_error(&swept);
    let pooled = Split {
        bona_fide: scores.bona_fide.clone(),
        attacks: BTreeMap::from([(
            String::new(),
            scores.attacks.values().flatten().copied().collect(),
        )]),
    };
    let eer_pooled = equal_error(&sweep(&sorted(pooled)));
    let bpcer_at_apcer = APCER_TARGETS
        .iter()
        .map(|&target| {
            let mut best: Option<(f64, f64)> = None;
            for (t, a, b) in swept.iter().filter_map(|&(t, a, b)| Some((t, a?, b?))) {
                // `<=`: the BPCER rises along the sweep, so an equal one is a higher threshold.
                if a <= target && best.is_none_or(|(_, lowest)| b <= lowest) {
                    best = Some((t, b));
                }
            }
            let (threshold, bpcer) = best.map_or((None, None), |(t, b)| (Some(t), Some(b)));
            BpcerAtApcer {
                apcer_target: target,
                bpcer: bpcer.map(round6),
                threshold: threshold.map(floor6),
            }
        })
        .collect();
    let recommended = bpcer_target.map(|target| {
        let point = swept.iter().rfind(|p| p.2.is_some_and(|b| b <= target));
        Recommended {
            bpcer_target: target,
            threshold: point.map(|p| floor6(p.0)),
            bpcer: point.and_then(|p| p.2).map(round6),
            apcer_max: point.and_then(|p| p.1).map(round6),
        }
    });
    let apcer = apcer(&scores, run.threshold);
    let (apcer_max, bpcer) = (max_rate(apcer.values()), bpcer(&scores, run.threshold));
    let pad = Pad {
        apcer: apcer.into_iter().map(|(k, v)| (k, v.map(round6))).collect(),
        apcer_max: apcer_max.map(round6),
        bpcer: bpcer.map(round6),
        acer: apcer_max.zip(bpcer).map(|(a, b)| round6((a + b) / 2.0)),
        eer,
        eer_pooled,
        bpcer_at_apcer,
        recommended,
    };
    Summary {
        model_set: run.model_set.clone(),
        threshold: round6(run.threshold),
        samples: split(run, |n: &mut usize, _| *n += 1),
        faces_found: split(run, |n: &mut usize, s| {
            *n += usize::from(score(s).is_some())
        }),
        pad,
        pipeline: pipeline(run),
    }
}

/// Every distinct score as a threshold, then one above the highest so that everything is
/// rejected, in increasing order. Empty unless both classes have a face: a DET curve needs both.
pub fn det_points(run: &SetRun) -> Vec<DetPoint> {
    let points = sweep(&scores(run)).into_iter();
    // Which class is empty is the same at every threshold: all points or none.
    points
        .map_while(|(threshold, a, b)| {
            Some(DetPoint {
                threshold,
                apcer_max: a?,
                bpcer: b?,
            })
        })
        .collect()
}

fn score(sample: &Sample) -> Option<f64> {
    sample.score.filter(|s| !s.is_nan())
}

/// Sorted, so each rate at a threshold is a binary search and a sweep over thousands of
/// thresholds stays cheap.
fn scores(run: &SetRun) -> Split<Vec<f64>> {
    sorted(split(run, |list: &mut Vec<f64>, s| list.extend(score(s))))
}

fn sorted(mut scores: Split<Vec<f64>>) -> Split<Vec<f64>> {
    scores.bona_fide.sort_by(f64::total_cmp);
    scores
        .attacks
        .values_mut()
        .for_each(|list| list.sort_by(f64::total_cmp));
    scores
}

/// Folds the samples of each label into a value; every attack type gets an entry.
fn split<T: Default>(run: &SetRun, mut add: impl FnMut(&mut T, &Sample)) -> Split<T> {
    let mut split = Split::<T>::default();
    for s in &run.samples {
        match &s.label {
            Label::BonaFide => add(&mut split.bona_fide, s),
            Label::Attack(kind) => add(split.attacks.entry(kind.clone()).or_default(), s),
        }
    }
    split
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// For the JSON: 0.1 + 0.2 prints 0.3, not 0.30000000000000004.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The offset keeps a threshold already on the grid (0.6 * 1e6 may land a hair below
/// 600000) from dropping a step.
fn floor6(x: f64) -> f64 {
    (x * 1e6 + 1e-7).floor() / 1e6
}

fn max_rate<'a>(rates: impl IntoIterator<Item = &'a Option<f64>>) -> Option<f64> {
    rates.into_iter().flatten().copied().reduce(f64::max)
}

fn pipeline(run: &SetRun) -> Pipeline {
    let outcomes = split(run, |m: &mut BTreeMap<String, usize>, s| {
        *m.entry(s.outcome.key()).or_default() += 1
    });
    let valid = |m: &BTreeMap<String, usize>| m.get("valid").copied().unwrap_or(0);
    let all = |m: &BTreeMap<String, usize>| m.values().sum::<usize>();
    let apcer: BTreeMap<String, Option<f64>> = (outcomes.attacks.iter())
        .map(|(kind, m)| (kind.clone(), ratio(valid(m), all(m)).map(round6)))
        .collect();
    let b = &outcomes.bona_fide;
    Pipeline {
        apcer_max: max_rate(apcer.values()),
        bpcer: ratio(all(b) - valid(b), all(b)).map(round6),
        apcer,
        outcomes,
    }
}

fn accepted(sorted: &[f64], threshold: f64) -> usize {
    sorted.len() - sorted.partition_point(|&s| s < threshold)
}

fn bpcer(scores: &Split<Vec<f64>>, threshold: f64) -> Option<f64> {
    let all = scores.bona_fide.len();
    ratio(all - accepted(&scores.bona_fide, threshold), all)
}

fn apcer(scores: &Split<Vec<f64>>, threshold: f64) -> BTreeMap<String, Option<f64>> {
    (scores.attacks.iter())
        .map(|(kind, list)| (kind.clone(), ratio(accepted(list, threshold), list.len())))
        .collect()
}

fn equal_error(sweep: &[(f64, Option<f64>, Option<f64>)]) -> Eer {
    let mut eer = Eer::default();
    let mut closest = f64::INFINITY;
    for (t, a, b) in sweep.iter().filter_map(|&(t, a, b)| Some((t, a?, b?))) {
        // Equal fractions can differ in the last bit once subtracted: treat those as ties.
        if (a - b).abs() < closest - 1e-12 {
            closest = (a - b).abs();
            eer = Eer {
                rate: Some(round6((a + b) / 2.0)),
                threshold: Some(floor6(t)),
            };
        }
    }
    eer
}

/// (threshold, apcer_max, bpcer) at every distinct score and just above the highest.
fn sweep(scores: &Split<Vec<f64>>) -> Vec<(f64, Option<f64>, Option<f64>)> {
    let mut thresholds: Vec<f64> = scores.bona_fide.clone();
    thresholds.extend(scores.attacks.values().flatten());
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    if let Some(&max) = thresholds.last() {
        // A whole step of the 6-decimal grid, so the reported threshold is above it too.
        thresholds.push(max + 1e-6);
    }
    (thresholds.into_iter())
        .map(|t| (t, max_rate(apcer(scores, t).values()), bpcer(scores, t)))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
