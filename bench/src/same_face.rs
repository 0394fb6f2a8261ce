//! Calibration of the `same_face` capture check: how the engine's faces compare between
//! consecutive frames of real-looking bursts of one person (shift, scale, landmark shape,
//! aligned-crop correlation), and how alike the aligned faces of two different people are.
//! The floor in `Policy::min_face_similarity` must sit below the first and above the second.

use crate::table::Table;
use anyhow::Context;
use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;
use liveness_capture::continuity::{compare, Comparison};
use liveness_capture::simulate::jittered_burst;
use liveness_capture::{FaceGeometry, Policy};
use liveness_models::{Engine, EngineConfig, ModelPaths};
use liveness_worker::faces::subject_faces;
use std::path::PathBuf;

// The samples with a face: the same four the engine benchmark times.
use crate::engine::FACE_IMAGES as FACES;

#[derive(clap::Args)]
pub struct Args {
    /// Bursts per sample and condition.
    #[arg(long, default_value_t = 20)]
    bursts: usize,
    /// Frames per burst.
    #[arg(long, default_value_t = 3)]
    frames: usize,
    #[arg(long, env = "LIVENESS_MODEL_DIR", default_value = "models/assets")]
    models: PathBuf,
    /// Write the tables as Markdown to this file as well.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// How a burst is disturbed: what a hand-held camera does between frames.
struct Condition {
    name: &'static str,
    shift_px: f32,
    scale: f32,
    /// Exposure drift: each frame's brightness scaled by up to ± this.
    gain: f32,
}

const CONDITIONS: [Condition; 3] = [
    Condition {
        name: "noise only",
        shift_px: 0.0,
        scale: 0.0,
        gain: 0.0,
    },
    Condition {
        name: "natural: ±4 px, ±5 % scale",
        shift_px: 4.0,
        scale: 0.05,
        gain: 0.0,
    },
    Condition {
        name: "rough: ±12 px, ±10 % scale, ±15 % exposure",
        shift_px: 12.0,
        scale: 0.10,
        gain: 0.15,
    },
];

fn with_gain(jpeg: &[u8], gain: f32) -> Vec<u8> {
    let mut image = image::load_from_memory(jpeg).expect("own JPEG").to_rgb8();
    image
        .iter_mut()
        .for_each(|c| *c = (*c as f32 * gain).round().clamp(0.0, 255.0) as u8);
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&image)
        .expect("in-memory encode");
    out
}

/// The subject faces of one burst, decoded.
fn faces_of(engine: &Engine, jpegs: &[Vec<u8>]) -> (Vec<RgbImage>, Vec<Option<FaceGeometry>>) {
    let refs: Vec<&[u8]> = jpegs.iter().map(Vec::as_slice).collect();
    let decoded = engine.decode_many(&refs);
    let analyses = engine.analyze_decoded(engine.default_set(), &decoded);
    let images: Vec<RgbImage> = decoded.into_iter().map(|d| d.expect("own JPEG")).collect();
    let views: Vec<Option<&RgbImage>> = images.iter().map(Some).collect();
    let mut geometry = vec![None; images.len()];
    for (i, _, g) in subject_faces(&analyses, &views) {
        geometry[i] = Some(g);
    }
    (images, geometry)
}

#[derive(Default)]
struct Spread {
    values: Vec<f64>,
}

impl Spread {
    fn min(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
    fn median(&self) -> f64 {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let engine = Engine::load(
        &ModelPaths::in_dir(&args.models),
        EngineConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ..EngineConfig::default()
        },
    )
    .context("loading models (run scripts/fetch-models)")?;
    let samples: Vec<RgbImage> = FACES
        .iter()
        .map(|name| {
            let bytes = std::fs::read(args.models.join(name))
                .with_context(|| format!("{name} (run scripts/fetch-models)"))?;
            Ok(liveness_models::decode::decode_rgb(&bytes)?)
        })
        .collect::<anyhow::Result<_>>()?;
    let policy = Policy::default();

    let mut same = Table::new(&[
        "sample, condition",
        "pairs",
        "no face",
        "correlation min",
        "median",
        "shift max",
        "scale max",
        "landmarks max",
    ]);
    let mut lowest_same = f64::INFINITY;
    // Faces of each sample from the natural condition (the first frame of up to
    // `REFERENCES` bursts), for the cross-person table.
    const REFERENCES: usize = 8;
    let mut references: Vec<Vec<(RgbImage, FaceGeometry)>> = vec![Vec::new(); FACES.len()];
    for (s, sample) in samples.iter().enumerate() {
        for (c, condition) in CONDITIONS.iter().enumerate() {
            let (mut similarity, mut shift, mut scale, mut landmarks) = (
                Spread::default(),
                Spread::default(),
                Spread::default(),
                Spread::default(),
            );
            let mut missing = 0;
            for b in 0..args.bursts {
                let seed = (s * 1000 + c * 100 + b) as u32 * 7 + 1;
                let mut jpegs = jittered_burst(
                    sample,
                    args.frames,
                    seed,
                    condition.shift_px,
                    condition.scale,
                );
                if condition.gain > 0.0 {
                    for (i, jpeg) in jpegs.iter_mut().enumerate() {
                        let step = if i % 2 == 0 { 1.0 } else { -1.0 };
                        *jpeg = with_gain(jpeg, 1.0 + step * condition.gain);
                    }
                }
                let (images, faces) = faces_of(&engine, &jpegs);
                missing += faces.iter().filter(|f| f.is_none()).count();
                for i in 1..images.len() {
                    let (Some(a), Some(b)) = (&faces[i - 1], &faces[i]) else {
                        continue;
                    };
                    let Comparison {
                        shift: sh,
                        scale_change,
                        landmark_deviation,
                        similarity: sim,
                    } = compare((&images[i - 1], a), (&images[i], b));
                    similarity.values.push(sim);
                    shift.values.push(sh);
                    scale.values.push(scale_change);
                    landmarks.values.push(landmark_deviation);
                }
                if c == 1 && references[s].len() < REFERENCES {
                    if let Some(face) = faces[0] {
                        references[s].push((images[0].clone(), face));
                    }
                }
            }
            lowest_same = lowest_same.min(similarity.min());
            same.row(vec![
                format!("{}, {}", FACES[s], condition.name),
                similarity.values.len().to_string(),
                missing.to_string(),
                format!("{:.3}", similarity.min()),
                format!("{:.3}", similarity.median()),
                format!("{:.3}", shift.max()),
                format!("{:.3}", scale.max()),
                format!("{:.3}", landmarks.max()),
            ]);
        }
    }

    let mut cross = Table::new(&[
        "first face",
        "second face",
        "pairs",
        "correlation max",
        "median",
        "landmarks min",
    ]);
    let mut highest_other = f64::NEG_INFINITY;
    for i in 0..FACES.len() {
        for j in i + 1..FACES.len() {
            let (mut similarity, mut landmarks) = (Spread::default(), Spread::default());
            for (image_a, a) in &references[i] {
                for (image_b, b) in &references[j] {
                    let c = compare((image_a, a), (image_b, b));
                    similarity.values.push(c.similarity);
                    landmarks.values.push(c.landmark_deviation);
                }
            }
            highest_other = highest_other.max(similarity.max());
            cross.row(vec![
                FACES[i].into(),
                FACES[j].into(),
                similarity.values.len().to_string(),
                format!("{:.3}", similarity.max()),
                format!("{:.3}", similarity.median()),
                format!("{:.3}", landmarks.min()),
            ]);
        }
    }

    let summary = format!(
        "lowest correlation of one person's consecutive frames: {lowest_same:.3}; \
         highest between two people: {highest_other:.3}; floor in use \
         (Policy::min_face_similarity): {}",
        policy.min_face_similarity
    );
    println!(
        "Consecutive frames of one person ({} bursts of {} frames per row)",
        args.bursts, args.frames
    );
    println!("{}", same.markdown());
    println!("Aligned faces of two different people");
    println!("{}", cross.markdown());
    println!("{summary}");
    if let Some(path) = &args.markdown {
        std::fs::write(
            path,
            format!("{}\n{}\n{summary}\n", same.markdown(), cross.markdown()),
        )?;
    }
    Ok(())
}
