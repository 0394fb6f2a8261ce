//! `liveness evaluate`: runs labelled bona fide and attack presentations (images or sealed
//! capture packets) through one or more model sets and prints ISO/IEC 30107-3 figures, in a
//! PAD-only view (faces found) and a full-pipeline view (every verdict code).

pub mod det;
pub mod metrics;
pub mod render;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use liveness_capture::{assess, inspect_header, open, Keyring, MemoryStores, Policy, Submission};
use liveness_models::{Analysis, Engine, EngineConfig, ModelPaths, ModelSet};
use metrics::{Label, Outcome, Sample, SetRun};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Folder of bona fide presentations (repeatable); searched recursively.
    #[arg(long = "bona-fide", value_name = "DIR", required = true)]
    bona_fide: Vec<PathBuf>,
    /// Folder of attack presentations of one type, e.g. `print=attacks/print` (repeatable).
    #[arg(long = "attack", value_name = "TYPE=DIR", value_parser = parse_attack, required = true)]
    attacks: Vec<(String, PathBuf)>,
    /// Model set to evaluate (repeatable); the default set when absent.
    #[arg(long = "model-set", value_name = "NAME")]
    model_sets: Vec<String>,
    /// Allow model sets whose licence is marked restricted.
    #[arg(long, env = "LIVENESS_ALLOW_RESTRICTED_MODELS")]
    allow_restricted_models: bool,
    #[arg(long, value_enum, default_value = "table")]
    format: render::Format,
    /// Draw the DET curve of every set into this PNG.
    #[arg(long, value_name = "PNG")]
    det: Option<PathBuf>,
    /// Recommend the highest threshold whose BPCER stays at or below this rate (e.g. 0.02).
    #[arg(long, value_name = "RATE")]
    threshold_for_bpcer: Option<f64>,
    /// Folder holding the model files.
    #[arg(long, env = "LIVENESS_MODEL_DIR", default_value = "models/assets")]
    models: PathBuf,
    /// Inference threads; 0 means one per core.
    #[arg(long, env = "LIVENESS_THREADS", default_value_t = 0)]
    threads: usize,
    /// Private keys that open sealed packets (`KEY_ID=BASE64URL`, comma-separated); only
    /// needed when a folder holds packets.
    #[arg(long, env = "LIVENESS_CAPTURE_KEYS", hide_env_values = true)]
    capture_keys: Option<String>,
}

fn parse_attack(value: &str) -> Result<(String, PathBuf), String> {
    let (kind, dir) = value
        .split_once('=')
        .ok_or_else(|| format!("expected TYPE=DIR, got {value:?}"))?;
    let valid = !kind.is_empty()
        && kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "attack type {kind:?} must be letters, digits, - or _"
        ));
    }
    Ok((kind.to_string(), PathBuf::from(dir)))
}

/// Files under `dir`, recursively, in name order; hidden files are skipped.
fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path)?);
        } else {
            found.push(path);
        }
    }
    Ok(found)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut inputs: Vec<(PathBuf, Label)> = Vec::new();
    for dir in &args.bona_fide {
        inputs.extend(files_under(dir)?.into_iter().map(|p| (p, Label::BonaFide)));
    }
    for (kind, dir) in &args.attacks {
        let label = Label::Attack(kind.clone());
        inputs.extend(files_under(dir)?.into_iter().map(|p| (p, label.clone())));
    }
    anyhow::ensure!(!inputs.is_empty(), "the folders hold no files");
    let config = EngineConfig {
        threads: args.threads,
        model_sets: args.model_sets.clone(),
        allow_restricted_models: args.allow_restricted_models,
        ..EngineConfig::default()
    };
    let engine = Engine::load(&ModelPaths::in_dir(&args.models), config)
        .with_context(|| format!("loading models from {}", args.models.display()))?;
    let sets: Vec<&ModelSet> = if args.model_sets.is_empty() {
        vec![engine.default_set()]
    } else {
        args.model_sets
            .iter()
            .map(|name| engine.model_set(Some(name)))
            .collect::<Result<_, _>>()?
    };
    let keys = match &args.capture_keys {
        Some(entries) => Some(Keyring::from_entries(entries)?),
        None => None,
    };

    let progress = ProgressBar::new((inputs.len() * sets.len()) as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} presentations, eta {eta}")
            .expect("the template is valid"),
    );
    let mut runs = Vec::with_capacity(sets.len());
    for set in &sets {
        let mut samples = Vec::with_capacity(inputs.len());
        // Chunks bound memory to a few files and keep both cores busy between updates.
        for chunk in inputs.chunks(8) {
            let contents: Vec<Vec<u8>> = chunk
                .iter()
                .map(|(path, _)| std::fs::read(path).unwrap_or_default())
                .collect();
            let judged: Vec<(Option<f64>, Outcome)> =
                judge_all(&engine, set, &contents, keys.as_ref())?;
            for ((path, label), (score, outcome)) in chunk.iter().zip(judged) {
                samples.push(Sample {
                    file: path.display().to_string(),
                    label: label.clone(),
                    score,
                    outcome,
                });
            }
            progress.inc(chunk.len() as u64);
        }
        runs.push(SetRun {
            model_set: set.name.clone(),
            threshold: f64::from(set.threshold),
            samples,
        });
    }
    progress.finish_and_clear();

    let summaries: Vec<metrics::Summary> = runs
        .iter()
        .map(|run| metrics::summarize(run, args.threshold_for_bpcer))
        .collect();
    print!("{}", render::render(&summaries, args.format));
    if let Some(path) = &args.det {
        let curves: Vec<(String, Vec<metrics::DetPoint>)> = runs
            .iter()
            .map(|run| (run.model_set.clone(), metrics::det_points(run)))
            .collect();
        det::draw(path, &curves).with_context(|| format!("drawing {}", path.display()))?;
    }
    Ok(())
}

/// Images go through the engine as the API's single-image path would; sealed packets through
/// the worker's whole judgement (capture checks and every frame).
fn judge_all(
    engine: &Engine,
    set: &ModelSet,
    contents: &[Vec<u8>],
    keys: Option<&Keyring>,
) -> anyhow::Result<Vec<(Option<f64>, Outcome)>> {
    let is_packet: Vec<bool> = contents.iter().map(|c| inspect_header(c).is_ok()).collect();
    let images: Vec<&[u8]> = contents
        .iter()
        .zip(&is_packet)
        .filter(|(_, &packet)| !packet)
        .map(|(c, _)| c.as_slice())
        .collect();
    let mut analyses = engine.analyze_many_with(set, &images).into_iter();
    contents
        .iter()
        .zip(is_packet)
        .map(|(content, packet)| {
            if packet {
                let keys = keys.context(
                    "a folder holds sealed capture packets: give their keys (--capture-keys)",
                )?;
                Ok(judge_packet(engine, set, content, keys))
            } else {
                let analysis = analyses.next().expect("one analysis per image, in order");
                Ok(image_outcome(&analysis))
            }
        })
        .collect()
}

fn image_outcome(analysis: &Analysis) -> (Option<f64>, Outcome) {
    let score = analysis.liveness.as_ref().map(|l| f64::from(l.probability));
    let outcome = match &analysis.rejection {
        None => Outcome::Valid,
        Some(r) => Outcome::Rejected(r.code.code()),
    };
    (score, outcome)
}

/// A recorded capture is older than the freshness window allows, so it is judged as if it
/// arrived one second after its last frame, with its own nonce issued: every other check
/// runs as in the service.
fn judge_packet(
    engine: &Engine,
    set: &ModelSet,
    packet: &[u8],
    keys: &Keyring,
) -> (Option<f64>, Outcome) {
    let payload = match open(packet, keys) {
        Ok(payload) => payload,
        Err(e) => {
            tracing::warn!(error = %e, "packet does not open");
            return (None, Outcome::Rejected(708));
        }
    };
    let received_at_ms = payload
        .frames
        .iter()
        .map(|f| f.captured_at_ms)
        .max()
        .unwrap_or(payload.capture_ended_at_ms)
        + 1_000;
    let stores = MemoryStores::default();
    stores.issue_nonce(&payload.nonce, received_at_ms + 60_000);
    let id = format!("{:x}", Sha256::digest(packet));
    let submission = Submission {
        packet,
        selfie_sha256: None,
        id: &id,
        received_at_ms,
    };
    let policy = Policy::default();
    let Ok(mut assessment) =
        crate::capture::complete_now(assess(submission, keys, &policy, &stores))
    else {
        return (None, Outcome::Rejected(708));
    };
    let frames = liveness_worker::judge::admitted_frames(assessment.payload.as_ref(), u64::MAX);
    let judged = liveness_worker::judge::analyze_frames(engine, set, &frames);
    match judged.verdict(
        &mut assessment,
        &policy,
        f64::from(set.threshold),
        set.model_versions(),
    ) {
        Ok(verdict) => (
            verdict.face_probability,
            match verdict.error_code {
                None => Outcome::Valid,
                Some(code) => Outcome::Rejected(code.code()),
            },
        ),
        Err(_) => (None, Outcome::Rejected(711)),
    }
}
