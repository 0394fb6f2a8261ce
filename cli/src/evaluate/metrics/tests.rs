//! Hand-computed figures for `summarize` and `det_points`.

use super::*;
use serde_json::json;

/// Samples as "label score outcome" separated by commas; "-" for no score.
pub(crate) fn run(threshold: f64, samples: &str) -> SetRun {
    let sample = |(i, text): (usize, &str)| {
        let [label, score, outcome] = text.split_whitespace().collect::<Vec<_>>()[..] else {
            panic!("{text:?}: label score outcome")
        };
        Sample {
            file: format!("{i}.jpg"),
            label: match label {
                "bona_fide" => Label::BonaFide,
                kind => Label::Attack(kind.to_string()),
            },
            score: score.parse().ok(),
            outcome: outcome.parse().map_or(Outcome::Valid, Outcome::Rejected),
        }
    };
    let samples = samples.split(',').filter(|s| !s.trim().is_empty());
    let samples = samples.enumerate().map(sample).collect();
    SetRun {
        model_set: "hand".into(),
        threshold,
        samples,
    }
}

pub(crate) fn hand_run() -> SetRun {
    run(
        0.5,
        "bona_fide 0.9 valid, bona_fide 0.8 valid, bona_fide 0.6 valid, \
        bona_fide 0.3 715, bona_fide - 702, print 0.7 valid, print 0.2 715, print 0.1 715, \
        print - 708, replay 0.55 715, replay 0.05 715",
    )
}

#[test]
fn hand_computed_summary() {
    // At 0.5: print accepts 0.7 -> 1/3; replay accepts 0.55 -> 1/2; apcer_max 1/2. Bona fide
    // rejected: 0.3 -> 1/4. ACER = (1/2 + 1/4) / 2 = 0.375.
    // Sweep (threshold: apcer_max, bpcer): 0.05: 1, 0 | 0.1: 1, 0 | 0.2: 2/3, 0 |
    // 0.3: 1/2, 0 | 0.55: 1/2, 1/4 | 0.6: 1/3, 1/4 | 0.7: 1/3, 1/2 | 0.8: 0, 1/2 |
    // 0.9: 0, 3/4 | 0.900001: 0, 1.
    // EER: closest at 0.6 (|1/3 - 1/4| = 1/12), rate (1/3 + 1/4) / 2 = 7/24 = 0.291667.
    // apcer_max <= 1, 5 or 10 % only from 0.8 on: lowest BPCER 1/2, at 0.8 (0.9: 3/4).
    // BPCER <= 1/4 up to 0.6 (0.6 accepts the bona fide 0.6), apcer_max there 1/3.
    // BPCER 0 up to 0.3, apcer_max there 1/2.
    // Pipeline: print valid 1 of 4, replay 0 of 2; bona fide not valid 2 of 5.
    let expected = json!({
        "model_set": "hand", "threshold": 0.5,
        "samples": {"bona_fide": 5, "attacks": {"print": 4, "replay": 2}},
        "faces_found": {"bona_fide": 4, "attacks": {"print": 3, "replay": 2}},
        "pad": {
            "apcer": {"print": 0.333333, "replay": 0.5}, "apcer_max": 0.5, "bpcer": 0.25,
            "acer": 0.375, "eer": {"rate": 0.291667, "threshold": 0.6},
            // Pooled attacks [0.7, 0.55, 0.2, 0.1, 0.05] against bona fide [0.9, 0.8, 0.6,
            // 0.3]: at 0.6, APCER 1/5 (0.7) and BPCER 1/4 (0.3) are closest: (0.2 + 0.25) / 2.
            "eer_pooled": {"rate": 0.225, "threshold": 0.6},
            "bpcer_at_apcer": [
                {"apcer_target": 0.01, "bpcer": 0.5, "threshold": 0.8},
                {"apcer_target": 0.05, "bpcer": 0.5, "threshold": 0.8},
                {"apcer_target": 0.1, "bpcer": 0.5, "threshold": 0.8}],
            "recommended": {"bpcer_target": 0.25, "threshold": 0.6, "bpcer": 0.25, "apcer_max": 0.333333}
        },
        "pipeline": {
            "outcomes": {"bona_fide": {"702": 1, "715": 1, "valid": 3},
                "attacks": {"print": {"708": 1, "715": 2, "valid": 1}, "replay": {"715": 2}}},
            "apcer": {"print": 0.25, "replay": 0.0}, "apcer_max": 0.25, "bpcer": 0.4
        }
    });
    let summary = summarize(&hand_run(), Some(0.25));
    assert_eq!(serde_json::to_value(&summary).unwrap(), expected);
    let zero = summarize(&hand_run(), Some(0.0)).pad.recommended.unwrap();
    assert_eq!(
        (zero.threshold, zero.bpcer, zero.apcer_max),
        (Some(0.3), Some(0.0), Some(0.5))
    );
    assert_eq!(summarize(&hand_run(), None).pad.recommended, None);
    let again = serde_json::to_string(&summarize(&hand_run(), Some(0.25))).unwrap();
    assert_eq!(serde_json::to_string(&summary).unwrap(), again);
}

#[test]
fn det_points_sweep_every_score() {
    let points = det_points(&hand_run());
    let t: Vec<f64> = points.iter().map(|p| p.threshold).collect();
    assert_eq!(t[..9], [0.05, 0.1, 0.2, 0.3, 0.55, 0.6, 0.7, 0.8, 0.9]);
    assert!(t.len() == 10 && t[9] > 0.9);
    assert_eq!((points[9].apcer_max, points[9].bpcer), (0.0, 1.0));
    assert_eq!((points[2].apcer_max, points[2].bpcer), (2.0 / 3.0, 0.0));
}

#[test]
fn bpcer_at_apcer_picks_the_lowest_bpcer_under_each_target() {
    // Bona fide [0.95, 0.85, 0.5], ten print attacks topped by 0.9 and 0.8. APCER <= 10 %
    // from 0.85 on (0.9 accepted: 1/10), BPCER there 1/3 (0.5 rejected). APCER <= 1 % or
    // 5 % only above 0.9: at 0.95, BPCER 2/3.
    let run = run(
        0.5,
        "bona_fide 0.95 valid, bona_fide 0.85 valid, bona_fide 0.5 valid, \
        print 0.9 valid, print 0.8 valid, print 0.4 715, print 0.3 715, print 0.3 715, \
        print 0.2 715, print 0.2 715, print 0.1 715, print 0.1 715, print 0.0 715",
    );
    let at = summarize(&run, None).pad.bpcer_at_apcer;
    let at: Vec<_> = at.iter().map(|p| (p.bpcer, p.threshold)).collect();
    let (strict, ten) = ((Some(0.666667), Some(0.95)), (Some(0.333333), Some(0.85)));
    assert_eq!(at, [strict, strict, ten]);
}

#[test]
fn empty_classes_give_nulls() {
    let s = summarize(&run(0.5, ""), Some(0.1));
    assert_eq!(
        (s.pad.apcer_max, s.pad.bpcer, s.pad.acer),
        (None, None, None)
    );
    assert_eq!(s.pad.eer, Eer::default());
    assert!(s
        .pad
        .bpcer_at_apcer
        .iter()
        .all(|p| p.bpcer.is_none() && p.threshold.is_none()));
    assert_eq!(s.pad.recommended.unwrap().threshold, None);
    assert_eq!((s.pipeline.apcer_max, s.pipeline.bpcer), (None, None));
    assert!(det_points(&run(0.5, "")).is_empty());
    // Bona fide only, and an attack type none of whose images had a face.
    let only = run(0.5, "bona_fide 0.7 valid, bona_fide 0.4 715, mask - 704");
    let s = summarize(&only, Some(0.0));
    assert_eq!(s.pad.apcer, BTreeMap::from([("mask".to_string(), None)]));
    let pad = (s.pad.apcer_max, s.pad.bpcer, s.pad.acer, s.pad.eer.rate);
    assert_eq!(pad, (None, Some(0.5), None, None));
    let rec = s.pad.recommended.clone().unwrap();
    assert_eq!(
        (rec.threshold, rec.bpcer, rec.apcer_max),
        (Some(0.4), Some(0.0), None)
    );
    assert_eq!(
        (s.pipeline.apcer_max, s.pipeline.bpcer),
        (Some(0.0), Some(0.5))
    );
    assert!(det_points(&only).is_empty());
    let json = serde_json::to_string(&s).unwrap();
    assert!(
        !json.contains("NaN") && json.contains(r#""apcer_max":null"#),
        "{json}"
    );
}

#[test]
fn thresholds_round_down_rates_to_nearest() {
    assert_eq!(
        (floor6(0.6), floor6(0.1234569), floor6(0.3)),
        (0.6, 0.123456, 0.3)
    );
    assert_eq!((round6(0.1 + 0.2), round6(2.0 / 3.0)), (0.3, 0.666667));
}
