//! What a model set costs: whole-image time of every set side by side in one process, and the
//! facenox model planned for batch 1 against the plan its declared symbolic batch gives.

use crate::engine::{median, time_ms};
use crate::table::{ms, ratio, Table};
use anyhow::Context;
use liveness_models::manifest::manifest;
use liveness_models::onnx::load_model;
use liveness_models::{Engine, EngineConfig, ModelPaths};
use std::path::{Path, PathBuf};
use tract_onnx::prelude::*;

/// One thread, every set in the manifest (restricted ones included: this is a measurement).
pub fn table(
    models: &Path,
    paths: &[PathBuf],
    images: &[Vec<u8>],
    runs: usize,
) -> anyhow::Result<String> {
    let names: Vec<String> = manifest()
        .set_names()
        .into_iter()
        .map(String::from)
        .collect();
    let config = EngineConfig {
        threads: 1,
        model_sets: names.clone(),
        allow_restricted_models: true,
        ..EngineConfig::default()
    };
    let engine = Engine::load(&ModelPaths::in_dir(models), config)
        .context("loading every model set (run scripts/fetch-models)")?;
    let mut header = vec!["image (one thread, median ms)".to_string()];
    header.extend(names.iter().cloned());
    header.extend(names.iter().skip(1).map(|n| format!("{n} / {}", names[0])));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = Table::new(&header);
    let mut sums = vec![0.0; names.len()];
    for (path, bytes) in paths.iter().zip(images) {
        let mut row = vec![path.file_name().unwrap().to_string_lossy().into_owned()];
        // Interleaved per run, so that drift in the machine's load hits every set alike.
        let mut times = vec![Vec::with_capacity(runs); names.len()];
        for _ in 0..runs {
            for (i, name) in names.iter().enumerate() {
                let set = engine.model_set(Some(name))?;
                times[i].push(engine.analyze_here_with(set, bytes).timings.total);
            }
        }
        let medians: Vec<f64> = times.into_iter().map(median).collect();
        for (sum, m) in sums.iter_mut().zip(&medians) {
            *sum += m;
        }
        row.extend(medians.iter().map(|m| ms(*m)));
        row.extend(medians.iter().skip(1).map(|m| ratio(*m, medians[0])));
        table.row(row);
    }
    let n = images.len() as f64;
    let mut row = vec!["mean".to_string()];
    row.extend(sums.iter().map(|s| ms(s / n)));
    row.extend(sums.iter().skip(1).map(|s| ratio(*s, sums[0])));
    table.row(row);
    Ok(format!(
        "\n### Model sets, whole image\n\n{}{}",
        table.markdown(),
        batch_table(models, runs * 3)?
    ))
}

/// The facenox file declares a symbolic batch: planned as declared, tract keeps it symbolic.
fn batch_table(models: &Path, runs: usize) -> anyhow::Result<String> {
    let spec = manifest()
        .pad_model("facenox_v2se")
        .context("facenox_v2se in the manifest")?;
    let path = models.join(&spec.file);
    let side = spec.input_side;
    let input = Tensor::zero::<f32>(&[1, 3, side, side])?;
    let mut table = Table::new(&["facenox 1x3x128x128 (one thread, median ms)", "tract"]);
    let planned = load_model(&path, [1, 3, side, side], true)?;
    // As the file declares it: a concrete input contradicts the symbolic batch its inner
    // shapes carry, so the input stays symbolic and tract resolves it on every run.
    let declared = tract_onnx::onnx()
        .model_for_path(&path)?
        .into_optimized()?
        .into_runnable()?;
    let timed = |run: &dyn Fn()| {
        run();
        median((0..runs).map(|_| time_ms(run)).collect())
    };
    let batch_1 = timed(&|| drop(planned.run(input.clone())));
    let symbolic = timed(&|| drop(declared.run(tvec!(input.clone().into()))));
    table.row(vec![
        "declared shapes ignored, planned for batch 1 (as the engine loads it)".into(),
        ms(batch_1),
    ]);
    table.row(vec!["as declared: symbolic batch".into(), ms(symbolic)]);
    table.row(vec!["symbolic / batch 1".into(), ratio(symbolic, batch_1)]);
    Ok(format!("\n{}", table.markdown()))
}
